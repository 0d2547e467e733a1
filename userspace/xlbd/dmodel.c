// SPDX-License-Identifier: GPL-2.0
#include "dmodel.h"
#include "multiports.h"
#include "route_index.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#define LABEL_PREFIX "xlb."

/* ---- small JSON accessors (a missing or mistyped field reads as absent) ---- */

static json_t *jpath(json_t *obj, const char *a, const char *b)
{
	json_t *v = json_object_get(obj, a);

	return b ? json_object_get(v, b) : v;
}

static const char *jstr(json_t *obj, const char *a, const char *b)
{
	return json_string_value(jpath(obj, a, b));
}

static json_t *jparse(const char *json, size_t len)
{
	json_error_t jerr;

	return json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
}

/* ---- errors ----------------------------------------------------------------- */

struct ctx {
	const char *name; /* the container's */
	char *err;
	size_t errlen;
};

/* Reasons from lib/health_spec.c echo a label's value raw, in double quotes: the
 * message must stay one line that fits in the log's err="...". */
static void one_line(char *dst, size_t size, const char *src)
{
	size_t o = 0;

	if (!size)
		return;
	for (; *src && o + 5 < size; src++) {
		unsigned char ch = (unsigned char)*src;

		if (ch < 0x20 || ch == 0x7f)
			o += (size_t)snprintf(dst + o, size - o, "\\x%02x", ch);
		else
			dst[o++] = ch == '"' ? '\'' : (char)ch;
	}
	dst[o] = '\0';
}

static int failf(const struct ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int failf(const struct ctx *x, const char *fmt, ...)
{
	char what[320], line[480];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "container %s: %s", x->name, what);
	one_line(x->err, x->errlen, line);
	return -EINVAL;
}

/* Label values go into one log line, inside a double-quoted err="...":
 * single-quote them with anything unprintable or a quote escaped,
 * shortened when long. */
static const char *quoted(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	buf[o++] = '\'';
	for (; *s && o + 6 < len; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\'' || ch == '\\')
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", ch);
		else
			buf[o++] = (char)ch;
	}
	if (*s && o + 4 < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '\'';
	buf[o] = '\0';
	return buf;
}

#define Q(s) quoted((s), (char[96]){ 0 }, 96)

/* ---- numbers ------------------------------------------------------------------ */

static bool parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 10)
		return false;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v < min || v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* ---- host names ------------------------------------------------------------- */

/* Routes one container may declare: labels are anyone's to write, and
 * each route is compared with the others at every apply and resync. */
#define DROUTES_MAX 1024
_Static_assert(XLB_MULTIPORTS_MAX <= DROUTES_MAX, "VIRTUAL_HOST_MULTIPORTS within the routes' cap");

/* Adds the route host (lowercased) + path ("" until the container's
 * paths are known, see routes_finish), once. -E2BIG past DROUTES_MAX. */
static int host_add(struct xlb_dcontainer *c, const char *host, const char *path, uint8_t scheme)
{
	for (size_t i = 0; i < c->n_hosts; i++)
		if (strcmp(c->hosts[i], host) == 0 && strcmp(c->paths[i].prefix, path) == 0)
			return 0;
	if (c->n_hosts == DROUTES_MAX)
		return -E2BIG;
	return xlb_cfg_route_append(&c->hosts, &c->paths, &c->n_hosts, host, path, scheme);
}

static int host_add_failed(const struct ctx *x, int err)
{
	if (err == -E2BIG)
		return failf(x, "more than %d routes (host names times paths)", DROUTES_MAX);
	return err;
}

/* dockercloud-haproxy's VIRTUAL_HOST item "[scheme://]domain[:port][/path]":
 * the scheme is kept (https and wss: the route's TLS is terminated; none:
 * bare), the port is not used (clients reach xlb's shared listeners,
 * whatever port the item names). Leaves "domain/path" in item. */
static int vhost_item(const struct ctx *x, const char *what, const char *val, char *item,
		      uint8_t bare, uint8_t *scheme)
{
	char *sep = strstr(item, "://"), *colon;
	uint32_t port;
	size_t hlen;

	*scheme = bare;
	if (item[0] == '~')
		return 0; /* nginx-proxy's regex: no scheme, and a ':' is the regex's */
	if (sep) {
		*sep = '\0';
		if (!strcasecmp(item, "https") || !strcasecmp(item, "wss"))
			*scheme = XLB_SCHEME_HTTPS;
		else if (!strcasecmp(item, "http") || !strcasecmp(item, "ws"))
			*scheme = XLB_SCHEME_HTTP;
		else
			return failf(x, "%s=%s: unknown scheme %s (want http, https, ws or wss)",
				     what, Q(val), Q(item));
		memmove(item, sep + 3, strlen(sep + 3) + 1);
	}
	hlen = strcspn(item, "/");
	colon = memchr(item, ':', hlen);
	if (colon) {
		char num[8];
		size_t nlen = hlen - (size_t)(colon - item) - 1;

		if (nlen >= sizeof(num))
			nlen = sizeof(num) - 1;
		memcpy(num, colon + 1, nlen);
		num[nlen] = '\0';
		if (!parse_u32(num, 1, 65535, &port))
			return failf(x, "%s=%s: bad port in %s", what, Q(val), Q(item));
		memmove(colon, item + hlen, strlen(item + hlen) + 1);
	}
	return 0;
}

/* The next item of a comma-separated list, without the spaces around it:
 * returns its start, sets its length, and moves *p past its comma (NULL
 * after the last item). */
static const char *list_item(const char **p, size_t *len)
{
	const char *s = *p, *end = strchr(s, ',');

	while (*s == ' ')
		s++;
	*len = end ? (size_t)(end - s) : strlen(s);
	while (*len && s[*len - 1] == ' ')
		--*len;
	*p = end ? end + 1 : NULL;
	return s;
}

/* "a.example, b.example/api": comma-separated routes, spaces around commas
 * allowed; VIRTUAL_HOST items may also have a scheme and a port, and
 * those without one get bare. */
static int hosts_parse(const struct ctx *x, struct xlb_dcontainer *c, const char *what,
		       const char *val, bool vhost, uint8_t bare)
{
	const char *p = val;

	while (p) {
		char one[XLB_HOST_LEN + XLB_PATH_SIZE + 16], host[XLB_HOST_LEN],
			path[XLB_PATH_SIZE], why[320];
		uint8_t scheme = XLB_SCHEME_HTTP;
		size_t len;
		const char *item = list_item(&p, &len);

		if (len == 0 || len >= sizeof(one))
			return failf(x, "%s=%s: empty or too long host name", what, Q(val));
		memcpy(one, item, len);
		one[len] = '\0';
		if (vhost && vhost_item(x, what, val, one, bare, &scheme))
			return -EINVAL;
		if (xlb_split_route(one, strlen(one), host, path, why, sizeof(why)))
			return failf(x, "%s=%s: %s", what, Q(val), why);
		int err = host_add(c, host, path, scheme);

		if (err)
			return host_add_failed(x, err);
	}
	return 0;
}

/* xlb.path and VIRTUAL_PATH: "/api[,/v2]", for the hosts without a path. */
static int paths_parse(const struct ctx *x, const char *what, const char *val,
		       char (*out)[XLB_PATH_SIZE], size_t *n, size_t max)
{
	const char *p = val, *why;

	for (*n = 0; p; ++*n) {
		size_t len;
		const char *item = list_item(&p, &len);
		char shown[XLB_PATH_SIZE + 8];

		if (*n == max)
			return failf(x, "%s=%s: more than %zu paths", what, Q(val), max);
		snprintf(shown, sizeof(shown), "%.*s",
			 (int)(len < XLB_PATH_SIZE ? len : XLB_PATH_SIZE), item);
		if (xlb_path_normalize(item, len, out[*n], &why))
			return failf(x, "%s=%s: bad path %s: %s", what, Q(val), Q(shown), why);
	}
	return 0;
}

#define DPATHS_MAX 16

/* Keeps the first of routes that are the same once paths are known
 * (VIRTUAL_HOST=a,a/ names one route twice), as host_add keeps it. */
static void routes_drop_repeats(struct xlb_dcontainer *c)
{
	size_t kept = 0;

	for (size_t i = 0; i < c->n_hosts; i++) {
		size_t j = 0;

		while (j < kept && (strcmp(c->hosts[j], c->hosts[i]) ||
				    strcmp(c->paths[j].prefix, c->paths[i].prefix)))
			j++;
		if (j < kept)
			continue;
		if (kept != i) {
			memcpy(c->hosts[kept], c->hosts[i], sizeof(c->hosts[kept]));
			c->paths[kept] = c->paths[i];
		}
		kept++;
	}
	c->n_hosts = kept;
}

/* Gives the hosts without a path the container's paths (or "/"). */
static int routes_finish(const struct ctx *x, struct xlb_dcontainer *c, const char *what,
			 const char *val)
{
	char paths[DPATHS_MAX][XLB_PATH_SIZE];
	size_t n = 0, n_hosts = c->n_hosts;
	int err = 0;

	if (val && (err = paths_parse(x, what, val, paths, &n, DPATHS_MAX)))
		return err;
	for (size_t i = 0; i < n_hosts && !err; i++) {
		if (c->paths[i].prefix[0])
			continue;
		snprintf(c->paths[i].prefix, XLB_PATH_SIZE, "%s", n ? paths[0] : "/");
		for (size_t k = 1; k < n && !err; k++) {
			char host[XLB_HOST_LEN]; /* host_add moves c->hosts */

			memcpy(host, c->hosts[i], sizeof(host));
			err = host_add(c, host, paths[k], c->paths[i].scheme);
		}
	}
	if (err)
		return host_add_failed(x, err);
	routes_drop_repeats(c);
	for (size_t i = 0; i < c->n_hosts && c->https; i++)
		c->paths[i].scheme = XLB_SCHEME_HTTPS;
	for (size_t i = 0; i < c->n_hosts; i++)
		if (c->tls && strcmp(c->paths[i].prefix, "/") != 0)
			return failf(x, "route %s%s: paths need xlb.proto=http", c->hosts[i],
				     c->paths[i].prefix);
	return 0;
}

/* A true|false label, xlb.KEY. */
static int bool_label(const struct ctx *x, const char *key, const char *val, bool *out)
{
	if (strcmp(val, "true") && strcmp(val, "false"))
		return failf(x, "label xlb.%s=%s: want true or false", key, Q(val));
	*out = strcmp(val, "true") == 0;
	return 0;
}

