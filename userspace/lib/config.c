// SPDX-License-Identifier: GPL-2.0
/* The INI config file (syntax in config.h), parsed with inih.
 *
 * Debian's inih is built without INI_HANDLER_LINENO and without
 * INI_CALL_HANDLER_ON_NEW_SECTION, so its handler learns neither line
 * numbers nor sections without keys. We therefore feed inih through our
 * own line reader (ini_parse_stream): the reader counts lines, refuses
 * over-long ones instead of letting inih split them, and opens each
 * [section] as its header line goes by, so an empty or unknown section and
 * the header line of a service are known too. inih still does the
 * tokenising: comments, "key = value", whitespace. The first error stops
 * the parse and is the one reported. */
#include "config.h"
#include "attach.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <ini.h>

enum section_kind { SEC_NONE, SEC_HTTP, SEC_TLS, SEC_SERVICE };

/* The check_* keys: "check_" and an option name of xlb_hc_set_option. */
static const char *const check_options[] = { "interval", "timeout", "rise", "fall" };
#define N_CHECK_OPTIONS (sizeof(check_options) / sizeof(check_options[0]))
#define CHECK_PREFIX "check_"

/* Where a service's settings came from, for messages. */
struct svc_meta {
	unsigned header_line;
	unsigned listen_line;
	bool has_proto;
	unsigned check_line;
	unsigned check_opt_line[N_CHECK_OPTIONS];
	unsigned *host_lines;	      /* parallel to the service's hosts */
	char (*paths)[XLB_PATH_SIZE]; /* path = ..., in order */
	size_t n_paths;
	unsigned path_line, strip_line, forward_line, acme_line, redirect_line, hsts_line;
	unsigned https_only_line, backend_tls_line;
};

struct line_source {
	FILE *file;	  /* either a file ... */
	const char *text; /* ... or a string, consumed line by line */
	char *buf;	  /* getline buffer for the file */
	size_t cap;
	int read_errno; /* why reading the file stopped early */
};

struct cfg_parser {
	struct xlb_config *cfg;
	struct line_source src;
	const char *path;
	unsigned line;
	enum section_kind kind;
	size_t cur;		       /* current service index */
	char label[16 + XLB_NAME_LEN]; /* "service api", "http", "tls" */
	struct svc_meta *meta;	       /* parallel to cfg->services */
	int status;		       /* 0, or the first error */
	char *err;
	size_t errlen;
};

/* ---- errors -------------------------------------------------------------- */

/* Keeps the first error only: later ones are usually its consequences. */
static int record_error(struct cfg_parser *p, unsigned line, int status, const char *msg)
{
	if (p->status)
		return p->status;
	if (p->err && p->errlen)
		snprintf(p->err, p->errlen, "%s:%u: %s", p->path, line, msg);
	p->status = status;
	return status;
}

/* For problems seen after the fact: reported at the line that names them.
 * Returns -EINVAL (or the earlier error). */
__attribute__((format(printf, 3, 4))) static int fail_at(struct cfg_parser *p, unsigned line,
							 const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return record_error(p, line, -EINVAL, msg);
}

/* The usual case: an error at the line being parsed. */
#define fail(p, ...) fail_at((p), (p)->line, __VA_ARGS__)

static int fail_nomem(struct cfg_parser *p)
{
	return record_error(p, p->line, -ENOMEM, "out of memory");
}

/* ---- small helpers ------------------------------------------------------- */

/* Grows an array by one element; the caller stores the result back. */
static void *grow(void *arr, size_t n, size_t elem)
{
	return realloc(arr, (n + 1) * elem);
}

static const char *family_name(uint8_t family)
{
	return family == AF_INET6 ? "IPv6" : "IPv4";
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static struct xlb_cfg_service *cur_svc(struct cfg_parser *p)
{
	return &p->cfg->services[p->cur];
}

/* ---- name validation ----------------------------------------------------- */

bool xlb_valid_service_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= XLB_NAME_LEN)
		return false;
	for (const char *c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("_.-", *c))
			return false;
	return true;
}

/* One RFC 1123 label: 1..63 of [A-Za-z0-9-], no '-' at either end. */
static bool valid_label(const char *s, size_t len)
{
	if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool visible_ascii(const char *s)
{
	for (; *s; s++)
		if (*s <= ' ' || *s >= 0x7f)
			return false;
	return true;
}

bool xlb_valid_host_name(const char *host)
{
	const char *s = host;
	size_t end = strlen(host);
	char why[160];

	/* a regex of visible ASCII only: a Host header holds nothing else,
	 * and a config line or a label could not carry blanks at its ends */
	if (host[0] == '~')
		return end < XLB_HOST_LEN && visible_ascii(host) &&
		       !xlb_host_regex_check(host, why, sizeof(why));
	if (strncmp(s, "*.", 2) == 0)
		s += 2;
	else if (end >= 2 && strcmp(host + end - 2, ".*") == 0)
		end -= 2; /* "prefix.*", nginx's trailing wildcard */
	if (strlen(host) > 253 || s >= host + end)
		return false;
	for (;;) {
		size_t len = strcspn(s, ".");

		if (s + len > host + end)
			len = (size_t)(host + end - s);
		if (!valid_label(s, len))
			return false;
		if (s + len == host + end)
			return true;
		s += len + 1;
	}
}

/* ---- listeners ----------------------------------------------------------- */

/* Who already listens on ep (with its protocol): "service NAME", "http",
 * "tls", or NULL. Shared HTTP/TLS listeners are TCP. */
static const char *listener_owner(struct cfg_parser *p, const struct xlb_endpoint *ep, char *buf,
				  size_t len)
{
	const struct xlb_config *cfg = p->cfg;
	struct xlb_endpoint tcp;

	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct xlb_cfg_service *s = &cfg->services[i];

		if (s->has_listen && xlb_endpoint_equal(&s->listen, ep)) {
			snprintf(buf, len, "service %s", s->name);
			return buf;
		}
	}
	if (ep->proto != IPPROTO_TCP)
		return NULL;
	tcp = *ep;
	tcp.proto = 0;
	for (size_t i = 0; i < cfg->n_http_listen; i++)
		if (xlb_endpoint_equal(&cfg->http_listen[i], &tcp))
			return "http";
	for (size_t i = 0; i < cfg->n_tls_listen; i++)
		if (xlb_endpoint_equal(&cfg->tls_listen[i], &tcp))
			return "tls";
	return NULL;
}

