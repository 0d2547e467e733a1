// SPDX-License-Identifier: GPL-2.0
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <microhttpd.h>

#include "lib/log.h"
#include "lib/percpu.h"
#include "lib/vg.h"
#include "xlb/reason_names.h"
#include "xlb/tls_names.h"

#define MBUF_MIN 16384
/* Prometheus scrapes one connection at a time; a few more let a curl in
 * beside it, and the cap keeps a misbehaving client from holding fds. */
#define HTTP_MAX_CONNS 16
#define HTTP_TIMEOUT_S 5
#define HTTP_BACKLOG 16
/* Entries per bpf_map_lookup_batch call. For xlb_flows that is 4096 * 48
 * bytes of buffers; a hash bucket never holds this many, which the kernel
 * would refuse with ENOSPC. */
#define BATCH_ENTRIES 4096
#define BATCH_TOKEN_MAX 64 /* bytes: an array's key or a hash's bucket index */
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ==== text ================================================================== */

static bool mbuf_reserve(struct xlb_mbuf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->failed)
		return false;
	if (b->len + more < b->cap)
		return true;
	cap = b->cap ? b->cap : MBUF_MIN;
	while (cap <= b->len + more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void mbuf_putc(struct xlb_mbuf *b, char c)
{
	if (!mbuf_reserve(b, 1))
		return;
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
}

void xlb_mbuf_printf(struct xlb_mbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if (!mbuf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void xlb_mbuf_free(struct xlb_mbuf *b)
{
	free(b->p);
	*b = (struct xlb_mbuf){};
}

/* Help text escapes only \ and newline; a label value also ". */
static void escape(struct xlb_mbuf *b, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\' || (quote && *s == '"')) {
			mbuf_putc(b, '\\');
			mbuf_putc(b, *s);
		} else if (*s == '\n') {
			mbuf_putc(b, '\\');
			mbuf_putc(b, 'n');
		} else {
			mbuf_putc(b, *s);
		}
	}
}

void xlb_metrics_escape_label(struct xlb_mbuf *b, const char *s)
{
	escape(b, s, true);
}

void xlb_metrics_family(struct xlb_mbuf *b, const char *name, const char *type, const char *help)
{
	xlb_mbuf_printf(b, "# HELP %s ", name);
	escape(b, help, false);
	xlb_mbuf_printf(b, "\n# TYPE %s %s\n", name, type);
}

/* A sample line up to its value: name{l1="v1",...} */
static void series(struct xlb_mbuf *b, const char *name, const struct xlb_label *labels,
		   size_t n_labels)
{
	xlb_mbuf_printf(b, "%s", name);
	for (size_t i = 0; i < n_labels; i++) {
		xlb_mbuf_printf(b, "%c%s=\"", i ? ',' : '{', labels[i].name);
		xlb_metrics_escape_label(b, labels[i].value);
		mbuf_putc(b, '"');
	}
	if (n_labels)
		mbuf_putc(b, '}');
}

void xlb_metrics_sample(struct xlb_mbuf *b, const char *name, const struct xlb_label *labels,
			size_t n_labels, uint64_t value)
{
	series(b, name, labels, n_labels);
	xlb_mbuf_printf(b, " %" PRIu64 "\n", value);
}

/* ==== the families of a snapshot ================================================ */

/* A u64 member of a counters struct, by offset: one table row per family. */
struct u64_field {
	const char *name;
	const char *help;
	size_t off;
};

static uint64_t field_at(const void *base, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)base + off, sizeof(v));
	return v;
}

static const struct u64_field svc_counter_fields[] = {
	{ "xlb_service_packets_total",
	  "Packets XDP forwarded to the service's backends (client to backend).",
	  offsetof(struct xlb_counters, packets) },
	{ "xlb_service_bytes_total", "Bytes of those packets, whole frames as received.",
	  offsetof(struct xlb_counters, bytes) },
	{ "xlb_service_new_flows_total", "Flows XDP started for the service (a Maglev pick).",
	  offsetof(struct xlb_counters, new_flows) },
};

static const struct u64_field be_counter_fields[] = {
	{ "xlb_backend_packets_total", "Packets XDP forwarded to the backend (client to backend).",
	  offsetof(struct xlb_counters, packets) },
	{ "xlb_backend_bytes_total", "Bytes of those packets, whole frames as received.",
	  offsetof(struct xlb_counters, bytes) },
	{ "xlb_backend_new_flows_total", "Flows XDP started on the backend.",
	  offsetof(struct xlb_counters, new_flows) },
};

/* Label value -> counter: the outcomes and paths of proxied connections. */
struct u64_label {
	const char *value;
	size_t off;
	bool of_service; /* it happens after a connection is known to be a service's */
};

#define PROXY_LABEL(value, member, of_service)                                 \
	{                                                                      \
		value, offsetof(struct xlb_proxy_counters, member), of_service \
	}

/* A listener counts every outcome, a service only the two after routing. */
static const struct u64_label outcomes[] = {
	PROXY_LABEL("routed", routed, true),
	PROXY_LABEL("no_route", no_route, false),
	PROXY_LABEL("bad_request", bad_request, false),
	PROXY_LABEL("timeout", timeouts, false),
	PROXY_LABEL("refused", refused, false),
	PROXY_LABEL("connect_failed", connect_failed, true),
};

static const struct u64_label proxy_paths[] = {
	PROXY_LABEL("splice", splice_conns, true),
	PROXY_LABEL("sockmap", sockmap_conns, true),
	PROXY_LABEL("copy", copy_conns, true),
};
#undef PROXY_LABEL

static void gauge1(struct xlb_mbuf *b, const char *name, const char *help,
		   const struct xlb_label *l, size_t n, uint64_t v)
{
	xlb_metrics_family(b, name, "gauge", help);
	xlb_metrics_sample(b, name, l, n, v);
}

