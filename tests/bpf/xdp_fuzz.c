// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* A BPF_PROG_TEST_RUN fuzz loop over the xlb data path: bad input must
 * never crash or mistranslate. Each iteration builds a valid packet (pkt.h), mutates it at
 * random, runs it through xlb_ingress (or, for backend replies, through
 * the tc program xlb_return) and judges the result with an oracle that
 * shares no code with the data path:
 *
 *   XDP_DROP / TC_ACT_SHOT                         ok
 *   XDP_PASS / TC_ACT_OK, frame byte-identical     ok
 *   any other outcome                              must be a correct DNAT
 *       (XDP) or reverse NAT (tc) of a known flow, checked field by field
 *       against the input by an independent parser (see check_rewrite):
 *       only the NAT address/port, TTL and checksum bytes may differ; the
 *       target is a backend of the service the input names (DNAT) or the
 *       VIP:port of the backend's service (reverse NAT), and xlb_flows
 *       holds that flow; redirected frames lose one TTL, their VLAN tags
 *       (XDP) and get the next hop's MACs; the output's IPv4 header
 *       checksum is valid; its L4 checksum is valid iff the input's was.
 *
 * Some base packets are ICMP errors about an open flow: to the VIP about
 * the flow's reply (XDP), or from the backend about the client's packet
 * (tc), quoting anything from part of an IP header to the whole packet.
 * A changed output of one must be its translation (check_icmp_rewrite):
 * the outer address on the balancer's side and the quoted address and
 * port matching it moved to the flow's backend (XDP) or VIP:port (tc),
 * nothing else but TTL and checksums changed, the outer IPv4 header
 * valid, and the ICMP, quoted IPv4 header and quoted L4 checksums keeping
 * their sums (valid iff the input's were). An error the oracle expects
 * translated must not come out unchanged.
 *
 * A backend's reply (or ICMP error) arrives on a link the case draws:
 * mostly the backend's own as xlb_be_links records it, else another one,
 * and now and then from another MAC. Reverse NAT is right only for a
 * frame on its backend's link (behind the bridge: from the MAC xlbd
 * learned, or the one the neighbour table holds); a frame from elsewhere
 * may be dropped under drop_reply_link, and that reason may count no
 * frame that came from its backend's link (see on_backend_link).
 *
 * Each XDP_DROP and TC_ACT_SHOT must move exactly one drop counter of
 * xlb_reasons; at the end every run must have counted exactly one reason,
 * and each rewrite its kind (fwd_redirect, fwd_stack, rnat_redirect,
 * rnat_stack), each refused reply drop_reply_link.
 *
 * Every iteration draws from its own random stream (seed, iteration), so
 * one failing iteration replays alone: --seed S --iteration I.
 *
 * usage: xdp_fuzz --uplink IF --backend-if IF --bridge IF --bridge-port IF
 *                 [--iterations N] [--seed S] [--iteration I] [--keep-going]
 * (tests/bpf/run.sh adds the interface options.) */
#include <getopt.h>
#include <inttypes.h>
#include <time.h>
#include <linux/pkt_cls.h>

#include "fixture.h"
#include "inet_csum.h"
#include "pkt.h"
#include "tap.h"
#include "xlb/reason_names.h"

#define DEFAULT_ITERATIONS 20000
#define TC_PERCENT 10	    /* share of iterations that fuzz the return program */
#define XDP_ICMP_PERCENT 15 /* shares of each program's iterations whose base */
#define TC_ICMP_PERCENT 25  /* packet is an ICMP error about an open flow */
#define MAX_REPORTS 5	    /* failures printed in full with --keep-going */
#define ORACLE_MAX_VLANS \
	8 /* more than the data path parses: the oracle
				 * judges the rewrite, not the parser's limits */
#define ORACLE_MAX_EXT 16

/* ---- random numbers ------------------------------------------------------ */

struct rng {
	uint64_t s;
};

/* splitmix64: small, fast, and every seed gives a full-quality stream. */
static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rnd(struct rng *r, uint32_t n)
{
	return n ? (uint32_t)(rng_next(r) % n) : 0;
}

static int chance(struct rng *r, uint32_t percent)
{
	return rnd(r, 100) < percent;
}

/* One stream per iteration: replaying iteration I needs no other. */
static void rng_for(struct rng *r, uint64_t seed, uint64_t iter)
{
	r->s = seed ^ (iter * 0xd1b54a32d192ed03ull);
	rng_next(r);
}

#define PICK(r, arr) ((arr)[rnd((r), sizeof(arr) / sizeof((arr)[0]))])

/* ---- the fixture's addresses, parsed once -------------------------------- */

static uint8_t svc_vip[N_SVC + 1][16];
static uint8_t be_addr[N_BE + 1][16];

/* Neighbours of the topology (topo.h): what a successful fib lookup puts
 * in a rewritten frame's Ethernet header. */
struct neigh {
	int family;
	const char *text;
	const uint8_t *mac, *ifmac;
	uint8_t addr[16];
};

static struct neigh neighs[] = {
	{ AF_INET, TOPO_CLIENT4, topo_client_mac, topo_up0_mac, { 0 } },
	{ AF_INET6, TOPO_CLIENT6, topo_client_mac, topo_up0_mac, { 0 } },
	{ AF_INET, TOPO_BE_A4, topo_be_a_mac, topo_be0_mac, { 0 } },
	{ AF_INET6, TOPO_BE_A6, topo_be_a_mac, topo_be0_mac, { 0 } },
	{ AF_INET, TOPO_BE_B4, topo_be_b_mac, topo_be0_mac, { 0 } },
	{ AF_INET6, TOPO_BE_B6, topo_be_b_mac, topo_be0_mac, { 0 } },
	{ AF_INET, TOPO_BE_D4, topo_be_d_mac, topo_br0_mac, { 0 } },
	{ AF_INET6, TOPO_BE_D6, topo_be_d_mac, topo_br0_mac, { 0 } },
	{ AF_INET, TOPO_BE_E4, topo_be_e_mac, topo_br0_mac, { 0 } },
};

#define N_NEIGH (sizeof(neighs) / sizeof(neighs[0]))

/* Addresses a mutation writes into a header: the fixture's, and the
 * classic trouble makers. */
static const char *const mut_addrs4[] = {
	TOPO_VIP4, TOPO_OTHER4,	      TOPO_CLIENT4, TOPO_BE_A4,	 TOPO_BE_D4,
	"0.0.0.0", "255.255.255.255", "127.0.0.1",  "224.0.0.1", "10.210.0.1",
};
static const char *const mut_addrs6[] = {
	TOPO_VIP6,
	TOPO_OTHER6,
	TOPO_CLIENT6,
	TOPO_BE_A6,
	TOPO_BE_D6,
	"::",
	"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	"::1",
	"ff02::1",
	"fe80::1",
};

static void addrs_init(void)
{
	for (int i = 0; i < N_SVC; i++)
		fixture_addr(svc_vip[i + 1], test_services[i].family, test_services[i].vip);
	for (int i = 0; i < N_BE; i++)
		fixture_addr(be_addr[i + 1], test_backends[i].family, test_backends[i].addr);
	for (size_t i = 0; i < N_NEIGH; i++)
		fixture_addr(neighs[i].addr, neighs[i].family, neighs[i].text);
}