static int check_listener_free(struct cfg_parser *p, const struct xlb_endpoint *ep,
			       const struct xlb_endpoint *shown)
{
	char owner_buf[16 + XLB_NAME_LEN], ep_buf[XLB_EP_STRLEN];
	const char *owner = listener_owner(p, ep, owner_buf, sizeof(owner_buf));

	if (!owner)
		return 0;
	xlb_format_endpoint(shown, ep_buf, sizeof(ep_buf));
	if (strcmp(owner, p->label) == 0)
		return fail(p, "%s: listen %s given twice", p->label, ep_buf);
	return fail(p, "%s: listen %s already used by %s", p->label, ep_buf, owner);
}

/* "listen" in [http] or [tls]: an address and port; TCP is implied. */
static int add_shared_listener(struct cfg_parser *p, const char *value, struct xlb_endpoint **arr,
			       size_t *n)
{
	struct xlb_endpoint ep, tcp, *grown;
	const char *why;

	if (xlb_parse_endpoint(value, XLB_EP_NO_PROTO, &ep, &why))
		return fail(p, "%s: bad listen '%s': %s%s", p->label, value, why,
			    strchr(value, '/') ? " (shared listeners are always TCP)" : "");
	tcp = ep;
	tcp.proto = IPPROTO_TCP;
	if (check_listener_free(p, &tcp, &ep))
		return p->status;
	grown = grow(*arr, *n, sizeof(**arr));
	if (!grown)
		return fail_nomem(p);
	*arr = grown;
	grown[(*n)++] = ep;
	return 0;
}

/* "trusted_proxies" in [http]: address blocks, spaces or commas between. */
static int add_trusted(struct cfg_parser *p, const char *value)
{
	char why[96];
	int err =
		xlb_parse_cidr_list(value, &p->cfg->trusted, &p->cfg->n_trusted, why, sizeof(why));

	if (err == -ENOMEM)
		return fail_nomem(p);
	if (err)
		return fail(p, "%s: bad trusted_proxies %s", p->label, why);
	return 0;
}

/* [tls] certs = DIR: where terminated names find their certificates. */
static int set_certs(struct cfg_parser *p, const char *value)
{
	if (p->cfg->tls_certs)
		return fail(p, "%s: certs given twice", p->label);
	if (value[0] != '/')
		return fail(p, "%s: certs '%s' is not an absolute path", p->label, value);
	p->cfg->tls_certs = strdup(value);
	return p->cfg->tls_certs ? 0 : fail_nomem(p);
}

/* "default_host" in [http]: the host whose routes serve requests for
 * names no route has (nginx-proxy's DEFAULT_HOST). One exact name. */
static int set_default_host(struct cfg_parser *p, const char *value)
{
	if (p->cfg->default_host)
		return fail(p, "%s: default_host given twice", p->label);
	if (!xlb_valid_host_name(value) || strchr(value, '*') || value[0] == '~')
		return fail(p, "%s: bad default_host '%s' (one host name, no wildcard)", p->label,
			    value);
	p->cfg->default_host = strdup(value);
	return p->cfg->default_host ? 0 : fail_nomem(p);
}

static int shared_key(struct cfg_parser *p, const char *name, const char *value)
{
	bool http = p->kind == SEC_HTTP;

	if (http && strcmp(name, "trusted_proxies") == 0)
		return add_trusted(p, value);
	if (http && strcmp(name, "default_host") == 0)
		return set_default_host(p, value);
	if (!http && strcmp(name, "certs") == 0)
		return set_certs(p, value);
	if (strcmp(name, "listen") != 0)
		return fail(p, "%s: unknown key '%s'", p->label, name);
	if (http)
		return add_shared_listener(p, value, &p->cfg->http_listen, &p->cfg->n_http_listen);
	return add_shared_listener(p, value, &p->cfg->tls_listen, &p->cfg->n_tls_listen);
}

/* ---- global keys (before the first section) ------------------------------ */

int xlb_parse_hash_seed(const char *text, uint64_t *seed)
{
	const char *hex = strncasecmp(text, "0x", 2) == 0 ? text + 2 : text;
	size_t n = strlen(hex);

	if (n == 0 || n > 16 || strspn(hex, "0123456789abcdefABCDEF") != n)
		return -EINVAL;
	*seed = strtoull(hex, NULL, 16);
	return 0;
}

/* socket_lb = yes|no: the cgroup socket hooks for local clients (xlbd's
 * --no-socket-lb says no over it). */
static int global_socket_lb(struct cfg_parser *p, const char *value)
{
	bool yes = !strcmp(value, "yes") || !strcmp(value, "true");

	if (p->cfg->has_socket_lb)
		return fail(p, "socket_lb given twice");
	if (!yes && strcmp(value, "no") != 0 && strcmp(value, "false") != 0)
		return fail(p, "bad socket_lb '%s' (want yes or no)", value);
	p->cfg->has_socket_lb = true;
	p->cfg->no_socket_lb = !yes;
	return 0;
}

