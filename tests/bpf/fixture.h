/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The map state every case starts from: services on the VIPs of topo.h,
 * their backends, and prebuilt Maglev tables that a case swaps in the way
 * xlbd does (replace the outer slot). fixture_reset() puts it all back
 * and empties the flow and reverse-NAT tables. */
#ifndef XLB_TEST_FIXTURE_H
#define XLB_TEST_FIXTURE_H

#include "harness.h"
#include "topo.h"

enum {
	SVC_TCP4 = 1,	    /* VIP4:80/tcp -> A4, B4 */
	SVC_UDP4,	    /* VIP4:53/udp -> A4_UDP */
	SVC_TCP6,	    /* VIP6:80/tcp -> A6, B6 */
	SVC_UDP6,	    /* VIP6:53/udp -> A6_UDP */
	SVC_EMPTY4,	    /* VIP4:81/tcp, Maglev table of zeros */
	SVC_NOTABLE4,	    /* VIP4:82/tcp, no Maglev table at all */
	SVC_NONEIGH4,	    /* VIP4:83/tcp -> C4, a backend without neighbour */
	SVC_NONEIGH6,	    /* VIP6:83/tcp -> C6 */
	SVC_BRIDGE4,	    /* VIP4:84/tcp -> D4, behind the bridge */
	SVC_BRIDGE6,	    /* VIP6:84/tcp -> D6 */
	SVC_BRIDGE_NOPORT4, /* VIP4:85/tcp -> E4, behind the bridge, port unknown */
	N_SVC = SVC_BRIDGE_NOPORT4
};

enum {
	BE_A4 = 1,
	BE_B4,
	BE_A4_UDP,
	BE_A6,
	BE_B6,
	BE_A6_UDP,
	BE_C4,
	BE_C6,
	BE_D4,
	BE_D6,
	BE_E4,
	N_BE = BE_E4
};

/* Maglev tables: TBL_EMPTY (all zero), then for each backend id i a table
 * whose every slot is i, then one split by slot parity. */
enum {
	TBL_NONE = -1,
	TBL_EMPTY = 0,
	TBL_SPLIT_A4_B4 = N_BE + 1, /* even slots A4, odd slots B4 */
	N_TABLES
};

struct test_service {
	uint32_t id;
	int family;
	const char *vip;
	uint16_t port;
	uint8_t proto;
	int table;     /* the default Maglev table */
	int alt_table; /* what "the backend set changed" swaps in */
};

struct test_backend {
	uint32_t id;
	uint32_t svc;
	int family;
	const char *addr;
	uint16_t port;
	const uint8_t *mac;	 /* its neighbour entry; NULL: none */
	const uint8_t *link_mac; /* the balancer's MAC toward it (be0 or br0) */
};

/* Indexed by id - 1. */
static const struct test_service test_services[N_SVC] = {
	{ SVC_TCP4, AF_INET, TOPO_VIP4, 80, IPPROTO_TCP, BE_A4, BE_B4 },
	{ SVC_UDP4, AF_INET, TOPO_VIP4, 53, IPPROTO_UDP, BE_A4_UDP, BE_A4_UDP },
	{ SVC_TCP6, AF_INET6, TOPO_VIP6, 80, IPPROTO_TCP, BE_A6, BE_B6 },
	{ SVC_UDP6, AF_INET6, TOPO_VIP6, 53, IPPROTO_UDP, BE_A6_UDP, BE_A6_UDP },
	{ SVC_EMPTY4, AF_INET, TOPO_VIP4, 81, IPPROTO_TCP, TBL_EMPTY, TBL_EMPTY },
	{ SVC_NOTABLE4, AF_INET, TOPO_VIP4, 82, IPPROTO_TCP, TBL_NONE, TBL_NONE },
	{ SVC_NONEIGH4, AF_INET, TOPO_VIP4, 83, IPPROTO_TCP, BE_C4, BE_C4 },
	{ SVC_NONEIGH6, AF_INET6, TOPO_VIP6, 83, IPPROTO_TCP, BE_C6, BE_C6 },
	{ SVC_BRIDGE4, AF_INET, TOPO_VIP4, 84, IPPROTO_TCP, BE_D4, BE_D4 },
	{ SVC_BRIDGE6, AF_INET6, TOPO_VIP6, 84, IPPROTO_TCP, BE_D6, BE_D6 },
	{ SVC_BRIDGE_NOPORT4, AF_INET, TOPO_VIP4, 85, IPPROTO_TCP, BE_E4, BE_E4 },
};

