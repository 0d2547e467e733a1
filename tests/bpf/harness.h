/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The data path under test, loaded once from the skeleton with every map
 * unpinned (the tests share nothing with a running xlbd), plus the map
 * and BPF_PROG_TEST_RUN plumbing the cases use. */
#ifndef XLB_TEST_HARNESS_H
#define XLB_TEST_HARNESS_H

#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "xlb/map_types.h"
#include "xlb.skel.h"
#include "pkt.h"

struct harness {
	struct xlb *skel;
	int up_ifindex;	  /* uplink: XDP ingress_ifindex */
	int be_ifindex;	  /* backend side: tx port, tc ifindex */
	int br_ifindex;	  /* a bridge with backends behind it */
	int port_ifindex; /* the bridge's port: a tx port */
	int ncpus;
	void *percpu;	      /* scratch for one per-CPU value */
	uint32_t tc_gso_size; /* the next tc run's skb is GSO with this size */
	int tc_ifindex;	      /* where the next tc run's frame arrives; 0: be_ifindex */
};

/* xlb_ingress, xlb_return, and xlb_ingress_tc (the uplink decision on
 * the skb path) */
enum prog_kind { PROG_XDP, PROG_TC, PROG_TC_UPLINK };

struct run_result {
	int verdict;
	uint8_t data[PKT_MAX_LEN];
	size_t len;
};

static inline int harness_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* The skeleton's maps are LIBBPF_PIN_BY_NAME: without this, load would
 * reuse (or create) pins under /sys/fs/bpf. */
static inline int harness_unpin_maps(struct bpf_object *obj)
{
	struct bpf_map *map;
	int err;

	bpf_object__for_each_map (map, obj) {
		err = bpf_map__set_pin_path(map, NULL);
		if (err)
			return err;
	}
	return 0;
}

static inline int harness_ifindex(const char *name)
{
	int idx = (int)if_nametoindex(name);

	if (!idx)
		fprintf(stderr, "bpf_test: interface %s: %s\n", name, strerror(errno));
	return idx;
}

/* Checks that an interface has the MAC that topo.h promises. */
static inline int harness_check_mac(const char *name, const uint8_t want[6])
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret = -1;

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) == 0 && !memcmp(ifr.ifr_hwaddr.sa_data, want, 6))
		ret = 0;
	else
		fprintf(stderr, "bpf_test: %s does not have the MAC of topo.h (run.sh builds it)\n",
			name);
	close(fd);
	return ret;
}

static inline void harness_close(struct harness *h)
{
	xlb__destroy(h->skel);
	free(h->percpu);
	h->skel = NULL;
	h->percpu = NULL;
}

/* The interfaces of topo.h, by name. */
struct harness_ifnames {
	const char *uplink;
	const char *backend_if;
	const char *bridge;
	const char *bridge_port;
};

/* Every runner takes the topology's interfaces as run.sh passes them. */
#define HARNESS_IF_OPTIONS                                      \
	{ "uplink", required_argument, NULL, 'u' },             \
		{ "backend-if", required_argument, NULL, 'b' }, \
		{ "bridge", required_argument, NULL, 'r' },     \
	{                                                       \
		"bridge-port", required_argument, NULL, 'p'     \
	}

/* Stores interface option c; 0 if c is not one of HARNESS_IF_OPTIONS. */
static inline int harness_if_option(struct harness_ifnames *n, int c, const char *arg)
{
	switch (c) {
	case 'u':
		n->uplink = arg;
		return 1;
	case 'b':
		n->backend_if = arg;
		return 1;
	case 'r':
		n->bridge = arg;
		return 1;
	case 'p':
		n->bridge_port = arg;
		return 1;
	}
	return 0;
}

static inline int harness_ifnames_complete(const struct harness_ifnames *n)
{
	return n->uplink && n->backend_if && n->bridge && n->bridge_port;
}

static inline int harness_open(struct harness *h, const struct harness_ifnames *n)
{
	memset(h, 0, sizeof(*h));
	libbpf_set_print(harness_libbpf_print);
	h->up_ifindex = harness_ifindex(n->uplink);
	h->be_ifindex = harness_ifindex(n->backend_if);
	h->br_ifindex = harness_ifindex(n->bridge);
	h->port_ifindex = harness_ifindex(n->bridge_port);
	if (!h->up_ifindex || !h->be_ifindex || !h->br_ifindex || !h->port_ifindex)
		return -ENODEV;
	h->ncpus = libbpf_num_possible_cpus();
	if (h->ncpus <= 0)
		return -EINVAL;
	h->percpu = calloc((size_t)h->ncpus, sizeof(struct xlb_counters));
	h->skel = xlb__open();
	if (!h->percpu || !h->skel)
		goto fail;
	if (harness_unpin_maps(h->skel->obj) || xlb__load(h->skel))
		goto fail;
	return 0;
fail:
	fprintf(stderr, "bpf_test: cannot load the xlb skeleton\n");
	harness_close(h);
	return -EINVAL;
}

