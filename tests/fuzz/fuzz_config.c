// SPDX-License-Identifier: GPL-2.0
/* libFuzzer target for the config file parser (lib/config.h): each input
 * is the text of a file. Beyond the sanitizers (and LeakSanitizer, on
 * every path) it traps on a broken promise: an error is one line
 * "NAME:LINE: what" naming a line of the input, and leaves the config
 * empty; parsing twice gives the same result; an accepted config holds
 * what the parser checks (valid names, one owner per route and listener,
 * backends of the listener's family, a check that validates, ...); and an
 * accepted config written out again as a file (by the writer below, one
 * key per route, backend and option) parses to the same config. */
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/config.h"

#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

#define NAME "fuzz.ini"
/* inih's line buffer (INI_MAX_LINE): a line, its '\n' and a NUL */
#define LINE_MAX_CHARS 198

/* ---- the checks of one config ------------------------------------------------- */

static unsigned count_lines(const char *text)
{
	unsigned n = 0;

	while (*text) {
		const char *nl = strchr(text, '\n');

		n++;
		if (!nl)
			break;
		text = nl + 1;
	}
	return n;
}

static void check_error(int e, const char *err, const struct xlb_config *cfg, unsigned lines)
{
	static const struct xlb_config zero;
	unsigned line = 0;
	int at = 0;

	CHECK(e == -EINVAL || e == -ENOMEM);
	CHECK(memcmp(cfg, &zero, sizeof(zero)) == 0);
	CHECK(sscanf(err, NAME ":%u: %n", &line, &at) == 1 && at > 0);
	CHECK(line >= 1 && line <= lines);
	CHECK(err[at] != '\0' && !strchr(err, '\n'));
}

static bool lowercase(const char *s)
{
	for (; *s; s++)
		if (isupper((unsigned char)*s))
			return false;
	return true;
}

static bool normal_path(const char *p)
{
	char out[XLB_PATH_SIZE];
	const char *why;

	return xlb_path_normalize(p, strlen(p), out, &why) == 0 && strcmp(out, p) == 0;
}

/* One owner per route, over every service. */
static void check_routes(const struct xlb_config *cfg, size_t si)
{
	const struct xlb_cfg_service *s = &cfg->services[si];

	for (size_t h = 0; h < s->n_hosts; h++) {
		const char *path = xlb_cfg_route_path(s, h);

		/* a regex is kept as written; names are folded to lower case */
		CHECK(xlb_valid_host_name(s->hosts[h]) &&
		      (s->hosts[h][0] == '~' || lowercase(s->hosts[h])));
		CHECK(normal_path(path) && (!s->tls || strcmp(path, "/") == 0));
		CHECK(s->paths &&
		      s->paths[h].scheme == (s->https ? XLB_SCHEME_HTTPS : XLB_SCHEME_HTTP));
		for (size_t sj = 0; sj <= si; sj++) {
			const struct xlb_cfg_service *t = &cfg->services[sj];

			for (size_t k = 0; k < (sj == si ? h : t->n_hosts); k++)
				CHECK(strcasecmp(t->hosts[k], s->hosts[h]) != 0 ||
				      strcmp(xlb_cfg_route_path(t, k), path) != 0);
		}
	}
}

static void check_service(const struct xlb_config *cfg, size_t si)
{
	const struct xlb_cfg_service *s = &cfg->services[si];
	char why[160];

	CHECK(xlb_valid_service_name(s->name));
	for (size_t j = 0; j < si; j++) {
		CHECK(strcmp(cfg->services[j].name, s->name) != 0);
		CHECK(!s->has_listen || !cfg->services[j].has_listen ||
		      !xlb_endpoint_equal(&cfg->services[j].listen, &s->listen));
	}
	CHECK(s->has_listen || s->n_hosts > 0);
	if (s->has_listen)
		CHECK(s->listen.port &&
		      (s->listen.proto == IPPROTO_TCP || s->listen.proto == IPPROTO_UDP));
	CHECK(!(s->tls && s->https));
	CHECK(s->https || (!s->acme && !s->https_redirect && !s->hsts_set));
	CHECK(s->hsts_set || s->hsts_secs == 0);
	CHECK(!s->backend_tls || (!s->tls && s->n_hosts > 0));
	check_routes(cfg, si);
	for (size_t b = 0; b < s->n_backends; b++) {
		const struct xlb_cfg_backend *be = &s->backends[b];

		CHECK(be->ep.port && be->ep.proto == 0 && !be->draining);
		CHECK(be->weight >= 1 && be->weight <= XLB_WEIGHT_MAX);
		CHECK(!s->has_listen || be->ep.family == s->listen.family);
		for (size_t c = 0; c < b; c++)
			CHECK(!xlb_endpoint_equal(&s->backends[c].ep, &be->ep));
	}
	CHECK(xlb_hc_validate(&s->check, why, sizeof(why)) == 0);
}

