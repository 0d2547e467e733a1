/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Header parsing shared by the XDP and tc programs: Ethernet, up to
 * XLB_MAX_VLANS 802.1Q/802.1ad tags, IPv4 (options skipped), IPv6
 * (extension headers walked), TCP and UDP. Every access is bounds-checked
 * against data_end before it happens; a frame that ends early or carries
 * impossible lengths is reported, never guessed at. */
#ifndef XLB_PARSE_H
#define XLB_PARSE_H

#include <linux/in.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "xlb/map_types.h"
#include "af.h"

#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

struct ipv6_ext {
	__u8 nexthdr;
	__u8 hdrlen;
};

struct xlb_pkt {
	void *data;
	void *data_end;
	struct ethhdr *eth;
	void *l3;
	void *l4;
	void *l3_end;		 /* end of the IP packet: bytes after it are padding */
	__u8 linear;		 /* headers only: payload may sit in skb frags */
	__u16 vlan_bytes;	 /* 4 per tag */
	__u16 l4_check_off;	 /* offset of the L4 checksum from data */
	__u32 len;		 /* frame length, for byte counters */
	struct xlb_flow_key key; /* as seen on the wire */
	__u8 tcp_flags;		 /* byte 13 of the TCP header, 0 for UDP */
};

#define PARSE_OK (-1)

static __always_inline __u16 parse_eth(struct xlb_pkt *p, int *ret)
{
	struct ethhdr *eth = p->data;
	struct vlan_hdr *vh;
	__u16 proto;

	if ((void *)(eth + 1) > p->data_end) {
		*ret = XLB_R_DROP_TRUNCATED;
		return 0;
	}
	p->eth = eth;
	proto = eth->h_proto;
	vh = (void *)(eth + 1);
#pragma unroll
	for (int i = 0; i < XLB_MAX_VLANS; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vh + 1) > p->data_end) {
			*ret = XLB_R_DROP_TRUNCATED;
			return 0;
		}
		proto = vh->proto;
		vh++;
		p->vlan_bytes += sizeof(*vh);
	}
	p->l3 = vh;
	*ret = PARSE_OK;
	return proto;
}

static __always_inline int parse_ipv4(struct xlb_pkt *p)
{
	struct iphdr *ip = p->l3;
	__u32 hlen, tot;

	if ((void *)(ip + 1) > p->data_end)
		return XLB_R_DROP_TRUNCATED;
	hlen = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	if (ip->version != 4 || hlen < sizeof(*ip) || tot < hlen)
		return XLB_R_DROP_BAD_HEADER;
	if (!p->linear && p->l3 + tot > p->data_end)
		return XLB_R_DROP_TRUNCATED;
	if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return XLB_R_PASS_FRAGMENT;
	p->l3_end = p->l3 + tot;
	p->key.family = AF_INET;
	p->key.proto = ip->protocol;
	p->key.src.v4 = ip->saddr;
	p->key.dst.v4 = ip->daddr;
	p->l4 = p->l3 + hlen;
	return PARSE_OK;
}

static __always_inline int skip_ipv6_ext(struct xlb_pkt *p, __u8 *nexthdr)
{
	void *cur = p->l4;

#pragma unroll
	for (int i = 0; i < XLB_MAX_IPV6_EXT; i++) {
		struct ipv6_ext *ext = cur;

		switch (*nexthdr) {
		case IPPROTO_ROUTING:
			/* the destination is then a hop on the way, and the
			 * final one (which the L4 checksum covers) sits in the
			 * header: the kernel's to process, not a VIP's DNAT */
			return XLB_R_PASS_IPV6_EXT;
		case IPPROTO_HOPOPTS:
		case IPPROTO_DSTOPTS:
			if ((void *)(ext + 1) > p->data_end || (void *)(ext + 1) > p->l3_end)
				return XLB_R_DROP_TRUNCATED;
			*nexthdr = ext->nexthdr;
			cur += (ext->hdrlen + 1) * 8;
			break;
		case IPPROTO_FRAGMENT:
			return XLB_R_PASS_FRAGMENT;
		default:
			p->l4 = cur;
			return PARSE_OK;
		}
	}
	switch (*nexthdr) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_DSTOPTS:
	case IPPROTO_FRAGMENT:
		return XLB_R_PASS_IPV6_EXT;
	}
	p->l4 = cur;
	return PARSE_OK;
}

