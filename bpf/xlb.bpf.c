// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* xlb data path.
 *
 * xlb_ingress (XDP, on uplinks): a packet to a service VIP finds its flow
 * (or picks a backend by Maglev and records the flow), is DNATed, and is
 * redirected to the backend's interface (behind a bridge: the backend's
 * bridge port) when XDP can deliver there, or handed to the kernel to
 * forward otherwise.
 *
 * xlb_return (tc ingress, on backend-facing interfaces, and on the bridge
 * ports of bridged backends, where tc runs before the bridge takes the
 * frame): a backend's reply gets the VIP back as its source and goes out
 * toward the client, if it came from the backend's own link (behind a
 * bridge: from its MAC too); one from anywhere else is dropped. tc, not
 * XDP, because replies come from local stacks on veths: they carry
 * partial checksums and GSO, which only an skb-aware program can rewrite
 * and pass on correctly (XDP_REDIRECT of such frames was measured to
 * corrupt TCP checksums), and tc needs nothing from the backend's side of
 * the veth.
 *
 * xlb_peer_pass (XDP) does nothing but XDP_PASS: attached to the backend's
 * end of a veth, it makes the kernel accept XDP_REDIRECT into that veth.
 *
 * Each run of xlb_ingress, and each run of xlb_return that translates a
 * reply or refuses one from the wrong link, counts its verdict once in
 * xlb_reasons; while xlbctl trace runs, that verdict may also become one
 * event in the xlb_trace ring. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xlb/consts.h"
#include "xlb/hash.h"
#include "xlb/map_types.h"
#include "maps.bpf.h"
#include "choose.h"
#include "parse.h"
#include "csum.h"
#include "fib_cache.h"
#include "icmp.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

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

