// SPDX-License-Identifier: GPL-2.0
/* xlbctl's listings of what the pinned maps hold: services (with their
 * host names), backends and tracked flows, as tables or JSON. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <jansson.h>

#include "lib/addr.h"
#include "lib/table.h"
#include "xlbctl.h"
#include "xlb/map_types.h"

/* Who made a service or backend: the control socket (runtime), Docker,
 * or the config. */
static void jset_origin(json_t *o, bool runtime, bool docker)
{
	jset(o, "runtime", json_boolean(runtime));
	jset(o, "origin", json_string(runtime ? "runtime" : docker ? "docker" : "config"));
}

/* ---- services --------------------------------------------------------------- */

static int collect_host(const struct ctl_map *m, const void *key, void *ctx)
{
	struct state *st = ctx;
	struct xlb_host_val val;
	struct host_ent *e, *v;
	const char *path;

	if (bpf_map_lookup_elem(m->fd, key, &val))
		return errno == ENOENT ? 0 : -errno; /* deleted since get_next_key */
	v = array_room(st->hosts, st->n_hosts, &st->cap_hosts, sizeof(*v), 16);
	if (!v)
		return -ENOMEM;
	st->hosts = v;
	e = &st->hosts[st->n_hosts++];
	memcpy(e->name, key, sizeof(e->name));
	e->name[sizeof(e->name) - 1] = '\0'; /* kernel memory: never trust it */
	path = e->name + strlen(e->name);
	path += path < e->name + sizeof(e->name) - 1; /* the path follows the NUL */
	snprintf(e->path, sizeof(e->path), "%s", *path ? path : "/");
	e->svc_id = val.svc_id;
	e->flags = val.flags;
	return 0;
}

static int cmp_hosts(const void *a, const void *b)
{
	const struct host_ent *x = a, *y = b;
	int c = cmp_u32(x->svc_id, y->svc_id);

	if (!c)
		c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->path, y->path);
}

/* Reads xlb_hosts, sorted so that each service's routes are one run. A pin
 * dir from before host routing has no such map: no service has hosts. */
static int load_hosts(const struct ctl *ctl, struct state *st)
{
	int rc = walk_map(ctl, "xlb_hosts", sizeof(struct xlb_host_key),
			  sizeof(struct xlb_host_val), true, collect_host, st);

	if (rc)
		return rc == -ENOENT ? 0 : rc;
	if (st->n_hosts)
		qsort(st->hosts, st->n_hosts, sizeof(*st->hosts), cmp_hosts);
	return 0;
}