static int forward_parse(const struct ctx *x, struct xlb_dcontainer *c, const char *val)
{
	bool forward;
	int err = bool_label(x, "forward_headers", val, &forward);

	if (!err)
		c->no_forward_headers = !forward;
	return err;
}

static int hsts_parse(const struct ctx *x, struct xlb_dcontainer *c, const char *what,
		      const char *val)
{
	if (xlb_hsts_parse(val, &c->hsts_secs, &c->hsts_flags))
		return failf(x,
			     "%s=%s: want seconds, or max-age=SECONDS with ; includeSubDomains "
			     "and ; preload",
			     what, Q(val));
	c->hsts = true;
	return 0;
}

/* ---- labels ---------------------------------------------------------------- */

/* "8080/tcp", "10.0.0.5:8080/udp", "[fd00::5]:53/udp" */
static int listen_parse(const struct ctx *x, struct xlb_dcontainer *c, const char *val)
{
	const char *slash = strrchr(val, '/');
	const char *why = NULL;
	uint32_t port;
	char buf[16];

	if (!slash || (strcmp(slash, "/tcp") && strcmp(slash, "/udp")))
		return failf(x, "label xlb.listen=%s: want PORT/tcp, PORT/udp or ADDR:PORT/PROTO",
			     Q(val));
	c->has_listen = true;
	if (strchr(val, ':')) {
		if (xlb_parse_endpoint(val, XLB_EP_PROTO, &c->listen, &why))
			return failf(x, "label xlb.listen=%s: %s", Q(val), why);
		return 0;
	}
	if ((size_t)(slash - val) >= sizeof(buf))
		return failf(x, "label xlb.listen=%s: not a port number", Q(val));
	memcpy(buf, val, (size_t)(slash - val));
	buf[slash - val] = '\0';
	if (!parse_u32(buf, 1, 65535, &port))
		return failf(x, "label xlb.listen=%s: not a port number (1-65535)", Q(val));
	memset(&c->listen, 0, sizeof(c->listen));
	c->listen.port = (uint16_t)port;
	c->listen.proto = strcmp(slash, "/udp") ? IPPROTO_TCP : IPPROTO_UDP;
	return 0;
}

static int port_parse(const struct ctx *x, const char *what, const char *val, uint16_t *port)
{
	uint32_t v;

	if (!parse_u32(val, 1, 65535, &v))
		return failf(x, "%s=%s: not a port number (1-65535)", what, Q(val));
	*port = (uint16_t)v;
	return 0;
}

static int healthcheck_option(const struct ctx *x, struct xlb_dcontainer *c, const char *key,
			      const char *val)
{
	char why[160];

	if (xlb_hc_set_option(&c->hc, key, val, why, sizeof(why)))
		return failf(x, "label xlb.healthcheck.%s=%s: %s", key, Q(val), why);
	return 0;
}

/* One xlb.* label. network is only noted here: it needs the networks. */
static int label_apply(const struct ctx *x, struct xlb_dcontainer *c, const char *key,
		       const char *val, const char **network)
{
	const char *k = key + strlen(LABEL_PREFIX);
	char why[160];
	uint32_t w;

	if (strcmp(k, "host") == 0)
		return hosts_parse(x, c, "label xlb.host", val, false, XLB_SCHEME_HTTP);
	if (strcmp(k, "path") == 0)
		return 0; /* routes_finish: the hosts may come after it */
	if (strcmp(k, "path.strip") == 0)
		return bool_label(x, k, val, &c->strip_path);
	if (strcmp(k, "forward_headers") == 0)
		return forward_parse(x, c, val);
	if (strcmp(k, "tls.acme") == 0)
		return bool_label(x, k, val, &c->acme);
	if (strcmp(k, "tls.redirect") == 0)
		return bool_label(x, k, val, &c->https_redirect);
	if (strcmp(k, "tls.hsts") == 0)
		return hsts_parse(x, c, "label xlb.tls.hsts", val);
	if (strcmp(k, "tls.https_only") == 0)
		return bool_label(x, k, val, &c->https_only);
	if (strcmp(k, "port") == 0)
		return port_parse(x, "label xlb.port", val, &c->port);
	if (strcmp(k, "listen") == 0)
		return listen_parse(x, c, val);
	if (strcmp(k, "network") == 0) {
		*network = val;
		return 0;
	}
	if (strcmp(k, "weight") == 0) {
		if (!parse_u32(val, 1, XLB_WEIGHT_MAX, &w))
			return failf(x, "label xlb.weight=%s: not a weight (1-%d)", Q(val),
				     XLB_WEIGHT_MAX);
		c->weight = w;
		return 0;
	}
	if (strcmp(k, "proto") == 0) {
		if (strcmp(val, "http") && strcmp(val, "tls") && strcmp(val, "https"))
			return failf(x, "label xlb.proto=%s: want http, https or tls", Q(val));
		c->tls = strcmp(val, "tls") == 0;
		c->https = strcmp(val, "https") == 0;
		return 0;
	}
	if (strcmp(k, "healthcheck") == 0) {
		if (xlb_hc_parse(val, &c->hc, why, sizeof(why)))
			return failf(x, "label xlb.healthcheck=%s: %s", Q(val), why);
		return 0;
	}
	if (strncmp(k, "healthcheck.", 12) == 0)
		return healthcheck_option(x, c, k + 12, val);
	return failf(x, "unknown label %s", Q(key));
}

static int labels_apply(const struct ctx *x, struct xlb_dcontainer *c, json_t *labels,
			const char **network)
{
	const char *key;
	json_t *v;
	int err;

	json_object_foreach (labels, key, v) {
		if (strncmp(key, LABEL_PREFIX, strlen(LABEL_PREFIX)))
			continue;
		if (!json_is_string(v))
			return failf(x, "label %s: not a string", Q(key));
		err = label_apply(x, c, key, json_string_value(v), network);
		if (err)
			return err;
	}
	return 0;
}

static bool has_xlb_label(json_t *labels)
{
	const char *key;
	json_t *v;

	json_object_foreach (labels, key, v)
		if (strncmp(key, LABEL_PREFIX, strlen(LABEL_PREFIX)) == 0)
			return true;
	return false;
}

/* "NAME=value" from Config.Env, or NULL. */
static const char *env_get(json_t *env, const char *name)
{
	size_t n = strlen(name), i;
	json_t *v;

	json_array_foreach (env, i, v) {
		const char *s = json_string_value(v);

		if (s && strncmp(s, name, n) == 0 && s[n] == '=')
			return s + n + 1;
	}
	return NULL;
}

/* VIRTUAL_HOST, unless empty: nginx-proxy ignores a container with
 * VIRTUAL_HOST="" (compose files set it so to switch a service off). */
static const char *vhost_env(json_t *env)
{
	const char *vh = env_get(env, "VIRTUAL_HOST");

	return vh && vh[strspn(vh, " ")] ? vh : NULL;
}

/* ---- identity, state, network ------------------------------------------------ */

/* The compose labels that say which checkout a container was made from,
 * each with its length in front: "5:xlbdt12:/src/app/dev..." reads as one
 * set of labels only. */
