// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Table-driven BPF_PROG_TEST_RUN tests of the xlb data path.
 *
 * Each case is {name, input packet, map setup, expected verdict, expected
 * output packet, expected counters}. The expected output is built from
 * scratch from an edited packet description (pkt.h), compared byte for
 * byte with what the program returned, and its checksums are verified
 * from scratch (pkt_verify.h). Runs inside the network namespace that
 * run.sh builds (topo.h); prints TAP.
 *
 * usage: bpf_test --uplink IF --backend-if IF --bridge IF --bridge-port IF
 *                 [--only SUBSTRING] */
#include <getopt.h>
#include <linux/pkt_cls.h>

#include "fixture.h"
#include "pkt.h"
#include "pkt_verify.h"
#include "tap.h"
#include "xlb/hash.h"
#include "xlb/reason_names.h"

#define R_NONE (-1) /* no xlb_reasons counter may move */

enum out_kind {
	OUT_SAME,	   /* byte-identical to the input */
	OUT_DNAT_REDIRECT, /* dst -> backend, TTL-1, next-hop MACs, tags popped */
	OUT_DNAT_PASS,	   /* dst -> backend, nothing else */
	OUT_DNAT_NEIGH,	   /* dst -> backend, TTL-1, tags popped, MACs left to redirect_neigh */
	OUT_RNAT_REDIRECT, /* src -> VIP, TTL-1, MACs toward the client */
	OUT_RNAT_NEIGH,	   /* src -> VIP, TTL-1, MACs left to bpf_redirect_neigh */
	OUT_RNAT_STACK,	   /* src -> VIP, nothing else */
};

struct tcase;
typedef void (*input_fn)(struct pkt_desc *d);
typedef void (*mutate_fn)(uint8_t *f, size_t *len);
typedef int (*prepare_fn)(struct fixture *f, const struct tcase *t, const struct pkt_desc *in,
			  struct diag *dg);

struct tcase {
	const char *name;
	enum prog_kind prog;
	input_fn in;	    /* the input packet */
	mutate_fn mutate;   /* breaks the built frame (malformed cases) */
	prepare_fn prepare; /* map setup beyond fixture_reset(flags) */
	unsigned int flags; /* FIX_* */
	int verdict;
	enum out_kind out;
	uint32_t be;	   /* backend picked (XDP) or replying (tc) */
	int reason;	   /* the one xlb_reasons counter that moves, or R_NONE */
	int new_flow;	   /* XDP: the packet starts a flow */
	uint32_t gso_size; /* tc: the skb is GSO (segments of this size) */
	int tc_if;	   /* tc: the link the frame arrives on (enum tc_link) */
};

/* Where a tc case's frame arrives (xlb_be_links: A, B, C on be0; D and E
 * behind the bridge br0, D's port bp0). */
enum tc_link { TC_BE0 = 0, TC_BR0, TC_BP0, TC_UP0 };

static int tc_ifindex_of(const struct harness *h, int tc_if)
{
	switch (tc_if) {
	case TC_BR0:
		return h->br_ifindex;
	case TC_BP0:
		return h->port_ifindex;
	case TC_UP0:
		return h->up_ifindex;
	default:
		return h->be_ifindex;
	}
}

/* ---- input packets ---------------------------------------------------- */

static void set_addr(uint8_t a[16], int family, const char *text)
{
	fixture_addr(a, family, text);
}

/* A client's packet to a VIP as it arrives on the uplink. */
static void client_pkt(struct pkt_desc *d, int family, uint8_t proto, uint16_t dport)
{
	memset(d, 0, sizeof(*d));
	memcpy(d->dmac, topo_up0_mac, 6);
	memcpy(d->smac, topo_client_mac, 6);
	d->ethertype = family == AF_INET6 ? PKT_ETH_P_IPV6 : PKT_ETH_P_IP;
	set_addr(d->src, family, family == AF_INET6 ? TOPO_CLIENT6 : TOPO_CLIENT4);
	set_addr(d->dst, family, family == AF_INET6 ? TOPO_VIP6 : TOPO_VIP4);
	d->ttl = 64;
	d->ip_id = 0x1234;
	d->proto = proto;
	d->sport = 40000;
	d->dport = dport;
	d->seq = 1000;
	d->tcp_flags = proto == IPPROTO_TCP ? TH_SYN : 0;
	d->payload_len = proto == IPPROTO_UDP ? 32 : 0;
}

/* A backend's reply to the client, as it arrives on be0. */
static void reply_pkt(struct pkt_desc *d, uint32_t be_id, const char *client)
{
	const struct test_backend *be = backend_of(be_id);
	const struct test_service *svc = service_of(be->svc);

	memset(d, 0, sizeof(*d));
	memcpy(d->dmac, be->link_mac, 6);
	memcpy(d->smac, be->mac, 6);
	d->ethertype = be->family == AF_INET6 ? PKT_ETH_P_IPV6 : PKT_ETH_P_IP;
	set_addr(d->src, be->family, be->addr);
	set_addr(d->dst, be->family, client);
	d->ttl = 64;
	d->ip_id = 0x4321;
	d->proto = svc->proto;
	d->sport = be->port;
	d->dport = 40000;
	d->seq = 7000;
	d->ack = 1001;
	d->tcp_flags = svc->proto == IPPROTO_TCP ? TH_SYN | TH_ACK : 0;
	d->payload_len = svc->proto == IPPROTO_UDP ? 48 : 0;
}

/* What DNAT to the backend makes of a packet. An ICMP error quotes the
 * flow's reply, which the backend sent: its source is the backend too. */
static void want_dnat(struct pkt_desc *w, const struct test_backend *be)
{
	set_addr(w->dst, be->family, be->addr);
	if (w->quote.proto) {
		set_addr(w->quote.src, be->family, be->addr);
		w->quote.sport = be->port;
		return;
	}
	w->dport = be->port;
}

/* What reverse NAT makes of a backend's reply. An ICMP error from the
 * backend quotes the client's packet: its destination is the VIP too. */
static void want_rnat(struct pkt_desc *w, const struct test_backend *be)
{
	const struct test_service *svc = service_of(be->svc);

	set_addr(w->src, svc->family, svc->vip);
	if (w->quote.proto) {
		set_addr(w->quote.dst, svc->family, svc->vip);
		w->quote.dport = svc->port;
		return;
	}
	w->sport = svc->port;
}

/* A routed hop: one TTL less, the next hop's MACs, VLAN tags popped. */
static void want_routed(struct pkt_desc *w, const uint8_t *dmac, const uint8_t *smac)
{
	w->ttl--;
	memcpy(w->dmac, dmac, 6);
	memcpy(w->smac, smac, 6);
	if (w->pad_to)
		w->pad_to = (uint16_t)(w->pad_to - 4 * w->nvlan);
	w->nvlan = 0;
}

static size_t l4_offset(const struct pkt_desc *d)
{
	if (d->ethertype == PKT_ETH_P_IPV6)
		return pkt_l3_off(d) + 40 + 8 * (size_t)d->n_ext;
	return pkt_l3_off(d) + 20 + d->ip_opt_len;
}

/* The payload word that makes the UDP checksum of d (after DNAT to be_id,
 * if not 0) compute to 0, which goes on the wire as 0xffff: with the word
 * at 0 the field holds ~S, and adding ~S to the sum S folds to 0xffff. */
static uint16_t udp_word_zeroing_csum(struct pkt_desc d, uint32_t be_id)
{
	uint8_t f[PKT_MAX_LEN];

	d.payload_word = 0;
	if (be_id)
		want_dnat(&d, backend_of(be_id));
	pkt_build(&d, f);
	return pkt_get16(f, l4_offset(&d) + 6);
}

static void flow_key_of(const struct pkt_desc *d, struct xlb_flow_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(&k->src, d->src, sizeof(k->src));
	memcpy(&k->dst, d->dst, sizeof(k->dst));
	k->sport = htons(d->sport);
	k->dport = htons(d->dport);
	k->proto = d->proto;
	k->family = (uint8_t)pkt_family(d);
}

/* The Maglev slot xlb_ingress picks with the flow hash's seed, from the
 * shared hash (which reads the key's words with memcpy, so a struct just
 * stored is hashed as stored). */
static uint32_t maglev_slot_seeded(const struct pkt_desc *d, uint64_t seed)
{
	struct xlb_flow_key k;

	flow_key_of(d, &k);
	return xlb_flow_hash(&k, seed) % XLB_MAGLEV_SIZE;
}

/* ... with the seed the fixture writes. */
static uint32_t maglev_slot_of(const struct pkt_desc *d)
{
	return maglev_slot_seeded(d, FIXTURE_HASH_SEED);
}

/* Moves d's source port until its Maglev slot has the given parity. */
static void seek_slot_parity(struct pkt_desc *d, uint32_t parity)
{
	for (int tries = 0; maglev_slot_of(d) % 2 != parity; tries++) {
		if (tries == 1000) {
			fprintf(stderr, "bpf_test: no source port hashes to parity %u\n", parity);
			abort();
		}
		d->sport++;
	}
}

static void in_v4_syn(struct pkt_desc *d)
{
	client_pkt(d, AF_INET, IPPROTO_TCP, 80);
}

static void in_v4_ack(struct pkt_desc *d)
{
	in_v4_syn(d);
	d->tcp_flags = TH_ACK | TH_PSH;
	d->seq = 1001;
	d->ack = 7001;
	d->payload_len = 100;
}

static void in_v4_syn_padded(struct pkt_desc *d)
{
	in_v4_syn(d);
	d->pad_to = 60; /* the 54-byte SYN padded to Ethernet's minimum */
}

static void in_v4_udp(struct pkt_desc *d)
{
	client_pkt(d, AF_INET, IPPROTO_UDP, 53);
}

static void in_v4_udp_nocsum(struct pkt_desc *d)
{
	in_v4_udp(d);
	d->udp_no_csum = 1;
}

static void in_v4_udp_to_ffff(struct pkt_desc *d)
{
	in_v4_udp(d);
	d->payload_word = udp_word_zeroing_csum(*d, BE_A4_UDP);
}

static void in_v4_udp_from_ffff(struct pkt_desc *d)
{
	in_v4_udp(d);
	d->payload_word = udp_word_zeroing_csum(*d, 0);
}

static void in_v6_syn(struct pkt_desc *d)
{
	client_pkt(d, AF_INET6, IPPROTO_TCP, 80);
}

static void in_v6_ack(struct pkt_desc *d)
{
	in_v6_syn(d);
	d->tcp_flags = TH_ACK;
	d->payload_len = 20;
}

static void in_v6_udp(struct pkt_desc *d)
{
	client_pkt(d, AF_INET6, IPPROTO_UDP, 53);
}

static void in_v6_udp_to_ffff(struct pkt_desc *d)
{
	in_v6_udp(d);
	d->payload_word = udp_word_zeroing_csum(*d, BE_A6_UDP);
}

static void in_v4_syn_opt4(struct pkt_desc *d)
{
	in_v4_syn(d);
	d->ip_opt_len = 4;
}

static void in_v4_syn_opt40(struct pkt_desc *d)
{
	in_v4_syn(d);
	d->ip_opt_len = 40;
}

static void in_v6_syn_hbh_dst(struct pkt_desc *d)
{
	in_v6_syn(d);
	pkt_push_ext(d, IPPROTO_HOPOPTS);
	pkt_push_ext(d, IPPROTO_DSTOPTS);
}

static void in_v6_syn_4ext(struct pkt_desc *d)
{
	in_v6_syn_hbh_dst(d);
	pkt_push_ext(d, IPPROTO_DSTOPTS);
	pkt_push_ext(d, IPPROTO_DSTOPTS);
}

static void in_v6_syn_routing(struct pkt_desc *d)
{
	in_v6_syn(d);
	pkt_push_ext(d, IPPROTO_HOPOPTS);
	pkt_push_ext(d, IPPROTO_ROUTING);
}

static void in_v6_syn_5ext(struct pkt_desc *d)
{
	in_v6_syn_4ext(d);
	pkt_push_ext(d, IPPROTO_DSTOPTS);
}

static void in_v4_syn_vlan(struct pkt_desc *d)
{
	in_v4_syn(d);
	pkt_push_vlan(d, PKT_ETH_P_8021Q, 100);
}

static void in_v4_syn_qinq(struct pkt_desc *d)
{
	in_v4_syn(d);
	pkt_push_vlan(d, PKT_ETH_P_8021AD, 10);
	pkt_push_vlan(d, PKT_ETH_P_8021Q, 100);
}

static void in_v4_syn_qinq_padded(struct pkt_desc *d)
{
	in_v4_syn_qinq(d);
	d->pad_to = 64;
}

static void in_v4_syn_3tags(struct pkt_desc *d)
{
	in_v4_syn_qinq(d);
	pkt_push_vlan(d, PKT_ETH_P_8021Q, 200);
}

static void in_v6_syn_vlan(struct pkt_desc *d)
{
	in_v6_syn(d);
	pkt_push_vlan(d, PKT_ETH_P_8021Q, 100);
}

static void in_v4_syn_even_slot(struct pkt_desc *d)
{
	in_v4_syn(d);
	seek_slot_parity(d, 0);
}

static void in_v4_syn_odd_slot(struct pkt_desc *d)
{
	in_v4_syn(d);
	seek_slot_parity(d, 1);
}

static void in_v4_syn_port81(struct pkt_desc *d)
{
	client_pkt(d, AF_INET, IPPROTO_TCP, 81);
}

static void in_v4_syn_port82(struct pkt_desc *d)
{
	client_pkt(d, AF_INET, IPPROTO_TCP, 82);
}

static void in_v4_syn_port83(struct pkt_desc *d)
{
	client_pkt(d, AF_INET, IPPROTO_TCP, 83);
}

