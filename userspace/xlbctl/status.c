// SPDX-License-Identifier: GPL-2.0
/* xlbctl status (pin dir, daemon, counts, trace, attached interfaces)
 * and teardown. */
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <jansson.h>

#include "lib/attach.h"
#include "lib/table.h"
#include "xlbctl.h"
#include "xlb/map_types.h"

/* ---- status ----------------------------------------------------------------- */

struct iface_ent {
	__u32 ifindex;
	struct xlb_iface val;
};

struct iface_list {
	struct iface_ent *v;
	size_t n, cap;
};

/* The trace knob and counters; absent in a pin dir from before tracing. */
struct trace_status {
	bool present;
	struct xlb_trace_cfg cfg;
	struct xlb_trace_stats sum;
};

/* The data path's settings; absent in a pin dir from before them. */
struct dp_config_status {
	bool present;
	struct xlb_dp_config cfg;
};

/* The cgroup socket hooks, as the running xlbd says (only it holds their
 * links): known is false with no xlbd, or one from before them. */
struct socket_lb_status {
	bool known;
	bool on;
	char cgroup[4096];
};

struct status {
	bool xlbd_up;
	const char *xlbd_error; /* why the socket did not answer */
	size_t flows;
	size_t listeners; /* the proxy's, in use */
	struct iface_list ifaces;
	struct trace_status trace;
	struct dp_config_status dp;
	struct socket_lb_status sock_lb;
};

static int collect_iface(const struct ctl_map *m, const void *key, void *ctx)
{
	struct iface_list *l = ctx;
	struct iface_ent e, *v;

	memcpy(&e.ifindex, key, sizeof(e.ifindex));
	if (bpf_map_lookup_elem(m->fd, key, &e.val))
		return errno == ENOENT ? 0 : -errno;
	v = array_room(l->v, l->n, &l->cap, sizeof(*v), 16);
	if (!v)
		return -ENOMEM;
	l->v = v;
	l->v[l->n++] = e;
	return 0;
}

static int cmp_iface(const void *a, const void *b)
{
	return cmp_u32(((const struct iface_ent *)a)->ifindex,
		       ((const struct iface_ent *)b)->ifindex);
}

static int load_ifaces(const struct ctl *ctl, struct iface_list *l)
{
	int rc = walk_map(ctl, "xlb_ifaces", sizeof(__u32), sizeof(struct xlb_iface), false,
			  collect_iface, l);

	if (!rc && l->n)
		qsort(l->v, l->n, sizeof(*l->v), cmp_iface);
	return rc;
}

/* xlbd is "up" when it answers ping with ok; anything else is reported
 * with the reason, since status must work with the daemon down. */
static void probe_xlbd(const struct ctl *ctl, struct status *s)
{
	static char why[128];
	const char *output, *status;
	struct reply r;
	int rc = control_request(ctl->socket, "ping", &r, true);

	s->xlbd_up = false;
	if (rc) {
		snprintf(why, sizeof(why), "%s", strerror(-rc));
		s->xlbd_error = why;
	} else {
		split_reply(&r, &output, &status);
		s->xlbd_up = strcmp(status, "ok") == 0;
		snprintf(why, sizeof(why), "answered '%s'", status);
		s->xlbd_error = s->xlbd_up ? NULL : why;
	}
	free(r.buf);
}

/* xlbd's answer to socket-lb: "on cgroup=PATH programs=N" or "off". */
static void parse_socket_lb(const char *text, struct socket_lb_status *sl)
{
	const char *cg = strstr(text, " cgroup="), *end;

	sl->on = strncmp(text, "on", 2) == 0;
	sl->known = sl->on || strncmp(text, "off", 3) == 0;
	if (!sl->on || !cg)
		return;
	cg += strlen(" cgroup=");
	end = strstr(cg, " programs=");
	snprintf(sl->cgroup, sizeof(sl->cgroup), "%.*s", (int)(end ? end - cg : (long)strlen(cg)),
		 cg);
}

