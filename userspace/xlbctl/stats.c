// SPDX-License-Identifier: GPL-2.0
/* xlbctl stats: the per-service, per-backend, per-reason and proxy
 * counters, once or (--watch) as rates between two samples. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <jansson.h>

#include "lib/addr.h"
#include "lib/table.h"
#include "xlbctl.h"
#include "xlb/map_types.h"
#include "xlb/reason_names.h"
#include "xlb/tls_names.h"

/* ---- stats ------------------------------------------------------------------ */

static void fill_svc_stats_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct state *st = ctx;
	__u32 id = st->svc_ids[row];

	cell_str(cells[0], st->svc[id].name);
	cells_counters(cells + 1, &st->svc_c[id]);
}

static int print_svc_stats_table(const struct state *st)
{
	static const struct xlb_table_col cols[] = {
		{ "SERVICE", XLB_ALIGN_LEFT },
		{ "PACKETS", XLB_ALIGN_RIGHT },
		{ "BYTES", XLB_ALIGN_RIGHT },
		{ "FLOWS", XLB_ALIGN_RIGHT },
	};

	return print_table(cols, 4, st->n_svcs, fill_svc_stats_row, (void *)st);
}

static void fill_be_stats_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct state *st = ctx;
	__u32 id = st->be_ids[row];
	char ep[XLB_EP_STRLEN];

	cell_str(cells[0], svc_name(st, st->be[id].svc_id));
	cell_str(cells[1], format_backend(&st->be[id], ep, sizeof(ep)));
	cells_counters(cells + 2, &st->be_c[id]);
}

static int print_be_stats_table(const struct state *st)
{
	static const struct xlb_table_col cols[] = {
		{ "SERVICE", XLB_ALIGN_LEFT },	{ "BACKEND", XLB_ALIGN_LEFT },
		{ "PACKETS", XLB_ALIGN_RIGHT }, { "BYTES", XLB_ALIGN_RIGHT },
		{ "FLOWS", XLB_ALIGN_RIGHT },
	};

	return print_table(cols, 5, st->n_bes, fill_be_stats_row, (void *)st);
}

/* Fills counts[XLB_R_MAX]; reasons beyond the map's size read as zero. */
static int load_reasons(const struct ctl *ctl, struct xlb_reason_count *counts)
{
	struct ctl_map m;
	int rc = open_map(ctl, "xlb_reasons", sizeof(__u32), sizeof(struct xlb_reason_count), &m);

	memset(counts, 0, XLB_R_MAX * sizeof(*counts));
	if (rc)
		return rc;
	for (__u32 r = 0; !rc && r < XLB_R_MAX && r < m.max_entries; r++)
		rc = sum_percpu(ctl, &m, r, &counts[r], sizeof(counts[r]));
	close_map(&m);
	return rc;
}

static void fill_reason_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct xlb_reason_count *counts = ctx;

	cell_str(cells[0], xlb_reason_names[row]);
	cell_u64(cells[1], counts[row].packets);
	cell_u64(cells[2], counts[row].bytes);
}

static int print_reasons_table(const struct xlb_reason_count *counts)
{
	static const struct xlb_table_col cols[] = {
		{ "REASON", XLB_ALIGN_LEFT },
		{ "PACKETS", XLB_ALIGN_RIGHT },
		{ "BYTES", XLB_ALIGN_RIGHT },
	};

	return print_table(cols, 3, XLB_R_MAX, fill_reason_row, (void *)counts);
}

/* Adds the counters of service id, out of ctx, to its object. */
typedef void (*jset_svc_fn)(json_t *o, const void *ctx, __u32 id);

/* The services' view of a set of counters, XDP's or the proxy's: an
 * array of { "name": ..., counters } for the service ids given. */
static json_t *per_service_json(const struct state *st, const __u32 *ids, size_t n,
				jset_svc_fn jset_c, const void *ctx)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();

		jset(o, "name", json_string(st->svc[ids[i]].name));
		jset_c(o, ctx, ids[i]);
		jpush(arr, o);
	}
	return arr;
}

static void jset_svc_counters(json_t *o, const void *st, __u32 id)
{
	jset_counters(o, &((const struct state *)st)->svc_c[id]);
}

static json_t *be_stats_json(const struct state *st)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < st->n_bes; i++) {
		__u32 id = st->be_ids[i];
		char ep[XLB_EP_STRLEN];
		json_t *o = json_object();

		jset(o, "service", json_string(svc_name(st, st->be[id].svc_id)));
		jset(o, "id", jint(id));
		jset(o, "address", json_string(format_backend(&st->be[id], ep, sizeof(ep))));
		jset_counters(o, &st->be_c[id]);
		jpush(arr, o);
	}
	return arr;
}

