/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The flow hash that picks a flow's Maglev slot: the XDP program's, and
 * the BPF test's, which recomputes the slot a packet must land on (xlbd's
 * proxy picks by round robin and does not use it). Written from scratch: a
 * multiply-xorshift over the key's 32-bit words, which the BPF JIT turns
 * into a handful of 64-bit multiplies and shifts (no helper call).
 *
 * The seed is the hash's starting state, kept in xlb_dp_config: with a
 * seed known to everyone, a client could pick source ports whose slots
 * all name one backend. Each node draws its own unless the operator
 * gives one; nothing outside the data path computes a slot but the
 * tests, which write the seed they hash with. The mix is no keyed PRF
 * (SipHash would be, at several times the cost per new flow): it hides
 * the slots from a client that does not know the seed, but is not built
 * to resist one that studies where many of its own flows land. */
#ifndef XLB_HASH_H
#define XLB_HASH_H

#include <linux/types.h>
#include "map_types.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* clang (the BPF side) and gcc spell "unroll this loop" differently, and
 * an unknown #pragma is a -Wall error for gcc. */
#if defined(__clang__)
#define XLB_UNROLL _Pragma("unroll")
#else
#define XLB_UNROLL _Pragma("GCC unroll 16")
#endif

#define XLB_HASH_MUL 0x9e3779b97f4a7c15ULL

static __always_inline __u64 xlb_hash_mix(__u64 h, __u32 word)
{
	h = (h ^ word) * XLB_HASH_MUL;
	return h ^ (h >> 29);
}

/* Hash of a flow key; the key is 40 bytes = 10 words. Words are read with
 * memcpy: reading the struct through a __u32 pointer breaks C's aliasing
 * rules, and gcc -O2 then hashes stale memory (measured: one hash for every
 * source port of a key whose fields were stored just before the call). */
static __always_inline __u32 xlb_flow_hash(const struct xlb_flow_key *k, __u64 seed)
{
	const unsigned char *b = (const unsigned char *)k;
	__u64 h = seed;
	__u32 w;

	XLB_UNROLL
	for (int i = 0; i < (int)(sizeof(*k) / sizeof(__u32)); i++) {
		__builtin_memcpy(&w, b + i * sizeof(__u32), sizeof(w));
		h = xlb_hash_mix(h, w);
	}
	h ^= h >> 32;
	return (__u32)h;
}

#endif