static void probe_socket_lb(const struct ctl *ctl, struct status *s)
{
	const char *output, *status;
	struct reply r;

	s->sock_lb = (struct socket_lb_status){ 0 };
	if (!s->xlbd_up)
		return;
	if (!control_request(ctl->socket, "socket-lb", &r, true)) {
		split_reply(&r, &output, &status);
		if (!strcmp(status, "ok"))
			parse_socket_lb(output, &s->sock_lb);
	}
	free(r.buf);
}

static void print_socket_lb(const struct status *s)
{
	if (!s->sock_lb.known)
		printf("socket lb:   - (%s)\n",
		       s->xlbd_up ? "xlbd does not say" : "xlbd not running");
	else if (s->sock_lb.on)
		printf("socket lb:   on (cgroup %s)\n", s->sock_lb.cgroup);
	else
		printf("socket lb:   off\n");
}

static json_t *socket_lb_json(const struct socket_lb_status *sl)
{
	json_t *o;

	if (!sl->known)
		return json_null();
	o = json_object();
	jset(o, "enabled", json_boolean(sl->on));
	jset(o, "cgroup", sl->on ? json_string(sl->cgroup) : json_null());
	return o;
}

static int load_trace_status(const struct ctl *ctl, struct trace_status *ts)
{
	struct ctl_map cfg = { .fd = -1 }, stats = { .fd = -1 };
	int rc = open_map_opt(ctl, "xlb_trace_cfg", sizeof(__u32), sizeof(struct xlb_trace_cfg),
			      true, &cfg);

	*ts = (struct trace_status){ 0 };
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	rc = open_map(ctl, "xlb_trace_stats", sizeof(__u32), sizeof(struct xlb_trace_stats),
		      &stats);
	if (!rc && (rc = trace_cfg_read(cfg.fd, &ts->cfg)))
		complain(CTL_FAIL, "cannot read map xlb_trace_cfg: %s", strerror(-rc));
	if (!rc)
		rc = trace_stats_read(ctl, &stats, &ts->sum);
	ts->present = !rc;
	close_map(&cfg);
	close_map(&stats);
	return rc;
}

static int load_dp_config(const struct ctl *ctl, struct dp_config_status *dp)
{
	struct ctl_map m;
	__u32 zero = 0;
	int rc = open_map_opt(ctl, "xlb_dp_config", sizeof(__u32), sizeof(struct xlb_dp_config),
			      true, &m);

	*dp = (struct dp_config_status){ 0 };
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	if (bpf_map_lookup_elem(m.fd, &zero, &dp->cfg)) {
		rc = -errno;
		complain(CTL_FAIL, "cannot read map xlb_dp_config: %s", strerror(-rc));
	}
	dp->present = !rc;
	close_map(&m);
	return rc;
}

/* The flow hash's seed as --hash-seed and hash_seed take it: 16 hex
 * digits. NULL when there is none to show. */
static const char *hash_seed_text(const struct dp_config_status *dp, char buf[17])
{
	if (!dp->present || !(dp->cfg.flags & XLB_DP_F_SEEDED))
		return NULL;
	snprintf(buf, 17, "%016llx", (unsigned long long)dp->cfg.hash_seed);
	return buf;
}

static const char *iface_name(__u32 ifindex, char *buf)
{
	return if_indextoname(ifindex, buf); /* NULL: gone, or in another netns */
}

static const struct {
	__u32 bit;
	const char *name;
} iface_roles[] = {
	{ XLB_IF_UPLINK, "uplink" },
	{ XLB_IF_BACKEND, "backend" },
	{ XLB_IF_PEER_PREPARED, "peer-prepared" },
	{ XLB_IF_CLSACT_OURS, "clsact-ours" },
	{ XLB_IF_UPLINK_TC, "uplink-tc" },
};

#define N_IFACE_ROLES (sizeof(iface_roles) / sizeof(iface_roles[0]))