static size_t alen_of(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

/* ---- the oracle's own parser ----------------------------------------------- */

/* Where a TCP/UDP packet's fields sit in a frame. Strict about everything
 * a NAT reads or writes; lenient where the data path may legitimately
 * differ (tag count, extension header count, TCP options). */
struct view {
	int nvlan;
	uint16_t ethertype; /* the one after the tags */
	int family;
	uint8_t proto;
	size_t l3, l4;
	size_t ip_end;	 /* where the IP header says the packet ends */
	size_t src, dst; /* address offsets */
	size_t ttl;
	size_t csum; /* L4 checksum offset */
	int n_ext;   /* IPv6 extension headers walked */
	int routing; /* one of them a routing header: xlb leaves it alone */
};

static int view_l2(const uint8_t *f, size_t len, struct view *v)
{
	size_t off = 12;
	uint16_t type;

	if (len < 14)
		return -1;
	type = pkt_get16(f, off);
	while (type == PKT_ETH_P_8021Q || type == PKT_ETH_P_8021AD) {
		if (v->nvlan == ORACLE_MAX_VLANS || off + 6 > len)
			return -1;
		off += 4;
		v->nvlan++;
		type = pkt_get16(f, off);
	}
	v->ethertype = type;
	v->l3 = off + 2;
	return 0;
}

/* in_frame: the IP length must fit in the frame (XDP sees whole frames);
 * the tc program trusts skb lengths, so for it only headers must fit. */
static int view_ipv4(const uint8_t *f, size_t len, int in_frame, struct view *v)
{
	const uint8_t *ip = f + v->l3;
	size_t hlen, tot;

	if (v->l3 + 20 > len || ip[0] >> 4 != 4 || (ip[0] & 0x0f) < 5)
		return -1;
	hlen = (size_t)(ip[0] & 0x0f) * 4;
	tot = pkt_get16(ip, 2);
	if (tot < hlen || (in_frame && v->l3 + tot > len))
		return -1;
	if (pkt_get16(ip, 6) & 0x3fff) /* MF or an offset: a fragment */
		return -1;
	v->family = AF_INET;
	v->proto = ip[9];
	v->l4 = v->l3 + hlen;
	v->ip_end = v->l3 + tot;
	v->src = v->l3 + 12;
	v->dst = v->l3 + 16;
	v->ttl = v->l3 + 8;
	return 0;
}

static int view_ipv6(const uint8_t *f, size_t len, int in_frame, struct view *v)
{
	const uint8_t *ip = f + v->l3;
	size_t off = v->l3 + 40, plen;
	uint8_t next;
	int n = 0;

	if (v->l3 + 40 > len || ip[0] >> 4 != 6)
		return -1;
	plen = pkt_get16(ip, 4);
	if (plen == 0 || (in_frame && off + plen > len))
		return -1;
	v->ip_end = off + plen;
	next = ip[6];
	for (; next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING || next == IPPROTO_DSTOPTS; n++) {
		if (n == ORACLE_MAX_EXT || off + 2 > len || off + 2 > v->ip_end)
			return -1;
		v->routing |= next == IPPROTO_ROUTING;
		next = f[off];
		off += 8 * ((size_t)f[off + 1] + 1);
	}
	v->n_ext = n;
	v->family = AF_INET6;
	v->proto = next;
	v->l4 = off;
	v->src = v->l3 + 8;
	v->dst = v->l3 + 24;
	v->ttl = v->l3 + 7;
	return 0;
}

static int view_l4(const uint8_t *f, size_t len, struct view *v)
{
	size_t hdr = v->proto == IPPROTO_TCP ? 20 : 8;

	if (v->proto != IPPROTO_TCP && v->proto != IPPROTO_UDP)
		return -1;
	if (v->l4 + hdr > len || v->l4 + hdr > v->ip_end)
		return -1;
	if (v->proto == IPPROTO_TCP && f[v->l4 + 12] >> 4 < 5)
		return -1; /* a data offset below the fixed header */
	v->csum = v->l4 + (v->proto == IPPROTO_TCP ? 16 : 6);
	return 0;
}

/* 0 if f is an unfragmented IPv4 or IPv6 packet; v->proto and v->l4 then
 * name what follows the IP headers. */
static int view_l3(const uint8_t *f, size_t len, int in_frame, struct view *v)
{
	memset(v, 0, sizeof(*v));
	if (view_l2(f, len, v))
		return -1;
	if (v->ethertype == PKT_ETH_P_IP)
		return view_ipv4(f, len, in_frame, v);
	if (v->ethertype == PKT_ETH_P_IPV6)
		return view_ipv6(f, len, in_frame, v);
	return -1;
}

/* 0 if f is an unfragmented TCP/UDP packet over IPv4 or IPv6. */
static int view_parse(const uint8_t *f, size_t len, int in_frame, struct view *v)
{
	if (view_l3(f, len, in_frame, v))
		return -1;
	return view_l4(f, len, v);
}

static uint16_t view_sport(const uint8_t *f, const struct view *v)
{
	return pkt_get16(f, v->l4);
}

static uint16_t view_dport(const uint8_t *f, const struct view *v)
{
	return pkt_get16(f, v->l4 + 2);
}

static int ipv4_hdr_valid(const uint8_t *f, const struct view *v)
{
	return inet_fold(inet_sum(0, f + v->l3, v->l4 - v->l3)) == 0xffff;
}

/* The L4 sum over the length the IP header states (the caller checked
 * the frame holds it), checksum field included. */
static uint64_t l4_sum(const uint8_t *f, const struct view *v)
{
	uint32_t l4len = (uint32_t)(v->ip_end - v->l4);
	uint64_t sum = inet_pseudo_sum(v->family, f + v->src, f + v->dst, v->proto, l4len);

	return inet_sum(sum, f + v->l4, l4len);
}

/* A checksum is valid when the one's complement sum comes to -0; an
 * IPv4 UDP checksum of 0 means "none" and counts as valid. */
static int l4_valid(const uint8_t *f, const struct view *v)
{
	if (v->proto == IPPROTO_UDP && v->family == AF_INET && pkt_get16(f, v->csum) == 0)
		return 1;
	return inet_fold(l4_sum(f, v)) == 0xffff;
}

/* ---- the oracle's parser: ICMP errors ------------------------------------- */

/* Types whose message quotes the packet that caused it (RFC 792, 4443). */
static int icmp_is_error(int family, uint8_t type)
{
	if (family == AF_INET)
		return type == 3 || type == 11 || type == 12;
	return type >= 1 && type <= 4;
}

static uint8_t icmp_proto_of(int family)
{
	return family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
}

/* Where an ICMP error's fields sit: the outer packet in o (o.l4 is the
 * ICMP header, o.csum its checksum), the quoted TCP/UDP packet after it. */
struct qview {
	struct view o;
	size_t end;	   /* the quote ends with the frame or the outer IP packet */
	size_t q3, q4;	   /* the quoted IP and L4 headers */
	size_t qsrc, qdst; /* the quoted addresses */
	size_t q_ip_end;   /* where the quoted IP header says its packet ends */
	uint8_t qproto;
	size_t qcsum; /* the quoted L4 checksum; 0: not in the quote */
};

/* A quoted IPv4 header without options, and no later fragment: one
 * without ports. */
static int view_quote_ipv4(const uint8_t *f, struct qview *q)
{
	const uint8_t *ip = f + q->q3;

	if (q->q3 + 20 > q->end || ip[0] != 0x45 || (pkt_get16(ip, 6) & 0x1fff))
		return -1;
	q->qproto = ip[9];
	q->qsrc = q->q3 + 12;
	q->qdst = q->q3 + 16;
	q->q4 = q->q3 + 20;
	q->q_ip_end = q->q3 + pkt_get16(ip, 2);
	return 0;
}

/* A quoted IPv6 header directly followed by its L4 header. */
static int view_quote_ipv6(const uint8_t *f, struct qview *q)
{
	const uint8_t *ip = f + q->q3;

	if (q->q3 + 40 > q->end || ip[0] >> 4 != 6)
		return -1;
	q->qproto = ip[6];
	q->qsrc = q->q3 + 8;
	q->qdst = q->q3 + 24;
	q->q4 = q->q3 + 40;
	q->q_ip_end = q->q4 + pkt_get16(ip, 4);
	return 0;
}

/* 0 if f is an ICMP error of its IP family quoting an IP header of that
 * family and at least 8 bytes of TCP or UDP, all within the outer packet
 * (the translatable shape; whether xlb knows the flow is the caller's). */
static int view_icmp(const uint8_t *f, size_t len, int in_frame, struct qview *q)
{
	struct view *o = &q->o;
	size_t csum;

	memset(q, 0, sizeof(*q));
	if (view_l3(f, len, in_frame, o) || o->proto != icmp_proto_of(o->family))
		return -1;
	q->end = o->ip_end < len ? o->ip_end : len;
	if (o->l4 + 8 > q->end || !icmp_is_error(o->family, f[o->l4]))
		return -1;
	o->csum = o->l4 + 2;
	q->q3 = o->l4 + 8;
	if (o->family == AF_INET ? view_quote_ipv4(f, q) : view_quote_ipv6(f, q))
		return -1;
	if ((q->qproto != IPPROTO_TCP && q->qproto != IPPROTO_UDP) || q->q4 + 8 > q->end)
		return -1;
	csum = q->q4 + (q->qproto == IPPROTO_TCP ? 16 : 6);
	q->qcsum = csum + 2 <= q->end ? csum : 0;
	return 0;
}

/* Whether the outer packet is ICMP of its family (its shape aside). */
static int is_icmp(const uint8_t *f, size_t len)
{
	struct view v;

	return view_l3(f, len, 0, &v) == 0 && v.proto == icmp_proto_of(v.family);
}

/* What the ICMP checksum sums to -0: the message, and for ICMPv6 also the
 * pseudo-header of the outer addresses (RFC 4443 2.3). The caller checked
 * that the frame holds the message. */
static uint64_t icmp_sum(const uint8_t *f, const struct view *o)
{
	if (o->family == AF_INET6)
		return l4_sum(f, o);
	return inet_sum(0, f + o->l4, o->ip_end - o->l4);
}

/* The quoted packet holds all of its L4 segment, checksum included. */
static int quote_whole(const struct qview *q)
{
	return q->qcsum && q->q_ip_end <= q->end && q->q_ip_end >= q->qcsum + 2;
}

/* The quoted L4 checksum's own sum, over the whole quoted segment (the
 * caller checked quote_whole). */
static uint64_t quote_whole_sum(const uint8_t *f, const struct qview *q)
{
	uint32_t n = (uint32_t)(q->q_ip_end - q->q4);

	return inet_sum(inet_pseudo_sum(q->o.family, f + q->qsrc, f + q->qdst, q->qproto, n),
			f + q->q4, n);
}

/* The same sum over what the quote holds, however little: the bytes
 * beyond the quote (and the pseudo-header length, any fixed one does)
 * are the same before and after a translation, so an incremental update
 * keeps this sum exactly when it keeps the whole one. */
static uint64_t quote_held_sum(const uint8_t *f, const struct qview *q)
{
	uint32_t n = (uint32_t)(q->end - q->q4);

	return inet_sum(inet_pseudo_sum(q->o.family, f + q->qsrc, f + q->qdst, q->qproto, n),
			f + q->q4, n);
}

/* One's complement sums compared: 0x0000 and 0xffff are both zero. */
static int sum_eq(uint64_t a, uint64_t b)
{
	uint16_t x = inet_fold(a), y = inet_fold(b);

	return (x == 0xffff ? 0 : x) == (y == 0xffff ? 0 : y);
}

/* ---- the oracle ------------------------------------------------------------ */

enum nat { NAT_DST, NAT_SRC };

enum mac_rule {
	MAC_SAME,   /* Ethernet header untouched */
	MAC_EXACT,  /* dmac/smac as given */
	MAC_ROUTED, /* a neighbour of the new destination, or untouched
			 * (bpf_redirect_neigh fills them in later) */
};

struct rewrite {
	enum nat nat;
	int routed; /* a router hop: TTL/hop limit one less */
	int pop;    /* VLAN tags removed */
	enum mac_rule macs;
	const uint8_t *dmac, *smac;
};

/* Marks the offsets (of the input) that this rewrite may change. */
static void allowed_mask(const struct view *v, const struct rewrite *rw, uint8_t *mask)
{
	size_t addr = rw->nat == NAT_DST ? v->dst : v->src;
	size_t port = v->l4 + (rw->nat == NAT_DST ? 2 : 0);

	memset(mask, 0, PKT_MAX_LEN);
	memset(mask + addr, 1, alen_of(v->family));
	memset(mask + port, 1, 2);
	memset(mask + v->csum, 1, 2);
	mask[v->ttl] = 1;
	if (v->family == AF_INET)
		memset(mask + v->l3 + 10, 1, 2);
}

/* An ICMP error's: the outer address on the balancer's side, the quoted
 * address and port that match it, TTL, and the checksums covering them. */
static void icmp_allowed_mask(const struct qview *q, const struct rewrite *rw, uint8_t *mask)
{
	size_t alen = alen_of(q->o.family);
	int to_backend = rw->nat == NAT_DST; /* else: to the VIP, on the source side */

	memset(mask, 0, PKT_MAX_LEN);
	memset(mask + (to_backend ? q->o.dst : q->o.src), 1, alen);
	memset(mask + (to_backend ? q->qsrc : q->qdst), 1, alen);
	memset(mask + q->q4 + (to_backend ? 0 : 2), 1, 2);
	memset(mask + q->o.csum, 1, 2);
	mask[q->o.ttl] = 1;
	if (q->o.family == AF_INET) {
		memset(mask + q->o.l3 + 10, 1, 2);
		memset(mask + q->q3 + 10, 1, 2);
	}
	if (q->qcsum)
		memset(mask + q->qcsum, 1, 2);
}

/* Every byte from L3 on is the input's, except those mask allows. */
static void check_body(struct diag *dg, const uint8_t *in, size_t inlen, const struct view *vi,
		       const uint8_t *out, const struct rewrite *rw, const uint8_t *mask)
{
	size_t pop = (size_t)rw->pop;

	for (size_t i = vi->l3; i < inlen; i++) {
		if (in[i] != out[i - pop] && !mask[i]) {
			diag_fail(dg, "byte %zu (L3+%zu) changed: 0x%02x -> 0x%02x", i, i - vi->l3,
				  in[i], out[i - pop]);
			return;
		}
	}
}

static const struct neigh *neigh_of(int family, const uint8_t *addr)
{
	for (size_t i = 0; i < N_NEIGH; i++)
		if (neighs[i].family == family && !memcmp(neighs[i].addr, addr, alen_of(family)))
			return &neighs[i];
	return NULL;
}

static void check_l2(struct diag *dg, const uint8_t *in, const struct view *vi, const uint8_t *out,
		     const struct view *vo, const struct rewrite *rw)
{
	const struct neigh *n;

	if (vo->nvlan != (rw->pop ? 0 : vi->nvlan) || vo->ethertype != vi->ethertype) {
		diag_fail(dg, "VLAN tags: %d in, %d out, ethertype 0x%04x -> 0x%04x", vi->nvlan,
			  vo->nvlan, vi->ethertype, vo->ethertype);
		return;
	}
	if (!rw->pop && memcmp(in + 12, out + 12, vi->l3 - 12))
		diag_fail(dg, "VLAN tags changed");
	switch (rw->macs) {
	case MAC_SAME:
		if (memcmp(in, out, 12))
			diag_fail(dg, "MAC addresses changed");
		break;
	case MAC_EXACT:
		if (memcmp(out, rw->dmac, 6) || memcmp(out + 6, rw->smac, 6))
			diag_fail(dg, "MAC addresses are not the next hop's");
		break;
	case MAC_ROUTED:
		if (!memcmp(in, out, 12))
			break;
		n = neigh_of(vo->family, out + vo->dst);
		if (!n || memcmp(out, n->mac, 6) || memcmp(out + 6, n->ifmac, 6))
			diag_fail(
				dg,
				"MAC addresses are neither kept nor the destination's neighbour's");
		break;
	}
}

static void check_ttl(struct diag *dg, const uint8_t *in, const struct view *vi, const uint8_t *out,
		      const struct view *vo, const struct rewrite *rw)
{
	uint8_t a = in[vi->ttl], b = out[vo->ttl];

	if (rw->routed ? a <= 1 || b != a - 1 : b != a)
		diag_fail(dg, "TTL/hop limit %u -> %u (%s)", a, b,
			  rw->routed ? "routed: one less" : "not routed: unchanged");
}

/* xlb_ingress leaves a packet whose TTL is spent to the stack untouched
 * (pass_ttl), so a rewritten one had TTL to spend (check_ttl covers the
 * routed case). */
static void check_ttl_left(struct diag *dg, const uint8_t *in, const struct view *vi, int redirect)
{
	if (!redirect && in[vi->ttl] <= 1)
		diag_fail(dg, "rewritten, but its TTL/hop limit %u is spent", in[vi->ttl]);
}

/* Output checksums: a valid IPv4 header; an L4 checksum valid if and only
 * if the input's was (an incremental update keeps a wrong sum wrong). */
static void check_csums(struct diag *dg, const uint8_t *in, size_t inlen, const struct view *vi,
			const uint8_t *out, const struct view *vo)
{
	uint16_t ci = pkt_get16(in, vi->csum), co = pkt_get16(out, vo->csum);
	int vin, vout;

	if (vo->family == AF_INET && !ipv4_hdr_valid(out, vo))
		diag_fail(dg, "output IPv4 header checksum 0x%04x is wrong (input's %s)",
			  pkt_get16(out, vo->l3 + 10), ipv4_hdr_valid(in, vi) ? "valid" : "wrong");
	if (vi->proto == IPPROTO_UDP && vi->family == AF_INET && (ci == 0) != (co == 0))
		diag_fail(dg,
			  "UDP/IPv4 checksum 0x%04x -> 0x%04x: 0 (none) must stay 0, and only 0",
			  ci, co);
	if (vi->ip_end > inlen)
		return; /* the frame does not hold the whole segment */
	vin = l4_valid(in, vi);
	vout = l4_valid(out, vo);
	if (vin != vout)
		diag_fail(dg, "L4 checksum 0x%04x (%s) -> 0x%04x (%s)", ci, vin ? "valid" : "wrong",
			  co, vout ? "valid" : "wrong");
}

/* Frame length, MACs and tags, the bytes mask does not allow, TTL.
 * -1 if the frames are too different to compare further. */
static int check_frame(struct diag *dg, const uint8_t *in, size_t inlen, const struct view *vi,
		       const uint8_t *out, size_t outlen, const struct view *vo,
		       const struct rewrite *rw, const uint8_t *mask)
{
	if (outlen != inlen - (size_t)rw->pop) {
		diag_fail(dg, "frame length %zu -> %zu (expected %zu)", inlen, outlen,
			  inlen - (size_t)rw->pop);
		return -1;
	}
	check_l2(dg, in, vi, out, vo, rw);
	if (dg->failed)
		return -1;
	check_body(dg, in, inlen, vi, out, rw, mask);
	check_ttl(dg, in, vi, out, vo, rw);
	return 0;
}

/* The generic part of a NAT check: frame shape, untouched bytes, TTL,
 * MACs, checksums. The NAT target is the caller's. */
static void check_rewrite(struct diag *dg, const uint8_t *in, size_t inlen, const struct view *vi,
			  const uint8_t *out, size_t outlen, const struct view *vo,
			  const struct rewrite *rw)
{
	static uint8_t mask[PKT_MAX_LEN];

	allowed_mask(vi, rw, mask);
	if (check_frame(dg, in, inlen, vi, out, outlen, vo, rw, mask) == 0)
		check_csums(dg, in, inlen, vi, out, vo);
}

static const char *validity(uint64_t sum)
{
	return inet_fold(sum) == 0xffff ? "valid" : "wrong";
}

/* The quoted L4 checksum: only an IPv4 UDP "none" (0) goes out as 0, and
 * stays so; any other keeps its sum over the quote. */
static void check_quote_l4_csum(struct diag *dg, const uint8_t *in, const struct qview *qi,
				const uint8_t *out, const struct qview *qo)
{
	uint16_t ci = pkt_get16(in, qi->qcsum), co = pkt_get16(out, qo->qcsum);
	int udp = qi->qproto == IPPROTO_UDP;
	int none = udp && qi->o.family == AF_INET && ci == 0;

	if (udp && (co == 0) != none)
		return diag_fail(dg,
				 "quoted UDP checksum 0x%04x -> 0x%04x: only an IPv4 0 (none) "
				 "goes out as 0 (a computed 0 is sent as 0xffff)",
				 ci, co);
	if (none || sum_eq(quote_held_sum(in, qi), quote_held_sum(out, qo)))
		return;
	if (quote_whole(qi))
		diag_fail(dg, "quoted L4 checksum 0x%04x (%s) -> 0x%04x (%s), wholly quoted", ci,
			  validity(quote_whole_sum(in, qi)), co,
			  validity(quote_whole_sum(out, qo)));
	else
		diag_fail(dg,
			  "quoted L4 checksum 0x%04x -> 0x%04x does not follow the rewrite "
			  "(sum over the %zu quoted bytes 0x%04x -> 0x%04x)",
			  ci, co, qi->end - qi->q4, inet_fold(quote_held_sum(in, qi)),
			  inet_fold(quote_held_sum(out, qo)));
}

/* A translated ICMP error's checksums: a valid outer IPv4 header; every
 * other checksum covering a rewritten byte keeps its sum (as an
 * incremental update does), so it is valid if and only if the input's
 * was: the ICMP checksum, the quoted IPv4 header's, the quoted L4 one. */
static void check_icmp_csums(struct diag *dg, const uint8_t *in, size_t inlen,
			     const struct qview *qi, const uint8_t *out, const struct qview *qo)
{
	uint64_t si, so;

	if (qo->o.family == AF_INET && !ipv4_hdr_valid(out, &qo->o))
		diag_fail(dg, "output IPv4 header checksum 0x%04x is wrong",
			  pkt_get16(out, qo->o.l3 + 10));
	if (qi->o.ip_end <= inlen) { /* else the frame does not hold the message */
		si = icmp_sum(in, &qi->o);
		so = icmp_sum(out, &qo->o);
		if (!sum_eq(si, so))
			diag_fail(dg, "ICMP checksum 0x%04x (%s) -> 0x%04x (%s): its sum moved",
				  pkt_get16(in, qi->o.csum), validity(si),
				  pkt_get16(out, qo->o.csum), validity(so));
	}
	if (qi->o.family == AF_INET) {
		si = inet_sum(0, in + qi->q3, 20);
		so = inet_sum(0, out + qo->q3, 20);
		if (!sum_eq(si, so))
			diag_fail(dg,
				  "quoted IPv4 header checksum 0x%04x (%s) -> 0x%04x (%s): "
				  "its sum moved",
				  pkt_get16(in, qi->q3 + 10), validity(si),
				  pkt_get16(out, qo->q3 + 10), validity(so));
	}
	if (qi->qcsum)
		check_quote_l4_csum(dg, in, qi, out, qo);
}

/* The generic part of an ICMP error's translation check. */
static void check_icmp_rewrite(struct diag *dg, const uint8_t *in, size_t inlen,
			       const struct qview *qi, const uint8_t *out, size_t outlen,
			       const struct qview *qo, const struct rewrite *rw)
{
	static uint8_t mask[PKT_MAX_LEN];

	icmp_allowed_mask(qi, rw, mask);
	if (check_frame(dg, in, inlen, &qi->o, out, outlen, &qo->o, rw, mask) == 0)
		check_icmp_csums(dg, in, inlen, qi, out, qo);
}

static const struct test_service *service_at(int family, uint8_t proto, const uint8_t *addr,
					     uint16_t port)
{
	for (int i = 0; i < N_SVC; i++) {
		const struct test_service *s = &test_services[i];

		if (s->family == family && s->proto == proto && s->port == port &&
		    !memcmp(svc_vip[s->id], addr, alen_of(family)))
			return s;
	}
	return NULL;
}

/* The backend at an endpoint; svc 0 matches any service. */
static const struct test_backend *backend_at(int family, const uint8_t *addr, uint16_t port,
					     uint32_t svc)
{
	for (int i = 0; i < N_BE; i++) {
		const struct test_backend *b = &test_backends[i];

		if (b->family == family && b->port == port && (!svc || b->svc == svc) &&
		    !memcmp(be_addr[b->id], addr, alen_of(family)))
			return b;
	}
	return NULL;
}

static void flow_key_raw(struct xlb_flow_key *k, int family, uint8_t proto, const uint8_t *src,
			 const uint8_t *dst, const uint8_t *sport, const uint8_t *dport)
{
	memset(k, 0, sizeof(*k));
	memcpy(&k->src, src, alen_of(family));
	memcpy(&k->dst, dst, alen_of(family));
	memcpy(&k->sport, sport, 2);
	memcpy(&k->dport, dport, 2);
	k->proto = proto;
	k->family = (uint8_t)family;
}

static int flow_lookup(struct fixture *fx, const struct xlb_flow_key *k, struct xlb_flow *flow)
{
	return bpf_map_lookup_elem(bpf_map__fd(fx->h.skel->maps.xlb_flows), k, flow) ? -1 : 0;
}

/* Whether a frame from addr (smac its source MAC) that arrived on ifindex
 * came from where xlb_be_links puts the backend at addr: its link or its
 * bridge port, and behind the bridge from the MAC xlbd learned or the
 * one the neighbour table holds on the bridge. The rule as the oracle
 * reads it; the entries are the fixture's. */
static int on_backend_link(const struct fixture *fx, int family, const uint8_t *addr, int ifindex,
			   const uint8_t *smac)
{
	for (int i = 0; i < N_BE; i++) {
		const struct test_backend *b = &test_backends[i];
		const struct neigh *n;
		struct xlb_be_link_key k;
		struct xlb_be_link v;

		if (b->family != family || memcmp(be_addr[b->id], addr, alen_of(family)))
			continue;
		be_link_of(fx, b, &k, &v);
		if ((uint32_t)ifindex != v.ifindex &&
		    (!v.port_ifindex || (uint32_t)ifindex != v.port_ifindex))
			return 0;
		if (!(v.flags & XLB_BE_LINK_F_BRIDGE))
			return 1;
		if ((v.flags & XLB_BE_LINK_F_MAC) && !memcmp(v.mac, smac, 6))
			return 1;
		n = neigh_of(family, addr);
		return n && n->ifmac == topo_br0_mac && !memcmp(n->mac, smac, 6);
	}
	return 0; /* no backend's address: no link of its own */
}

/* on_backend_link for a frame: 1 or 0, -1 if the oracle cannot read its
 * IP source (nothing to judge then). */
static int frame_on_backend_link(const struct fixture *fx, const uint8_t *f, size_t len,
				 int ifindex)
{
	struct view v;

	if (view_l3(f, len, 0, &v))
		return -1;
	return on_backend_link(fx, v.family, f + v.src, ifindex, f + 6);
}

/* XDP_REDIRECT or a changed XDP_PASS: a DNAT of the input to a backend of
 * the service its (address, port, protocol, family) names, recorded in
 * xlb_flows under the input's 5-tuple. */
static void check_dnat(struct fixture *fx, struct diag *dg, const uint8_t *in, size_t inlen,
		       const uint8_t *out, size_t outlen, int redirect)
{
	struct rewrite rw = { .nat = NAT_DST, .routed = redirect };
	const struct test_service *svc;
	const struct test_backend *be;
	struct view vi, vo;
	struct xlb_flow_key k;
	struct xlb_flow flow;

	if (view_parse(in, inlen, 1, &vi))
		return diag_fail(dg, "rewritten, but the input is no well-formed TCP/UDP packet");
	svc = service_at(vi.family, vi.proto, in + vi.dst, view_dport(in, &vi));
	if (!svc)
		return diag_fail(dg, "rewritten, but the input is for no service");
	rw.pop = redirect ? 4 * vi.nvlan : 0;
	if (outlen < 14 || view_parse(out, outlen, 1, &vo) || vo.family != vi.family ||
	    vo.proto != vi.proto)
		return diag_fail(dg, "the output is no well-formed packet of the input's kind");
	be = backend_at(vo.family, out + vo.dst, view_dport(out, &vo), svc->id);
	if (!be || be->svc != svc->id)
		return diag_fail(dg, "output destination is no backend of service %u", svc->id);
	if (redirect && !be->mac)
		return diag_fail(dg, "redirected toward backend %u, which has no neighbour",
				 be->id);
	rw.macs = redirect ? MAC_EXACT : MAC_SAME;
	rw.dmac = be->mac;
	rw.smac = be->link_mac;
	check_rewrite(dg, in, inlen, &vi, out, outlen, &vo, &rw);
	check_ttl_left(dg, in, &vi, redirect);
	flow_key_raw(&k, vi.family, vi.proto, in + vi.src, in + vi.dst, in + vi.l4, in + vi.l4 + 2);
	if (flow_lookup(fx, &k, &flow) || flow.backend_id != be->id || flow.svc_id != svc->id)
		diag_fail(dg, "xlb_flows holds no entry {backend %u, service %u} for the input",
			  be->id, svc->id);
}

/* A changed tc output: the reply of a backend, whose flow xlb_flows
 * records, with the flow's VIP and port as its source. */
static void check_rnat(struct fixture *fx, struct diag *dg, const uint8_t *in, size_t inlen,
		       const uint8_t *out, size_t outlen, int redirect)
{
	struct rewrite rw = { .nat = NAT_SRC,
			      .routed = redirect,
			      .macs = redirect ? MAC_ROUTED : MAC_SAME };
	const struct test_service *svc;
	const struct test_backend *be;
	struct view vi, vo;
	struct xlb_flow_key k;
	struct xlb_flow flow;
	uint8_t vport[2];

	if (view_parse(in, inlen, 0, &vi))
		return diag_fail(dg, "rewritten, but the input is no well-formed TCP/UDP packet");
	be = backend_at(vi.family, in + vi.src, view_sport(in, &vi), 0);
	svc = be ? service_of(be->svc) : NULL;
	if (!be || svc->proto != vi.proto)
		return diag_fail(dg, "rewritten, but the input comes from no backend");
	if (view_parse(out, outlen, 0, &vo) || vo.family != vi.family || vo.proto != vi.proto)
		return diag_fail(dg, "the output is no well-formed packet of the input's kind");
	if (memcmp(out + vo.src, svc_vip[svc->id], alen_of(vo.family)) ||
	    view_sport(out, &vo) != svc->port)
		return diag_fail(dg, "output source is not service %u's VIP and port", svc->id);
	check_rewrite(dg, in, inlen, &vi, out, outlen, &vo, &rw);
	pkt_put16(vport, 0, svc->port);
	flow_key_raw(&k, vi.family, vi.proto, in + vi.dst, svc_vip[svc->id], in + vi.l4 + 2, vport);
	if (flow_lookup(fx, &k, &flow) || flow.backend_id != be->id || flow.svc_id != svc->id)
		diag_fail(dg, "no flow of service %u to backend %u answers this reply", svc->id,
			  be->id);
}

/* XDP_REDIRECT or a changed XDP_PASS of an ICMP error: the error to a VIP
 * about the reply VIP:vport -> client of a flow xlb_flows holds, moved
 * over to that flow's backend: outer destination and quoted source
 * become its address, the quoted source port its port. */
static void check_icmp_dnat(struct fixture *fx, struct diag *dg, const uint8_t *in, size_t inlen,
			    const uint8_t *out, size_t outlen, int redirect)
{
	struct rewrite rw = { .nat = NAT_DST, .routed = redirect };
	const struct test_service *svc;
	const struct test_backend *be;
	struct qview qi, qo;
	struct xlb_flow_key k;
	struct xlb_flow flow;
	size_t alen;

	if (view_icmp(in, inlen, 1, &qi))
		return diag_fail(dg, "rewritten, but the input is no ICMP error quoting TCP/UDP");
	alen = alen_of(qi.o.family);
	if (memcmp(in + qi.qsrc, in + qi.o.dst, alen))
		return diag_fail(dg, "rewritten, but the quote's source is not the error's "
				     "destination");
	svc = service_at(qi.o.family, qi.qproto, in + qi.qsrc, pkt_get16(in, qi.q4));
	if (!svc)
		return diag_fail(dg, "rewritten, but the quote comes from no service");
	rw.pop = redirect ? 4 * qi.o.nvlan : 0;
	if (outlen < 14 || view_icmp(out, outlen, 1, &qo) || qo.o.family != qi.o.family ||
	    qo.qproto != qi.qproto)
		return diag_fail(dg, "the output is no ICMP error of the input's kind");
	be = backend_at(qo.o.family, out + qo.o.dst, pkt_get16(out, qo.q4), svc->id);
	if (!be || memcmp(out + qo.qsrc, out + qo.o.dst, alen))
		return diag_fail(dg,
				 "output destination and quoted source are not one backend of "
				 "service %u",
				 svc->id);
	if (redirect && !be->mac)
		return diag_fail(dg, "redirected toward backend %u, which has no neighbour",
				 be->id);
	rw.macs = redirect ? MAC_EXACT : MAC_SAME;
	rw.dmac = be->mac;
	rw.smac = be->link_mac;
	check_icmp_rewrite(dg, in, inlen, &qi, out, outlen, &qo, &rw);
	check_ttl_left(dg, in, &qi.o, redirect);
	/* the quote is the flow's reply: the flow's key is the quote turned around */
	flow_key_raw(&k, qi.o.family, qi.qproto, in + qi.qdst, in + qi.qsrc, in + qi.q4 + 2,
		     in + qi.q4);
	if (flow_lookup(fx, &k, &flow) || flow.backend_id != be->id || flow.svc_id != svc->id)
		diag_fail(dg, "xlb_flows holds no entry {backend %u, service %u} for the quote",
			  be->id, svc->id);
}

/* A changed tc output of an ICMP error: one that a backend sent itself
 * about the client's packet client -> backend:port of a flow xlb_flows
 * holds, moved over to the flow's VIP: outer source and quoted
 * destination become the VIP, the quoted destination port its port. */
static void check_icmp_rnat(struct fixture *fx, struct diag *dg, const uint8_t *in, size_t inlen,
			    const uint8_t *out, size_t outlen, int redirect)
{
	struct rewrite rw = { .nat = NAT_SRC,
			      .routed = redirect,
			      .macs = redirect ? MAC_ROUTED : MAC_SAME };
	const struct test_service *svc;
	const struct test_backend *be;
	struct qview qi, qo;
	struct xlb_flow_key k;
	struct xlb_flow flow;
	uint8_t vport[2];
	size_t alen;

	if (view_icmp(in, inlen, 0, &qi))
		return diag_fail(dg, "rewritten, but the input is no ICMP error quoting TCP/UDP");
	alen = alen_of(qi.o.family);
	be = backend_at(qi.o.family, in + qi.qdst, pkt_get16(in, qi.q4 + 2), 0);
	svc = be ? service_of(be->svc) : NULL;
	if (!be || svc->proto != qi.qproto || memcmp(in + qi.o.src, in + qi.qdst, alen))
		return diag_fail(dg, "rewritten, but the error is not a backend's own about a "
				     "packet to it");
	if (view_icmp(out, outlen, 0, &qo) || qo.o.family != qi.o.family || qo.qproto != qi.qproto)
		return diag_fail(dg, "the output is no ICMP error of the input's kind");
	if (memcmp(out + qo.o.src, svc_vip[svc->id], alen) ||
	    memcmp(out + qo.qdst, svc_vip[svc->id], alen) || pkt_get16(out, qo.q4 + 2) != svc->port)
		return diag_fail(dg,
				 "output source and quoted destination are not service %u's "
				 "VIP and port",
				 svc->id);
	check_icmp_rewrite(dg, in, inlen, &qi, out, outlen, &qo, &rw);
	pkt_put16(vport, 0, svc->port);
	flow_key_raw(&k, qi.o.family, qi.qproto, in + qi.qsrc, svc_vip[svc->id], in + qi.q4, vport);
	if (flow_lookup(fx, &k, &flow) || flow.backend_id != be->id || flow.svc_id != svc->id)
		diag_fail(dg, "no flow of service %u to backend %u is quoted", svc->id, be->id);
}

/* Within the parser's documented limits (include/xlb/consts.h), with a
 * TTL to spend and a valid outer IPv4 header: what xlb forwards at all. */
static int icmp_forwardable(const uint8_t *f, const struct qview *q, int xdp)
{
	if (q->o.nvlan > XLB_MAX_VLANS || q->o.n_ext > XLB_MAX_IPV6_EXT || q->o.routing)
		return 0;
	if (q->o.family == AF_INET && !ipv4_hdr_valid(f, &q->o))
		return 0;
	return !xdp || f[q->o.ttl] > 1; /* tc translates and leaves the TTL to the stack */
}

/* xlb_flows holds k, for service svc, to one of its backends (be, if
 * given). */
static int flow_of(struct fixture *fx, const struct xlb_flow_key *k, const struct test_service *svc,
		   const struct test_backend *be)
{
	const struct test_backend *b;
	struct xlb_flow flow;

	if (flow_lookup(fx, k, &flow) || flow.svc_id != svc->id)
		return 0;
	b = backend_of(flow.backend_id);
	return b && b->svc == svc->id && (!be || b == be);
}

/* Whether the oracle, on its own reading of the rules, expects this
 * input translated. Only counted (the data path may refuse more). A tc
 * input arrived on ifindex. */
static int icmp_expected(struct fixture *fx, enum prog_kind prog, const uint8_t *f, size_t len,
			 int ifindex)
{
	const struct test_service *svc;
	const struct test_backend *be;
	struct xlb_flow_key k;
	struct qview q;
	uint8_t vport[2];

	if (view_icmp(f, len, prog == PROG_XDP, &q) || !icmp_forwardable(f, &q, prog == PROG_XDP))
		return 0;
	if (prog == PROG_XDP) {
		svc = service_at(q.o.family, q.qproto, f + q.qsrc, pkt_get16(f, q.q4));
		if (!svc || memcmp(f + q.qsrc, f + q.o.dst, alen_of(q.o.family)))
			return 0;
		flow_key_raw(&k, q.o.family, q.qproto, f + q.qdst, f + q.qsrc, f + q.q4 + 2,
			     f + q.q4);
		return flow_of(fx, &k, svc, NULL);
	}
	be = backend_at(q.o.family, f + q.qdst, pkt_get16(f, q.q4 + 2), 0);
	svc = be ? service_of(be->svc) : NULL;
	if (!svc || svc->proto != q.qproto || memcmp(f + q.o.src, f + q.qdst, alen_of(q.o.family)))
		return 0;
	if (!on_backend_link(fx, q.o.family, f + q.o.src, ifindex, f + 6))
		return 0;
	pkt_put16(vport, 0, svc->port);
	flow_key_raw(&k, q.o.family, q.qproto, f + q.qsrc, svc_vip[svc->id], f + q.q4, vport);
	return flow_of(fx, &k, svc, be);
}

/* ---- base packets ---------------------------------------------------------- */

/* What a run saw, to print and to hold the data path's counters against
 * (open_flow counts the runs it makes too). */
struct stats {
	uint64_t runs, xdp, tc, xdp_runs;
	uint64_t drop, pass, dnat_redirect, dnat_pass, rnat_redirect, rnat_stack;
	uint64_t open_redirect, open_stack; /* the flows opened (DNATs too) */
	uint64_t failures;
	uint64_t refused;		      /* tc frames the skb test run does not take */
	uint64_t drop_counted;		      /* sum of the xlb_reasons drop counters */
	uint64_t reply_link;		      /* tc drops counted as drop_reply_link */
	uint64_t reply_link_seen;	      /* that counter when last read */
	uint64_t off_link;		      /* tc frames from off their backend's link */
	uint64_t icmp_xlat_xdp, icmp_xlat_tc; /* ICMP errors translated (and judged) */
	uint64_t icmp_missed;		      /* left alone, though icmp_expected said translate */
	uint64_t first_missed;		      /* the first such iteration, to replay */
};

struct fuzz_case {
	enum prog_kind prog;
	struct pkt_desc d;
	uint32_t be;	/* the backend of the flow a reply or an ICMP error is of */
	int tc_ifindex; /* tc: the link the frame arrives on */
	uint8_t f[PKT_MAX_LEN];
	size_t len;
};

static const uint8_t noneigh_mac[6] = { 0x02, 0xbe, 0x00, 0x00, 0x00, 0x09 };

static void base_l2(struct rng *r, struct pkt_desc *d)
{
	int n = (int)PICK(r, ((const uint8_t[]){ 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 3 }));

	for (int i = 0; i < n; i++)
		pkt_push_vlan(d, chance(r, 70) ? PKT_ETH_P_8021Q : PKT_ETH_P_8021AD,
			      (uint16_t)rnd(r, 4096));
	if (chance(r, 10))
		d->pad_to = (uint16_t)(60 + 4 * d->nvlan + rnd(r, 8));
}

/* IPv4 options, IPv6 extension headers, fragments, odd TTLs. */
static void base_l3_extras(struct rng *r, struct pkt_desc *d)
{
	static const uint8_t exts[] = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING };

	d->ttl = chance(r, 90) ? 64 : (uint8_t)rnd(r, 4);
	d->tos = chance(r, 80) ? 0 : (uint8_t)rng_next(r);
	d->ip_id = (uint16_t)rng_next(r);
	if (pkt_family(d) == AF_INET) {
		if (chance(r, 20))
			d->ip_opt_len = (uint8_t)(4 * (1 + rnd(r, 10)));
		if (chance(r, 5))
			d->frag = chance(r, 50) ? IP4_MF : (uint16_t)(1 + rnd(r, 0x1fff));
		return;
	}
	if (chance(r, 20)) {
		int n = 1 + (int)rnd(r, 5);

		for (int i = 0; i < n; i++)
			pkt_push_ext(d, PICK(r, exts));
	}
	if (chance(r, 5)) {
		d->frag = (uint16_t)(rnd(r, 0x2000) << 3 | rnd(r, 2));
		pkt_push_ext(d, IPPROTO_FRAGMENT);
	}
}