/* Deletes every entry of a hash map. */
static inline int harness_map_clear(struct bpf_map *map)
{
	uint8_t key[64];
	int fd = bpf_map__fd(map);

	if (bpf_map__key_size(map) > sizeof(key))
		return -E2BIG;
	while (bpf_map_get_next_key(fd, NULL, key) == 0) {
		if (bpf_map_delete_elem(fd, key))
			return -errno;
	}
	return 0;
}

/* Sums a per-CPU value of nwords u64 counters over every CPU. */
static inline int harness_percpu_sum(struct harness *h, struct bpf_map *map, uint32_t key,
				     uint64_t *sum, size_t nwords)
{
	const uint64_t *v = h->percpu;

	memset(sum, 0, nwords * sizeof(*sum));
	if (bpf_map_lookup_elem(bpf_map__fd(map), &key, h->percpu))
		return -errno;
	for (int cpu = 0; cpu < h->ncpus; cpu++)
		for (size_t w = 0; w < nwords; w++)
			sum[w] += v[(size_t)cpu * nwords + w];
	return 0;
}

/* One BPF_PROG_TEST_RUN of the XDP program as if the frame arrived on the
 * uplink (fib lookups then run in that interface's netns and table). */
static inline int harness_run_xdp(struct harness *h, const uint8_t *in, size_t len,
				  struct run_result *r)
{
	struct xdp_md ctx = {
		.data_end = (uint32_t)len,
		.ingress_ifindex = (uint32_t)h->up_ifindex,
		.rx_queue_index = 0,
	};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = r->data, .data_size_out = sizeof(r->data), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);
	int err = bpf_prog_test_run_opts(bpf_program__fd(h->skel->progs.xlb_ingress), &opts);

	r->verdict = (int)opts.retval;
	r->len = opts.data_size_out;
	return err ? -errno : 0;
}

/* One test run of a tc program on a frame that arrived on ifindex, as a
 * frame from a local stack does (GSO when h->tc_gso_size is set: a TCP
 * stack hands its veth segments of up to 64 KB). */
static inline int harness_run_skb(struct harness *h, const struct bpf_program *prog,
				  uint32_t ifindex, const uint8_t *in, size_t len,
				  struct run_result *r)
{
	struct __sk_buff ctx = {
		.ifindex = ifindex,
		.ingress_ifindex = ifindex,
		.gso_size = h->tc_gso_size,
		.gso_segs =
			h->tc_gso_size ? (uint32_t)(len + h->tc_gso_size - 1) / h->tc_gso_size : 0,
	};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = r->data, .data_size_out = sizeof(r->data), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);
	int err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);

	r->verdict = (int)opts.retval;
	r->len = opts.data_size_out;
	return err ? -errno : 0;
}

/* The return program, as if the frame arrived from a backend on the
 * backend-facing interface (or on h->tc_ifindex). */
static inline int harness_run_tc(struct harness *h, const uint8_t *in, size_t len,
				 struct run_result *r)
{
	uint32_t ifindex = (uint32_t)(h->tc_ifindex ? h->tc_ifindex : h->be_ifindex);

	return harness_run_skb(h, h->skel->progs.xlb_return, ifindex, in, len, r);
}

/* The tc uplink program, as if a client's frame arrived on the uplink. */
static inline int harness_run_tc_uplink(struct harness *h, const uint8_t *in, size_t len,
					struct run_result *r)
{
	return harness_run_skb(h, h->skel->progs.xlb_ingress_tc, (uint32_t)h->up_ifindex, in, len,
			       r);
}

/* A verdict's name for diagnostics. */
static inline const char *verdict_name(enum prog_kind prog, int v)
{
	static const char *const xdp[] = { "XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX",
					   "XDP_REDIRECT" };

	if (prog == PROG_XDP)
		return v >= 0 && v <= XDP_REDIRECT ? xdp[v] : "XDP_?";
	switch (v) {
	case TC_ACT_UNSPEC:
		return "TC_ACT_UNSPEC";
	case TC_ACT_OK:
		return "TC_ACT_OK";
	case TC_ACT_SHOT:
		return "TC_ACT_SHOT";
	case TC_ACT_REDIRECT:
		return "TC_ACT_REDIRECT";
	default:
		return "TC_?";
	}
}

static inline int harness_run(struct harness *h, enum prog_kind prog, const uint8_t *in, size_t len,
			      struct run_result *r)
{
	memset(r, 0, sizeof(*r));
	if (prog == PROG_XDP)
		return harness_run_xdp(h, in, len, r);
	if (prog == PROG_TC_UPLINK)
		return harness_run_tc_uplink(h, in, len, r);
	return harness_run_tc(h, in, len, r);
}

#endif
