/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Packet builders for the BPF tests: a frame is described field by field
 * in struct pkt_desc and written out byte by byte, with every length and
 * checksum computed from scratch. Expected outputs are built the same way
 * from an edited description, never by patching the input bytes. */
#ifndef XLB_TEST_PKT_H
#define XLB_TEST_PKT_H

#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include "inet_csum.h"

#define PKT_MAX_VLANS 3
#define PKT_MAX_EXT 6
#define PKT_MAX_LEN 2048

#define PKT_ETH_P_IP 0x0800
#define PKT_ETH_P_ARP 0x0806
#define PKT_ETH_P_IPV6 0x86dd
#define PKT_ETH_P_8021Q 0x8100
#define PKT_ETH_P_8021AD 0x88a8

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

#define IP4_MF 0x2000

/* The packet an ICMP error quotes: same family as the error, TCP or UDP,
 * built like any packet (checksums over all of it), then cut to len
 * bytes from its IP header (0: whole). */
struct pkt_quote {
	uint8_t proto; /* 0: the ICMP packet is an echo, not an error */
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t sport;
	uint16_t dport;
	uint16_t payload_len;
	uint16_t len;
};

struct pkt_desc {
	uint8_t dmac[6];
	uint8_t smac[6];
	int nvlan;
	uint16_t vlan_tpid[PKT_MAX_VLANS]; /* outermost first */
	uint16_t vlan_tci[PKT_MAX_VLANS];
	uint16_t ethertype; /* PKT_ETH_P_IP, _IPV6 or _ARP */
	uint8_t src[16];    /* network order; IPv4 uses the first 4 bytes */
	uint8_t dst[16];
	uint8_t ttl; /* hop limit for IPv6 */
	uint8_t tos;
	uint16_t ip_id;
	uint16_t frag;		  /* IPv4 flags+offset, or IPv6 fragment header word */
	uint8_t ip_opt_len;	  /* IPv4 option bytes: a multiple of 4, <= 40 */
	int n_ext;		  /* IPv6 extension headers, 8 bytes each */
	uint8_t ext[PKT_MAX_EXT]; /* their types, in order */
	uint8_t proto;		  /* TCP, UDP, ICMP, ICMPv6 or anything (raw payload) */
	uint16_t sport;		  /* host order; ICMP echo: identifier */
	uint16_t dport;		  /* host order; ICMP echo: sequence */
	uint8_t tcp_flags;
	uint32_t seq;
	uint32_t ack;
	int udp_no_csum; /* IPv4 UDP sent without checksum (0) */
	uint16_t payload_len;
	uint16_t payload_word; /* first two payload bytes: tunes checksums */
	uint16_t pad_to;       /* Ethernet padding up to this frame length */
	uint8_t icmp_type;     /* an ICMP error (quote.proto set): type, code, */
	uint8_t icmp_code;
	uint32_t icmp_word; /* and bytes 4-7 (the MTU of "too big") */
	struct pkt_quote quote;
};

static inline int pkt_family(const struct pkt_desc *d)
{
	if (d->ethertype == PKT_ETH_P_IPV6)
		return AF_INET6;
	return AF_INET;
}

/* Sets an address from text; returns 0, or -1 if it does not parse. */
static inline int pkt_set_addr(uint8_t addr[16], int family, const char *text)
{
	memset(addr, 0, 16);
	return inet_pton(family, text, addr) == 1 ? 0 : -1;
}

static inline void pkt_put16(uint8_t *b, size_t off, uint16_t v)
{
	b[off] = v >> 8;
	b[off + 1] = v & 0xff;
}

static inline void pkt_put32(uint8_t *b, size_t off, uint32_t v)
{
	pkt_put16(b, off, v >> 16);
	pkt_put16(b, off + 2, v & 0xffff);
}

static inline uint16_t pkt_get16(const uint8_t *b, size_t off)
{
	return (uint16_t)(b[off] << 8 | b[off + 1]);
}

static inline size_t pkt_put_eth(const struct pkt_desc *d, uint8_t *b)
{
	size_t off = 12;

	memcpy(b, d->dmac, 6);
	memcpy(b + 6, d->smac, 6);
	for (int i = 0; i < d->nvlan; i++) {
		pkt_put16(b, off, d->vlan_tpid[i]);
		pkt_put16(b, off + 2, d->vlan_tci[i]);
		off += 4;
	}
	pkt_put16(b, off, d->ethertype);
	return off + 2;
}

/* IPv4 header with options (a NOP run ended by EOL); lengths and checksum
 * are filled in by pkt_finish_ipv4 once the packet's end is known. */