static void in_v6_syn_port83(struct pkt_desc *d)
{
	client_pkt(d, AF_INET6, IPPROTO_TCP, 83);
}

static void in_v4_syn_port84(struct pkt_desc *d)
{
	client_pkt(d, AF_INET, IPPROTO_TCP, 84);
}

static void in_v6_syn_port84(struct pkt_desc *d)
{
	client_pkt(d, AF_INET6, IPPROTO_TCP, 84);
}

static void in_v4_syn_vlan_port84(struct pkt_desc *d)
{
	in_v4_syn_port84(d);
	pkt_push_vlan(d, PKT_ETH_P_8021Q, 100);
}

static void in_v4_syn_port85(struct pkt_desc *d)
{
	client_pkt(d, AF_INET, IPPROTO_TCP, 85);
}

static void in_v4_syn_port8080(struct pkt_desc *d)
{
	client_pkt(d, AF_INET, IPPROTO_TCP, 8080);
}

static void in_v4_syn_other_addr(struct pkt_desc *d)
{
	in_v4_syn(d);
	set_addr(d->dst, AF_INET, TOPO_OTHER4);
}

static void in_v6_syn_other_addr(struct pkt_desc *d)
{
	in_v6_syn(d);
	set_addr(d->dst, AF_INET6, TOPO_OTHER6);
}

static void in_v4_udp_port80(struct pkt_desc *d)
{
	client_pkt(d, AF_INET, IPPROTO_UDP, 80);
}

static void in_arp(struct pkt_desc *d)
{
	in_v4_syn(d);
	memset(d->dmac, 0xff, 6);
	d->ethertype = PKT_ETH_P_ARP;
}

static void in_icmp_echo(struct pkt_desc *d)
{
	client_pkt(d, AF_INET, IPPROTO_ICMP, 1);
	d->sport = 0x77;
	d->payload_len = 56;
}

static void in_icmp6_echo(struct pkt_desc *d)
{
	client_pkt(d, AF_INET6, IPPROTO_ICMPV6, 1);
	d->sport = 0x77;
	d->payload_len = 56;
}

/* An ICMP error sent to the VIP about the reply VIP:vport -> client:40000
 * of the client's flow, by `from` (a router, or the client itself),
 * quoting 548 bytes (IPv4) or 1232 (IPv6), as much as Linux sends. */
static void icmp_to_vip_pkt(struct pkt_desc *d, int family, uint8_t qproto, uint16_t vport,
			    uint8_t type, uint8_t code)
{
	int v6 = family == AF_INET6;

	client_pkt(d, family, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP, 0);
	d->icmp_type = type;
	d->icmp_code = code;
	d->icmp_word = 1280;
	d->quote.proto = qproto;
	memcpy(d->quote.src, d->dst, 16);
	memcpy(d->quote.dst, d->src, 16);
	d->quote.sport = vport;
	d->quote.dport = 40000;
	d->quote.payload_len = qproto == IPPROTO_TCP ? 1400 : 200;
	d->quote.len = v6 ? 1232 : 548;
}

static void in_icmp4_frag_needed(struct pkt_desc *d)
{
	icmp_to_vip_pkt(d, AF_INET, IPPROTO_TCP, 80, 3, 4);
}

/* RFC 792's minimum quote: the IP header and 8 bytes, no TCP checksum */
static void in_icmp4_frag_needed_short(struct pkt_desc *d)
{
	in_icmp4_frag_needed(d);
	d->quote.len = 20 + 8;
}

static void in_icmp4_frag_needed_from_router(struct pkt_desc *d)
{
	in_icmp4_frag_needed(d);
	set_addr(d->src, AF_INET, TOPO_CLIENT4_NOROUTE);
}

static void in_icmp6_too_big(struct pkt_desc *d)
{
	icmp_to_vip_pkt(d, AF_INET6, IPPROTO_TCP, 80, 2, 0);
}

static void in_icmp4_port_unreach_udp(struct pkt_desc *d)
{
	icmp_to_vip_pkt(d, AF_INET, IPPROTO_UDP, 53, 3, 3);
	d->icmp_word = 0;
}

static void in_icmp6_port_unreach_udp(struct pkt_desc *d)
{
	icmp_to_vip_pkt(d, AF_INET6, IPPROTO_UDP, 53, 1, 4);
	d->icmp_word = 0;
}

static void in_icmp4_time_exceeded(struct pkt_desc *d)
{
	in_icmp4_frag_needed(d);
	d->icmp_type = 11;
	d->icmp_code = 0;
	d->icmp_word = 0;
}

static void in_icmp4_redirect(struct pkt_desc *d)
{
	in_icmp4_frag_needed(d);
	d->icmp_type = 5;
	d->icmp_code = 1;
}

static void in_icmp4_err_port8080(struct pkt_desc *d)
{
	in_icmp4_frag_needed(d);
	d->quote.sport = 8080;
}

/* sent to the VIP, but quoting another address's packet */
static void in_icmp4_err_other_quote(struct pkt_desc *d)
{
	in_icmp4_frag_needed(d);
	set_addr(d->quote.src, AF_INET, TOPO_OTHER4);
}

/* the quote ends 4 bytes into TCP: no ports guaranteed */
static void in_icmp4_err_quote_cut(struct pkt_desc *d)
{
	in_icmp4_frag_needed(d);
	d->quote.len = 20 + 4;
}

/* ICMPv6's type numbers over IPv4: not an IPv4 ICMP error */
static void in_icmp4_err_proto58(struct pkt_desc *d)
{
	in_icmp4_frag_needed(d);
	d->proto = IPPROTO_ICMPV6;
}

/* An ICMP error a backend sends to the client about the client's packet
 * client:40000 -> backend:port (port unreachable, or frag needed). */
static void icmp_from_backend_pkt(struct pkt_desc *d, uint32_t be_id, uint8_t type, uint8_t code)
{
	const struct test_backend *be = backend_of(be_id);
	const struct test_service *svc = service_of(be->svc);
	int v6 = be->family == AF_INET6;

	reply_pkt(d, be_id, v6 ? TOPO_CLIENT6 : TOPO_CLIENT4);
	d->proto = v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	d->tcp_flags = 0;
	d->payload_len = 0;
	d->icmp_type = type;
	d->icmp_code = code;
	d->quote.proto = svc->proto;
	memcpy(d->quote.src, d->dst, 16);
	memcpy(d->quote.dst, d->src, 16);
	d->quote.sport = 40000;
	d->quote.dport = be->port;
	d->quote.payload_len = 64;
}

static void in_icmp4_unreach_from_be(struct pkt_desc *d)
{
	icmp_from_backend_pkt(d, BE_A4_UDP, 3, 3);
}

static void in_icmp6_unreach_from_be(struct pkt_desc *d)
{
	icmp_from_backend_pkt(d, BE_A6_UDP, 1, 4);
}

static void in_icmp4_frag_needed_from_be(struct pkt_desc *d)
{
	icmp_from_backend_pkt(d, BE_A4, 3, 4);
	d->icmp_word = 1400;
}

/* from B's address about a packet to A: a router would send that, not A */
static void in_icmp4_unreach_from_other(struct pkt_desc *d)
{
	in_icmp4_frag_needed_from_be(d);
	set_addr(d->src, AF_INET, TOPO_BE_B4);
}

static void in_gre(struct pkt_desc *d)
{
	client_pkt(d, AF_INET, IPPROTO_GRE, 0);
	d->payload_len = 24;
}

static void in_v4_frag_first(struct pkt_desc *d)
{
	in_v4_ack(d);
	d->frag = IP4_MF;
}

static void in_v4_frag_later(struct pkt_desc *d)
{
	in_v4_ack(d);
	d->frag = 185; /* offset 1480, last fragment */
}

static void in_v6_frag(struct pkt_desc *d)
{
	in_v6_ack(d);
	d->frag = 1; /* offset 0, more fragments */
	pkt_push_ext(d, IPPROTO_FRAGMENT);
}

static void in_v6_hbh_frag(struct pkt_desc *d)
{
	in_v6_ack(d);
	d->frag = 1;
	pkt_push_ext(d, IPPROTO_HOPOPTS);
	pkt_push_ext(d, IPPROTO_FRAGMENT);
}

static void in_v4_ttl1(struct pkt_desc *d)
{
	in_v4_syn(d);
	d->ttl = 1;
}

static void in_v4_ttl0(struct pkt_desc *d)
{
	in_v4_syn(d);
	d->ttl = 0;
}

static void in_v6_hop1(struct pkt_desc *d)
{
	in_v6_syn(d);
	d->ttl = 1;
}

static void in_reply_v4(struct pkt_desc *d)
{
	reply_pkt(d, BE_A4, TOPO_CLIENT4);
}

static void in_reply_v4_data(struct pkt_desc *d)
{
	in_reply_v4(d);
	d->tcp_flags = TH_ACK | TH_PSH;
	d->payload_len = 200;
}

static void in_reply_v4_opts(struct pkt_desc *d)
{
	in_reply_v4(d);
	d->ip_opt_len = 8;
}

/* A reply larger than the client link's MTU (1500): as one GSO skb, a
 * backend's TCP stack sends such. */
static void in_reply_v4_2000(struct pkt_desc *d)
{
	in_reply_v4_data(d);
	d->payload_len = 2000 - 14 - 20 - 20;
}

static void in_reply_v4_udp(struct pkt_desc *d)
{
	reply_pkt(d, BE_A4_UDP, TOPO_CLIENT4);
}

static void in_reply_v4_udp_nocsum(struct pkt_desc *d)
{
	in_reply_v4_udp(d);
	d->udp_no_csum = 1;
}

static void in_reply_v6(struct pkt_desc *d)
{
	reply_pkt(d, BE_A6, TOPO_CLIENT6);
}

static void in_reply_v6_udp(struct pkt_desc *d)
{
	reply_pkt(d, BE_A6_UDP, TOPO_CLIENT6);
}

static void in_reply_v4_noneigh(struct pkt_desc *d)
{
	reply_pkt(d, BE_A4, TOPO_CLIENT4_NONEIGH);
}

static void in_reply_v6_noneigh(struct pkt_desc *d)
{
	reply_pkt(d, BE_A6, TOPO_CLIENT6_NONEIGH);
}

static void in_reply_v4_noroute(struct pkt_desc *d)
{
	reply_pkt(d, BE_A4, TOPO_CLIENT4_NOROUTE);
}

static void in_reply_v4_ttl1(struct pkt_desc *d)
{
	in_reply_v4(d);
	d->ttl = 1;
}

/* Bridged backend D's reply (from its MAC), and E's, whose MAC xlbd has
 * not learned yet (xlb_be_links). */
static void in_reply_d4(struct pkt_desc *d)
{
	reply_pkt(d, BE_D4, TOPO_CLIENT4);
}

static void in_reply_d6(struct pkt_desc *d)
{
	reply_pkt(d, BE_D6, TOPO_CLIENT6);
}

static void in_reply_e4(struct pkt_desc *d)
{
	reply_pkt(d, BE_E4, TOPO_CLIENT4);
}

/* The same bytes, but from another MAC: another container on the bridge
 * sending from D's (or E's) address and port. */
static const uint8_t forger_mac[6] = { 0x02, 0xf0, 0x00, 0x00, 0x00, 0x66 };

static void in_reply_d4_other_mac(struct pkt_desc *d)
{
	in_reply_d4(d);
	memcpy(d->smac, forger_mac, 6);
}

static void in_reply_d6_other_mac(struct pkt_desc *d)
{
	in_reply_d6(d);
	memcpy(d->smac, forger_mac, 6);
}

static void in_reply_e4_other_mac(struct pkt_desc *d)
{
	in_reply_e4(d);
	memcpy(d->smac, forger_mac, 6);
}

static void in_icmp4_unreach_from_d(struct pkt_desc *d)
{
	icmp_from_backend_pkt(d, BE_D4, 3, 3);
}

static void in_icmp4_unreach_from_d_other_mac(struct pkt_desc *d)
{
	in_icmp4_unreach_from_d(d);
	memcpy(d->smac, forger_mac, 6);
}

/* ---- malformations (the frame must come back untouched) --------------- */

#define L3 14 /* malformed frames carry no VLAN tag */

static void fix_ipv4_csum(uint8_t *f)
{
	uint8_t *ip = f + L3;
	size_t hlen = (size_t)(ip[0] & 0x0f) * 4;

	pkt_put16(ip, 10, 0);
	pkt_put16(ip, 10, inet_csum_value(inet_sum(0, ip, hlen < 20 ? 20 : hlen)));
}

static void set_tot_len(uint8_t *f, uint16_t tot)
{
	pkt_put16(f, L3 + 2, tot);
	fix_ipv4_csum(f);
}

static void mut_eth_only(uint8_t *f, size_t *len)
{
	(void)f;
	*len = 14;
}

static void mut_cut_in_vlan(uint8_t *f, size_t *len)
{
	(void)f;
	*len = 16;
}

static void mut_cut_in_ipv4(uint8_t *f, size_t *len)
{
	(void)f;
	*len = L3 + 12;
}

/* tot_len still says 40 */
static void mut_cut_in_tcp(uint8_t *f, size_t *len)
{
	(void)f;
	*len = L3 + 20 + 10;
}

static void mut_cut_in_tcp_totlen(uint8_t *f, size_t *len)
{
	set_tot_len(f, 20 + 10);
	*len = L3 + 20 + 10;
}

static void mut_cut_in_udp_totlen(uint8_t *f, size_t *len)
{
	set_tot_len(f, 20 + 4);
	*len = L3 + 20 + 4;
}

/* One bit of the stored checksum off: the header no longer sums right. */
static void mut_bad_ipv4_csum(uint8_t *f, size_t *len)
{
	(void)len;
	f[L3 + 11] ^= 0x01;
}

