// SPDX-License-Identifier: GPL-2.0
/* xlbctl trace: switches the data path's trace knob on for one session
 * and prints the events from the trace ring, a line (or object) each. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <jansson.h>

#include "lib/addr.h"
#include "xlbctl.h"
#include "xlb/map_types.h"
#include "xlb/reason_names.h"

/* ---- trace ------------------------------------------------------------------ */

/* The poll loop wakes at least this often to see --duration and signals. */
#define TRACE_POLL_MS 200
/* An event naming a service or backend unknown to the names read last
 * makes them be read again, at most this often (seconds). */
#define TRACE_NAMES_REFRESH_S 1.0
#define TRACE_SAMPLE_MAX 1000000

struct trace_opts {
	__u32 sample_n;
	long count;	   /* events to print; -1: no limit */
	double duration_s; /* 0: no limit */
	const char *service;
};

struct trace {
	const struct ctl *ctl;
	struct trace_opts o;
	__u32 svc_id;	 /* with o.service */
	struct state st; /* service and backend names */
	double names_t;	 /* when st was read (monotonic seconds) */
	struct ctl_map cfg, ring, stats;
	int lock_fd;
	bool discard; /* events found in the ring before we switched on */
	long printed;
	double wall_off; /* CLOCK_REALTIME - CLOCK_MONOTONIC, seconds */
};

static volatile sig_atomic_t trace_stop;

static void trace_on_signal(int sig)
{
	(void)sig;
	trace_stop = 1;
}

/* SIGPIPE too: `xlbctl trace | head` must still switch tracing off. No
 * SA_RESTART, so that a signal ends the wait for events at once. */
static void trace_catch_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
	struct sigaction sa = { .sa_handler = trace_on_signal };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

static int parse_trace_args(const struct sub_args *a, struct trace_opts *o)
{
	char *end;

	*o = (struct trace_opts){ .sample_n = 1, .count = -1, .service = a->service };
	if (a->sample) {
		unsigned long n;

		errno = 0;
		n = strtoul(a->sample, &end, 10);
		if (a->sample[0] < '0' || a->sample[0] > '9' || *end || errno || n < 1 ||
		    n > TRACE_SAMPLE_MAX)
			return complain(CTL_USAGE,
					"trace: --sample '%s': a whole number from 1 to %d "
					"(trace one packet in N)",
					a->sample, TRACE_SAMPLE_MAX);
		o->sample_n = (__u32)n;
	}
	if (a->count && parse_count("trace", a->count, &o->count) != CTL_OK)
		return CTL_USAGE;
	if (a->duration) {
		errno = 0;
		o->duration_s = strtod(a->duration, &end);
		if (errno || end == a->duration || *end ||
		    !(o->duration_s > 0 && o->duration_s <= 1e6))
			return complain(CTL_USAGE, "trace: --duration '%s': seconds, more than 0",
					a->duration);
	}
	if (a->service)
		return check_service_name("trace", a->service);
	return CTL_OK;
}

/* The three trace maps. A pin dir made by an xlbd from before tracing has
 * none: the xlbd of this build adds them when it starts. */
static int trace_open_maps(struct trace *t)
{
	int rc = open_map_opt(t->ctl, "xlb_trace_cfg", sizeof(__u32), sizeof(struct xlb_trace_cfg),
			      true, &t->cfg);

	if (rc == -ENOENT)
		return complain(CTL_FAIL,
				"no trace maps in %s (pinned by an older xlbd: start the "
				"xlbd of this build once to add them)",
				t->ctl->pin_dir);
	if (!rc)
		rc = open_map(t->ctl, "xlb_trace", 0, 0, &t->ring);
	if (!rc)
		rc = open_map(t->ctl, "xlb_trace_stats", sizeof(__u32),
			      sizeof(struct xlb_trace_stats), &t->stats);
	return rc ? CTL_FAIL : CTL_OK;
}

int trace_cfg_read(int fd, struct xlb_trace_cfg *c)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(fd, &zero, c) ? -errno : 0;
}