/* An object keyed by reason name, in enum order: `jq .reasons.pass_icmp`. */
static json_t *reasons_json(const struct xlb_reason_count *counts)
{
	json_t *obj = json_object();

	for (int r = 0; r < XLB_R_MAX; r++) {
		json_t *o = json_object();

		jset(o, "packets", jint(counts[r].packets));
		jset(o, "bytes", jint(counts[r].bytes));
		jset(obj, xlb_reason_names[r], o);
	}
	return obj;
}

/* ---- proxy stats ------------------------------------------------------------ */

/* The proxy's counters in struct order, with their table header and JSON
 * key, so the listener and service views cannot drift apart. */
static const struct {
	const char *header;
	const char *key;
	size_t off;
} proxy_fields[] = {
#define PROXY_FIELD(h, k)                                     \
	{                                                     \
		h, #k, offsetof(struct xlb_proxy_counters, k) \
	}
	PROXY_FIELD("ACCEPTED", accepted),
	PROXY_FIELD("ROUTED", routed),
	PROXY_FIELD("NO_ROUTE", no_route),
	PROXY_FIELD("BAD_REQUEST", bad_request),
	PROXY_FIELD("TIMEOUTS", timeouts),
	PROXY_FIELD("REFUSED", refused),
	PROXY_FIELD("CONNECT_FAILED", connect_failed),
	PROXY_FIELD("SPLICED_BYTES", spliced_bytes),
	PROXY_FIELD("SPLICE_CONNS", splice_conns),
	PROXY_FIELD("SOCKMAP_CONNS", sockmap_conns),
	PROXY_FIELD("COPY_CONNS", copy_conns),
#undef PROXY_FIELD
};

#define N_PROXY_FIELDS (sizeof(proxy_fields) / sizeof(proxy_fields[0]))
_Static_assert(N_PROXY_FIELDS * sizeof(__u64) == sizeof(struct xlb_proxy_counters),
	       "every proxy counter has a column");
_Static_assert(N_PROXY_FIELDS + 2 <= XLB_TABLE_MAX_COLS, "listener table fits");

struct proxy_stats {
	bool present;		  /* the pin dir has the proxy's maps */
	struct xlb_listener *lis; /* every slot of xlb_listeners */
	__u32 n_lis_slots;
	__u32 *lis_ids; /* slots in use, in slot order */
	size_t n_lis;
	struct xlb_proxy_counters *svc; /* by service id */
	__u32 *svc_ids;			/* services with a nonzero counter, by name */
	size_t n_svcs;
	struct xlb_http_counters *http; /* by service id: request mode's */
	__u32 *http_ids;		/* services with a nonzero one, by name */
	size_t n_http;
	struct xlb_tls_counters *tls; /* by service id: terminated handshakes */
	__u32 *tls_ids;		      /* services with a nonzero one, by name */
	size_t n_tls;
};

static void proxy_stats_free(struct proxy_stats *p)
{
	free(p->lis);
	free(p->lis_ids);
	free(p->svc);
	free(p->svc_ids);
	free(p->http);
	free(p->http_ids);
	free(p->tls);
	free(p->tls_ids);
	*p = (struct proxy_stats){ 0 };
}

static __u64 proxy_field(const struct xlb_proxy_counters *c, size_t f)
{
	__u64 v;

	memcpy(&v, (const char *)c + proxy_fields[f].off, sizeof(v));
	return v;
}

static bool proxy_counters_zero(const struct xlb_proxy_counters *c)
{
	for (size_t f = 0; f < N_PROXY_FIELDS; f++)
		if (proxy_field(c, f))
			return false;
	return true;
}

static const char *listener_kind_name(__u8 kind)
{
	switch (kind) {
	case XLB_LISTEN_UNUSED:
		return "unused";
	case XLB_LISTEN_HTTP:
		return "http";
	case XLB_LISTEN_TLS:
		return "tls";
	}
	return "unknown";
}

/* Reads xlb_listeners and lists the slots in use. -ENOENT (silent) when
 * the pin dir predates the proxy. */
static int load_listeners(const struct ctl *ctl, struct proxy_stats *p)
{
	int rc = read_array_map_opt(ctl, "xlb_listeners", sizeof(struct xlb_listener), true,
				    (void **)&p->lis, &p->n_lis_slots);

	if (rc)
		return rc;
	p->lis_ids = calloc(p->n_lis_slots + 1, sizeof(__u32));
	if (!p->lis_ids)
		return -ENOMEM;
	for (__u32 i = 0; i < p->n_lis_slots; i++)
		if (p->lis[i].kind != XLB_LISTEN_UNUSED)
			p->lis_ids[p->n_lis++] = i;
	return 0;
}

/* Listener slots in use; 0 for a pin dir from before the proxy. */
int count_listeners(const struct ctl *ctl, size_t *n)
{
	struct proxy_stats p = { 0 };
	int rc = load_listeners(ctl, &p);

	*n = p.n_lis;
	proxy_stats_free(&p);
	if (rc == -ENOMEM)
		complain(CTL_FAIL, "out of memory");
	return rc == -ENOENT ? 0 : rc;
}