/* socket_lb_cgroup = PATH: where the hooks go (--socket-lb-cgroup over it). */
static int global_socket_lb_cgroup(struct cfg_parser *p, const char *value)
{
	if (p->cfg->socket_lb_cgroup)
		return fail(p, "socket_lb_cgroup given twice");
	if (value[0] != '/')
		return fail(p, "bad socket_lb_cgroup '%s' (an absolute path)", value);
	p->cfg->socket_lb_cgroup = strdup(value);
	return p->cfg->socket_lb_cgroup ? 0 : fail_nomem(p);
}

/* attach = xdp|tc|auto: how uplinks take the ingress program (xlbd's
 * --attach over it). */
static int global_attach(struct cfg_parser *p, const char *value)
{
	enum xlb_attach_mode mode;

	if (p->cfg->has_attach)
		return fail(p, "attach given twice");
	if (xlb_attach_mode_parse(value, &mode))
		return fail(p, "bad attach '%s' (want xdp, tc or auto)", value);
	p->cfg->has_attach = true;
	p->cfg->attach = (int)mode;
	return 0;
}

static int global_key(struct cfg_parser *p, const char *name, const char *value)
{
	if (!strcmp(name, "attach"))
		return global_attach(p, value);
	if (!strcmp(name, "socket_lb"))
		return global_socket_lb(p, value);
	if (!strcmp(name, "socket_lb_cgroup"))
		return global_socket_lb_cgroup(p, value);
	if (strcmp(name, "hash_seed") != 0)
		return fail(p, "key '%s' outside any section", name);
	if (p->cfg->has_hash_seed)
		return fail(p, "hash_seed given twice");
	if (xlb_parse_hash_seed(value, &p->cfg->hash_seed))
		return fail(p, "bad hash_seed '%s' (1 to 16 hex digits)", value);
	p->cfg->has_hash_seed = true;
	return 0;
}

/* ---- service keys -------------------------------------------------------- */

/* Backends are reached by NAT from the listen address, which cannot cross
 * address families. */
static int check_backend_families(struct cfg_parser *p, const struct xlb_cfg_service *s)
{
	char l[XLB_EP_STRLEN], b[XLB_EP_STRLEN];

	for (size_t i = 0; i < s->n_backends; i++) {
		if (s->backends[i].ep.family == s->listen.family)
			continue;
		xlb_format_endpoint(&s->listen, l, sizeof(l));
		xlb_format_endpoint(&s->backends[i].ep, b, sizeof(b));
		return fail(p,
			    "%s: listen %s is %s but backend %s is %s "
			    "(no NAT between address families)",
			    p->label, l, family_name(s->listen.family), b,
			    family_name(s->backends[i].ep.family));
	}
	return 0;
}

static int svc_listen(struct cfg_parser *p, const char *value)
{
	struct xlb_cfg_service *s = cur_svc(p);
	struct svc_meta *m = &p->meta[p->cur];
	struct xlb_endpoint ep;
	const char *why;

	if (m->listen_line)
		return fail(p, "%s: listen given twice (first at line %u)", p->label,
			    m->listen_line);
	if (xlb_parse_endpoint(value, XLB_EP_PROTO, &ep, &why))
		return fail(p, "%s: bad listen '%s': %s", p->label, value, why);
	if (check_listener_free(p, &ep, &ep))
		return p->status;
	s->listen = ep;
	s->has_listen = true;
	m->listen_line = p->line;
	return check_backend_families(p, s);
}

/* ---- routes ----------------------------------------------------------------- */

int xlb_cfg_route_append(char (**hosts)[XLB_HOST_LEN], struct xlb_cfg_path **paths, size_t *n,
			 const char *host, const char *path, uint8_t scheme)
{
	char(*h)[XLB_HOST_LEN] = realloc(*hosts, (*n + 1) * sizeof(**hosts));
	struct xlb_cfg_path *p;

	if (!h)
		return -ENOMEM;
	*hosts = h;
	p = realloc(*paths, (*n + 1) * sizeof(**paths));
	if (!p)
		return -ENOMEM;
	*paths = p;
	snprintf(h[*n], XLB_HOST_LEN, "%s", host);
	memset(&p[*n], 0, sizeof(p[*n]));
	snprintf(p[*n].prefix, XLB_PATH_SIZE, "%s", path);
	p[(*n)++].scheme = scheme;
	return 0;
}

const char *xlb_cfg_route_path(const struct xlb_cfg_service *s, size_t i)
{
	return s->paths && s->paths[i].prefix[0] ? s->paths[i].prefix : "/";
}

int xlb_split_route(const char *item, size_t len, char host[XLB_HOST_LEN], char path[XLB_PATH_SIZE],
		    char *why, size_t whylen)
{
	size_t hlen = strcspn(item, "/");
	const char *pwhy;

	if (hlen > len)
		hlen = len;
	if (hlen >= XLB_HOST_LEN) {
		snprintf(why, whylen, "invalid host name '%.*s...' (too long)", 32, item);
		return -EINVAL;
	}
	memcpy(host, item, hlen);
	host[hlen] = '\0';
	if (host[0] == '~' && xlb_host_regex_check(host, why, whylen))
		return -EINVAL;
	if (!xlb_valid_host_name(host)) {
		snprintf(why, whylen, "invalid host name '%s'", host);
		return -EINVAL;
	}
	for (size_t i = 0; i < hlen && host[0] != '~'; i++)
		host[i] = (char)tolower((unsigned char)host[i]);
	path[0] = '\0';
	if (hlen < len && xlb_path_normalize(item + hlen, len - hlen, path, &pwhy)) {
		snprintf(why, whylen, "bad path '%.*s': %s",
			 (int)(len - hlen > 140 ? 140 : len - hlen), item + hlen, pwhy);
		return -EINVAL;
	}
	return 0;
}

/* "host" or "host/path", for messages: "host" when the path is "/". */
static const char *route_name(const char *host, const char *path, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", host, strcmp(path, "/") == 0 ? "" : path);
	return buf;
}