static void base_l4(struct rng *r, struct pkt_desc *d)
{
	static const uint8_t flags[] = { TH_SYN,	  TH_SYN, TH_ACK,	  TH_ACK | TH_PSH,
					 TH_SYN | TH_ACK, TH_RST, TH_FIN | TH_ACK };

	d->tcp_flags = d->proto == IPPROTO_TCP ? PICK(r, flags) : 0;
	d->seq = (uint32_t)rng_next(r);
	d->ack = (uint32_t)rng_next(r);
	d->payload_len = (uint16_t)(chance(r, 30) ? 0 : rnd(r, 200));
	d->payload_word = (uint16_t)rng_next(r);
	d->udp_no_csum = d->proto == IPPROTO_UDP && pkt_family(d) == AF_INET && chance(r, 10);
}

/* A client's packet on the uplink: to a service, to a VIP port that is no
 * service, to another address, or not TCP/UDP at all. */
static void base_client(struct rng *r, struct pkt_desc *d)
{
	int family = chance(r, 50) ? AF_INET6 : AF_INET;
	const struct test_service *s = &test_services[rnd(r, N_SVC)];
	uint32_t kind = rnd(r, 100);

	memset(d, 0, sizeof(*d));
	memcpy(d->dmac, topo_up0_mac, 6);
	memcpy(d->smac, topo_client_mac, 6);
	if (kind < 65)
		family = s->family;
	d->ethertype = family == AF_INET6 ? PKT_ETH_P_IPV6 : PKT_ETH_P_IP;
	fixture_addr(d->src, family, family == AF_INET6 ? TOPO_CLIENT6 : TOPO_CLIENT4);
	fixture_addr(d->dst, family, family == AF_INET6 ? TOPO_VIP6 : TOPO_VIP4);
	d->sport = (uint16_t)(1024 + rnd(r, 64000));
	d->proto = chance(r, 50) ? IPPROTO_TCP : IPPROTO_UDP;
	d->dport = (uint16_t)rnd(r, 65536);
	if (kind < 65) {
		d->proto = s->proto;
		d->dport = s->port;
	} else if (kind < 75) {
		fixture_addr(d->dst, family, family == AF_INET6 ? TOPO_OTHER6 : TOPO_OTHER4);
		d->dport = 80;
	} else if (kind < 85) {
		d->proto =
			PICK(r, ((const uint8_t[]){ IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_GRE }));
	}
	base_l2(r, d);
	base_l3_extras(r, d);
	base_l4(r, d);
}

