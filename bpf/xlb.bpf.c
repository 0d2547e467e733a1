// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* xlb data path.
 *
 * xlb_ingress (XDP, on uplinks): a packet to a service VIP finds its flow
 * (or picks a backend by Maglev and records the flow), is DNATed, and is
 * redirected to the backend's interface (behind a bridge: the backend's
 * bridge port) when XDP can deliver there, or handed to the kernel to
 * forward otherwise.
 *
 * xlb_ingress_tc (tc ingress, on uplinks whose frames carry partial
 * checksums: veths from a local stack): the same decision (ingress.h),
 * the DNAT through the skb checksum helpers, and a bpf_redirect to the
 * route's interface (a bridge takes the skb itself and forwards it to
 * the backend's port), bpf_redirect_neigh while the neighbour is
 * unresolved, or the kernel's forwarding.
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
 * Each run of xlb_ingress and xlb_ingress_tc, and each run of xlb_return
 * that translates a reply or refuses one from the wrong link, counts its
 * verdict once in xlb_reasons (run.h); while xlbctl trace runs, that
 * verdict may also become one event in the xlb_trace ring. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xlb/consts.h"
#include "xlb/hash.h"
#include "xlb/map_types.h"
#include "maps.bpf.h"
#include "choose.h"
#include "run.h"
#include "ingress.h"
#include "parse.h"
#include "csum.h"
#include "fib_cache.h"
#include "icmp.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

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

/* A packet already rewritten that cannot go on: bounds the parser checked
 * no longer hold, or a helper refused. Cannot happen, but if it does it is
 * counted like any drop, never left out of xlb_reasons. */
static __always_inline int drop_rewritten(struct xlb_run *run)
{
	verdict_count(run, XLB_R_DROP_TRUNCATED);
	return XDP_DROP;
}

/* After DNAT: redirect straight to the backend's interface (or its bridge
 * port) when the route and neighbour are known and that interface accepts
 * XDP frames; else let the kernel forward the rewritten packet (it
 * resolves the neighbour). A recorded target that is not used (the
 * packet is dropped or passed) is ignored by the kernel. */
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

/* The rewrite the decision asked for, in place. */
static __always_inline int xdp_rewrite(struct xlb_pkt *p, const struct ingress_pick *pick,
				       int verdict)
{
	const struct xlb_backend *be = pick->be;

	if (verdict == INGRESS_DNAT)
		return dnat(p, be);
	return icmp_err_nat(p, &pick->icmp, ICMP_NAT_TO_BACKEND, &be->addr, be->port);
}

static __always_inline int ingress_xdp(struct xdp_md *ctx, struct xlb_run *run)
{
	struct ingress_pick pick;
	int verdict;

	verdict =
		ingress_decide(run, &pick, (void *)(long)ctx->data, (void *)(long)ctx->data_end, 0);
	if (verdict != INGRESS_DNAT && verdict != INGRESS_ICMP_NAT)
		return verdict;
	if (xdp_rewrite(run->p, &pick, verdict))
		return drop_rewritten(run);
	run->nat = &pick.be->addr;
	return xdp_forward(ctx, run, run->new_flow);
}

SEC("xdp")
int xlb_ingress(struct xdp_md *ctx)
{
	struct xlb_run run;
	struct xlb_pkt p;

	run_init(&run, &p);
	return trace_run(&run, ingress_xdp(ctx, &run), &ctx->ingress_ifindex, XLB_TRACE_XDP);
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

/* After a rewrite on the skb path (a reply's reverse NAT, an uplink's
 * DNAT): redirect to the route's interface with the MACs set, through the
 * neighbour helper while the neighbour is unresolved, or let the kernel
 * forward the packet. The verdict is counted as redirect or stack, each
 * path with its own reasons. */
static __always_inline int tc_forward(struct __sk_buff *skb, struct xlb_run *run,
				      __u32 reason_redirect, __u32 reason_stack)
{
	struct xlb_pkt *p = run->p;
	struct bpf_fib_lookup fib;
	int rc;

	if (pkt_reload(p, skb) || ttl_expiring(p) ||
	    fib_params_fill(&fib, p, skb->ingress_ifindex)) {
		verdict_count(run, reason_stack);
		return TC_ACT_OK;
	}
	/* no length: the helper then checks the skb against the egress MTU
	 * itself, which passes a GSO skb whose segments fit. Given the IP
	 * length, it compared a GSO reply's 64 KB with the MTU and answered
	 * FRAG_NEEDED, so every large reply went through the kernel. */
	fib.tot_len = 0;
	rc = fib_lookup_cached(skb, &fib, skb->gso_size ? 0 : skb->len, 1);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH) {
		verdict_count(run, reason_stack);
		return TC_ACT_OK;
	}
	/* a router hop on both paths: the neighbour helper does not touch TTL */
	ttl_decrement(p);
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		verdict_count(run, reason_redirect);
		return bpf_redirect_neigh(fib.ifindex, NULL, 0, 0);
	}
	if (p->eth + 1 > (struct ethhdr *)p->data_end) {
		verdict_count(run, reason_stack);
		return TC_ACT_OK;
	}
	__builtin_memcpy(p->eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(p->eth->h_source, fib.smac, ETH_ALEN);
	verdict_count(run, reason_redirect);
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
	return tc_forward(skb, run, XLB_R_RNAT_REDIRECT, XLB_R_RNAT_STACK);
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
	return tc_forward(skb, run, XLB_R_RNAT_REDIRECT, XLB_R_RNAT_STACK);
}