static const struct test_backend test_backends[N_BE] = {
	{ BE_A4, SVC_TCP4, AF_INET, TOPO_BE_A4, 8080, topo_be_a_mac, topo_be0_mac },
	{ BE_B4, SVC_TCP4, AF_INET, TOPO_BE_B4, 8080, topo_be_b_mac, topo_be0_mac },
	{ BE_A4_UDP, SVC_UDP4, AF_INET, TOPO_BE_A4, 5353, topo_be_a_mac, topo_be0_mac },
	{ BE_A6, SVC_TCP6, AF_INET6, TOPO_BE_A6, 8080, topo_be_a_mac, topo_be0_mac },
	{ BE_B6, SVC_TCP6, AF_INET6, TOPO_BE_B6, 8080, topo_be_b_mac, topo_be0_mac },
	{ BE_A6_UDP, SVC_UDP6, AF_INET6, TOPO_BE_A6, 5353, topo_be_a_mac, topo_be0_mac },
	{ BE_C4, SVC_NONEIGH4, AF_INET, TOPO_BE_C4, 8080, NULL, topo_be0_mac },
	{ BE_C6, SVC_NONEIGH6, AF_INET6, TOPO_BE_C6, 8080, NULL, topo_be0_mac },
	{ BE_D4, SVC_BRIDGE4, AF_INET, TOPO_BE_D4, 8080, topo_be_d_mac, topo_br0_mac },
	{ BE_D6, SVC_BRIDGE6, AF_INET6, TOPO_BE_D6, 8080, topo_be_d_mac, topo_br0_mac },
	{ BE_E4, SVC_BRIDGE_NOPORT4, AF_INET, TOPO_BE_E4, 8080, topo_be_e_mac, topo_br0_mac },
};

struct fixture {
	struct harness h;
	int tables[N_TABLES];
	/* What each service's xlb_maglev slot holds now: an outer-map update
	 * waits for an RCU grace period, so unchanged slots are not rewritten. */
	int slot_table[N_SVC + 1];
};

#define TBL_UNKNOWN (-2)

enum fixture_flags {
	FIX_NO_TXPORT = 1 << 0,		/* be0 not in xlb_tx_ports: the kernel forwards */
	FIX_STALE_BRIDGE_PORT = 1 << 1, /* D's entry in xlb_bridge_ports names bp0,
					 * which is no tx port (it went away) */
};

static inline const struct test_backend *backend_of(uint32_t id)
{
	return id >= 1 && id <= N_BE ? &test_backends[id - 1] : NULL;
}

static inline const struct test_service *service_of(uint32_t id)
{
	return id >= 1 && id <= N_SVC ? &test_services[id - 1] : NULL;
}

/* Text addresses of the fixture are constants: a typo is a bug here. */
static inline void fixture_addr(uint8_t a[16], int family, const char *text)
{
	if (pkt_set_addr(a, family, text)) {
		fprintf(stderr, "bpf_test: bad address %s\n", text);
		abort();
	}
}

static inline void fixture_xlb_addr(struct xlb_addr *a, int family, const char *text)
{
	uint8_t raw[16];

	fixture_addr(raw, family, text);
	memcpy(a, raw, sizeof(*a));
}

static inline uint32_t table_slot_value(int table, uint32_t slot)
{
	if (table == TBL_SPLIT_A4_B4)
		return slot % 2 ? BE_B4 : BE_A4;
	return (uint32_t)table; /* TBL_EMPTY = 0, else the backend id */
}

/* One inner Maglev table, created and filled the way xlbd would. */
static inline int table_create(int table)
{
	static uint32_t keys[XLB_MAGLEV_SIZE], vals[XLB_MAGLEV_SIZE];
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint32_t count = XLB_MAGLEV_SIZE;
	int fd, err;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xlb_test_mg", sizeof(uint32_t), sizeof(uint32_t),
			    XLB_MAGLEV_SIZE, NULL);
	if (fd < 0)
		return -errno;
	for (uint32_t i = 0; i < XLB_MAGLEV_SIZE; i++) {
		keys[i] = i;
		vals[i] = table_slot_value(table, i);
	}
	err = bpf_map_update_batch(fd, keys, vals, &count, &opts);
	if (err || count != XLB_MAGLEV_SIZE) {
		close(fd);
		return err ? -errno : -EIO;
	}
	return fd;
}

static inline void fixture_close(struct fixture *f)
{
	for (int i = 0; i < N_TABLES; i++)
		if (f->tables[i] >= 0)
			close(f->tables[i]);
	harness_close(&f->h);
}

static inline int fixture_open(struct fixture *f, const struct harness_ifnames *names)
{
	int err;

	for (int i = 0; i < N_TABLES; i++)
		f->tables[i] = -1;
	for (int i = 0; i <= N_SVC; i++)
		f->slot_table[i] = TBL_UNKNOWN;
	err = harness_open(&f->h, names);
	if (err)
		return err;
	for (int i = 0; i < N_TABLES; i++) {
		f->tables[i] = table_create(i);
		if (f->tables[i] < 0) {
			err = f->tables[i];
			fprintf(stderr, "bpf_test: maglev table %d: %s\n", i, strerror(-err));
			fixture_close(f);
			return err;
		}
	}
	return 0;
}