static void mut_ihl4(uint8_t *f, size_t *len)
{
	(void)len;
	f[L3] = 0x44;
	fix_ipv4_csum(f);
}

static void mut_ipv4_version5(uint8_t *f, size_t *len)
{
	(void)len;
	f[L3] = 0x55;
	fix_ipv4_csum(f);
}

static void mut_totlen_past_end(uint8_t *f, size_t *len)
{
	set_tot_len(f, (uint16_t)(*len - L3 + 1));
}

static void mut_totlen_below_ihl(uint8_t *f, size_t *len)
{
	(void)len;
	set_tot_len(f, 16);
}

/* The frame goes on (Ethernet padding), the IP packet ends mid-TCP. */
static void mut_totlen_in_tcp(uint8_t *f, size_t *len)
{
	(void)len;
	set_tot_len(f, 20 + 8);
}

static void mut_doff4(uint8_t *f, size_t *len)
{
	(void)len;
	f[L3 + 20 + 12] = 4 << 4;
}

static void mut_cut_in_ipv6(uint8_t *f, size_t *len)
{
	(void)f;
	*len = L3 + 30;
}

static void mut_plen_past_end(uint8_t *f, size_t *len)
{
	pkt_put16(f, L3 + 4, (uint16_t)(*len - L3 - 40 + 1));
}

static void mut_plen_zero(uint8_t *f, size_t *len)
{
	(void)len;
	pkt_put16(f, L3 + 4, 0);
}

static void mut_ipv6_version4(uint8_t *f, size_t *len)
{
	(void)len;
	f[L3] = (uint8_t)((f[L3] & 0x0f) | 0x40);
}

/* payload_len and frame end 1 byte into the hop-by-hop header */
static void mut_cut_in_hbh(uint8_t *f, size_t *len)
{
	pkt_put16(f, L3 + 4, 1);
	*len = L3 + 40 + 1;
}

/* hop-by-hop claims (10 + 1) * 8 bytes, more than the frame has */
static void mut_hbh_past_end(uint8_t *f, size_t *len)
{
	(void)len;
	f[L3 + 40 + 1] = 10;
}

static void mut_plen_in_tcp(uint8_t *f, size_t *len)
{
	(void)len;
	pkt_put16(f, L3 + 4, 8);
}

/* ---- map setups --------------------------------------------------------- */

/* The service a client packet is for. */
static const struct test_service *service_for(const struct pkt_desc *d)
{
	for (int i = 0; i < N_SVC; i++) {
		const struct test_service *s = &test_services[i];
		uint8_t vip[16];

		fixture_addr(vip, s->family, s->vip);
		if (s->family == pkt_family(d) && s->proto == d->proto && s->port == d->dport &&
		    !memcmp(vip, d->dst, 16))
			return s;
	}
	return NULL;
}

static int flow_backend(struct fixture *f, const struct pkt_desc *d, struct xlb_flow *flow)
{
	struct xlb_flow_key k;

	flow_key_of(d, &k);
	return bpf_map_lookup_elem(bpf_map__fd(f->h.skel->maps.xlb_flows), &k, flow) ? -errno : 0;
}

/* Opens d's flow with a SYN through xlb_ingress; checks it went to the
 * service's default backend (its default table holds only that id). */
static int open_flow(struct fixture *f, const struct pkt_desc *d, struct diag *dg)
{
	const struct test_service *svc = service_for(d);
	struct pkt_desc syn = *d;
	struct run_result r;
	struct xlb_flow flow;
	uint8_t b[PKT_MAX_LEN];
	int err;

	if (!svc)
		return diag_fail(dg, "setup: packet is for no service"), -1;
	syn.tcp_flags = d->proto == IPPROTO_TCP ? TH_SYN : 0;
	err = harness_run(&f->h, PROG_XDP, b, pkt_build(&syn, b), &r);
	if (err)
		return diag_fail(dg, "setup: test run: %s", strerror(-err)), -1;
	if (flow_backend(f, d, &flow) || flow.backend_id != (uint32_t)svc->table)
		return diag_fail(
			       dg,
			       "setup: opening packet (verdict %d) recorded no flow to backend %d",
			       r.verdict, svc->table),
		       -1;
	return 0;
}

/* The client packet of the flow whose reply an ICMP error to a VIP quotes. */
static void forward_of_quoted_reply(const struct pkt_desc *d, struct pkt_desc *fwd)
{
	client_pkt(fwd, pkt_family(d), d->quote.proto, d->quote.sport);
	memcpy(fwd->src, d->quote.dst, 16);
	fwd->sport = d->quote.dport;
}

/* The flow the ICMP error is about, opened by the client's packet. */
static int prep_quoted_flow(struct fixture *f, const struct tcase *t, const struct pkt_desc *in,
			    struct diag *dg)
{
	struct pkt_desc fwd;

	(void)t;
	forward_of_quoted_reply(in, &fwd);
	/* the quote of a case about another address or port names no service */
	fwd.dport = 80;
	if (in->quote.proto == IPPROTO_UDP)
		fwd.dport = 53;
	return open_flow(f, &fwd, dg);
}

static int swap_table(struct fixture *f, const struct pkt_desc *d, struct diag *dg)
{
	const struct test_service *svc = service_for(d);

	if (!svc || fixture_set_table(f, svc->id, svc->alt_table))
		return diag_fail(dg, "setup: cannot swap the maglev table"), -1;
	return 0;
}

/* Changes the backend the service's default table points at. */
static int edit_default_backend(struct fixture *f, const struct pkt_desc *d, uint8_t state,
				uint32_t svc_id, struct diag *dg)
{
	const struct test_service *svc = service_for(d);
	struct xlb_backend v;

	if (!svc)
		return diag_fail(dg, "setup: packet is for no service"), -1;
	memset(&v, 0, sizeof(v)); /* a deleted backend: a zeroed slot */
	if (state != XLB_BE_UNUSED) {
		backend_value(backend_of((uint32_t)svc->table), &v);
		v.state = state;
		v.svc_id = svc_id;
	}
	if (fixture_put_backend(f, (uint32_t)svc->table, &v))
		return diag_fail(dg, "setup: cannot write backend"), -1;
	return 0;
}

static int prep_swap_table(struct fixture *f, const struct tcase *t, const struct pkt_desc *in,
			   struct diag *dg)
{
	(void)t;
	return swap_table(f, in, dg);
}

static int prep_split_table(struct fixture *f, const struct tcase *t, const struct pkt_desc *in,
			    struct diag *dg)
{
	(void)t;
	(void)in;
	if (fixture_set_table(f, SVC_TCP4, TBL_SPLIT_A4_B4))
		return diag_fail(dg, "setup: cannot set the split table"), -1;
	return 0;
}

static int prep_open_swap(struct fixture *f, const struct tcase *t, const struct pkt_desc *in,
			  struct diag *dg)
{
	(void)t;
	return open_flow(f, in, dg) || swap_table(f, in, dg) ? -1 : 0;
}

/* The flow's backend leaves the table and drains (xlbctl backend drain). */
static int prep_open_drain(struct fixture *f, const struct tcase *t, const struct pkt_desc *in,
			   struct diag *dg)
{
	const struct test_service *svc = service_for(in);

	(void)t;
	if (open_flow(f, in, dg) || swap_table(f, in, dg) ||
	    edit_default_backend(f, in, XLB_BE_DRAINING, svc->id, dg))
		return -1;
	return 0;
}

/* The flow's backend is deleted: its slot is zeroed. */
static int prep_open_free(struct fixture *f, const struct tcase *t, const struct pkt_desc *in,
			  struct diag *dg)
{
	(void)t;
	if (open_flow(f, in, dg) || swap_table(f, in, dg) ||
	    edit_default_backend(f, in, XLB_BE_UNUSED, 0, dg))
		return -1;
	return 0;
}

/* The flow's backend slot is reused by another service. */
static int prep_open_reassign(struct fixture *f, const struct tcase *t, const struct pkt_desc *in,
			      struct diag *dg)
{
	(void)t;
	if (open_flow(f, in, dg) || swap_table(f, in, dg) ||
	    edit_default_backend(f, in, XLB_BE_ACTIVE, SVC_UDP4, dg))
		return -1;
	return 0;
}

/* A stale table whose only backend already drains. */
static int prep_drain_only(struct fixture *f, const struct tcase *t, const struct pkt_desc *in,
			   struct diag *dg)
{
	(void)t;
	return edit_default_backend(f, in, XLB_BE_DRAINING, SVC_TCP4, dg);
}

/* The client packet whose flow a backend's reply d belongs to. */
static void forward_of_reply(const struct pkt_desc *d, uint32_t be_id, struct pkt_desc *fwd)
{
	const struct test_service *svc = service_of(backend_of(be_id)->svc);

	client_pkt(fwd, svc->family, svc->proto, svc->port);
	memcpy(fwd->src, d->dst, 16);
	fwd->sport = d->dport;
}

/* The reply's flow, made by xlb_ingress from the client's packet. */
static int prep_reply_flow(struct fixture *f, const struct tcase *t, const struct pkt_desc *in,
			   struct diag *dg)
{
	struct pkt_desc fwd;

	forward_of_reply(in, t->be, &fwd);
	return open_flow(f, &fwd, dg);
}

/* A flow from another client port: the reply matches no entry. */
static int prep_other_port_flow(struct fixture *f, const struct tcase *t, const struct pkt_desc *in,
				struct diag *dg)
{
	struct pkt_desc fwd;

	forward_of_reply(in, t->be, &fwd);
	fwd.sport++;
	return open_flow(f, &fwd, dg);
}

/* The reply's flow written directly, the way the contract in map_types.h
 * states it (to backend be_id, which may not be the reply's). */
static int put_reply_flow(struct fixture *f, const struct pkt_desc *in, uint32_t reply_be,
			  uint32_t be_id, struct diag *dg)
{
	struct xlb_flow v = { .backend_id = be_id, .svc_id = backend_of(reply_be)->svc };
	struct pkt_desc fwd;
	struct xlb_flow_key k;

	forward_of_reply(in, reply_be, &fwd);
	flow_key_of(&fwd, &k);
	if (bpf_map_update_elem(bpf_map__fd(f->h.skel->maps.xlb_flows), &k, &v, BPF_ANY))
		return diag_fail(dg, "setup: cannot write xlb_flows: %s", strerror(errno)), -1;
	return 0;
}

static int prep_flow_by_hand(struct fixture *f, const struct tcase *t, const struct pkt_desc *in,
			     struct diag *dg)
{
	return put_reply_flow(f, in, t->be, t->be, dg);
}

/* The flow of the reply's client and port runs to B4, the reply comes
 * from A4 (a stale reply after a re-pick, or A4 answering a client that
 * reached it directly from the same port). */
static int prep_flow_to_other_backend(struct fixture *f, const struct tcase *t,
				      const struct pkt_desc *in, struct diag *dg)
{
	return put_reply_flow(f, in, t->be, BE_B4, dg);
}

/* A4's endpoint serves a second listener, listed first: the return path
 * must try each (VIP4:81 has no flow of this client). */
static int prep_shared_endpoint(struct fixture *f, const struct tcase *t, const struct pkt_desc *in,
				struct diag *dg)
{
	const struct test_service *s = service_of(backend_of(t->be)->svc);
	struct xlb_ep_listeners v = { .n = 2 };
	struct xlb_ep_key k;

	rnat_ep_key_of(backend_of(t->be), &k);
	fixture_xlb_addr(&v.l[0].vip, AF_INET, TOPO_VIP4);
	v.l[0].vport = htons(81);
	v.l[0].svc_id = SVC_EMPTY4;
	fixture_xlb_addr(&v.l[1].vip, s->family, s->vip);
	v.l[1].vport = htons(s->port);
	v.l[1].svc_id = s->id;
	if (bpf_map_update_elem(bpf_map__fd(f->h.skel->maps.xlb_rnat_eps), &k, &v, BPF_ANY))
		return diag_fail(dg, "setup: cannot write xlb_rnat_eps: %s", strerror(errno)), -1;
	return prep_reply_flow(f, t, in, dg);
}

/* The flow exists, but xlbd has no listener for the endpoint (it left
 * the service): nothing is rewritten. */
static int prep_flow_without_ep(struct fixture *f, const struct tcase *t, const struct pkt_desc *in,
				struct diag *dg)
{
	struct xlb_ep_key k;

	rnat_ep_key_of(backend_of(t->be), &k);
	if (bpf_map_delete_elem(bpf_map__fd(f->h.skel->maps.xlb_rnat_eps), &k))
		return diag_fail(dg, "setup: cannot delete from xlb_rnat_eps: %s", strerror(errno)),
		       -1;
	return prep_reply_flow(f, t, in, dg);
}

/* xlbd has no link for the backend (it never set one up, or the
 * backend's address left): nothing may speak as the VIP from there. */
static int prep_flow_without_link(struct fixture *f, const struct tcase *t,
				  const struct pkt_desc *in, struct diag *dg)
{
	struct xlb_be_link_key k;
	struct xlb_be_link v;

	be_link_of(f, backend_of(t->be), &k, &v);
	if (bpf_map_delete_elem(bpf_map__fd(f->h.skel->maps.xlb_be_links), &k))
		return diag_fail(dg, "setup: cannot delete from xlb_be_links: %s", strerror(errno)),
		       -1;
	return prep_reply_flow(f, t, in, dg);
}

/* D's learned MAC is one it had before (a container restarted with the
 * same address, xlbd not yet looked again); the neighbour table has the
 * new one, which the reply comes from. */
static int prep_flow_stale_mac(struct fixture *f, const struct tcase *t, const struct pkt_desc *in,
			       struct diag *dg)
{
	struct xlb_be_link_key k;
	struct xlb_be_link v;