/* The run of service svc_id's host names: sets *first, returns the count. */
static size_t hosts_of(const struct state *st, __u32 svc_id, size_t *first)
{
	size_t lo = 0, hi = st->n_hosts, n = 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (st->hosts[mid].svc_id < svc_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*first = lo;
	while (lo + n < st->n_hosts && st->hosts[lo + n].svc_id == svc_id)
		n++;
	return n;
}

/* "http" or "tls" for a service routed by host name, NULL otherwise. */
static const char *host_proto(const struct state *st, __u32 svc_id)
{
	const struct xlb_svc_info *info = &st->svc[svc_id];
	size_t first;

	if (!(info->flags & XLB_SVC_F_HOST) && !hosts_of(st, svc_id, &first))
		return NULL;
	return info->flags & XLB_SVC_F_TLS ? "tls" : "http";
}

/* The PROTO cell: host_proto, with "+backend-tls" when the proxy speaks
 * TLS to the service's backends. */
static const char *proto_label(const struct state *st, __u32 svc_id)
{
	const char *p = host_proto(st, svc_id);

	if (p && (st->svc[svc_id].flags & XLB_SVC_F_BACKEND_TLS))
		return "http+backend-tls";
	return p;
}

/* "10.200.0.100:80/tcp", or NULL for a service without an L4 listener. */
static const char *format_listen(const struct xlb_svc_info *info, char *buf, size_t len)
{
	const struct xlb_svc_key *k = &info->key;

	if (k->family == 0)
		return NULL;
	return format_ep(k->family, &k->vip, k->port, k->proto, buf, len);
}

/* Room kept at the end of a hosts cell for ",+N" (N names left out). */
#define HOSTS_MORE_LEN 12

/* A route as the table shows it: "host" for "/", "host/path" otherwise,
 * with "[strip]" when the prefix is stripped before forwarding. */
static const char *route_label(const struct host_ent *e, char *buf, size_t len)
{
	bool root = strcmp(e->path, "/") == 0;

	snprintf(buf, len, "%s%s%s", e->name, root ? "" : e->path,
		 !root && (e->flags & XLB_SVC_F_STRIP_PATH) ? "[strip]" : "");
	return buf;
}

/* Joins the service's routes with commas into cell, "-" for none. A
 * list too long for one cell ends in ",+N" for the N routes not shown, so
 * the cut is visible; --json always carries the whole list. */
static void cell_hosts(char *cell, const struct state *st, __u32 svc_id)
{
	size_t first, n = hosts_of(st, svc_id, &first), used = 0, i;
	char label[2 * XLB_HOST_KEY_LEN + 8];

	cell_str(cell, NULL);
	for (i = 0; i < n; i++) {
		const char *name = route_label(&st->hosts[first + i], label, sizeof(label));
		size_t need = (i ? 1 : 0) + strlen(name), reserve = i + 1 < n ? HOSTS_MORE_LEN : 0;

		if (used + need + reserve >= XLB_CELL_LEN)
			break;
		used += (size_t)snprintf(cell + used, XLB_CELL_LEN - used, "%s%s", i ? "," : "",
					 name);
	}
	if (i < n)
		snprintf(cell + used, XLB_CELL_LEN - used, "%s+%zu", i ? "," : "", n - i);
}

/* PROTO and HOSTS come last: scripts that read the older columns by
 * position keep working, and the widest column is the one not padded. */
static void fill_service_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct state *st = ctx;
	__u32 id = st->svc_ids[row];
	const struct xlb_svc_info *info = &st->svc[id];
	char ep[XLB_EP_STRLEN];

	cell_str(cells[0], info->name);
	cell_str(cells[1], format_listen(info, ep, sizeof(ep)));
	cell_u64(cells[2], info->backends);
	cells_counters(cells + 3, &st->svc_c[id]);
	cell_str(cells[6], proto_label(st, id));
	cell_hosts(cells[7], st, id);
}

/* The service's host names, each once (a run is sorted by name). */
static json_t *hosts_json(const struct state *st, __u32 svc_id)
{
	size_t first, n = hosts_of(st, svc_id, &first);
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++)
		if (!i || strcmp(st->hosts[first + i].name, st->hosts[first + i - 1].name))
			jpush(arr, json_string(st->hosts[first + i].name));
	return arr;
}

/* Its routes: {"host", "path", "strip_path", "scheme"}. */
static json_t *routes_json(const struct state *st, __u32 svc_id)
{
	size_t first, n = hosts_of(st, svc_id, &first);
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++) {
		const struct host_ent *e = &st->hosts[first + i];
		json_t *o = json_object();

		jset(o, "host", json_string(e->name));
		jset(o, "path", json_string(e->path));
		jset(o, "strip_path", json_boolean(e->flags & XLB_SVC_F_STRIP_PATH));
		jset(o, "scheme", json_string(e->flags & XLB_SVC_F_HTTPS ? "https" : "http"));
		jpush(arr, o);
	}
	return arr;
}

static json_t *service_json(const struct state *st, __u32 id)
{
	const struct xlb_svc_info *info = &st->svc[id];
	char ep[XLB_EP_STRLEN];
	json_t *o = json_object();

	jset(o, "name", json_string(info->name));
	jset(o, "id", jint(id));
	jset(o, "listen", jstr_or_null(format_listen(info, ep, sizeof(ep))));
	jset(o, "backends", jint(info->backends));
	jset_origin(o, info->flags & XLB_SVC_F_RUNTIME, info->flags & XLB_SVC_F_DOCKER);
	jset(o, "hosts", hosts_json(st, id));
	jset(o, "routes", routes_json(st, id));
	jset(o, "proto", jstr_or_null(host_proto(st, id)));
	jset(o, "backend_tls", json_boolean(info->flags & XLB_SVC_F_BACKEND_TLS));
	jset_counters(o, &st->svc_c[id]);
	return o;
}

/* Prints its own errors. */
static int load_services(const struct ctl *ctl, const struct sub_args *a, struct state *st)
{
	(void)a;
	if (load_state(ctl, st) || load_state_counters(ctl, st) || load_hosts(ctl, st))
		return CTL_FAIL;
	return CTL_OK;
}

/* ---- backends --------------------------------------------------------------- */

