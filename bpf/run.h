/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* One run of a data path program: what it decided (struct xlb_run), the
 * verdict counted once in xlb_reasons, and, while xlbctl trace runs, the
 * verdict as an event in the xlb_trace ring. Every program that counts a
 * verdict (the uplink programs, XDP and tc, and the return path) goes
 * through here, so their counters and events read alike. */
#ifndef XLB_RUN_H
#define XLB_RUN_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "xlb/map_types.h"
#include "maps.bpf.h"
#include "choose.h"
#include "parse.h"

/* What one run of a program decided, for its trace event. Filled as the
 * run learns it, and only what the trace needs: every store here is paid
 * by every packet, traced or not. */
struct xlb_run {
	struct xlb_pkt *p;
	/* once DNAT is done: the backend written in as destination; once
	 * reverse NAT is: the listener whose VIP was written in as source */
	const struct xlb_addr *nat; /* an xlb_addr followed by its port */
	__u32 svc_id;		    /* XLB_TRACE_NONE until known */
	__u32 be_id;		    /* XLB_TRACE_NONE until known */
	__u32 reason;		    /* XLB_R_MAX until counted */
	__u8 new_flow;		    /* the packet started (or re-picked) its flow */
};

/* The rewritten endpoint of either kind, read through run->nat. */
_Static_assert(__builtin_offsetof(struct xlb_backend, port) == sizeof(struct xlb_addr) &&
		       __builtin_offsetof(struct xlb_ep_listener, vport) == sizeof(struct xlb_addr),
	       "a backend's and a listener's port follow their address");

static __always_inline void run_init(struct xlb_run *run, struct xlb_pkt *p)
{
	run->p = p;
	run->nat = NULL;
	run->svc_id = XLB_TRACE_NONE;
	run->be_id = XLB_TRACE_NONE;
	run->reason = XLB_R_MAX;
	run->new_flow = 0;
}

/* The run's verdict: counted here, once per run (flow_insert_fail is an
 * extra count on a forwarded packet, not a verdict). */
static __always_inline void verdict_count(struct xlb_run *run, __u32 reason)
{
	count_reason(reason, run->p->len);
	run->reason = reason;
}

/* ---- tracing (xlbctl trace) -------------------------------------------------- */

static __always_inline struct xlb_trace_stats *trace_stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&xlb_trace_stats, &zero);
}

/* A forward to a backend, by either uplink program. */
static __always_inline int reason_is_dnat(__u32 r)
{
	return r == XLB_R_FWD_REDIRECT || r == XLB_R_FWD_STACK || r == XLB_R_TC_FWD_REDIRECT ||
	       r == XLB_R_TC_FWD_STACK;
}

static __always_inline int reason_is_nat(__u32 r)
{
	return reason_is_dnat(r) || r == XLB_R_RNAT_REDIRECT || r == XLB_R_RNAT_STACK;
}

/* Whether this run's verdict becomes an event. */
static __always_inline int trace_wanted(const struct xlb_trace_cfg *cfg, const struct xlb_run *run)
{
	if (run->reason >= XLB_R_MAX)
		return 0; /* not counted: not ours (tc), or an impossible bound */
	if ((cfg->flags & XLB_TRACE_F_SERVICE) && cfg->svc_id != run->svc_id)
		return 0;
	return cfg->sample_n <= 1 || bpf_get_prandom_u32() % cfg->sample_n == 0;
}

static __always_inline void trace_fill(struct xlb_trace_event *ev, const struct xlb_run *run,
				       __u32 ifindex, __u8 prog)
{
	__u8 fwd = reason_is_dnat(run->reason);

	__builtin_memset(ev, 0, sizeof(*ev));
	ev->ts_ns = bpf_ktime_get_ns();
	ev->ifindex = ifindex;
	ev->len = run->p->len;
	ev->svc_id = run->svc_id;
	ev->backend_id = run->be_id;
	ev->key = run->p->key;
	if (run->nat && reason_is_nat(run->reason)) {
		ev->nat_addr = *run->nat;
		ev->nat_port = *(const __be16 *)(run->nat + 1);
	}
	ev->prog = prog;
	ev->reason = (__u8)run->reason;
	ev->flags = fwd && run->new_flow ? XLB_TRACE_EV_NEW_FLOW : 0;
}

/* Out of line: inlined, the compiler copied the event's code into every
 * return path of the program (the tc program grew from 1085 to 1977
 * instructions); called, it is one copy and costs nothing while off. A
 * full ring loses the event. */
static __noinline int trace_emit(const struct xlb_trace_cfg *cfg, const struct xlb_run *run,
				 __u32 ifindex, __u8 prog)
{
	struct xlb_trace_stats *st;
	struct xlb_trace_event *ev;

	if (!trace_wanted(cfg, run))
		return 0;
	st = trace_stats();
	ev = bpf_ringbuf_reserve(&xlb_trace, sizeof(*ev), 0);
	if (!ev) {
		if (st)
			st->lost++;
		return 0;
	}
	trace_fill(ev, run, ifindex, prog);
	bpf_ringbuf_submit(ev, 0);
	if (st)
		st->events++;
	return 1;
}

/* After the verdict, which it never changes. Off, this is all tracing
 * costs a packet (with the stores into run): one array lookup, which the
 * verifier inlines, and a branch. ifindex is where the packet arrived. */
static __always_inline int trace_run(const struct xlb_run *run, int verdict, const __u32 *ifindex,
				     __u8 prog)
{
	__u32 zero = 0;
	struct xlb_trace_cfg *cfg = bpf_map_lookup_elem(&xlb_trace_cfg, &zero);

	if (cfg && cfg->enabled)
		trace_emit(cfg, run, *ifindex, prog);
	return verdict;
}

#endif