static int trace_cfg_write(const struct trace *t, const struct xlb_trace_cfg *c)
{
	__u32 zero = 0;

	return bpf_map_update_elem(t->cfg.fd, &zero, c, BPF_ANY) ? -errno : 0;
}

/* One trace at a time, since the knob has one owner: an exclusive flock
 * on the pin directory. The kernel drops it however xlbctl ends, so a
 * trace killed with SIGKILL (which leaves the knob on) blocks no later
 * one: that one takes the knob over and switches it off when it ends. */
static int trace_lock(struct trace *t)
{
	struct xlb_trace_cfg c = { 0 };
	int fd = open(t->ctl->pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return complain(CTL_FAIL, "cannot open %s: %s", t->ctl->pin_dir, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		t->lock_fd = fd;
		return CTL_OK;
	}
	if (errno != EWOULDBLOCK) {
		complain(CTL_FAIL, "cannot lock %s: %s", t->ctl->pin_dir, strerror(errno));
	} else {
		trace_cfg_read(t->cfg.fd, &c);
		complain(CTL_FAIL, "a trace is already on (xlbctl pid %d); one at a time",
			 (int)c.owner_pid);
	}
	close(fd);
	return CTL_FAIL;
}

static int trace_open(struct trace *t)
{
	int rc = trace_open_maps(t);

	if (rc)
		return rc;
	if (load_state(t->ctl, &t->st))
		return CTL_FAIL;
	t->names_t = monotonic_s();
	if (t->o.service && find_service(&t->st, t->o.service, &t->svc_id))
		return complain(CTL_FAIL, "no service named '%s'", t->o.service);
	return trace_lock(t);
}

static void trace_close(struct trace *t)
{
	close_map(&t->cfg);
	close_map(&t->ring);
	close_map(&t->stats);
	if (t->lock_fd >= 0)
		close(t->lock_fd);
	state_free(&t->st);
}

/* In two writes: the filter while still off, then the flag. The data path
 * may read the value while a write copies it, and must never see "on"
 * with half a filter. */
static int trace_switch_on(struct trace *t)
{
	struct xlb_trace_cfg c = {
		.sample_n = t->o.sample_n,
		.flags = t->o.service ? XLB_TRACE_F_SERVICE : 0,
		.svc_id = t->svc_id,
		.owner_pid = (__s32)getpid(),
	};
	int rc = trace_cfg_write(t, &c);

	c.enabled = 1;
	if (!rc)
		rc = trace_cfg_write(t, &c);
	return rc ? complain(CTL_FAIL, "cannot switch tracing on: %s", strerror(-rc)) : CTL_OK;
}

/* Off first (only the flag changes), then the filter cleared. */
static int trace_switch_off(struct trace *t)
{
	struct xlb_trace_cfg c = { 0 };
	int rc = trace_cfg_read(t->cfg.fd, &c);

	c.enabled = 0;
	if (!rc)
		rc = trace_cfg_write(t, &c);
	if (!rc) {
		c = (struct xlb_trace_cfg){ 0 };
		rc = trace_cfg_write(t, &c);
	}
	return rc ? complain(CTL_FAIL,
			     "cannot switch tracing off: %s (it stays on until another "
			     "xlbctl trace ends)",
			     strerror(-rc))
		  : CTL_OK;
}

int trace_stats_read(const struct ctl *ctl, const struct ctl_map *m, struct xlb_trace_stats *s)
{
	return sum_percpu(ctl, m, 0, s, sizeof(*s));
}

static bool trace_done(const struct trace *t)
{
	return t->o.count >= 0 && t->printed >= t->o.count;
}

/* An event may name a service or backend added after the names were read. */
static void trace_refresh_names(struct trace *t, const struct xlb_trace_event *ev)
{
	bool known = (ev->svc_id == XLB_TRACE_NONE || svc_used(&t->st, ev->svc_id)) &&
		     (ev->backend_id == XLB_TRACE_NONE || be_used(&t->st, ev->backend_id));
	double now = monotonic_s();
	struct state st;

	if (known || now - t->names_t < TRACE_NAMES_REFRESH_S)
		return;
	t->names_t = now;
	if (load_state(t->ctl, &st)) {
		state_free(&st);
		return; /* keep the old names; load_state said why */
	}
	state_free(&t->st);
	t->st = st;
}

static const char *trace_prog_name(__u8 prog)
{
	switch (prog) {
	case XLB_TRACE_TC:
		return "tc";
	case XLB_TRACE_TC_UPLINK:
		return "tc-uplink";
	default:
		return "xdp";
	}
}

static bool reason_is_dnat(__u8 r)
{
	return r == XLB_R_FWD_REDIRECT || r == XLB_R_FWD_STACK || r == XLB_R_TC_FWD_REDIRECT ||
	       r == XLB_R_TC_FWD_STACK;
}

static bool reason_is_rnat(__u8 r)
{
	return r == XLB_R_RNAT_REDIRECT || r == XLB_R_RNAT_STACK;
}

static const char *trace_proto_name(const struct xlb_flow_key *k, char *buf, size_t len)
{
	switch (k->proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	}
	snprintf(buf, len, "ip-proto-%u", k->proto);
	return buf;
}

/* An address with its port for TCP and UDP, the bare address otherwise. */
static const char *trace_ep(const struct xlb_flow_key *k, const struct xlb_addr *a, __be16 port,
			    char *buf, size_t len)
{
	if (k->proto == IPPROTO_TCP || k->proto == IPPROTO_UDP)
		return format_ep(k->family, a, port, 0, buf, len);
	return xlb_format_addr(k->family, a, buf, len);
}

/* An event in words; NULL members are not known (or do not apply). */
struct trace_view {
	char when[40];
	char iface[IF_NAMESIZE + 1];
	const char *prog, *reason, *service, *backend, *proto;
	const char *src, *dst, *nat_src, *nat_dst; /* nat_*: after the rewrite */
	char be_buf[XLB_EP_STRLEN], proto_buf[24], reason_buf[24];
	char src_buf[XLB_EP_STRLEN], dst_buf[XLB_EP_STRLEN], nat_buf[XLB_EP_STRLEN];
};

/* Local time to the microsecond for a terminal, UTC in RFC 3339 for JSON. */
static void trace_format_time(const struct trace *t, __u64 ts_ns, bool utc, char *buf, size_t len)
{
	double wall = (double)ts_ns / 1e9 + t->wall_off;
	time_t sec = (time_t)wall;
	long usec = (long)((wall - (double)sec) * 1e6);
	struct tm tm;

	if (utc) {
		gmtime_r(&sec, &tm);
		strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(buf + strlen(buf), len - strlen(buf), ".%06ldZ", usec);
	} else {
		localtime_r(&sec, &tm);
		strftime(buf, len, "%H:%M:%S", &tm);
		snprintf(buf + strlen(buf), len - strlen(buf), ".%06ld", usec);
	}
}

static const char *trace_backend(const struct trace *t, const struct xlb_trace_event *ev,
				 struct trace_view *v)
{
	const struct xlb_flow_key *k = &ev->key;

	if (ev->backend_id != XLB_TRACE_NONE && be_used(&t->st, ev->backend_id))
		return format_backend(&t->st.be[ev->backend_id], v->be_buf, sizeof(v->be_buf));
	/* deleted since: the event itself still says where the packet went */
	if (reason_is_dnat(ev->reason))
		return format_ep(k->family, &ev->nat_addr, ev->nat_port, 0, v->be_buf,
				 sizeof(v->be_buf));
	if (reason_is_rnat(ev->reason))
		return format_ep(k->family, &k->src, k->sport, 0, v->be_buf, sizeof(v->be_buf));
	return NULL;
}

static void trace_view_of(const struct trace *t, const struct xlb_trace_event *ev, bool utc,
			  struct trace_view *v)
{
	const struct xlb_flow_key *k = &ev->key;

	memset(v, 0, sizeof(*v));
	trace_format_time(t, ev->ts_ns, utc, v->when, sizeof(v->when));
	if (!if_indextoname(ev->ifindex, v->iface))
		snprintf(v->iface, sizeof(v->iface), "%u", ev->ifindex);
	v->prog = trace_prog_name(ev->prog);
	if (ev->reason < XLB_R_MAX) {
		v->reason = xlb_reason_names[ev->reason];
	} else {
		snprintf(v->reason_buf, sizeof(v->reason_buf), "reason-%u", ev->reason);
		v->reason = v->reason_buf;
	}
	if (ev->svc_id != XLB_TRACE_NONE && svc_used(&t->st, ev->svc_id))
		v->service = t->st.svc[ev->svc_id].name;
	v->backend = trace_backend(t, ev, v);
	if (k->family != AF_INET && k->family != AF_INET6)
		return; /* not IP: no tuple */
	v->proto = trace_proto_name(k, v->proto_buf, sizeof(v->proto_buf));
	v->src = trace_ep(k, &k->src, k->sport, v->src_buf, sizeof(v->src_buf));
	v->dst = trace_ep(k, &k->dst, k->dport, v->dst_buf, sizeof(v->dst_buf));
	if (reason_is_dnat(ev->reason)) {
		v->nat_src = v->src;
		v->nat_dst =
			trace_ep(k, &ev->nat_addr, ev->nat_port, v->nat_buf, sizeof(v->nat_buf));
	} else if (reason_is_rnat(ev->reason)) {
		v->nat_src =
			trace_ep(k, &ev->nat_addr, ev->nat_port, v->nat_buf, sizeof(v->nat_buf));
		v->nat_dst = v->dst;
	}
}

static const char *dash(const char *s)
{
	return s ? s : "-";
}

/* TIME IFACE PROG REASON SERVICE BACKEND PROTO SRC -> DST [=> SRC -> DST]
 * len=N [new_flow], "-" for what does not apply. */
static void trace_print_text(const struct xlb_trace_event *ev, const struct trace_view *v)
{
	printf("%s %s %s %s %s %s %s ", v->when, v->iface, v->prog, v->reason, dash(v->service),
	       dash(v->backend), dash(v->proto));
	if (v->src)
		printf("%s -> %s", v->src, v->dst);
	else
		fputs("-", stdout);
	if (v->nat_src)
		printf(" => %s -> %s", v->nat_src, v->nat_dst);
	printf(" len=%u%s\n", ev->len, ev->flags & XLB_TRACE_EV_NEW_FLOW ? " new_flow" : "");
}

/* The packet's addresses, before the rewrite or after it; null when not IP. */
static void jset_tuple(json_t *o, const char *src, const char *dst)
{
	jset(o, "src", jstr_or_null(src));
	jset(o, "dst", jstr_or_null(dst));
}

static json_t *trace_after_json(const struct trace_view *v)
{
	json_t *after;

	if (!v->nat_src)
		return json_null();
	after = json_object();
	jset_tuple(after, v->nat_src, v->nat_dst);
	return after;
}

static void trace_print_json(const struct xlb_trace_event *ev, const struct trace_view *v)
{
	json_t *o = json_object();

	jset(o, "time", json_string(v->when));
	jset(o, "iface", json_string(v->iface));
	jset(o, "ifindex", jint(ev->ifindex));
	jset(o, "prog", json_string(v->prog));
	jset(o, "reason", json_string(v->reason));
	jset(o, "service", jstr_or_null(v->service));
	jset(o, "backend", jstr_or_null(v->backend));
	jset(o, "proto", jstr_or_null(v->proto));
	jset_tuple(o, v->src, v->dst);
	jset(o, "after", trace_after_json(v));
	jset(o, "len", jint(ev->len));
	jset(o, "new_flow", json_boolean(ev->flags & XLB_TRACE_EV_NEW_FLOW));
	emit_json_line(o);
}

static int trace_on_event(void *ctx, void *data, size_t size)
{
	struct trace *t = ctx;
	struct xlb_trace_event ev;
	struct trace_view v;

	if (t->discard || trace_done(t) || size < sizeof(ev))
		return 0;
	memcpy(&ev, data, sizeof(ev));
	trace_refresh_names(t, &ev);
	trace_view_of(t, &ev, t->ctl->json, &v);
	if (t->ctl->json)
		trace_print_json(&ev, &v);
	else
		trace_print_text(&ev, &v);
	t->printed++;
	return 0;
}

/* Milliseconds to wait for events now; 0 when --duration is over. */
static int trace_wait_ms(const struct trace *t, double deadline)
{
	double left;

	if (t->o.duration_s <= 0)
		return TRACE_POLL_MS;
	left = deadline - monotonic_s();
	if (left <= 0)
		return 0;
	return left * 1000 < TRACE_POLL_MS ? (int)(left * 1000) + 1 : TRACE_POLL_MS;
}

/* Prints events until --count, --duration, a signal or a closed output. */
static int trace_follow(struct trace *t, struct ring_buffer *rb)
{
	double deadline = monotonic_s() + t->o.duration_s;
	int ms;

	while (!trace_stop && !trace_done(t) && (ms = trace_wait_ms(t, deadline)) > 0) {
		int n = ring_buffer__poll(rb, ms);

		if (n < 0 && n != -EINTR)
			return complain(CTL_FAIL, "reading the trace ring: %s", strerror(-n));
		if (fflush(stdout) == EOF)
			return errno == EPIPE ? CTL_OK /* the reader is gone: done */
					      : complain(CTL_FAIL, "cannot write output: %s",
							 strerror(errno));
	}
	return CTL_OK;
}

/* Tracing is on only between switch_on and switch_off, whatever happens
 * in between. */
static int trace_session(struct trace *t)
{
	struct xlb_trace_stats before, after;
	struct ring_buffer *rb = ring_buffer__new(t->ring.fd, trace_on_event, t, NULL);
	int rc, off;

	if (!rb)
		return complain(CTL_FAIL, "cannot map the trace ring: %s", strerror(errno));
	/* left by a trace that was killed: not ours to print */
	t->discard = true;
	ring_buffer__consume(rb);
	t->discard = false;
	t->wall_off = clock_s(CLOCK_REALTIME) - clock_s(CLOCK_MONOTONIC);
	rc = trace_stats_read(t->ctl, &t->stats, &before) ? CTL_FAIL : CTL_OK;
	if (!rc) {
		trace_catch_signals();
		rc = trace_switch_on(t);
	}
	if (!rc) {
		rc = trace_follow(t, rb);
		off = trace_switch_off(t);
		rc = rc ? rc : off;
	}
	ring_buffer__free(rb);
	if (!trace_stats_read(t->ctl, &t->stats, &after) && after.lost > before.lost)
		fprintf(stderr,
			"xlbctl: %llu events lost: the ring buffer was full (--sample N "
			"traces fewer)\n",
			(unsigned long long)(after.lost - before.lost));
	return rc;
}

int cmd_trace(struct ctl *ctl, int argc, char **argv)
{
	struct trace t = { .ctl = ctl, .lock_fd = -1, .cfg.fd = -1, .ring.fd = -1, .stats.fd = -1 };
	struct sub_args a;
	int rc = parse_sub_args(ctl, "trace", argc, argv,
				SUB_JSON | SUB_SAMPLE | SUB_SERVICE | SUB_COUNT | SUB_DURATION, 0,
				0, &a);

	if (rc || (rc = parse_trace_args(&a, &t.o)) || (rc = require_pins(ctl)))
		return rc;
	rc = trace_open(&t);
	if (!rc)
		rc = trace_session(&t);
	trace_close(&t);
	return rc;
}