static void format_build(const struct xlb_metrics_snapshot *s, struct xlb_mbuf *b)
{
	struct xlb_label version = { "version", s->version ? s->version : XLB_VERSION };

	gauge1(b, "xlb_build_info", "Always 1; the xlbd build's version is in the label.", &version,
	       1, 1);
	gauge1(b, "xlb_start_time_seconds", "When xlbd started, in seconds since the Unix epoch.",
	       NULL, 0, s->start_time_s);
}

static void format_services(const struct xlb_metrics_snapshot *s, struct xlb_mbuf *b)
{
	const char *gname = "xlb_service_backends";

	if (!s->n_svcs)
		return;
	for (size_t f = 0; f < ARRAY_LEN(svc_counter_fields); f++) {
		const struct u64_field *fd = &svc_counter_fields[f];

		xlb_metrics_family(b, fd->name, "counter", fd->help);
		for (size_t i = 0; i < s->n_svcs; i++) {
			struct xlb_label l = { "service", s->svcs[i].name };

			xlb_metrics_sample(b, fd->name, &l, 1, field_at(&s->svcs[i].c, fd->off));
		}
	}
	xlb_metrics_family(b, gname, "gauge",
			   "Backends in the service's Maglev table: the ones taking new flows.");
	for (size_t i = 0; i < s->n_svcs; i++) {
		struct xlb_label l = { "service", s->svcs[i].name };

		xlb_metrics_sample(b, gname, &l, 1, s->svcs[i].backends);
	}
}

static void backend_labels(const struct xlb_metrics_backend *be, struct xlb_label l[2])
{
	l[0] = (struct xlb_label){ "service", be->service };
	l[1] = (struct xlb_label){ "backend", be->endpoint };
}

/* As xlbctl shows it: failing its health check is "down" whatever the
 * state; drained, or its container stopping, is "draining". */
static const char *backend_state_name(const struct xlb_metrics_backend *be)
{
	if (be->flags & XLB_BE_F_DOWN)
		return "down";
	return be->state == XLB_BE_ACTIVE ? "active" : "draining";
}

static void format_backend_counters(const struct xlb_metrics_snapshot *s, struct xlb_mbuf *b)
{
	struct xlb_label l[2];

	for (size_t f = 0; f < ARRAY_LEN(be_counter_fields); f++) {
		const struct u64_field *fd = &be_counter_fields[f];

		xlb_metrics_family(b, fd->name, "counter", fd->help);
		for (size_t i = 0; i < s->n_bes; i++) {
			backend_labels(&s->bes[i], l);
			xlb_metrics_sample(b, fd->name, l, 2, field_at(&s->bes[i].c, fd->off));
		}
	}
}

static void format_backend_states(const struct xlb_metrics_snapshot *s, struct xlb_mbuf *b)
{
	static const char *const states[] = { "active", "draining", "down" };
	const char *name = "xlb_backend_state";
	struct xlb_label l[3];

	xlb_metrics_family(b, name, "gauge",
			   "1 for the backend's state, 0 for the others: active (takes new flows), "
			   "draining (drained, or its container stopping: existing flows only), "
			   "down (failing its health check).");
	for (size_t i = 0; i < s->n_bes; i++) {
		const char *now = backend_state_name(&s->bes[i]);

		backend_labels(&s->bes[i], l);
		for (size_t k = 0; k < ARRAY_LEN(states); k++) {
			l[2] = (struct xlb_label){ "state", states[k] };
			xlb_metrics_sample(b, name, l, 3, strcmp(now, states[k]) == 0);
		}
	}
}

static void format_backend_gauges(const struct xlb_metrics_snapshot *s, struct xlb_mbuf *b)
{
	struct xlb_label l[2];

	xlb_metrics_family(b, "xlb_backend_up", "gauge",
			   "1 while the backend passes its health check (or has none), "
			   "0 while it fails it.");
	for (size_t i = 0; i < s->n_bes; i++) {
		backend_labels(&s->bes[i], l);
		xlb_metrics_sample(b, "xlb_backend_up", l, 2, !(s->bes[i].flags & XLB_BE_F_DOWN));
	}
	format_backend_states(s, b);
	xlb_metrics_family(b, "xlb_backend_weight", "gauge", "The backend's weight.");
	for (size_t i = 0; i < s->n_bes; i++) {
		backend_labels(&s->bes[i], l);
		xlb_metrics_sample(b, "xlb_backend_weight", l, 2, s->bes[i].weight);
	}
	if (!s->flows_counted)
		return;
	xlb_metrics_family(b, "xlb_backend_active_flows", "gauge",
			   "Entries of the flow table (xlb_flows) leading to the backend, "
			   "counted at the scrape.");
	for (size_t i = 0; i < s->n_bes; i++) {
		backend_labels(&s->bes[i], l);
		xlb_metrics_sample(b, "xlb_backend_active_flows", l, 2, s->bes[i].active_flows);
	}
}

static void format_flow_table(const struct xlb_metrics_snapshot *s, struct xlb_mbuf *b)
{
	if (!s->flows_counted)
		return;
	gauge1(b, "xlb_flow_table_entries",
	       "Entries in the flow table (xlb_flows) at its last walk (at most a second ago).",
	       NULL, 0, s->flows);
	xlb_metrics_family(b, "xlb_flow_table_walks_total", "counter",
			   "Walks of the flow table for the flow counts: a scrape walks it "
			   "again only once the last walk is a second old.");
	xlb_metrics_sample(b, "xlb_flow_table_walks_total", NULL, 0, s->flow_walks);
	gauge1(b, "xlb_flow_table_max_entries",
	       "Capacity of the flow table; at the limit the least recently used flow goes.", NULL,
	       0, s->flow_capacity);
}