/* "backend,peer-prepared" style, "-" for none. */
static void format_roles(__u32 role, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < N_IFACE_ROLES && used < len; i++)
		if (role & iface_roles[i].bit)
			used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? "," : "",
						 iface_roles[i].name);
	if (!used)
		snprintf(buf, len, "-");
}

static void fill_iface_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct iface_ent *e = &((const struct iface_list *)ctx)->v[row];
	char name[IF_NAMESIZE];
	bool peer = e->val.role & XLB_IF_PEER_PREPARED;

	cell_u64(cells[0], e->ifindex);
	cell_str(cells[1], iface_name(e->ifindex, name));
	format_roles(e->val.role, cells[2], XLB_CELL_LEN);
	if (peer) {
		cell_u64(cells[3], e->val.peer_ifindex);
		snprintf(cells[4], XLB_CELL_LEN, "%d", e->val.peer_netnsid);
	} else {
		cell_str(cells[3], NULL);
		cell_str(cells[4], NULL);
	}
}

static int print_ifaces_table(struct iface_list *l)
{
	static const struct xlb_table_col cols[] = {
		{ "IFINDEX", XLB_ALIGN_RIGHT },	     { "NAME", XLB_ALIGN_LEFT },
		{ "ROLES", XLB_ALIGN_LEFT },	     { "PEER_IFINDEX", XLB_ALIGN_RIGHT },
		{ "PEER_NETNSID", XLB_ALIGN_RIGHT },
	};

	return print_table(cols, 5, l->n, fill_iface_row, l);
}

/* "on (xlbctl pid 42, one in 10, service api)", then the counters. */
static void print_trace_status(const struct state *st, const struct trace_status *ts)
{
	const struct xlb_trace_cfg *c = &ts->cfg;

	if (!ts->present) {
		printf("trace:       - (no trace maps: pinned by an older xlbd)\n");
		return;
	}
	if (c->enabled)
		printf("trace:       on (xlbctl pid %d, one in %u, %s%s)", (int)c->owner_pid,
		       c->sample_n ? c->sample_n : 1,
		       c->flags & XLB_TRACE_F_SERVICE ? "service " : "all services",
		       c->flags & XLB_TRACE_F_SERVICE ? svc_name(st, c->svc_id) : "");
	else
		printf("trace:       off");
	printf(", %llu events written, %llu lost\n", (unsigned long long)ts->sum.events,
	       (unsigned long long)ts->sum.lost);
}

static int print_status_text(const struct ctl *ctl, const struct state *st, struct status *s)
{
	char seed[17];

	printf("pin dir:     %s\n", ctl->pin_dir);
	if (s->xlbd_up)
		printf("xlbd:        running (%s)\n", ctl->socket);
	else
		printf("xlbd:        not answering at %s (%s)\n", ctl->socket, s->xlbd_error);
	printf("services:    %zu\n", st->n_svcs);
	printf("backends:    %zu\n", st->n_bes);
	printf("flows:       %zu\n", s->flows);
	printf("listeners:   %zu\n", s->listeners);
	printf("interfaces:  %zu\n", s->ifaces.n);
	if (hash_seed_text(&s->dp, seed))
		printf("hash seed:   %s\n", seed);
	else if (s->dp.present)
		printf("hash seed:   - (not set yet)\n");
	else
		printf("hash seed:   - (no xlb_dp_config: pinned by an older xlbd)\n");
	print_trace_status(st, &s->trace);
	print_socket_lb(s);
	if (!s->ifaces.n)
		return CTL_OK;
	putchar('\n');
	return print_ifaces_table(&s->ifaces);
}

static json_t *roles_json(__u32 role)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < N_IFACE_ROLES; i++)
		if (role & iface_roles[i].bit)
			jpush(arr, json_string(iface_roles[i].name));
	return arr;
}