/* Backends some service's table names: the ones replies come back from. */
static uint32_t pick_flow_backend(struct rng *r)
{
	uint32_t ids[N_BE], n = 0;

	for (int i = 0; i < N_SVC; i++)
		if (test_services[i].table > 0 && test_services[i].table <= N_BE)
			ids[n++] = (uint32_t)test_services[i].table;
	return ids[rnd(r, n)];
}

/* A client of a flow: with a neighbour, without one, without a route (the
 * return path's fib lookups answer each differently). */
static void pick_client(struct rng *r, int family, uint8_t *addr)
{
	const char *v4[] = { TOPO_CLIENT4, TOPO_CLIENT4, TOPO_CLIENT4_NONEIGH,
			     TOPO_CLIENT4_NOROUTE };
	const char *v6[] = { TOPO_CLIENT6, TOPO_CLIENT6, TOPO_CLIENT6_NONEIGH };

	fixture_addr(addr, family, family == AF_INET6 ? PICK(r, v6) : PICK(r, v4));
}

/* base_l3_extras without fragments: a fragment is never translated, so
 * a base packet meant for a rewrite would waste its run. */
static void base_l3_whole(struct rng *r, struct pkt_desc *d)
{
	base_l3_extras(r, d);
	d->frag = 0;
	d->n_ext = d->n_ext && d->ext[d->n_ext - 1] == IPPROTO_FRAGMENT ? d->n_ext - 1 : d->n_ext;
}