	be_link_of(f, backend_of(t->be), &k, &v);
	v.mac[5] ^= 0x40;
	if (bpf_map_update_elem(bpf_map__fd(f->h.skel->maps.xlb_be_links), &k, &v, BPF_ANY))
		return diag_fail(dg, "setup: cannot write xlb_be_links: %s", strerror(errno)), -1;
	return prep_reply_flow(f, t, in, dg);
}

/* ---- the cases ---------------------------------------------------------- */

#define XDP(...)                              \
	{                                     \
		.prog = PROG_XDP, __VA_ARGS__ \
	}
#define TC(...)                              \
	{                                    \
		.prog = PROG_TC, __VA_ARGS__ \
	}
#define REDIRECTED(b) \
	.verdict = XDP_REDIRECT, .out = OUT_DNAT_REDIRECT, .be = (b), .reason = XLB_R_FWD_REDIRECT
#define STACK_FORWARDED(b) \
	.verdict = XDP_PASS, .out = OUT_DNAT_PASS, .be = (b), .reason = XLB_R_FWD_STACK
#define TCU(...)                                    \
	{                                           \
		.prog = PROG_TC_UPLINK, __VA_ARGS__ \
	}
#define TC_REDIRECTED(b)                                                 \
	.verdict = TC_ACT_REDIRECT, .out = OUT_DNAT_REDIRECT, .be = (b), \
	.reason = XLB_R_TC_FWD_REDIRECT
#define TC_PASSED(r) .verdict = TC_ACT_UNSPEC, .out = OUT_SAME, .reason = (r)
#define TC_DROPPED(r) .verdict = TC_ACT_SHOT, .out = OUT_SAME, .reason = (r)
#define PASSED(r) .verdict = XDP_PASS, .out = OUT_SAME, .reason = (r)
#define DROPPED(r) .verdict = XDP_DROP, .out = OUT_SAME, .reason = (r)
#define RNAT_REDIRECTED(b)                                               \
	.verdict = TC_ACT_REDIRECT, .out = OUT_RNAT_REDIRECT, .be = (b), \
	.reason = XLB_R_RNAT_REDIRECT
#define FORGED_DROPPED(b) \
	.verdict = TC_ACT_SHOT, .out = OUT_SAME, .be = (b), .reason = XLB_R_DROP_REPLY_LINK

