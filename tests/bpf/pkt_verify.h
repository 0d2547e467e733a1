/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Checks every checksum of a frame from scratch: walks Ethernet, VLAN
 * tags, IPv4 (with options) or IPv6 (with extension headers), then sums
 * the IPv4 header and the TCP/UDP/ICMP segment including its checksum
 * field, which must come out as 0xffff. Independent of the data path's
 * parser and of the builders in pkt.h. */
#ifndef XLB_TEST_PKT_VERIFY_H
#define XLB_TEST_PKT_VERIFY_H

#include <stdio.h>
#include "inet_csum.h"
#include "pkt.h"

struct pkt_l3_view {
	int family;
	const uint8_t *src, *dst;
	uint8_t proto;
	size_t l4_off, l4_len;
	int fragment;
};

/* Returns 0, or -1 with a reason in why. */
static inline int pkt_verify_ipv4(const uint8_t *f, size_t len, size_t l3, struct pkt_l3_view *v,
				  char *why, size_t wlen)
{
	const uint8_t *ip = f + l3;
	size_t hlen, tot;

	if (l3 + 20 > len || (ip[0] >> 4) != 4 || (ip[0] & 0x0f) < 5)
		return snprintf(why, wlen, "not a whole IPv4 header"), -1;
	hlen = (size_t)(ip[0] & 0x0f) * 4;
	tot = pkt_get16(ip, 2);
	if (tot < hlen || l3 + tot > len)
		return snprintf(why, wlen, "IPv4 tot_len %zu does not fit", tot), -1;
	if (inet_fold(inet_sum(0, ip, hlen)) != 0xffff)
		return snprintf(why, wlen, "IPv4 header checksum 0x%04x is wrong",
				pkt_get16(ip, 10)),
		       -1;
	v->family = AF_INET;
	v->src = ip + 12;
	v->dst = ip + 16;
	v->proto = ip[9];
	v->l4_off = l3 + hlen;
	v->l4_len = tot - hlen;
	v->fragment = (pkt_get16(ip, 6) & 0x3fff) != 0;
	return 0;
}

static inline int pkt_is_ipv6_ext(uint8_t type)
{
	return type == IPPROTO_HOPOPTS || type == IPPROTO_ROUTING || type == IPPROTO_DSTOPTS ||
	       type == IPPROTO_FRAGMENT;
}

static inline int pkt_verify_ipv6(const uint8_t *f, size_t len, size_t l3, struct pkt_l3_view *v,
				  char *why, size_t wlen)
{
	const uint8_t *ip = f + l3;
	size_t off = l3 + 40, end;
	uint8_t next;

	if (l3 + 40 > len || (ip[0] >> 4) != 6)
		return snprintf(why, wlen, "not a whole IPv6 header"), -1;
	end = off + pkt_get16(ip, 4);
	if (end > len)
		return snprintf(why, wlen, "IPv6 payload_len does not fit"), -1;
	v->fragment = 0;
	for (next = ip[6]; pkt_is_ipv6_ext(next);) {
		const uint8_t *ext = f + off;

		if (off + 8 > end)
			return snprintf(why, wlen, "IPv6 extension header cut"), -1;
		v->fragment |= next == IPPROTO_FRAGMENT;
		off += next == IPPROTO_FRAGMENT ? 8 : 8 * ((size_t)ext[1] + 1);
		next = ext[0];
		if (off > end)
			return snprintf(why, wlen, "IPv6 extension header too long"), -1;
	}
	v->family = AF_INET6;
	v->src = ip + 8;
	v->dst = ip + 24;
	v->proto = next;
	v->l4_off = off;
	v->l4_len = end - off;
	return 0;
}

static inline int pkt_verify_l4(const uint8_t *f, const struct pkt_l3_view *v, char *why,
				size_t wlen)
{
	const uint8_t *l4 = f + v->l4_off;
	int off = pkt_l4_csum_off(v->proto);
	uint64_t sum = 0;

	if (off < 0 || v->fragment)
		return 0; /* no checksum, or not all of the segment is here */
	if ((size_t)off + 2 > v->l4_len)
		return snprintf(why, wlen, "L4 header cut"), -1;
	if (v->proto == IPPROTO_UDP && v->family == AF_INET && pkt_get16(l4, 6) == 0)
		return 0; /* IPv4 UDP without checksum */
	if (v->proto != IPPROTO_ICMP)
		sum = inet_pseudo_sum(v->family, v->src, v->dst, v->proto, (uint32_t)v->l4_len);
	sum = inet_sum(sum, l4, v->l4_len);
	if (inet_fold(sum) != 0xffff) {
		uint16_t have = pkt_get16(l4, (size_t)off);

		/* sum + ~have is the sum with the field zeroed */
		snprintf(why, wlen, "L4 (proto %u) checksum 0x%04x is wrong, want 0x%04x", v->proto,
			 have, inet_csum_value(sum + (uint16_t)~have));
		return -1;
	}
	if (v->proto == IPPROTO_UDP && pkt_get16(l4, 6) == 0)
		return snprintf(why, wlen, "IPv6 UDP checksum is 0"), -1;
	return 0;
}

/* Verifies all checksums of frame f; non-IP frames have none. */
static inline int pkt_verify_csums(const uint8_t *f, size_t len, char *why, size_t wlen)
{
	struct pkt_l3_view v;
	size_t l3 = 12;
	uint16_t type;
	int ret;

	if (len < 14)
		return snprintf(why, wlen, "shorter than Ethernet"), -1;
	type = pkt_get16(f, l3);
	while ((type == PKT_ETH_P_8021Q || type == PKT_ETH_P_8021AD) && l3 + 6 <= len) {
		l3 += 4;
		type = pkt_get16(f, l3);
	}
	l3 += 2;
	if (type == PKT_ETH_P_IP)
		ret = pkt_verify_ipv4(f, len, l3, &v, why, wlen);
	else if (type == PKT_ETH_P_IPV6)
		ret = pkt_verify_ipv6(f, len, l3, &v, why, wlen);
	else
		return 0;
	return ret ? ret : pkt_verify_l4(f, &v, why, wlen);
}

#endif