/* The Ethernet header of a frame from backend be on its link. */
static void base_from_backend(struct pkt_desc *d, const struct test_backend *be)
{
	memset(d, 0, sizeof(*d));
	memcpy(d->dmac, be->link_mac, 6);
	memcpy(d->smac, be->mac ? be->mac : noneigh_mac, 6);
	d->ethertype = be->family == AF_INET6 ? PKT_ETH_P_IPV6 : PKT_ETH_P_IP;
}

/* A backend's reply on be0, to a client whose flow the caller opens. */
static void base_reply(struct rng *r, struct pkt_desc *d, uint32_t be_id)
{
	const struct test_backend *be = backend_of(be_id);
	const struct test_service *svc = service_of(be->svc);

	base_from_backend(d, be);
	fixture_addr(d->src, be->family, be->addr);
	pick_client(r, be->family, d->dst);
	d->proto = svc->proto;
	d->sport = be->port;
	d->dport = (uint16_t)(1024 + rnd(r, 64000));
	if (chance(r, 10))
		pkt_push_vlan(d, PKT_ETH_P_8021Q, (uint16_t)rnd(r, 4096));
	base_l3_whole(r, d);
	base_l4(r, d);
}

/* The ICMP header: mostly an error, else a message that quotes nothing
 * (echo, redirect, neighbour discovery) built with a quote all the same. */
static void base_icmp_hdr(struct rng *r, struct pkt_desc *d)
{
	static const uint8_t err4[] = { 3, 11, 12 }, other4[] = { 0, 4, 5, 8, 13, 42 };
	static const uint8_t err6[] = { 1, 2, 3, 4 }, other6[] = { 0, 127, 128, 129, 135, 137 };
	int v6 = pkt_family(d) == AF_INET6;

	d->proto = v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	if (chance(r, 85))
		d->icmp_type = v6 ? PICK(r, err6) : PICK(r, err4);
	else
		d->icmp_type = v6 ? PICK(r, other6) : PICK(r, other4);
	d->icmp_code = (uint8_t)rnd(r, 16);
	d->icmp_word = chance(r, 50) ? PICK(r, ((const uint32_t[]){ 0, 576, 1280, 1400, 1500 }))
				     : (uint32_t)rng_next(r);
}

/* How much of the quoted packet the error holds: from inside its IP
 * header (no ports), through the 8 L4 bytes RFC 792 promises (a TCP
 * checksum not among them), to all of it. */
static void base_quote_len(struct rng *r, struct pkt_desc *d)
{
	struct pkt_quote *q = &d->quote;
	uint32_t ip = pkt_family(d) == AF_INET6 ? 40 : 20, whole;

	q->payload_len = (uint16_t)(chance(r, 20) ? 0 : rnd(r, 300));
	whole = ip + (q->proto == IPPROTO_TCP ? 20 : 8) + q->payload_len;
	switch (rnd(r, 5)) {
	case 0:
		q->len = 0; /* all of it */
		break;
	case 1:
		q->len = (uint16_t)(ip + 8);
		break;
	case 2:
		q->len = (uint16_t)(1 + rnd(r, ip + 7));
		break;
	default:
		q->len = (uint16_t)(ip + 8 + rnd(r, whole - ip - 8 + 1));
		break;
	}
}

/* An ICMP error to a VIP about the reply VIP:vport -> client:cport of a
 * flow to backend be_id (the caller opens it), from the client or from a
 * router on the way. */
static void base_icmp_to_vip(struct rng *r, struct pkt_desc *d, uint32_t be_id)
{
	const struct test_service *svc = service_of(backend_of(be_id)->svc);
	int family = svc->family;

	memset(d, 0, sizeof(*d));
	memcpy(d->dmac, topo_up0_mac, 6);
	memcpy(d->smac, topo_client_mac, 6);
	d->ethertype = family == AF_INET6 ? PKT_ETH_P_IPV6 : PKT_ETH_P_IP;
	d->quote.proto = svc->proto;
	memcpy(d->quote.src, svc_vip[svc->id], 16);
	pick_client(r, family, d->quote.dst);
	d->quote.sport = svc->port;
	d->quote.dport = (uint16_t)(1024 + rnd(r, 64000));
	if (chance(r, 50))
		memcpy(d->src, d->quote.dst, 16);
	else /* a router's address on the uplink */
		fixture_addr(d->src, family, family == AF_INET6 ? TOPO_OTHER6 : TOPO_OTHER4);
	memcpy(d->dst, svc_vip[svc->id], 16);
	base_l2(r, d);
	base_l3_whole(r, d);
	base_icmp_hdr(r, d);
	base_quote_len(r, d);
}

/* An ICMP error backend be_id sends to a client about the client's packet
 * client:cport -> backend:port of a flow (the caller opens it). */
static void base_icmp_from_backend(struct rng *r, struct pkt_desc *d, uint32_t be_id)
{
	const struct test_backend *be = backend_of(be_id);

	base_from_backend(d, be);
	fixture_addr(d->src, be->family, be->addr);
	pick_client(r, be->family, d->dst);
	d->quote.proto = service_of(be->svc)->proto;
	memcpy(d->quote.src, d->dst, 16);
	memcpy(d->quote.dst, d->src, 16);
	d->quote.sport = (uint16_t)(1024 + rnd(r, 64000));
	d->quote.dport = be->port;
	if (chance(r, 10))
		pkt_push_vlan(d, PKT_ETH_P_8021Q, (uint16_t)rnd(r, 4096));
	base_l3_whole(r, d);
	base_icmp_hdr(r, d);
	base_quote_len(r, d);
}

/* Opens the flow client:cport -> VIP:vport to backend be_id, the way a
 * client does: its first packet through xlb_ingress. */
static int open_flow(struct fixture *fx, const uint8_t *client, uint16_t cport, uint32_t be_id,
		     struct stats *st)
{
	const struct test_backend *be = backend_of(be_id);
	const struct test_service *svc = service_of(be->svc);
	struct pkt_desc d;
	struct run_result res;
	struct xlb_flow_key k;
	struct xlb_flow flow;
	uint8_t b[PKT_MAX_LEN], sport[2], dport[2];

	memset(&d, 0, sizeof(d));
	memcpy(d.dmac, topo_up0_mac, 6);
	memcpy(d.smac, topo_client_mac, 6);
	d.ethertype = be->family == AF_INET6 ? PKT_ETH_P_IPV6 : PKT_ETH_P_IP;
	memcpy(d.src, client, 16);
	memcpy(d.dst, svc_vip[svc->id], 16);
	d.ttl = 64;
	d.proto = svc->proto;
	d.sport = cport;
	d.dport = svc->port;
	d.tcp_flags = svc->proto == IPPROTO_TCP ? TH_SYN : 0;
	if (harness_run(&fx->h, PROG_XDP, b, pkt_build(&d, b), &res))
		return -1;
	st->xdp_runs++;
	st->open_redirect += res.verdict == XDP_REDIRECT;
	st->open_stack += res.verdict == XDP_PASS;
	pkt_put16(sport, 0, d.sport);
	pkt_put16(dport, 0, d.dport);
	flow_key_raw(&k, be->family, svc->proto, d.src, d.dst, sport, dport);
	if (res.verdict == XDP_DROP || flow_lookup(fx, &k, &flow) || flow.backend_id != be_id)
		return -1;
	return 0;
}

/* ---- mutations ------------------------------------------------------------- */

/* Where the base packet's fields are; mutations aim at them. */
struct layout {
	size_t l3, l4;
	int family;
	uint8_t proto;
	int n_ext;
	uint8_t ip_opt_len;
	int icmp;      /* an ICMP error (or the like) with a quote: */
	size_t q3, q4; /* the quoted IP and L4 headers */
	uint8_t qproto;
};

static void layout_of(const struct pkt_desc *d, struct layout *lay)
{
	memset(lay, 0, sizeof(*lay));
	lay->family = pkt_family(d);
	lay->proto = d->proto;
	lay->l3 = pkt_l3_off(d);
	lay->n_ext = d->n_ext;
	lay->ip_opt_len = d->ip_opt_len;
	lay->l4 = lay->l3 + (lay->family == AF_INET6 ? 40 + 8 * (size_t)d->n_ext
						     : 20 + (size_t)d->ip_opt_len);
	lay->icmp = d->quote.proto != 0;
	if (!lay->icmp)
		return;
	lay->q3 = lay->l4 + 8;
	lay->q4 = lay->q3 + (lay->family == AF_INET6 ? 40 : 20);
	lay->qproto = d->quote.proto;
}

static void put8(uint8_t *f, size_t len, size_t off, uint8_t v)
{
	if (off < len)
		f[off] = v;
}