SEC("tc")
int xlb_return(struct __sk_buff *skb)
{
	struct xlb_run run;
	struct xlb_pkt p;

	run_init(&run, &p);
	return trace_run(&run, return_decide(skb, &run), &skb->ingress_ifindex, XLB_TRACE_TC);
}

/* ---- uplink, tc (where XDP cannot be correct) -------------------------------- */

/* Destination rewrite on the skb path: every checksum through the skb
 * helpers, which keep a partial (offloaded) L4 checksum a partial one
 * and a complete skb->csum in step; in place, XDP's incremental update
 * would turn a partial checksum into garbage, and the backend would drop
 * the packet. A UDP/IPv4 checksum of 0 ("none") stays 0
 * (BPF_F_MARK_MANGLED_0), and a computed 0 goes out as 0xffff. */
static __always_inline int dnat_skb(struct __sk_buff *skb, const struct xlb_pkt *p,
				    const struct xlb_backend *be)
{
	__u32 l4_off = p->l4 - p->data;
	__u32 csum_off = p->l4_check_off;
	__u32 l3_off = p->l3 - p->data;
	__u64 mangled = p->key.proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;

	if (p->key.family == AF_INET) {
		__be32 old = p->key.dst.v4, new = be->addr.v4;

		if (bpf_l4_csum_replace(skb, csum_off, old, new, BPF_F_PSEUDO_HDR | mangled | 4) ||
		    bpf_l3_csum_replace(skb, l3_off + offsetof(struct iphdr, check), old, new, 4) ||
		    bpf_skb_store_bytes(skb, l3_off + offsetof(struct iphdr, daddr), &new, 4, 0))
			return -1;
	} else {
		__u32 diff = csum_diff_addr(0, p->key.dst.v6, be->addr.v6, 4);

		if (bpf_l4_csum_replace(skb, csum_off, 0, diff, BPF_F_PSEUDO_HDR | mangled) ||
		    bpf_skb_store_bytes(skb, l3_off + offsetof(struct ipv6hdr, daddr), be->addr.v6,
					16, 0))
			return -1;
	}
	if (bpf_l4_csum_replace(skb, csum_off, p->key.dport, be->port, mangled | 2) ||
	    bpf_skb_store_bytes(skb, l4_off + offsetof(struct udphdr, dest), &be->port, 2, 0))
		return -1;
	return 0;
}

/* The rewrite the decision asked for. An ICMP error's checksums are
 * never offloaded: it is translated in place, as on the XDP path, before
 * any helper moves the packet. */
static __always_inline int skb_rewrite(struct __sk_buff *skb, struct xlb_pkt *p,
				       const struct ingress_pick *pick, int verdict)
{
	const struct xlb_backend *be = pick->be;

	if (verdict == INGRESS_DNAT)
		return dnat_skb(skb, p, be);
	return icmp_err_nat(p, &pick->icmp, ICMP_NAT_TO_BACKEND, &be->addr, be->port);
}

/* Backend links are untagged, as on the XDP path. On the skb path the
 * kernel has already moved the outer tag into skb->vlan_tci; a second
 * (802.1ad) tag is still in the frame. Each pop takes one, the one in
 * vlan_tci first. */
static __always_inline int skb_vlans_pop(struct __sk_buff *skb, struct xlb_pkt *p)
{
	__u32 tags = p->vlan_bytes / 4 + (skb->vlan_present ? 1 : 0);

	for (__u32 i = 0; i < XLB_MAX_VLANS + 1; i++) {
		if (i >= tags)
			break;
		if (bpf_skb_vlan_pop(skb))
			return -1;
	}
	p->vlan_bytes = 0;
	return 0;
}

/* A packet the decision passes goes on to the next filter, as XDP_PASS
 * hands a packet on to tc: on a link that is also a backend's, the
 * return filter must still see the replies. */
static __always_inline int ingress_tc_verdict(int verdict)
{
	return verdict == INGRESS_DROP ? TC_ACT_SHOT : TC_ACT_UNSPEC;
}

static __always_inline int ingress_tc(struct __sk_buff *skb, struct xlb_run *run)
{
	struct ingress_pick pick;
	int verdict;

	if (skb->data_end - skb->data < XLB_PULL_LEN && skb->len > skb->data_end - skb->data)
		bpf_skb_pull_data(skb, skb->len < XLB_PULL_LEN ? skb->len : XLB_PULL_LEN);
	verdict = ingress_decide(run, &pick, (void *)(long)skb->data, (void *)(long)skb->data_end,
				 skb->len);
	if (verdict != INGRESS_DNAT && verdict != INGRESS_ICMP_NAT)
		return ingress_tc_verdict(verdict);
	if (skb_rewrite(skb, run->p, &pick, verdict) || skb_vlans_pop(skb, run->p))
		return shot_rewritten(run);
	run->nat = &pick.be->addr;
	return tc_forward(skb, run, XLB_R_TC_FWD_REDIRECT, XLB_R_TC_FWD_STACK);
}

/* The uplink decision on the skb path, for uplinks whose frames carry
 * partial checksums (veths from a local stack: nested containers, kind,
 * CI runners), where XDP's DNAT and redirect cannot be correct. */
SEC("tc")
int xlb_ingress_tc(struct __sk_buff *skb)
{
	struct xlb_run run;
	struct xlb_pkt p;

	run_init(&run, &p);
	return trace_run(&run, ingress_tc(skb, &run), &skb->ingress_ifindex, XLB_TRACE_TC_UPLINK);
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