static const struct tcase cases[] = {
	/* forwarding */
	XDP(.name = "v4 tcp syn to vip: redirected, dnat, ttl-1, neighbour macs", .in = in_v4_syn,
	    REDIRECTED(BE_A4), .new_flow = 1),
	XDP(.name = "v4 tcp syn, backend link not a tx port: pass after dnat, macs and ttl kept",
	    .in = in_v4_syn, .flags = FIX_NO_TXPORT, STACK_FORWARDED(BE_A4), .new_flow = 1),
	XDP(.name = "v4 tcp data packet of an unknown flow: balanced like a syn", .in = in_v4_ack,
	    REDIRECTED(BE_A4), .new_flow = 1),
	XDP(.name = "v4 tcp syn with ethernet padding: padding kept, checksums over tot_len",
	    .in = in_v4_syn_padded, REDIRECTED(BE_A4), .new_flow = 1),
	XDP(.name = "v4 udp with checksum", .in = in_v4_udp, REDIRECTED(BE_A4_UDP), .new_flow = 1),
	XDP(.name = "v4 udp without checksum: checksum stays 0", .in = in_v4_udp_nocsum,
	    REDIRECTED(BE_A4_UDP), .new_flow = 1),
	XDP(.name = "v4 udp whose rewritten checksum computes to 0: sent as 0xffff",
	    .in = in_v4_udp_to_ffff, REDIRECTED(BE_A4_UDP), .new_flow = 1),
	XDP(.name = "v4 udp arriving with checksum 0xffff", .in = in_v4_udp_from_ffff,
	    REDIRECTED(BE_A4_UDP), .new_flow = 1),
	XDP(.name = "v6 tcp syn to vip: redirected, dnat, hop limit-1", .in = in_v6_syn,
	    REDIRECTED(BE_A6), .new_flow = 1),
	XDP(.name = "v6 tcp syn, backend link not a tx port: pass after dnat", .in = in_v6_syn,
	    .flags = FIX_NO_TXPORT, STACK_FORWARDED(BE_A6), .new_flow = 1),
	XDP(.name = "v6 udp", .in = in_v6_udp, REDIRECTED(BE_A6_UDP), .new_flow = 1),
	XDP(.name = "v6 udp whose rewritten checksum computes to 0: sent as 0xffff",
	    .in = in_v6_udp_to_ffff, REDIRECTED(BE_A6_UDP), .new_flow = 1),
	XDP(.name = "v4 with 4 option bytes (ihl 6): options kept", .in = in_v4_syn_opt4,
	    REDIRECTED(BE_A4), .new_flow = 1),
	XDP(.name = "v4 with 40 option bytes (ihl 15): options kept", .in = in_v4_syn_opt40,
	    REDIRECTED(BE_A4), .new_flow = 1),
	XDP(.name = "v6 with hop-by-hop and destination options headers", .in = in_v6_syn_hbh_dst,
	    REDIRECTED(BE_A6), .new_flow = 1),
	XDP(.name = "v6 with 4 extension headers (as many as are walked)", .in = in_v6_syn_4ext,
	    REDIRECTED(BE_A6), .new_flow = 1),
	XDP(.name = "v6 with 5 extension headers: pass untouched", .in = in_v6_syn_5ext,
	    PASSED(XLB_R_PASS_IPV6_EXT)),
	XDP(.name = "v6 with a routing header: the kernel's, passed untouched",
	    .in = in_v6_syn_routing, PASSED(XLB_R_PASS_IPV6_EXT)),
	XDP(.name = "802.1q tagged: redirected untagged", .in = in_v4_syn_vlan, REDIRECTED(BE_A4),
	    .new_flow = 1),
	XDP(.name = "qinq (802.1ad + 802.1q): redirected untagged", .in = in_v4_syn_qinq,
	    REDIRECTED(BE_A4), .new_flow = 1),
	XDP(.name = "qinq with ethernet padding: redirected untagged, padding kept",
	    .in = in_v4_syn_qinq_padded, REDIRECTED(BE_A4), .new_flow = 1),
	XDP(.name = "v6 802.1q tagged: redirected untagged", .in = in_v6_syn_vlan,
	    REDIRECTED(BE_A6), .new_flow = 1),
	XDP(.name = "802.1q tagged, backend link not a tx port: pass after dnat, tag kept",
	    .in = in_v4_syn_vlan, .flags = FIX_NO_TXPORT, STACK_FORWARDED(BE_A4), .new_flow = 1),
	XDP(.name = "three vlan tags: pass untouched", .in = in_v4_syn_3tags,
	    PASSED(XLB_R_PASS_NOT_IP)),
	XDP(.name = "backend without neighbour entry (v4): pass after dnat", .in = in_v4_syn_port83,
	    STACK_FORWARDED(BE_C4), .new_flow = 1),
	XDP(.name = "backend without neighbour entry (v6): pass after dnat", .in = in_v6_syn_port83,
	    STACK_FORWARDED(BE_C6), .new_flow = 1),

	/* backends behind a bridge: redirected into their bridge port */
	XDP(.name = "bridged backend (v4): redirected to its port, backend's mac, bridge's mac as source",
	    .in = in_v4_syn_port84, REDIRECTED(BE_D4), .new_flow = 1),
	XDP(.name = "bridged backend (v6): redirected to its port, hop limit-1",
	    .in = in_v6_syn_port84, REDIRECTED(BE_D6), .new_flow = 1),
	XDP(.name = "bridged backend, 802.1q tagged: redirected untagged",
	    .in = in_v4_syn_vlan_port84, REDIRECTED(BE_D4), .new_flow = 1),
	XDP(.name = "bridged backend without a bridge port entry: pass after dnat",
	    .in = in_v4_syn_port85, STACK_FORWARDED(BE_E4), .new_flow = 1),
	XDP(.name = "bridged backend whose port is no tx port (stale entry): pass after dnat",
	    .in = in_v4_syn_port84, .flags = FIX_STALE_BRIDGE_PORT, STACK_FORWARDED(BE_D4),
	    .new_flow = 1),

	/* backend choice and flow state */
	XDP(.name = "maglev: flow hashing to an even slot gets that slot's backend",
	    .in = in_v4_syn_even_slot, .prepare = prep_split_table, REDIRECTED(BE_A4),
	    .new_flow = 1),
	XDP(.name = "maglev: flow hashing to an odd slot gets that slot's backend",
	    .in = in_v4_syn_odd_slot, .prepare = prep_split_table, REDIRECTED(BE_B4),
	    .new_flow = 1),
	XDP(.name = "new flow after a maglev table swap: new table's backend", .in = in_v4_syn,
	    .prepare = prep_swap_table, REDIRECTED(BE_B4), .new_flow = 1),
	XDP(.name = "v4 flow keeps its backend after a maglev table swap", .in = in_v4_ack,
	    .prepare = prep_open_swap, REDIRECTED(BE_A4)),
	XDP(.name = "v6 flow keeps its backend after a maglev table swap", .in = in_v6_ack,
	    .prepare = prep_open_swap, REDIRECTED(BE_A6)),
	XDP(.name = "syn on a flow whose backend drains: picked again", .in = in_v4_syn,
	    .prepare = prep_open_drain, REDIRECTED(BE_B4), .new_flow = 1),
	XDP(.name = "non-syn on a flow whose backend drains: kept", .in = in_v4_ack,
	    .prepare = prep_open_drain, REDIRECTED(BE_A4)),
	XDP(.name = "non-syn on a flow whose backend was deleted: picked again", .in = in_v4_ack,
	    .prepare = prep_open_free, REDIRECTED(BE_B4), .new_flow = 1),
	XDP(.name = "flow whose backend slot now serves another service: picked again",
	    .in = in_v4_ack, .prepare = prep_open_reassign, REDIRECTED(BE_B4), .new_flow = 1),
	XDP(.name = "service with an empty maglev table: drop", .in = in_v4_syn_port81,
	    DROPPED(XLB_R_DROP_NO_BACKEND)),
	XDP(.name = "service without a maglev table: drop", .in = in_v4_syn_port82,
	    DROPPED(XLB_R_DROP_NO_BACKEND)),
	XDP(.name = "maglev table pointing only at a draining backend: drop", .in = in_v4_syn,
	    .prepare = prep_drain_only, DROPPED(XLB_R_DROP_NO_BACKEND)),

	/* not ours: passed byte-identical */
	XDP(.name = "tcp to the vip on a port without service", .in = in_v4_syn_port8080,
	    PASSED(XLB_R_PASS_NOT_SERVICE)),
	XDP(.name = "v4 tcp to another address", .in = in_v4_syn_other_addr,
	    PASSED(XLB_R_PASS_NOT_SERVICE)),
	XDP(.name = "v6 tcp to another address", .in = in_v6_syn_other_addr,
	    PASSED(XLB_R_PASS_NOT_SERVICE)),
	XDP(.name = "udp to a tcp service's port", .in = in_v4_udp_port80,
	    PASSED(XLB_R_PASS_NOT_SERVICE)),
	XDP(.name = "arp request", .in = in_arp, PASSED(XLB_R_PASS_NOT_IP)),
	XDP(.name = "icmp echo to the vip", .in = in_icmp_echo, PASSED(XLB_R_PASS_ICMP)),
	XDP(.name = "icmpv6 echo to the vip", .in = in_icmp6_echo, PASSED(XLB_R_PASS_ICMP)),
	XDP(.name = "gre to the vip", .in = in_gre, PASSED(XLB_R_PASS_L4_OTHER)),
	XDP(.name = "v4 first fragment (mf set)", .in = in_v4_frag_first,
	    PASSED(XLB_R_PASS_FRAGMENT)),
	XDP(.name = "v4 later fragment (offset != 0)", .in = in_v4_frag_later,
	    PASSED(XLB_R_PASS_FRAGMENT)),
	XDP(.name = "v6 fragment header", .in = in_v6_frag, PASSED(XLB_R_PASS_FRAGMENT)),
	XDP(.name = "v6 fragment header after hop-by-hop", .in = in_v6_hbh_frag,
	    PASSED(XLB_R_PASS_FRAGMENT)),
	XDP(.name = "v4 ttl 1", .in = in_v4_ttl1, PASSED(XLB_R_PASS_TTL)),
	XDP(.name = "v4 ttl 0", .in = in_v4_ttl0, PASSED(XLB_R_PASS_TTL)),
	XDP(.name = "v6 hop limit 1", .in = in_v6_hop1, PASSED(XLB_R_PASS_TTL)),

	/* ICMP errors about balanced flows: translated to the flow's backend */
	XDP(.name = "icmp frag needed to the vip about a tcp flow's reply: to its backend, "
		    "outer dst and quoted source translated, every checksum right",
	    .in = in_icmp4_frag_needed, .prepare = prep_quoted_flow, REDIRECTED(BE_A4)),
	XDP(.name = "icmp frag needed quoting only the ip header and 8 bytes: translated",
	    .in = in_icmp4_frag_needed_short, .prepare = prep_quoted_flow, REDIRECTED(BE_A4)),
	XDP(.name = "icmp frag needed from a router (not the client): translated",
	    .in = in_icmp4_frag_needed_from_router, .prepare = prep_quoted_flow, REDIRECTED(BE_A4)),
	XDP(.name = "icmp frag needed, backend link not a tx port: pass after translation",
	    .in = in_icmp4_frag_needed, .prepare = prep_quoted_flow, .flags = FIX_NO_TXPORT,
	    STACK_FORWARDED(BE_A4)),
	XDP(.name = "icmpv6 packet too big about a tcp flow's reply: to its backend, translated",
	    .in = in_icmp6_too_big, .prepare = prep_quoted_flow, REDIRECTED(BE_A6)),
	XDP(.name = "icmp port unreachable about a udp reply: quoted udp checksum updated",
	    .in = in_icmp4_port_unreach_udp, .prepare = prep_quoted_flow, REDIRECTED(BE_A4_UDP)),
	XDP(.name = "icmpv6 port unreachable about a udp reply: translated",
	    .in = in_icmp6_port_unreach_udp, .prepare = prep_quoted_flow, REDIRECTED(BE_A6_UDP)),
	XDP(.name = "icmp time exceeded about a tcp flow's reply: translated",
	    .in = in_icmp4_time_exceeded, .prepare = prep_quoted_flow, REDIRECTED(BE_A4)),
	XDP(.name = "icmp error about a vip packet of no flow: pass untouched",
	    .in = in_icmp4_frag_needed, PASSED(XLB_R_PASS_ICMP)),
	XDP(.name = "icmp redirect about a flow's reply (not an error): pass untouched",
	    .in = in_icmp4_redirect, .prepare = prep_quoted_flow, PASSED(XLB_R_PASS_ICMP)),
	XDP(.name = "icmp error quoting a vip port without service: pass untouched",
	    .in = in_icmp4_err_port8080, .prepare = prep_quoted_flow, PASSED(XLB_R_PASS_ICMP)),
	XDP(.name = "icmp error to the vip quoting another address's packet: pass untouched",
	    .in = in_icmp4_err_other_quote, .prepare = prep_quoted_flow, PASSED(XLB_R_PASS_ICMP)),
	XDP(.name = "icmp error whose quote ends inside the ports' 8 bytes: pass untouched",
	    .in = in_icmp4_err_quote_cut, .prepare = prep_quoted_flow, PASSED(XLB_R_PASS_ICMP)),
	XDP(.name = "icmpv6 error carried over ipv4: pass untouched", .in = in_icmp4_err_proto58,
	    .prepare = prep_quoted_flow, PASSED(XLB_R_PASS_ICMP)),
	XDP(.name = "icmp error about a flow, outer ipv4 header checksum wrong: dropped",
	    .in = in_icmp4_frag_needed, .prepare = prep_quoted_flow, .mutate = mut_bad_ipv4_csum,
	    DROPPED(XLB_R_DROP_BAD_HEADER)),

	/* malformed: never rewritten */
	XDP(.name = "ethernet header only", .in = in_v4_syn, .mutate = mut_eth_only,
	    DROPPED(XLB_R_DROP_TRUNCATED)),
	XDP(.name = "frame ends inside an 802.1q tag", .in = in_v4_syn_vlan,
	    .mutate = mut_cut_in_vlan, DROPPED(XLB_R_DROP_TRUNCATED)),
	XDP(.name = "frame ends inside the ipv4 header", .in = in_v4_syn, .mutate = mut_cut_in_ipv4,
	    DROPPED(XLB_R_DROP_TRUNCATED)),
	XDP(.name = "frame ends inside the tcp header, tot_len claims more", .in = in_v4_syn,
	    .mutate = mut_cut_in_tcp, DROPPED(XLB_R_DROP_TRUNCATED)),
	XDP(.name = "frame and tot_len end inside the tcp header", .in = in_v4_syn,
	    .mutate = mut_cut_in_tcp_totlen, DROPPED(XLB_R_DROP_TRUNCATED)),
	XDP(.name = "frame and tot_len end inside the udp header", .in = in_v4_udp,
	    .mutate = mut_cut_in_udp_totlen, DROPPED(XLB_R_DROP_TRUNCATED)),
	XDP(.name = "ipv4 ihl 4", .in = in_v4_syn, .mutate = mut_ihl4,
	    DROPPED(XLB_R_DROP_BAD_HEADER)),
	XDP(.name = "ipv4 header checksum wrong, to a service: dropped, no flow", .in = in_v4_syn,
	    .mutate = mut_bad_ipv4_csum, DROPPED(XLB_R_DROP_BAD_HEADER)),
	XDP(.name = "ipv4 header checksum wrong, with 40 bytes of options: dropped",
	    .in = in_v4_syn_opt40, .mutate = mut_bad_ipv4_csum, DROPPED(XLB_R_DROP_BAD_HEADER)),
	XDP(.name = "ipv4 version 5", .in = in_v4_syn, .mutate = mut_ipv4_version5,
	    DROPPED(XLB_R_DROP_BAD_HEADER)),
	XDP(.name = "ipv4 tot_len past the end of the frame", .in = in_v4_syn,
	    .mutate = mut_totlen_past_end, DROPPED(XLB_R_DROP_TRUNCATED)),
	XDP(.name = "ipv4 tot_len below ihl*4", .in = in_v4_syn, .mutate = mut_totlen_below_ihl,
	    DROPPED(XLB_R_DROP_BAD_HEADER)),
	XDP(.name = "ipv4 tot_len ends inside the tcp header, padding after: not rewritten",
	    .in = in_v4_syn_padded, .mutate = mut_totlen_in_tcp, DROPPED(XLB_R_DROP_TRUNCATED)),
	XDP(.name = "tcp doff 4", .in = in_v4_syn, .mutate = mut_doff4,
	    DROPPED(XLB_R_DROP_BAD_HEADER)),
	XDP(.name = "frame ends inside the ipv6 header", .in = in_v6_syn, .mutate = mut_cut_in_ipv6,
	    DROPPED(XLB_R_DROP_TRUNCATED)),
	XDP(.name = "ipv6 payload_len past the end of the frame", .in = in_v6_syn,
	    .mutate = mut_plen_past_end, DROPPED(XLB_R_DROP_TRUNCATED)),
	XDP(.name = "ipv6 payload_len 0 (jumbogram)", .in = in_v6_syn, .mutate = mut_plen_zero,
	    DROPPED(XLB_R_DROP_BAD_HEADER)),
	XDP(.name = "ipv6 version 4 under the ipv6 ethertype", .in = in_v6_syn,
	    .mutate = mut_ipv6_version4, DROPPED(XLB_R_DROP_BAD_HEADER)),
	XDP(.name = "frame ends inside the hop-by-hop header", .in = in_v6_syn_hbh_dst,
	    .mutate = mut_cut_in_hbh, DROPPED(XLB_R_DROP_TRUNCATED)),
	XDP(.name = "hop-by-hop header length runs past the frame", .in = in_v6_syn_hbh_dst,
	    .mutate = mut_hbh_past_end, DROPPED(XLB_R_DROP_TRUNCATED)),
	XDP(.name = "ipv6 payload_len ends inside the tcp header: not rewritten", .in = in_v6_syn,
	    .mutate = mut_plen_in_tcp, DROPPED(XLB_R_DROP_TRUNCATED)),

	/* return path */
	TC(.name = "return: v4 tcp syn-ack: src -> vip:port, redirected toward the client",
	   .in = in_reply_v4, .prepare = prep_reply_flow, .verdict = TC_ACT_REDIRECT,
	   .out = OUT_RNAT_REDIRECT, .be = BE_A4, .reason = XLB_R_RNAT_REDIRECT),
	TC(.name = "return: v4 tcp data", .in = in_reply_v4_data, .prepare = prep_reply_flow,
	   .verdict = TC_ACT_REDIRECT, .out = OUT_RNAT_REDIRECT, .be = BE_A4,
	   .reason = XLB_R_RNAT_REDIRECT),
	TC(.name = "return: reply with a wrong ipv4 header checksum: ok untouched",
	   .in = in_reply_v4, .mutate = mut_bad_ipv4_csum, .prepare = prep_reply_flow, .be = BE_A4,
	   .verdict = TC_ACT_OK, .out = OUT_SAME, .reason = R_NONE),
	TC(.name = "return: v4 with ip options", .in = in_reply_v4_opts, .prepare = prep_reply_flow,
	   .verdict = TC_ACT_REDIRECT, .out = OUT_RNAT_REDIRECT, .be = BE_A4,
	   .reason = XLB_R_RNAT_REDIRECT),
	TC(.name = "return: v4 udp", .in = in_reply_v4_udp, .prepare = prep_reply_flow,
	   .verdict = TC_ACT_REDIRECT, .out = OUT_RNAT_REDIRECT, .be = BE_A4_UDP,
	   .reason = XLB_R_RNAT_REDIRECT),
	TC(.name = "return: v4 udp without checksum: stays 0", .in = in_reply_v4_udp_nocsum,
	   .prepare = prep_reply_flow, .verdict = TC_ACT_REDIRECT, .out = OUT_RNAT_REDIRECT,
	   .be = BE_A4_UDP, .reason = XLB_R_RNAT_REDIRECT),
	TC(.name = "return: v6 tcp", .in = in_reply_v6, .prepare = prep_reply_flow,
	   .verdict = TC_ACT_REDIRECT, .out = OUT_RNAT_REDIRECT, .be = BE_A6,
	   .reason = XLB_R_RNAT_REDIRECT),
	TC(.name = "return: v6 udp", .in = in_reply_v6_udp, .prepare = prep_reply_flow,
	   .verdict = TC_ACT_REDIRECT, .out = OUT_RNAT_REDIRECT, .be = BE_A6_UDP,
	   .reason = XLB_R_RNAT_REDIRECT),
	TC(.name = "return: flow written as map_types.h describes it", .in = in_reply_v4,
	   .prepare = prep_flow_by_hand, .verdict = TC_ACT_REDIRECT, .out = OUT_RNAT_REDIRECT,
	   .be = BE_A4, .reason = XLB_R_RNAT_REDIRECT),
	TC(.name = "return: endpoint shared by two listeners: the one with the flow",
	   .in = in_reply_v4, .prepare = prep_shared_endpoint, .verdict = TC_ACT_REDIRECT,
	   .out = OUT_RNAT_REDIRECT, .be = BE_A4, .reason = XLB_R_RNAT_REDIRECT),
	TC(.name = "return: v4 reply outside any flow (a health check): ok untouched",
	   .in = in_reply_v4, .verdict = TC_ACT_OK, .out = OUT_SAME, .reason = R_NONE),
	TC(.name = "return: v6 reply outside any flow (a health check): ok untouched",
	   .in = in_reply_v6, .verdict = TC_ACT_OK, .out = OUT_SAME, .reason = R_NONE),
	TC(.name = "return: the client's flow runs to another backend: ok untouched",
	   .in = in_reply_v4, .prepare = prep_flow_to_other_backend, .be = BE_A4,
	   .verdict = TC_ACT_OK, .out = OUT_SAME, .reason = R_NONE),
	TC(.name = "return: endpoint no longer a listener's backend: ok untouched",
	   .in = in_reply_v4, .prepare = prep_flow_without_ep, .be = BE_A4, .verdict = TC_ACT_OK,
	   .out = OUT_SAME, .reason = R_NONE),
	TC(.name = "return: reply to another client port: ok untouched", .in = in_reply_v4,
	   .prepare = prep_other_port_flow, .be = BE_A4, .verdict = TC_ACT_OK, .out = OUT_SAME,
	   .reason = R_NONE),
	TC(.name = "return: truncated reply: ok untouched", .in = in_reply_v4,
	   .mutate = mut_cut_in_tcp, .prepare = prep_reply_flow, .be = BE_A4, .verdict = TC_ACT_OK,
	   .out = OUT_SAME, .reason = R_NONE),
	TC(.name = "return: v4 client without neighbour: redirect_neigh, src -> vip, ttl-1",
	   .in = in_reply_v4_noneigh, .prepare = prep_reply_flow, .verdict = TC_ACT_REDIRECT,
	   .out = OUT_RNAT_NEIGH, .be = BE_A4, .reason = XLB_R_RNAT_REDIRECT),
	TC(.name = "return: v6 client without neighbour: redirect_neigh, src -> vip, hop-1",
	   .in = in_reply_v6_noneigh, .prepare = prep_reply_flow, .verdict = TC_ACT_REDIRECT,
	   .out = OUT_RNAT_NEIGH, .be = BE_A6, .reason = XLB_R_RNAT_REDIRECT),
	TC(.name = "return: client without route: src -> vip, handed to the stack",
	   .in = in_reply_v4_noroute, .prepare = prep_reply_flow, .verdict = TC_ACT_OK,
	   .out = OUT_RNAT_STACK, .be = BE_A4, .reason = XLB_R_RNAT_STACK),
	TC(.name = "return: ttl 1: src -> vip, handed to the stack, rnat_stack counted",
	   .in = in_reply_v4_ttl1, .prepare = prep_reply_flow, .verdict = TC_ACT_OK,
	   .out = OUT_RNAT_STACK, .be = BE_A4, .reason = XLB_R_RNAT_STACK),
	TC(.name = "return: tcp reply beyond the mtu as one gso skb: redirected (its segments fit)",
	   .in = in_reply_v4_2000, .gso_size = 1448, .prepare = prep_reply_flow,
	   .verdict = TC_ACT_REDIRECT, .out = OUT_RNAT_REDIRECT, .be = BE_A4,
	   .reason = XLB_R_RNAT_REDIRECT),
	TC(.name = "return: tcp reply beyond the mtu, not gso: src -> vip, the kernel says too big",
	   .in = in_reply_v4_2000, .prepare = prep_reply_flow, .verdict = TC_ACT_OK,
	   .out = OUT_RNAT_STACK, .be = BE_A4, .reason = XLB_R_RNAT_STACK),
	TC(.name = "return: icmp port unreachable from a udp backend: outer src and quoted "
		   "destination -> vip:port, toward the client",
	   .in = in_icmp4_unreach_from_be, .prepare = prep_reply_flow, .verdict = TC_ACT_REDIRECT,
	   .out = OUT_RNAT_REDIRECT, .be = BE_A4_UDP, .reason = XLB_R_RNAT_REDIRECT),
	TC(.name = "return: icmpv6 port unreachable from a udp backend: translated",
	   .in = in_icmp6_unreach_from_be, .prepare = prep_reply_flow, .verdict = TC_ACT_REDIRECT,
	   .out = OUT_RNAT_REDIRECT, .be = BE_A6_UDP, .reason = XLB_R_RNAT_REDIRECT),
	TC(.name = "return: icmp frag needed from a tcp backend: translated",
	   .in = in_icmp4_frag_needed_from_be, .prepare = prep_reply_flow,
	   .verdict = TC_ACT_REDIRECT, .out = OUT_RNAT_REDIRECT, .be = BE_A4,
	   .reason = XLB_R_RNAT_REDIRECT),
	TC(.name = "return: icmp error from a backend about a packet of no flow: ok untouched",
	   .in = in_icmp4_unreach_from_be, .verdict = TC_ACT_OK, .out = OUT_SAME, .reason = R_NONE),
	TC(.name = "return: icmp error about a flow, sent by another address: ok untouched",
	   .in = in_icmp4_unreach_from_other, .prepare = prep_reply_flow, .be = BE_A4,
	   .verdict = TC_ACT_OK, .out = OUT_SAME, .reason = R_NONE),
	/* the backend's own link (xlb_be_links) */
	TC(.name = "return link: bridged backend's reply on its port, from its mac: reverse nat",
	   .in = in_reply_d4, .tc_if = TC_BP0, .prepare = prep_reply_flow, RNAT_REDIRECTED(BE_D4)),
	TC(.name = "return link: bridged backend's reply on the bridge, from its mac: reverse nat",
	   .in = in_reply_d4, .tc_if = TC_BR0, .prepare = prep_reply_flow, RNAT_REDIRECTED(BE_D4)),
	TC(.name = "return link: v6 bridged backend's reply on its port: reverse nat",
	   .in = in_reply_d6, .tc_if = TC_BP0, .prepare = prep_reply_flow, RNAT_REDIRECTED(BE_D6)),
	TC(.name = "return link: mac not learned yet, the neighbour table's: reverse nat",
	   .in = in_reply_e4, .tc_if = TC_BR0, .prepare = prep_reply_flow, RNAT_REDIRECTED(BE_E4)),
	TC(.name = "return link: learned mac changed since, the neighbour table's: reverse nat",
	   .in = in_reply_d4, .tc_if = TC_BR0, .prepare = prep_flow_stale_mac,
	   RNAT_REDIRECTED(BE_D4)),
	TC(.name = "return link: backend's icmp error on its port: translated", .tc_if = TC_BP0,
	   .in = in_icmp4_unreach_from_d, .prepare = prep_reply_flow, RNAT_REDIRECTED(BE_D4)),
	/* the same bytes from elsewhere: forged */
	TC(.name = "return link: tcp reply on another link (the bridge): dropped, counted",
	   .in = in_reply_v4, .tc_if = TC_BR0, .prepare = prep_reply_flow, FORGED_DROPPED(BE_A4)),
	TC(.name = "return link: udp reply on another link (a bridge port): dropped, counted",
	   .in = in_reply_v4_udp, .tc_if = TC_BP0, .prepare = prep_reply_flow,
	   FORGED_DROPPED(BE_A4_UDP)),
	TC(.name = "return link: v6 udp reply on another link (the bridge): dropped, counted",
	   .in = in_reply_v6_udp, .tc_if = TC_BR0, .prepare = prep_reply_flow,
	   FORGED_DROPPED(BE_A6_UDP)),
	TC(.name = "return link: reply arriving on the uplink: dropped, counted", .in = in_reply_v4,
	   .tc_if = TC_UP0, .prepare = prep_reply_flow, FORGED_DROPPED(BE_A4)),
	TC(.name = "return link: bridged backend's reply on another link (be0): dropped",
	   .in = in_reply_d4, .prepare = prep_reply_flow, FORGED_DROPPED(BE_D4)),
	TC(.name = "return link: bridged backend's address from another mac on the bridge: dropped",
	   .in = in_reply_d4_other_mac, .tc_if = TC_BR0, .prepare = prep_reply_flow,
	   FORGED_DROPPED(BE_D4)),
	TC(.name = "return link: bridged backend's address from another mac on its port: dropped",
	   .in = in_reply_d4_other_mac, .tc_if = TC_BP0, .prepare = prep_reply_flow,
	   FORGED_DROPPED(BE_D4)),
	TC(.name = "return link: v6 bridged backend's address from another mac: dropped",
	   .in = in_reply_d6_other_mac, .tc_if = TC_BR0, .prepare = prep_reply_flow,
	   FORGED_DROPPED(BE_D6)),
	TC(.name = "return link: mac not learned, not the neighbour table's either: dropped",
	   .in = in_reply_e4_other_mac, .tc_if = TC_BR0, .prepare = prep_reply_flow,
	   FORGED_DROPPED(BE_E4)),
	TC(.name = "return link: backend's icmp error from another mac: dropped, counted",
	   .in = in_icmp4_unreach_from_d_other_mac, .tc_if = TC_BR0, .prepare = prep_reply_flow,
	   FORGED_DROPPED(BE_D4)),
	TC(.name = "return link: backend whose link xlbd never recorded: dropped, counted",
	   .in = in_reply_v4, .prepare = prep_flow_without_link, FORGED_DROPPED(BE_A4)),
	TC(.name = "return link: reply outside any flow on another link: ok untouched (not ours)",
	   .in = in_reply_v4, .tc_if = TC_BR0, .verdict = TC_ACT_OK, .out = OUT_SAME,
	   .reason = R_NONE),

	/* the uplink decision on the skb path (xlb_ingress_tc): the same
	 * picks and counters as XDP, the rewrite through the skb helpers */
	TCU(.name = "tc uplink: v4 tcp syn: redirected, dnat, ttl-1, neighbour macs",
	    .in = in_v4_syn, TC_REDIRECTED(BE_A4), .new_flow = 1),
	TCU(.name = "tc uplink: v4 tcp data packet of an open flow: its backend, not a new flow",
	    .in = in_v4_ack, .prepare = prep_open_swap, TC_REDIRECTED(BE_A4)),
	TCU(.name = "tc uplink: v4 tcp gso skb: redirected, dnat", .in = in_v4_syn,
	    .gso_size = 1448, TC_REDIRECTED(BE_A4), .new_flow = 1),
	TCU(.name = "tc uplink: v4 udp with checksum", .in = in_v4_udp, TC_REDIRECTED(BE_A4_UDP),
	    .new_flow = 1),
	TCU(.name = "tc uplink: v4 udp without checksum: checksum stays 0", .in = in_v4_udp_nocsum,
	    TC_REDIRECTED(BE_A4_UDP), .new_flow = 1),
	TCU(.name = "tc uplink: v4 udp whose rewritten checksum computes to 0: sent as 0xffff",
	    .in = in_v4_udp_to_ffff, TC_REDIRECTED(BE_A4_UDP), .new_flow = 1),
	TCU(.name = "tc uplink: v6 tcp syn: redirected, dnat, hop limit-1", .in = in_v6_syn,
	    TC_REDIRECTED(BE_A6), .new_flow = 1),
	TCU(.name = "tc uplink: v6 udp", .in = in_v6_udp, TC_REDIRECTED(BE_A6_UDP), .new_flow = 1),
	TCU(.name = "tc uplink: v6 udp whose rewritten checksum computes to 0: sent as 0xffff",
	    .in = in_v6_udp_to_ffff, TC_REDIRECTED(BE_A6_UDP), .new_flow = 1),
	TCU(.name = "tc uplink: v4 with 40 option bytes: options kept", .in = in_v4_syn_opt40,
	    TC_REDIRECTED(BE_A4), .new_flow = 1),
	TCU(.name = "tc uplink: 802.1q tagged in the frame: redirected untagged",
	    .in = in_v4_syn_vlan, TC_REDIRECTED(BE_A4), .new_flow = 1),
	TCU(.name = "tc uplink: qinq in the frame: redirected untagged", .in = in_v4_syn_qinq,
	    TC_REDIRECTED(BE_A4), .new_flow = 1),
	TCU(.name = "tc uplink: backend link not a tx port: redirected all the same (skbs go "
		    "anywhere)",
	    .in = in_v4_syn, .flags = FIX_NO_TXPORT, TC_REDIRECTED(BE_A4), .new_flow = 1),
	TCU(.name = "tc uplink: bridged backend: redirected to the bridge, backend's mac",
	    .in = in_v4_syn_port84, TC_REDIRECTED(BE_D4), .new_flow = 1),
	TCU(.name = "tc uplink: bridged backend without a bridge port entry: redirected to the "
		    "bridge",
	    .in = in_v4_syn_port85, TC_REDIRECTED(BE_E4), .new_flow = 1),
	TCU(.name = "tc uplink: backend without neighbour entry (v4): redirect_neigh after dnat",
	    .in = in_v4_syn_port83, .verdict = TC_ACT_REDIRECT, .out = OUT_DNAT_NEIGH, .be = BE_C4,
	    .reason = XLB_R_TC_FWD_REDIRECT, .new_flow = 1),
	TCU(.name = "tc uplink: backend without neighbour entry (v6): redirect_neigh after dnat",
	    .in = in_v6_syn_port83, .verdict = TC_ACT_REDIRECT, .out = OUT_DNAT_NEIGH, .be = BE_C6,
	    .reason = XLB_R_TC_FWD_REDIRECT, .new_flow = 1),
	TCU(.name = "tc uplink: icmp frag needed about a flow's reply: translated to its backend",
	    .in = in_icmp4_frag_needed, .prepare = prep_quoted_flow, TC_REDIRECTED(BE_A4)),
	TCU(.name = "tc uplink: tcp to the vip on a port without service: on to the next filter "
		    "untouched",
	    .in = in_v4_syn_port8080, TC_PASSED(XLB_R_PASS_NOT_SERVICE)),
	TCU(.name = "tc uplink: arp: on to the next filter untouched", .in = in_arp,
	    TC_PASSED(XLB_R_PASS_NOT_IP)),
	TCU(.name = "tc uplink: v4 ttl 1: on untouched, for the kernel's icmp", .in = in_v4_ttl1,
	    TC_PASSED(XLB_R_PASS_TTL)),
	TCU(.name = "tc uplink: service with an empty maglev table: shot, counted",
	    .in = in_v4_syn_port81, TC_DROPPED(XLB_R_DROP_NO_BACKEND)),
	TCU(.name = "tc uplink: bad ipv4 header checksum: shot, counted", .in = in_v4_syn,
	    .mutate = mut_bad_ipv4_csum, TC_DROPPED(XLB_R_DROP_BAD_HEADER)),
};