static void put16(uint8_t *f, size_t len, size_t off, uint16_t v)
{
	if (off + 2 <= len)
		pkt_put16(f, off, v);
}

static uint16_t get16(const uint8_t *f, size_t len, size_t off)
{
	return off + 2 <= len ? pkt_get16(f, off) : 0;
}

static void mut_addr(struct rng *r, uint8_t *f, size_t len, const struct layout *lay)
{
	int v6 = lay->family == AF_INET6;
	size_t off = lay->l3 + (v6 ? 8 : 12) + (chance(r, 50) ? alen_of(lay->family) : 0);
	uint8_t a[16];

	fixture_addr(a, lay->family, v6 ? PICK(r, mut_addrs6) : PICK(r, mut_addrs4));
	if (off + alen_of(lay->family) <= len)
		memcpy(f + off, a, alen_of(lay->family));
}

/* A length field set to a value next to a boundary. */
static void mut_length(struct rng *r, uint8_t *f, size_t len, const struct layout *lay)
{
	size_t off = lay->l3 + (lay->family == AF_INET ? 2 : 4);
	uint16_t cur = get16(f, len, off);
	uint16_t hlen = lay->family == AF_INET ? (uint16_t)(lay->l4 - lay->l3) : 0;
	uint16_t vals[] = { 0,
			    1,
			    (uint16_t)(cur - 1),
			    (uint16_t)(cur + 1),
			    (uint16_t)(hlen - 1),
			    hlen,
			    (uint16_t)(hlen + 1),
			    (uint16_t)(hlen + 8),
			    0xffff,
			    (uint16_t)rng_next(r) };

	put16(f, len, off, PICK(r, vals));
}

static const uint16_t mut_ports[] = { 0, 53, 80, 81, 82, 83, 84, 85, 8080, 5353, 0xffff };

/* The ICMP header: type (errors of either family, and not), code,
 * checksum. */
static void mut_icmp_hdr(struct rng *r, uint8_t *f, size_t len, const struct layout *lay)
{
	static const uint8_t types[] = { 0, 1, 2, 3, 4, 5, 8, 11, 12, 128, 129, 135, 255 };

	switch (rnd(r, 3)) {
	case 0:
		put8(f, len, lay->l4, PICK(r, types));
		break;
	case 1:
		put8(f, len, lay->l4 + 1, (uint8_t)rng_next(r));
		break;
	default:
		put16(f, len, lay->l4 + 2, PICK(r, ((const uint16_t[]){ 0, 0xffff, 1 })));
		break;
	}
}

/* A length field of the quoted IP header next to a boundary. */
static void mut_quote_length(struct rng *r, uint8_t *f, size_t len, const struct layout *lay)
{
	size_t off = lay->q3 + (lay->family == AF_INET ? 2 : 4);
	uint16_t cur = get16(f, len, off);
	uint16_t hlen = lay->family == AF_INET ? 20 : 0;
	uint16_t vals[] = { 0,
			    1,
			    (uint16_t)(cur - 1),
			    (uint16_t)(cur + 1),
			    (uint16_t)(hlen + 7),
			    (uint16_t)(hlen + 8),
			    0xffff,
			    (uint16_t)rng_next(r) };

	put16(f, len, off, PICK(r, vals));
}

/* The quoted packet's fields: what the translation matches (addresses,
 * ports), what decides whether it parses (version, IHL, lengths,
 * protocol, fragment bits), and the checksums it updates. */
static void mut_quote(struct rng *r, uint8_t *f, size_t len, const struct layout *lay)
{
	static const uint8_t protos[] = { 0, 6, 17, 43, 44, 58, 60, 255 };
	int v4 = lay->family == AF_INET;
	size_t q3 = lay->q3, q4 = lay->q4, alen = alen_of(lay->family);
	uint8_t a[16];

	switch (rnd(r, 8)) {
	case 0:
		fixture_addr(a, lay->family, v4 ? PICK(r, mut_addrs4) : PICK(r, mut_addrs6));
		if (q3 + (v4 ? 12 : 8) + 2 * alen <= len)
			memcpy(f + q3 + (v4 ? 12 : 8) + (chance(r, 50) ? alen : 0), a, alen);
		break;
	case 1:
		put16(f, len, q4 + (chance(r, 50) ? 2 : 0),
		      chance(r, 80) ? PICK(r, mut_ports) : (uint16_t)rng_next(r));
		break;
	case 2: /* version and IHL */
		put8(f, len, q3,
		     (uint8_t)(PICK(r, ((const uint8_t[]){ 4, 6, 0, 5, 15 })) << 4 |
			       (v4 ? rnd(r, 16) : (q3 < len ? f[q3] & 0x0f : 0))));
		break;
	case 3:
		mut_quote_length(r, f, len, lay);
		break;
	case 4:
		put8(f, len, q3 + (v4 ? 9 : 6), PICK(r, protos));
		break;
	case 5: /* fragment bits: a later fragment has no ports */
		if (v4)
			put16(f, len, q3 + 6,
			      PICK(r, ((const uint16_t[]){ 0x2000, 0x0001, 0x4000, 0x1fff, 0 })));
		else
			put8(f, len, q3 + 6, IPPROTO_FRAGMENT);
		break;
	case 6: /* the quoted IPv4 header's or L4 checksum */
		put16(f, len,
		      (v4 && chance(r, 50)) ? q3 + 10 : q4 + (lay->qproto == IPPROTO_TCP ? 16 : 6),
		      PICK(r, ((const uint16_t[]){ 0, 0xffff, 1 })));
		break;
	default: /* the UDP length, the TCP data offset */
		if (lay->qproto == IPPROTO_UDP)
			put16(f, len, q4 + 4, PICK(r, ((const uint16_t[]){ 0, 7, 8, 0xffff })));
		else
			put8(f, len, q4 + 12, (uint8_t)(rnd(r, 16) << 4));
		break;
	}
}

static void mut_l4_field(struct rng *r, uint8_t *f, size_t len, const struct layout *lay)
{
	size_t l4 = lay->l4;

	if (lay->icmp) {
		mut_icmp_hdr(r, f, len, lay);
		return;
	}
	switch (rnd(r, 4)) {
	case 0:
		put16(f, len, l4 + (chance(r, 50) ? 2 : 0),
		      chance(r, 80) ? PICK(r, mut_ports) : (uint16_t)rng_next(r));
		break;
	case 1: /* TCP data offset and flags, or the UDP length */
		if (lay->proto == IPPROTO_TCP)
			put8(f, len, l4 + 12 + rnd(r, 2), (uint8_t)rng_next(r));
		else
			put16(f, len, l4 + 4,
			      PICK(r, ((const uint16_t[]){ 0, 7, 8, 9, 0xffff,
							   (uint16_t)(len - l4 + 1) })));
		break;
	case 2: /* the checksum */
		put16(f, len, l4 + (lay->proto == IPPROTO_TCP ? 16 : 6),
		      PICK(r, ((const uint16_t[]){ 0, 0xffff, 1 })));
		break;
	default: /* TCP doff extremes */
		put8(f, len, l4 + 12,
		     (uint8_t)(PICK(r, ((const uint8_t[]){ 0, 4, 5, 6, 15 })) << 4));
		break;
	}
}

/* Options bytes and extension header lengths / next headers. */
static void mut_opts(struct rng *r, uint8_t *f, size_t len, const struct layout *lay)
{
	static const uint8_t nexts[] = { 0, 6, 17, 43, 44, 50, 51, 58, 59, 60, 255 };

	if (lay->family == AF_INET && lay->ip_opt_len) {
		put8(f, len, lay->l3 + 20 + rnd(r, lay->ip_opt_len),
		     PICK(r, ((const uint8_t[]){ 0x00, 0x01, 0x44, 0x83, 0x07, 0xff })));
	} else if (lay->family == AF_INET6 && lay->n_ext) {
		size_t ext = lay->l3 + 40 + 8 * rnd(r, (uint32_t)lay->n_ext);

		if (chance(r, 50))
			put8(f, len, ext + 1, PICK(r, ((const uint8_t[]){ 0, 1, 2, 0xff })));
		else
			put8(f, len, ext, PICK(r, nexts));
	} else {
		put8(f, len, lay->l3 + rnd(r, 40), (uint8_t)rng_next(r));
	}
}

/* Header fields overwritten with interesting values. */
static void mut_field(struct rng *r, uint8_t *f, size_t len, const struct layout *lay)
{
	static const uint8_t protos[] = { 0, 1, 6, 17, 43, 44, 50, 58, 59, 60, 132, 255 };
	int v4 = lay->family == AF_INET;
	size_t l3 = lay->l3;

	if (lay->icmp && chance(r, 40)) {
		mut_quote(r, f, len, lay);
		return;
	}
	switch (rnd(r, 10)) {
	case 0:
		put16(f, len, l3 - 2,
		      PICK(r, ((const uint16_t[]){ PKT_ETH_P_IP, PKT_ETH_P_IPV6, PKT_ETH_P_8021Q,
						   PKT_ETH_P_8021AD, PKT_ETH_P_ARP, 0, 0xffff })));
		break;
	case 1: /* version and IHL */
		put8(f, len, l3,
		     (uint8_t)(PICK(r, ((const uint8_t[]){ 4, 6, 0, 5, 15 })) << 4 |
			       (v4 ? rnd(r, 16) : (f[l3] & 0x0f))));
		break;
	case 2:
		mut_length(r, f, len, lay);
		break;
	case 3: /* fragment bits */
		if (v4)
			put16(f, len, l3 + 6,
			      PICK(r, ((const uint16_t[]){ 0x2000, 0x0001, 0x4000, 0x3fff, 0xffff,
							   0x8000, 0x1fff, 0 })));
		else
			put8(f, len, l3 + 6, IPPROTO_FRAGMENT);
		break;
	case 4:
		put8(f, len, l3 + (v4 ? 8 : 7), PICK(r, ((const uint8_t[]){ 0, 1, 2, 255 })));
		break;
	case 5:
		put8(f, len, l3 + (v4 ? 9 : 6), PICK(r, protos));
		break;
	case 6:
		mut_addr(r, f, len, lay);
		break;
	case 7:
		mut_opts(r, f, len, lay);
		break;
	default:
		mut_l4_field(r, f, len, lay);
		break;
	}
}

/* Offsets mostly within the headers (an ICMP error's include the quoted
 * ones), where the parsers look. */
static size_t mut_offset(struct rng *r, size_t len, const struct layout *lay)
{
	size_t hdrs = (lay->icmp ? lay->q4 : lay->l4) + 24;

	return chance(r, 75) && hdrs < len ? rnd(r, (uint32_t)hdrs) : rnd(r, (uint32_t)len);
}

static void mutate_once(struct rng *r, uint8_t *f, size_t *len, const struct layout *lay)
{
	switch (rnd(r, 10)) {
	case 0:
	case 1:
		f[mut_offset(r, *len, lay)] ^= (uint8_t)(1u << rnd(r, 8));
		break;
	case 2:
		f[mut_offset(r, *len, lay)] = (uint8_t)rng_next(r);
		break;
	case 3: /* BPF_PROG_TEST_RUN refuses frames below ETH_HLEN */
		if (*len > 14)
			*len = 14 + rnd(r, (uint32_t)(*len - 14));
		break;
	case 4: {
		size_t n = 1 + rnd(r, 64);

		for (size_t i = 0; i < n && *len < PKT_MAX_LEN - 128; i++)
			f[(*len)++] = (uint8_t)rng_next(r);
		break;
	}
	default:
		mut_field(r, f, *len, lay);
		break;
	}
}

/* Puts the ICMP checksum right over the message as it now is. */
static void icmp_csum_fix(uint8_t *f, size_t len)
{
	struct view o;

	if (view_l3(f, len, 1, &o) || o.proto != icmp_proto_of(o.family) || o.l4 + 8 > o.ip_end)
		return;
	pkt_put16(f, o.l4 + 2, 0);
	pkt_put16(f, o.l4 + 2, inet_csum_value(icmp_sum(f, &o)));
}

/* The quoted L4 checksum put right over the whole quoted segment; an
 * IPv4 UDP "none" stays none, a computed UDP 0 is sent as 0xffff. */
static void quote_l4_csum_fix(uint8_t *f, const struct qview *q)
{
	uint16_t v;

	if (q->qproto == IPPROTO_UDP && q->o.family == AF_INET && pkt_get16(f, q->qcsum) == 0)
		return;
	pkt_put16(f, q->qcsum, 0);
	v = inet_csum_value(quote_whole_sum(f, q));
	pkt_put16(f, q->qcsum, q->qproto == IPPROTO_UDP && v == 0 ? 0xffff : v);
}