static int origin_read(json_t *labels, const char *project, struct xlb_dcontainer *c)
{
	const char *dir = jstr(labels, "com.docker.compose.project.working_dir", NULL);
	const char *files = jstr(labels, "com.docker.compose.project.config_files", NULL);

	dir = dir ? dir : "";
	files = files ? files : "";
	if (asprintf(&c->origin, "%zu:%s%zu:%s%zu:%s", strlen(project), project, strlen(dir), dir,
		     strlen(files), files) < 0) {
		c->origin = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int identity_read(const struct ctx *x, json_t *labels, struct xlb_dcontainer *c)
{
	const char *project = jstr(labels, "com.docker.compose.project", NULL);
	const char *service = jstr(labels, "com.docker.compose.service", NULL);
	bool compose = project && service && *project && *service;
	int n;

	if (compose)
		n = snprintf(c->service, sizeof(c->service), "%s_%s", project, service);
	else
		n = snprintf(c->service, sizeof(c->service), "%s", c->name);
	if (n < 0 || (size_t)n >= sizeof(c->service) || !xlb_valid_service_name(c->service))
		return failf(x,
			     "service name %s is not a valid xlb service name "
			     "(1-%d of A-Z a-z 0-9 _ . -)",
			     Q(c->service), XLB_NAME_LEN - 1);
	return compose ? origin_read(labels, project, c) : 0;
}

/* n decimal digits at *p, moved past them. */
static bool digits_read(const char **p, int n, int *out)
{
	*out = 0;
	for (int i = 0; i < n; i++, ++*p) {
		if (!isdigit((unsigned char)**p))
			return false;
		*out = *out * 10 + (**p - '0');
	}
	return true;
}

/* "+01:00" or "-05:30" after the time: seconds east of UTC. */
static bool utc_offset_read(const char **p, long *secs)
{
	int sign = **p == '-' ? -1 : 1, h, m;

	if (**p != '+' && **p != '-')
		return false;
	++*p;
	if (!digits_read(p, 2, &h) || *(*p)++ != ':' || !digits_read(p, 2, &m))
		return false;
	*secs = sign * (h * 3600L + m * 60L);
	return true;
}

/* Docker's Created: RFC 3339 with up to nine digits of fraction,
 * "2026-11-25T03:04:32.61538144Z". */
static bool created_parse(const char *s, uint64_t *ns)
{
	struct tm tm = { 0 };
	uint64_t frac = 0;
	int digits = 0;
	long offset = 0;
	time_t t;

	if (!s || !digits_read(&s, 4, &tm.tm_year) || *s++ != '-' ||
	    !digits_read(&s, 2, &tm.tm_mon) || *s++ != '-' || !digits_read(&s, 2, &tm.tm_mday) ||
	    (*s != 'T' && *s != 't'))
		return false;
	s++;
	if (!digits_read(&s, 2, &tm.tm_hour) || *s++ != ':' || !digits_read(&s, 2, &tm.tm_min) ||
	    *s++ != ':' || !digits_read(&s, 2, &tm.tm_sec))
		return false;
	if (*s == '.' && !isdigit((unsigned char)*++s))
		return false;
	for (; isdigit((unsigned char)*s); s++, digits++)
		if (digits < 9)
			frac = frac * 10 + (uint64_t)(*s - '0');
	for (int d = digits; d < 9; d++)
		frac *= 10;
	if ((*s == 'Z' || *s == 'z') && !s[1])
		offset = 0;
	else if (!utc_offset_read(&s, &offset) || *s)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	if (t == (time_t)-1 || t - offset < 0)
		return false;
	*ns = (uint64_t)(t - offset) * 1000000000u + frac;
	return true;
}

/* A container whose age cannot be read is taken for the youngest: it never
 * wins a name by age. */
static void created_read(json_t *root, struct xlb_dcontainer *c)
{
	if (!created_parse(jstr(root, "Created", NULL), &c->created_ns))
		c->created_ns = UINT64_MAX;
}

static void state_read(json_t *root, struct xlb_dcontainer *c)
{
	json_t *state = json_object_get(root, "State");
	const char *health = jstr(state, "Health", "Status");

	c->serving = false;
	c->running = json_is_true(json_object_get(state, "Running"));
	if (!c->running)
		snprintf(c->why_not, sizeof(c->why_not), "not running");
	else if (json_is_true(json_object_get(state, "Paused")))
		snprintf(c->why_not, sizeof(c->why_not), "paused");
	else if (json_is_true(json_object_get(state, "Restarting")))
		snprintf(c->why_not, sizeof(c->why_not), "restarting");
	else if (health && strcmp(health, "healthy") && strcmp(health, "none") && *health)
		snprintf(c->why_not, sizeof(c->why_not), "health=%.32s", health);
	else
		c->serving = true;
}

static void network_names(json_t *nets, char *buf, size_t len)
{
	const char *name;
	size_t o = 0;
	json_t *v;

	buf[0] = '\0';
	json_object_foreach (nets, name, v)
		if (o < len)
			o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? ", " : "", name);
}

static void net_addr_read(json_t *net, struct xlb_dnet_addr *a)
{
	const char *a4 = jstr(net, "IPAddress", NULL), *a6 = jstr(net, "GlobalIPv6Address", NULL);

	a->has_addr4 = a4 && inet_pton(AF_INET, a4, &a->addr4.v4) == 1;
	a->has_addr6 = a6 && inet_pton(AF_INET6, a6, a->addr6.v6) == 1;
}

/* Every network's name (for the join rule of xlb_dmodel_build) and
 * addresses (for its choice of network). */
static int networks_keep(json_t *nets, struct xlb_dcontainer *c)
{
	size_t room = json_object_size(nets) + 1;
	const char *name;
	json_t *v;

	c->networks = calloc(room, sizeof(*c->networks));
	c->net_addrs = calloc(room, sizeof(*c->net_addrs));
	if (!c->networks || !c->net_addrs)
		return -ENOMEM;
	json_object_foreach (nets, name, v) {
		c->networks[c->n_networks] = strdup(name);
		if (!c->networks[c->n_networks])
			return -ENOMEM;
		net_addr_read(v, &c->net_addrs[c->n_networks]);
		c->n_networks++;
	}
	return 0;
}

/* On no network at all: no address, not serving. */
static void network_take_none(struct xlb_dcontainer *c)
{
	if (c->running) {
		c->running = c->serving = false;
		snprintf(c->why_not, sizeof(c->why_not), "no address");
	}
}

/* The container's addresses are those on network i; none: not serving. */
static void network_take(struct xlb_dcontainer *c, size_t i)
{
	const struct xlb_dnet_addr *a = &c->net_addrs[i];

	c->has_addr4 = a->has_addr4;
	c->has_addr6 = a->has_addr6;
	c->addr4 = a->addr4;
	c->addr6 = a->addr6;
	c->network_open = false;
	if (!c->has_addr4 && !c->has_addr6 && c->running) {
		c->running = c->serving = false;
		snprintf(c->why_not, sizeof(c->why_not), "no address");
	}
}

static size_t network_index(const struct xlb_dcontainer *c, const char *name)
{
	for (size_t i = 0; i < c->n_networks; i++)
		if (strcmp(c->networks[i], name) == 0)
			return i;
	return SIZE_MAX;
}

/* A container on the host's network (network_mode: host) listens on the
 * host's own addresses: the proxy, in the host's network namespace as
 * xlbd runs, reaches it on loopback, as nginx-proxy does. XDP cannot
 * forward to loopback, so such a container publishes no L4 listener. */
static int host_network_take(const struct ctx *x, struct xlb_dcontainer *c)
{
	if (c->has_listen)
		return failf(x, "label xlb.listen: a container on the host's network (network_mode "
				"host) is reached on loopback, where XDP cannot forward");
	c->host_network = true;
	c->has_addr4 = true;
	c->addr4.v4 = htonl(INADDR_LOOPBACK);
	return 0;
}

/* xlb.network's, or the only one; on several, the build chooses. */
static int network_read(const struct ctx *x, json_t *root, const char *want,
			struct xlb_dcontainer *c)
{
	json_t *nets = jpath(root, "NetworkSettings", "Networks");
	const char *mode = jstr(root, "HostConfig", "NetworkMode");
	char names[200];
	size_t i = 0;

	if (networks_keep(nets, c))
		return -ENOMEM;
	if (mode && strcmp(mode, "host") == 0)
		return host_network_take(x, c);
	if (want) {
		i = network_index(c, want);
		if (i == SIZE_MAX) {
			network_names(nets, names, sizeof(names));
			return failf(x, "label xlb.network=%s: not on that network (on: %s)",
				     Q(want), names[0] ? names : "none");
		}
	} else if (c->n_networks > 1) {
		c->network_open = true;
		return 0;
	}
	if (c->n_networks)
		network_take(c, i);
	else
		network_take_none(c);
	return 0;
}

/* The port: xlb.port, VIRTUAL_PORT, else the only exposed port. A
 * container that has nginx-proxy's variables only (nginx_proxy) gets
 * port 80 where the exposed ports do not say, as nginx-proxy gives it;
 * with xlb labels that is an error, since a guess would be silent. */
static int port_default(const struct ctx *x, json_t *root, struct xlb_dcontainer *c,
			bool nginx_proxy)
{
	json_t *exposed = jpath(root, "Config", "ExposedPorts");
	const char *key, *only = NULL;
	char names[200], num[16];
	json_t *v;
	size_t n = 0, len;

	if (c->port)
		return 0;
	json_object_foreach (exposed, key, v) {
		only = key;
		n++;
	}
	if (nginx_proxy && n != 1) {
		c->port = 80;
		return 0;
	}
	if (n == 0)
		return failf(x, "no label xlb.port and no exposed port");
	if (n > 1) {
		size_t o = 0;

		json_object_foreach (exposed, key, v)
			if (o < sizeof(names))
				o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s",
						      o ? ", " : "", key);
		return failf(x, "several exposed ports (%s): set label xlb.port", names);
	}
	len = strcspn(only, "/");

	if (len >= sizeof(num))
		return failf(x, "exposed port %s: not a port number", Q(only));
	memcpy(num, only, len);
	num[len] = '\0';
	return port_parse(x, "exposed port", num, &c->port);
}

/* nginx-proxy's VIRTUAL_DEST replaces the VIRTUAL_PATH prefix: "/" is
 * stripping it; another prefix would need rewriting, which xlb lacks. */
static int virtual_dest(const struct ctx *x, struct xlb_dcontainer *c, const char *dest)
{
	if (strcmp(dest, "/") != 0 && *dest)
		return failf(x,
			     "env VIRTUAL_DEST=%s: only / (strip the VIRTUAL_PATH prefix) is "
			     "supported",
			     Q(dest));
	c->strip_path = *dest != '\0';
	return 0;
}

/* dockercloud-haproxy's certificates, kept as given: an empty one is
 * none. */
static int certs_env_read(json_t *env, struct xlb_dcontainer *c)
{
	const char *cert = env_get(env, "SSL_CERT"), *deflt = env_get(env, "DEFAULT_SSL_CERT");

	if (cert && *cert && !(c->ssl_cert = strdup(cert)))
		return -ENOMEM;
	if (deflt && *deflt && !(c->default_ssl_cert = strdup(deflt)))
		return -ENOMEM;
	return 0;
}

/* nginx-proxy's default HSTS: a year. */
#define NGINX_PROXY_HSTS_SECS 31536000u

/* CERT_NAME: the stem of a file in the certificate directory, no path. */
#define CERT_STEM_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"

static int cert_name_read(const struct ctx *x, json_t *env, struct xlb_dcontainer *c)
{
	const char *n = env_get(env, "CERT_NAME");
	size_t len = n ? strlen(n) : 0;

	if (!n || !*n)
		return 0;
	if (len >= sizeof(c->cert_name) || n[0] == '.' || strspn(n, CERT_STEM_CHARS) != len)
		return failf(x,
			     "env CERT_NAME=%s: not a certificate file's name (letters, digits, "
			     "'.', '_', '-')",
			     Q(n));
	memcpy(c->cert_name, n, len + 1);
	return 0;
}

/* nginx-proxy's HTTPS_METHOD and HSTS (a container with its variables
 * only), for the https routes: redirect (308 here, 301 there) with HSTS;
 * noredirect, both sites and no HSTS; nohttp, the https site only, with
 * HSTS; nohttps, no https route at all. HSTS=off or a policy of its own
 * replaces the default. A route is https where the container says so
 * (https://, SSL_CERT) and, as nginx-proxy has it, where a certificate
 * file serves its host, which the build learns (cert_https). Without
 * HTTPS_METHOD, nginx-proxy's default, the redirect, is for the routes
 * made https by a certificate file or by LETSENCRYPT_HOST (by_acme)
 * only: a route https by its scheme keeps dockercloud-haproxy's
 * meaning, where FORCE_SSL asks for it. */
static int https_method_apply(const struct ctx *x, json_t *env, struct xlb_dcontainer *c,
			      bool by_acme)
{
	const char *m = env_get(env, "HTTPS_METHOD"), *h = env_get(env, "HSTS");
	bool hsts_default = false;

	c->cert_https = !m || strcmp(m, "nohttps") != 0;
	c->cert_redirect = !m;
	c->hsts_off = h && strcmp(h, "off") == 0;

	if ((!m && by_acme) || (m && strcmp(m, "redirect") == 0)) {
		c->https_redirect = hsts_default = true;
	} else if (m && strcmp(m, "noredirect") == 0) {
		c->https_redirect = false;
		h = "off";
	} else if (m && strcmp(m, "nohttp") == 0) {
		c->https_only = hsts_default = true;
	} else if (m && strcmp(m, "nohttps") == 0) {
		for (size_t i = 0; i < c->n_hosts; i++)
			c->paths[i].scheme = XLB_SCHEME_HTTP;
	} else if (m) {
		return failf(x, "env HTTPS_METHOD=%s: want redirect, noredirect, nohttp or nohttps",
			     Q(m));
	}
	if (h && strcmp(h, "off") == 0)
		c->hsts = false;
	else if (h)
		return hsts_parse(x, c, "env HSTS", h);
	else if (hsts_default && !c->hsts) {
		c->hsts = true;
		c->hsts_secs = NGINX_PROXY_HSTS_SECS;
		c->hsts_flags = 0;
	}
	return 0;
}