static inline size_t pkt_put_ipv4(const struct pkt_desc *d, uint8_t *b)
{
	size_t hlen = 20 + d->ip_opt_len;

	b[0] = 0x40 | (uint8_t)(hlen / 4);
	b[1] = d->tos;
	pkt_put16(b, 4, d->ip_id);
	pkt_put16(b, 6, d->frag);
	b[8] = d->ttl;
	b[9] = d->proto;
	memcpy(b + 12, d->src, 4);
	memcpy(b + 16, d->dst, 4);
	memset(b + 20, 0x01, d->ip_opt_len); /* NOP */
	if (d->ip_opt_len)
		b[hlen - 1] = 0x00; /* EOL */
	return hlen;
}

static inline void pkt_finish_ipv4(uint8_t *ip, size_t tot_len)
{
	size_t hlen = (size_t)(ip[0] & 0x0f) * 4;

	pkt_put16(ip, 2, (uint16_t)tot_len);
	pkt_put16(ip, 10, 0);
	pkt_put16(ip, 10, inet_csum_value(inet_sum(0, ip, hlen)));
}

/* One 8-byte extension header. Options headers carry one PadN option;
 * a routing header has segments left 0 (ignored by every node). */
static inline void pkt_put_ext(const struct pkt_desc *d, uint8_t *b, uint8_t type, uint8_t next)
{
	memset(b, 0, 8);
	b[0] = next;
	switch (type) {
	case IPPROTO_FRAGMENT:
		pkt_put16(b, 2, d->frag);
		pkt_put32(b, 4, 0x5eed0000u | d->ip_id);
		break;
	case IPPROTO_ROUTING:
		b[2] = 0; /* type 0 (deprecated), never processed: segleft 0 */
		break;
	default:	  /* hop-by-hop, destination options */
		b[2] = 1; /* PadN */
		b[3] = 4;
		break;
	}
}

static inline size_t pkt_put_ipv6(const struct pkt_desc *d, uint8_t *b)
{
	size_t off = 40;

	pkt_put32(b, 0, 0x60000000u | (uint32_t)d->tos << 20);
	b[6] = d->n_ext ? d->ext[0] : d->proto;
	b[7] = d->ttl;
	memcpy(b + 8, d->src, 16);
	memcpy(b + 24, d->dst, 16);
	for (int i = 0; i < d->n_ext; i++) {
		uint8_t next = i + 1 < d->n_ext ? d->ext[i + 1] : d->proto;

		pkt_put_ext(d, b + off, d->ext[i], next);
		off += 8;
	}
	return off;
}

static inline size_t pkt_put_l4_header(const struct pkt_desc *d, uint8_t *b)
{
	switch (d->proto) {
	case IPPROTO_TCP:
		memset(b, 0, 20);
		pkt_put16(b, 0, d->sport);
		pkt_put16(b, 2, d->dport);
		pkt_put32(b, 4, d->seq);
		pkt_put32(b, 8, d->ack);
		b[12] = 5 << 4;
		b[13] = d->tcp_flags;
		pkt_put16(b, 14, 64240);
		return 20;
	case IPPROTO_UDP:
		memset(b, 0, 8);
		pkt_put16(b, 0, d->sport);
		pkt_put16(b, 2, d->dport);
		return 8;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		memset(b, 0, 8);
		if (d->quote.proto) {
			b[0] = d->icmp_type;
			b[1] = d->icmp_code;
			pkt_put32(b, 4, d->icmp_word);
			return 8;
		}
		b[0] = d->proto == IPPROTO_ICMP ? 8 : 128; /* echo request */
		pkt_put16(b, 4, d->sport);
		pkt_put16(b, 6, d->dport);
		return 8;
	default:
		return 0;
	}
}

static inline size_t pkt_build(const struct pkt_desc *d, uint8_t *b);

/* The quoted packet, from its IP header on. */
static inline size_t pkt_put_quote(const struct pkt_desc *d, uint8_t *b)
{
	const struct pkt_quote *q = &d->quote;
	struct pkt_desc qd;
	uint8_t f[PKT_MAX_LEN];
	size_t len;

	memset(&qd, 0, sizeof(qd));
	qd.ethertype = d->ethertype;
	memcpy(qd.src, q->src, 16);
	memcpy(qd.dst, q->dst, 16);
	qd.ttl = 63;
	qd.ip_id = 0x5151;
	qd.proto = q->proto;
	qd.sport = q->sport;
	qd.dport = q->dport;
	qd.seq = 7001;
	qd.ack = 1001;
	qd.tcp_flags = q->proto == IPPROTO_TCP ? TH_ACK | TH_PSH : 0;
	qd.payload_len = q->payload_len;
	len = pkt_build(&qd, f) - 14;
	if (q->len && q->len < len)
		len = q->len;
	memcpy(b, f + 14, len);
	return len;
}