/* An ICMP error's checksums put right again, the ones it quotes first
 * (the ICMP checksum covers them), so that a mutated quote reaches the
 * translation with valid sums too. */
static void repair_icmp(struct rng *r, uint8_t *f, size_t len, const struct layout *lay)
{
	struct qview q;

	if (lay->family == AF_INET && chance(r, 50) && lay->q3 + 20 <= len) {
		pkt_put16(f, lay->q3 + 10, 0);
		pkt_put16(f, lay->q3 + 10, inet_csum_value(inet_sum(0, f + lay->q3, 20)));
	}
	if (chance(r, 25) && view_icmp(f, len, 1, &q) == 0 && quote_whole(&q))
		quote_l4_csum_fix(f, &q);
	if (chance(r, 70))
		icmp_csum_fix(f, len);
}

/* Header checksums put right again, so that a mutation reaches the code
 * behind a check instead of only the check. */
static void repair_csums(struct rng *r, uint8_t *f, size_t len, const struct layout *lay)
{
	struct view v;
	size_t hlen;

	if (lay->family == AF_INET && chance(r, 60) && lay->l3 + 20 <= len) {
		hlen = (size_t)(f[lay->l3] & 0x0f) * 4;
		if (hlen >= 20 && lay->l3 + hlen <= len) {
			pkt_put16(f, lay->l3 + 10, 0);
			pkt_put16(f, lay->l3 + 10, inet_csum_value(inet_sum(0, f + lay->l3, hlen)));
		}
	}
	if (chance(r, 25) && view_parse(f, len, 1, &v) == 0 &&
	    !(v.family == AF_INET && v.proto == IPPROTO_UDP && pkt_get16(f, v.csum) == 0)) {
		pkt_put16(f, v.csum, 0);
		pkt_put16(f, v.csum, inet_csum_value(l4_sum(f, &v)));
	}
	if (lay->icmp)
		repair_icmp(r, f, len, lay);
}

static void mutate(struct rng *r, struct fuzz_case *c)
{
	struct layout lay;
	int n = chance(r, 8) ? 0 : 1 + (int)rnd(r, 4);

	layout_of(&c->d, &lay);
	for (int i = 0; i < n; i++)
		mutate_once(r, c->f, &c->len, &lay);
	repair_csums(r, c->f, c->len, &lay);
}

/* What rewriting old into new (n bytes) adds to a one's complement sum. */
static uint64_t sum_change(const uint8_t *old, const uint8_t *new, size_t n)
{
	uint64_t d = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		d += (uint16_t)~pkt_get16(old, i) + (uint64_t)pkt_get16(new, i);
	return d;
}

/* Sets the quoted UDP checksum to the value that a right translation
 * (old -> new address and port) turns into 0, which must then go out as
 * 0xffff (RFC 768); the quote stays valid through its first payload word. */
static void quote_udp_csum_edge(uint8_t *f, const struct qview *q, const uint8_t *old_addr,
				const uint8_t *new_addr, uint16_t old_port, uint16_t new_port)
{
	uint8_t op[2], np[2];
	uint64_t d;

	if (!quote_whole(q) || q->q4 + 10 > q->q_ip_end)
		return;
	pkt_put16(op, 0, old_port);
	pkt_put16(np, 0, new_port);
	d = sum_change(old_addr, new_addr, alen_of(q->o.family)) + sum_change(op, np, 2);
	pkt_put16(f, q->qcsum, inet_fold(d));
	pkt_put16(f, q->q4 + 8, 0);
	pkt_put16(f, q->q4 + 8, inet_csum_value(quote_whole_sum(f, q)));
}

/* Quoted UDP checksums pkt.h does not build: an IPv4 "none" (0), which
 * must stay 0, and one whose translation comes to 0. */
static void base_quote_csum(struct rng *r, struct fuzz_case *c)
{
	const struct test_backend *be = backend_of(c->be);
	const struct test_service *svc;
	const uint8_t *vip, *ba;
	int xdp = c->prog == PROG_XDP; /* VIP -> backend; tc: backend -> VIP */
	struct qview q;

	if (c->d.quote.proto != IPPROTO_UDP || view_icmp(c->f, c->len, 1, &q) || !q.qcsum)
		return;
	svc = service_of(be->svc);
	vip = svc_vip[svc->id];
	ba = be_addr[be->id];
	if (q.o.family == AF_INET && chance(r, 15))
		pkt_put16(c->f, q.qcsum, 0);
	else if (chance(r, 15))
		quote_udp_csum_edge(c->f, &q, xdp ? vip : ba, xdp ? ba : vip,
				    xdp ? svc->port : be->port, xdp ? be->port : svc->port);
	else
		return;
	icmp_csum_fix(c->f, c->len);
}

/* ---- one iteration ------------------------------------------------------- */

static int same_frame(const struct fuzz_case *c, const struct run_result *res)
{
	return res->len == c->len && !memcmp(res->data, c->f, c->len);
}

static int drop_reasons(struct fixture *fx, uint64_t *sum)
{
	static const uint32_t drops[] = { XLB_R_DROP_TRUNCATED, XLB_R_DROP_BAD_HEADER,
					  XLB_R_DROP_NO_BACKEND, XLB_R_DROP_REPLY_LINK };
	struct xlb_reason_count rc;

	*sum = 0;
	for (size_t i = 0; i < sizeof(drops) / sizeof(drops[0]); i++) {
		if (harness_percpu_sum(&fx->h, fx->h.skel->maps.xlb_reasons, drops[i],
				       (uint64_t *)&rc, 2))
			return -1;
		*sum += rc.packets;
	}
	return 0;
}

/* A drop must be counted: exactly one drop reason moves. */
static void judge_drop(struct fixture *fx, struct diag *dg, struct stats *st)
{
	uint64_t now;

	if (drop_reasons(fx, &now))
		return diag_fail(dg, "cannot read xlb_reasons");
	if (now != st->drop_counted + 1)
		diag_fail(dg, "dropped, but the drop reasons moved by %" PRId64,
			  (int64_t)(now - st->drop_counted));
	st->drop_counted = now;
}

static void judge_xdp(struct fixture *fx, struct diag *dg, const struct fuzz_case *c,
		      const struct run_result *res, struct stats *st)
{
	if (res->verdict == XDP_DROP) {
		st->drop++;
		judge_drop(fx, dg, st);
	} else if (res->verdict == XDP_PASS && same_frame(c, res)) {
		st->pass++;
	} else if (res->verdict == XDP_PASS || res->verdict == XDP_REDIRECT) {
		int redirect = res->verdict == XDP_REDIRECT;

		if (is_icmp(c->f, c->len)) {
			check_icmp_dnat(fx, dg, c->f, c->len, res->data, res->len, redirect);
			st->icmp_xlat_xdp++;
		} else {
			check_dnat(fx, dg, c->f, c->len, res->data, res->len, redirect);
		}
		if (redirect)
			st->dnat_redirect++;
		else
			st->dnat_pass++;
	} else {
		diag_fail(dg, "verdict %s is never right", verdict_name(PROG_XDP, res->verdict));
	}
}

static int reason_count(struct fixture *fx, uint32_t reason, uint64_t *n)
{
	struct xlb_reason_count rc;

	if (harness_percpu_sum(&fx->h, fx->h.skel->maps.xlb_reasons, reason, (uint64_t *)&rc, 2))
		return -1;
	*n = rc.packets;
	return 0;
}

/* A tc drop under drop_reply_link is right only for a frame that did not
 * come from its backend's link. */
static void judge_reply_link(struct fixture *fx, struct diag *dg, const struct fuzz_case *c,
			     struct stats *st)
{
	uint64_t now;

	if (reason_count(fx, XLB_R_DROP_REPLY_LINK, &now))
		return diag_fail(dg, "cannot read xlb_reasons");
	if (now == st->reply_link_seen)
		return;
	st->reply_link++;
	st->reply_link_seen = now;
	if (frame_on_backend_link(fx, c->f, c->len, c->tc_ifindex) == 1)
		diag_fail(dg,
			  "dropped as drop_reply_link, but it came from its backend's link "
			  "(ifindex %d, its MAC)",
			  c->tc_ifindex);
}

static void judge_tc(struct fixture *fx, struct diag *dg, const struct fuzz_case *c,
		     const struct run_result *res, struct stats *st)
{
	if (res->verdict == TC_ACT_SHOT) {
		st->drop++;
		judge_drop(fx, dg, st);
		judge_reply_link(fx, dg, c, st);
	} else if (res->verdict == TC_ACT_OK && same_frame(c, res)) {
		st->pass++;
	} else if (res->verdict == TC_ACT_OK || res->verdict == TC_ACT_REDIRECT) {
		int redirect = res->verdict == TC_ACT_REDIRECT;

		if (!frame_on_backend_link(fx, c->f, c->len, c->tc_ifindex))
			diag_fail(dg,
				  "reverse-NATed, but it arrived on ifindex %d from "
				  "%02x:%02x:%02x:%02x:%02x:%02x, not its backend's link",
				  c->tc_ifindex, c->f[6], c->f[7], c->f[8], c->f[9], c->f[10],
				  c->f[11]);

		if (is_icmp(c->f, c->len)) {
			check_icmp_rnat(fx, dg, c->f, c->len, res->data, res->len, redirect);
			st->icmp_xlat_tc++;
		} else {
			check_rnat(fx, dg, c->f, c->len, res->data, res->len, redirect);
		}
		if (redirect)
			st->rnat_redirect++;
		else
			st->rnat_stack++;
	} else {
		diag_fail(dg, "verdict %s is never right", verdict_name(PROG_TC, res->verdict));
	}
}

/* An ICMP error about a flow, which it opens first: to the VIP about
 * the flow's reply (XDP), or from the backend about the client's packet
 * (tc). */
static int make_icmp_base(struct fixture *fx, struct rng *r, struct fuzz_case *c, struct stats *st)
{
	const struct pkt_quote *q = &c->d.quote;

	c->be = pick_flow_backend(r);
	if (c->prog == PROG_XDP) {
		base_icmp_to_vip(r, &c->d, c->be);
		return open_flow(fx, q->dst, q->dport, c->be, st);
	}
	base_icmp_from_backend(r, &c->d, c->be);
	return open_flow(fx, q->src, q->sport, c->be, st);
}

/* Where a backend's frame arrives: mostly on the backend's own link (its
 * bridge port or the bridge, for one behind it), else on any link of the
 * topology; now and then from another MAC (another container's, or
 * another backend's). */
static void tc_arrival(struct fixture *fx, struct rng *r, struct fuzz_case *c)
{
	static const uint8_t forger[6] = { 0x02, 0xf0, 0x00, 0x00, 0x00, 0x66 };
	const uint8_t *const macs[] = { forger, topo_be_a_mac, topo_be_d_mac, topo_be_e_mac };
	const int links[] = { fx->h.be_ifindex, fx->h.br_ifindex, fx->h.port_ifindex,
			      fx->h.up_ifindex };
	struct xlb_be_link_key k;
	struct xlb_be_link v;

	be_link_of(fx, backend_of(c->be), &k, &v);
	if (chance(r, 75))
		c->tc_ifindex = (int)(v.port_ifindex && chance(r, 50) ? v.port_ifindex : v.ifindex);
	else
		c->tc_ifindex = PICK(r, links);
	if (chance(r, 15))
		memcpy(c->d.smac, PICK(r, macs), 6);
}

/* Builds iteration iter's packet (and, for tc and ICMP errors, opens its
 * flow). */
static int make_case(struct fixture *fx, struct rng *r, struct fuzz_case *c, struct stats *st)
{
	memset(c, 0, sizeof(*c));
	c->prog = chance(r, TC_PERCENT) ? PROG_TC : PROG_XDP;
	if (chance(r, c->prog == PROG_XDP ? XDP_ICMP_PERCENT : TC_ICMP_PERCENT)) {
		if (make_icmp_base(fx, r, c, st))
			return -1;
	} else if (c->prog == PROG_XDP) {
		base_client(r, &c->d);
	} else {
		c->be = pick_flow_backend(r);
		base_reply(r, &c->d, c->be);
		if (open_flow(fx, c->d.dst, c->d.dport, c->be, st))
			return -1;
	}
	if (c->prog == PROG_TC)
		tc_arrival(fx, r, c);
	c->len = pkt_build(&c->d, c->f);
	base_quote_csum(r, c);
	mutate(r, c);
	return 0;
}

