/* SPDX-License-Identifier: GPL-2.0 */
/* Prometheus metrics (xlbd --metrics ADDR:PORT): on every GET /metrics the
 * counters are read from the pinned maps (as xlbctl reads them) and
 * formatted as the text exposition format 0.0.4. The HTTP side is
 * libmicrohttpd in its external-epoll mode, driven by xlbd's own loop: no
 * thread, and a scrape is one more event among the others.
 *
 * The formatting half (buffer, escaping, the families of a snapshot) is
 * pure, so the unit tests check the text without maps or sockets. */
#ifndef XLB_METRICS_H
#define XLB_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "docker.h"
#include "lib/loop.h"
#include "xlb/map_types.h"

/* The build's version, for xlb_build_info (make CPPFLAGS=-DXLB_VERSION=...). */
#ifndef XLB_VERSION
#define XLB_VERSION "dev"
#endif

/* ---- text: a growing buffer and the exposition format's pieces ------------------- */

/* Appends never fail midway: the first failed allocation sets failed, and
 * the rest are dropped, so a caller checks once at the end. */
struct xlb_mbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

void xlb_mbuf_printf(struct xlb_mbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void xlb_mbuf_free(struct xlb_mbuf *b);

struct xlb_label {
	const char *name;
	const char *value;
};

/* "# HELP" and "# TYPE" of a family; its samples must follow, together. */
void xlb_metrics_family(struct xlb_mbuf *b, const char *name, const char *type, const char *help);
/* One sample line, name{l1="v1",...} value, label values escaped. */
void xlb_metrics_sample(struct xlb_mbuf *b, const char *name, const struct xlb_label *labels,
			size_t n_labels, uint64_t value);
/* A histogram's _bucket (cumulative, le="+Inf" the count), _sum (seconds)
 * and _count series, with labels (at most XLB_METRICS_MAX_LABELS) and le;
 * its family line comes first. The buckets are the first-byte ones of
 * struct xlb_http_counters (XLB_HTTP_FB_BOUNDS_US). */
#define XLB_METRICS_MAX_LABELS 4
void xlb_metrics_histogram(struct xlb_mbuf *b, const char *name, const struct xlb_label *labels,
			   size_t n_labels, const struct xlb_http_counters *h);
/* A label value as the format wants it: \ " and newline backslash-escaped. */
void xlb_metrics_escape_label(struct xlb_mbuf *b, const char *s);

/* ---- what one scrape saw ------------------------------------------------------------- */

struct xlb_metrics_service {
	uint32_t id; /* in the maps */
	char name[XLB_NAME_LEN];
	uint32_t flags;			 /* XLB_SVC_F_* */
	uint32_t backends;		 /* in the Maglev table */
	struct xlb_counters c;		 /* summed over CPUs */
	struct xlb_proxy_counters proxy; /* zero unless host-routed */
	struct xlb_http_counters http;	 /* zero unless HTTP host-routed, request mode */
	struct xlb_tls_counters tls;	 /* zero unless xlb terminated its TLS */
};

struct xlb_metrics_backend {
	uint32_t id; /* in the maps */
	char service[XLB_NAME_LEN];
	char endpoint[XLB_EP_STRLEN]; /* "10.0.0.1:80", "[fd00::1]:80" */
	uint8_t state;		      /* enum xlb_backend_state */
	uint32_t flags;		      /* XLB_BE_F_* */
	uint32_t weight;
	struct xlb_counters c; /* summed over CPUs */
	uint64_t active_flows; /* its entries in xlb_flows */
};

struct xlb_metrics_listener {
	char endpoint[XLB_EP_STRLEN];
	bool tls;
	struct xlb_proxy_counters c;
};

/* A name of a certificate in service (a certificate of several names
 * gives one per name). */
struct xlb_metrics_cert {
	char name[XLB_HOST_LEN];
	char source[128];  /* the file, or "acme" */
	char serial[64];   /* hex */
	int64_t not_after; /* unix seconds */
};

struct xlb_metrics_snapshot {
	const char *version;
	uint64_t start_time_s; /* unix time xlbd started */
	struct xlb_metrics_service *svcs;
	size_t n_svcs;
	struct xlb_metrics_backend *bes;
	size_t n_bes;
	struct xlb_metrics_listener *listeners;
	size_t n_listeners;
	bool http; /* request mode: the services' http counters are valid */
	struct xlb_reason_count reasons[XLB_R_MAX]; /* summed over CPUs */
	bool flows_counted;			    /* active_flows and the totals are valid */
	uint64_t flows, flow_capacity;
	uint64_t flow_walks; /* walks of the table so far (each scrape does not) */
	bool docker;	     /* --docker: docker_stats is valid */
	struct xlb_docker_stats docker_stats;
	struct xlb_metrics_cert *certs; /* TLS termination's, malloc'd */
	size_t n_certs;
};

/* The whole exposition of s. Returns 0 or -ENOMEM. */
int xlb_metrics_format(const struct xlb_metrics_snapshot *s, struct xlb_mbuf *b);

/* ---- the server ---------------------------------------------------------------------- */

/* Map fds (xlbd's own); -1 leaves that part out. */
struct xlb_metrics_maps {
	int svc_info, backends, svc_stats, be_stats, reasons, flows;
	int proxy_svc_stats, listeners;
	int http_svc_stats; /* -1 in --http-mode connection */
	int tls_svc_stats;
};

/* Called at the start of every scrape: xlbd writes the proxy's counters
 * to their maps, so a scrape counts every connection up to now, and says
 * how Docker's sync goes (false: no --docker). */
typedef bool (*xlb_metrics_prepare_fn)(void *arg, struct xlb_docker_stats *docker);
/* The certificates in service, an array the scrape frees; NULL fn: none. */
typedef void (*xlb_metrics_certs_fn)(void *arg, struct xlb_metrics_cert **certs, size_t *n);

struct xlb_metrics_opts {
	struct xlb_endpoint listen;
	struct xlb_metrics_maps maps;
	xlb_metrics_prepare_fn prepare;
	xlb_metrics_certs_fn certs;
	void *arg;
};

struct xlb_metrics;

/* Listens on o->listen and serves from loop. Logs its own failure
 * ("metrics: bind 127.0.0.1:9120: Address already in use"); returns 0
 * or -errno. */
int xlb_metrics_start(struct xlb_loop *loop, const struct xlb_metrics_opts *o,
		      struct xlb_metrics **out);
void xlb_metrics_free(struct xlb_metrics *m);

#endif
