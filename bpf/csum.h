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

#endif
