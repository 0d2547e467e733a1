// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Programs around the data path for the per-packet cost bench
 * (bench/xdp_cost.c).
 *
 * With repeat, BPF_PROG_TEST_RUN runs a program again on its own output:
 * after the first DNAT the "client packet" would be addressed to the
 * backend and miss every service. The wrappers copy the original frame
 * back (bench_in) and tail-call the program under test in slot 0 of their
 * PROG_ARRAY. Their own cost is measured by tail-calling the null
 * programs instead, and subtracted.
 *
 * The baselines run directly: bench_drop (nothing but XDP_DROP) and
 * bench_tx (the data path's own parser, a MAC swap and XDP_TX). */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "parse.h"
#include "csum.h"
#include "xdp_cost.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* slot 0: the XDP program under test (xlb_ingress or bench_xdp_null) */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bench_xdp_target SEC(".maps");

/* slot 0: the tc program under test (xlb_return or bench_tc_null) */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bench_tc_target SEC(".maps");

struct bench_frame bench_in;

/* Makes iteration n a new flow from a new client address (see
 * xdp_cost.h), with the IPv4 header and TCP checksums updated
 * incrementally, so the program under test sees a valid frame. */
static __always_inline void vary_flow(void *data, void *data_end)
{
	__u32 n = bench_in.next_flow++;
	__be16 word = bpf_htons(n & 0xffff), sport = bpf_htons(BENCH_PORT_BASE + (n >> 16));
	struct ethhdr *eth = data;
	struct tcphdr *th;
	__be16 *src_lo;
	__u32 diff;

	if (bench_in.v6) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		th = (void *)(ip6 + 1);
		if ((void *)(th + 1) > data_end)
			return;
		src_lo = &ip6->saddr.in6_u.u6_addr16[7];
		diff = csum_diff16(0, *src_lo, word);
	} else {
		struct iphdr *ip = (void *)(eth + 1);

		th = (void *)(ip + 1);
		if ((void *)(th + 1) > data_end)
			return;
		src_lo = (__be16 *)&ip->saddr + 1;
		diff = csum_diff16(0, *src_lo, word);
		ip->check = csum_apply(ip->check, diff);
	}
	*src_lo = word;
	diff = csum_diff16(diff, th->source, sport);
	th->source = sport;
	th->check = csum_apply(th->check, diff);
}

/* Copies the original frame over the packet; -1 if the packet is shorter
 * than a bench frame. */
static __always_inline int restore_frame(void *data, void *data_end)
{
	if (bench_in.v6) {
		if (data + BENCH_V6_LEN > data_end)
			return -1;
		__builtin_memcpy(data, bench_in.bytes, BENCH_V6_LEN);
	} else {
		if (data + BENCH_V4_LEN > data_end)
			return -1;
		__builtin_memcpy(data, bench_in.bytes, BENCH_V4_LEN);
	}
	if (bench_in.vary)
		vary_flow(data, data_end);
	return 0;
}

SEC("xdp")
int bench_xdp_wrap(struct xdp_md *ctx)
{
	if (restore_frame((void *)(long)ctx->data, (void *)(long)ctx->data_end))
		return XDP_ABORTED;
	bpf_tail_call(ctx, &bench_xdp_target, 0);
	return XDP_ABORTED; /* no program in the slot */
}

SEC("xdp")
int bench_xdp_null(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int bench_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("xdp")
int bench_tx(struct xdp_md *ctx)
{
	struct xlb_pkt p;
	__u8 mac[ETH_ALEN];

	if (xlb_parse(&p, (void *)(long)ctx->data, (void *)(long)ctx->data_end, 0) != PARSE_OK)
		return XDP_ABORTED;
	if ((void *)(p.eth + 1) > p.data_end)
		return XDP_ABORTED;
	__builtin_memcpy(mac, p.eth->h_dest, ETH_ALEN);
	__builtin_memcpy(p.eth->h_dest, p.eth->h_source, ETH_ALEN);
	__builtin_memcpy(p.eth->h_source, mac, ETH_ALEN);
	return XDP_TX;
}

SEC("tc")
int bench_tc_wrap(struct __sk_buff *skb)
{
	if (restore_frame((void *)(long)skb->data, (void *)(long)skb->data_end))
		return TC_ACT_SHOT;
	bpf_tail_call(skb, &bench_tc_target, 0);
	return TC_ACT_SHOT;
}

/* tc's fixed cost under BPF_PROG_TEST_RUN: run directly, it is the tc
 * counterpart of bench_drop; tail-called, it measures the wrapper. */
SEC("tc")
int bench_tc_null(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}
