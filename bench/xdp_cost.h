/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Shared by bench/bench.bpf.c and bench/xdp_cost.c: the frame
 * the wrapper programs restore before every iteration of a
 * BPF_PROG_TEST_RUN with repeat, and how a new-flow run varies it.
 *
 * Bench frames are TCP without options or payload, untagged, IPv4 without
 * options or IPv6 without extension headers: exactly the bytes the data
 * path may rewrite, so restoring them restores the whole frame. */
#ifndef XLB_BENCH_XDP_COST_H
#define XLB_BENCH_XDP_COST_H

#include <linux/types.h>

#define BENCH_V4_LEN 54 /* 14 Ethernet + 20 IPv4 + 20 TCP */
#define BENCH_V6_LEN 74 /* 14 Ethernet + 40 IPv6 + 20 TCP */

/* Written by xdp_cost before each run (the skeleton's .bss), read by the
 * wrappers. With vary set, iteration n (n = next_flow, then incremented)
 * becomes a new client flow: the last 16 bits of the source address are
 * n & 0xffff and the TCP source port BENCH_PORT_BASE + (n >> 16) (mod
 * 2^16), checksums updated. 2^32 iterations never repeat a flow, and
 * consecutive ones come from different clients, as new flows mostly do
 * (nothing the data path might keep per client stays warm). */
#define BENCH_PORT_BASE 40000
struct bench_frame {
	__u8 bytes[BENCH_V6_LEN];
	__u8 v6; /* 0: BENCH_V4_LEN bytes of IPv4, 1: BENCH_V6_LEN of IPv6 */
	__u8 vary;
	__u16 pad;
	__u32 next_flow;
};

#endif
