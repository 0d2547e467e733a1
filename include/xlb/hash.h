/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The flow hash, shared by the XDP program and xlbd's proxy so both pick
 * the same Maglev slot for the same client flow. Written from scratch: a
 * multiply-xorshift over the key's 32-bit words, which the BPF JIT turns
 * into a handful of 64-bit multiplies and shifts (no helper call). */
#ifndef XLB_HASH_H
#define XLB_HASH_H

#include <linux/types.h>
#include "maps.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define XLB_HASH_SEED 0x6a09e667f3bcc909ULL
#define XLB_HASH_MUL 0x9e3779b97f4a7c15ULL

static __always_inline __u64 xlb_hash_mix(__u64 h, __u32 word)
{
	h = (h ^ word) * XLB_HASH_MUL;
	return h ^ (h >> 29);
}

/* Hash of a flow key; the key is 40 bytes = 10 words. */
static __always_inline __u32 xlb_flow_hash(const struct xlb_flow_key *k)
{
	const __u32 *w = (const __u32 *)k;
	__u64 h = XLB_HASH_SEED;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*k) / sizeof(__u32)); i++)
		h = xlb_hash_mix(h, w[i]);
	h ^= h >> 32;
	return (__u32)h;
}

#endif