/* Every TCP listener, shared or a service's, has one owner. */
static void check_tcp_listeners(const struct xlb_config *cfg)
{
	size_t n = cfg->n_http_listen + cfg->n_tls_listen + cfg->n_services, k = 0;
	struct xlb_endpoint *all = calloc(n ? n : 1, sizeof(*all));

	CHECK(all);
	for (size_t i = 0; i < cfg->n_http_listen; i++)
		all[k++] = cfg->http_listen[i];
	for (size_t i = 0; i < cfg->n_tls_listen; i++)
		all[k++] = cfg->tls_listen[i];
	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct xlb_cfg_service *s = &cfg->services[i];

		if (s->has_listen && s->listen.proto == IPPROTO_TCP) {
			all[k] = s->listen;
			all[k++].proto = 0;
		}
	}
	for (size_t i = 0; i < k; i++) {
		CHECK(all[i].port && all[i].proto == 0);
		for (size_t j = 0; j < i; j++)
			CHECK(!xlb_endpoint_equal(&all[i], &all[j]));
	}
	free(all);
}

static void check_accepted(const struct xlb_config *cfg)
{
	for (size_t i = 0; i < cfg->n_services; i++)
		check_service(cfg, i);
	check_tcp_listeners(cfg);
	CHECK(!cfg->tls_certs || cfg->tls_certs[0] == '/');
}

/* ---- equality -------------------------------------------------------------------- */

static bool eps_equal(const struct xlb_endpoint *a, const struct xlb_endpoint *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!xlb_endpoint_equal(&a[i], &b[i]))
			return false;
	return true;
}

static bool service_equal(const struct xlb_cfg_service *a, const struct xlb_cfg_service *b)
{
	if (strcmp(a->name, b->name) || a->has_listen != b->has_listen || a->tls != b->tls ||
	    a->https != b->https || a->acme != b->acme || a->https_redirect != b->https_redirect ||
	    a->hsts_secs != b->hsts_secs || a->hsts_set != b->hsts_set ||
	    a->proxy_v2 != b->proxy_v2 || a->backend_tls != b->backend_tls ||
	    a->n_hosts != b->n_hosts || a->strip_path != b->strip_path ||
	    a->no_forward_headers != b->no_forward_headers || a->n_backends != b->n_backends ||
	    !xlb_hc_spec_equal(&a->check, &b->check))
		return false;
	if (a->has_listen && !xlb_endpoint_equal(&a->listen, &b->listen))
		return false;
	for (size_t i = 0; i < a->n_hosts; i++)
		if (strcmp(a->hosts[i], b->hosts[i]) ||
		    strcmp(xlb_cfg_route_path(a, i), xlb_cfg_route_path(b, i)) ||
		    a->paths[i].scheme != b->paths[i].scheme)
			return false;
	for (size_t i = 0; i < a->n_backends; i++)
		if (!xlb_endpoint_equal(&a->backends[i].ep, &b->backends[i].ep) ||
		    a->backends[i].weight != b->backends[i].weight ||
		    a->backends[i].draining != b->backends[i].draining)
			return false;
	return true;
}

static bool config_equal(const struct xlb_config *a, const struct xlb_config *b)
{
	if (a->n_services != b->n_services || a->n_http_listen != b->n_http_listen ||
	    a->n_tls_listen != b->n_tls_listen || a->n_trusted != b->n_trusted ||
	    !a->tls_certs != !b->tls_certs || (a->tls_certs && strcmp(a->tls_certs, b->tls_certs)))
		return false;
	if (!eps_equal(a->http_listen, b->http_listen, a->n_http_listen) ||
	    !eps_equal(a->tls_listen, b->tls_listen, a->n_tls_listen))
		return false;
	for (size_t i = 0; i < a->n_trusted; i++)
		if (memcmp(&a->trusted[i], &b->trusted[i], sizeof(a->trusted[i])))
			return false;
	for (size_t i = 0; i < a->n_services; i++)
		if (!service_equal(&a->services[i], &b->services[i]))
			return false;
	return true;
}

/* ---- the writer --------------------------------------------------------------------- */

struct out {
	char *text;
	size_t len, cap;
	bool too_long; /* a line inih would not take: no round trip */
};