static void hexdump(const char *what, const uint8_t *b, size_t len)
{
	printf("%s (%zu bytes):", what, len);
	for (size_t i = 0; i < len; i++)
		printf("%s%02x", i % 32 ? (i % 4 ? "" : " ") : "\n  ", b[i]);
	printf("\n");
}

static const char *prog_path = "xdp_fuzz";

static void report(const struct diag *dg, uint64_t seed, uint64_t iter, const struct fuzz_case *c,
		   const struct run_result *res)
{
	printf("xdp_fuzz: FAILED seed %" PRIu64 " iteration %" PRIu64 ": %s -> %s\n", seed, iter,
	       c->prog == PROG_XDP ? "xlb_ingress" : "xlb_return",
	       verdict_name(c->prog, res->verdict));
	if (c->prog == PROG_TC)
		printf("(arrived on ifindex %d)\n", c->tc_ifindex);
	printf("%s", dg->text);
	hexdump("input", c->f, c->len);
	hexdump("output", res->data, res->len);
	printf("replay: tests/bpf/run.sh %s --seed %" PRIu64 " --iteration %" PRIu64 "\n",
	       prog_path, seed, iter);
	fflush(stdout);
}

static void report_short(struct diag *dg, uint64_t iter, const char *prog)
{
	for (char *nl = strchr(dg->text, '\n'); nl && nl[1]; nl = strchr(nl, '\n'))
		*nl = ' ';
	printf("xdp_fuzz: FAILED iteration %" PRIu64 " (%s): %s", iter, prog, dg->text);
}

/* The skb test run wants a whole IP header behind an IP ethertype (the
 * stack would not have built such an skb either): nothing to judge. */
static int tc_refuses(const struct fuzz_case *c)
{
	uint16_t type = pkt_get16(c->f, 12);

	return c->prog == PROG_TC && ((type == PKT_ETH_P_IP && c->len < 14 + 20) ||
				      (type == PKT_ETH_P_IPV6 && c->len < 14 + 40));
}

/* An ICMP error the oracle expects translated must not come out
 * unchanged: left alone, it would reach a socket that cannot match it
 * (path MTU discovery through the balancer a black hole again). */
static void check_translated(struct fixture *fx, struct diag *dg, const struct fuzz_case *c,
			     const struct run_result *res, uint64_t iter, struct stats *st)
{
	if (!same_frame(c, res) || !icmp_expected(fx, c->prog, c->f, c->len, c->tc_ifindex))
		return;
	if (!st->icmp_missed++)
		st->first_missed = iter;
	diag_fail(dg, "an ICMP error about a flow xlb holds came out untranslated (verdict %d)",
		  res->verdict);
}

/* Runs one iteration; returns 0 if the oracle accepted it, -1 if not,
 * -2 on a harness error. */
static int run_one(struct fixture *fx, uint64_t seed, uint64_t iter, struct stats *st, int verbose)
{
	static struct fuzz_case c;
	static struct run_result res;
	struct diag dg = { .failed = 0 };
	struct rng r;
	int err;

	rng_for(&r, seed, iter);
	if (make_case(fx, &r, &c, st)) {
		fprintf(stderr, "xdp_fuzz: iteration %" PRIu64 ": cannot open the packet's flow\n",
			iter);
		return -2;
	}
	fx->h.tc_ifindex = c.tc_ifindex;
	err = harness_run(&fx->h, c.prog, c.f, c.len, &res);
	fx->h.tc_ifindex = 0;
	if (err == -EINVAL && tc_refuses(&c)) {
		st->refused++;
		return 0;
	}
	if (err) {
		printf("xdp_fuzz: iteration %" PRIu64 ": test run of %s: %s\n", iter,
		       c.prog == PROG_XDP ? "xlb_ingress" : "xlb_return", strerror(-err));
		hexdump("input", c.f, c.len);
		return -2;
	}
	st->runs++;
	if (c.prog == PROG_XDP) {
		st->xdp++;
		st->xdp_runs++;
		judge_xdp(fx, &dg, &c, &res, st);
	} else {
		st->tc++;
		st->off_link += frame_on_backend_link(fx, c.f, c.len, c.tc_ifindex) == 0;
		judge_tc(fx, &dg, &c, &res, st);
	}
	check_translated(fx, &dg, &c, &res, iter, st);
	if (!dg.failed)
		return 0;
	if (verbose)
		report(&dg, seed, iter, &c, &res);
	else /* --keep-going past MAX_REPORTS: one line each */
		report_short(&dg, iter, c.prog == PROG_XDP ? "xlb_ingress" : "xlb_return");
	return -1;
}

/* Each rewrite is counted as the kind it was: fwd_redirect for an
 * XDP_REDIRECT, fwd_stack for a changed XDP_PASS (the flows opened
 * included), rnat_redirect and rnat_stack likewise; ICMP errors too. */
static int check_nat_kinds(const struct counter_snapshot *s, const struct stats *st)
{
	const uint32_t reasons[] = { XLB_R_FWD_REDIRECT, XLB_R_FWD_STACK, XLB_R_RNAT_REDIRECT,
				     XLB_R_RNAT_STACK };
	const uint64_t seen[] = { st->dnat_redirect + st->open_redirect,
				  st->dnat_pass + st->open_stack, st->rnat_redirect,
				  st->rnat_stack };
	int bad = 0;

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		if (s->reasons[reasons[i]].packets == seen[i])
			continue;
		printf("xdp_fuzz: FAILED accounting: %s counted %" PRIu64 ", %" PRIu64 " seen\n",
		       xlb_reason_names[reasons[i]], (uint64_t)s->reasons[reasons[i]].packets,
		       seen[i]);
		bad = -1;
	}
	return bad;
}

/* Every XDP run counts exactly one reason of the XDP side, every reverse
 * NAT one rnat_* reason, every reply refused for its link drop_reply_link
 * (judged one by one): nothing goes uncounted over the whole run. */
static int check_accounting(struct fixture *fx, const struct stats *st)
{
	struct counter_snapshot s;
	uint64_t xdp = 0, rnat;
	int kinds;

	if (fixture_counters(fx, &s))
		return -1;
	kinds = check_nat_kinds(&s, st);
	for (int i = 0; i < XLB_R_MAX; i++)
		if (i != XLB_R_RNAT_REDIRECT && i != XLB_R_RNAT_STACK &&
		    i != XLB_R_FLOW_INSERT_FAIL && i != XLB_R_DROP_REPLY_LINK)
			xdp += s.reasons[i].packets;
	rnat = s.reasons[XLB_R_RNAT_REDIRECT].packets + s.reasons[XLB_R_RNAT_STACK].packets;
	if (s.reasons[XLB_R_DROP_REPLY_LINK].packets != st->reply_link) {
		printf("xdp_fuzz: FAILED accounting: drop_reply_link counted %" PRIu64 ", %" PRIu64
		       " seen\n",
		       (uint64_t)s.reasons[XLB_R_DROP_REPLY_LINK].packets, st->reply_link);
		kinds = -1;
	}
	if (xdp == st->xdp_runs && rnat == st->rnat_redirect + st->rnat_stack)
		return kinds;
	printf("xdp_fuzz: FAILED accounting: %" PRIu64 " XDP runs, %" PRIu64
	       " XDP reasons counted; %" PRIu64 " reverse NATs, %" PRIu64 " rnat_* counted\n",
	       st->xdp_runs, xdp, st->rnat_redirect + st->rnat_stack, rnat);
	return -1;
}

/* ---- main ---------------------------------------------------------------- */

struct options {
	struct harness_ifnames ifs;
	uint64_t iterations, seed, only;
	int have_seed, have_only, keep_going;
};

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || !*s || *end ? -1 : 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		HARNESS_IF_OPTIONS,
		{ "iterations", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "iteration", required_argument, NULL, 'i' },
		{ "keep-going", no_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	int c, bad = 0;

	memset(o, 0, sizeof(*o));
	o->iterations = DEFAULT_ITERATIONS;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (harness_if_option(&o->ifs, c, optarg))
			continue;
		if (c == 'n')
			bad |= parse_u64(optarg, &o->iterations);
		else if (c == 's')
			bad |= parse_u64(optarg, &o->seed), o->have_seed = 1;
		else if (c == 'i')
			bad |= parse_u64(optarg, &o->only), o->have_only = 1;
		else if (c == 'k')
			o->keep_going = 1;
		else
			bad = 1;
	}
	return !bad && harness_ifnames_complete(&o->ifs) && optind == argc ? 0 : -1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fuzz(struct fixture *fx, const struct options *o, struct stats *st)
{
	uint64_t first = o->have_only ? o->only : 0;
	uint64_t end = o->have_only ? o->only + 1 : o->iterations;
	int ret;

	if (drop_reasons(fx, &st->drop_counted) ||
	    reason_count(fx, XLB_R_DROP_REPLY_LINK, &st->reply_link_seen))
		return -2;
	st->reply_link = st->reply_link_seen;
	for (uint64_t i = first; i < end; i++) {
		ret = run_one(fx, o->seed, i, st, st->failures < MAX_REPORTS);
		if (ret == -2)
			return -2;
		if (ret == -1) {
			st->failures++;
			if (!o->keep_going)
				break;
		}
	}
	if (check_accounting(fx, st))
		st->failures++;
	return 0;
}

/* One line (tests/run.sh reports it): dnat and rnat include the ICMP
 * errors translated, which "icmp xlat" counts on its own, so that a run
 * shows the path was exercised. */
static void print_summary(const struct stats *st, uint64_t seed, double secs)
{
	printf("xdp_fuzz: %" PRIu64 " packets (seed %" PRIu64 "): drop %" PRIu64 ", pass %" PRIu64
	       ", dnat %" PRIu64 ", rnat %" PRIu64 ", icmp xlat %" PRIu64 ", failures %" PRIu64
	       " (xdp %" PRIu64 ", tc %" PRIu64 "; dnat redirect %" PRIu64 "/stack %" PRIu64
	       ", rnat redirect %" PRIu64 "/stack %" PRIu64 "; icmp xlat xdp %" PRIu64
	       "/tc %" PRIu64 ", expected but left alone %" PRIu64,
	       st->runs, seed, st->drop, st->pass, st->dnat_redirect + st->dnat_pass,
	       st->rnat_redirect + st->rnat_stack, st->icmp_xlat_xdp + st->icmp_xlat_tc,
	       st->failures, st->xdp, st->tc, st->dnat_redirect, st->dnat_pass, st->rnat_redirect,
	       st->rnat_stack, st->icmp_xlat_xdp, st->icmp_xlat_tc, st->icmp_missed);
	if (st->icmp_missed)
		printf(" (first: iteration %" PRIu64 ")", st->first_missed);
	printf("; tc from off its backend's link %" PRIu64 ", of them dropped as drop_reply_link "
	       "%" PRIu64 "; tc refused %" PRIu64 "; %.1f s)\n",
	       st->off_link, st->reply_link, st->refused, secs);
}

int main(int argc, char **argv)
{
	struct stats st = { 0 };
	struct options o;
	struct fixture fx;
	double t0;
	int err;

	if (parse_options(argc, argv, &o)) {
		fprintf(stderr,
			"usage: %s --uplink IF --backend-if IF --bridge IF --bridge-port IF "
			"[--iterations N] [--seed S] [--iteration I] [--keep-going]\n",
			argv[0]);
		return 2;
	}
	prog_path = argv[0];
	if (!o.have_seed)
		o.seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
	if (harness_check_mac(o.ifs.uplink, topo_up0_mac) ||
	    harness_check_mac(o.ifs.backend_if, topo_be0_mac) ||
	    harness_check_mac(o.ifs.bridge, topo_br0_mac) ||
	    harness_check_mac(o.ifs.bridge_port, topo_bp0_mac))
		return 2;
	addrs_init();
	if (fixture_open(&fx, &o.ifs))
		return 2;
	if (fixture_reset(&fx, 0)) {
		fprintf(stderr, "xdp_fuzz: cannot set up the maps\n");
		fixture_close(&fx);
		return 2;
	}
	printf("xdp_fuzz: seed %" PRIu64 "\n", o.seed);
	fflush(stdout);
	t0 = now_s();
	err = fuzz(&fx, &o, &st);
	fixture_close(&fx);
	if (err)
		return 2;
	print_summary(&st, o.seed, now_s() - t0);
	return st.failures ? 1 : 0;
}