/* acme-companion's LETSENCRYPT_HOST, how nginx-proxy users get
 * certificates: the container's routes for those names are https, and
 * xlbd's own ACME client (--acme-state) gets their certificates, as for
 * xlb.tls.acme=true. A name it does not route is passed over: the
 * companion's certificate for it would serve nothing either. Returns
 * whether a route turned https. */
static bool letsencrypt_apply(json_t *env, struct xlb_dcontainer *c)
{
	const char *le = env_get(env, "LETSENCRYPT_HOST");
	bool any = false;

	while (le && *le) {
		size_t skip = strspn(le, ", \t"), len = strcspn(le + skip, ", \t");
		const char *item = le + skip;

		for (size_t i = 0; len && len < XLB_HOST_LEN && i < c->n_hosts; i++)
			if (strncasecmp(c->hosts[i], item, len) == 0 && c->hosts[i][len] == '\0' &&
			    c->paths[i].scheme == XLB_SCHEME_HTTP) {
				c->paths[i].scheme = XLB_SCHEME_HTTPS;
				c->acme = any = true;
			}
		le = item + len;
	}
	return any;
}

/* nginx-proxy's and dockercloud-haproxy's variables, where there is no
 * xlb.host; xlb.path applies to xlb.host, VIRTUAL_PATH to VIRTUAL_HOST.
 * With a certificate of its own, dockercloud-haproxy served a
 * VIRTUAL_HOST item without a scheme on 443 as well: https here. */
static int virtual_env_apply(const struct ctx *x, json_t *env, json_t *labels,
			     struct xlb_dcontainer *c)
{
	const char *vh = vhost_env(env), *vp = env_get(env, "VIRTUAL_PORT");
	const char *path = jstr(labels, "xlb.path", NULL), *what = "label xlb.path";
	int err = certs_env_read(env, c);
	uint8_t bare = c->ssl_cert || c->default_ssl_cert ? XLB_SCHEME_HTTPS : XLB_SCHEME_HTTP;

	if (!err && !c->n_hosts && vh) {
		err = hosts_parse(x, c, "env VIRTUAL_HOST", vh, true, bare);
		path = env_get(env, "VIRTUAL_PATH");
		what = "env VIRTUAL_PATH";
		if (!err && env_get(env, "VIRTUAL_DEST"))
			err = virtual_dest(x, c, env_get(env, "VIRTUAL_DEST"));
	}
	if (!err)
		err = routes_finish(x, c, what, path);
	/* dockercloud-haproxy's: redirect to https (any value), HSTS */
	if (!err && env_get(env, "FORCE_SSL"))
		c->https_redirect = true;
	if (!err && !c->hsts && env_get(env, "HSTS_MAX_AGE"))
		err = hsts_parse(x, c, "env HSTS_MAX_AGE", env_get(env, "HSTS_MAX_AGE"));
	if (!err && !has_xlb_label(labels))
		err = https_method_apply(x, env, c, letsencrypt_apply(env, c));
	if (!err && !has_xlb_label(labels))
		err = cert_name_read(x, env, c);
	if (!err && !c->port && vp)
		err = port_parse(x, "env VIRTUAL_PORT", vp, &c->port);
	return err;
}

/* ---- nginx-proxy's backend protocol and several ports ------------------------ */

/* VIRTUAL_HOST_MULTIPORTS on a container without xlb labels, unless
 * empty (as VIRTUAL_HOST=""). It replaces VIRTUAL_HOST, VIRTUAL_PORT,
 * VIRTUAL_PROTO, VIRTUAL_PATH and VIRTUAL_DEST: its routes are in the
 * container before virtual_env_apply, which then reads none of those. */
static const char *multiports_env(json_t *env, json_t *labels)
{
	const char *mp = env_get(env, "VIRTUAL_HOST_MULTIPORTS");

	return mp && mp[strspn(mp, " \t\r\n")] && !has_xlb_label(labels) ? mp : NULL;
}

/* nginx-proxy's VIRTUAL_PROTO (a container without xlb labels): how the
 * backend is reached. Its uwsgi, fastcgi and grpc are not HTTP/1.1 that
 * xlb's proxy forwards. */
static int virtual_proto_read(const struct ctx *x, json_t *env, struct xlb_dcontainer *c)
{
	const char *proto = env_get(env, "VIRTUAL_PROTO");

	if (!proto || !*proto || strcmp(proto, "http") == 0)
		return 0;
	if (strcmp(proto, "https") != 0)
		return failf(x, "env VIRTUAL_PROTO=%s: want http or https", Q(proto));
	c->backend_tls = true;
	return 0;
}

static bool same_part(const struct xlb_mport *a, const struct xlb_mport *b)
{
	return a->port == b->port && a->https == b->https && a->strip == b->strip;
}

/* By part (port, backend protocol, stripping), then route. */
static int by_part(const void *a, const void *b)
{
	const struct xlb_mport *x = a, *y = b;
	int d;

	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	if (x->https != y->https)
		return x->https ? 1 : -1;
	if (x->strip != y->strip)
		return x->strip ? 1 : -1;
	d = strcmp(x->host, y->host);
	return d ? d : strcmp(x->path, y->path);
}

static int part_add(struct xlb_dcontainer *c, const struct xlb_mport *e)
{
	struct xlb_dpart *more = realloc(c->parts, (c->n_parts + 1) * sizeof(*more)), *p;

	if (!more)
		return -ENOMEM;
	c->parts = more;
	p = &more[c->n_parts++];
	memset(p, 0, sizeof(*p));
	p->port = e->port;
	p->backend_tls = e->https;
	p->strip_path = e->strip;
	p->first = c->n_hosts;
	return 0;
}

/* The entries become the container's routes, each part's together. An
 * entry without a port takes the default one (c->port), so that "/" at
 * the default and "/x" at the same port written out are one service. */
static int parts_make(struct xlb_dcontainer *c, struct xlb_mport *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!v[i].port)
			v[i].port = c->port;
	qsort(v, n, sizeof(*v), by_part);
	for (size_t i = 0; i < n; i++) {
		if ((i == 0 || !same_part(&v[i - 1], &v[i])) && part_add(c, &v[i]))
			return -ENOMEM;
		if (xlb_cfg_route_append(&c->hosts, &c->paths, &c->n_hosts, v[i].host, v[i].path,
					 XLB_SCHEME_HTTP))
			return -ENOMEM;
		c->parts[c->n_parts - 1].n_hosts++;
	}
	return 0;
}

/* The routes and parts; c->port becomes the default port, as nginx-proxy
 * has it without VIRTUAL_PORT: the only exposed port, else 80. */
static int multiports_apply(const struct ctx *x, json_t *root, struct xlb_dcontainer *c,
			    const char *text)
{
	struct xlb_mport *v;
	char why[256];
	size_t n;
	int err = xlb_multiports_parse(text, strlen(text), &v, &n, why, sizeof(why));

	if (err == -EINVAL)
		return failf(x, "env VIRTUAL_HOST_MULTIPORTS: %s", why);
	if (err)
		return err;
	err = port_default(x, root, c, true);
	if (!err)
		err = parts_make(c, v, n);
	free(v);
	return err;
}

/* "SERVICE-PORT", "-https" and "-strip" added as the part is: the name
 * follows from the part alone, so it stays while other entries change
 * (and keeps what it held), and replicas share it. */
static int part_name(const struct ctx *x, const struct xlb_dcontainer *c, struct xlb_dpart *p)
{
	char name[XLB_NAME_LEN + 32];

	snprintf(name, sizeof(name), "%s-%u%s%s", c->service, p->port,
		 p->backend_tls ? "-https" : "", p->strip_path ? "-strip" : "");
	if (strlen(name) >= sizeof(p->service) || !xlb_valid_service_name(name))
		return failf(x, "env VIRTUAL_HOST_MULTIPORTS: service name %s is longer than %d",
			     Q(name), XLB_NAME_LEN - 1);
	memcpy(p->service, name, sizeof(p->service));
	return 0;
}

static int parts_name(const struct ctx *x, struct xlb_dcontainer *c)
{
	int err = 0;

	for (size_t i = 0; i < c->n_parts && !err; i++)
		err = part_name(x, c, &c->parts[i]);
	return err;
}

/* envcerts.c scopes a container's certificate to one service's names;
 * a container with parts is several services. */
static int parts_certs_check(const struct ctx *x, const struct xlb_dcontainer *c)
{
	if (c->n_parts && (c->ssl_cert || c->default_ssl_cert))
		return failf(x,
			     "env %s: not with VIRTUAL_HOST_MULTIPORTS, whose names are several "
			     "services' (put the certificate in xlbd's certificate directory)",
			     c->ssl_cert ? "SSL_CERT" : "DEFAULT_SSL_CERT");
	return 0;
}

/* ---- one container ---------------------------------------------------------- */