/* Who already routes host (compared case-insensitively) with path, or
 * NULL; the current service's routes are not yet final and not looked at. */
static const struct xlb_cfg_service *route_owner(struct cfg_parser *p, const char *host,
						 const char *path)
{
	for (size_t i = 0; i < p->cfg->n_services; i++) {
		const struct xlb_cfg_service *s = &p->cfg->services[i];

		for (size_t h = 0; i != p->cur && h < s->n_hosts; h++)
			if (strcasecmp(s->hosts[h], host) == 0 &&
			    strcmp(xlb_cfg_route_path(s, h), path) == 0)
				return s;
	}
	return NULL;
}

/* Host names are stored lowercased: DNS names are case-insensitive, and
 * the proxy then compares what clients send against one spelling. A host
 * without a path gets the service's paths (or "/") when the section ends. */
static int svc_host(struct cfg_parser *p, const char *value)
{
	struct xlb_cfg_service *s = cur_svc(p);
	struct svc_meta *m = &p->meta[p->cur];
	char host[XLB_HOST_LEN], path[XLB_PATH_SIZE], why[320];
	char(*hosts)[XLB_HOST_LEN];
	struct xlb_cfg_path *paths;
	unsigned *lines;

	if (xlb_split_route(value, strlen(value), host, path, why, sizeof(why)))
		return fail(p, "%s: %s", p->label, why);
	for (size_t i = 0; i < s->n_hosts; i++)
		if (strcmp(s->hosts[i], host) == 0 && strcmp(s->paths[i].prefix, path) == 0)
			return fail(p, "%s: host %s given twice", p->label, value);
	hosts = grow(s->hosts, s->n_hosts, sizeof(*s->hosts));
	if (hosts)
		s->hosts = hosts;
	paths = grow(s->paths, s->n_hosts, sizeof(*s->paths));
	if (paths)
		s->paths = paths;
	lines = grow(m->host_lines, s->n_hosts, sizeof(*m->host_lines));
	if (lines)
		m->host_lines = lines;
	if (!hosts || !paths || !lines)
		return fail_nomem(p);
	memcpy(hosts[s->n_hosts], host, sizeof(host));
	memset(&paths[s->n_hosts], 0, sizeof(*paths));
	memcpy(paths[s->n_hosts].prefix, path, sizeof(path));
	lines[s->n_hosts++] = p->line;
	return 0;
}

static int svc_path(struct cfg_parser *p, const char *value)
{
	struct svc_meta *m = &p->meta[p->cur];
	char path[XLB_PATH_SIZE];
	char(*grown)[XLB_PATH_SIZE];
	const char *why;

	if (xlb_path_normalize(value, strlen(value), path, &why))
		return fail(p, "%s: bad path '%s': %s", p->label, value, why);
	for (size_t i = 0; i < m->n_paths; i++)
		if (strcmp(m->paths[i], path) == 0)
			return fail(p, "%s: path %s given twice", p->label, path);
	grown = grow(m->paths, m->n_paths, sizeof(*m->paths));
	if (!grown)
		return fail_nomem(p);
	m->paths = grown;
	memcpy(grown[m->n_paths++], path, sizeof(path));
	if (!m->path_line)
		m->path_line = p->line;
	return 0;
}

/* A yes|no (or true|false) key of the service, given at most once. */
static int svc_yes_no(struct cfg_parser *p, const char *key, const char *value, unsigned *line,
		      bool *yes)
{
	bool y = !strcmp(value, "yes") || !strcmp(value, "true");

	if (*line)
		return fail(p, "%s: %s given twice (first at line %u)", p->label, key, *line);
	if (!y && strcmp(value, "no") != 0 && strcmp(value, "false") != 0)
		return fail(p, "%s: bad %s '%s' (want yes or no)", p->label, key, value);
	*yes = y;
	*line = p->line;
	return 0;
}

static int svc_forward_headers(struct cfg_parser *p, const char *value)
{
	bool yes;
	int err = svc_yes_no(p, "forward_headers", value, &p->meta[p->cur].forward_line, &yes);

	if (!err)
		cur_svc(p)->no_forward_headers = !yes;
	return err;
}

static int svc_acme(struct cfg_parser *p, const char *value)
{
	return svc_yes_no(p, "acme", value, &p->meta[p->cur].acme_line, &cur_svc(p)->acme);
}

static int svc_https_redirect(struct cfg_parser *p, const char *value)
{
	return svc_yes_no(p, "https_redirect", value, &p->meta[p->cur].redirect_line,
			  &cur_svc(p)->https_redirect);
}