static void format_reasons(const struct xlb_metrics_snapshot *s, struct xlb_mbuf *b)
{
	static const struct u64_field fields[] = {
		{ "xlb_packets_total",
		  "Packets the data path handled, by what it did: fwd_* and rnat_* forwarded, "
		  "pass_* left to the kernel, drop_* dropped; flow_insert_fail counts forwarded "
		  "packets again whose flow was not stored.",
		  offsetof(struct xlb_reason_count, packets) },
		{ "xlb_bytes_total", "Bytes of those packets, whole frames, by reason.",
		  offsetof(struct xlb_reason_count, bytes) },
	};

	for (size_t f = 0; f < ARRAY_LEN(fields); f++) {
		xlb_metrics_family(b, fields[f].name, "counter", fields[f].help);
		for (size_t r = 0; r < XLB_R_MAX; r++) {
			struct xlb_label l = { "reason", xlb_reason_names[r] };

			xlb_metrics_sample(b, fields[f].name, &l, 1,
					   field_at(&s->reasons[r], fields[f].off));
		}
	}
}

/* Counters of host-routed services, by a label from a table (the values
 * that can be a service's). */
static void format_proxy_svc_family(const struct xlb_metrics_snapshot *s, struct xlb_mbuf *b,
				    const char *name, const char *help, const char *label,
				    const struct u64_label *vals, size_t n_vals)
{
	struct xlb_label l[2];

	xlb_metrics_family(b, name, "counter", help);
	for (size_t i = 0; i < s->n_svcs; i++) {
		if (!(s->svcs[i].flags & XLB_SVC_F_HOST))
			continue;
		l[0] = (struct xlb_label){ "service", s->svcs[i].name };
		for (size_t k = 0; k < n_vals; k++) {
			if (!vals[k].of_service)
				continue;
			l[1] = (struct xlb_label){ label, vals[k].value };
			xlb_metrics_sample(b, name, l, 2, field_at(&s->svcs[i].proxy, vals[k].off));
		}
	}
}

static void format_proxy_services(const struct xlb_metrics_snapshot *s, struct xlb_mbuf *b)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_svcs; i++)
		n += (s->svcs[i].flags & XLB_SVC_F_HOST) != 0;
	if (!n)
		return;
	format_proxy_svc_family(
		s, b, "xlb_proxy_connections_total",
		"Host/SNI-routed connections of the service by outcome: routed "
		"(a backend connected) or connect_failed (none did, after a retry). "
		"Connections that never reach a service are counted per listener.",
		"outcome", outcomes, ARRAY_LEN(outcomes));
	format_proxy_svc_family(s, b, "xlb_proxy_path_connections_total",
				"Routed connections of the service by how the kernel moved their "
				"bytes (--proxy-path).",
				"path", proxy_paths, ARRAY_LEN(proxy_paths));
	xlb_metrics_family(b, "xlb_proxy_bytes_total", "counter",
			   "Bytes the proxy moved for the service after routing, both directions.");
	for (size_t i = 0; i < s->n_svcs; i++) {
		struct xlb_label l = { "service", s->svcs[i].name };

		if (s->svcs[i].flags & XLB_SVC_F_HOST)
			xlb_metrics_sample(b, "xlb_proxy_bytes_total", &l, 1,
					   s->svcs[i].proxy.spliced_bytes);
	}
}

/* ---- HTTP requests (--http-mode request) ---- */

/* HTTP host-routed services: their http counters are request mode's. */
static bool http_service(const struct xlb_metrics_snapshot *s, size_t i)
{
	return s->http && (s->svcs[i].flags & XLB_SVC_F_HOST) &&
	       !(s->svcs[i].flags & XLB_SVC_F_TLS);
}

static void format_http_counter(const struct xlb_metrics_snapshot *s, struct xlb_mbuf *b,
				const char *name, const char *help, size_t off)
{
	xlb_metrics_family(b, name, "counter", help);
	for (size_t i = 0; i < s->n_svcs; i++) {
		struct xlb_label l = { "service", s->svcs[i].name };

		if (http_service(s, i))
			xlb_metrics_sample(b, name, &l, 1, field_at(&s->svcs[i].http, off));
	}
}

/* The bucket bounds of XLB_HTTP_FB_BOUNDS_US, in seconds. */
static const char *const fb_le[XLB_HTTP_FB_BUCKETS] = {
	"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
	"0.25",	 "0.5",	   "1",	    "2.5",  "5",     "10",
};

void xlb_metrics_histogram(struct xlb_mbuf *b, const char *name, const struct xlb_label *labels,
			   size_t n_labels, const struct xlb_http_counters *h)
{
	struct xlb_label l[XLB_METRICS_MAX_LABELS + 1];
	char series_name[128];
	uint64_t cum = 0;

	if (n_labels > XLB_METRICS_MAX_LABELS)
		n_labels = XLB_METRICS_MAX_LABELS;
	if (n_labels)
		memcpy(l, labels, n_labels * sizeof(*l));
	snprintf(series_name, sizeof(series_name), "%s_bucket", name);
	for (size_t k = 0; k <= XLB_HTTP_FB_BUCKETS; k++) {
		/* +Inf is the count: observations above the last bound are in no bucket */
		cum = k < XLB_HTTP_FB_BUCKETS ? cum + h->fb_buckets[k] : h->fb_count;
		l[n_labels] =
			(struct xlb_label){ "le", k < XLB_HTTP_FB_BUCKETS ? fb_le[k] : "+Inf" };
		xlb_metrics_sample(b, series_name, l, n_labels + 1, cum);
	}
	/* seconds, exactly: the nanoseconds' integer and fractional parts */
	snprintf(series_name, sizeof(series_name), "%s_sum", name);
	series(b, series_name, l, n_labels);
	xlb_mbuf_printf(b, " %" PRIu64 ".%09" PRIu64 "\n", (uint64_t)(h->fb_sum_ns / 1000000000u),
			(uint64_t)(h->fb_sum_ns % 1000000000u));
	snprintf(series_name, sizeof(series_name), "%s_count", name);
	xlb_metrics_sample(b, series_name, l, n_labels, h->fb_count);
}