static __always_inline int reason_is_nat(__u32 r)
{
	return r == XLB_R_FWD_REDIRECT || r == XLB_R_FWD_STACK || r == XLB_R_RNAT_REDIRECT ||
	       r == XLB_R_RNAT_STACK;
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
	__u8 fwd = run->reason == XLB_R_FWD_REDIRECT || run->reason == XLB_R_FWD_STACK;

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

static __always_inline void flow_record(const struct xlb_pkt *p, __u32 svc_id, __u32 be_id)
{
	struct xlb_flow flow = { .backend_id = be_id, .svc_id = svc_id };

	if (bpf_map_update_elem(&xlb_flows, &p->key, &flow, BPF_ANY))
		count_reason(XLB_R_FLOW_INSERT_FAIL, 0);
}

/* Returns the backend id for this packet (0: none), setting *new_flow. */
static __always_inline __u32 backend_for_flow(const struct xlb_pkt *p, __u32 svc_id,
					      struct xlb_backend **bep, int *new_flow)
{
	struct xlb_flow *f = bpf_map_lookup_elem(&xlb_flows, &p->key);
	struct xlb_backend *be;
	__u32 id;

	if (f) {
		id = f->backend_id;
		be = backend_get(id);
		if (flow_still_valid(f, svc_id, be, xlb_is_syn(p))) {
			*bep = be;
			return id;
		}
	}
	id = maglev_pick(svc_id, &p->key);
	be = id ? backend_get(id) : NULL;
	if (!be || be->state != XLB_BE_ACTIVE || be->svc_id != svc_id)
		return 0;
	flow_record(p, svc_id, id);
	*new_flow = 1;
	*bep = be;
	return id;
}

/* Applies a checksum diff to the L4 header. A UDP/IPv4 checksum of 0
 * means "none" and stays 0; a computed 0 is sent as 0xffff (RFC 768). */
static __always_inline int l4_csum_apply(struct xlb_pkt *p, __u32 diff)
{
	if (p->key.proto == IPPROTO_TCP) {
		struct tcphdr *th = p->l4;

		if ((void *)(th + 1) > p->data_end)
			return -1;
		th->check = csum_apply(th->check, diff);
		return 0;
	}
	struct udphdr *uh = p->l4;

	if ((void *)(uh + 1) > p->data_end)
		return -1;
	if (uh->check == 0 && p->key.family == AF_INET)
		return 0;
	uh->check = csum_apply(uh->check, diff);
	if (uh->check == 0)
		uh->check = 0xffff;
	return 0;
}

/* Rewrites destination address and port to the backend's, updating the
 * IPv4 header checksum and the L4 checksum (whose pseudo-header covers the
 * address). */
static __always_inline int dnat(struct xlb_pkt *p, const struct xlb_backend *be)
{
	struct udphdr *ports = p->l4; /* TCP and UDP share the port layout */
	__u32 diff;

	if ((void *)(ports + 1) > p->data_end)
		return -1;
	diff = csum_diff16(0, ports->dest, be->port);
	ports->dest = be->port;
	if (p->key.family == AF_INET) {
		struct iphdr *ip = p->l3;

		if ((void *)(ip + 1) > p->data_end)
			return -1;
		diff = csum_diff32(diff, ip->daddr, be->addr.v4);
		ip->check = csum_apply(ip->check, csum_diff32(0, ip->daddr, be->addr.v4));
		ip->daddr = be->addr.v4;
	} else {
		struct ipv6hdr *ip6 = p->l3;

		if ((void *)(ip6 + 1) > p->data_end)
			return -1;
		diff = csum_diff_addr(diff, ip6->daddr.in6_u.u6_addr32, be->addr.v6, 4);
		__builtin_memcpy(ip6->daddr.in6_u.u6_addr32, be->addr.v6, 16);
	}
	return l4_csum_apply(p, diff);
}

static __always_inline int fib_params_fill(struct bpf_fib_lookup *fib, const struct xlb_pkt *p,
					   __u32 ifindex)
{
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->ifindex = ifindex;
	fib->l4_protocol = p->key.proto;
	if (p->key.family == AF_INET) {
		struct iphdr *ip = p->l3;

		if ((void *)(ip + 1) > p->data_end)
			return -1;
		fib->family = AF_INET;
		fib->tos = ip->tos;
		fib->tot_len = bpf_ntohs(ip->tot_len);
		fib->ipv4_src = ip->saddr;
		fib->ipv4_dst = ip->daddr;
	} else {
		struct ipv6hdr *ip6 = p->l3;

		if ((void *)(ip6 + 1) > p->data_end)
			return -1;
		fib->family = AF_INET6;
		fib->tot_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
		__builtin_memcpy(fib->ipv6_src, ip6->saddr.in6_u.u6_addr32, 16);
		__builtin_memcpy(fib->ipv6_dst, ip6->daddr.in6_u.u6_addr32, 16);
	}
	return 0;
}

/* TTL/hop limit: the balancer is a router hop on the redirect path. The
 * caller has checked it is above 1. */
static __always_inline void ttl_decrement(struct xlb_pkt *p)
{
	if (p->key.family == AF_INET) {
		struct iphdr *ip = p->l3;
		__u16 old, new;

		if ((void *)(ip + 1) > p->data_end)
			return;
		old = *(__u16 *)&ip->ttl;
		ip->ttl--;
		new = *(__u16 *)&ip->ttl;
		ip->check = csum_apply(ip->check, csum_diff16(0, old, new));
	} else {
		struct ipv6hdr *ip6 = p->l3;

		if ((void *)(ip6 + 1) > p->data_end)
			return;
		ip6->hop_limit--;
	}
}

static __always_inline int ttl_expiring(const struct xlb_pkt *p)
{
	if (p->key.family == AF_INET) {
		struct iphdr *ip = p->l3;

		return (void *)(ip + 1) > p->data_end || ip->ttl <= 1;
	}
	struct ipv6hdr *ip6 = p->l3;

	return (void *)(ip6 + 1) > p->data_end || ip6->hop_limit <= 1;
}

/* Sets the redirect target after a successful fib lookup; 0 if there is
 * none. The route's own interface when XDP can deliver there; a bridge
 * cannot take XDP frames, so behind one the backend's port comes from
 * xlb_bridge_ports (fib gave the backend's MAC), if that port is still a
 * tx port. bpf_redirect_map only records the target (the redirect happens
 * when the program returns XDP_REDIRECT) and answers XDP_PASS for a port
 * that is not in the map: one devmap lookup decides and targets, and the
 * bridge lookup costs only packets to bridged backends. */
static __always_inline int redirect_target_set(const struct bpf_fib_lookup *fib)
{
	struct xlb_bridge_port_key bkey = { .bridge_ifindex = fib->ifindex };
	__u32 *port;

	if (bpf_redirect_map(&xlb_tx_ports, fib->ifindex, XDP_PASS) == XDP_REDIRECT)
		return 1;
	__builtin_memcpy(bkey.mac, fib->dmac, ETH_ALEN);
	port = bpf_map_lookup_elem(&xlb_bridge_ports, &bkey);
	return port && bpf_redirect_map(&xlb_tx_ports, *port, XDP_PASS) == XDP_REDIRECT;
}

/* After DNAT: redirect straight to the backend's interface (or its bridge
 * port) when the route and neighbour are known and that interface accepts
 * XDP frames; else let the kernel forward the rewritten packet (it
 * resolves the neighbour). A recorded target that is not used (the
 * packet is dropped or passed) is ignored by the kernel. */
/* A packet already rewritten that cannot go on: bounds the parser checked
 * no longer hold, or a helper refused. Cannot happen, but if it does it is
 * counted like any drop, never left out of xlb_reasons. */
static __always_inline int drop_rewritten(struct xlb_run *run)
{
	verdict_count(run, XLB_R_DROP_TRUNCATED);
	return XDP_DROP;
}

static __always_inline int xdp_forward(struct xdp_md *ctx, struct xlb_run *run, int new_flow)
{
	struct xlb_pkt *p = run->p;
	struct bpf_fib_lookup fib;
	__u32 pop = p->vlan_bytes;
	struct ethhdr *eth;
	int rc;

	if (fib_params_fill(&fib, p, ctx->ingress_ifindex))
		return drop_rewritten(run);
	/* a new flow mostly comes from a new client: the cache would only
	 * cost it a cold slot (measured: up to 280 ns); its next packet
	 * fills it */
	rc = fib_lookup_cached(ctx, &fib, new_flow ? 0 : fib.tot_len, 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS || !redirect_target_set(&fib)) {
		verdict_count(run, XLB_R_FWD_STACK);
		return XDP_PASS;
	}
	ttl_decrement(p);
	/* backend links are untagged: drop the VLAN tags by moving the new
	 * Ethernet header up against the inner ethertype */
	if (pop > XLB_MAX_VLANS * 4)
		return drop_rewritten(run);
	eth = (void *)(long)ctx->data + pop;
	if ((void *)(eth + 1) > (void *)(long)ctx->data_end)
		return drop_rewritten(run);
	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
	if (pop && bpf_xdp_adjust_head(ctx, pop))
		return drop_rewritten(run);
	verdict_count(run, XLB_R_FWD_REDIRECT);
	return XDP_REDIRECT;
}

/* IPv6 has no header checksum. */
static __always_inline int ipv4_header_intact(const struct xlb_pkt *p)
{
	const struct iphdr *ip = p->l3;

	if (p->key.family != AF_INET)
		return 1;
	if ((void *)(ip + 1) > p->data_end)
		return 0;
	return ipv4_csum_ok(ip, ip->ihl, p->data_end);
}

/* What a router checks before it rewrites and forwards a packet: the TTL
 * (the kernel sends the ICMP for an expiring one), and the IPv4 header
 * checksum (RFC 1812 5.2.2: an incremental update would keep a wrong
 * checksum wrong, and the packet would reach the backend only to be
 * dropped there, after taking a flow). Returns the counted verdict, or
 * -1 to go on. */
static __always_inline int router_refuses(struct xlb_run *run)
{
	if (ttl_expiring(run->p)) {
		verdict_count(run, XLB_R_PASS_TTL);
		return XDP_PASS;
	}
	if (!ipv4_header_intact(run->p)) {
		verdict_count(run, XLB_R_DROP_BAD_HEADER);
		return XDP_DROP;
	}
	return -1;
}

static __always_inline int lb_service(struct xdp_md *ctx, struct xlb_run *run,
				      const struct xlb_svc *svc)
{
	struct xlb_pkt *p = run->p;
	struct xlb_backend *be = NULL;
	int new_flow = 0, verdict;
	__u32 be_id;

	run->svc_id = svc->id;
	verdict = router_refuses(run);
	if (verdict >= 0)
		return verdict;
	be_id = backend_for_flow(p, svc->id, &be, &new_flow);
	if (!be_id || !be) {
		verdict_count(run, XLB_R_DROP_NO_BACKEND);
		return XDP_DROP;
	}
	run->be_id = be_id;
	run->new_flow = new_flow;
	count_flow(&xlb_svc_stats, svc->id, p->len, new_flow);
	count_flow(&xlb_be_stats, be_id, p->len, new_flow);
	if (dnat(p, be))
		return drop_rewritten(run);
	run->nat = &be->addr;
	return xdp_forward(ctx, run, new_flow);
}

static __always_inline int addr_eq(const struct xlb_addr *a, const struct xlb_addr *b)
{
	return a->v6[0] == b->v6[0] && a->v6[1] == b->v6[1] && a->v6[2] == b->v6[2] &&
	       a->v6[3] == b->v6[3];
}

/* The backend of the flow an ICMP error to a VIP is about: the quoted
 * packet is one the flow's backend sent (VIP:vport -> client), so the
 * flow's key is the quote turned around. Only a flow xlb holds counts: an
 * error about anything else is the stack's. */
static __always_inline struct xlb_backend *icmp_flow_backend(const struct icmp_err *e, __u32 svc_id,
							     __u32 *be_id)
{
	struct xlb_flow_key fkey = {
		.src = e->q.dst,
		.dst = e->q.src,
		.sport = e->q.dport,
		.dport = e->q.sport,
		.proto = e->q.proto,
		.family = e->q.family,
	};
	struct xlb_flow *f = bpf_map_lookup_elem(&xlb_flows, &fkey);
	struct xlb_backend *be;

	if (!f)
		return NULL;
	be = backend_get(f->backend_id);
	if (!flow_still_valid(f, svc_id, be, 0))
		return NULL;
	*be_id = f->backend_id;
	return be;
}

/* An ICMP error sent to a VIP about a packet of a balanced flow goes to
 * that flow's backend, translated (icmp.h); every other ICMP packet is
 * passed to the stack, as before. */
static __always_inline int icmp_to_vip(struct xdp_md *ctx, struct xlb_run *run)
{
	struct xlb_pkt *p = run->p;
	struct xlb_svc_key skey = {};
	struct xlb_backend *be;
	struct icmp_err e;
	struct xlb_svc *svc;
	__u32 be_id = 0;
	int verdict;

	if (icmp_err_parse(p, &e) || !addr_eq(&e.q.src, &p->key.dst))
		goto pass;
	skey.vip = e.q.src;
	skey.port = e.q.sport;
	skey.proto = e.q.proto;
	skey.family = e.q.family;
	svc = bpf_map_lookup_elem(&xlb_services, &skey);
	if (!svc)
		goto pass;
	be = icmp_flow_backend(&e, svc->id, &be_id);
	if (!be)
		goto pass;
	run->svc_id = svc->id;
	verdict = router_refuses(run);
	if (verdict >= 0)
		return verdict;
	run->be_id = be_id;
	count_flow(&xlb_svc_stats, svc->id, p->len, 0);
	count_flow(&xlb_be_stats, be_id, p->len, 0);
	if (icmp_err_nat(p, &e, ICMP_NAT_TO_BACKEND, &be->addr, be->port))
		return drop_rewritten(run);
	run->nat = &be->addr;
	return xdp_forward(ctx, run, 0);
pass:
	verdict_count(run, XLB_R_PASS_ICMP);
	return XDP_PASS;
}

static __always_inline int ingress_decide(struct xdp_md *ctx, struct xlb_run *run)
{
	struct xlb_pkt *p = run->p;
	struct xlb_svc_key skey = {};
	struct xlb_svc *svc;
	int ret;

	ret = xlb_parse(p, (void *)(long)ctx->data, (void *)(long)ctx->data_end, 0);
	if (ret == XLB_R_PASS_ICMP)
		return icmp_to_vip(ctx, run);
	if (ret != PARSE_OK) {
		verdict_count(run, ret);
		return ret >= XLB_R_DROP_TRUNCATED && ret <= XLB_R_DROP_BAD_HEADER ? XDP_DROP
										   : XDP_PASS;
	}
	skey.vip = p->key.dst;
	skey.port = p->key.dport;
	skey.proto = p->key.proto;
	skey.family = p->key.family;
	svc = bpf_map_lookup_elem(&xlb_services, &skey);
	if (!svc) {
		verdict_count(run, XLB_R_PASS_NOT_SERVICE);
		return XDP_PASS;
	}
	return lb_service(ctx, run, svc);
}

SEC("xdp")
int xlb_ingress(struct xdp_md *ctx)
{
	struct xlb_run run;
	struct xlb_pkt p;

	run_init(&run, &p);
	return trace_run(&run, ingress_decide(ctx, &run), &ctx->ingress_ifindex, XLB_TRACE_XDP);
}

SEC("xdp")
int xlb_peer_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* ---- return path (tc) ---------------------------------------------------- */

/* The IPv4 header checksum and source address, adjacent in the header:
 * written with one store. */
struct ipv4_check_saddr {
	__sum16 check;
	__be32 saddr;
} __attribute__((packed));

/* Source rewrite. The L4 checksum goes through the skb checksum helper,
 * which keeps partial (offloaded) checksums correct; the IPv4 header
 * checksum is never offloaded and is updated here. */
static __always_inline int snat_skb(struct __sk_buff *skb, const struct xlb_pkt *p,
				    const struct xlb_ep_listener *r)
{
	__u32 l4_off = p->l4 - p->data;
	__u32 csum_off = p->l4_check_off;
	__u32 l3_off = p->l3 - p->data;
	__u64 mangled = p->key.proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;

	if (p->key.family == AF_INET) {
		struct iphdr *ip = p->l3;
		struct ipv4_check_saddr hdr = { .saddr = r->vip.v4 };
		__be32 old = p->key.src.v4;

		if ((void *)(ip + 1) > p->data_end)
			return -1;
		hdr.check = csum_apply(ip->check, csum_diff32(0, old, hdr.saddr));
		/* the helpers below invalidate ip */
		if (bpf_l4_csum_replace(skb, csum_off, old, hdr.saddr,
					BPF_F_PSEUDO_HDR | mangled | 4) ||
		    bpf_skb_store_bytes(skb, l3_off + offsetof(struct iphdr, check), &hdr,
					sizeof(hdr), 0))
			return -1;
	} else {
		__u32 diff = csum_diff_addr(0, p->key.src.v6, r->vip.v6, 4);

		if (bpf_l4_csum_replace(skb, csum_off, 0, diff, BPF_F_PSEUDO_HDR | mangled) ||
		    bpf_skb_store_bytes(skb, l3_off + offsetof(struct ipv6hdr, saddr), r->vip.v6,
					16, 0))
			return -1;
	}
	if (bpf_l4_csum_replace(skb, csum_off, p->key.sport, r->vport, mangled | 2) ||
	    bpf_skb_store_bytes(skb, l4_off, &r->vport, 2, 0))
		return -1;
	return 0;
}

/* A reply half rewritten (a helper refused): dropped, and counted. */
static __always_inline int shot_rewritten(struct xlb_run *run)
{
	verdict_count(run, XLB_R_DROP_TRUNCATED);
	return TC_ACT_SHOT;
}

static __always_inline int mac_eq(const __u8 *a, const __u8 *b)
{
	__u8 diff = 0;

#pragma unroll
	for (int i = 0; i < ETH_ALEN; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/* Whether the kernel's neighbour entry for the reply's source, on link,
 * has MAC mac: for a bridged backend whose MAC xlbd has not read yet (it
 * looks again 250 ms after a new backend appears), or has read before it
 * changed (a container restarted with the same address). An output
 * lookup, so the answer does not depend on forwarding from link. */
static __always_inline int neigh_mac_is(struct __sk_buff *skb, const struct xlb_pkt *p, __u32 link,
					const __u8 *mac)
{
	struct bpf_fib_lookup fib;

	__builtin_memset(&fib, 0, sizeof(fib));
	fib.family = p->key.family;
	fib.ifindex = link;
	if (p->key.family == AF_INET) {
		fib.ipv4_src = p->key.dst.v4;
		fib.ipv4_dst = p->key.src.v4;
	} else {
		__builtin_memcpy(fib.ipv6_src, p->key.dst.v6, 16);
		__builtin_memcpy(fib.ipv6_dst, p->key.src.v6, 16);
	}
	return bpf_fib_lookup(skb, &fib, sizeof(fib), BPF_FIB_LOOKUP_OUTPUT) ==
		       BPF_FIB_LKUP_RET_SUCCESS &&
	       fib.ifindex == link && mac_eq(fib.dmac, mac);
}

/* Whether a reply of a balanced flow (or a backend's ICMP error about
 * one) arrived where its backend is: on the link xlbd learned for the
 * backend's address (xlb_be_links), and, when that link is a bridge,
 * from the backend's MAC, since every port's frames come up through the
 * bridge. Behind a bridge the backend's own port counts too: its program
 * sees the replies before the bridge does. Anything else is someone
 * sending from the backend's address, who must not speak as the VIP. */
static __always_inline int reply_on_backend_link(struct __sk_buff *skb, const struct xlb_pkt *p)
{
	struct xlb_be_link_key k = { .addr = p->key.src, .family = p->key.family };
	struct xlb_be_link *l = bpf_map_lookup_elem(&xlb_be_links, &k);
	__u32 in = skb->ingress_ifindex;
	__u8 smac[ETH_ALEN];

	if (!l || (in != l->ifindex && (!l->port_ifindex || in != l->port_ifindex)))
		return 0;
	if (!(l->flags & XLB_BE_LINK_F_BRIDGE))
		return 1;
	if (p->eth + 1 > (struct ethhdr *)p->data_end)
		return 0;
	__builtin_memcpy(smac, p->eth->h_source, ETH_ALEN);
	if ((l->flags & XLB_BE_LINK_F_MAC) && mac_eq(smac, l->mac))
		return 1;
	return neigh_mac_is(skb, p, l->ifindex, smac);
}

/* A reply from elsewhere than its backend's link: dropped, and counted. */
static __always_inline int shot_forged(struct xlb_run *run)
{
	verdict_count(run, XLB_R_DROP_REPLY_LINK);
	return TC_ACT_SHOT;
}

/* The rewrite moved no header but invalidated the packet pointers (the
 * skb's data may have been reallocated): point them again at the same
 * offsets instead of parsing the packet a second time. -1 if the headers
 * do not fit as before. */
static __always_inline int pkt_reload(struct xlb_pkt *p, struct __sk_buff *skb)
{
	__u32 l3_off = sizeof(struct ethhdr) + p->vlan_bytes;

	if (l3_off > sizeof(struct ethhdr) + XLB_MAX_VLANS * 4)
		return -1;
	p->data = (void *)(long)skb->data;
	p->data_end = (void *)(long)skb->data_end;
	p->eth = p->data;
	p->l3 = p->data + l3_off;
	return 0;
}

static __always_inline int tc_forward(struct __sk_buff *skb, struct xlb_run *run)
{
	struct xlb_pkt *p = run->p;
	struct bpf_fib_lookup fib;
	int rc;

	if (pkt_reload(p, skb) || ttl_expiring(p) ||
	    fib_params_fill(&fib, p, skb->ingress_ifindex)) {
		verdict_count(run, XLB_R_RNAT_STACK);
		return TC_ACT_OK;
	}
	/* no length: the helper then checks the skb against the egress MTU
	 * itself, which passes a GSO skb whose segments fit. Given the IP
	 * length, it compared a GSO reply's 64 KB with the MTU and answered
	 * FRAG_NEEDED, so every large reply went through the kernel. */
	fib.tot_len = 0;
	rc = fib_lookup_cached(skb, &fib, skb->gso_size ? 0 : skb->len, 1);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH) {
		verdict_count(run, XLB_R_RNAT_STACK);
		return TC_ACT_OK;
	}
	/* a router hop on both paths: the neighbour helper does not touch TTL */
	ttl_decrement(p);
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		verdict_count(run, XLB_R_RNAT_REDIRECT);
		return bpf_redirect_neigh(fib.ifindex, NULL, 0, 0);
	}
	if (p->eth + 1 > (struct ethhdr *)p->data_end) {
		verdict_count(run, XLB_R_RNAT_STACK);
		return TC_ACT_OK;
	}
	__builtin_memcpy(p->eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(p->eth->h_source, fib.smac, ETH_ALEN);
	verdict_count(run, XLB_R_RNAT_REDIRECT);
	return bpf_redirect(fib.ifindex, 0);
}

/* Whether the reply rk belongs to a flow that listener l balanced to the
 * backend the reply comes from: the flow's key is the reply's turned
 * around, with the listener's VIP and port. Returns that backend's id, or
 * 0 (no backend has slot 0). */
static __always_inline __u32 reply_of_flow(const struct xlb_flow_key *rk,
					   const struct xlb_ep_listener *l)
{
	struct xlb_flow_key fkey = {
		.src = rk->dst,
		.dst = l->vip,
		.sport = rk->dport,
		.dport = l->vport,
		.proto = rk->proto,
		.family = rk->family,
	};
	struct xlb_backend *be;
	struct xlb_flow *f;
	__u32 id;

	f = bpf_map_lookup_elem(&xlb_flows, &fkey);
	if (!f || f->svc_id != l->svc_id)
		return 0;
	id = f->backend_id;
	be = backend_get(id);
	if (be && be->svc_id == l->svc_id && be->port == rk->sport && addr_eq(&be->addr, &rk->src))
		return id;
	return 0;
}

/* The listener whose flow the reply rk answers, or NULL; *be_id gets the
 * replying backend's id. */
static __always_inline const struct xlb_ep_listener *rnat_find(const struct xlb_flow_key *rk,
							       __u32 *be_id)
{
	struct xlb_ep_key ek = {
		.addr = rk->src,
		.port = rk->sport,
		.proto = rk->proto,
		.family = rk->family,
	};
	struct xlb_ep_listeners *eps = bpf_map_lookup_elem(&xlb_rnat_eps, &ek);

	if (!eps)
		return NULL;
	for (__u32 i = 0; i < XLB_EP_MAX_LISTENERS; i++) {
		if (i >= eps->n)
			break;
		*be_id = reply_of_flow(rk, &eps->l[i]);
		if (*be_id)
			return &eps->l[i];
	}
	return NULL;
}

/* An ICMP error a backend sent about a client's packet of a balanced
 * flow: the quote (client -> backend) turned around is a reply of that
 * flow. Only an error from the backend itself is translated: the outer
 * source becomes the VIP, which must not stand in for a router. */
static __always_inline int icmp_from_backend(struct __sk_buff *skb, struct xlb_run *run)
{
	const struct xlb_ep_listener *r;
	struct xlb_pkt *p = run->p;
	struct xlb_flow_key rk;
	struct icmp_err e;
	__u32 be_id = 0;

	if (icmp_err_parse(p, &e) || !addr_eq(&e.q.dst, &p->key.src))
		return TC_ACT_OK;
	rk = (struct xlb_flow_key){
		.src = e.q.dst,
		.dst = e.q.src,
		.sport = e.q.dport,
		.dport = e.q.sport,
		.proto = e.q.proto,
		.family = e.q.family,
	};
	r = rnat_find(&rk, &be_id);
	if (!r || !ipv4_header_intact(p))
		return TC_ACT_OK;
	run->svc_id = r->svc_id;
	run->be_id = be_id;
	if (!reply_on_backend_link(skb, p))
		return shot_forged(run);
	if (icmp_err_nat(p, &e, ICMP_NAT_TO_VIP, &r->vip, r->vport))
		return shot_rewritten(run);
	run->nat = &r->vip;
	return tc_forward(skb, run);
}

/* Headers of locally built skbs are linear; pull in case one is not. */
#define XLB_PULL_LEN 128

/* Only replies of balanced flows are counted (and traced): everything
 * else on a backend link is the kernel's business. */
static __always_inline int return_decide(struct __sk_buff *skb, struct xlb_run *run)
{
	const struct xlb_ep_listener *r;
	struct xlb_pkt *p = run->p;
	__u32 be_id = 0;
	int ret;

	if (skb->data_end - skb->data < XLB_PULL_LEN && skb->len > skb->data_end - skb->data)
		bpf_skb_pull_data(skb, skb->len < XLB_PULL_LEN ? skb->len : XLB_PULL_LEN);
	ret = xlb_parse(p, (void *)(long)skb->data, (void *)(long)skb->data_end, skb->len);
	if (ret == XLB_R_PASS_ICMP)
		return icmp_from_backend(skb, run);
	if (ret != PARSE_OK)
		return TC_ACT_OK;
	r = rnat_find(&p->key, &be_id);
	/* a reply with a broken IPv4 header is left to the kernel, which
	 * drops it; rewriting would keep the checksum wrong */
	if (!r || !ipv4_header_intact(p))
		return TC_ACT_OK;
	run->svc_id = r->svc_id;
	run->be_id = be_id;
	if (!reply_on_backend_link(skb, p))
		return shot_forged(run);
	if (snat_skb(skb, p, r))
		return shot_rewritten(run);
	run->nat = &r->vip;
	return tc_forward(skb, run);
}

SEC("tc")
int xlb_return(struct __sk_buff *skb)
{
	struct xlb_run run;
	struct xlb_pkt p;

	run_init(&run, &p);
	return trace_run(&run, return_decide(skb, &run), &skb->ingress_ifindex, XLB_TRACE_TC);
}

/* ---- proxy sockmap path (sk_skb) -------------------------------------------- */

/* Moves each received chunk of a proxied socket to its peer's send side.
 * A zero-length skb is the FIN marker: dropped, since xlbd passes the FIN
 * on itself once every counted byte has reached the peer. */
SEC("sk_skb/stream_verdict")
int xlb_sk_verdict(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct xlb_sock_peer *pe = bpf_map_lookup_elem(&xlb_sock_peer, &cookie);

	if (!pe)
		return SK_PASS;
	if (skb->len == 0)
		return SK_DROP;
	__sync_fetch_and_add(&pe->bytes, skb->len);
	return bpf_sk_redirect_hash(skb, &xlb_sock_pairs, &pe->peer_cookie, 0);
}
