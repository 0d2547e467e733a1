// SPDX-License-Identifier: GPL-2.0
/* Flow-table helpers for the memory bench (bench/memory.sh).
 *
 *   flowtab fill PIN_DIR N BACKEND_ID SVC_ID VIP PORT
 *       writes N distinct IPv4 TCP flows to VIP:PORT with backend
 *       BACKEND_ID into PIN_DIR's xlb_flows, with batch updates: what N
 *       new flows through XDP leave behind (one entry each, which the
 *       return path also reads), without sending N connections.
 *   flowtab count PIN_DIR
 *       prints the entries in xlb_flows.
 *   flowtab probe ENTRIES
 *       creates one LRU hash shaped like xlb_flows (key and value sizes
 *       from include/xlb/map_types.h, default flags, so preallocated like
 *       xlbd's) with ENTRIES entries, and prints "ENTRIES FLOWS_BYTES MS"
 *       with the kernel's memlock figure (/proc/self/fdinfo) and the time
 *       to create it. The map is never pinned: it goes when the process
 *       exits. Exit status 3 when the kernel refuses the allocation.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/in.h>
#include <sys/socket.h>

#include "xlb/map_types.h"

#define BATCH 8192

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Client i: 10.128.0.0/9 by i / 60000, source ports 1024 + i % 60000. */
static void flow_of(uint32_t i, __be32 vip, __be16 port, struct xlb_flow_key *k)
{
	memset(k, 0, sizeof(*k));
	k->src.v4 = htonl(0x0a800000u + i / 60000);
	k->dst.v4 = vip;
	k->sport = htons((uint16_t)(1024 + i % 60000));
	k->dport = port;
	k->proto = IPPROTO_TCP;
	k->family = AF_INET;
}

static int open_pinned(const char *dir, const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		fprintf(stderr, "flowtab: %s: %s\n", path, strerror(errno));
	return fd;
}

static int fill_batch(int flows, uint32_t first, uint32_t n, uint32_t be_id, uint32_t svc_id,
		      __be32 vip, __be16 port)
{
	static struct xlb_flow_key fk[BATCH];
	static struct xlb_flow fv[BATCH];
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 count = n;

	for (uint32_t j = 0; j < n; j++) {
		flow_of(first + j, vip, port, &fk[j]);
		fv[j] = (struct xlb_flow){ .backend_id = be_id, .svc_id = svc_id };
	}
	if (bpf_map_update_batch(flows, fk, fv, &count, &opts))
		return -errno;
	return count == n ? 0 : -EIO;
}

static int cmd_fill(char **argv)
{
	const char *dir = argv[0];
	uint32_t n = (uint32_t)strtoul(argv[1], NULL, 10);
	uint32_t be_id = (uint32_t)strtoul(argv[2], NULL, 10);
	uint32_t svc_id = (uint32_t)strtoul(argv[3], NULL, 10);
	__be16 port = htons((uint16_t)atoi(argv[5]));
	struct xlb_backend be;
	struct in_addr vip;
	int flows, backends, err = 0;

	if (inet_pton(AF_INET, argv[4], &vip) != 1) {
		fprintf(stderr, "flowtab: bad VIP %s\n", argv[4]);
		return 2;
	}
	flows = open_pinned(dir, "xlb_flows");
	backends = open_pinned(dir, "xlb_backends");
	if (flows < 0 || backends < 0)
		return 1;
	/* a flow to a backend xlbd does not know would not be a real one */
	if (bpf_map_lookup_elem(backends, &be_id, &be)) {
		fprintf(stderr, "flowtab: backend %u: %s\n", be_id, strerror(errno));
		return 1;
	}
	for (uint32_t i = 0; i < n && !err; i += BATCH)
		err = fill_batch(flows, i, n - i < BATCH ? n - i : BATCH, be_id, svc_id, vip.s_addr,
				 port);
	if (err) {
		fprintf(stderr, "flowtab: batch update: %s\n", strerror(-err));
		return 1;
	}
	printf("%u\n", n);
	return 0;
}

static long long count_entries(int fd)
{
	struct xlb_flow_key key, next;
	long long n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		n++;
	}
	return n;
}

static int cmd_count(char **argv)
{
	int flows = open_pinned(argv[0], "xlb_flows");

	if (flows < 0)
		return 1;
	printf("%lld\n", count_entries(flows));
	return 0;
}

/* The kernel's own accounting of a map's memory ("memlock:" in fdinfo). */
static long long fd_memlock(int fd)
{
	char path[64], line[256];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static int cmd_probe(char **argv)
{
	__u32 n = (__u32)strtoul(argv[0], NULL, 10);
	double t0 = now_ms();
	int flows;

	flows = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "cb_probe_flows", sizeof(struct xlb_flow_key),
			       sizeof(struct xlb_flow), n, NULL);
	if (flows < 0) {
		fprintf(stderr, "flowtab: %u entries: %s\n", n, strerror(errno));
		return 3;
	}
	printf("%u %lld %.0f\n", n, fd_memlock(flows), now_ms() - t0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 8 && !strcmp(argv[1], "fill"))
		return cmd_fill(argv + 2);
	if (argc == 3 && !strcmp(argv[1], "count"))
		return cmd_count(argv + 2);
	if (argc == 3 && !strcmp(argv[1], "probe"))
		return cmd_probe(argv + 2);
	fprintf(stderr, "usage: flowtab fill PIN_DIR N BACKEND_ID SVC_ID VIP PORT\n"
			"       flowtab count PIN_DIR\n"
			"       flowtab probe ENTRIES\n");
	return 2;
}