static void format_http(const struct xlb_metrics_snapshot *s, struct xlb_mbuf *b)
{
	static const char *const classes[XLB_HTTP_CLASSES] = { "1xx", "2xx", "3xx", "4xx", "5xx" };
	const char *fb = "xlb_http_response_first_byte_seconds";
	const char *resp = "xlb_http_responses_total";
	size_t n = 0;

	for (size_t i = 0; i < s->n_svcs; i++)
		n += http_service(s, i);
	if (!n)
		return;
	xlb_metrics_family(b, "xlb_http_requests_total", "counter",
			   "HTTP requests routed to the service (--http-mode request): one per "
			   "request, sent to a backend or not.");
	for (size_t i = 0; i < s->n_svcs; i++) {
		struct xlb_label l = { "service", s->svcs[i].name };

		if (http_service(s, i))
			xlb_metrics_sample(b, "xlb_http_requests_total", &l, 1,
					   s->svcs[i].proxy.accepted);
	}
	xlb_metrics_family(b, resp, "counter",
			   "Response heads the clients of the service got, by class: the "
			   "backends' (interim 1xx included) and the proxy's own (502, 504).");
	for (size_t i = 0; i < s->n_svcs; i++) {
		struct xlb_label l[2] = { { "service", s->svcs[i].name } };

		if (!http_service(s, i))
			continue;
		for (size_t k = 0; k < XLB_HTTP_CLASSES; k++) {
			l[1] = (struct xlb_label){ "class", classes[k] };
			xlb_metrics_sample(b, resp, l, 2, s->svcs[i].http.responses[k]);
		}
	}
	format_http_counter(
		s, b, "xlb_http_backend_connections_reused_total",
		"Requests of the service sent on a pooled keep-alive backend connection.",
		offsetof(struct xlb_http_counters, reused));
	format_http_counter(s, b, "xlb_http_backend_connections_opened_total",
			    "Fresh backend connections the service's requests opened.",
			    offsetof(struct xlb_http_counters, connects));
	xlb_metrics_family(b, fb, "histogram",
			   "Time from a request head sent to the backend to the first byte of "
			   "its response head.");
	for (size_t i = 0; i < s->n_svcs; i++) {
		struct xlb_label l = { "service", s->svcs[i].name };

		if (http_service(s, i))
			xlb_metrics_histogram(b, fb, &l, 1, &s->svcs[i].http);
	}
}

/* ---- terminated TLS ---- */

/* A service shows its whole fixed set of TLS series from its first
 * terminated handshake, failed or not, on: no series for the services
 * whose TLS xlb never ended. */
static bool tls_service(const struct xlb_metrics_snapshot *s, size_t i)
{
	static const struct xlb_tls_counters zero;

	return memcmp(&s->svcs[i].tls, &zero, sizeof(zero)) != 0;
}

static void format_tls_handshakes(const struct xlb_metrics_snapshot *s, struct xlb_mbuf *b)
{
	static const char name[] = "xlb_tls_handshakes_total";

	xlb_metrics_family(b, name, "counter",
			   "TLS handshakes xlb completed for the service (proto = https), by "
			   "version and cipher suite (OpenSSL's names; other: a suite outside "
			   "xlb's list).");
	for (size_t i = 0; i < s->n_svcs; i++) {
		struct xlb_label l[3] = { { "service", s->svcs[i].name } };

		if (!tls_service(s, i))
			continue;
		for (int k = 0; k < XLB_TLS_SUITES; k++) {
			l[1] = (struct xlb_label){ "version", xlb_tls_suite_version(k) };
			l[2] = (struct xlb_label){ "cipher", xlb_tls_suite_names[k] };
			xlb_metrics_sample(b, name, l, 3, s->svcs[i].tls.handshakes[k]);
		}
	}
}

static void format_tls_failures(const struct xlb_metrics_snapshot *s, struct xlb_mbuf *b)
{
	static const char name[] = "xlb_tls_handshake_failures_total";

	xlb_metrics_family(b, name, "counter",
			   "TLS handshakes for the service that did not complete, by reason: "
			   "timeout, client_closed, protocol_version, no_shared_cipher, "
			   "no_application_protocol, unrecognized_name, alert_from_client, "
			   "handshake_limit, other.");
	for (size_t i = 0; i < s->n_svcs; i++) {
		struct xlb_label l[2] = { { "service", s->svcs[i].name } };

		if (!tls_service(s, i))
			continue;
		for (int k = 0; k < XLB_TLS_FAILS; k++) {
			l[1] = (struct xlb_label){ "reason", xlb_tls_fail_names[k] };
			xlb_metrics_sample(b, name, l, 2, s->svcs[i].tls.failures[k]);
		}
	}
}

static void format_tls(const struct xlb_metrics_snapshot *s, struct xlb_mbuf *b)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_svcs; i++)
		n += tls_service(s, i);
	if (!n)
		return;
	format_tls_handshakes(s, b);
	format_tls_failures(s, b);
}

static void listener_labels(const struct xlb_metrics_listener *li, struct xlb_label l[2])
{
	l[0] = (struct xlb_label){ "listener", li->endpoint };
	l[1] = (struct xlb_label){ "proto", li->tls ? "tls" : "http" };
}

static void format_proxy_listeners(const struct xlb_metrics_snapshot *s, struct xlb_mbuf *b)
{
	const char *acc = "xlb_proxy_listener_accepted_total";
	const char *conns = "xlb_proxy_listener_connections_total";
	struct xlb_label l[3];

	if (!s->n_listeners)
		return;
	xlb_metrics_family(b, acc, "counter", "Connections the proxy's listener accepted.");
	for (size_t i = 0; i < s->n_listeners; i++) {
		listener_labels(&s->listeners[i], l);
		xlb_metrics_sample(b, acc, l, 2, s->listeners[i].c.accepted);
	}
	xlb_metrics_family(b, conns, "counter",
			   "The listener's connections by outcome: routed, no_route (unknown "
			   "Host or SNI, or none), bad_request (malformed head or ClientHello), "
			   "timeout (peek or idle deadline), refused (over --max-conns, "
			   "--max-conns-per-source or the handshake limit), connect_failed.");
	for (size_t i = 0; i < s->n_listeners; i++) {
		listener_labels(&s->listeners[i], l);
		for (size_t k = 0; k < ARRAY_LEN(outcomes); k++) {
			l[2] = (struct xlb_label){ "outcome", outcomes[k].value };
			xlb_metrics_sample(b, conns, l, 3,
					   field_at(&s->listeners[i].c, outcomes[k].off));
		}
	}
}