#define N_CASES ((int)(sizeof(cases) / sizeof(cases[0])))

/* ---- checking ----------------------------------------------------------- */

static size_t build_expected(const struct tcase *t, const struct pkt_desc *in, const uint8_t *inb,
			     size_t inlen, uint8_t *out)
{
	const struct test_backend *be = backend_of(t->be);
	struct pkt_desc w = *in;

	switch (t->out) {
	case OUT_SAME:
		memcpy(out, inb, inlen);
		return inlen;
	case OUT_DNAT_REDIRECT:
		want_dnat(&w, be);
		want_routed(&w, be->mac, be->link_mac);
		break;
	case OUT_DNAT_PASS:
		want_dnat(&w, be);
		break;
	case OUT_DNAT_NEIGH:
		want_dnat(&w, be);
		w.ttl--;
		break;
	case OUT_RNAT_REDIRECT:
		want_rnat(&w, be);
		want_routed(&w, topo_client_mac, topo_up0_mac);
		break;
	case OUT_RNAT_NEIGH:
		want_rnat(&w, be);
		w.ttl--;
		break;
	case OUT_RNAT_STACK:
		want_rnat(&w, be);
		break;
	}
	return pkt_build(&w, out);
}

static void check_counter(struct diag *dg, const char *what, uint64_t got, uint64_t want)
{
	if (got != want)
		diag_fail(dg, "%s: expected +%llu, actual +%llu", what, (unsigned long long)want,
			  (unsigned long long)got);
}

static void check_reasons(struct diag *dg, const struct tcase *t, const struct counter_snapshot *a,
			  const struct counter_snapshot *b, size_t len)
{
	char what[64];

	for (int r = 0; r < XLB_R_MAX; r++) {
		uint64_t want = r == t->reason;

		snprintf(what, sizeof(what), "xlb_reasons[%s].packets", xlb_reason_names[r]);
		check_counter(dg, what, b->reasons[r].packets - a->reasons[r].packets, want);
		snprintf(what, sizeof(what), "xlb_reasons[%s].bytes", xlb_reason_names[r]);
		check_counter(dg, what, b->reasons[r].bytes - a->reasons[r].bytes, want * len);
	}
}

static void check_stats_one(struct diag *dg, const char *map, unsigned int id,
			    const struct xlb_counters *a, const struct xlb_counters *b, int counted,
			    size_t len, int new_flow)
{
	char what[64];

	snprintf(what, sizeof(what), "%s[%u].packets", map, id);
	check_counter(dg, what, b->packets - a->packets, (uint64_t)counted);
	snprintf(what, sizeof(what), "%s[%u].bytes", map, id);
	check_counter(dg, what, b->bytes - a->bytes, counted ? len : 0);
	snprintf(what, sizeof(what), "%s[%u].new_flows", map, id);
	check_counter(dg, what, b->new_flows - a->new_flows, (uint64_t)(counted && new_flow));
}