__attribute__((format(printf, 2, 3))) static void line(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	CHECK(n >= 0);
	if (n > LINE_MAX_CHARS)
		o->too_long = true;
	if (o->len + (size_t)n + 2 > o->cap) {
		o->cap = (o->len + (size_t)n + 2) * 2;
		o->text = realloc(o->text, o->cap);
		CHECK(o->text);
	}
	va_start(ap, fmt);
	vsnprintf(o->text + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	o->len += (size_t)n;
	o->text[o->len++] = '\n';
	o->text[o->len] = '\0';
}

static void write_check(struct out *o, const struct xlb_hc_spec *c)
{
	if (c->kind == XLB_HC_NONE)
		return;
	if (c->kind == XLB_HC_TCP)
		line(o, "check = tcp");
	else
		line(o, "check = http:%s", c->path);
	line(o, "check_interval = %ums", c->interval_ms);
	line(o, "check_timeout = %ums", c->timeout_ms);
	line(o, "check_rise = %u", c->rise);
	line(o, "check_fall = %u", c->fall);
}

static void write_service(struct out *o, const struct xlb_cfg_service *s)
{
	char ep[XLB_EP_STRLEN];

	line(o, "[service %s]", s->name);
	if (s->has_listen)
		line(o, "listen = %s", xlb_format_endpoint(&s->listen, ep, sizeof(ep)));
	line(o, "proto = %s", s->tls ? "tls" : s->https ? "https" : "http");
	for (size_t i = 0; i < s->n_hosts; i++) {
		const char *path = xlb_cfg_route_path(s, i);

		line(o, "host = %s%s", s->hosts[i], strcmp(path, "/") ? path : "");
	}
	line(o, "strip_path = %s", s->strip_path ? "yes" : "no");
	line(o, "forward_headers = %s", s->no_forward_headers ? "no" : "yes");
	if (s->acme)
		line(o, "acme = yes");
	if (s->https_redirect)
		line(o, "https_redirect = yes");
	if (s->hsts_set)
		line(o, "hsts = %u", s->hsts_secs);
	if (s->proxy_v2)
		line(o, "proxy_protocol = v2");
	line(o, "backend_tls = %s", s->backend_tls ? "yes" : "no");
	for (size_t i = 0; i < s->n_backends; i++)
		line(o, "backend = %s weight=%u",
		     xlb_format_endpoint(&s->backends[i].ep, ep, sizeof(ep)),
		     s->backends[i].weight);
	write_check(o, &s->check);
}

static void write_config(struct out *o, const struct xlb_config *cfg)
{
	char ep[XLB_EP_STRLEN], a[64];

	line(o, "; written back by fuzz_config");
	line(o, "[http]");
	for (size_t i = 0; i < cfg->n_http_listen; i++)
		line(o, "listen = %s", xlb_format_endpoint(&cfg->http_listen[i], ep, sizeof(ep)));
	for (size_t i = 0; i < cfg->n_trusted; i++)
		line(o, "trusted_proxies = %s/%u",
		     xlb_format_addr(cfg->trusted[i].family, &cfg->trusted[i].addr, a, sizeof(a)),
		     cfg->trusted[i].prefix);
	line(o, "[tls]");
	for (size_t i = 0; i < cfg->n_tls_listen; i++)
		line(o, "listen = %s", xlb_format_endpoint(&cfg->tls_listen[i], ep, sizeof(ep)));
	if (cfg->tls_certs)
		line(o, "certs = %s", cfg->tls_certs);
	for (size_t i = 0; i < cfg->n_services; i++)
		write_service(o, &cfg->services[i]);
}

static void check_round_trip(const struct xlb_config *cfg)
{
	struct out o = { 0 };
	struct xlb_config again;
	char err[512] = "";

	write_config(&o, cfg);
	if (!o.too_long) {
		CHECK(xlb_config_parse_string(o.text, NAME, &again, err, sizeof(err)) == 0);
		CHECK(config_equal(cfg, &again));
		xlb_config_free(&again);
	}
	free(o.text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *text = malloc(len + 1), err[512] = "", err2[512] = "";
	struct xlb_config cfg, cfg2;
	int e, e2;

	CHECK(text);
	memcpy(text, data, len);
	text[len] = '\0';
	e = xlb_config_parse_string(text, NAME, &cfg, err, sizeof(err));
	e2 = xlb_config_parse_string(text, NAME, &cfg2, err2, sizeof(err2));
	CHECK(e == e2 && strcmp(err, err2) == 0);
	if (e) {
		check_error(e, err, &cfg, count_lines(text));
	} else {
		CHECK(err[0] == '\0');
		CHECK(config_equal(&cfg, &cfg2));
		check_accepted(&cfg);
		check_round_trip(&cfg);
		xlb_config_free(&cfg);
		xlb_config_free(&cfg2);
	}
	free(text);
	return 0;
}