static void format_docker(const struct xlb_metrics_snapshot *s, struct xlb_mbuf *b)
{
	const struct xlb_docker_stats *d = &s->docker_stats;

	if (!s->docker)
		return;
	gauge1(b, "xlb_docker_connected",
	       "1 while the Docker event stream is up and the containers are synced.", NULL, 0,
	       d->connected);
	gauge1(b, "xlb_docker_last_sync_timestamp_seconds",
	       "When the last full sync with Docker ended, in seconds since the Unix epoch "
	       "(0: none yet).",
	       NULL, 0, d->last_sync_unix_s);
	xlb_metrics_family(b, "xlb_docker_events_total", "counter",
			   "Events read from Docker's event stream.");
	xlb_metrics_sample(b, "xlb_docker_events_total", NULL, 0, d->events);
	xlb_metrics_family(b, "xlb_docker_errors_total", "counter",
			   "Failed Docker API requests, unreadable answers and lost connections.");
	xlb_metrics_sample(b, "xlb_docker_errors_total", NULL, 0, d->errors);
}

static void format_certs(const struct xlb_metrics_snapshot *s, struct xlb_mbuf *b)
{
	static const char name[] = "xlb_tls_certificate_expiry_timestamp_seconds";

	if (!s->n_certs)
		return;
	xlb_metrics_family(b, name, "gauge",
			   "When a certificate in service for a name expires (its notAfter), in "
			   "seconds since the Unix epoch.");
	for (size_t i = 0; i < s->n_certs; i++) {
		const struct xlb_metrics_cert *c = &s->certs[i];
		const struct xlb_label l[] = { { "name", c->name },
					       { "source", c->source },
					       { "serial", c->serial } };

		xlb_metrics_sample(b, name, l, 3, c->not_after > 0 ? (uint64_t)c->not_after : 0);
	}
}

int xlb_metrics_format(const struct xlb_metrics_snapshot *s, struct xlb_mbuf *b)
{
	format_build(s, b);
	format_services(s, b);
	if (s->n_bes) {
		format_backend_counters(s, b);
		format_backend_gauges(s, b);
	}
	format_flow_table(s, b);
	format_reasons(s, b);
	format_proxy_services(s, b);
	format_http(s, b);
	format_tls(s, b);
	format_proxy_listeners(s, b);
	format_docker(s, b);
	format_certs(s, b);
	return b->failed ? -ENOMEM : 0;
}

/* ==== reading the maps =============================================================== */

struct xlb_metrics {
	struct xlb_loop *loop;
	struct MHD_Daemon *mhd;
	struct xlb_watch mhd_w;	  /* MHD's epoll fd: MHD closes it */
	struct xlb_watch timer_w; /* MHD's next timeout */
	struct xlb_metrics_maps maps;
	xlb_metrics_prepare_fn prepare;
	xlb_metrics_certs_fn certs;
	void *arg;
	int ncpus;
	uint64_t start_time_s;
	uint64_t flow_capacity;
	bool batch_warned;
	char listen[XLB_EP_STRLEN];
	/* The flow table's last walk: a scrape walks it again only when this
	 * is older than FLOW_COUNT_MAX_AGE_MS, so a client that scrapes in a
	 * loop cannot keep the event loop walking the table. */
	uint32_t *flows_by_be; /* XLB_MAX_BACKENDS; NULL: never walked */
	uint64_t flows_total;
	uint64_t flows_walked_ms; /* CLOCK_MONOTONIC */
	uint64_t flow_walks;
};

#define FLOW_COUNT_MAX_AGE_MS 1000

/* One scrape's work: the snapshot, and from map ids to its entries. */
struct collect {
	struct xlb_metrics *m;
	struct xlb_metrics_snapshot *s;
	int32_t svc_at[XLB_MAX_SERVICES]; /* index in s->svcs by id; -1: none */
	int32_t *be_at;			  /* XLB_MAX_BACKENDS of them, likewise */
	uint64_t *percpu;		  /* one per-CPU value */
	size_t cap_svcs, cap_bes, cap_listeners;
};

/* The per-CPU values read are u64-only structs (see lib/percpu.h); one
 * scratch buffer per scrape, sized for the largest, serves every read. */
_Static_assert(sizeof(struct xlb_counters) % 8 == 0, "per-CPU copies are unpadded");
_Static_assert(sizeof(struct xlb_reason_count) % 8 == 0, "per-CPU copies are unpadded");
#define PERCPU_SIZE_MAX sizeof(struct xlb_counters)
_Static_assert(sizeof(struct xlb_reason_count) <= PERCPU_SIZE_MAX, "scratch fits");

typedef int (*entry_fn)(struct collect *c, const void *key, const void *value);

/* Reads a whole map in chunks. For the flow table this is what a scrape
 * costs: a full 262144-entry table takes 64 syscalls and copies 12 MB
 * (some ms of xlbd's loop), where walking the keys would take two
 * syscalls per entry. */
static int map_read_batch(int fd, size_t key_size, size_t value_size, entry_fn fn,
			  struct collect *c)
{
	unsigned char in[BATCH_TOKEN_MAX], out[BATCH_TOKEN_MAX];
	char *keys = malloc(BATCH_ENTRIES * key_size), *vals = malloc(BATCH_ENTRIES * value_size);
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	bool first = true, done = false;
	int err = keys && vals ? 0 : -ENOMEM;

