/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* ICMP errors about balanced flows. A router between the client and the
 * balancer sends "fragmentation needed" (or "packet too big") about a
 * reply to the reply's source, the VIP; a backend sends "port
 * unreachable" about a client's datagram to the client, quoting its own
 * address. Neither end can match such an error to its socket unless the
 * quoted packet is translated like the flow's packets are: without it,
 * path MTU discovery through the balancer is a black hole, and a UDP
 * client waits where it would be refused.
 *
 * Only what the parser here has checked is rewritten: the outer address
 * on the balancer's side, the quoted address and port that match it, and
 * the checksums that cover them. */
#ifndef XLB_ICMP_H
#define XLB_ICMP_H

#include "csum.h"
#include "parse.h"

/* (linux/icmp.h pulls in libc's socket headers, which BPF builds lack) */
#define ICMP_DEST_UNREACH 3
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETERPROB 12
#define ICMPV6_DEST_UNREACH 1
#define ICMPV6_PKT_TOOBIG 2
#define ICMPV6_TIME_EXCEED 3
#define ICMPV6_PARAMPROB 4

#define XLB_ICMP_HDR_LEN 8 /* type, code, checksum, 4 bytes (MTU, pointer) */
#define XLB_QUOTE_L4_LEN 8 /* all of the quoted L4 header RFC 792 promises */

struct icmp_err {
	__u8 *icmp;	       /* the ICMP header */
	void *q_l3;	       /* the quoted packet's IP header */
	__u8 *q_l4;	       /* its L4 header: the first 8 bytes are present */
	struct xlb_flow_key q; /* the quoted packet's tuple, as on the wire */
};

/* Errors that quote the packet that caused them. Echo, redirects and the
 * rest are left to the stack. */
static __always_inline int icmp_type_is_error(__u8 family, __u8 type)
{
	if (family == AF_INET)
		return type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED ||
		       type == ICMP_PARAMETERPROB;
	return type == ICMPV6_DEST_UNREACH || type == ICMPV6_PKT_TOOBIG ||
	       type == ICMPV6_TIME_EXCEED || type == ICMPV6_PARAMPROB;
}

/* The quoted IPv4 header: without options (a quote with options is rare
 * and left to the stack), not a later fragment (no ports in it). */
static __always_inline int quote_parse_ipv4(const struct xlb_pkt *p, struct icmp_err *e)
{
	struct iphdr *ip = e->q_l3;

	if ((void *)(ip + 1) > p->data_end || (void *)(ip + 1) > p->l3_end)
		return -1;
	if (ip->version != 4 || ip->ihl != 5 || (ip->frag_off & bpf_htons(IP_OFFSET)))
		return -1;
	e->q.proto = ip->protocol;
	e->q.src.v4 = ip->saddr;
	e->q.dst.v4 = ip->daddr;
	e->q_l4 = (__u8 *)(ip + 1);
	return 0;
}

/* The quoted IPv6 header, followed directly by TCP or UDP. */
static __always_inline int quote_parse_ipv6(const struct xlb_pkt *p, struct icmp_err *e)
{
	struct ipv6hdr *ip6 = e->q_l3;

	if ((void *)(ip6 + 1) > p->data_end || (void *)(ip6 + 1) > p->l3_end)
		return -1;
	if (ip6->version != 6)
		return -1;
	e->q.proto = ip6->nexthdr;
	__builtin_memcpy(e->q.src.v6, ip6->saddr.in6_u.u6_addr32, 16);
	__builtin_memcpy(e->q.dst.v6, ip6->daddr.in6_u.u6_addr32, 16);
	e->q_l4 = (__u8 *)(ip6 + 1);
	return 0;
}

/* Fills e from p, an ICMP or ICMPv6 packet (p->l4 is its header).
 * 0 if p is an error quoting a whole IP header and 8 bytes of TCP or UDP
 * in the same family, within the packet; -1 for anything else. */
static __always_inline int icmp_err_parse(const struct xlb_pkt *p, struct icmp_err *e)
{
	__u8 *icmp = p->l4;
	__be16 *ports;

	__builtin_memset(&e->q, 0, sizeof(e->q));
	if (icmp + XLB_ICMP_HDR_LEN > (__u8 *)p->data_end ||
	    icmp + XLB_ICMP_HDR_LEN > (__u8 *)p->l3_end)
		return -1;
	if (p->key.proto != (p->key.family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6) ||
	    !icmp_type_is_error(p->key.family, icmp[0]))
		return -1;
	e->icmp = icmp;
	e->q_l3 = icmp + XLB_ICMP_HDR_LEN;
	if (p->key.family == AF_INET ? quote_parse_ipv4(p, e) : quote_parse_ipv6(p, e))
		return -1;
	if (e->q.proto != IPPROTO_TCP && e->q.proto != IPPROTO_UDP)
		return -1;
	if (e->q_l4 + XLB_QUOTE_L4_LEN > (__u8 *)p->data_end ||
	    e->q_l4 + XLB_QUOTE_L4_LEN > (__u8 *)p->l3_end)
		return -1;
	ports = (__be16 *)e->q_l4;
	e->q.sport = ports[0];
	e->q.dport = ports[1];
	e->q.family = p->key.family;
	return 0;
}

/* The quoted L4 checksum field, if the quote holds it: UDP's is within
 * the 8 bytes, TCP's only in a longer quote. NULL otherwise, or for a
 * UDP/IPv4 checksum of 0 ("none"), which stays 0. */