static bool parse_secs(const char *s, size_t len, uint32_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* One "; directive" of the header form: its flag, or 0 if unknown. */
static uint8_t hsts_directive(const char *s, size_t len)
{
	if (len == 17 && strncasecmp(s, "includeSubDomains", 17) == 0)
		return XLB_HSTS_SUBDOMAINS;
	if (len == 7 && strncasecmp(s, "preload", 7) == 0)
		return XLB_HSTS_PRELOAD;
	return 0;
}

int xlb_hsts_parse(const char *text, uint32_t *secs, uint8_t *flags)
{
	const char *p = text;
	size_t len;

	*flags = 0;
	if (strncasecmp(p, "max-age=", 8) != 0)
		return parse_secs(p, strlen(p), secs) ? 0 : -EINVAL;
	p += 8;
	len = strcspn(p, ";");
	if (!parse_secs(p, len, secs))
		return -EINVAL;
	for (p += len; *p == ';';) {
		uint8_t f;

		p += 1 + strspn(p + 1, " ");
		len = strcspn(p, ";");
		while (len && p[len - 1] == ' ')
			len--;
		f = hsts_directive(p, len);
		if (!f || (*flags & f))
			return -EINVAL;
		*flags |= f;
		p += strcspn(p, ";");
	}
	return 0;
}

/* hsts = SECONDS (or "max-age=SECONDS; includeSubDomains; preload"):
 * Strict-Transport-Security (RFC 6797) on the service's answers over
 * HTTPS; 0 is valid (it tells browsers to forget). */
static int svc_hsts(struct cfg_parser *p, const char *value)
{
	struct svc_meta *m = &p->meta[p->cur];
	struct xlb_cfg_service *s = cur_svc(p);

	if (m->hsts_line)
		return fail(p, "%s: hsts given twice (first at line %u)", p->label, m->hsts_line);
	if (xlb_hsts_parse(value, &s->hsts_secs, &s->hsts_flags))
		return fail(p,
			    "%s: bad hsts '%s' (want seconds, or max-age=SECONDS with "
			    "; includeSubDomains and ; preload)",
			    p->label, value);
	s->hsts_set = true;
	m->hsts_line = p->line;
	return 0;
}

static int svc_https_only(struct cfg_parser *p, const char *value)
{
	return svc_yes_no(p, "https_only", value, &p->meta[p->cur].https_only_line,
			  &cur_svc(p)->https_only);
}

static int svc_backend_tls(struct cfg_parser *p, const char *value)
{
	return svc_yes_no(p, "backend_tls", value, &p->meta[p->cur].backend_tls_line,
			  &cur_svc(p)->backend_tls);
}

static int svc_strip_path(struct cfg_parser *p, const char *value)
{
	return svc_yes_no(p, "strip_path", value, &p->meta[p->cur].strip_line,
			  &cur_svc(p)->strip_path);
}

/* The routes as given, with the service's paths applied to the hosts that
 * carry none: one route per (host, path). */
struct route_list {
	char (*hosts)[XLB_HOST_LEN];
	struct xlb_cfg_path *paths;
	unsigned *lines;
	size_t n;
};

static int expand_routes(const struct xlb_cfg_service *s, const struct svc_meta *m,
			 struct route_list *out)
{
	size_t n = 0, k = 0;

	for (size_t i = 0; i < s->n_hosts; i++)
		n += s->paths[i].prefix[0] || !m->n_paths ? 1 : m->n_paths;
	out->hosts = calloc(n, sizeof(*out->hosts));
	out->paths = calloc(n, sizeof(*out->paths));
	out->lines = calloc(n, sizeof(*out->lines));
	out->n = n;
	if (!out->hosts || !out->paths || !out->lines)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_hosts; i++) {
		size_t copies = s->paths[i].prefix[0] || !m->n_paths ? 1 : m->n_paths;

		for (size_t c = 0; c < copies; c++, k++) {
			const char *path = s->paths[i].prefix[0] ? s->paths[i].prefix
					   : m->n_paths		 ? m->paths[c]
								 : "/";

			memcpy(out->hosts[k], s->hosts[i], XLB_HOST_LEN);
			snprintf(out->paths[k].prefix, XLB_PATH_SIZE, "%s", path);
			out->lines[k] = m->host_lines[i];
		}
	}
	return 0;
}

/* One route against the others of the service and those of the services
 * before it. */
static int check_route(struct cfg_parser *p, const struct route_list *r, size_t k)
{
	const char *path = r->paths[k].prefix;
	const struct xlb_cfg_service *owner = route_owner(p, r->hosts[k], path);
	char name[XLB_HOST_LEN + XLB_PATH_SIZE];
	const char *what = strcmp(path, "/") == 0 ? "host" : "route";

	route_name(r->hosts[k], path, name, sizeof(name));
	if (cur_svc(p)->tls && strcmp(path, "/") != 0)
		return fail_at(p, r->lines[k], "%s: route %s: paths need proto http", p->label,
			       name);
	for (size_t j = 0; j < k; j++)
		if (strcmp(r->hosts[j], r->hosts[k]) == 0 && strcmp(r->paths[j].prefix, path) == 0)
			return fail_at(p, r->lines[k], "%s: %s %s given twice", p->label, what,
				       name);
	if (owner)
		return fail_at(p, r->lines[k], "%s: %s %s already used by service %s", p->label,
			       what, name, owner->name);
	return 0;
}

/* Turns the service's hosts into its final routes, checked. */
static int finish_routes(struct cfg_parser *p)
{
	struct xlb_cfg_service *s = cur_svc(p);
	struct svc_meta *m = &p->meta[p->cur];
	struct route_list r = {};
	int err = 0;

	if (m->n_paths && !s->n_hosts)
		return fail_at(p, m->path_line, "%s: path without a host", p->label);
	if (!s->n_hosts)
		return 0;
	if (expand_routes(s, m, &r))
		err = fail_nomem(p);
	for (size_t k = 0; k < r.n && !err; k++)
		err = check_route(p, &r, k);
	for (size_t k = 0; k < r.n && s->https; k++)
		r.paths[k].scheme = XLB_SCHEME_HTTPS;
	if (!err) {
		free(s->hosts);
		free(s->paths);
		s->hosts = r.hosts;
		s->paths = r.paths;
		s->n_hosts = r.n;
		r.hosts = NULL;
		r.paths = NULL;
	}
	free(r.hosts);
	free(r.paths);
	free(r.lines);
	return err;
}

static int svc_proto(struct cfg_parser *p, const char *value)
{
	struct svc_meta *m = &p->meta[p->cur];

	if (m->has_proto)
		return fail(p, "%s: proto given twice", p->label);
	if (strcmp(value, "http") != 0 && strcmp(value, "tls") != 0 && strcmp(value, "https") != 0)
		return fail(p, "%s: bad proto '%s' (want http, https or tls)", p->label, value);
	cur_svc(p)->tls = strcmp(value, "tls") == 0;
	cur_svc(p)->https = strcmp(value, "https") == 0;
	m->has_proto = true;
	return 0;
}