/* Reads the proxy counters of the services in st, keeping those with any
 * nonzero counter. xlbd writes this map, so reading each slot once gives
 * a consistent snapshot of that slot. */
static int load_proxy_svc_stats(const struct ctl *ctl, const struct state *st,
				struct proxy_stats *p)
{
	struct ctl_map m;
	int rc = open_map_opt(ctl, "xlb_proxy_svc_stats", sizeof(__u32),
			      sizeof(struct xlb_proxy_counters), true, &m);

	if (rc)
		return rc == -ENOENT ? 0 : rc;
	p->svc = calloc(st->n_svc_slots + 1, sizeof(*p->svc));
	p->svc_ids = calloc(st->n_svcs + 1, sizeof(__u32));
	if (!p->svc || !p->svc_ids)
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < st->n_svcs; i++) {
		__u32 id = st->svc_ids[i];

		if (id >= m.max_entries)
			continue;
		if (bpf_map_lookup_elem(m.fd, &id, &p->svc[id])) {
			rc = -errno;
			complain(CTL_FAIL, "cannot read map %s: %s", m.name, strerror(-rc));
		} else if (!proxy_counters_zero(&p->svc[id])) {
			p->svc_ids[p->n_svcs++] = id;
		}
	}
	close_map(&m);
	return rc;
}

/* Where a per-service array map of xlbd's counters goes: the values by
 * service id, and the services with a nonzero one, by name. */
struct svc_values {
	const char *map;
	__u32 value_size;
	void **vals;
	__u32 **ids;
	size_t *n;
};

static bool all_zero(const char *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

/* Reads v->map's values of the services in st, keeping those with any
 * nonzero byte. A pin dir of an xlbd before the map has none: nothing
 * then (the next xlbd start adds the map). */
static int load_svc_values(const struct ctl *ctl, const struct state *st,
			   const struct svc_values *v)
{
	struct ctl_map m;
	char *vals;
	int rc = open_map_opt(ctl, v->map, sizeof(__u32), v->value_size, true, &m);

	if (rc)
		return rc == -ENOENT ? 0 : rc;
	*v->vals = vals = calloc(st->n_svc_slots + 1, v->value_size);
	*v->ids = calloc(st->n_svcs + 1, sizeof(__u32));
	if (!vals || !*v->ids)
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < st->n_svcs; i++) {
		__u32 id = st->svc_ids[i];
		char *val = vals + (size_t)id * v->value_size;

		if (id >= m.max_entries)
			continue;
		if (bpf_map_lookup_elem(m.fd, &id, val)) {
			rc = -errno;
			complain(CTL_FAIL, "cannot read map %s: %s", m.name, strerror(-rc));
		} else if (!all_zero(val, v->value_size)) {
			(*v->ids)[(*v->n)++] = id;
		}
	}
	close_map(&m);
	return rc;
}

/* The request mode's HTTP counters (xlb_http_svc_stats). */
static int load_http_svc_stats(const struct ctl *ctl, const struct state *st, struct proxy_stats *p)
{
	const struct svc_values v = { "xlb_http_svc_stats", sizeof(struct xlb_http_counters),
				      (void **)&p->http, &p->http_ids, &p->n_http };

	return load_svc_values(ctl, st, &v);
}

/* The terminated TLS handshakes' counters (xlb_tls_svc_stats). */
static int load_tls_svc_stats(const struct ctl *ctl, const struct state *st, struct proxy_stats *p)
{
	const struct svc_values v = { "xlb_tls_svc_stats", sizeof(struct xlb_tls_counters),
				      (void **)&p->tls, &p->tls_ids, &p->n_tls };

	return load_svc_values(ctl, st, &v);
}

/* Prints its own errors. A pin dir without the proxy's maps (made by an
 * xlbd before host routing) leaves p->present false and is no error. */
static int load_proxy_stats(const struct ctl *ctl, const struct state *st, struct proxy_stats *p)
{
	int rc = load_listeners(ctl, p);

	if (rc == -ENOENT)
		return 0;
	if (!rc)
		rc = load_proxy_svc_stats(ctl, st, p);
	if (!rc)
		rc = load_http_svc_stats(ctl, st, p);
	if (!rc)
		rc = load_tls_svc_stats(ctl, st, p);
	if (rc == -ENOMEM)
		complain(CTL_FAIL, "out of memory");
	p->present = !rc;
	return rc;
}

static void cells_proxy_counters(char cells[][XLB_CELL_LEN], const struct xlb_proxy_counters *c)
{
	for (size_t f = 0; f < N_PROXY_FIELDS; f++)
		cell_u64(cells[f], proxy_field(c, f));
}

static void jset_proxy_counters(json_t *obj, const struct xlb_proxy_counters *c)
{
	for (size_t f = 0; f < N_PROXY_FIELDS; f++)
		jset(obj, proxy_fields[f].key, jint(proxy_field(c, f)));
}