/* Points a service's xlb_maglev slot at a prebuilt table (or none). */
static inline int fixture_set_table(struct fixture *f, uint32_t svc, int table)
{
	int fd = bpf_map__fd(f->h.skel->maps.xlb_maglev);

	if (f->slot_table[svc] == table)
		return 0;
	f->slot_table[svc] = TBL_UNKNOWN;
	if (table == TBL_NONE) {
		if (bpf_map_delete_elem(fd, &svc) && errno != ENOENT)
			return -errno;
	} else if (bpf_map_update_elem(fd, &svc, &f->tables[table], BPF_ANY)) {
		return -errno;
	}
	f->slot_table[svc] = table;
	return 0;
}

static inline void backend_value(const struct test_backend *b, struct xlb_backend *v)
{
	memset(v, 0, sizeof(*v));
	fixture_xlb_addr(&v->addr, b->family, b->addr);
	v->port = htons(b->port);
	v->family = (uint8_t)b->family;
	v->state = XLB_BE_ACTIVE;
	v->svc_id = b->svc;
	v->weight = 1;
}

static inline int fixture_put_backend(struct fixture *f, uint32_t id, const struct xlb_backend *v)
{
	int fd = bpf_map__fd(f->h.skel->maps.xlb_backends);

	return bpf_map_update_elem(fd, &id, v, BPF_ANY) ? -errno : 0;
}

static inline void service_key(const struct test_service *s, struct xlb_svc_key *k)
{
	memset(k, 0, sizeof(*k));
	fixture_xlb_addr(&k->vip, s->family, s->vip);
	k->port = htons(s->port);
	k->proto = s->proto;
	k->family = (uint8_t)s->family;
}

static inline int fixture_put_service(struct fixture *f, const struct test_service *s)
{
	struct xlb_svc_key k;
	struct xlb_svc v = { .id = s->id };
	int fd = bpf_map__fd(f->h.skel->maps.xlb_services);

	service_key(s, &k);
	if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
		return -errno;
	return fixture_set_table(f, s->id, s->table);
}

static inline int fixture_clear_dynamic(struct fixture *f)
{
	struct xlb *skel = f->h.skel;

	if (harness_map_clear(skel->maps.xlb_flows) || harness_map_clear(skel->maps.xlb_rnat_eps) ||
	    harness_map_clear(skel->maps.xlb_services) ||
	    harness_map_clear(skel->maps.xlb_tx_ports) ||
	    harness_map_clear(skel->maps.xlb_bridge_ports) ||
	    harness_map_clear(skel->maps.xlb_be_links))
		return -EIO;
	return 0;
}

static inline int fixture_put_tx_port(struct fixture *f, int ifindex)
{
	uint32_t idx = (uint32_t)ifindex;

	if (bpf_map_update_elem(bpf_map__fd(f->h.skel->maps.xlb_tx_ports), &idx, &idx, BPF_ANY))
		return -errno;
	return 0;
}

/* Backend D behind bp0, as xlbd records it from the neighbour table and
 * the bridge's FDB. Backend E has no entry (its FDB entry is not known). */
static inline int fixture_put_bridge_port(struct fixture *f)
{
	struct xlb_bridge_port_key k = { .bridge_ifindex = (uint32_t)f->h.br_ifindex };
	uint32_t port = (uint32_t)f->h.port_ifindex;
	int fd = bpf_map__fd(f->h.skel->maps.xlb_bridge_ports);

	memcpy(k.mac, topo_be_d_mac, sizeof(k.mac));
	return bpf_map_update_elem(fd, &k, &port, BPF_ANY) ? -errno : 0;
}

/* The flow hash's seed every case runs with, unless it writes another:
 * the tests compute Maglev slots with it (xlb/hash.h). */
#define FIXTURE_HASH_SEED 0x5eed0123abcd4567ULL

static inline int fixture_put_hash_seed(struct fixture *f, uint64_t seed)
{
	struct xlb_dp_config cfg = { .hash_seed = seed, .flags = XLB_DP_F_SEEDED };
	uint32_t zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(f->h.skel->maps.xlb_dp_config), &zero, &cfg, BPF_ANY))
		return -errno;
	return 0;
}

/* What xlbd learns of a backend's link (xlb_be_links): be0 for A, B and
 * C; the bridge br0 for D and E, D with its port bp0 and MAC, E with
 * neither yet (its MAC is then the neighbour table's). */