	while (!err && !done) {
		__u32 n = BATCH_ENTRIES;

		err = bpf_map_lookup_batch(fd, first ? NULL : in, out, keys, vals, &n, &opts);
		err = err ? -errno : 0;
		XLB_KERNEL_WROTE(out, sizeof(out));
		XLB_KERNEL_WROTE(keys, (size_t)n * key_size);
		XLB_KERNEL_WROTE(vals, (size_t)n * value_size);
		done = err == -ENOENT; /* the last chunk, possibly not empty */
		if (done)
			err = 0;
		for (__u32 i = 0; !err && i < n; i++)
			err = fn(c, keys + (size_t)i * key_size, vals + (size_t)i * value_size);
		memcpy(in, out, sizeof(in));
		first = false;
	}
	free(keys);
	free(vals);
	return err;
}

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	size_t ncap = *cap ? *cap * 2 : 16;
	void *more;

	if (n < *cap)
		return 0;
	more = realloc(*arr, ncap * elem);
	if (!more)
		return -ENOMEM;
	*arr = more;
	*cap = ncap;
	return 0;
}

static uint32_t key_u32(const void *key)
{
	uint32_t id;

	memcpy(&id, key, sizeof(id));
	return id;
}

static int add_service(struct collect *c, const void *key, const void *value)
{
	const struct xlb_svc_info *info = value;
	struct xlb_metrics_snapshot *s = c->s;
	struct xlb_metrics_service *svc;
	uint32_t id = key_u32(key);

	if (!info->name[0] || id >= XLB_MAX_SERVICES)
		return 0;
	if (grow((void **)&s->svcs, &c->cap_svcs, s->n_svcs, sizeof(*s->svcs)))
		return -ENOMEM;
	svc = &s->svcs[s->n_svcs];
	*svc = (struct xlb_metrics_service){ .id = id,
					     .flags = info->flags,
					     .backends = info->backends };
	memcpy(svc->name, info->name, sizeof(svc->name));
	svc->name[sizeof(svc->name) - 1] = '\0';
	c->svc_at[id] = (int32_t)s->n_svcs++;
	return 0;
}

/* An address and port as the maps hold them (port in network order),
 * as a label value: "10.0.0.1:80", "[fd00::1]:80". */
static void endpoint_label(uint8_t family, const struct xlb_addr *addr, __be16 port,
			   char out[XLB_EP_STRLEN])
{
	struct xlb_endpoint ep = { .addr = *addr, .port = ntohs(port), .family = family };

	xlb_format_endpoint(&ep, out, XLB_EP_STRLEN);
}

static int add_backend(struct collect *c, const void *key, const void *value)
{
	const struct xlb_backend *be = value;
	struct xlb_metrics_snapshot *s = c->s;
	struct xlb_metrics_backend *out;
	uint32_t id = key_u32(key);

	if (be->state == XLB_BE_UNUSED || id >= XLB_MAX_BACKENDS ||
	    be->svc_id >= XLB_MAX_SERVICES || c->svc_at[be->svc_id] < 0)
		return 0;
	if (grow((void **)&s->bes, &c->cap_bes, s->n_bes, sizeof(*s->bes)))
		return -ENOMEM;
	out = &s->bes[s->n_bes];
	*out = (struct xlb_metrics_backend){ .id = id,
					     .state = be->state,
					     .flags = be->flags,
					     .weight = be->weight };
	memcpy(out->service, s->svcs[c->svc_at[be->svc_id]].name, sizeof(out->service));
	endpoint_label(be->family, &be->addr, be->port, out->endpoint);
	c->be_at[id] = (int32_t)s->n_bes++;
	return 0;
}

static int add_listener(struct collect *c, const void *key, const void *value)
{
	const struct xlb_listener *l = value;
	struct xlb_metrics_snapshot *s = c->s;
	struct xlb_metrics_listener *out;

	(void)key;
	if (l->kind == XLB_LISTEN_UNUSED)
		return 0;
	if (grow((void **)&s->listeners, &c->cap_listeners, s->n_listeners, sizeof(*s->listeners)))
		return -ENOMEM;
	out = &s->listeners[s->n_listeners++];
	*out = (struct xlb_metrics_listener){ .tls = l->kind == XLB_LISTEN_TLS, .c = l->c };
	endpoint_label(l->family, &l->addr, l->port, out->endpoint);
	return 0;
}

static int count_flow(struct collect *c, const void *key, const void *value)
{
	const struct xlb_flow *f = value;

	(void)key;
	c->m->flows_total++;
	if (f->backend_id < XLB_MAX_BACKENDS)
		c->m->flows_by_be[f->backend_id]++;
	return 0;
}

/* One slot of a per-CPU array, summed over CPUs, through the scrape's
 * scratch buffer: no allocation per read. */
static int read_percpu(struct collect *c, int fd, uint32_t id, void *out, size_t size)
{
	return xlb_percpu_sum(fd, id, c->m->ncpus, c->percpu, out, size);
}

static int read_counters(struct collect *c)
{
	const struct xlb_metrics_maps *mp = &c->m->maps;
	struct xlb_metrics_snapshot *s = c->s;
	int err = 0;

	for (size_t i = 0; !err && mp->svc_stats >= 0 && i < s->n_svcs; i++)
		err = read_percpu(c, mp->svc_stats, s->svcs[i].id, &s->svcs[i].c,
				  sizeof(s->svcs[i].c));
	for (size_t i = 0; !err && mp->be_stats >= 0 && i < s->n_bes; i++)
		err = read_percpu(c, mp->be_stats, s->bes[i].id, &s->bes[i].c, sizeof(s->bes[i].c));
	for (uint32_t r = 0; !err && mp->reasons >= 0 && r < XLB_R_MAX; r++)
		err = read_percpu(c, mp->reasons, r, &s->reasons[r], sizeof(s->reasons[r]));
	return err;
}