static int svc_proxy_protocol(struct cfg_parser *p, const char *value)
{
	if (strcmp(value, "v2") != 0)
		return fail(p, "%s: bad proxy_protocol '%s' (want v2)", p->label, value);
	cur_svc(p)->proxy_v2 = true;
	return 0;
}

/* "weight=N" after a backend, N in 1..XLB_WEIGHT_MAX. */
static int parse_backend_option(struct cfg_parser *p, const char *be, const char *opt,
				uint32_t *weight, bool *seen)
{
	const char *v = opt + strlen("weight=");
	uint32_t w = 0;

	if (strncmp(opt, "weight=", strlen("weight=")) != 0)
		return fail(p, "%s: backend %s: unknown option '%s'", p->label, be, opt);
	if (*seen)
		return fail(p, "%s: backend %s: weight given twice", p->label, be);
	for (const char *c = v; *c; c++) {
		if (!isdigit((unsigned char)*c) || w > XLB_WEIGHT_MAX) {
			w = 0; /* not a number, or already too big */
			break;
		}
		w = w * 10 + (uint32_t)(*c - '0');
	}
	if (w < 1 || w > XLB_WEIGHT_MAX)
		return fail(p, "%s: backend %s: bad weight '%s' (want 1..%u)", p->label, be, v,
			    XLB_WEIGHT_MAX);
	*weight = w;
	*seen = true;
	return 0;
}

/* Checks a parsed backend against the service: no duplicate, and the
 * listen address's family. */
static int check_new_backend(struct cfg_parser *p, const struct xlb_cfg_backend *be)
{
	const struct xlb_cfg_service *s = cur_svc(p);
	char b[XLB_EP_STRLEN], l[XLB_EP_STRLEN];

	xlb_format_endpoint(&be->ep, b, sizeof(b));
	for (size_t i = 0; i < s->n_backends; i++)
		if (xlb_endpoint_equal(&s->backends[i].ep, &be->ep))
			return fail(p, "%s: duplicate backend %s", p->label, b);
	if (s->has_listen && s->listen.family != be->ep.family)
		return fail(p,
			    "%s: backend %s is %s but listen %s is %s "
			    "(no NAT between address families)",
			    p->label, b, family_name(be->ep.family),
			    xlb_format_endpoint(&s->listen, l, sizeof(l)),
			    family_name(s->listen.family));
	return 0;
}

/* "ADDR:PORT [weight=N]" */
static int parse_backend(struct cfg_parser *p, const char *value, struct xlb_cfg_backend *be)
{
	char copy[INI_MAX_LINE + 1], *save = NULL, *tok, *addr;
	char shown[XLB_EP_STRLEN];
	bool seen_weight = false;
	const char *why;

	snprintf(copy, sizeof(copy), "%s", value);
	addr = strtok_r(copy, " \t", &save);
	if (!addr)
		addr = copy; /* empty: let the endpoint parser say so */
	if (xlb_parse_endpoint(addr, XLB_EP_NO_PROTO, &be->ep, &why))
		return fail(p, "%s: bad backend '%s': %s", p->label, addr, why);
	xlb_format_endpoint(&be->ep, shown, sizeof(shown));
	be->weight = 1;
	while ((tok = strtok_r(NULL, " \t", &save)))
		if (parse_backend_option(p, shown, tok, &be->weight, &seen_weight))
			return p->status;
	return check_new_backend(p, be);
}

static int svc_backend(struct cfg_parser *p, const char *value)
{
	struct xlb_cfg_service *s = cur_svc(p);
	struct xlb_cfg_backend be, *grown;

	memset(&be, 0, sizeof(be));
	if (parse_backend(p, value, &be))
		return p->status;
	grown = grow(s->backends, s->n_backends, sizeof(*s->backends));
	if (!grown)
		return fail_nomem(p);
	s->backends = grown;
	grown[s->n_backends++] = be;
	return 0;
}

/* ---- health checks --------------------------------------------------------- */

/* The spec parser's messages start with the option's name ("interval
 * \"5x\" is not a duration ..."): with the prefix they name the key. */
static int svc_check(struct cfg_parser *p, const char *value)
{
	struct svc_meta *m = &p->meta[p->cur];
	char why[160];

	if (m->check_line)
		return fail(p, "%s: check given twice (first at line %u)", p->label, m->check_line);
	if (xlb_hc_parse(value, &cur_svc(p)->check, why, sizeof(why)))
		return fail(p, "%s: check: %s", p->label, why);
	m->check_line = p->line;
	return 0;
}

static int svc_check_option(struct cfg_parser *p, const char *name, const char *value)
{
	struct svc_meta *m = &p->meta[p->cur];
	const char *opt = name + strlen(CHECK_PREFIX);
	char why[160];

	for (size_t i = 0; i < N_CHECK_OPTIONS; i++) {
		if (strcmp(opt, check_options[i]) != 0)
			continue;
		if (m->check_opt_line[i])
			return fail(p, "%s: %s given twice (first at line %u)", p->label, name,
				    m->check_opt_line[i]);
		if (xlb_hc_set_option(&cur_svc(p)->check, opt, value, why, sizeof(why)))
			return fail(p, "%s: " CHECK_PREFIX "%s", p->label, why);
		m->check_opt_line[i] = p->line;
		return 0;
	}
	return fail(p, "%s: unknown key '%s'", p->label, name);
}

/* The first check_* line of the service, or 0. */
static unsigned first_check_option_line(const struct svc_meta *m)
{
	unsigned first = 0;

	for (size_t i = 0; i < N_CHECK_OPTIONS; i++)
		if (m->check_opt_line[i] && (!first || m->check_opt_line[i] < first))
			first = m->check_opt_line[i];
	return first;
}