/* Failing xlbd's checks shows as "down"; a drained backend, or a
 * container that is stopping, paused or unhealthy, as "draining". */
static const char *backend_state_name(const struct xlb_backend *be)
{
	if (be->state != XLB_BE_UNUSED && (be->flags & XLB_BE_F_DOWN))
		return "down";
	switch (be->state) {
	case XLB_BE_UNUSED:
		return "unused";
	case XLB_BE_ACTIVE:
		return "active";
	case XLB_BE_DRAINING:
		return "draining";
	}
	return "unknown";
}

/* Keeps only the backends of one service in st->be_ids. */
static void keep_service_backends(struct state *st, __u32 svc_id)
{
	size_t n = 0;

	for (size_t i = 0; i < st->n_bes; i++)
		if (st->be[st->be_ids[i]].svc_id == svc_id)
			st->be_ids[n++] = st->be_ids[i];
	st->n_bes = n;
}

static void fill_backend_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct state *st = ctx;
	__u32 id = st->be_ids[row];
	const struct xlb_backend *be = &st->be[id];
	char ep[XLB_EP_STRLEN];

	cell_str(cells[0], svc_name(st, be->svc_id));
	cell_u64(cells[1], id);
	cell_str(cells[2], format_backend(be, ep, sizeof(ep)));
	cell_str(cells[3], backend_state_name(be));
	cell_u64(cells[4], be->weight);
	cells_counters(cells + 5, &st->be_c[id]);
}

static json_t *backend_json(const struct state *st, __u32 id)
{
	const struct xlb_backend *be = &st->be[id];
	char ep[XLB_EP_STRLEN];
	json_t *o = json_object();

	jset(o, "service", json_string(svc_name(st, be->svc_id)));
	jset(o, "id", jint(id));
	jset(o, "address", json_string(format_backend(be, ep, sizeof(ep))));
	jset(o, "state", json_string(backend_state_name(be)));
	jset(o, "weight", jint(be->weight));
	jset_origin(o, be->flags & XLB_BE_F_RUNTIME, be->flags & XLB_BE_F_DOCKER);
	jset_counters(o, &st->be_c[id]);
	return o;
}

/* Loads the state with counters, keeping only the backends of the
 * service named in the arguments, if any. Prints its own errors. */
static int load_backends(const struct ctl *ctl, const struct sub_args *a, struct state *st)
{
	const char *service = a->npos ? a->pos[0] : NULL;
	__u32 svc_id;

	if (load_state(ctl, st))
		return CTL_FAIL;
	if (service && find_service(st, service, &svc_id))
		return complain(CTL_FAIL, "no service named '%s'", service);
	if (service)
		keep_service_backends(st, svc_id);
	return load_state_counters(ctl, st) ? CTL_FAIL : CTL_OK;
}

/* ---- services and backends: the commands ------------------------------------ */

/* A command that lists the state: what it loads, and then a table, or
 * with --json an object whose one member holds an element per id. */
struct listing {
	const char *name; /* the command, and the JSON member */
	int max_pos;	  /* backends [SERVICE] */
	int (*load)(const struct ctl *ctl, const struct sub_args *a, struct state *st);
	bool backends; /* rows are st->be_ids, not st->svc_ids */
	const struct xlb_table_col *cols;
	xlb_table_row_fn fill_row;
	json_t *(*element)(const struct state *st, __u32 id);
};

#define LISTING_COLS 8

/* PROTO and HOSTS come last: see fill_service_row. */
static const struct xlb_table_col service_cols[LISTING_COLS] = {
	{ "NAME", XLB_ALIGN_LEFT },	 { "LISTEN", XLB_ALIGN_LEFT },
	{ "BACKENDS", XLB_ALIGN_RIGHT }, { "PACKETS", XLB_ALIGN_RIGHT },
	{ "BYTES", XLB_ALIGN_RIGHT },	 { "FLOWS", XLB_ALIGN_RIGHT },
	{ "PROTO", XLB_ALIGN_LEFT },	 { "HOSTS", XLB_ALIGN_LEFT },
};
static const struct xlb_table_col backend_cols[LISTING_COLS] = {
	{ "SERVICE", XLB_ALIGN_LEFT }, { "ID", XLB_ALIGN_RIGHT },
	{ "ADDRESS", XLB_ALIGN_LEFT }, { "STATE", XLB_ALIGN_LEFT },
	{ "WEIGHT", XLB_ALIGN_RIGHT }, { "PACKETS", XLB_ALIGN_RIGHT },
	{ "BYTES", XLB_ALIGN_RIGHT },  { "FLOWS", XLB_ALIGN_RIGHT },
};