static int container_fill(json_t *root, struct xlb_dcontainer *c, struct ctx *x)
{
	json_t *labels = jpath(root, "Config", "Labels");
	json_t *env = jpath(root, "Config", "Env");
	const char *id = jstr(root, "Id", NULL), *name = jstr(root, "Name", NULL);
	const char *network = NULL, *multiports = multiports_env(env, labels);
	int err;

	if (!id || !*id || !name || strlen(id) >= sizeof(c->id))
		return failf(x, "inspect answer without Id or Name");
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->name, sizeof(c->name), "%s", name[0] == '/' ? name + 1 : name);
	x->name = c->name;
	if (!has_xlb_label(labels) && !vhost_env(env) && !multiports)
		return 0;
	c->weight = 1;
	xlb_hc_spec_init(&c->hc);
	err = labels_apply(x, c, labels, &network);
	if (!err && multiports)
		err = multiports_apply(x, root, c, multiports);
	else if (!err && !has_xlb_label(labels))
		err = virtual_proto_read(x, env, c);
	if (!err)
		err = virtual_env_apply(x, env, labels, c);
	if (!err)
		err = parts_certs_check(x, c);
	if (!err && !c->n_hosts && !c->has_listen)
		err = failf(x, "has xlb labels but neither xlb.host nor xlb.listen");
	if (!err && c->hc.kind == XLB_HC_NONE) {
		struct xlb_hc_spec plain;

		xlb_hc_spec_init(&plain);
		if (!xlb_hc_spec_equal(&plain, &c->hc))
			err = failf(x, "labels xlb.healthcheck.* need label xlb.healthcheck "
				       "(tcp or http:/path)");
	} else if (!err) {
		char why[160];

		if (xlb_hc_validate(&c->hc, why, sizeof(why)))
			err = failf(x, "label xlb.healthcheck: %s", why);
	}
	if (!err)
		err = identity_read(x, labels, c);
	if (!err)
		err = parts_name(x, c);
	if (!err)
		err = port_default(x, root, c, !has_xlb_label(labels));
	if (err)
		return err;
	state_read(root, c);
	created_read(root, c);
	err = network_read(x, root, network, c);
	return err ? err : 1;
}

int xlb_dmodel_container(const char *json, size_t len, struct xlb_dcontainer *c, char *err,
			 size_t errlen)
{
	struct ctx x = { .name = "?", .err = err, .errlen = errlen };
	json_t *root = jparse(json, len);
	int rc;

	memset(c, 0, sizeof(*c));
	if (!json_is_object(root)) {
		json_decref(root);
		snprintf(err, errlen, "container inspect: not a JSON object");
		return -EINVAL;
	}
	rc = container_fill(root, c, &x);
	json_decref(root);
	if (rc <= 0)
		xlb_dcontainer_free(c);
	return rc;
}

static bool hex64(const char *s)
{
	for (int i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* One mountinfo line: "ID PARENT MAJ:MIN ROOT MOUNTPOINT ...". Docker
 * bind-mounts .../containers/ID/hostname on the container's
 * /etc/hostname; on the host, the same directory shows up in other mounts
 * (a container's shm), never on /etc/hostname. */
static bool own_id_line(const char *line, size_t len, char id[XLB_DOCKER_ID_LEN])
{
	static const char mark[] = "/containers/", tail[] = "/hostname /etc/hostname ";
	const char *p = memmem(line, len, mark, sizeof(mark) - 1);
	const char *h = p ? p + sizeof(mark) - 1 : NULL;

	if (!h || (size_t)(line + len - h) < 64 + sizeof(tail) - 1 || !hex64(h) ||
	    memcmp(h + 64, tail, sizeof(tail) - 1) != 0)
		return false;
	memcpy(id, h, 64);
	id[64] = '\0';
	return true;
}

int xlb_dmodel_own_id(const char *mountinfo, char id[XLB_DOCKER_ID_LEN])
{
	for (const char *line = mountinfo; *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);

		if (own_id_line(line, len, id))
			return 0;
		line += len + (end ? 1 : 0);
	}
	return -ENOENT;
}

int xlb_dmodel_own_networks(const char *json, size_t len, char ***names, size_t *n)
{
	json_t *root = jparse(json, len), *nets, *v;
	const char *mode, *name;
	int err = 0;

	*names = NULL;
	*n = 0;
	if (!json_is_object(root)) {
		json_decref(root);
		return -EINVAL;
	}
	mode = jstr(root, "HostConfig", "NetworkMode");
	nets = jpath(root, "NetworkSettings", "Networks");
	if (!(mode && strcmp(mode, "host") == 0)) {
		*names = calloc(json_object_size(nets) + 1, sizeof(**names));
		if (!*names)
			err = -ENOMEM;
		json_object_foreach (nets, name, v) {
			if (err || !((*names)[*n] = strdup(name))) {
				err = -ENOMEM;
				break;
			}
			++*n;
		}
	}
	json_decref(root);
	if (err) {
		for (size_t i = 0; *names && i < *n; i++)
			free((*names)[i]);
		free(*names);
		*names = NULL;
		*n = 0;
	}
	return err;
}

/* A private key does not stay behind in freed memory. */
static void secret_free(char **s)
{
	if (*s) {
		explicit_bzero(*s, strlen(*s));
		free(*s);
	}
	*s = NULL;
}

void xlb_dcontainer_free(struct xlb_dcontainer *c)
{
	free(c->hosts);
	free(c->paths);
	c->hosts = NULL;
	c->paths = NULL;
	c->n_hosts = 0;
	free(c->parts);
	c->parts = NULL;
	c->n_parts = 0;
	secret_free(&c->ssl_cert);
	secret_free(&c->default_ssl_cert);
	free(c->origin);
	c->origin = NULL;
	for (size_t i = 0; i < c->n_networks; i++)
		free(c->networks[i]);
	free(c->networks);
	free(c->net_addrs);
	c->networks = NULL;
	c->net_addrs = NULL;
	c->n_networks = 0;
}

/* ---- list and events ------------------------------------------------------ */

/* Ids go into request paths: only what Docker makes (hex, at most 64). */
static bool id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n >= XLB_DOCKER_ID_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)id[i]))
			return false;
	return true;
}

int xlb_dmodel_list_ids(const char *json, size_t len, char (**ids)[XLB_DOCKER_ID_LEN])
{
	json_t *root = jparse(json, len), *v;
	size_t i, n = 0;

	*ids = NULL;
	if (!json_is_array(root)) {
		json_decref(root);
		return -EINVAL;
	}
	*ids = calloc(json_array_size(root) + 1, sizeof(**ids));
	if (!*ids) {
		json_decref(root);
		return -ENOMEM;
	}
	json_array_foreach (root, i, v) {
		const char *id = jstr(v, "Id", NULL);

		if (id_valid(id))
			snprintf((*ids)[n++], XLB_DOCKER_ID_LEN, "%s", id);
	}
	json_decref(root);
	return (int)n;
}

/* A kill only means going away for the signals that stop a container. */
static bool kill_stops(json_t *attrs)
{
	const char *sig = jstr(attrs, "signal", NULL);

	return !sig || !strcmp(sig, "9") || !strcmp(sig, "15") || !strcmp(sig, "SIGKILL") ||
	       !strcmp(sig, "SIGTERM");
}

static enum xlb_devent_kind container_action_kind(const char *action, json_t *attrs)
{
	static const char *const refresh[] = { "start", "unpause", "restart", "rename", "update" };
	static const char *const gone[] = { "die", "stop", "pause", "destroy", "oom" };

	if (strncmp(action, "health_status", 13) == 0)
		return XLB_DEV_REFRESH;
	if (strcmp(action, "kill") == 0)
		return kill_stops(attrs) ? XLB_DEV_GONE : XLB_DEV_IGNORE;
	for (size_t i = 0; i < sizeof(refresh) / sizeof(refresh[0]); i++)
		if (strcmp(action, refresh[i]) == 0)
			return XLB_DEV_REFRESH;
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		if (strcmp(action, gone[i]) == 0)
			return XLB_DEV_GONE;
	return XLB_DEV_IGNORE;
}

int xlb_dmodel_event(const char *json, size_t len, struct xlb_devent *ev)
{
	json_t *root = jparse(json, len);
	const char *type, *action, *id = NULL;
	json_t *attrs;

	memset(ev, 0, sizeof(*ev));
	if (!json_is_object(root)) {
		json_decref(root);
		return -EINVAL;
	}
	type = jstr(root, "Type", NULL);
	action = jstr(root, "Action", NULL);
	attrs = jpath(root, "Actor", "Attributes");
	if (type && action) {
		snprintf(ev->action, sizeof(ev->action), "%s", action);
		if (strcmp(type, "container") == 0) {
			id = jstr(root, "Actor", "ID");
			ev->kind = container_action_kind(action, attrs);
		} else if (strcmp(type, "network") == 0 &&
			   (!strcmp(action, "connect") || !strcmp(action, "disconnect"))) {
			id = jstr(attrs, "container", NULL);
			ev->kind = XLB_DEV_REFRESH;
		}
	}
	if (ev->kind != XLB_DEV_IGNORE) {
		if (id_valid(id))
			snprintf(ev->id, sizeof(ev->id), "%s", id);
		else
			ev->kind = XLB_DEV_IGNORE;
	}
	json_decref(root);
	return 0;
}

/* ---- services ----------------------------------------------------------------- */