/* Options without a check would be silently unused; a spec whose timing
 * does not fit together is reported where it stopped fitting: the later
 * of the interval and timeout lines (or the check line, for defaults). */
static int finish_check(struct cfg_parser *p)
{
	const struct svc_meta *m = &p->meta[p->cur];
	unsigned first = first_check_option_line(m), at = 0;
	char why[160];

	if (!m->check_line && first)
		return fail_at(p, first,
			       "%s: check options without a check (add check = tcp "
			       "or check = http:/path)",
			       p->label);
	if (!m->check_line || !xlb_hc_validate(&cur_svc(p)->check, why, sizeof(why)))
		return 0;
	for (size_t i = 0; i < 2; i++) /* interval, timeout */
		if (m->check_opt_line[i] > at)
			at = m->check_opt_line[i];
	return fail_at(p, at ? at : m->check_line, "%s: check: %s", p->label, why);
}

/* A service section's keys, but for the check_* options. */
static const struct {
	const char *name;
	int (*set)(struct cfg_parser *p, const char *value);
} service_keys[] = {
	{ "listen", svc_listen },
	{ "host", svc_host },
	{ "path", svc_path },
	{ "strip_path", svc_strip_path },
	{ "forward_headers", svc_forward_headers },
	{ "acme", svc_acme },
	{ "https_redirect", svc_https_redirect },
	{ "hsts", svc_hsts },
	{ "https_only", svc_https_only },
	{ "proto", svc_proto },
	{ "backend", svc_backend },
	{ "proxy_protocol", svc_proxy_protocol },
	{ "backend_tls", svc_backend_tls },
	{ "check", svc_check },
};

static int service_key(struct cfg_parser *p, const char *name, const char *value)
{
	for (size_t i = 0; i < sizeof(service_keys) / sizeof(service_keys[0]); i++)
		if (strcmp(name, service_keys[i].name) == 0)
			return service_keys[i].set(p, value);
	if (strncmp(name, CHECK_PREFIX, strlen(CHECK_PREFIX)) == 0)
		return svc_check_option(p, name, value);
	return fail(p, "%s: unknown key '%s'", p->label, name);
}

/* inih's handler: returns nonzero on success. The section argument is
 * unused: the reader has already opened the section (see the top). */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct cfg_parser *p = user;

	(void)section;
	switch (p->kind) {
	case SEC_HTTP:
	case SEC_TLS:
		return shared_key(p, name, value) == 0;
	case SEC_SERVICE:
		return service_key(p, name, value) == 0;
	case SEC_NONE:
	default:
		return global_key(p, name, value) == 0;
	}
}

/* ---- sections ------------------------------------------------------------ */

static int service_index(const struct xlb_config *cfg, const char *name, size_t *idx)
{
	for (size_t i = 0; i < cfg->n_services; i++) {
		if (strcmp(cfg->services[i].name, name) == 0) {
			*idx = i;
			return 0;
		}
	}
	return -ENOENT;
}

static int add_service(struct cfg_parser *p, const char *name)
{
	struct xlb_config *cfg = p->cfg;
	struct xlb_cfg_service *svcs;
	struct svc_meta *meta;

	meta = grow(p->meta, cfg->n_services, sizeof(*meta));
	if (!meta)
		return fail_nomem(p);
	p->meta = meta;
	svcs = grow(cfg->services, cfg->n_services, sizeof(*svcs));
	if (!svcs)
		return fail_nomem(p);
	cfg->services = svcs;
	p->cur = cfg->n_services++;
	memset(&svcs[p->cur], 0, sizeof(svcs[p->cur]));
	memset(&meta[p->cur], 0, sizeof(meta[p->cur]));
	snprintf(svcs[p->cur].name, sizeof(svcs[p->cur].name), "%s", name);
	xlb_hc_spec_init(&svcs[p->cur].check);
	meta[p->cur].header_line = p->line;
	return 0;
}

static int open_service(struct cfg_parser *p, const char *name)
{
	size_t first;

	if (!xlb_valid_service_name(name))
		return fail(p, "invalid service name '%s'", name);
	if (service_index(p->cfg, name, &first) == 0)
		return fail(p, "duplicate service '%s' (first at line %u)", name,
			    p->meta[first].header_line);
	if (p->cfg->n_services >= XLB_MAX_SERVICES)
		return fail(p, "too many services (max %d)", XLB_MAX_SERVICES);
	if (add_service(p, name))
		return p->status;
	p->kind = SEC_SERVICE;
	snprintf(p->label, sizeof(p->label), "service %s", name);
	return 0;
}

/* "http", "tls" or "service NAME", from between the brackets. */
static int open_section(struct cfg_parser *p, char *text)
{
	char *sec = trim(text);

	if (strcmp(sec, "http") == 0 || strcmp(sec, "tls") == 0) {
		p->kind = sec[0] == 'h' ? SEC_HTTP : SEC_TLS;
		snprintf(p->label, sizeof(p->label), "%s", sec);
		return 0;
	}
	if (strncmp(sec, "service", 7) == 0 && (sec[7] == '\0' || isspace((unsigned char)sec[7])))
		return open_service(p, trim(sec + 7));
	return fail(p, "unknown section '%s'", sec);
}