static const struct listing services = {
	"services", 0, load_services, false, service_cols, fill_service_row, service_json
};
static const struct listing backends = {
	"backends", 1, load_backends, true, backend_cols, fill_backend_row, backend_json
};

static int show_listing(const struct ctl *ctl, const struct listing *l, const struct state *st)
{
	const __u32 *ids = l->backends ? st->be_ids : st->svc_ids;
	size_t n = l->backends ? st->n_bes : st->n_svcs;
	json_t *root, *arr;

	if (!ctl->json)
		return print_table(l->cols, LISTING_COLS, n, l->fill_row, (void *)st);
	root = json_object();
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		jpush(arr, l->element(st, ids[i]));
	jset(root, l->name, arr);
	return emit_json(root);
}

static int run_listing(struct ctl *ctl, const struct listing *l, int argc, char **argv)
{
	struct state st = { 0 };
	struct sub_args a;
	int rc = parse_sub_args(ctl, l->name, argc, argv, SUB_JSON, 0, l->max_pos, &a);

	if (rc || (rc = require_pins(ctl)))
		return rc;
	rc = l->load(ctl, &a, &st);
	if (!rc)
		rc = show_listing(ctl, l, &st);
	state_free(&st);
	return rc;
}

int cmd_services(struct ctl *ctl, int argc, char **argv)
{
	return run_listing(ctl, &services, argc, argv);
}

int cmd_backends(struct ctl *ctl, int argc, char **argv)
{
	return run_listing(ctl, &backends, argc, argv);
}

/* ---- flows ------------------------------------------------------------------ */

struct flow_ent {
	struct xlb_flow_key key;
	struct xlb_flow val;
};

struct flow_filter {
	bool by_service;
	__u32 svc_id;
	bool by_backend;
	struct xlb_endpoint backend;
};

struct flow_walk {
	const struct state *st;
	const struct flow_filter *filter;
	struct flow_ent *v;
	size_t n, cap;
};

static bool backend_is(const struct xlb_backend *be, const struct xlb_endpoint *ep)
{
	return be->family == ep->family && ntohs(be->port) == ep->port &&
	       memcmp(&be->addr, &ep->addr, sizeof(be->addr)) == 0;
}

static bool flow_matches(const struct flow_walk *w, const struct xlb_flow *f)
{
	const struct flow_filter *flt = w->filter;

	if (flt->by_service && f->svc_id != flt->svc_id)
		return false;
	if (flt->by_backend && (!be_used(w->st, f->backend_id) ||
				!backend_is(&w->st->be[f->backend_id], &flt->backend)))
		return false;
	return true;
}

static int append_flow(struct flow_walk *w, const struct xlb_flow_key *key,
		       const struct xlb_flow *val)
{
	struct flow_ent *v = array_room(w->v, w->n, &w->cap, sizeof(*v), 256);

	if (!v)
		return -ENOMEM;
	w->v = v;
	w->v[w->n++] = (struct flow_ent){ .key = *key, .val = *val };
	return 0;
}

static int collect_flow(const struct ctl_map *m, const void *key, void *ctx)
{
	struct flow_walk *w = ctx;
	struct xlb_flow val;

	if (bpf_map_lookup_elem(m->fd, key, &val))
		return errno == ENOENT ? 0 : -errno; /* evicted since get_next_key */
	if (!flow_matches(w, &val))
		return 0;
	return append_flow(w, key, &val);
}

int count_key(const struct ctl_map *m, const void *key, void *ctx)
{
	(void)m;
	(void)key;
	++*(size_t *)ctx;
	return 0;
}

static void fill_flow_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct flow_walk *w = ctx;
	const struct flow_ent *e = &w->v[row];
	const struct xlb_flow_key *k = &e->key;
	char ep[XLB_EP_STRLEN];

	cell_str(cells[0], format_ep(k->family, &k->src, k->sport, 0, ep, sizeof(ep)));
	cell_str(cells[1], format_ep(k->family, &k->dst, k->dport, k->proto, ep, sizeof(ep)));
	if (be_used(w->st, e->val.backend_id))
		cell_str(cells[2], format_backend(&w->st->be[e->val.backend_id], ep, sizeof(ep)));
	else
		cell_str(cells[2], NULL); /* backend deleted; the flow re-picks */
	cell_str(cells[3], svc_name(w->st, e->val.svc_id));
}