static void warnf(xlb_dmodel_warn_fn warn, void *arg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void warnf(xlb_dmodel_warn_fn warn, void *arg, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!warn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	warn(arg, msg);
}

/* One service of the model: its containers, oldest first. */
struct group {
	char name[XLB_NAME_LEN];
	const struct xlb_dcontainer **cs;
	size_t n;
	const char *origin; /* the one its containers were let in by */
	bool split;	    /* a container its compose service did not take */
};

/* One xlb_dmodel_build. */
struct build {
	const struct xlb_dmodel_opts *o;
	struct xlb_dmodel *out;
	xlb_dmodel_warn_fn warn;
	void *arg;
	const struct xlb_dcontainer **sorted; /* by service, then age */
	size_t n;
	/* copies of the containers on several networks, with the network
	 * chosen (networks_choose); sorted points at them in their place */
	struct xlb_dcontainer *chosen;
	size_t n_chosen;
	/* one per part of the containers with parts (parts_expand), which
	 * sorted holds in their containers' place */
	struct xlb_dcontainer *views;
	bool *member; /* parallel to sorted */
	struct group *groups;
	size_t n_groups;
	const struct xlb_dcontainer **slots; /* the groups' containers */
	size_t n_slots;
	struct xlb_route_index routes; /* every route held or claimed */
	const struct group **held_by;  /* by held entry: its holder, or NULL */
};

static bool origin_equal(const char *a, const char *b)
{
	return a && b ? strcmp(a, b) == 0 : a == b;
}

/* Docker's own networks: any container may be put on them, so being on one
 * says nothing about whose it is. */
static bool predefined_network(const char *name)
{
	return !strcmp(name, "bridge") || !strcmp(name, "host") || !strcmp(name, "none");
}

static bool share_network(const struct xlb_dcontainer *a, const struct xlb_dcontainer *b)
{
	for (size_t i = 0; i < a->n_networks; i++) {
		if (predefined_network(a->networks[i]))
			continue;
		for (size_t j = 0; j < b->n_networks; j++)
			if (strcmp(a->networks[i], b->networks[j]) == 0)
				return true;
	}
	return false;
}

/* Older first; of one age, by name. */
static int by_age(const struct xlb_dcontainer *x, const struct xlb_dcontainer *y)
{
	if (x->created_ns != y->created_ns)
		return x->created_ns < y->created_ns ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int by_service_then_age(const void *a, const void *b)
{
	const struct xlb_dcontainer *x = *(const struct xlb_dcontainer *const *)a;
	const struct xlb_dcontainer *y = *(const struct xlb_dcontainer *const *)b;
	int d = strcmp(x->service, y->service);

	return d ? d : by_age(x, y);
}

/* Who gets a free name first: the service with the oldest container; a
 * split-off container after every service its labels did not get it into. */
static int by_claim_order(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	int d;

	if (x->split != y->split)
		return x->split ? 1 : -1;
	d = by_age(x->cs[0], y->cs[0]);
	return d ? d : strcmp(x->name, y->name);
}

/* ---- what the last build held ------------------------------------------------ */

static const struct xlb_dheld *held_service(const struct xlb_dholds *h, const char *name)
{
	for (size_t i = 0; h && i < h->n; i++)
		if (strcmp(h->v[i].service, name) == 0)
			return &h->v[i];
	return NULL;
}

static const struct xlb_dheld *held_listen(const struct xlb_dholds *h,
					   const struct xlb_endpoint *ep)
{
	for (size_t i = 0; h && i < h->n; i++)
		if (h->v[i].has_listen && xlb_endpoint_equal(&h->v[i].listen, ep))
			return &h->v[i];
	return NULL;
}

/* The service of this build that is the holder h: same name, made of the
 * same origin. NULL when none of its containers is left. */
static const struct group *holder_of(const struct build *b, const struct xlb_dheld *h)
{
	for (size_t i = 0; i < b->n_groups; i++)
		if (strcmp(b->groups[i].name, h->service) == 0 &&
		    origin_equal(b->groups[i].origin, h->origin))
			return &b->groups[i];
	return NULL;
}

/* ---- which containers make a service ----------------------------------------- */

/* The origin a service's containers must have: the one it held while a
 * container of it is left (a newer look-alike does not take the service
 * over), else its oldest container's. */
static const char *run_origin(const struct build *b, const struct xlb_dcontainer *const *cs,
			      size_t n)
{
	const struct xlb_dheld *h = held_service(b->o->held, cs[0]->service);

	for (size_t i = 0; h && i < n; i++)
		if (origin_equal(cs[i]->origin, h->origin))
			return cs[i]->origin;
	return cs[0]->origin;
}

/* cs[i] is one of the service's containers when it has the service's
 * origin, or shares a network with an older one of them: labels alone
 * (copied from `docker inspect`) do not make a replica. */
static bool run_member(const struct xlb_dcontainer *const *cs, const bool *member, size_t i,
		       const char *origin)
{
	if (origin_equal(cs[i]->origin, origin))
		return true;
	for (size_t j = 0; j < i; j++)
		if (member[j] && share_network(cs[i], cs[j]))
			return true;
	return false;
}

static struct group *group_new(struct build *b, const char *name, const char *origin, bool split)
{
	struct group *g = &b->groups[b->n_groups++];

	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->cs = b->slots + b->n_slots;
	g->origin = origin;
	g->split = split;
	return g;
}

static void group_push(struct build *b, struct group *g, const struct xlb_dcontainer *c)
{
	b->slots[b->n_slots++] = c;
	g->n++;
}

/* A refused container's own service, "SERVICE.CONTAINER", unless that is
 * too long or another service's name. */
static bool split_name(const struct build *b, const struct xlb_dcontainer *c,
		       char name[XLB_NAME_LEN])
{
	int len = snprintf(name, XLB_NAME_LEN, "%s.%s", c->service, c->name);

	if (len < 0 || len >= XLB_NAME_LEN || !xlb_valid_service_name(name))
		return false;
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->sorted[i]->service, name) == 0)
			return false;
	for (size_t i = 0; i < b->n_groups; i++)
		if (strcmp(b->groups[i].name, name) == 0)
			return false;
	return true;
}

static void split_off(struct build *b, const struct xlb_dcontainer *c)
{
	char name[XLB_NAME_LEN];
	bool named = split_name(b, c, name);

	warnf(b->warn, b->arg,
	      "service %s: container %s is not one of its containers (its compose project, "
	      "working_dir or config_files differ, and it shares no network with them); %s%s%s",
	      c->service, c->name, named ? "served as service " : "not balanced: no free name",
	      named ? name : "", named ? "" : " for a service of its own");
	if (named)
		group_push(b, group_new(b, name, c->origin, true), c);
}

/* The containers of one compose service (or name), cs[0..n) of sorted. */
static void run_groups(struct build *b, size_t first, size_t n)
{
	const struct xlb_dcontainer *const *cs = b->sorted + first;
	const char *origin = run_origin(b, cs, n);
	bool *member = b->member + first;
	struct group *g;

	for (size_t i = 0; i < n; i++)
		member[i] = run_member(cs, member, i, origin);
	g = group_new(b, cs[0]->service, origin, false);
	for (size_t i = 0; i < n; i++)
		if (member[i])
			group_push(b, g, cs[i]);
	for (size_t i = 0; i < n; i++)
		if (!member[i])
			split_off(b, cs[i]);
}

static void groups_form(struct build *b)
{
	for (size_t i = 0, j; i < b->n; i = j) {
		for (j = i + 1;
		     j < b->n && strcmp(b->sorted[j]->service, b->sorted[i]->service) == 0; j++)
			;
		run_groups(b, i, j - i);
	}
	qsort(b->groups, b->n_groups, sizeof(*b->groups), by_claim_order);
}

/* ---- names ------------------------------------------------------------------- */

/* The backend address in the family of the service's listener, or IPv4
 * first for host-routed services (the proxy connects to either). */
static bool backend_of(const struct xlb_dcontainer *c, uint8_t family, struct xlb_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->port = c->port;
	if ((family == AF_INET || !family) && c->has_addr4) {
		ep->family = AF_INET;
		ep->addr = c->addr4;
		return true;
	}
	if ((family == AF_INET6 || !family) && c->has_addr6) {
		ep->family = AF_INET6;
		ep->addr = c->addr6;
		return true;
	}
	return false;
}

static const struct xlb_cfg_service *listen_claimed(const struct xlb_config *cfg,
						    const struct xlb_endpoint *ep)
{
	for (size_t i = 0; i < cfg->n_services; i++)
		if (cfg->services[i].has_listen && xlb_endpoint_equal(&cfg->services[i].listen, ep))
			return &cfg->services[i];
	return NULL;
}

/* Multicast, broadcast and unspecified addresses: no label publishes a
 * listener there, whatever the operator allows. */
static bool listen_addr_forbidden(const struct xlb_endpoint *ep)
{
	static const uint8_t zero[16];
	uint32_t a = ntohl(ep->addr.v4);

	if (ep->family == AF_INET)
		return a == 0 || a == 0xffffffffu || (a >> 28) == 0xe;
	return memcmp(ep->addr.v6, zero, 16) == 0 || ((const uint8_t *)ep->addr.v6)[0] == 0xff;
}

static bool is_vip(const struct xlb_dmodel_opts *o, const struct xlb_endpoint *ep)
{
	if (!o->vip || ep->family != o->vip->family)
		return false;
	return ep->family == AF_INET ? ep->addr.v4 == o->vip->addr.v4
				     : memcmp(ep->addr.v6, o->vip->addr.v6, 16) == 0;
}

/* The listener a container's xlb.listen asks for, on the VIP when it names
 * only a port: -EDESTADDRREQ without a VIP, -EADDRNOTAVAIL for multicast,
 * broadcast or unspecified, and where the operator does not allow it
 * -EACCES (not in --docker-listen-allow; without that list, not the VIP)
 * or -ERANGE (the VIP, below the minimum port). */
static int listen_resolve(const struct xlb_dcontainer *c, const struct xlb_dmodel_opts *o,
			  struct xlb_endpoint *ep)
{
	*ep = c->listen;
	if (!ep->family && o->vip) {
		ep->addr = o->vip->addr;
		ep->family = o->vip->family;
	}
	if (!ep->family)
		return -EDESTADDRREQ;
	if (listen_addr_forbidden(ep))
		return -EADDRNOTAVAIL;
	if (o->n_allow)
		return xlb_listen_rules_allow(o->allow, o->n_allow, ep) ? 0 : -EACCES;
	if (!is_vip(o, ep))
		return -EACCES;
	return ep->port < o->min_listen_port ? -ERANGE : 0;
}

static bool group_claims_listen(const struct build *b, const struct group *g,
				const struct xlb_endpoint *ep)
{
	struct xlb_endpoint mine;

	return g && g->cs[0]->has_listen && listen_resolve(g->cs[0], b->o, &mine) == 0 &&
	       xlb_endpoint_equal(&mine, ep);
}

/* Which service keeps a route that service svc (the idx-th of the
 * model) claims: the one that held it, while it has containers and claims
 * it still; else the one that got it earlier in this build. NULL: svc may
 * have it. Whatever the protocol: a route is one service's (as in the
 * config file and in xlbd's state, whose pinned key has no room for it). */
static const char *route_kept_by(const struct build *b, const struct xlb_cfg_service *svc, long idx,
				 const char *host, const char *path)
{
	const struct xlb_route_rec *r = xlb_route_index_find(&b->routes, host, path);
	const struct xlb_dheld *h = r && r->held >= 0 ? &b->o->held->v[r->held] : NULL;
	const struct group *g = h && strcmp(h->service, svc->name) ? b->held_by[r->held] : NULL;

	if (g && xlb_route_rec_claims(r, (uint32_t)(g - b->groups)))
		return g->name;
	return r && r->owner >= 0 && r->owner != idx ? b->out->cfg.services[r->owner].name : NULL;
}

static const char *listen_kept_by(const struct build *b, const char *svc,
				  const struct xlb_endpoint *ep)
{
	const struct xlb_dheld *h = held_listen(b->o->held, ep);
	const struct group *g = h && strcmp(h->service, svc) ? holder_of(b, h) : NULL;
	const struct xlb_cfg_service *s;

	if (group_claims_listen(b, g, ep))
		return g->name;
	s = listen_claimed(&b->out->cfg, ep);
	return s ? s->name : NULL;
}

