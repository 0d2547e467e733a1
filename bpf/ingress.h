/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The uplink's decision, written once for both uplink programs: the XDP
 * one (xlb_ingress, on links whose driver hands it complete checksums)
 * and the tc one (xlb_ingress_tc, on veths and wherever XDP cannot be
 * correct). A packet is parsed, matched to a service, checked as a
 * router checks it, and given its flow's backend (or a new one, by
 * Maglev, recorded as a flow); the verdict and the service and backend
 * counters are counted here. What is left to the program is how it
 * rewrites the packet and how it forwards it: XDP in place and by
 * XDP_REDIRECT, tc through the skb checksum helpers (which keep partial,
 * offloaded checksums right) and bpf_redirect. */
#ifndef XLB_INGRESS_H
#define XLB_INGRESS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "xlb/map_types.h"
#include "maps.bpf.h"
#include "choose.h"
#include "csum.h"
#include "icmp.h"
#include "parse.h"
#include "run.h"

/* What the decision leaves to the program. PASS and DROP are XDP's own
 * verdicts, so that the XDP program returns them as they are; the tc
 * program maps them (ingress_tc_verdict). Both are counted already. */
enum ingress_verdict {
	INGRESS_PASS = XDP_PASS,
	INGRESS_DROP = XDP_DROP,
	INGRESS_DNAT = 16, /* rewrite the packet to pick->be, then forward */
	INGRESS_ICMP_NAT,  /* translate the ICMP error (pick->icmp) to pick->be */
};

/* The backend the decision picked, and for an ICMP error the parsed
 * error, whose pointers the rewrite uses. */
struct ingress_pick {
	struct xlb_backend *be;
	struct icmp_err icmp;
};

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

static __always_inline int ttl_expiring(const struct xlb_pkt *p)
{
	if (p->key.family == AF_INET) {
		struct iphdr *ip = p->l3;

		return (void *)(ip + 1) > p->data_end || ip->ttl <= 1;
	}
	struct ipv6hdr *ip6 = p->l3;

	return (void *)(ip6 + 1) > p->data_end || ip6->hop_limit <= 1;
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
		return INGRESS_PASS;
	}
	if (!ipv4_header_intact(run->p)) {
		verdict_count(run, XLB_R_DROP_BAD_HEADER);
		return INGRESS_DROP;
	}
	return -1;
}

static __always_inline int lb_service(struct xlb_run *run, struct ingress_pick *pick,
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
		return INGRESS_DROP;
	}
	run->be_id = be_id;
	run->new_flow = new_flow;
	count_flow(&xlb_svc_stats, svc->id, p->len, new_flow);
	count_flow(&xlb_be_stats, be_id, p->len, new_flow);
	pick->be = be;
	return INGRESS_DNAT;
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
static __always_inline int icmp_to_vip(struct xlb_run *run, struct ingress_pick *pick)
{
	struct icmp_err *e = &pick->icmp;
	struct xlb_pkt *p = run->p;
	struct xlb_svc_key skey = {};
	struct xlb_backend *be;
	struct xlb_svc *svc;
	__u32 be_id = 0;
	int verdict;

	if (icmp_err_parse(p, e) || !addr_eq(&e->q.src, &p->key.dst))
		goto pass;
	skey.vip = e->q.src;
	skey.port = e->q.sport;
	skey.proto = e->q.proto;
	skey.family = e->q.family;
	svc = bpf_map_lookup_elem(&xlb_services, &skey);
	if (!svc)
		goto pass;
	be = icmp_flow_backend(e, svc->id, &be_id);
	if (!be)
		goto pass;
	run->svc_id = svc->id;
	verdict = router_refuses(run);
	if (verdict >= 0)
		return verdict;
	run->be_id = be_id;
	count_flow(&xlb_svc_stats, svc->id, p->len, 0);
	count_flow(&xlb_be_stats, be_id, p->len, 0);
	pick->be = be;
	return INGRESS_ICMP_NAT;
pass:
	verdict_count(run, XLB_R_PASS_ICMP);
	return INGRESS_PASS;
}

/* The decision on the frame [data, data_end) (skb_len: as for xlb_parse).
 * Returns an enum ingress_verdict; for DNAT and ICMP_NAT, pick says to
 * what, and the program rewrites and forwards (and counts that). */
static __always_inline int ingress_decide(struct xlb_run *run, struct ingress_pick *pick,
					  void *data, void *data_end, __u32 skb_len)
{
	struct xlb_pkt *p = run->p;
	struct xlb_svc_key skey = {};
	struct xlb_svc *svc;
	int ret;

	ret = xlb_parse(p, data, data_end, skb_len);
	if (ret == XLB_R_PASS_ICMP)
		return icmp_to_vip(run, pick);
	if (ret != PARSE_OK) {
		verdict_count(run, ret);
		return ret >= XLB_R_DROP_TRUNCATED && ret <= XLB_R_DROP_BAD_HEADER ? INGRESS_DROP
										   : INGRESS_PASS;
	}
	skey.vip = p->key.dst;
	skey.port = p->key.dport;
	skey.proto = p->key.proto;
	skey.family = p->key.family;
	svc = bpf_map_lookup_elem(&xlb_services, &skey);
	if (!svc) {
		verdict_count(run, XLB_R_PASS_NOT_SERVICE);
		return INGRESS_PASS;
	}
	return lb_service(run, pick, svc);
}

#endif