static __always_inline int parse_ipv6(struct xlb_pkt *p)
{
	struct ipv6hdr *ip6 = p->l3;
	__u8 nexthdr;
	__u32 plen;
	int ret;

	if ((void *)(ip6 + 1) > p->data_end)
		return XLB_R_DROP_TRUNCATED;
	plen = bpf_ntohs(ip6->payload_len);
	if (ip6->version != 6 || plen == 0) /* 0 = jumbogram: not on our links */
		return XLB_R_DROP_BAD_HEADER;
	if (!p->linear && (void *)(ip6 + 1) + plen > p->data_end)
		return XLB_R_DROP_TRUNCATED;
	nexthdr = ip6->nexthdr;
	p->l4 = ip6 + 1;
	p->l3_end = (void *)(ip6 + 1) + plen;
	ret = skip_ipv6_ext(p, &nexthdr);
	if (ret != PARSE_OK)
		return ret;
	p->key.family = AF_INET6;
	p->key.proto = nexthdr;
	__builtin_memcpy(p->key.src.v6, ip6->saddr.in6_u.u6_addr32, 16);
	__builtin_memcpy(p->key.dst.v6, ip6->daddr.in6_u.u6_addr32, 16);
	return PARSE_OK;
}

static __always_inline int parse_l4(struct xlb_pkt *p)
{
	switch (p->key.proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = p->l4;

		if ((void *)(th + 1) > p->data_end || (void *)(th + 1) > p->l3_end)
			return XLB_R_DROP_TRUNCATED;
		if (th->doff < 5)
			return XLB_R_DROP_BAD_HEADER;
		p->key.sport = th->source;
		p->key.dport = th->dest;
		p->tcp_flags = ((__u8 *)th)[13];
		p->l4_check_off = (void *)&th->check - p->data;
		return PARSE_OK;
	}
	case IPPROTO_UDP: {
		struct udphdr *uh = p->l4;

		if ((void *)(uh + 1) > p->data_end || (void *)(uh + 1) > p->l3_end)
			return XLB_R_DROP_TRUNCATED;
		p->key.sport = uh->source;
		p->key.dport = uh->dest;
		p->l4_check_off = (void *)&uh->check - p->data;
		return PARSE_OK;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return XLB_R_PASS_ICMP;
	default:
		return XLB_R_PASS_L4_OTHER;
	}
}

/* Fills p from [data, data_end). For an skb, [data, data_end) is only the
 * linear head and the payload may continue in fragments, so lengths are
 * checked against the frame only for XDP (skb_len == 0); the kernel has
 * validated an skb's lengths already. Returns PARSE_OK, or the xlb_reason
 * that decides the packet's fate (a PASS_* or DROP_* value). */
static __always_inline int xlb_parse(struct xlb_pkt *p, void *data, void *data_end, __u32 skb_len)
{
	__u16 proto;
	int ret;

	__builtin_memset(p, 0, sizeof(*p));
	p->data = data;
	p->data_end = data_end;
	p->linear = skb_len != 0;
	p->len = skb_len ? skb_len : data_end - data;
	proto = parse_eth(p, &ret);
	if (ret != PARSE_OK)
		return ret;
	if (proto == bpf_htons(ETH_P_IP))
		ret = parse_ipv4(p);
	else if (proto == bpf_htons(ETH_P_IPV6))
		ret = parse_ipv6(p);
	else
		return XLB_R_PASS_NOT_IP;
	if (ret != PARSE_OK)
		return ret;
	return parse_l4(p);
}

#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10

static __always_inline int xlb_is_syn(const struct xlb_pkt *p)
{
	return p->key.proto == IPPROTO_TCP &&
	       (p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN;
}

#endif