static inline void be_link_of(const struct fixture *f, const struct test_backend *be,
			      struct xlb_be_link_key *k, struct xlb_be_link *v)
{
	memset(k, 0, sizeof(*k));
	memset(v, 0, sizeof(*v));
	fixture_xlb_addr(&k->addr, be->family, be->addr);
	k->family = (uint8_t)be->family;
	if (be->link_mac != topo_br0_mac) {
		v->ifindex = (uint32_t)f->h.be_ifindex;
		return;
	}
	v->ifindex = (uint32_t)f->h.br_ifindex;
	v->flags = XLB_BE_LINK_F_BRIDGE;
	if (be->mac != topo_be_d_mac)
		return;
	v->port_ifindex = (uint32_t)f->h.port_ifindex;
	v->flags |= XLB_BE_LINK_F_MAC;
	memcpy(v->mac, be->mac, sizeof(v->mac));
}

static inline int fixture_put_be_link(struct fixture *f, const struct test_backend *be)
{
	struct xlb_be_link_key k;
	struct xlb_be_link v;

	be_link_of(f, be, &k, &v);
	if (bpf_map_update_elem(bpf_map__fd(f->h.skel->maps.xlb_be_links), &k, &v, BPF_ANY))
		return -errno;
	return 0;
}

/* A backend's reverse-NAT endpoint entry as xlbd writes it: its endpoint
 * (with the service's protocol) -> the service's listener. Every test
 * backend has an endpoint of its own, so each entry has one listener. */
static inline void rnat_ep_key_of(const struct test_backend *be, struct xlb_ep_key *k)
{
	memset(k, 0, sizeof(*k));
	fixture_xlb_addr(&k->addr, be->family, be->addr);
	k->port = htons(be->port);
	k->proto = test_services[be->svc - 1].proto;
	k->family = (uint8_t)be->family;
}

static inline int fixture_put_rnat_ep(struct fixture *f, const struct test_backend *be)
{
	const struct test_service *s = &test_services[be->svc - 1];
	struct xlb_ep_listeners v = { .n = 1 };
	struct xlb_ep_key k;

	rnat_ep_key_of(be, &k);
	fixture_xlb_addr(&v.l[0].vip, s->family, s->vip);
	v.l[0].vport = htons(s->port);
	v.l[0].svc_id = s->id;
	if (bpf_map_update_elem(bpf_map__fd(f->h.skel->maps.xlb_rnat_eps), &k, &v, BPF_ANY))
		return -errno;
	return 0;
}

/* Back to the starting state, with the variations in flags. */
static inline int fixture_reset(struct fixture *f, unsigned int flags)
{
	struct xlb_backend v;
	int err = fixture_clear_dynamic(f);

	for (uint32_t i = 0; !err && i < N_SVC; i++)
		err = fixture_put_service(f, &test_services[i]);
	for (uint32_t i = 0; !err && i < N_BE; i++) {
		backend_value(&test_backends[i], &v);
		err = fixture_put_backend(f, test_backends[i].id, &v);
		if (!err)
			err = fixture_put_rnat_ep(f, &test_backends[i]);
		if (!err)
			err = fixture_put_be_link(f, &test_backends[i]);
	}
	if (!err)
		err = fixture_put_hash_seed(f, FIXTURE_HASH_SEED);
	if (!err && !(flags & FIX_NO_TXPORT))
		err = fixture_put_tx_port(f, f->h.be_ifindex);
	if (!err && !(flags & FIX_STALE_BRIDGE_PORT))
		err = fixture_put_tx_port(f, f->h.port_ifindex);
	if (!err)
		err = fixture_put_bridge_port(f);
	return err;
}

/* Counters the cases check, summed over CPUs. */
struct counter_snapshot {
	struct xlb_reason_count reasons[XLB_R_MAX];
	struct xlb_counters svc[N_SVC + 1];
	struct xlb_counters be[N_BE + 1];
};

static inline int fixture_counters(struct fixture *f, struct counter_snapshot *s)
{
	struct xlb *skel = f->h.skel;
	int err = 0;

	memset(s, 0, sizeof(*s));
	for (uint32_t r = 0; !err && r < XLB_R_MAX; r++)
		err = harness_percpu_sum(&f->h, skel->maps.xlb_reasons, r,
					 (uint64_t *)&s->reasons[r], 2);
	for (uint32_t i = 1; !err && i <= N_SVC; i++)
		err = harness_percpu_sum(&f->h, skel->maps.xlb_svc_stats, i, (uint64_t *)&s->svc[i],
					 3);
	for (uint32_t i = 1; !err && i <= N_BE; i++)
		err = harness_percpu_sum(&f->h, skel->maps.xlb_be_stats, i, (uint64_t *)&s->be[i],
					 3);
	return err;
}

#endif
