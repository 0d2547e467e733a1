// SPDX-License-Identifier: GPL-2.0
/* The control protocol's requests: one line parsed into words and run
 * against the state. Apart from the socket (control.c), so that a fuzzer
 * can take it without the event loop. */
#include "control_requests.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

#define CTL_MAX_WORDS 24

/* ---- request parsing ------------------------------------------------------ */

struct request {
	char buf[XLB_CONTROL_LINE_MAX];
	char *w[CTL_MAX_WORDS];
	int n;
};

static int bad(struct xlb_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(struct xlb_err *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int split_words(const char *line, struct request *r, struct xlb_err *err)
{
	char *save = NULL, *tok;

	if (strlen(line) >= sizeof(r->buf))
		return bad(err, "request too long");
	snprintf(r->buf, sizeof(r->buf), "%s", line);
	r->n = 0;
	for (tok = strtok_r(r->buf, " \t\r\n", &save); tok;
	     tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (r->n == CTL_MAX_WORDS)
			return bad(err, "too many words");
		r->w[r->n++] = tok;
	}
	if (r->n == 0)
		return bad(err, "empty request");
	return 0;
}

static int parse_ep(const char *s, enum xlb_ep_want want, struct xlb_endpoint *ep,
		    struct xlb_err *err)
{
	const char *why = "invalid";

	if (xlb_parse_endpoint(s, want, ep, &why)) {
		snprintf(err->msg, sizeof(err->msg), "bad address '%s': %s", s, why);
		return -EINVAL;
	}
	return 0;
}

static int parse_weight(const char *s, uint32_t *weight, struct xlb_err *err)
{
	char *end;
	unsigned long v;

	if (strncmp(s, "weight=", 7) != 0)
		return bad(err, "unknown option '%s'", s);
	errno = 0;
	v = strtoul(s + 7, &end, 10);
	if (errno || *end || end == s + 7 || v < 1 || v > XLB_WEIGHT_MAX)
		return bad(err, "bad weight '%s' (1..65535)", s + 7);
	*weight = (uint32_t)v;
	return 0;
}

#define CTL_MAX_HOSTS (CTL_MAX_WORDS - 3)

/* host=H[/P] and path=P words make routes as the config's host and path
 * keys do: a path= applies to the hosts given without one. */
struct svc_words {
	struct xlb_endpoint listen;
	bool has_listen;
	char hosts[CTL_MAX_HOSTS][XLB_HOST_LEN];
	char own_path[CTL_MAX_HOSTS][XLB_PATH_SIZE]; /* "" when none */
	size_t n_hosts;
	char paths[CTL_MAX_HOSTS][XLB_PATH_SIZE];
	size_t n_paths;
	bool tls;
	bool https; /* proto=https: the routes' TLS is terminated here */
	bool strip_path;
	bool backend_tls;
	/* the routes: hosts x paths */
	char route_hosts[CTL_MAX_HOSTS * CTL_MAX_HOSTS][XLB_HOST_LEN];
	struct xlb_cfg_path route_paths[CTL_MAX_HOSTS * CTL_MAX_HOSTS];
	size_t n_routes;
};

static int parse_path_word(const char *v, struct svc_words *sw, struct xlb_err *err)
{
	const char *why;

	if (xlb_path_normalize(v, strlen(v), sw->paths[sw->n_paths], &why))
		return bad(err, "bad path '%s': %s", v, why);
	sw->n_paths++;
	return 0;
}

static void add_route(struct svc_words *sw, size_t h, const char *path)
{
	memcpy(sw->route_hosts[sw->n_routes], sw->hosts[h], XLB_HOST_LEN);
	sw->route_paths[sw->n_routes].scheme = sw->https ? XLB_SCHEME_HTTPS : XLB_SCHEME_HTTP;
	snprintf(sw->route_paths[sw->n_routes++].prefix, XLB_PATH_SIZE, "%s", path);
}

static void expand_routes(struct svc_words *sw)
{
	for (size_t h = 0; h < sw->n_hosts; h++) {
		if (sw->own_path[h][0])
			add_route(sw, h, sw->own_path[h]);
		else if (!sw->n_paths)
			add_route(sw, h, "/");
		for (size_t p = 0; !sw->own_path[h][0] && p < sw->n_paths; p++)
			add_route(sw, h, sw->paths[p]);
	}
}

static int parse_svc_word(const char *w, struct svc_words *sw, struct xlb_err *err)
{
	if (strncmp(w, "listen=", 7) == 0) {
		if (sw->has_listen)
			return bad(err, "listen given twice");
		sw->has_listen = true;
		return parse_ep(w + 7, XLB_EP_PROTO, &sw->listen, err);
	}
	if (strncmp(w, "host=", 5) == 0) {
		char why[320];

		if (xlb_split_route(w + 5, strlen(w + 5), sw->hosts[sw->n_hosts],
				    sw->own_path[sw->n_hosts], why, sizeof(why)))
			return bad(err, "%s", why);
		sw->n_hosts++;
		return 0;
	}
	if (strncmp(w, "path=", 5) == 0)
		return parse_path_word(w + 5, sw, err);
	if (strcmp(w, "strip_path=yes") == 0 || strcmp(w, "strip_path=no") == 0) {
		sw->strip_path = strcmp(w, "strip_path=yes") == 0;
		return 0;
	}
	if (strcmp(w, "backend_tls=yes") == 0 || strcmp(w, "backend_tls=no") == 0) {
		sw->backend_tls = strcmp(w, "backend_tls=yes") == 0;
		return 0;
	}
	if (strcmp(w, "proto=tls") == 0 || strcmp(w, "proto=http") == 0 ||
	    strcmp(w, "proto=https") == 0) {
		sw->tls = strcmp(w, "proto=tls") == 0;
		sw->https = strcmp(w, "proto=https") == 0;
		return 0;
	}
	return bad(err, "unknown service option '%s'", w);
}

static int exec_service_add(struct xlb_state *st, struct request *r, struct xlb_err *err)
{
	struct svc_words *sw = calloc(1, sizeof(*sw));
	struct xlb_svc_spec spec;
	int e = sw ? 0 : bad(err, "out of memory");

	for (int i = 3; !e && i < r->n; i++)
		e = parse_svc_word(r->w[i], sw, err);
	if (!e && sw->n_paths && !sw->n_hosts)
		e = bad(err, "path without a host");
	if (e) {
		free(sw);
		return e;
	}
	expand_routes(sw);
	spec = (struct xlb_svc_spec){
		.name = r->w[2],
		.listen = sw->has_listen ? &sw->listen : NULL,
		.hosts = (const char(*)[XLB_HOST_LEN])sw->route_hosts,
		.paths = sw->route_paths,
		.n_hosts = sw->n_routes,
		.tls = sw->tls,
		.strip_path = sw->strip_path,
		.backend_tls = sw->backend_tls,
	};
	e = xlb_state_service_add(st, &spec, true, err);
	free(sw);
	return e;
}

static int exec_service(struct xlb_state *st, struct request *r, struct xlb_err *err)
{
	if (r->n >= 4 && strcmp(r->w[1], "add") == 0)
		return exec_service_add(st, r, err);
	if (r->n == 3 && strcmp(r->w[1], "del") == 0)
		return xlb_state_service_del(st, r->w[2], err);
	return bad(err, "usage: service add NAME [listen=ADDR:PORT/PROTO] [host=NAME]... "
			"[proto=http|https|tls] | service del NAME");
}

static int exec_backend(struct xlb_state *st, struct request *r, struct xlb_err *err)
{
	struct xlb_endpoint ep;
	uint32_t weight = 1;
	int e;

	if (r->n < 4)
		return bad(err, "usage: backend add|drain|del SERVICE ADDR:PORT [weight=N]");
	e = parse_ep(r->w[3], XLB_EP_NO_PROTO, &ep, err);
	if (e)
		return e;
	if (strcmp(r->w[1], "add") == 0) {
		if (r->n > 5 || (r->n == 5 && (e = parse_weight(r->w[4], &weight, err))))
			return e ? e : bad(err, "too many arguments");
		return xlb_state_backend_add(st, r->w[2], &ep, weight, true, err);
	}
	if (r->n != 4)
		return bad(err, "too many arguments");
	if (strcmp(r->w[1], "drain") == 0)
		return xlb_state_backend_drain(st, r->w[2], &ep, err);
	if (strcmp(r->w[1], "del") == 0)
		return xlb_state_backend_del(st, r->w[2], &ep, err);
	return bad(err, "unknown backend command '%s'", r->w[1]);
}

int xlb_control_exec(struct xlb_state *st, const char *line, bool *changed, struct xlb_err *err)
{
	struct request r;
	int e;

	*changed = false;
	e = split_words(line, &r, err);
	if (e)
		return e;
	if (strcmp(r.w[0], "ping") == 0 && r.n == 1)
		return 0;
	if (strcmp(r.w[0], "service") == 0 && r.n >= 2)
		e = exec_service(st, &r, err);
	else if (strcmp(r.w[0], "backend") == 0 && r.n >= 2)
		e = exec_backend(st, &r, err);
	else
		return bad(err, "unknown request '%s'", r.w[0]);
	*changed = e == 0;
	return e;
}

/* "takeover drain_ms=N": the caller answers on the socket itself. */
int xlb_control_parse_takeover(const char *line, uint32_t *drain_ms, struct xlb_err *err)
{
	struct request r;
	char *end;
	unsigned long v;
	int e = split_words(line, &r, err);

	if (e)
		return e;
	if (strcmp(r.w[0], "takeover") != 0)
		return -ENOENT;
	if (r.n != 2 || strncmp(r.w[1], "drain_ms=", 9) != 0)
		return bad(err, "usage: takeover drain_ms=N");
	errno = 0;
	v = strtoul(r.w[1] + 9, &end, 10);
	if (errno || *end || end == r.w[1] + 9 || v > UINT32_MAX)
		return bad(err, "bad drain_ms '%s'", r.w[1] + 9);
	*drain_ms = (uint32_t)v;
	return 0;
}