static const char *format_listener(const struct xlb_listener *l, char *buf, size_t len)
{
	return format_ep(l->family, &l->addr, l->port, 0, buf, len);
}

static void fill_listener_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct proxy_stats *p = ctx;
	const struct xlb_listener *l = &p->lis[p->lis_ids[row]];
	char ep[XLB_EP_STRLEN];

	cell_str(cells[0], format_listener(l, ep, sizeof(ep)));
	cell_str(cells[1], listener_kind_name(l->kind));
	cells_proxy_counters(cells + 2, &l->c);
}

struct proxy_svc_rows {
	const struct state *st;
	const struct proxy_stats *p;
};

static void fill_proxy_svc_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct proxy_svc_rows *r = ctx;
	__u32 id = r->p->svc_ids[row];

	cell_str(cells[0], r->st->svc[id].name);
	cells_proxy_counters(cells + 1, &r->p->svc[id]);
}

/* Column set: the given leading text columns, then every proxy counter. */
static size_t proxy_cols(struct xlb_table_col *cols, const char *const *lead, size_t nlead)
{
	size_t n = 0;

	for (size_t i = 0; i < nlead; i++)
		cols[n++] = (struct xlb_table_col){ lead[i], XLB_ALIGN_LEFT };
	for (size_t f = 0; f < N_PROXY_FIELDS; f++)
		cols[n++] = (struct xlb_table_col){ proxy_fields[f].header, XLB_ALIGN_RIGHT };
	return n;
}

/* ---- HTTP requests (--http-mode request) ---------------------------------------- */

static const char *const http_classes[XLB_HTTP_CLASSES] = { "1xx", "2xx", "3xx", "4xx", "5xx" };

/* The requests of a service are its proxy `accepted`: one per request
 * routed to it in request mode. */
static __u64 http_requests(const struct proxy_stats *p, __u32 id)
{
	return p->svc ? p->svc[id].accepted : 0;
}

/* Mean time to the first response byte, in ms with two decimals. */
static void cell_first_byte_ms(char *cell, const struct xlb_http_counters *h)
{
	if (!h->fb_count) {
		cell_str(cell, "-");
		return;
	}
	snprintf(cell, XLB_CELL_LEN, "%.2f", (double)h->fb_sum_ns / (double)h->fb_count / 1e6);
}

static void fill_http_svc_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct proxy_svc_rows *r = ctx;
	__u32 id = r->p->http_ids[row];
	const struct xlb_http_counters *h = &r->p->http[id];
	size_t n = 0;

	cell_str(cells[n++], r->st->svc[id].name);
	cell_u64(cells[n++], http_requests(r->p, id));
	for (size_t k = 0; k < XLB_HTTP_CLASSES; k++)
		cell_u64(cells[n++], h->responses[k]);
	cell_u64(cells[n++], h->reused);
	cell_u64(cells[n++], h->connects);
	cell_u64(cells[n++], h->fb_count);
	cell_first_byte_ms(cells[n], h);
}

static int print_http_table(const struct state *st, const struct proxy_stats *p)
{
	static const struct xlb_table_col cols[] = {
		{ "SERVICE", XLB_ALIGN_LEFT },
		{ "REQUESTS", XLB_ALIGN_RIGHT },
		{ "1XX", XLB_ALIGN_RIGHT },
		{ "2XX", XLB_ALIGN_RIGHT },
		{ "3XX", XLB_ALIGN_RIGHT },
		{ "4XX", XLB_ALIGN_RIGHT },
		{ "5XX", XLB_ALIGN_RIGHT },
		{ "REUSED", XLB_ALIGN_RIGHT },
		{ "CONNECTS", XLB_ALIGN_RIGHT },
		{ "FIRST_BYTES", XLB_ALIGN_RIGHT },
		{ "AVG_FIRST_BYTE_MS", XLB_ALIGN_RIGHT },
	};
	struct proxy_svc_rows rows = { st, p };

	printf("\nhttp services:\n");
	return print_table(cols, sizeof(cols) / sizeof(cols[0]), p->n_http, fill_http_svc_row,
			   &rows);
}

static void jset_http_svc_counters(json_t *o, const void *ctx, __u32 id)
{
	const struct proxy_stats *p = ctx;
	const struct xlb_http_counters *h = &p->http[id];
	json_t *resp = json_object(), *fb = json_object();

	jset(o, "requests", jint(http_requests(p, id)));
	for (size_t k = 0; k < XLB_HTTP_CLASSES; k++)
		jset(resp, http_classes[k], jint(h->responses[k]));
	jset(o, "responses", resp);
	jset(o, "reused", jint(h->reused));
	jset(o, "connects", jint(h->connects));
	jset(fb, "count", jint(h->fb_count));
	jset(fb, "sum_ns", jint(h->fb_sum_ns));
	jset(o, "first_byte", fb);
}