static __always_inline __sum16 *quote_l4_check(const struct xlb_pkt *p, const struct icmp_err *e)
{
	__u8 *field = e->q_l4 + (e->q.proto == IPPROTO_TCP ? offsetof(struct tcphdr, check)
							   : offsetof(struct udphdr, check));

	if (field + sizeof(__sum16) > (__u8 *)p->data_end ||
	    field + sizeof(__sum16) > (__u8 *)p->l3_end)
		return NULL;
	if (e->q.proto == IPPROTO_UDP && e->q.family == AF_INET && *(__sum16 *)field == 0)
		return NULL;
	return (__sum16 *)field;
}

/* Writes the quoted L4 checksum after the quoted address and port
 * changed by diff; returns the checksum's own change, for the ICMP
 * checksum that covers it. */
static __always_inline __u32 quote_l4_check_update(const struct xlb_pkt *p,
						   const struct icmp_err *e, __u32 diff)
{
	__sum16 *check = quote_l4_check(p, e);
	__u16 old, new;

	if (!check)
		return 0;
	old = *check;
	new = csum_apply(old, diff);
	if (new == 0 && e->q.proto == IPPROTO_UDP)
		new = 0xffff;
	*check = new;
	return csum_diff16(0, old, new);
}

/* Which side of the flow the error's addresses are rewritten on. */
enum icmp_nat_dir {
	ICMP_NAT_TO_BACKEND, /* outer dst and quoted src: VIP -> backend */
	ICMP_NAT_TO_VIP,     /* outer src and quoted dst: backend -> VIP */
};

/* Rewrites the IPv4 addresses: the outer one equals the quoted one (the
 * caller checked), so one diff serves both headers. *addr_diff gets that
 * diff, *qcheck_diff the quoted header checksum's change, which the ICMP
 * checksum covers. */
static __always_inline int icmp_nat_ipv4(const struct xlb_pkt *p, const struct icmp_err *e,
					 enum icmp_nat_dir dir, __be32 addr, __u32 *addr_diff,
					 __u32 *qcheck_diff)
{
	struct iphdr *ip = p->l3, *q = e->q_l3;
	__u16 old_qcheck;

	if ((void *)(ip + 1) > p->data_end || (void *)(q + 1) > p->data_end)
		return -1;
	if (dir == ICMP_NAT_TO_BACKEND) {
		*addr_diff = csum_diff32(0, q->saddr, addr);
		ip->daddr = addr;
		q->saddr = addr;
	} else {
		*addr_diff = csum_diff32(0, q->daddr, addr);
		ip->saddr = addr;
		q->daddr = addr;
	}
	ip->check = csum_apply(ip->check, *addr_diff);
	old_qcheck = q->check;
	q->check = csum_apply(old_qcheck, *addr_diff);
	*qcheck_diff = csum_diff16(0, old_qcheck, q->check);
	return 0;
}

static __always_inline int icmp_nat_ipv6(const struct xlb_pkt *p, const struct icmp_err *e,
					 enum icmp_nat_dir dir, const __be32 *addr,
					 __u32 *addr_diff)
{
	struct ipv6hdr *ip6 = p->l3, *q = e->q_l3;

	if ((void *)(ip6 + 1) > p->data_end || (void *)(q + 1) > p->data_end)
		return -1;
	if (dir == ICMP_NAT_TO_BACKEND) {
		*addr_diff = csum_diff_addr(0, q->saddr.in6_u.u6_addr32, addr, 4);
		__builtin_memcpy(ip6->daddr.in6_u.u6_addr32, addr, 16);
		__builtin_memcpy(q->saddr.in6_u.u6_addr32, addr, 16);
	} else {
		*addr_diff = csum_diff_addr(0, q->daddr.in6_u.u6_addr32, addr, 4);
		__builtin_memcpy(ip6->saddr.in6_u.u6_addr32, addr, 16);
		__builtin_memcpy(q->daddr.in6_u.u6_addr32, addr, 16);
	}
	return 0;
}

/* Moves the error over to addr:port on the side dir names, keeping every
 * checksum that covers a changed byte right: the outer IPv4 header's,
 * the quoted IPv4 header's, the quoted L4 checksum if quoted, and the
 * ICMP checksum (over the quote, and for ICMPv6 also over the outer
 * addresses). -1 only if a checked header is out of bounds. */
static __always_inline int icmp_err_nat(const struct xlb_pkt *p, const struct icmp_err *e,
					enum icmp_nat_dir dir, const struct xlb_addr *addr,
					__be16 port)
{
	__be16 *qport = (__be16 *)(e->q_l4 + (dir == ICMP_NAT_TO_BACKEND ? 0 : 2));
	__u32 addr_diff = 0, icmp_diff = 0, l4_diff;
	__sum16 *icmp_check = (__sum16 *)(e->icmp + 2);

	if ((void *)(qport + 1) > p->data_end || (void *)(icmp_check + 1) > p->data_end)
		return -1;
	l4_diff = csum_diff16(0, *qport, port);
	if (p->key.family == AF_INET) {
		if (icmp_nat_ipv4(p, e, dir, addr->v4, &addr_diff, &icmp_diff))
			return -1;
	} else {
		if (icmp_nat_ipv6(p, e, dir, addr->v6, &addr_diff))
			return -1;
		icmp_diff = addr_diff; /* the outer address, in the pseudo-header */
	}
	*qport = port;
	l4_diff += addr_diff;
	icmp_diff += l4_diff + quote_l4_check_update(p, e, l4_diff);
	*icmp_check = csum_apply(*icmp_check, icmp_diff);
	return 0;
}

#endif