static json_t *iface_json(const struct iface_ent *e)
{
	char name[IF_NAMESIZE];
	bool peer = e->val.role & XLB_IF_PEER_PREPARED;
	json_t *o = json_object();

	jset(o, "ifindex", jint(e->ifindex));
	jset(o, "name", jstr_or_null(iface_name(e->ifindex, name)));
	jset(o, "roles", roles_json(e->val.role));
	jset(o, "peer_ifindex", peer ? jint(e->val.peer_ifindex) : json_null());
	jset(o, "peer_netnsid", peer ? json_integer(e->val.peer_netnsid) : json_null());
	return o;
}

static json_t *trace_status_json(const struct state *st, const struct trace_status *ts)
{
	const struct xlb_trace_cfg *c = &ts->cfg;
	bool by_svc = c->flags & XLB_TRACE_F_SERVICE;
	json_t *o;

	if (!ts->present)
		return json_null();
	o = json_object();
	jset(o, "enabled", json_boolean(c->enabled));
	jset(o, "owner_pid", c->enabled ? json_integer(c->owner_pid) : json_null());
	jset(o, "sample", c->enabled ? jint(c->sample_n ? c->sample_n : 1) : json_null());
	jset(o, "service",
	     c->enabled && by_svc ? json_string(svc_name(st, c->svc_id)) : json_null());
	jset(o, "events", jint(ts->sum.events));
	jset(o, "lost", jint(ts->sum.lost));
	return o;
}

static json_t *status_json(const struct ctl *ctl, const struct state *st, const struct status *s)
{
	json_t *root = json_object(), *xlbd = json_object(), *ifaces = json_array();
	char seed[17];

	jset(xlbd, "socket", json_string(ctl->socket));
	jset(xlbd, "running", json_boolean(s->xlbd_up));
	jset(xlbd, "error", jstr_or_null(s->xlbd_error));
	for (size_t i = 0; i < s->ifaces.n; i++)
		jpush(ifaces, iface_json(&s->ifaces.v[i]));
	jset(root, "pin_dir", json_string(ctl->pin_dir));
	jset(root, "xlbd", xlbd);
	jset(root, "services", jint(st->n_svcs));
	jset(root, "backends", jint(st->n_bes));
	jset(root, "flows", jint(s->flows));
	jset(root, "listeners", jint(s->listeners));
	jset(root, "interfaces", ifaces);
	jset(root, "hash_seed", jstr_or_null(hash_seed_text(&s->dp, seed)));
	jset(root, "trace", trace_status_json(st, &s->trace));
	jset(root, "socket_lb", socket_lb_json(&s->sock_lb));
	return root;
}

int cmd_status(struct ctl *ctl, int argc, char **argv)
{
	struct status s = { 0 };
	struct sub_args a;
	struct state st;
	int rc = parse_sub_args(ctl, "status", argc, argv, SUB_JSON, 0, 0, &a);

	if (rc || (rc = require_pins(ctl)))
		return rc;
	if (load_state(ctl, &st) || walk_flows(ctl, count_key, &s.flows) ||
	    count_listeners(ctl, &s.listeners) || load_ifaces(ctl, &s.ifaces) ||
	    load_trace_status(ctl, &s.trace) || load_dp_config(ctl, &s.dp)) {
		rc = CTL_FAIL;
		goto out;
	}
	probe_xlbd(ctl, &s);
	probe_socket_lb(ctl, &s);
	if (ctl->json)
		rc = emit_json(status_json(ctl, &st, &s));
	else
		rc = print_status_text(ctl, &st, &s);
out:
	free(s.ifaces.v);
	state_free(&st);
	return rc;
}

/* ---- teardown --------------------------------------------------------------- */

int cmd_teardown(struct ctl *ctl, int argc, char **argv)
{
	struct sub_args a;
	int rc = parse_sub_args(ctl, "teardown", argc, argv, 0, 0, 0, &a);

	if (rc)
		return rc;
	/* xlb_teardown logs each step (and the final event=teardown) itself */
	rc = xlb_teardown(ctl->pin_dir);
	if (rc < 0)
		return complain(CTL_FAIL, "teardown of %s incomplete: %s", ctl->pin_dir,
				strerror(-rc));
	return CTL_OK;
}
