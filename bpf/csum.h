/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Incremental Internet checksum updates (RFC 1624: HC' = ~(~HC + ~m + m')),
 * inline so the XDP fast path makes no helper call. Words are summed in
 * wire order: the one's complement sum does not care about byte order as
 * long as old and new values are taken the same way. */
#ifndef XLB_CSUM_H
#define XLB_CSUM_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* Adds ~old + new for one 32-bit word to a running sum. */
static __always_inline __u32 csum_diff32(__u32 sum, __u32 old, __u32 new)
{
	old = ~old;
	sum += (old & 0xffff) + (old >> 16);
	sum += (new & 0xffff) + (new >> 16);
	return sum;
}

static __always_inline __u32 csum_diff16(__u32 sum, __u16 old, __u16 new)
{
	return sum + (__u16)~old + new;
}

/* Applies a running diff to a stored checksum. */
static __always_inline __u16 csum_apply(__u16 check, __u32 diff)
{
	return ~csum_fold((__u16)~check + diff);
}

/* Diff of an address change of nwords 32-bit words (1 for IPv4, 4 for v6). */
static __always_inline __u32 csum_diff_addr(__u32 sum, const __u32 *old, const __u32 *new,
					    int nwords)
{
#pragma unroll
	for (int i = 0; i < 4; i++) {
		if (i < nwords)
			sum = csum_diff32(sum, old[i], new[i]);
	}
	return sum;
}

/* Whether an IPv4 header's checksum is right: the header, checksum
 * included, sums to 0xffff (in 32-bit words, folded). The caller has
 * checked that the fixed 20 bytes are in the packet; each option word is
 * checked here, with constant offsets the verifier can follow. */
static __always_inline int ipv4_csum_ok(const void *hdr, __u32 ihl, const void *data_end)
{
	const __u32 *w = hdr;
	__u64 sum = (__u64)w[0] + w[1] + w[2] + w[3] + w[4];
	int short_hdr = 0;

#pragma unroll
	for (__u32 i = 5; i < 15; i++) {
		if (i < ihl) {
			if ((const void *)(w + i + 1) > data_end)
				short_hdr = 1;
			else
				sum += w[i];
		}
	}
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	return !short_hdr && csum_fold((__u32)sum) == 0xffff;
}

#endif
