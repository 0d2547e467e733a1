/* SPDX-License-Identifier: GPL-2.0 */
/* xlbd's model of services and backends, and its mirror in the BPF maps.
 * Every change goes through here: the model is updated, then the affected
 * service is written to the maps (backends, a fresh Maglev table swapped
 * in whole, metadata), and flows of removed backends are pruned. */
#ifndef XLB_STATE_H
#define XLB_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/config.h"

struct xlb_state;

/* Who made a service or backend; each origin reconciles only its own. */
enum xlb_origin {
	XLB_ORIGIN_CONFIG = 0,	/* the config file */
	XLB_ORIGIN_RUNTIME = 1, /* xlbctl, through the control socket */
	XLB_ORIGIN_DOCKER = 2,	/* Docker discovery */
};

struct xlb_state_maps {
	int hosts;
	int services;
	int svc_info;
	int backends;
	int maglev;
	int flows;
	int rnat_eps;
};

/* A changing call writes a one-line reason into err on failure. */
struct xlb_err {
	char msg[256];
};

int xlb_state_new(const struct xlb_state_maps *maps, struct xlb_state **out);
void xlb_state_free(struct xlb_state *st);

/* Rebuilds the model from the pinned maps (after an xlbd restart). */
int xlb_state_adopt(struct xlb_state *st);
/* Makes the config's services and backends exist, and removes the ones a
 * previous config made that this one no longer has. Services and backends
 * added at runtime (xlbctl) are kept. */
int xlb_state_apply_config(struct xlb_state *st, const struct xlb_config *cfg, struct xlb_err *err);

/* What makes a service: an L4 listener, routes for the proxy, or both. A
 * route is a host name and a path prefix (hosts[i] with paths[i]); two
 * services cannot have the same route, but may share a host with
 * different paths. */
struct xlb_svc_spec {
	const char *name;
	const struct xlb_endpoint *listen; /* NULL: no L4 VIP */
	const char (*hosts)[XLB_HOST_LEN];
	const struct xlb_cfg_path *paths; /* parallel to hosts; NULL: all "/" */
	size_t n_hosts;
	bool tls;		 /* hosts are routed by SNI (paths must be "/") */
	bool proxy_v2;		 /* send a PROXY v2 header */
	bool strip_path;	 /* forward without the matched prefix */
	bool backend_tls;	 /* the proxy connects to the backends with TLS */
	bool no_forward_headers; /* the proxy adds no X-Forwarded-* / X-Real-IP */
	bool acme;		 /* xlbd gets certificates for its https hosts */
	bool https_redirect;	 /* its https routes answer plain HTTP with a 308 */
	bool https_only;	 /* ... or with a 404 (no plain HTTP site) */
	bool hsts;		 /* its answers over HTTPS carry HSTS ... */
	uint32_t hsts_secs;	 /* ... with this max-age */
	uint8_t hsts_flags;	 /* ... and these directives (XLB_HSTS_*) */
};

int xlb_state_service_add(struct xlb_state *st, const struct xlb_svc_spec *spec, bool runtime,
			  struct xlb_err *err);
int xlb_state_service_del(struct xlb_state *st, const char *name, struct xlb_err *err);
int xlb_state_backend_add(struct xlb_state *st, const char *svc, const struct xlb_endpoint *ep,
			  uint32_t weight, bool runtime, struct xlb_err *err);
int xlb_state_backend_drain(struct xlb_state *st, const char *svc, const struct xlb_endpoint *ep,
			    struct xlb_err *err);
int xlb_state_backend_del(struct xlb_state *st, const char *svc, const struct xlb_endpoint *ep,
			  struct xlb_err *err);

/* Makes Docker's view the truth for Docker-made services and backends:
 * adds, updates and removes them. A conflict with a service that is not
 * Docker's (same name, a host name or listener it already has) loses: the
 * Docker service is skipped or loses that host or listener, reported
 * through warn (one line each). Returns 0 or -EIO when the maps failed. */
typedef void (*xlb_state_warn_fn)(void *arg, const char *msg);
int xlb_state_apply_docker(struct xlb_state *st, const struct xlb_config *want,
			   xlb_state_warn_fn warn, void *arg);

/* A health check's verdict: a down backend leaves the Maglev table (its
 * flows continue, as when drained) until it is up again. */
int xlb_state_backend_set_health(struct xlb_state *st, const char *svc,
				 const struct xlb_endpoint *ep, bool up);

/* Called with a backend's id when it leaves its service for good, so the
 * proxy can end the connections it carries. */
typedef void (*xlb_state_be_gone_fn)(void *arg, uint32_t be_id);
void xlb_state_on_backend_gone(struct xlb_state *st, xlb_state_be_gone_fn fn, void *arg);
/* Called for a new backend of an L4 service before it is published, so
 * that its link's return path is in place before its first SYN-ACK. */