/* The route goes to s, the idx-th service, once. */
static int svc_route_add(const struct build *b, struct xlb_cfg_service *s, long idx,
			 const char *host, const struct xlb_cfg_path *p)
{
	struct xlb_route_rec *r = xlb_route_index_find(&b->routes, host, p->prefix);

	if (r && r->owner == idx)
		return 0;
	if (r)
		r->owner = idx;
	return xlb_cfg_route_append(&s->hosts, &s->paths, &s->n_hosts, host, p->prefix, p->scheme);
}

static int svc_backend_add(struct xlb_cfg_service *s, const struct xlb_endpoint *ep,
			   uint32_t weight, bool draining)
{
	struct xlb_cfg_backend *more = realloc(s->backends, (s->n_backends + 1) * sizeof(*more));

	if (!more)
		return -ENOMEM;
	s->backends = more;
	more[s->n_backends++] =
		(struct xlb_cfg_backend){ .ep = *ep, .weight = weight, .draining = draining };
	return 0;
}

static int check_add(struct xlb_dmodel *m, const char *svc, const struct xlb_endpoint *ep,
		     const struct xlb_hc_spec *spec)
{
	struct xlb_dhealth *more = realloc(m->checks, (m->n_checks + 1) * sizeof(*more));

	if (!more)
		return -ENOMEM;
	m->checks = more;
	memset(&more[m->n_checks], 0, sizeof(more[0]));
	snprintf(more[m->n_checks].service, XLB_NAME_LEN, "%s", svc);
	more[m->n_checks].ep = *ep;
	more[m->n_checks].spec = *spec;
	m->n_checks++;
	return 0;
}

/* Whether a socket of the host already takes the listener's traffic,
 * which publishing it would steal (said, with the socket's owner). */
static bool host_takes(const struct build *b, const struct xlb_cfg_service *s,
		       const struct xlb_dcontainer *c)
{
	char owner[96], buf[XLB_EP_STRLEN];

	if (!b->o->port_owner ||
	    b->o->port_owner(&s->listen, s->listen.proto, owner, sizeof(owner)) != 1)
		return false;
	warnf(b->warn, b->arg,
	      "service %s: label xlb.listen on container %s: %s is taken on the host by %s; "
	      "not published",
	      s->name, c->name, xlb_format_endpoint(&s->listen, buf, sizeof(buf)), owner);
	return true;
}

/* The service's listener, from its oldest container, unless the operator
 * does not allow it, a socket of the host has it, or another service
 * keeps it. */
static void service_listen(const struct build *b, const struct group *g, struct xlb_cfg_service *s)
{
	const struct xlb_dcontainer *first = g->cs[0];
	const char *other;
	char buf[XLB_EP_STRLEN];
	int err;

	if (!first->has_listen)
		return;
	err = listen_resolve(first, b->o, &s->listen);
	if (err == -EDESTADDRREQ)
		warnf(b->warn, b->arg,
		      "service %s: label xlb.listen on container %s needs a VIP: start "
		      "xlbd with --vip or --iface",
		      s->name, first->name);
	else if (err == -EADDRNOTAVAIL)
		warnf(b->warn, b->arg,
		      "service %s: label xlb.listen on container %s: %s is a multicast, broadcast "
		      "or unspecified address; not published",
		      s->name, first->name, xlb_format_endpoint(&s->listen, buf, sizeof(buf)));
	else if (err == -EACCES && b->o->n_allow)
		warnf(b->warn, b->arg,
		      "service %s: label xlb.listen on container %s: %s is not in "
		      "--docker-listen-allow; not published",
		      s->name, first->name, xlb_format_endpoint(&s->listen, buf, sizeof(buf)));
	else if (err == -EACCES)
		warnf(b->warn, b->arg,
		      "service %s: label xlb.listen on container %s: %s is not the VIP (see "
		      "--docker-listen-allow); not published",
		      s->name, first->name, xlb_format_endpoint(&s->listen, buf, sizeof(buf)));
	else if (err == -ERANGE)
		warnf(b->warn, b->arg,
		      "service %s: label xlb.listen on container %s: port %u is below "
		      "--docker-min-listen-port %u; not published",
		      s->name, first->name, s->listen.port, b->o->min_listen_port);
	else if (host_takes(b, s, first))
		return;
	else if ((other = listen_kept_by(b, s->name, &s->listen)))
		warnf(b->warn, b->arg,
		      "service %s: listen %s is held by service %s; not published for container %s",
		      s->name, xlb_format_endpoint(&s->listen, buf, sizeof(buf)), other,
		      first->name);
	else
		s->has_listen = true;
}

/* nginx-proxy's rule: an http route of a container with cert_https is
 * https when a certificate file serves its host (or CERT_NAME's file is
 * in service). */
static bool https_by_cert(const struct build *b, const struct xlb_dcontainer *c, size_t h)
{
	const struct xlb_dmodel_opts *o = b->o;

	return c->cert_https && c->paths[h].scheme == XLB_SCHEME_HTTP && o->has_cert &&
	       o->has_cert(o->cert_arg, c->hosts[h], c->cert_name[0] ? c->cert_name : NULL);
}

/* The routes of all its containers that no other service keeps;
 * *by_cert: one of them is https by https_by_cert. */
static int service_routes(const struct build *b, const struct group *g, struct xlb_cfg_service *s,
			  bool *by_cert)
{
	long idx = (long)(s - b->out->cfg.services);

	for (size_t i = 0; i < g->n; i++) {
		const struct xlb_dcontainer *c = g->cs[i];

		if (c->tls != s->tls)
			warnf(b->warn, b->arg,
			      "service %s: container %s has xlb.proto=%s but the service is %s "
			      "(from container %s)",
			      s->name, c->name, c->tls ? "tls" : "http", s->tls ? "tls" : "http",
			      g->cs[0]->name);
		for (size_t h = 0; h < c->n_hosts; h++) {
			const char *path = c->paths[h].prefix;
			const char *other = route_kept_by(b, s, idx, c->hosts[h], path);

			if (other) {
				warnf(b->warn, b->arg,
				      "service %s: %s %s%s is held by service %s; not routed to "
				      "container %s",
				      s->name, strcmp(path, "/") ? "route" : "host", c->hosts[h],
				      strcmp(path, "/") ? path : "", other, c->name);
				continue;
			}
			struct xlb_cfg_path p = c->paths[h];

			if (https_by_cert(b, c, h)) {
				p.scheme = XLB_SCHEME_HTTPS;
				*by_cert = true;
			}
			if (svc_route_add(b, s, idx, c->hosts[h], &p))
				return -ENOMEM;
		}
	}
	return 0;
}

/* nginx-proxy's default for routes https by a certificate file: the
 * redirect, with its HSTS unless the container has HSTS of its own. */
static void cert_redirect_apply(const struct xlb_dcontainer *first, struct xlb_cfg_service *s)
{
	s->https_redirect = true;
	if (s->hsts_set || first->hsts_off)
		return;
	s->hsts_set = true;
	s->hsts_secs = NGINX_PROXY_HSTS_SECS;
	s->hsts_flags = 0;
}

/* The service's shape from its oldest container; names merged from all. */
static int service_shape(const struct build *b, const struct group *g, struct xlb_cfg_service *s)
{
	const struct xlb_dcontainer *first = g->cs[0];
	bool by_cert = false;
	int err;

	snprintf(s->name, sizeof(s->name), "%s", g->name);
	s->tls = first->tls;
	s->strip_path = first->strip_path;
	s->no_forward_headers = first->no_forward_headers;
	s->backend_tls = first->backend_tls;
	s->acme = first->acme;
	s->https_redirect = first->https_redirect;
	s->https_only = first->https_only;
	s->hsts_set = first->hsts;
	s->hsts_secs = first->hsts_secs;
	s->hsts_flags = first->hsts_flags;
	service_listen(b, g, s);
	err = service_routes(b, g, s, &by_cert);
	if (!err && by_cert && first->cert_redirect)
		cert_redirect_apply(first, s);
	return err;
}

static int service_backends(struct xlb_cfg_service *s, const struct group *g, struct xlb_dmodel *m)
{
	struct xlb_endpoint ep;

	for (size_t i = 0; i < g->n; i++) {
		const struct xlb_dcontainer *c = g->cs[i];

		if (!c->running || !backend_of(c, s->has_listen ? s->listen.family : 0, &ep))
			continue;
		if (svc_backend_add(s, &ep, c->weight, !c->serving))
			return -ENOMEM;
		if (c->hc.kind != XLB_HC_NONE && check_add(m, s->name, &ep, &c->hc))
			return -ENOMEM;
	}
	return 0;
}

/* Remembers what s got, for the next build to keep it there. */
static int holds_add(struct xlb_dmodel *m, const struct xlb_cfg_service *s, const char *origin)
{
	struct xlb_dheld *more = realloc(m->holds.v, (m->holds.n + 1) * sizeof(*more)), *h;

	if (!more)
		return -ENOMEM;
	m->holds.v = more;
	h = &more[m->holds.n++]; /* counted at once: freed with the rest on failure */
	memset(h, 0, sizeof(*h));
	snprintf(h->service, sizeof(h->service), "%s", s->name);
	h->has_listen = s->has_listen;
	h->listen = s->listen;
	if (origin && !(h->origin = strdup(origin)))
		return -ENOMEM;
	for (size_t i = 0; i < s->n_hosts; i++)
		if (xlb_cfg_route_append(&h->hosts, &h->paths, &h->n_hosts, s->hosts[i],
					 xlb_cfg_route_path(s, i),
					 s->paths ? s->paths[i].scheme : XLB_SCHEME_HTTP))
			return -ENOMEM;
	return 0;
}

static int service_append(struct build *b, const struct group *g)
{
	struct xlb_dmodel *m = b->out;
	struct xlb_config *cfg = &m->cfg;
	size_t checks_before = m->n_checks;
	struct xlb_cfg_service *more, *s;
	int err;

	more = realloc(cfg->services, (cfg->n_services + 1) * sizeof(*more));
	if (!more)
		return -ENOMEM;
	cfg->services = more;
	s = &more[cfg->n_services];
	memset(s, 0, sizeof(*s));
	/* counted only once shaped: the claims look at the finished ones */
	err = service_shape(b, g, s);
	if (!err)
		err = service_backends(s, g, m);
	cfg->n_services++;
	if (!err && !s->has_listen && !s->n_hosts) {
		/* nothing left to serve it by: every name went to others */
		free(s->backends);
		cfg->n_services--;
		m->n_checks = checks_before;
		return 0;
	}
	return err ? err : holds_add(m, s, g->origin);
}