static int print_flows_table(struct flow_walk *w)
{
	static const struct xlb_table_col cols[] = {
		{ "CLIENT", XLB_ALIGN_LEFT },
		{ "VIP", XLB_ALIGN_LEFT },
		{ "BACKEND", XLB_ALIGN_LEFT },
		{ "SERVICE", XLB_ALIGN_LEFT },
	};
	int rc = print_table(cols, 4, w->n, fill_flow_row, w);

	if (!rc)
		printf("%zu flow%s\n", w->n, w->n == 1 ? "" : "s");
	return rc;
}

/* The JSON view reuses the table's row formatter, so both agree. */
static json_t *flows_json(struct flow_walk *w)
{
	static const char *const keys[] = { "client", "vip", "backend", "service" };
	json_t *arr = json_array();

	for (size_t r = 0; r < w->n; r++) {
		char cells[4][XLB_CELL_LEN];
		json_t *o = json_object();

		fill_flow_row(w, r, cells);
		for (size_t c = 0; c < 4; c++)
			jset(o, keys[c],
			     strcmp(cells[c], "-") ? json_string(cells[c]) : json_null());
		jset(o, "backend_id", jint(w->v[r].val.backend_id));
		jpush(arr, o);
	}
	return arr;
}

static int parse_flow_filter(const struct state *st, const struct sub_args *a,
			     struct flow_filter *f)
{
	const char *why = NULL;

	*f = (struct flow_filter){ 0 };
	if (a->backend) {
		if (xlb_parse_endpoint(a->backend, XLB_EP_NO_PROTO, &f->backend, &why))
			return complain(CTL_USAGE, "flows: --backend '%s': %s", a->backend, why);
		f->by_backend = true;
	}
	if (a->service) {
		if (find_service(st, a->service, &f->svc_id))
			return complain(CTL_FAIL, "no service named '%s'", a->service);
		f->by_service = true;
	}
	return CTL_OK;
}

int walk_flows(const struct ctl *ctl, key_visit_fn visit, void *ctx)
{
	return walk_map(ctl, "xlb_flows", sizeof(struct xlb_flow_key), sizeof(struct xlb_flow),
			false, visit, ctx);
}

/* Service, then client (family, address, port): hash order would make
 * two listings of the same flows differ. */
static int cmp_flows(const void *a, const void *b, void *arg)
{
	const struct flow_ent *x = a, *y = b;
	const struct state *st = arg;
	int c = strcmp(svc_name(st, x->val.svc_id), svc_name(st, y->val.svc_id));

	if (!c)
		c = cmp_u32(x->key.family, y->key.family);
	if (!c)
		c = memcmp(&x->key.src, &y->key.src, sizeof(x->key.src));
	if (!c)
		c = cmp_u32(ntohs(x->key.sport), ntohs(y->key.sport));
	if (!c)
		c = memcmp(&x->key, &y->key, sizeof(x->key));
	return c;
}

static int show_flows(const struct ctl *ctl, struct flow_walk *w)
{
	json_t *root;

	if (walk_flows(ctl, collect_flow, w))
		return CTL_FAIL;
	if (w->n)
		qsort_r(w->v, w->n, sizeof(*w->v), cmp_flows, (void *)w->st);
	if (!ctl->json)
		return print_flows_table(w);
	root = json_object();
	jset(root, "flows", flows_json(w));
	jset(root, "count", jint(w->n));
	return emit_json(root);
}

int cmd_flows(struct ctl *ctl, int argc, char **argv)
{
	struct flow_walk w = { 0 };
	struct flow_filter filter;
	struct sub_args a;
	struct state st;
	int rc = parse_sub_args(ctl, "flows", argc, argv, SUB_JSON | SUB_SERVICE | SUB_BACKEND, 0,
				0, &a);

	if (rc || (rc = require_pins(ctl)))
		return rc;
	if (load_state(ctl, &st)) {
		state_free(&st);
		return CTL_FAIL;
	}
	rc = parse_flow_filter(&st, &a, &filter);
	if (!rc) {
		w.st = &st;
		w.filter = &filter;
		rc = show_flows(ctl, &w);
	}
	free(w.v);
	state_free(&st);
	return rc;
}