/* Forward-direction counters move only for the backend XDP picked. */
static void check_stats(struct diag *dg, const struct tcase *t, const struct counter_snapshot *a,
			const struct counter_snapshot *b, size_t len)
{
	int dnat = t->prog != PROG_TC && (t->out == OUT_DNAT_REDIRECT || t->out == OUT_DNAT_PASS ||
					  t->out == OUT_DNAT_NEIGH);
	uint32_t svc = dnat ? backend_of(t->be)->svc : 0;

	for (unsigned int i = 1; i <= N_SVC; i++)
		check_stats_one(dg, "xlb_svc_stats", i, &a->svc[i], &b->svc[i], i == svc, len,
				t->new_flow);
	for (unsigned int i = 1; i <= N_BE; i++)
		check_stats_one(dg, "xlb_be_stats", i, &a->be[i], &b->be[i], dnat && i == t->be,
				len, t->new_flow);
}

static void check_flow_recorded(struct fixture *f, struct diag *dg, const struct tcase *t,
				const struct pkt_desc *in)
{
	const struct test_backend *be = backend_of(t->be);
	struct xlb_flow flow;

	if (flow_backend(f, in, &flow) || flow.backend_id != t->be || flow.svc_id != be->svc)
		diag_fail(dg, "xlb_flows: no entry {backend %u, service %u} for the packet", t->be,
			  be->svc);
}

/* After a DNAT the flow must be recorded (the return path finds replies
 * through it); after anything else, no flow may exist for the packet
 * (unless the case's setup opened one). */
static void check_flow_state(struct fixture *f, struct diag *dg, const struct tcase *t,
			     const struct pkt_desc *in)
{
	struct xlb_flow flow;
	struct pkt_desc fwd;

	if (t->out != OUT_SAME && in->quote.proto) {
		forward_of_quoted_reply(in, &fwd); /* the flow the error was about */
		check_flow_recorded(f, dg, t, &fwd);
	} else if (t->out != OUT_SAME) {
		check_flow_recorded(f, dg, t, in);
	} else if (!t->prepare && flow_backend(f, in, &flow) == 0) {
		diag_fail(dg, "xlb_flows: unexpected entry to backend %u", flow.backend_id);
	}
}

static void check_output(struct diag *dg, const struct tcase *t, const struct pkt_desc *in,
			 const uint8_t *inb, size_t inlen, const struct run_result *r)
{
	uint8_t want[PKT_MAX_LEN];
	size_t want_len = build_expected(t, in, inb, inlen, want);
	char why[160];

	if (r->verdict != t->verdict)
		diag_fail(dg, "verdict: expected %s (%d), actual %s (%d)",
			  verdict_name(t->prog, t->verdict), t->verdict,
			  verdict_name(t->prog, r->verdict), r->verdict);
	diag_compare_bytes(dg, want, want_len, r->data, r->len);
	if (!t->mutate && pkt_verify_csums(r->data, r->len, why, sizeof(why)))
		diag_fail(dg, "output checksums: %s", why);
}

/* Runs the case's packet through its program and checks everything the
 * case expects: verdict, output bytes, checksums, counters, flow state. */
static void run_and_check(struct fixture *f, const struct tcase *t, const struct pkt_desc *in,
			  const uint8_t *inb, size_t inlen, struct diag *dg)
{
	struct counter_snapshot before, after;
	struct run_result r;
	int err = fixture_counters(f, &before);

	if (!err) {
		f->h.tc_gso_size = t->gso_size;
		f->h.tc_ifindex = tc_ifindex_of(&f->h, t->tc_if);
		err = harness_run(&f->h, t->prog, inb, inlen, &r);
		f->h.tc_gso_size = 0;
		f->h.tc_ifindex = 0;
		if (err) {
			diag_fail(dg, "BPF_PROG_TEST_RUN: %s", strerror(-err));
			return;
		}
		err = fixture_counters(f, &after);
	}
	if (err) {
		diag_fail(dg, "cannot read the counters: %s", strerror(-err));
		return;
	}
	check_output(dg, t, in, inb, inlen, &r);
	check_reasons(dg, t, &before, &after, inlen);
	check_stats(dg, t, &before, &after, inlen);
	if (t->prog != PROG_TC)
		check_flow_state(f, dg, t, in);
}

/* Builds a case's packet and sets the maps up for it; 0 when it can run. */
static int case_setup(struct fixture *f, const struct tcase *t, struct pkt_desc *in, uint8_t *inb,
		      size_t *inlen, struct diag *dg)
{
	int err;

	t->in(in);
	*inlen = pkt_build(in, inb);
	if (t->mutate)
		t->mutate(inb, inlen);
	err = fixture_reset(f, t->flags);
	if (err) {
		diag_fail(dg, "setup: cannot reset the maps: %s", strerror(-err));
		return err;
	}
	return t->prepare ? t->prepare(f, t, in, dg) : 0;
}

/* Runs one case and prints its TAP line; returns 0 if it passed. */
static int run_case(struct fixture *f, const struct tcase *t, int num)
{
	struct diag dg = { .failed = 0 };
	uint8_t inb[PKT_MAX_LEN];
	struct pkt_desc in;
	size_t inlen;

	if (case_setup(f, t, &in, inb, &inlen, &dg) == 0)
		run_and_check(f, t, &in, inb, inlen, &dg);
	tap_result(num, t->name, &dg);
	return dg.failed;
}

/* ---- trace events ------------------------------------------------------- */

/* A case of its own for tracing: the packet, setup and verdict of a
 * packet case, with tracing on or off (after the setup, whose packets are
 * not the case's), and the one event expected or none. */
struct trace_case {
	struct tcase c;
	int on;		     /* tracing switched on for the run */
	uint32_t filter_svc; /* trace only this service; 0: all */
	int event;	     /* one event expected (else none) */
	uint32_t svc;	     /* the event's service, or XLB_TRACE_NONE */
	int no_tuple;	     /* not IP: the event's tuple is all zero */
};

#define NONE XLB_TRACE_NONE
#define TRACED(svc_) .on = 1, .event = 1, .svc = (svc_)

static const struct trace_case trace_cases[] = {
	{ XDP(.name = "trace on: v4 syn to vip: one fwd_redirect event, tuple before, backend after",
	      .in = in_v4_syn, REDIRECTED(BE_A4), .new_flow = 1),
	  TRACED(SVC_TCP4) },
	{ TCU(.name = "trace on: tc uplink v4 syn: one tc_fwd_redirect event, prog tc-uplink",
	      .in = in_v4_syn, TC_REDIRECTED(BE_A4), .new_flow = 1),
	  TRACED(SVC_TCP4) },
	{ TCU(.name = "trace on: tc uplink, not a service: one pass_not_service event",
	      .in = in_v4_syn_port8080, TC_PASSED(XLB_R_PASS_NOT_SERVICE)),
	  TRACED(NONE) },
	{ XDP(.name = "trace on: v6 syn, kernel forwards: one fwd_stack event", .in = in_v6_syn,
	      .flags = FIX_NO_TXPORT, STACK_FORWARDED(BE_A6), .new_flow = 1),
	  TRACED(SVC_TCP6) },
	{ XDP(.name = "trace on: v4 packet of an open flow: one event, not a new flow",
	      .in = in_v4_ack, .prepare = prep_open_swap, REDIRECTED(BE_A4)),
	  TRACED(SVC_TCP4) },
	{ XDP(.name = "trace on: tcp to the vip on a port without service: one pass_not_service event",
	      .in = in_v4_syn_port8080, PASSED(XLB_R_PASS_NOT_SERVICE)),
	  TRACED(NONE) },
	{ XDP(.name = "trace on: arp: one pass_not_ip event without a tuple", .in = in_arp,
	      PASSED(XLB_R_PASS_NOT_IP)),
	  TRACED(NONE), .no_tuple = 1 },
	{ XDP(.name = "trace on: service with an empty maglev table: one drop_no_backend event",
	      .in = in_v4_syn_port81, DROPPED(XLB_R_DROP_NO_BACKEND)),
	  TRACED(SVC_EMPTY4) },
	{ XDP(.name = "trace on: ttl 1 to a service: one pass_ttl event", .in = in_v4_ttl1,
	      PASSED(XLB_R_PASS_TTL)),
	  TRACED(SVC_TCP4) },
	{ TC(.name = "trace on: return v4 syn-ack: one rnat_redirect event, vip as new source",
	     .in = in_reply_v4, .prepare = prep_reply_flow, .verdict = TC_ACT_REDIRECT,
	     .out = OUT_RNAT_REDIRECT, .be = BE_A4, .reason = XLB_R_RNAT_REDIRECT),
	  TRACED(SVC_TCP4) },
	{ TC(.name = "trace on: return v6 udp: one rnat_redirect event", .in = in_reply_v6_udp,
	     .prepare = prep_reply_flow, .verdict = TC_ACT_REDIRECT, .out = OUT_RNAT_REDIRECT,
	     .be = BE_A6_UDP, .reason = XLB_R_RNAT_REDIRECT),
	  TRACED(SVC_UDP6) },
	{ TC(.name = "trace on: reply of a flow from another link: one drop_reply_link event",
	     .in = in_reply_v4, .tc_if = TC_BR0, .prepare = prep_reply_flow, FORGED_DROPPED(BE_A4)),
	  TRACED(SVC_TCP4) },
	{ TC(.name = "trace on: reply outside any flow: no event", .in = in_reply_v4,
	     .verdict = TC_ACT_OK, .out = OUT_SAME, .reason = R_NONE),
	  .on = 1 },
	{ XDP(.name = "trace on for this service: v4 syn to vip: one event", .in = in_v4_syn,
	      REDIRECTED(BE_A4), .new_flow = 1),
	  TRACED(SVC_TCP4), .filter_svc = SVC_TCP4 },
	{ XDP(.name = "trace on for another service: v4 syn to vip: no event", .in = in_v4_syn,
	      REDIRECTED(BE_A4), .new_flow = 1),
	  .on = 1, .filter_svc = SVC_UDP4 },
	{ XDP(.name = "trace off: v4 syn to vip: no event", .in = in_v4_syn, REDIRECTED(BE_A4),
	      .new_flow = 1),
	  .on = 0 },
	{ XDP(.name = "trace off: tcp to a port without service: no event",
	      .in = in_v4_syn_port8080, PASSED(XLB_R_PASS_NOT_SERVICE)),
	  .on = 0 },
	{ XDP(.name = "trace off: service with an empty maglev table: no event",
	      .in = in_v4_syn_port81, DROPPED(XLB_R_DROP_NO_BACKEND)),
	  .on = 0 },
	{ TC(.name = "trace off: return v4 syn-ack: no event", .in = in_reply_v4,
	     .prepare = prep_reply_flow, .verdict = TC_ACT_REDIRECT, .out = OUT_RNAT_REDIRECT,
	     .be = BE_A4, .reason = XLB_R_RNAT_REDIRECT),
	  .on = 0 },
};

#define N_TRACE_CASES ((int)(sizeof(trace_cases) / sizeof(trace_cases[0])))

#define MAX_EVENTS 4

/* What the ring held after a run. */
struct collected {
	struct xlb_trace_event ev[MAX_EVENTS];
	int n;	      /* every event seen, also past MAX_EVENTS */
	int short_ev; /* events smaller than the struct */
};

static int collect_event(void *ctx, void *data, size_t size)
{
	struct collected *c = ctx;

	if (size < sizeof(c->ev[0]))
		c->short_ev++;
	else if (c->n < MAX_EVENTS)
		memcpy(&c->ev[c->n], data, sizeof(c->ev[0]));
	c->n++;
	return 0;
}

static int trace_cfg_set(struct fixture *f, int on, uint32_t filter_svc)
{
	struct xlb_trace_cfg cfg = {
		.enabled = (uint32_t)on,
		.sample_n = 1,
		.flags = filter_svc ? XLB_TRACE_F_SERVICE : 0,
		.svc_id = filter_svc,
	};
	uint32_t zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(f->h.skel->maps.xlb_trace_cfg), &zero, &cfg, BPF_ANY))
		return -errno;
	return 0;
}

static int trace_stats_sum(struct fixture *f, struct xlb_trace_stats *s)
{
	return harness_percpu_sum(&f->h, f->h.skel->maps.xlb_trace_stats, 0, (uint64_t *)s, 2);
}

static int is_dnat(const struct tcase *t)
{
	return t->out == OUT_DNAT_REDIRECT || t->out == OUT_DNAT_PASS || t->out == OUT_DNAT_NEIGH;
}

static int is_rnat(const struct tcase *t)
{
	return t->out == OUT_RNAT_REDIRECT || t->out == OUT_RNAT_NEIGH || t->out == OUT_RNAT_STACK;
}

/* The event the case's packet must produce, built from the case alone. */
static void expected_event(const struct fixture *f, const struct trace_case *tc,
			   const struct pkt_desc *in, size_t inlen, struct xlb_trace_event *w)
{
	const struct tcase *t = &tc->c;
	const struct test_backend *be = backend_of(t->be);

	memset(w, 0, sizeof(*w));
	w->ifindex =
		(uint32_t)(t->prog != PROG_TC ? f->h.up_ifindex : tc_ifindex_of(&f->h, t->tc_if));
	w->len = (uint32_t)inlen;
	w->svc_id = tc->svc;
	w->backend_id =
		is_dnat(t) || is_rnat(t) || t->reason == XLB_R_DROP_REPLY_LINK ? t->be : NONE;
	if (!tc->no_tuple)
		flow_key_of(in, &w->key);
	if (is_dnat(t)) {
		fixture_xlb_addr(&w->nat_addr, be->family, be->addr);
		w->nat_port = htons(be->port);
	} else if (is_rnat(t)) {
		const struct test_service *s = service_of(be->svc);

		fixture_xlb_addr(&w->nat_addr, s->family, s->vip);
		w->nat_port = htons(s->port);
	}
	w->prog = t->prog == PROG_XDP  ? XLB_TRACE_XDP
		  : t->prog == PROG_TC ? XLB_TRACE_TC
				       : XLB_TRACE_TC_UPLINK;
	w->reason = (uint8_t)t->reason;
	w->flags = t->new_flow ? XLB_TRACE_EV_NEW_FLOW : 0;
}