static inline size_t pkt_put_payload(const struct pkt_desc *d, uint8_t *b)
{
	if ((d->proto == IPPROTO_ICMP || d->proto == IPPROTO_ICMPV6) && d->quote.proto)
		return pkt_put_quote(d, b);
	for (size_t i = 0; i < d->payload_len; i++)
		b[i] = (uint8_t)(i * 7 + 3);
	if (d->payload_len >= 2)
		pkt_put16(b, 0, d->payload_word);
	return d->payload_len;
}

/* Offset of the checksum field in an L4 header, or -1 if it has none. */
static inline int pkt_l4_csum_off(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return 16;
	case IPPROTO_UDP:
		return 6;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return 2;
	default:
		return -1;
	}
}

/* Fills the UDP length and the L4 checksum over [l4, l4 + len). */
static inline void pkt_finish_l4(const struct pkt_desc *d, uint8_t *l4, size_t len)
{
	int off = pkt_l4_csum_off(d->proto);
	uint64_t sum = 0;
	uint16_t csum;

	if (off < 0)
		return;
	if (d->proto == IPPROTO_UDP)
		pkt_put16(l4, 4, (uint16_t)len);
	if (d->proto != IPPROTO_ICMP)
		sum = inet_pseudo_sum(pkt_family(d), d->src, d->dst, d->proto, (uint32_t)len);
	csum = inet_csum_value(inet_sum(sum, l4, len));
	if (d->proto == IPPROTO_UDP && csum == 0)
		csum = 0xffff; /* RFC 768: 0 means "no checksum" */
	if (d->proto == IPPROTO_UDP && d->udp_no_csum)
		csum = 0;
	pkt_put16(l4, (size_t)off, csum);
}

static inline size_t pkt_put_arp(const struct pkt_desc *d, uint8_t *b)
{
	memset(b, 0, 28);
	pkt_put16(b, 0, 1); /* Ethernet */
	pkt_put16(b, 2, PKT_ETH_P_IP);
	b[4] = 6;
	b[5] = 4;
	pkt_put16(b, 6, 1); /* request */
	memcpy(b + 8, d->smac, 6);
	memcpy(b + 14, d->src, 4);
	memcpy(b + 24, d->dst, 4);
	return 28;
}

/* Writes the frame into b (at least PKT_MAX_LEN bytes); returns its length. */
static inline size_t pkt_build(const struct pkt_desc *d, uint8_t *b)
{
	size_t l3 = pkt_put_eth(d, b), l4, end;

	memset(b + l3, 0, PKT_MAX_LEN - l3);
	if (d->ethertype == PKT_ETH_P_ARP) {
		end = l3 + pkt_put_arp(d, b + l3);
	} else {
		if (d->ethertype == PKT_ETH_P_IPV6)
			l4 = l3 + pkt_put_ipv6(d, b + l3);
		else
			l4 = l3 + pkt_put_ipv4(d, b + l3);
		end = l4 + pkt_put_l4_header(d, b + l4);
		end += pkt_put_payload(d, b + end);
		pkt_finish_l4(d, b + l4, end - l4);
		if (d->ethertype == PKT_ETH_P_IPV6)
			pkt_put16(b + l3, 4, (uint16_t)(end - l3 - 40));
		else
			pkt_finish_ipv4(b + l3, end - l3);
	}
	return end < d->pad_to ? d->pad_to : end;
}

/* Offset of the L3 header: after the Ethernet header and any VLAN tags. */
static inline size_t pkt_l3_off(const struct pkt_desc *d)
{
	return 14 + 4 * (size_t)d->nvlan;
}

static inline void pkt_push_vlan(struct pkt_desc *d, uint16_t tpid, uint16_t vid)
{
	if (d->nvlan >= PKT_MAX_VLANS)
		return;
	d->vlan_tpid[d->nvlan] = tpid;
	d->vlan_tci[d->nvlan] = vid;
	d->nvlan++;
}

static inline void pkt_push_ext(struct pkt_desc *d, uint8_t type)
{
	if (d->n_ext < PKT_MAX_EXT)
		d->ext[d->n_ext++] = type;
}

#endif