/* ---- terminated TLS ----------------------------------------------------------------- */

static __u64 tls_sum(const __u64 *v, int from, int to)
{
	__u64 n = 0;

	for (int k = from; k < to; k++)
		n += v[k];
	return n;
}

static void fill_tls_svc_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct proxy_svc_rows *r = ctx;
	__u32 id = r->p->tls_ids[row];
	const struct xlb_tls_counters *t = &r->p->tls[id];

	cell_str(cells[0], r->st->svc[id].name);
	cell_u64(cells[1], tls_sum(t->handshakes, 0, XLB_TLS_SUITES));
	cell_u64(cells[2], tls_sum(t->handshakes, 0, XLB_TLS13_OTHER + 1));
	cell_u64(cells[3], tls_sum(t->handshakes, XLB_TLS13_OTHER + 1, XLB_TLS_SUITES));
	cell_u64(cells[4], tls_sum(t->failures, 0, XLB_TLS_FAILS));
}

/* The nonzero counts of one kind (suites or reasons) of the tls
 * services, a row each: (service, index). */
struct tls_rows {
	const struct state *st;
	const struct proxy_stats *p;
	bool failures;
	__u32 *ids;
	int *what;
	size_t n;
};

static int tls_rows_collect(struct tls_rows *t)
{
	int kinds = t->failures ? XLB_TLS_FAILS : XLB_TLS_SUITES;

	t->ids = calloc(t->p->n_tls * (size_t)kinds + 1, sizeof(*t->ids));
	t->what = calloc(t->p->n_tls * (size_t)kinds + 1, sizeof(*t->what));
	if (!t->ids || !t->what)
		return complain(CTL_FAIL, "out of memory"), -ENOMEM;
	for (size_t i = 0; i < t->p->n_tls; i++) {
		const struct xlb_tls_counters *c = &t->p->tls[t->p->tls_ids[i]];

		for (int k = 0; k < kinds; k++) {
			if (!(t->failures ? c->failures[k] : c->handshakes[k]))
				continue;
			t->ids[t->n] = t->p->tls_ids[i];
			t->what[t->n++] = k;
		}
	}
	return 0;
}

static void fill_tls_suite_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct tls_rows *t = ctx;
	int k = t->what[row];

	cell_str(cells[0], t->st->svc[t->ids[row]].name);
	cell_str(cells[1], xlb_tls_suite_version(k));
	cell_str(cells[2], xlb_tls_suite_names[k]);
	cell_u64(cells[3], t->p->tls[t->ids[row]].handshakes[k]);
}

static void fill_tls_fail_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct tls_rows *t = ctx;
	int k = t->what[row];

	cell_str(cells[0], t->st->svc[t->ids[row]].name);
	cell_str(cells[1], xlb_tls_fail_names[k]);
	cell_u64(cells[2], t->p->tls[t->ids[row]].failures[k]);
}

/* A table with a row for each nonzero count of a tls service: by suite,
 * or by failure reason. */
static int print_tls_rows(const struct state *st, const struct proxy_stats *p, bool failures)
{
	static const struct xlb_table_col suite_cols[] = {
		{ "SERVICE", XLB_ALIGN_LEFT },
		{ "VERSION", XLB_ALIGN_LEFT },
		{ "CIPHER", XLB_ALIGN_LEFT },
		{ "HANDSHAKES", XLB_ALIGN_RIGHT },
	};
	static const struct xlb_table_col fail_cols[] = {
		{ "SERVICE", XLB_ALIGN_LEFT },
		{ "REASON", XLB_ALIGN_LEFT },
		{ "FAILURES", XLB_ALIGN_RIGHT },
	};
	struct tls_rows t = { .st = st, .p = p, .failures = failures };
	int rc = tls_rows_collect(&t);

	if (!rc) {
		printf(failures ? "\ntls handshake failures:\n" : "\ntls handshakes:\n");
		rc = failures ? print_table(fail_cols, 3, t.n, fill_tls_fail_row, &t)
			      : print_table(suite_cols, 4, t.n, fill_tls_suite_row, &t);
	}
	free(t.ids);
	free(t.what);
	return rc;
}

static int print_tls_tables(const struct state *st, const struct proxy_stats *p)
{
	static const struct xlb_table_col cols[] = {
		{ "SERVICE", XLB_ALIGN_LEFT },	 { "HANDSHAKES", XLB_ALIGN_RIGHT },
		{ "TLS1.3", XLB_ALIGN_RIGHT },	 { "TLS1.2", XLB_ALIGN_RIGHT },
		{ "FAILURES", XLB_ALIGN_RIGHT },
	};
	struct proxy_svc_rows rows = { st, p };
	int rc;

	printf("\ntls services:\n");
	rc = print_table(cols, 5, p->n_tls, fill_tls_svc_row, &rows);
	if (!rc)
		rc = print_tls_rows(st, p, false);
	if (!rc)
		rc = print_tls_rows(st, p, true);
	return rc;
}