typedef void (*xlb_state_be_new_fn)(const struct xlb_endpoint *ep, void *arg);
void xlb_state_on_backend_new(struct xlb_state *st, xlb_state_be_new_fn fn, void *arg);

/* Asked for every new backend: false keeps it out of the table (down)
 * until xlb_state_backend_set_health() says it is up. */
typedef bool (*xlb_state_health_fn)(void *arg, const char *svc, const struct xlb_endpoint *ep);
void xlb_state_health_probe(struct xlb_state *st, xlb_state_health_fn fn, void *arg);

/* Calls fn for every backend address of every service. */
void xlb_state_for_each_backend(const struct xlb_state *st,
				void (*fn)(const struct xlb_endpoint *ep, void *arg), void *arg);

size_t xlb_state_service_count(const struct xlb_state *st);

/* The proxy's choice for one client connection or request. */
struct xlb_route {
	uint32_t svc_id;
	uint32_t be_id;
	struct xlb_endpoint backend;
	bool proxy_v2;
	bool strip_path;     /* forward path + prefix_len ("/" if that is empty) */
	bool backend_tls;    /* TLS to the backend (no certificate verification) */
	uint16_t prefix_len; /* bytes of the path the matched prefix covers; 0
			      * for "/" */
	/* forward_headers = no: no X-Forwarded-* or X-Real-IP added (kept in
	 * xlbd's memory, not in the pins: the config or Docker sets it again
	 * after a restart) */
	bool no_forward_headers;
	bool https;	     /* the route's TLS is terminated here (proto = https) */
	bool https_redirect; /* https and plain HTTP asks for it: answer 308 */
	bool https_only;     /* https and plain HTTP is refused: answer 404 */
	bool hsts;	     /* https: answers carry Strict-Transport-Security */
	uint32_t hsts_secs;
	uint8_t hsts_flags; /* XLB_HSTS_* */
};

/* Finds the service serving host (SNI names when tls) and, by smooth
 * weighted round robin, its backend for a new connection (each connection
 * stands alone, so no flow affinity is owed: an even spread is what HTTP
 * clients expect); skip_be (nonzero) excludes one backend, for a retry.
 * Returns 0, -ENOENT when no service has the name, -EHOSTUNREACH when it
 * has no serving backend. */
int xlb_state_route(struct xlb_state *st, bool tls, const char *host, uint32_t skip_be,
		    struct xlb_route *out);

/* Whether xlb terminates TLS for sni (a ClientHello's name): no
 * passthrough (proto = tls) service has the name, and one of the HTTP
 * routes of the host it finds (exact name, then the longest wildcard) is
 * https. Its requests are then routed by xlb_state_route_request(st,
 * false, ...), like plain HTTP ones. */
bool xlb_state_terminates(const struct xlb_state *st, const char *sni);

/* The service a terminated TLS connection for sni counts under, known
 * before its handshake: that of the host's https route with the shortest
 * prefix (its "/" one when it has one). -ENOENT when xlb does not
 * terminate sni. */
int xlb_state_tls_service(const struct xlb_state *st, const char *sni, uint32_t *svc_id);

/* Calls fn for each host name of an https route of an acme service
 * (wildcards left out: ACME proves them by DNS only); a name may come
 * more than once. */
void xlb_state_for_each_acme_name(const struct xlb_state *st,
				  void (*fn)(const char *name, void *arg), void *arg);

/* Calls fn once for each host name of the HTTP routes ("a.d", "*.d")
 * with the name and origin of the service holding its TLS: the one a
 * terminated connection for it reaches (its https route with the
 * shortest prefix), or NULL when xlb does not terminate it. Read from
 * the tables routing uses; nothing changes. */
void xlb_state_for_each_tls_holder(const struct xlb_state *st,
				   void (*fn)(const char *host, const char *service,
					      enum xlb_origin origin, void *arg),
				   void *arg);

/* The same for one request: the service is found by host (hostmap.h's
 * order: exact name, wildcards, regexes; for a name no route has, the
 * default host's routes, if one is set and tls is false), then by the
 * longest of that host's path prefixes matching path[0..path_len) (the
 * request-target's path, maybe with its query; need not be
 * NUL-terminated) on a segment boundary. xlb_state_route() routes as a
 * request for "/" does. No allocation but a regex match's. */
int xlb_state_route_request(struct xlb_state *st, bool tls, const char *host, const char *path,
			    size_t path_len, uint32_t skip_be, struct xlb_route *out);

/* The host whose routes serve HTTP requests for names no route has
 * (nginx-proxy's DEFAULT_HOST); NULL or "" for none: such requests get
 * 404. Returns 0, or -EINVAL for a name that is no exact host name. */
int xlb_state_set_default_host(struct xlb_state *st, const char *host);

#endif