static int read_proxy_counters(struct collect *c)
{
	const struct xlb_metrics_maps *mp = &c->m->maps;
	struct xlb_metrics_snapshot *s = c->s;

	for (size_t i = 0; mp->proxy_svc_stats >= 0 && i < s->n_svcs; i++) {
		if ((s->svcs[i].flags & XLB_SVC_F_HOST) &&
		    bpf_map_lookup_elem(mp->proxy_svc_stats, &s->svcs[i].id, &s->svcs[i].proxy))
			return -errno;
	}
	for (size_t i = 0; mp->http_svc_stats >= 0 && i < s->n_svcs; i++) {
		if ((s->svcs[i].flags & XLB_SVC_F_HOST) &&
		    bpf_map_lookup_elem(mp->http_svc_stats, &s->svcs[i].id, &s->svcs[i].http))
			return -errno;
	}
	s->http = mp->http_svc_stats >= 0;
	for (size_t i = 0; mp->tls_svc_stats >= 0 && i < s->n_svcs; i++) {
		if ((s->svcs[i].flags & XLB_SVC_F_HOST) &&
		    bpf_map_lookup_elem(mp->tls_svc_stats, &s->svcs[i].id, &s->svcs[i].tls))
			return -errno;
	}
	if (mp->listeners < 0)
		return 0;
	return map_read_batch(mp->listeners, sizeof(__u32), sizeof(struct xlb_listener),
			      add_listener, c);
}

static uint64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Walks the flow table into m's counts; false when it cannot. */
static bool walk_flows(struct collect *c)
{
	struct xlb_metrics *m = c->m;
	int err;

	if (!m->flows_by_be)
		m->flows_by_be = malloc(XLB_MAX_BACKENDS * sizeof(*m->flows_by_be));
	if (!m->flows_by_be)
		return false;
	memset(m->flows_by_be, 0, XLB_MAX_BACKENDS * sizeof(*m->flows_by_be));
	m->flows_total = 0;
	err = map_read_batch(m->maps.flows, sizeof(struct xlb_flow_key), sizeof(struct xlb_flow),
			     count_flow, c);
	if (err) {
		free(m->flows_by_be);
		m->flows_by_be = NULL;
		if (!m->batch_warned)
			pr_warn("event=metrics_flows_uncounted map=xlb_flows err=\"%s\"",
				strerror(-err));
		m->batch_warned = true;
		return false;
	}
	m->flows_walked_ms = clock_ms(CLOCK_MONOTONIC);
	m->flow_walks++;
	return true;
}

/* Active flows are a nicety: a kernel without batch lookups still gets
 * the rest (said once). */
static void count_flows(struct collect *c)
{
	struct xlb_metrics *m = c->m;
	struct xlb_metrics_snapshot *s = c->s;

	if (m->maps.flows < 0)
		return;
	if (!m->flows_by_be ||
	    clock_ms(CLOCK_MONOTONIC) - m->flows_walked_ms >= FLOW_COUNT_MAX_AGE_MS)
		if (!walk_flows(c))
			return;
	s->flows_counted = true;
	s->flows = m->flows_total;
	s->flow_walks = m->flow_walks;
	for (size_t i = 0; i < s->n_bes; i++)
		s->bes[i].active_flows =
			s->bes[i].id < XLB_MAX_BACKENDS ? m->flows_by_be[s->bes[i].id] : 0;
}

static void snapshot_free(struct xlb_metrics_snapshot *s)
{
	free(s->svcs);
	free(s->bes);
	free(s->listeners);
	free(s->certs);
}

static int collect_maps(struct collect *c)
{
	const struct xlb_metrics_maps *mp = &c->m->maps;
	int err = 0;

	if (mp->svc_info >= 0)
		err = map_read_batch(mp->svc_info, sizeof(__u32), sizeof(struct xlb_svc_info),
				     add_service, c);
	if (!err && mp->backends >= 0)
		err = map_read_batch(mp->backends, sizeof(__u32), sizeof(struct xlb_backend),
				     add_backend, c);
	if (!err)
		err = read_counters(c);
	if (!err)
		err = read_proxy_counters(c);
	if (!err)
		count_flows(c);
	return err;
}

static int collect(struct xlb_metrics *m, struct xlb_metrics_snapshot *s)
{
	struct collect c = { .m = m, .s = s };
	int err = -ENOMEM;

	*s = (struct xlb_metrics_snapshot){ .version = XLB_VERSION,
					    .start_time_s = m->start_time_s,
					    .flow_capacity = m->flow_capacity };
	if (m->prepare)
		s->docker = m->prepare(m->arg, &s->docker_stats);
	if (m->certs)
		m->certs(m->arg, &s->certs, &s->n_certs);
	memset(c.svc_at, 0xff, sizeof(c.svc_at));
	c.be_at = malloc(XLB_MAX_BACKENDS * sizeof(*c.be_at));
	c.percpu = calloc(XLB_PERCPU_WORDS(m->ncpus, PERCPU_SIZE_MAX), sizeof(*c.percpu));
	if (c.be_at && c.percpu) {
		memset(c.be_at, 0xff, XLB_MAX_BACKENDS * sizeof(*c.be_at));
		err = collect_maps(&c);
	}
	free(c.be_at);
	free(c.percpu);
	if (err)
		snapshot_free(s);
	return err;
}

/* ==== HTTP ============================================================================= */

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r)
{
	enum MHD_Result ret;

	if (!r)
		return MHD_NO; /* MHD closes the connection */
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result answer_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);

	if (r)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
					"text/plain; charset=utf-8");
	if (r && status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	return answer(conn, status, r);
}

static enum MHD_Result answer_metrics(struct xlb_metrics *m, struct MHD_Connection *conn)
{
	struct xlb_metrics_snapshot s;
	struct xlb_mbuf b = {};
	struct MHD_Response *r;
	int err = collect(m, &s);

	if (!err) {
		err = xlb_metrics_format(&s, &b);
		snapshot_free(&s);
	}
	if (err) {
		pr_warn("event=metrics_scrape_failed err=\"%s\"", strerror(-err));
		xlb_mbuf_free(&b);
		return answer_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "scrape failed: see xlbd's log\n");
	}
	r = MHD_create_response_from_buffer(b.len, b.p, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		xlb_mbuf_free(&b);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	return answer(conn, MHD_HTTP_OK, r);
}

