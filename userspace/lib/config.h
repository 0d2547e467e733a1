/* SPDX-License-Identifier: GPL-2.0 */
/* The INI config file (parsed with inih):
 *
 *   hash_seed = 5eed0123abcd4567   before any section (the global keys):
 *                               the flow hash's seed, 1 to 16 hex digits;
 *                               nodes behind one ECMP route share it;
 *                               none: the one drawn when the maps were made
 *   socket_lb = yes | no        global too: local clients of L4 VIPs served
 *                               by cgroup socket hooks (default yes)
 *   socket_lb_cgroup = /sys/fs/cgroup   global: the cgroup they go on
 *                               (default: the cgroup v2 mount)
 *   [http]                      shared HTTP listeners (Host routing)
 *   listen = 0.0.0.0:80         repeatable
 *   trusted_proxies = 10.0.0.0/8 fd00::/8   repeatable: proxies whose
 *                               X-Forwarded-* headers are kept
 *   [tls]                       shared TLS listeners (SNI routing)
 *   listen = 0.0.0.0:443        repeatable
 *   [service NAME]
 *   listen = 10.200.0.100:80/tcp       L4 VIP (at most one)
 *   host = api.app.dev                 repeatable; "*.x.y" wildcards; a
 *   host = app.app.dev/api             route: host and path prefix (http)
 *   path = /api                        repeatable: the prefixes of the
 *                                      hosts given without one (none: /)
 *   strip_path = no | yes              forward /api/x as /x
 *   forward_headers = yes | no         add X-Forwarded-* and X-Real-IP
 *   proto = http | tls                 how host names are routed (http)
 *   proxy_protocol = v2                proxied connections start with a
 *                                      PROXY v2 header (client address)
 *   backend = 10.200.1.2:8000 [weight=N]   repeatable
 *   check = tcp | http:/path           xlbd's own health checks of the
 *   check_interval = 2s                backends listed here, with the
 *   check_timeout = 1s                 semantics and defaults of the
 *   check_rise = 2                     xlb.healthcheck.* labels (health_spec.h)
 *   check_fall = 3
 */
#ifndef XLB_CONFIG_H
#define XLB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "health_spec.h"
#include "hostmap.h"
#include "xlb/consts.h"

#define XLB_HOST_LEN 256
#define XLB_WEIGHT_MAX 65535

struct xlb_cfg_backend {
	struct xlb_endpoint ep; /* proto 0 */
	uint32_t weight;	/* 1..XLB_WEIGHT_MAX, default 1 */
	bool draining;		/* Docker: stopping, paused or unhealthy; no new flows */
};

/* How a route's requests arrive: https routes' hosts get their TLS
 * terminated on the TLS listeners (proto = https, Docker's
 * VIRTUAL_HOST=https://...), their requests then routed like HTTP ones. */
enum xlb_scheme { XLB_SCHEME_HTTP = 0, XLB_SCHEME_HTTPS = 1 };

/* What a route adds to its host name: route i of a service is hosts[i]
 * with paths[i]. */
struct xlb_cfg_path {
	char prefix[XLB_PATH_SIZE]; /* normal form (hostmap.h); "/" for none */
	uint8_t scheme;		    /* enum xlb_scheme */
};

struct xlb_cfg_service {
	char name[XLB_NAME_LEN];
	bool has_listen;
	struct xlb_endpoint listen; /* with proto */
	bool tls;		    /* proto = tls */
	bool https;		    /* proto = https: every route's scheme is https */
	bool acme;		    /* acme = yes: xlbd gets its names' certificates */
	bool https_redirect;	    /* https_redirect = yes: plain HTTP gets a 308 */
	bool https_only;	    /* https_only = yes: plain HTTP gets a 404 */
	uint32_t hsts_secs;	    /* hsts = SECONDS: Strict-Transport-Security */
	uint8_t hsts_flags;	    /* ... with XLB_HSTS_* directives */
	bool hsts_set;		    /* ... given */
	bool proxy_v2;		    /* proxy_protocol = v2 */
	bool backend_tls;	    /* backend_tls = yes: TLS to the backends */
	char (*hosts)[XLB_HOST_LEN];
	struct xlb_cfg_path *paths; /* parallel to hosts; NULL: every route is "/" */
	size_t n_hosts;
	bool strip_path;	 /* strip the matched prefix before forwarding */
	bool no_forward_headers; /* forward_headers = no: the head as sent */
	struct xlb_cfg_backend *backends;
	size_t n_backends;
	struct xlb_hc_spec check; /* kind XLB_HC_NONE: not checked */
};

