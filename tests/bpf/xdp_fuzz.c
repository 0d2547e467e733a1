// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* A BPF_PROG_TEST_RUN fuzz loop over the xlb data path (issue 6, "Bad
 * input"). Each iteration builds a valid packet (pkt.h), mutates it at
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
 * Each XDP_DROP must move exactly one drop counter of xlb_reasons, and at
 * the end every run must have counted exactly one reason.
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
#define TC_PERCENT 10		/* share of iterations that fuzz the return program */
#define MAX_REPORTS 5		/* failures printed in full with --keep-going */
#define ORACLE_MAX_VLANS 8	/* more than the data path parses: the oracle
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
	TOPO_VIP4, TOPO_OTHER4, TOPO_CLIENT4, TOPO_BE_A4, TOPO_BE_D4, "0.0.0.0",
	"255.255.255.255", "127.0.0.1", "224.0.0.1", "10.210.0.1",
};
static const char *const mut_addrs6[] = {
	TOPO_VIP6, TOPO_OTHER6, TOPO_CLIENT6, TOPO_BE_A6, TOPO_BE_D6, "::",
	"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::1", "ff02::1", "fe80::1",
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
	uint16_t ethertype;	/* the one after the tags */
	int family;
	uint8_t proto;
	size_t l3, l4;
	size_t ip_end;		/* where the IP header says the packet ends */
	size_t src, dst;	/* address offsets */
	size_t ttl;
	size_t csum;		/* L4 checksum offset */
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
	if (pkt_get16(ip, 6) & 0x3fff)	/* MF or an offset: a fragment */
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

	if (v->l3 + 40 > len || ip[0] >> 4 != 6)
		return -1;
	plen = pkt_get16(ip, 4);
	if (plen == 0 || (in_frame && off + plen > len))
		return -1;
	v->ip_end = off + plen;
	next = ip[6];
	for (int i = 0; next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING ||
			next == IPPROTO_DSTOPTS; i++) {
		if (i == ORACLE_MAX_EXT || off + 2 > len || off + 2 > v->ip_end)
			return -1;
		next = f[off];
		off += 8 * ((size_t)f[off + 1] + 1);
	}
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
		return -1;	/* a data offset below the fixed header */
	v->csum = v->l4 + (v->proto == IPPROTO_TCP ? 16 : 6);
	return 0;
}