/* Answers on the first call: nothing here reads a request body. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct xlb_metrics *m = cls;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return answer_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (strcmp(url, "/metrics"))
		return answer_text(conn, MHD_HTTP_NOT_FOUND,
				   "not found: the metrics are at /metrics\n");
	return answer_metrics(m, conn);
}

/* MHD's messages are about single clients (a reset, a malformed request):
 * debug level, so no client can fill the log. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	pr_debug("event=metrics_http msg=\"%s\"", msg);
}

/* ==== MHD in xlbd's loop ================================================================ */

/* MHD must run again within its timeout even when no socket stirs (a
 * connection's deadline, data it already read); 0 means "at once", which
 * a zero timerfd value would not do: it disarms. */
static void arm_timer(struct xlb_metrics *m)
{
	MHD_UNSIGNED_LONG_LONG ms;
	struct itimerspec its = {};

	if (MHD_get_timeout(m->mhd, &ms) == MHD_YES) {
		its.it_value.tv_sec = (time_t)(ms / 1000);
		its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L + (ms ? 0 : 1);
	}
	timerfd_settime(m->timer_w.fd, 0, &its, NULL);
}

static void run_mhd(struct xlb_metrics *m)
{
	MHD_run(m->mhd);
	arm_timer(m);
}

static void on_mhd_ready(struct xlb_watch *w, uint32_t events)
{
	(void)events;
	run_mhd(xlb_container_of(w, struct xlb_metrics, mhd_w));
}

static void on_mhd_timer(struct xlb_watch *w, uint32_t events)
{
	uint64_t expirations;

	(void)events;
	if (read(w->fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return;
	run_mhd(xlb_container_of(w, struct xlb_metrics, timer_w));
}

/* Our own socket, so a failure names its step and errno precisely (MHD
 * would only say that it did not start). */
static int listen_socket(const struct xlb_metrics *m, const struct xlb_endpoint *ep)
{
	struct sockaddr_storage ss;
	socklen_t len = xlb_endpoint_sockaddr(ep, &ss);
	const char *step = "socket";
	int one = 1, fd, err;

	fd = socket(ep->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		/* a restarted xlbd binds again while old connections linger */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		step = "bind";
		if (bind(fd, (struct sockaddr *)&ss, len) == 0) {
			step = "listen";
			if (listen(fd, HTTP_BACKLOG) == 0)
				return fd;
		}
	}
	err = -errno;
	if (fd >= 0)
		close(fd);
	pr_err("metrics: %s %s: %s", step, m->listen, strerror(-err));
	return err;
}

static int start_mhd(struct xlb_metrics *m, const struct xlb_endpoint *ep, int fd)
{
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;

	if (ep->family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* no MHD_USE_INTERNAL_POLLING_THREAD: external polling, from our loop */
	m->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m, MHD_OPTION_EXTERNAL_LOGGER,
				  mhd_log, m, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_MAX_CONNS,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_TIMEOUT_S,
				  MHD_OPTION_END);
	if (!m->mhd) {
		close(fd);
		pr_err("metrics: %s: libmicrohttpd did not start", m->listen);
		return -EIO;
	}
	return 0;
}

static int watch_mhd(struct xlb_metrics *m)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	int err;

	if (!info)
		return pr_err("metrics: %s: libmicrohttpd has no epoll fd", m->listen), -EIO;
	m->mhd_w = (struct xlb_watch){ .fd = info->epoll_fd, .fn = on_mhd_ready };
	m->timer_w.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	err = m->timer_w.fd < 0 ? -errno : 0;
	if (!err)
		err = xlb_loop_add(m->loop, &m->mhd_w, EPOLLIN);
	if (!err)
		err = xlb_loop_add(m->loop, &m->timer_w, EPOLLIN);
	if (err)
		return pr_err("metrics: %s: event loop: %s", m->listen, strerror(-err)), err;
	arm_timer(m);
	return 0;
}

static uint64_t flow_capacity(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.max_entries;
}

int xlb_metrics_start(struct xlb_loop *loop, const struct xlb_metrics_opts *o,
		      struct xlb_metrics **out)
{
	struct xlb_metrics *m = calloc(1, sizeof(*m));
	int fd, err;

	if (!m)
		return -ENOMEM;
	*m = (struct xlb_metrics){
		.loop = loop,
		.maps = o->maps,
		.prepare = o->prepare,
		.certs = o->certs,
		.arg = o->arg,
		.mhd_w = { .fd = -1 },
		.timer_w = { .fd = -1, .fn = on_mhd_timer },
		.ncpus = libbpf_num_possible_cpus(),
		.start_time_s = (uint64_t)time(NULL),
		.flow_capacity = flow_capacity(o->maps.flows),
	};
	xlb_format_endpoint(&o->listen, m->listen, sizeof(m->listen));
	if (m->ncpus < 0) {
		err = m->ncpus;
		pr_err("metrics: counting CPUs: %s", strerror(-err));
		free(m);
		return err;
	}
	fd = listen_socket(m, &o->listen);
	if (fd < 0) {
		free(m);
		return fd;
	}
	err = start_mhd(m, &o->listen, fd);
	if (!err)
		err = watch_mhd(m);
	if (err) {
		xlb_metrics_free(m);
		return err;
	}
	pr_info("event=metrics_listen addr=%s path=/metrics", m->listen);
	*out = m;
	return 0;
}

void xlb_metrics_free(struct xlb_metrics *m)
{
	if (!m)
		return;
	free(m->flows_by_be);
	if (m->mhd_w.fd >= 0)
		xlb_loop_del(m->loop, &m->mhd_w);
	if (m->timer_w.fd >= 0) {
		xlb_loop_del(m->loop, &m->timer_w);
		close(m->timer_w.fd);
	}
	if (m->mhd)
		MHD_stop_daemon(m->mhd); /* closes the listening socket and its epoll fd */
	free(m);
}
