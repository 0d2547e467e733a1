/* SPDX-License-Identifier: GPL-2.0 */
/* The INI config file (parsed with inih):
 *
 *   [http]                      shared HTTP listeners (Host routing)
 *   listen = 0.0.0.0:80         repeatable
 *   [tls]                       shared TLS listeners (SNI routing)
 *   listen = 0.0.0.0:443        repeatable
 *   [service NAME]
 *   listen = 10.200.0.100:80/tcp       L4 VIP (at most one)
 *   host = api.app.dev                 repeatable; "*.x.y" wildcards
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
#include "xlb/consts.h"

#define XLB_HOST_LEN 256
#define XLB_WEIGHT_MAX 65535

struct xlb_cfg_backend {
	struct xlb_endpoint ep; /* proto 0 */
	uint32_t weight;	/* 1..XLB_WEIGHT_MAX, default 1 */
	bool draining;		/* Docker: stopping, paused or unhealthy; no new flows */
};

struct xlb_cfg_service {
	char name[XLB_NAME_LEN];
	bool has_listen;
	struct xlb_endpoint listen; /* with proto */
	bool tls;		    /* proto = tls */
	bool proxy_v2;		    /* proxy_protocol = v2 */
	char (*hosts)[XLB_HOST_LEN];
	size_t n_hosts;
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
};

/* Parse a file / a string. On error: returns -EINVAL (or -errno for I/O),
 * writes one line "PATH:LINE: what is wrong" into err, and leaves *cfg
 * empty. */
int xlb_config_load(const char *path, struct xlb_config *cfg, char *err, size_t errlen);
int xlb_config_parse_string(const char *text, const char *name, struct xlb_config *cfg, char *err,
			    size_t errlen);
void xlb_config_free(struct xlb_config *cfg);

/* Service names: 1..XLB_NAME_LEN-1 chars of [A-Za-z0-9_.-]. */
bool xlb_valid_service_name(const char *name);
/* Host names: RFC 1123 labels, optional leading "*." wildcard, no port. */
bool xlb_valid_host_name(const char *host);

#endif