/* { "handshakes": { "1.3": { suite: n, ... }, "1.2": {...} },
 *   "failures": { reason: n, ... } }, every name present. */
static void jset_tls_svc_counters(json_t *o, const void *ctx, __u32 id)
{
	const struct xlb_tls_counters *t = &((const struct proxy_stats *)ctx)->tls[id];
	json_t *hs = json_object(), *v13 = json_object(), *v12 = json_object();
	json_t *fails = json_object();

	for (int k = 0; k < XLB_TLS_SUITES; k++)
		jset(k <= XLB_TLS13_OTHER ? v13 : v12, xlb_tls_suite_names[k],
		     jint(t->handshakes[k]));
	jset(hs, "1.3", v13);
	jset(hs, "1.2", v12);
	for (int k = 0; k < XLB_TLS_FAILS; k++)
		jset(fails, xlb_tls_fail_names[k], jint(t->failures[k]));
	jset(o, "handshakes", hs);
	jset(o, "failures", fails);
}

static int print_proxy_tables(const struct state *st, const struct proxy_stats *p)
{
	static const char *const lis_lead[] = { "ADDRESS", "KIND" };
	static const char *const svc_lead[] = { "SERVICE" };
	struct proxy_svc_rows rows = { st, p };
	struct xlb_table_col cols[XLB_TABLE_MAX_COLS];
	size_t n = proxy_cols(cols, lis_lead, 2);
	int rc;

	printf("\nproxy listeners:\n");
	rc = print_table(cols, n, p->n_lis, fill_listener_row, (void *)p);
	if (rc)
		return rc;
	printf("\nproxy services:\n");
	n = proxy_cols(cols, svc_lead, 1);
	rc = print_table(cols, n, p->n_svcs, fill_proxy_svc_row, &rows);
	if (!rc && p->http)
		rc = print_http_table(st, p);
	if (!rc && p->n_tls)
		rc = print_tls_tables(st, p);
	return rc;
}

static json_t *listeners_json(const struct proxy_stats *p)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < p->n_lis; i++) {
		const struct xlb_listener *l = &p->lis[p->lis_ids[i]];
		char ep[XLB_EP_STRLEN];
		json_t *o = json_object();

		jset(o, "address", json_string(format_listener(l, ep, sizeof(ep))));
		jset(o, "kind", json_string(listener_kind_name(l->kind)));
		jset_proxy_counters(o, &l->c);
		jpush(arr, o);
	}
	return arr;
}

static void jset_proxy_svc_counters(json_t *o, const void *p, __u32 id)
{
	jset_proxy_counters(o, &((const struct proxy_stats *)p)->svc[id]);
}

/* ---- stats ------------------------------------------------------------------ */

static int print_stats_tables(const struct state *st, const struct xlb_reason_count *counts,
			      const struct proxy_stats *p)
{
	int rc = print_svc_stats_table(st);

	if (!rc) {
		putchar('\n');
		rc = print_be_stats_table(st);
	}
	if (!rc) {
		putchar('\n');
		rc = print_reasons_table(counts);
	}
	if (!rc && p->present)
		rc = print_proxy_tables(st, p);
	return rc;
}

/* The proxy arrays are present (maybe empty) even for a pin dir without
 * the proxy's maps, so that `jq '.listeners[]'` never meets a null. */
static json_t *stats_json(const struct state *st, const struct xlb_reason_count *counts,
			  const struct proxy_stats *p)
{
	json_t *root = json_object();

	jset(root, "services",
	     per_service_json(st, st->svc_ids, st->n_svcs, jset_svc_counters, st));
	jset(root, "backends", be_stats_json(st));
	jset(root, "reasons", reasons_json(counts));
	jset(root, "listeners", listeners_json(p));
	jset(root, "proxy_services",
	     per_service_json(st, p->svc_ids, p->n_svcs, jset_proxy_svc_counters, p));
	jset(root, "http_services",
	     per_service_json(st, p->http_ids, p->n_http, jset_http_svc_counters, p));
	jset(root, "tls_services",
	     per_service_json(st, p->tls_ids, p->n_tls, jset_tls_svc_counters, p));
	return root;
}

/* ---- stats --watch: rates between two samples ------------------------------- */

struct sample {
	struct state st;
	struct xlb_reason_count counts[XLB_R_MAX];
	double t; /* CLOCK_MONOTONIC, seconds */
};

struct rate_view {
	const struct sample *cur, *prev;
	double dt;
	size_t reasons[XLB_R_MAX]; /* the reasons that moved, in order */
	size_t n_reasons;
};

static int sample_load(const struct ctl *ctl, struct sample *smp)
{
	*smp = (struct sample){ 0 };
	smp->t = monotonic_s();
	return load_state(ctl, &smp->st) || load_state_counters(ctl, &smp->st) ||
			       load_reasons(ctl, smp->counts)
		       ? CTL_FAIL
		       : CTL_OK;
}