/* Checks that need the whole section, reported at its header line. */
static int finish_section(struct cfg_parser *p)
{
	const struct xlb_cfg_service *s;

	if (p->kind != SEC_SERVICE)
		return 0;
	s = cur_svc(p);
	if (finish_routes(p))
		return p->status;
	if (!s->has_listen && s->n_hosts == 0)
		return fail_at(p, p->meta[p->cur].header_line, "%s: has neither listen nor host",
			       p->label);
	if (s->acme && !s->https)
		return fail_at(p, p->meta[p->cur].acme_line, "%s: acme needs proto = https",
			       p->label);
	if (s->https_redirect && !s->https)
		return fail_at(p, p->meta[p->cur].redirect_line,
			       "%s: https_redirect needs proto = https", p->label);
	if (s->hsts_set && !s->https)
		return fail_at(p, p->meta[p->cur].hsts_line, "%s: hsts needs proto = https",
			       p->label);
	if (s->https_only && !s->https)
		return fail_at(p, p->meta[p->cur].https_only_line,
			       "%s: https_only needs proto = https", p->label);
	if (s->backend_tls && (s->tls || !s->n_hosts))
		return fail_at(p, p->meta[p->cur].backend_tls_line,
			       "%s: backend_tls needs host names with proto = http or https",
			       p->label);
	return finish_check(p);
}

/* If line is a "[section]" header, closes the previous section and opens
 * this one. A '[' without ']' is left to inih, which reports it. */
static void note_section_header(struct cfg_parser *p, const char *line)
{
	char text[INI_MAX_LINE + 1];
	const char *s = line, *end;

	if (p->line == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3; /* UTF-8 BOM, which inih skips too */
	while (isspace((unsigned char)*s))
		s++;
	if (*s != '[' || !(end = strchr(s, ']')))
		return;
	if (finish_section(p))
		return;
	snprintf(text, sizeof(text), "%.*s", (int)(end - s - 1), s + 1);
	open_section(p, text);
}

/* ---- reading ------------------------------------------------------------- */

/* The next physical line without its '\n' (not NUL-terminated for string
 * sources); NULL at the end. */
static const char *source_next(struct line_source *src, size_t *len)
{
	const char *line;

	if (src->file) {
		ssize_t n;

		errno = 0;
		n = getline(&src->buf, &src->cap, src->file);
		if (n < 0) {
			if (ferror(src->file))
				src->read_errno = errno ? errno : EIO;
			return NULL;
		}
		*len = (size_t)n - (n > 0 && src->buf[n - 1] == '\n');
		return src->buf;
	}
	if (*src->text == '\0')
		return NULL;
	line = src->text;
	*len = strcspn(line, "\n");
	src->text = line + *len + (line[*len] == '\n');
	return line;
}

/* inih's fgets-style reader: one whole line per call, so inih's line
 * numbers and ours agree. Returns NULL (end) after our first error. */
static char *read_line(char *buf, int size, void *user)
{
	struct cfg_parser *p = user;
	const char *line;
	size_t len;

	if (p->status)
		return NULL;
	line = source_next(&p->src, &len);
	if (!line)
		return NULL;
	p->line++;
	if (len + 2 > (size_t)size) { /* the line, '\n' and NUL must fit */
		fail(p, "line too long (max %d characters)", size - 2);
		return NULL;
	}
	memcpy(buf, line, len);
	buf[len] = '\n';
	buf[len + 1] = '\0';
	note_section_header(p, buf);
	return p->status ? NULL : buf;
}

/* inih's switches are process-wide in Debian's build; xlb has no other
 * inih user. Multi-line values would turn an indented "listen = ..." into
 * a continuation of the previous key, so they are off. */
static void configure_inih(void)
{
	ini_allow_multiline = false;
	ini_stop_on_first_error = true;
}

/* Like a file that cannot be opened: "PATH: Is a directory". */
static int read_failed(struct cfg_parser *p)
{
	if (p->err && p->errlen)
		snprintf(p->err, p->errlen, "%s: %s", p->path, strerror(p->src.read_errno));
	p->status = -p->src.read_errno;
	return p->status;
}

static int parse_source(struct cfg_parser *p)
{
	int ret;

	memset(p->cfg, 0, sizeof(*p->cfg));
	configure_inih();
	ret = ini_parse_stream(read_line, p, on_key, p);
	if (p->status)
		return p->status;
	if (ret > 0)
		return fail_at(p, (unsigned)ret, "syntax error (want [section] or key = value)");
	if (ret < 0)
		return fail_nomem(p); /* inih: -2 is its only error here */
	if (p->src.read_errno)
		return read_failed(p);
	return finish_section(p);
}

static int parse_with(struct cfg_parser *p)
{
	int ret = parse_source(p);

	for (size_t i = 0; p->meta && i < p->cfg->n_services; i++) {
		free(p->meta[i].host_lines);
		free(p->meta[i].paths);
	}
	free(p->meta);
	free(p->src.buf);
	if (ret)
		xlb_config_free(p->cfg);
	return ret;
}

int xlb_config_parse_string(const char *text, const char *name, struct xlb_config *cfg, char *err,
			    size_t errlen)
{
	struct cfg_parser p = {
		.cfg = cfg,
		.src.text = text,
		.path = name,
		.err = err,
		.errlen = errlen,
	};

	return parse_with(&p);
}

int xlb_config_load(const char *path, struct xlb_config *cfg, char *err, size_t errlen)
{
	struct cfg_parser p = { .cfg = cfg, .path = path, .err = err, .errlen = errlen };
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	p.src.file = fopen(path, "re");
	if (!p.src.file) {
		ret = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	ret = parse_with(&p);
	fclose(p.src.file);
	return ret;
}

static void free_service(struct xlb_cfg_service *s)
{
	free(s->hosts);
	free(s->paths);
	free(s->backends);
}

void xlb_config_free(struct xlb_config *cfg)
{
	for (size_t i = 0; i < cfg->n_services; i++)
		free_service(&cfg->services[i]);
	free(cfg->services);
	free(cfg->http_listen);
	free(cfg->tls_listen);
	free(cfg->tls_certs);
	free(cfg->socket_lb_cgroup);
	free(cfg->trusted);
	free(cfg->default_host);
	memset(cfg, 0, sizeof(*cfg));
}