#define CHECK_FIELD(dg, name, want, got)                                                  \
	do {                                                                              \
		if ((uint64_t)(want) != (uint64_t)(got))                                  \
			diag_fail(dg, "event %s: expected %llu, actual %llu", name,       \
				  (unsigned long long)(want), (unsigned long long)(got)); \
	} while (0)

static void check_event(struct diag *dg, const struct xlb_trace_event *w,
			const struct xlb_trace_event *e)
{
	if (e->ts_ns == 0)
		diag_fail(dg, "event ts_ns: 0");
	CHECK_FIELD(dg, "ifindex", w->ifindex, e->ifindex);
	CHECK_FIELD(dg, "len", w->len, e->len);
	CHECK_FIELD(dg, "svc_id", w->svc_id, e->svc_id);
	CHECK_FIELD(dg, "backend_id", w->backend_id, e->backend_id);
	CHECK_FIELD(dg, "prog", w->prog, e->prog);
	CHECK_FIELD(dg, "reason", w->reason, e->reason);
	CHECK_FIELD(dg, "flags", w->flags, e->flags);
	CHECK_FIELD(dg, "key.family", w->key.family, e->key.family);
	CHECK_FIELD(dg, "key.proto", w->key.proto, e->key.proto);
	CHECK_FIELD(dg, "key.sport", ntohs(w->key.sport), ntohs(e->key.sport));
	CHECK_FIELD(dg, "key.dport", ntohs(w->key.dport), ntohs(e->key.dport));
	CHECK_FIELD(dg, "nat_port", ntohs(w->nat_port), ntohs(e->nat_port));
	if (memcmp(&w->key, &e->key, sizeof(w->key)))
		diag_fail(dg, "event key (addresses or padding) differs from the packet's");
	if (memcmp(&w->nat_addr, &e->nat_addr, sizeof(w->nat_addr)))
		diag_fail(dg, "event nat_addr differs from the rewritten address");
	if (memcmp(w->pad, e->pad, sizeof(w->pad)))
		diag_fail(dg, "event padding not zero");
}

/* Runs the case's packet with tracing set as the case says; tracing is
 * off again afterwards, whatever happened. */
static void trace_run_and_check(struct fixture *f, struct ring_buffer *rb, struct collected *col,
				const struct trace_case *tc, const struct pkt_desc *in,
				const uint8_t *inb, size_t inlen, struct diag *dg)
{
	struct xlb_trace_stats before, after;
	struct xlb_trace_event want;
	struct run_result r;
	int err;

	ring_buffer__consume(rb); /* the setup's events, if any */
	*col = (struct collected){ 0 };
	err = trace_stats_sum(f, &before);
	if (!err)
		err = trace_cfg_set(f, tc->on, tc->filter_svc);
	f->h.tc_ifindex = tc_ifindex_of(&f->h, tc->c.tc_if);
	if (!err)
		err = harness_run(&f->h, tc->c.prog, inb, inlen, &r);
	f->h.tc_ifindex = 0;
	if (trace_cfg_set(f, 0, 0) && !err)
		err = -EIO;
	if (!err)
		err = trace_stats_sum(f, &after);
	if (err) {
		diag_fail(dg, "run with tracing: %s", strerror(-err));
		return;
	}
	ring_buffer__consume(rb);
	if (r.verdict != tc->c.verdict)
		diag_fail(dg, "verdict: expected %s, actual %s",
			  verdict_name(tc->c.prog, tc->c.verdict),
			  verdict_name(tc->c.prog, r.verdict));
	if (col->n != tc->event || col->short_ev)
		diag_fail(dg, "events: expected %d, actual %d (%d short)", tc->event, col->n,
			  col->short_ev);
	check_counter(dg, "xlb_trace_stats.events", after.events - before.events,
		      (uint64_t)tc->event);
	check_counter(dg, "xlb_trace_stats.lost", after.lost - before.lost, 0);
	if (col->n == 1 && tc->event) {
		expected_event(f, tc, in, inlen, &want);
		check_event(dg, &want, &col->ev[0]);
	}
}

static int run_trace_case(struct fixture *f, struct ring_buffer *rb, struct collected *col,
			  const struct trace_case *tc, int num)
{
	const struct tcase *t = &tc->c;
	struct diag dg = { .failed = 0 };
	uint8_t inb[PKT_MAX_LEN];
	struct pkt_desc in;
	size_t inlen;

	if (case_setup(f, t, &in, inb, &inlen, &dg) == 0)
		trace_run_and_check(f, rb, col, tc, &in, inb, inlen, &dg);
	tap_result(num, t->name, &dg);
	return dg.failed;
}

/* ---- the flow hash's seed -------------------------------------------------- */

/* Source ports each seed case sends a SYN from, and the two seeds. */
#define SEED_PORTS 64
static const uint64_t seed_pair[2] = { 0x0123456789abcdefULL, 0xfedcba9876543210ULL };

struct seed_run {
	uint32_t got[SEED_PORTS];  /* the backend xlb_ingress recorded for each port */
	uint32_t want[SEED_PORTS]; /* the one the slot computed here names */
};

/* The backend prog records for SYNs (in) from SEED_PORTS source ports
 * to svc, whose table is split by slot parity, with seed in
 * xlb_dp_config, from fresh flow state. */
static int prog_picks(struct fixture *f, enum prog_kind prog, void (*in)(struct pkt_desc *d),
		      uint32_t svc, uint64_t seed, uint32_t got[SEED_PORTS], struct diag *dg)
{
	uint8_t b[PKT_MAX_LEN];
	struct xlb_flow flow;
	struct run_result r;
	struct pkt_desc d;
	int err = fixture_reset(f, 0);

	if (!err)
		err = fixture_set_table(f, svc, TBL_SPLIT_A4_B4);
	if (!err)
		err = fixture_put_hash_seed(f, seed);
	if (err)
		return diag_fail(dg, "setup: %s", strerror(-err)), -1;
	for (int i = 0; i < SEED_PORTS; i++) {
		in(&d);
		d.sport = (uint16_t)(40000 + i);
		err = harness_run(&f->h, prog, b, pkt_build(&d, b), &r);
		if (err)
			return diag_fail(dg, "test run: %s", strerror(-err)), -1;
		got[i] = flow_backend(f, &d, &flow) ? 0 : flow.backend_id;
	}
	return 0;
}

/* xlb_ingress's picks for SVC_TCP4 with seed, and the backend the slot
 * computed here names for each. */
static int seed_picks(struct fixture *f, uint64_t seed, struct seed_run *sr, struct diag *dg)
{
	struct pkt_desc d;

	if (prog_picks(f, PROG_XDP, in_v4_syn, SVC_TCP4, seed, sr->got, dg))
		return -1;
	for (int i = 0; i < SEED_PORTS; i++) {
		in_v4_syn(&d);
		d.sport = (uint16_t)(40000 + i);
		sr->want[i] = maglev_slot_seeded(&d, seed) % 2 ? BE_B4 : BE_A4;
	}
	return 0;
}

static int seed_runs(struct fixture *f, struct seed_run sr[2], struct diag *dg)
{
	return seed_picks(f, seed_pair[0], &sr[0], dg) || seed_picks(f, seed_pair[1], &sr[1], dg);
}

/* The program hashes with the seed in the map, as userspace does. */
static void seed_case_follows_map(struct fixture *f, struct diag *dg)
{
	struct seed_run sr[2];

	if (seed_runs(f, sr, dg))
		return;
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < SEED_PORTS; i++)
			if (sr[k].got[i] != sr[k].want[i]) {
				diag_fail(
					dg,
					"seed %016llx, source port %d: backend %u, the seed's slot "
					"names %u",
					(unsigned long long)seed_pair[k], 40000 + i, sr[k].got[i],
					sr[k].want[i]);
				break;
			}
}

/* Another seed, another spread: what a client learned of one node's
 * slots says nothing of another's. */
static void seed_case_moves_picks(struct fixture *f, struct diag *dg)
{
	struct seed_run sr[2];
	int differ = 0;

	if (seed_runs(f, sr, dg))
		return;
	for (int i = 0; i < SEED_PORTS; i++)
		differ += sr[0].got[i] != sr[1].got[i];
	if (!differ)
		diag_fail(dg, "seeds %016llx and %016llx picked the same %d backends",
			  (unsigned long long)seed_pair[0], (unsigned long long)seed_pair[1],
			  SEED_PORTS);
}

/* ---- the same answers in every mode ----------------------------------------- */

/* Whichever uplink program serves a client, each flow gets the same
 * backend: a node whose uplinks differ in mode, or one restarted in
 * another mode, splits the same flows the same way. */
static void modes_pick_alike(struct fixture *f, struct diag *dg, void (*in)(struct pkt_desc *d),
			     uint32_t svc)
{
	uint32_t xdp[SEED_PORTS], tc[SEED_PORTS];
	int distinct = 0;

	if (prog_picks(f, PROG_XDP, in, svc, seed_pair[0], xdp, dg) ||
	    prog_picks(f, PROG_TC_UPLINK, in, svc, seed_pair[0], tc, dg))
		return;
	for (int i = 0; i < SEED_PORTS; i++) {
		if (!xdp[i] || xdp[i] != tc[i]) {
			diag_fail(dg, "source port %d: xdp picked %u, tc uplink %u", 40000 + i,
				  xdp[i], tc[i]);
			return;
		}
		distinct |= xdp[i] == xdp[0] ? 0 : 1;
	}
	if (!distinct)
		diag_fail(dg, "every port picked backend %u: the split table was not used", xdp[0]);
}

static void modes_case_tcp4(struct fixture *f, struct diag *dg)
{
	modes_pick_alike(f, dg, in_v4_syn, SVC_TCP4);
}

static const struct {
	const char *name;
	void (*run)(struct fixture *f, struct diag *dg);
} seed_cases[] = {
	{ "same answers in every mode: 64 v4 tcp flows, xlb_ingress and xlb_ingress_tc pick "
	  "the same backends",
	  modes_case_tcp4 },

	{ "hash seed: over 64 source ports xlb_ingress picks by the seed in xlb_dp_config, "
	  "as userspace computes (two seeds)",
	  seed_case_follows_map },
	{ "hash seed: two seeds pick different backend sequences for the same 64 packets",
	  seed_case_moves_picks },
};

#define N_SEED_CASES ((int)(sizeof(seed_cases) / sizeof(seed_cases[0])))

/* ---- main --------------------------------------------------------------- */

struct options {
	struct harness_ifnames ifs;
	const char *only;
};

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		HARNESS_IF_OPTIONS,
		{ "only", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (harness_if_option(&o->ifs, c, optarg))
			continue;
		if (c == 'o')
			o->only = optarg;
		else
			return -1;
	}
	return harness_ifnames_complete(&o->ifs) && optind == argc ? 0 : -1;
}

static int selected_name(const struct options *o, const char *name)
{
	return !o->only || strstr(name, o->only);
}

static int selected(const struct options *o, const struct tcase *t)
{
	return selected_name(o, t->name);
}

int main(int argc, char **argv)
{
	static struct collected col;
	struct ring_buffer *rb;
	struct options o;
	struct fixture f;
	int n = 0, num = 0, failed = 0;

	if (parse_options(argc, argv, &o)) {
		fprintf(stderr,
			"usage: %s --uplink IF --backend-if IF --bridge IF --bridge-port IF "
			"[--only SUBSTRING]\n",
			argv[0]);
		return 2;
	}
	if (harness_check_mac(o.ifs.uplink, topo_up0_mac) ||
	    harness_check_mac(o.ifs.backend_if, topo_be0_mac) ||
	    harness_check_mac(o.ifs.bridge, topo_br0_mac) ||
	    harness_check_mac(o.ifs.bridge_port, topo_bp0_mac))
		return 2;
	if (fixture_open(&f, &o.ifs))
		return 2;
	rb = ring_buffer__new(bpf_map__fd(f.h.skel->maps.xlb_trace), collect_event, &col, NULL);
	if (!rb) {
		fprintf(stderr, "bpf_test: cannot map the trace ring: %s\n", strerror(errno));
		fixture_close(&f);
		return 2;
	}
	for (int i = 0; i < N_CASES; i++)
		n += selected(&o, &cases[i]);
	for (int i = 0; i < N_TRACE_CASES; i++)
		n += selected(&o, &trace_cases[i].c);
	for (int i = 0; i < N_SEED_CASES; i++)
		n += selected_name(&o, seed_cases[i].name);
	tap_plan(n);
	for (int i = 0; i < N_CASES; i++) {
		if (selected(&o, &cases[i]))
			failed += run_case(&f, &cases[i], ++num);
	}
	for (int i = 0; i < N_TRACE_CASES; i++) {
		if (selected(&o, &trace_cases[i].c))
			failed += run_trace_case(&f, rb, &col, &trace_cases[i], ++num);
	}
	for (int i = 0; i < N_SEED_CASES; i++) {
		struct diag dg = { .failed = 0 };

		if (!selected_name(&o, seed_cases[i].name))
			continue;
		seed_cases[i].run(&f, &dg);
		tap_result(++num, seed_cases[i].name, &dg);
		failed += dg.failed;
	}
	ring_buffer__free(rb);
	fixture_close(&f);
	printf("bpf_test: %d passed, %d failed\n", num - failed, failed);
	return failed ? 1 : 0;
}