struct xlb_config {
	struct xlb_cfg_service *services;
	size_t n_services;
	struct xlb_endpoint *http_listen; /* proto 0, TCP implied */
	size_t n_http_listen;
	struct xlb_endpoint *tls_listen;
	size_t n_tls_listen;
	struct xlb_cidr *trusted; /* [http] trusted_proxies */
	size_t n_trusted;
	char *tls_certs; /* [tls] certs: the certificate directory, or NULL */
	/* [http] default_host, or NULL */
	char *default_host;
	bool has_hash_seed;
	uint64_t hash_seed; /* the global hash_seed, when has_hash_seed */

	/* the global attach (given, and its enum xlb_attach_mode) */
	bool has_attach;
	int attach;
	/* the global socket_lb (given, and "no") and socket_lb_cgroup (or NULL) */
	bool has_socket_lb;
	bool no_socket_lb;
	char *socket_lb_cgroup;
};

/* Parse a file / a string. On error: returns -EINVAL (or -errno for I/O),
 * writes one line "PATH:LINE: what is wrong" into err, and leaves *cfg
 * empty. */
int xlb_config_load(const char *path, struct xlb_config *cfg, char *err, size_t errlen);
int xlb_config_parse_string(const char *text, const char *name, struct xlb_config *cfg, char *err,
			    size_t errlen);
void xlb_config_free(struct xlb_config *cfg);

/* A flow hash seed: 1 to 16 hex digits, "0x" allowed before them (the
 * config's hash_seed, xlbd's --hash-seed). Returns 0 or -EINVAL. */
int xlb_parse_hash_seed(const char *text, uint64_t *seed);

/* Strict-Transport-Security directives beside max-age (RFC 6797). */
enum xlb_hsts_flags {
	XLB_HSTS_SUBDOMAINS = 1 << 0, /* includeSubDomains */
	XLB_HSTS_PRELOAD = 1 << 1,    /* preload */
};

/* An HSTS policy: "SECONDS", or the header's own form "max-age=SECONDS"
 * with "; includeSubDomains" and "; preload" after it (any case, as
 * nginx-proxy's HSTS takes it). Returns 0, or -EINVAL. */
int xlb_hsts_parse(const char *text, uint32_t *secs, uint8_t *flags);

/* Service names: 1..XLB_NAME_LEN-1 chars of [A-Za-z0-9_.-]. */
bool xlb_valid_service_name(const char *name);
/* Host names: RFC 1123 labels, optionally a leading "*." or a trailing ".*"
 * wildcard (not both), no port; or "~regex" (hostmap.h). */
bool xlb_valid_host_name(const char *host);

/* Appends the route host + path (with scheme) to the parallel arrays
 * *hosts and *paths of *n entries. Returns 0, or -ENOMEM with the arrays
 * still valid. */
int xlb_cfg_route_append(char (**hosts)[XLB_HOST_LEN], struct xlb_cfg_path **paths, size_t *n,
			 const char *host, const char *path, uint8_t scheme);

/* Route i's path prefix: "/" when the service has no paths. */
const char *xlb_cfg_route_path(const struct xlb_cfg_service *s, size_t i);

/* Splits "host[/path]" (item[0..len)) into a host name (checked,
 * lowercased) and a path prefix in normal form ("" when none is given).
 * Returns 0, or -EINVAL with a message such as "invalid host name 'x'" or
 * "bad path '/a/../b': has a '.' or '..' segment" in why. */
int xlb_split_route(const char *item, size_t len, char host[XLB_HOST_LEN], char path[XLB_PATH_SIZE],
		    char *why, size_t whylen);

#endif