/* ---- certificates ------------------------------------------------------------ */

/* A running container and the service it is in, for the certificates. */
struct offerer {
	const struct xlb_dcontainer *c;
	const char *service;
};

static int by_service_then_name(const void *a, const void *b)
{
	const struct offerer *x = a, *y = b;
	int d = strcmp(x->service, y->service);

	return d ? d : strcmp(x->c->name, y->c->name);
}

static int cert_offer_add(struct xlb_dmodel *m, const struct offerer *f, const char *var,
			  const char *pem)
{
	struct xlb_dcert *more = realloc(m->certs, (m->n_certs + 1) * sizeof(*more));

	if (!more)
		return -ENOMEM;
	m->certs = more;
	more = &more[m->n_certs++];
	memset(more, 0, sizeof(*more));
	snprintf(more->id, sizeof(more->id), "%s", f->c->id);
	snprintf(more->container, sizeof(more->container), "%s", f->c->name);
	snprintf(more->service, sizeof(more->service), "%s", f->service);
	more->var = var;
	more->pem = pem;
	return 0;
}

static int cert_offers_of(struct xlb_dmodel *m, const struct offerer *f)
{
	int err = 0;

	if (f->c->ssl_cert)
		err = cert_offer_add(m, f, "SSL_CERT", f->c->ssl_cert);
	if (!err && f->c->default_ssl_cert)
		err = cert_offer_add(m, f, "DEFAULT_SSL_CERT", f->c->default_ssl_cert);
	return err;
}

/* A container's certificates go when it stops running, as its backend
 * does; they name the service it is in (a split-off container's own, so
 * they never serve the names of the service it tried to join). */
static int cert_offers(struct build *b)
{
	struct offerer *fs = calloc(b->n_slots + 1, sizeof(*fs));
	size_t n = 0;
	int err = 0;

	if (!fs)
		return -ENOMEM;
	for (size_t i = 0; i < b->n_groups; i++)
		for (size_t k = 0; k < b->groups[i].n; k++)
			if (b->groups[i].cs[k]->running)
				fs[n++] = (struct offerer){ b->groups[i].cs[k], b->groups[i].name };
	qsort(fs, n, sizeof(*fs), by_service_then_name);
	for (size_t i = 0; i < n && !err; i++)
		err = cert_offers_of(b->out, &fs[i]);
	free(fs);
	return err;
}

/* ---- the model --------------------------------------------------------------- */

/* The network of a container on several: the first of the options'
 * networks it is on, else the first of its own by name (warned: nothing
 * says which the user meant). */
static size_t network_choose(const struct build *b, const struct xlb_dcontainer *c)
{
	char msg[640], names[200];
	size_t first = 0, o = 0;

	for (size_t i = 0; i < b->o->n_networks; i++) {
		size_t k = network_index(c, b->o->networks[i]);

		if (k != SIZE_MAX)
			return k;
	}
	for (size_t i = 0; i < c->n_networks; i++) {
		if (strcmp(c->networks[i], c->networks[first]) < 0)
			first = i;
		if (o < sizeof(names))
			o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s", o ? ", " : "",
					      c->networks[i]);
	}
	snprintf(msg, sizeof(msg),
		 "container %.127s is on several networks (%.199s), none of them xlb's: using "
		 "%.127s, the first by name; label xlb.network or xlbd --docker-network chooses",
		 c->name, names, c->networks[first]);
	b->warn(b->arg, msg);
	return first;
}

static int networks_choose(struct build *b)
{
	size_t n_open = 0;

	for (size_t i = 0; i < b->n; i++)
		n_open += b->sorted[i]->network_open;
	if (!n_open)
		return 0;
	b->chosen = calloc(n_open, sizeof(*b->chosen));
	if (!b->chosen)
		return -ENOMEM;
	for (size_t i = 0; i < b->n; i++) {
		struct xlb_dcontainer *c = &b->chosen[b->n_chosen];

		if (!b->sorted[i]->network_open)
			continue;
		*c = *b->sorted[i]; /* shallow: the original owns what it points to */
		network_take(c, network_choose(b, c));
		b->sorted[i] = c;
		b->n_chosen++;
	}
	return 0;
}

/* A part is a container of its own to the rest of the build: its
 * service, port and routes, the rest (state, addresses, origin, networks)
 * the container's. */
static void part_view(struct xlb_dcontainer *v, const struct xlb_dcontainer *c,
		      const struct xlb_dpart *p)
{
	*v = *c; /* shallow: c owns what it points to */
	memcpy(v->service, p->service, sizeof(v->service));
	v->port = p->port;
	v->backend_tls = p->backend_tls;
	v->strip_path = p->strip_path;
	v->hosts = c->hosts + p->first;
	v->paths = c->paths + p->first;
	v->n_hosts = p->n_hosts;
	v->parts = NULL;
	v->n_parts = 0;
}

/* Puts the parts of each container with parts in its place, once its
 * network is chosen (and warned about) once for all of them. */
static int parts_expand(struct build *b)
{
	const struct xlb_dcontainer **sorted;
	size_t n_views = 0, n = 0, k = 0;

	for (size_t i = 0; i < b->n; i++)
		n_views += b->sorted[i]->n_parts;
	if (!n_views)
		return 0;
	b->views = calloc(n_views, sizeof(*b->views));
	sorted = calloc(b->n + n_views, sizeof(*sorted));
	if (!b->views || !sorted) {
		free(sorted);
		return -ENOMEM;
	}
	for (size_t i = 0; i < b->n; i++) {
		const struct xlb_dcontainer *c = b->sorted[i];

		if (!c->n_parts)
			sorted[n++] = c;
		for (size_t p = 0; p < c->n_parts; p++, k++) {
			part_view(&b->views[k], c, &c->parts[p]);
			sorted[n++] = &b->views[k];
		}
	}
	free(b->sorted);
	b->sorted = sorted;
	b->n = n;
	qsort(b->sorted, n, sizeof(*b->sorted), by_service_then_age);
	return 0;
}

static int build_alloc(struct build *b, const struct xlb_dcontainer *const *cs, size_t n)
{
	size_t room;
	int err;

	b->n = n;
	b->sorted = calloc(n ? n : 1, sizeof(*b->sorted));
	if (!b->sorted)
		return -ENOMEM;
	if (n)
		memcpy(b->sorted, cs, n * sizeof(*b->sorted));
	qsort(b->sorted, n, sizeof(*b->sorted), by_service_then_age);
	err = networks_choose(b);
	if (!err)
		err = parts_expand(b);
	if (err)
		return err;
	room = b->n ? b->n : 1;
	b->member = calloc(room, sizeof(*b->member));
	b->groups = calloc(room, sizeof(*b->groups));
	b->slots = calloc(room, sizeof(*b->slots));
	return b->member && b->groups && b->slots ? 0 : -ENOMEM;
}

/* Every route the last build's services held, and every route a
 * container claims, with who held and who claims it. */
static int routes_index(struct build *b)
{
	const struct xlb_dholds *h = b->o->held;
	size_t n_held = h ? h->n : 0, n = 0;
	int err;

	for (size_t i = 0; i < n_held; i++)
		n += h->v[i].n_hosts;
	for (size_t i = 0; i < b->n_groups; i++)
		for (size_t k = 0; k < b->groups[i].n; k++)
			n += b->groups[i].cs[k]->n_hosts;
	err = xlb_route_index_init(&b->routes, n);
	b->held_by = calloc(n_held + 1, sizeof(*b->held_by));
	if (err || !b->held_by)
		return -ENOMEM;
	for (size_t i = 0; i < n_held; i++) {
		b->held_by[i] = holder_of(b, &h->v[i]);
		for (size_t k = 0; k < h->v[i].n_hosts; k++) {
			struct xlb_route_rec *r = xlb_route_index_get(&b->routes, h->v[i].hosts[k],
								      h->v[i].paths[k].prefix);

			if (!r)
				return -ENOSPC;
			if (r->held < 0)
				r->held = (long)i;
		}
	}
	for (size_t i = 0; i < b->n_groups; i++)
		for (size_t k = 0; k < b->groups[i].n; k++) {
			const struct xlb_dcontainer *c = b->groups[i].cs[k];

			for (size_t r = 0; r < c->n_hosts; r++) {
				struct xlb_route_rec *rec = xlb_route_index_get(
					&b->routes, c->hosts[r], c->paths[r].prefix);

				if (!rec || xlb_route_rec_claim(rec, (uint32_t)i))
					return -ENOMEM;
			}
		}
	return 0;
}

static void build_free(struct build *b)
{
	xlb_route_index_free(&b->routes);
	free(b->held_by);
	free(b->chosen);
	free(b->views);
	free(b->sorted);
	free(b->member);
	free(b->groups);
	free(b->slots);
}

int xlb_dmodel_build(const struct xlb_dcontainer *const *cs, size_t n,
		     const struct xlb_dmodel_opts *o, struct xlb_dmodel *out,
		     xlb_dmodel_warn_fn warn, void *arg)
{
	struct build b = { .o = o, .out = out, .warn = warn, .arg = arg };
	int err;

	memset(out, 0, sizeof(*out));
	err = build_alloc(&b, cs, n);
	if (!err)
		groups_form(&b);
	if (!err)
		err = routes_index(&b);
	for (size_t i = 0; i < b.n_groups && !err; i++)
		err = service_append(&b, &b.groups[i]);
	if (!err)
		err = cert_offers(&b);
	build_free(&b);
	if (err)
		xlb_dmodel_free(out);
	return err;
}

void xlb_dholds_free(struct xlb_dholds *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free(h->v[i].origin);
		free(h->v[i].hosts);
		free(h->v[i].paths);
	}
	free(h->v);
	h->v = NULL;
	h->n = 0;
}

void xlb_dmodel_keep_holds(struct xlb_dmodel *m, struct xlb_dholds *into)
{
	xlb_dholds_free(into);
	*into = m->holds;
	m->holds = (struct xlb_dholds){ 0 };
}

void xlb_dmodel_free(struct xlb_dmodel *m)
{
	xlb_config_free(&m->cfg);
	free(m->checks);
	free(m->certs);
	xlb_dholds_free(&m->holds);
	memset(m, 0, sizeof(*m));
}