/* 0 if f is an unfragmented TCP/UDP packet over IPv4 or IPv6. */
static int view_parse(const uint8_t *f, size_t len, int in_frame, struct view *v)
{
	memset(v, 0, sizeof(*v));
	if (view_l2(f, len, v))
		return -1;
	if (v->ethertype == PKT_ETH_P_IP) {
		if (view_ipv4(f, len, in_frame, v))
			return -1;
	} else if (v->ethertype == PKT_ETH_P_IPV6) {
		if (view_ipv6(f, len, in_frame, v))
			return -1;
	} else {
		return -1;
	}
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

/* ---- the oracle ------------------------------------------------------------ */

enum nat { NAT_DST, NAT_SRC };

enum mac_rule {
	MAC_SAME,	/* Ethernet header untouched */
	MAC_EXACT,	/* dmac/smac as given */
	MAC_ROUTED,	/* a neighbour of the new destination, or untouched
			 * (bpf_redirect_neigh fills them in later) */
};

struct rewrite {
	enum nat nat;
	int routed;		/* a router hop: TTL/hop limit one less */
	int pop;		/* VLAN tags removed */
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

/* Every byte from L3 on is the input's, except the NAT fields. */
static void check_body(struct diag *dg, const uint8_t *in, size_t inlen, const struct view *vi,
		       const uint8_t *out, const struct rewrite *rw)
{
	static uint8_t mask[PKT_MAX_LEN];
	size_t pop = (size_t)rw->pop;

	allowed_mask(vi, rw, mask);
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

static void check_l2(struct diag *dg, const uint8_t *in, const struct view *vi,
		     const uint8_t *out, const struct view *vo, const struct rewrite *rw)
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
			diag_fail(dg, "MAC addresses are neither kept nor the destination's neighbour's");
		break;
	}
}

static void check_ttl(struct diag *dg, const uint8_t *in, const struct view *vi,
		      const uint8_t *out, const struct view *vo, const struct rewrite *rw)
{
	uint8_t a = in[vi->ttl], b = out[vo->ttl];

	if (rw->routed ? a <= 1 || b != a - 1 : b != a)
		diag_fail(dg, "TTL/hop limit %u -> %u (%s)", a, b,
			  rw->routed ? "routed: one less" : "not routed: unchanged");
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
		diag_fail(dg, "UDP/IPv4 checksum 0x%04x -> 0x%04x: 0 (none) must stay 0, and only 0",
			  ci, co);
	if (vi->ip_end > inlen)
		return;	/* the frame does not hold the whole segment */
	vin = l4_valid(in, vi);
	vout = l4_valid(out, vo);
	if (vin != vout)
		diag_fail(dg, "L4 checksum 0x%04x (%s) -> 0x%04x (%s)", ci, vin ? "valid" : "wrong",
			  co, vout ? "valid" : "wrong");
}

/* The generic part of a NAT check: frame shape, untouched bytes, TTL,
 * MACs, checksums. The NAT target is the caller's. */
static void check_rewrite(struct diag *dg, const uint8_t *in, size_t inlen, const struct view *vi,
			  const uint8_t *out, size_t outlen, const struct view *vo,
			  const struct rewrite *rw)
{
	if (outlen != inlen - (size_t)rw->pop) {
		diag_fail(dg, "frame length %zu -> %zu (expected %zu)", inlen, outlen,
			  inlen - (size_t)rw->pop);
		return;
	}
	check_l2(dg, in, vi, out, vo, rw);
	if (dg->failed)
		return;
	check_body(dg, in, inlen, vi, out, rw);
	check_ttl(dg, in, vi, out, vo, rw);
	check_csums(dg, in, inlen, vi, out, vo);
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
		return diag_fail(dg, "redirected toward backend %u, which has no neighbour", be->id);
	rw.macs = redirect ? MAC_EXACT : MAC_SAME;
	rw.dmac = be->mac;
	rw.smac = be->link_mac;
	check_rewrite(dg, in, inlen, &vi, out, outlen, &vo, &rw);
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
	struct rewrite rw = { .nat = NAT_SRC, .routed = redirect,
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

/* ---- base packets ---------------------------------------------------------- */

struct fuzz_case {
	enum prog_kind prog;
	struct pkt_desc d;
	uint32_t be;		/* tc: the replying backend */
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
	static const uint8_t flags[] = { TH_SYN, TH_SYN, TH_ACK, TH_ACK | TH_PSH, TH_SYN | TH_ACK,
					 TH_RST, TH_FIN | TH_ACK };

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
		d->proto = PICK(r, ((const uint8_t[]){ IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_GRE }));
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

/* A backend's reply on be0, to a client whose flow the caller opens. */
static void base_reply(struct rng *r, struct pkt_desc *d, uint32_t be_id)
{
	const struct test_backend *be = backend_of(be_id);
	const struct test_service *svc = service_of(be->svc);
	const char *v4[] = { TOPO_CLIENT4, TOPO_CLIENT4, TOPO_CLIENT4_NONEIGH,
			     TOPO_CLIENT4_NOROUTE };
	const char *v6[] = { TOPO_CLIENT6, TOPO_CLIENT6, TOPO_CLIENT6_NONEIGH };

	memset(d, 0, sizeof(*d));
	memcpy(d->dmac, be->link_mac, 6);
	memcpy(d->smac, be->mac ? be->mac : noneigh_mac, 6);
	d->ethertype = be->family == AF_INET6 ? PKT_ETH_P_IPV6 : PKT_ETH_P_IP;
	fixture_addr(d->src, be->family, be->addr);
	fixture_addr(d->dst, be->family, be->family == AF_INET6 ? PICK(r, v6) : PICK(r, v4));
	d->proto = svc->proto;
	d->sport = be->port;
	d->dport = (uint16_t)(1024 + rnd(r, 64000));
	if (chance(r, 10))
		pkt_push_vlan(d, PKT_ETH_P_8021Q, (uint16_t)rnd(r, 4096));
	base_l3_extras(r, d);
	d->frag = 0;	/* a fragmented reply is never translated: not worth the runs */
	d->n_ext = d->n_ext && d->ext[d->n_ext - 1] == IPPROTO_FRAGMENT ? d->n_ext - 1 : d->n_ext;
	base_l4(r, d);
}

/* Opens the flow a reply belongs to, the way a client does: its first
 * packet through xlb_ingress. */
static int open_reply_flow(struct fixture *fx, const struct pkt_desc *reply, uint32_t be_id,
			   uint64_t *xdp_runs)
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
	d.ethertype = reply->ethertype;
	memcpy(d.src, reply->dst, 16);
	memcpy(d.dst, svc_vip[svc->id], 16);
	d.ttl = 64;
	d.proto = svc->proto;
	d.sport = reply->dport;
	d.dport = svc->port;
	d.tcp_flags = svc->proto == IPPROTO_TCP ? TH_SYN : 0;
	if (harness_run(&fx->h, PROG_XDP, b, pkt_build(&d, b), &res))
		return -1;
	(*xdp_runs)++;
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
};

static void layout_of(const struct pkt_desc *d, struct layout *lay)
{
	lay->family = pkt_family(d);
	lay->proto = d->proto;
	lay->l3 = pkt_l3_off(d);
	lay->n_ext = d->n_ext;
	lay->ip_opt_len = d->ip_opt_len;
	lay->l4 = lay->l3 + (lay->family == AF_INET6 ? 40 + 8 * (size_t)d->n_ext
						      : 20 + (size_t)d->ip_opt_len);
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
	uint16_t vals[] = { 0, 1, (uint16_t)(cur - 1), (uint16_t)(cur + 1), (uint16_t)(hlen - 1),
			    hlen, (uint16_t)(hlen + 1), (uint16_t)(hlen + 8), 0xffff,
			    (uint16_t)rng_next(r) };

	put16(f, len, off, PICK(r, vals));
}

static void mut_l4_field(struct rng *r, uint8_t *f, size_t len, const struct layout *lay)
{
	static const uint16_t ports[] = { 0, 53, 80, 81, 82, 83, 84, 85, 8080, 5353, 0xffff };
	size_t l4 = lay->l4;

	switch (rnd(r, 4)) {
	case 0:
		put16(f, len, l4 + (chance(r, 50) ? 2 : 0),
		      chance(r, 80) ? PICK(r, ports) : (uint16_t)rng_next(r));
		break;
	case 1:	/* TCP data offset and flags, or the UDP length */
		if (lay->proto == IPPROTO_TCP)
			put8(f, len, l4 + 12 + rnd(r, 2), (uint8_t)rng_next(r));
		else
			put16(f, len, l4 + 4,
			      PICK(r, ((const uint16_t[]){ 0, 7, 8, 9, 0xffff,
							   (uint16_t)(len - l4 + 1) })));
		break;
	case 2:	/* the checksum */
		put16(f, len, l4 + (lay->proto == IPPROTO_TCP ? 16 : 6),
		      PICK(r, ((const uint16_t[]){ 0, 0xffff, 1 })));
		break;
	default:	/* TCP doff extremes */
		put8(f, len, l4 + 12, (uint8_t)(PICK(r, ((const uint8_t[]){ 0, 4, 5, 6, 15 })) << 4));
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

	switch (rnd(r, 10)) {
	case 0:
		put16(f, len, l3 - 2, PICK(r, ((const uint16_t[]){ PKT_ETH_P_IP, PKT_ETH_P_IPV6,
								     PKT_ETH_P_8021Q, PKT_ETH_P_8021AD,
								     PKT_ETH_P_ARP, 0, 0xffff })));
		break;
	case 1:	/* version and IHL */
		put8(f, len, l3, (uint8_t)(PICK(r, ((const uint8_t[]){ 4, 6, 0, 5, 15 })) << 4 |
					   (v4 ? rnd(r, 16) : (f[l3] & 0x0f))));
		break;
	case 2:
		mut_length(r, f, len, lay);
		break;
	case 3:	/* fragment bits */
		if (v4)
			put16(f, len, l3 + 6, PICK(r, ((const uint16_t[]){ 0x2000, 0x0001, 0x4000,
									     0x3fff, 0xffff, 0x8000,
									     0x1fff, 0 })));
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

/* Offsets mostly within the headers, where the parsers look. */
static size_t mut_offset(struct rng *r, size_t len, const struct layout *lay)
{
	size_t hdrs = lay->l4 + 24;

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
	case 3:	/* BPF_PROG_TEST_RUN refuses frames below ETH_HLEN */
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

/* ---- one iteration ------------------------------------------------------- */

struct stats {
	uint64_t runs, xdp, tc, xdp_runs;
	uint64_t drop, pass, dnat_redirect, dnat_pass, rnat_redirect, rnat_stack;
	uint64_t failures;
	uint64_t refused;	/* tc frames the skb test run does not take */
	uint64_t drop_counted;	/* sum of the xlb_reasons drop counters */
};

static int same_frame(const struct fuzz_case *c, const struct run_result *res)
{
	return res->len == c->len && !memcmp(res->data, c->f, c->len);
}

static int drop_reasons(struct fixture *fx, uint64_t *sum)
{
	static const uint32_t drops[] = { XLB_R_DROP_TRUNCATED, XLB_R_DROP_BAD_HEADER,
					  XLB_R_DROP_NO_BACKEND };
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

		check_dnat(fx, dg, c->f, c->len, res->data, res->len, redirect);
		if (redirect)
			st->dnat_redirect++;
		else
			st->dnat_pass++;
	} else {
		diag_fail(dg, "verdict %s is never right", verdict_name(PROG_XDP, res->verdict));
	}
}

static void judge_tc(struct fixture *fx, struct diag *dg, const struct fuzz_case *c,
		     const struct run_result *res, struct stats *st)
{
	if (res->verdict == TC_ACT_SHOT) {
		st->drop++;
	} else if (res->verdict == TC_ACT_OK && same_frame(c, res)) {
		st->pass++;
	} else if (res->verdict == TC_ACT_OK || res->verdict == TC_ACT_REDIRECT) {
		int redirect = res->verdict == TC_ACT_REDIRECT;

		check_rnat(fx, dg, c->f, c->len, res->data, res->len, redirect);
		if (redirect)
			st->rnat_redirect++;
		else
			st->rnat_stack++;
	} else {
		diag_fail(dg, "verdict %s is never right", verdict_name(PROG_TC, res->verdict));
	}
}

/* Builds iteration iter's packet (and, for tc, opens its flow). */
static int make_case(struct fixture *fx, struct rng *r, struct fuzz_case *c, struct stats *st)
{
	memset(c, 0, sizeof(*c));
	c->prog = chance(r, TC_PERCENT) ? PROG_TC : PROG_XDP;
	if (c->prog == PROG_XDP) {
		base_client(r, &c->d);
	} else {
		c->be = pick_flow_backend(r);
		base_reply(r, &c->d, c->be);
		if (open_reply_flow(fx, &c->d, c->be, &st->xdp_runs))
			return -1;
	}
	c->len = pkt_build(&c->d, c->f);
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

static void report(const struct diag *dg, uint64_t seed, uint64_t iter,
		   const struct fuzz_case *c, const struct run_result *res)
{
	printf("xdp_fuzz: FAILED seed %" PRIu64 " iteration %" PRIu64 ": %s -> %s\n%s", seed,
	       iter, c->prog == PROG_XDP ? "xlb_ingress" : "xlb_return",
	       verdict_name(c->prog, res->verdict), dg->text);
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

/* Runs one iteration; returns 0 if the oracle accepted it, -1 if not,
 * -2 on a harness error. */
static int run_one(struct fixture *fx, uint64_t seed, uint64_t iter, struct stats *st,
		   int verbose)
{
	static struct fuzz_case c;
	static struct run_result res;
	struct diag dg = { .failed = 0 };
	struct rng r;
	int err;

	rng_for(&r, seed, iter);
	if (make_case(fx, &r, &c, st)) {
		fprintf(stderr, "xdp_fuzz: iteration %" PRIu64 ": cannot open the reply's flow\n",
			iter);
		return -2;
	}
	err = harness_run(&fx->h, c.prog, c.f, c.len, &res);
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
		judge_tc(fx, &dg, &c, &res, st);
	}
	if (!dg.failed)
		return 0;
	if (verbose)
		report(&dg, seed, iter, &c, &res);
	else	/* --keep-going past MAX_REPORTS: one line each */
		report_short(&dg, iter, c.prog == PROG_XDP ? "xlb_ingress" : "xlb_return");
	return -1;
}

/* Every XDP run counts exactly one reason of the XDP side, every reverse
 * NAT one rnat_* reason: nothing goes uncounted over the whole run. */
static int check_accounting(struct fixture *fx, const struct stats *st)
{
	struct counter_snapshot s;
	uint64_t xdp = 0, rnat;

	if (fixture_counters(fx, &s))
		return -1;
	for (int i = 0; i < XLB_R_MAX; i++)
		if (i != XLB_R_RNAT_REDIRECT && i != XLB_R_RNAT_STACK && i != XLB_R_FLOW_INSERT_FAIL)
			xdp += s.reasons[i].packets;
	rnat = s.reasons[XLB_R_RNAT_REDIRECT].packets + s.reasons[XLB_R_RNAT_STACK].packets;
	if (xdp == st->xdp_runs && rnat == st->rnat_redirect + st->rnat_stack)
		return 0;
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

	if (drop_reasons(fx, &st->drop_counted))
		return -2;
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

int main(int argc, char **argv)
{
	struct stats st = { 0 };
	struct options o;
	struct fixture fx;
	double t0;
	int err;

	if (parse_options(argc, argv, &o)) {
		fprintf(stderr, "usage: %s --uplink IF --backend-if IF --bridge IF --bridge-port IF "
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
	printf("xdp_fuzz: %" PRIu64 " packets (seed %" PRIu64 "): drop %" PRIu64 ", pass %" PRIu64
	       ", dnat %" PRIu64 ", rnat %" PRIu64 ", failures %" PRIu64 " (xdp %" PRIu64
	       ", tc %" PRIu64 "; dnat redirect %" PRIu64 "/stack %" PRIu64 ", rnat redirect %"
	       PRIu64 "/stack %" PRIu64 "; tc refused %" PRIu64 "; %.1f s)\n",
	       st.runs, o.seed, st.drop, st.pass, st.dnat_redirect + st.dnat_pass,
	       st.rnat_redirect + st.rnat_stack, st.failures, st.xdp, st.tc, st.dnat_redirect,
	       st.dnat_pass, st.rnat_redirect, st.rnat_stack, st.refused, now_s() - t0);
	return st.failures ? 1 : 0;
}