/* Per second from a counter's two readings; a counter that went back (the
 * maps were made anew) counts from zero. */
static __u64 per_second(__u64 now, __u64 before, double dt)
{
	__u64 d = now >= before ? now - before : now;

	return dt > 0 ? (__u64)((double)d / dt + 0.5) : 0;
}

/* The same slot in the previous sample, if it held the same service (ids
 * are reused after a delete). */
static const struct xlb_counters *prev_svc_counters(const struct rate_view *v, __u32 id)
{
	const struct state *p = &v->prev->st;

	if (!svc_used(p, id) || strcmp(p->svc[id].name, v->cur->st.svc[id].name))
		return NULL;
	return &p->svc_c[id];
}

static const struct xlb_counters *prev_be_counters(const struct rate_view *v, __u32 id)
{
	const struct state *p = &v->prev->st, *c = &v->cur->st;

	if (!be_used(p, id) || p->be[id].svc_id != c->be[id].svc_id ||
	    memcmp(&p->be[id].addr, &c->be[id].addr, sizeof(c->be[id].addr)) ||
	    p->be[id].port != c->be[id].port)
		return NULL;
	return &p->be_c[id];
}

static void rates_of(const struct rate_view *v, const struct xlb_counters *now,
		     const struct xlb_counters *before, struct xlb_counters *out)
{
	static const struct xlb_counters zero;

	if (!before)
		before = &zero;
	out->packets = per_second(now->packets, before->packets, v->dt);
	out->bytes = per_second(now->bytes, before->bytes, v->dt);
	out->new_flows = per_second(now->new_flows, before->new_flows, v->dt);
}

static void fill_svc_rate_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct rate_view *v = ctx;
	__u32 id = v->cur->st.svc_ids[row];
	struct xlb_counters r;

	rates_of(v, &v->cur->st.svc_c[id], prev_svc_counters(v, id), &r);
	cell_str(cells[0], v->cur->st.svc[id].name);
	cells_counters(cells + 1, &r);
}

static void fill_be_rate_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct rate_view *v = ctx;
	const struct state *st = &v->cur->st;
	__u32 id = st->be_ids[row];
	char ep[XLB_EP_STRLEN];
	struct xlb_counters r;

	rates_of(v, &st->be_c[id], prev_be_counters(v, id), &r);
	cell_str(cells[0], svc_name(st, st->be[id].svc_id));
	cell_str(cells[1], format_backend(&st->be[id], ep, sizeof(ep)));
	cells_counters(cells + 2, &r);
}

static void fill_reason_rate_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct rate_view *v = ctx;
	size_t r = v->reasons[row];

	cell_str(cells[0], xlb_reason_names[r]);
	cell_u64(cells[1],
		 per_second(v->cur->counts[r].packets, v->prev->counts[r].packets, v->dt));
	cell_u64(cells[2], per_second(v->cur->counts[r].bytes, v->prev->counts[r].bytes, v->dt));
}

static void rate_view_init(struct rate_view *v, const struct sample *cur, const struct sample *prev)
{
	*v = (struct rate_view){ .cur = cur, .prev = prev, .dt = cur->t - prev->t };
	for (size_t r = 0; r < XLB_R_MAX; r++)
		if (cur->counts[r].packets != prev->counts[r].packets)
			v->reasons[v->n_reasons++] = r;
}

static int print_rates(struct rate_view *v)
{
	static const struct xlb_table_col svc_cols[] = {
		{ "SERVICE", XLB_ALIGN_LEFT },
		{ "PKTS/S", XLB_ALIGN_RIGHT },
		{ "BYTES/S", XLB_ALIGN_RIGHT },
		{ "FLOWS/S", XLB_ALIGN_RIGHT },
	};
	static const struct xlb_table_col be_cols[] = {
		{ "SERVICE", XLB_ALIGN_LEFT },	{ "BACKEND", XLB_ALIGN_LEFT },
		{ "PKTS/S", XLB_ALIGN_RIGHT },	{ "BYTES/S", XLB_ALIGN_RIGHT },
		{ "FLOWS/S", XLB_ALIGN_RIGHT },
	};
	static const struct xlb_table_col reason_cols[] = {
		{ "REASON", XLB_ALIGN_LEFT },
		{ "PKTS/S", XLB_ALIGN_RIGHT },
		{ "BYTES/S", XLB_ALIGN_RIGHT },
	};
	int rc;

	printf("rates over the last %.2f s\n\n", v->dt);
	rc = print_table(svc_cols, 4, v->cur->st.n_svcs, fill_svc_rate_row, v);
	if (!rc) {
		putchar('\n');
		rc = print_table(be_cols, 5, v->cur->st.n_bes, fill_be_rate_row, v);
	}
	if (!rc) {
		putchar('\n');
		rc = print_table(reason_cols, 3, v->n_reasons, fill_reason_rate_row, v);
	}
	return rc;
}

static json_t *rate_obj(const struct xlb_counters *r)
{
	json_t *o = json_object();

	jset(o, "packets_per_s", jint(r->packets));
	jset(o, "bytes_per_s", jint(r->bytes));
	jset(o, "new_flows_per_s", jint(r->new_flows));
	return o;
}

static json_t *rates_json(const struct rate_view *v)
{
	const struct state *st = &v->cur->st;
	json_t *root = json_object(), *svcs = json_array(), *bes = json_array();
	json_t *reasons = json_object();
	struct xlb_counters r;
	char ep[XLB_EP_STRLEN];

	jset(root, "interval_s", json_real(v->dt));
	for (size_t i = 0; i < st->n_svcs; i++) {
		__u32 id = st->svc_ids[i];
		json_t *o;

		rates_of(v, &st->svc_c[id], prev_svc_counters(v, id), &r);
		o = rate_obj(&r);
		jset(o, "service", json_string(st->svc[id].name));
		jpush(svcs, o);
	}
	for (size_t i = 0; i < st->n_bes; i++) {
		__u32 id = st->be_ids[i];
		json_t *o;

		rates_of(v, &st->be_c[id], prev_be_counters(v, id), &r);
		o = rate_obj(&r);
		jset(o, "service", json_string(svc_name(st, st->be[id].svc_id)));
		jset(o, "backend", json_string(format_backend(&st->be[id], ep, sizeof(ep))));
		jpush(bes, o);
	}
	for (size_t r_ = 0; r_ < XLB_R_MAX; r_++)
		jset(reasons, xlb_reason_names[r_],
		     jint(per_second(v->cur->counts[r_].packets, v->prev->counts[r_].packets,
				     v->dt)));
	jset(root, "services", svcs);
	jset(root, "backends", bes);
	jset(root, "reasons_packets_per_s", reasons);
	return root;
}

static int parse_watch_args(const struct sub_args *a, double *interval, long *count)
{
	char *end;

	*interval = 1.0;
	*count = -1;
	if (a->interval) {
		errno = 0;
		*interval = strtod(a->interval, &end);
		if (errno || end == a->interval || *end || !(*interval >= 0.1 && *interval <= 3600))
			return complain(CTL_USAGE,
					"stats: --interval '%s': seconds from 0.1 to 3600",
					a->interval);
	}
	if (a->count && parse_count("stats", a->count, count) != CTL_OK)
		return CTL_USAGE;
	if ((a->interval || a->count) && !a->watch)
		return complain(CTL_USAGE, "stats: --interval and --count go with --watch");
	return CTL_OK;
}

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s,
			       .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* One sample, then every interval the rates since the one before: a
 * table per sample (the screen cleared first on a terminal), or one JSON
 * object per line with --json. */
static int stats_watch(struct ctl *ctl, double interval, long count)
{
	struct sample smp[2];
	bool tty = isatty(STDOUT_FILENO);
	int rc = sample_load(ctl, &smp[0]), cur = 0;

	for (long n = 0; !rc && (count < 0 || n < count); n++) {
		struct rate_view v;

		sleep_s(interval);
		rc = sample_load(ctl, &smp[cur ^ 1]);
		if (rc)
			break;
		cur ^= 1;
		rate_view_init(&v, &smp[cur], &smp[cur ^ 1]);
		if (ctl->json) {
			emit_json_line(rates_json(&v));
		} else {
			if (tty)
				fputs("\033[H\033[2J", stdout);
			rc = print_rates(&v);
			if (!tty)
				putchar('\n');
		}
		fflush(stdout);
		state_free(&smp[cur ^ 1].st);
	}
	state_free(&smp[0].st);
	state_free(&smp[1].st);
	return rc;
}

int cmd_stats(struct ctl *ctl, int argc, char **argv)
{
	struct xlb_reason_count counts[XLB_R_MAX];
	struct proxy_stats p = { 0 };
	struct sub_args a;
	struct state st;
	double interval;
	long count;
	int rc = parse_sub_args(ctl, "stats", argc, argv,
				SUB_JSON | SUB_WATCH | SUB_INTERVAL | SUB_COUNT, 0, 0, &a);

	if (rc || (rc = parse_watch_args(&a, &interval, &count)) || (rc = require_pins(ctl)))
		return rc;
	if (a.watch)
		return stats_watch(ctl, interval, count);
	if (load_state(ctl, &st) || load_state_counters(ctl, &st) || load_reasons(ctl, counts) ||
	    load_proxy_stats(ctl, &st, &p)) {
		rc = CTL_FAIL;
		goto out;
	}
	if (ctl->json)
		rc = emit_json(stats_json(&st, counts, &p));
	else
		rc = print_stats_tables(&st, counts, &p);
out:
	proxy_stats_free(&p);
	state_free(&st);
	return rc;
}
