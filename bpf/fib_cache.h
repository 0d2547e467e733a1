/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* bpf_fib_lookup with a per-CPU cache of recent answers. The route and
 * neighbour lookup is the largest cost of a forwarded packet (measured by
 * bench/xdp_cost: about 30 ns of an IPv4 and 110 ns of an IPv6
 * established-flow packet); packets between one client and one backend
 * within a tick reuse the answer. What the cache keeps, and for how long,
 * is set out at XLB_FIB_CACHE_TICKS and struct xlb_fib_cache. */
#ifndef XLB_FIB_CACHE_H
#define XLB_FIB_CACHE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include "xlb/consts.h"
#include "xlb/hash.h"
#include "xlb/map_types.h"
#include "maps.bpf.h"
#include "parse.h"

/* Word view of the key, for a compare in five loads. */
union fib_key_words {
	struct xlb_fib_key k;
	__u64 w[sizeof(struct xlb_fib_key) / 8];
};

/* The lookup's inputs that vary by packet, as fib_params_fill set them. */
static __always_inline void fib_key_of(union fib_key_words *k, const struct bpf_fib_lookup *fib,
				       int skb)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->k.skb = skb;
	k->k.family = fib->family;
	k->k.proto = fib->l4_protocol;
	k->k.tos = fib->tos;
	k->k.ifindex = fib->ifindex;
	if (fib->family == AF_INET) {
		k->k.src.v4 = fib->ipv4_src;
		k->k.dst.v4 = fib->ipv4_dst;
	} else {
		__builtin_memcpy(k->k.src.v6, fib->ipv6_src, 16);
		__builtin_memcpy(k->k.dst.v6, fib->ipv6_dst, 16);
	}
}

/* Folds the addresses into a slot: one multiply, as a cache index needs
 * spread, not strength. */
static __always_inline __u32 fib_cache_slot(const union fib_key_words *k)
{
	__u64 h = k->w[0] ^ k->w[1] ^ (k->w[2] << 1) ^ (k->w[3] << 1) ^ k->w[4];

	h *= XLB_HASH_MUL;
	return (__u32)(h >> 32) & (XLB_FIB_CACHE_SLOTS - 1);
}

static __always_inline int fib_key_equal(const union fib_key_words *k,
					 const struct xlb_fib_cache *c)
{
	const union fib_key_words *ck = (const void *)&c->key;
	__u64 diff = 0;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(k->w) / 8); i++)
		diff |= k->w[i] ^ ck->w[i];
	return diff == 0;
}

static __always_inline void fib_cache_fill(struct xlb_fib_cache *c, const union fib_key_words *k,
					   __u64 now, __u32 len, const struct bpf_fib_lookup *fib)
{
	/* the same inputs passed earlier in this tick: keep their length */
	if (now - c->jiffies < XLB_FIB_CACHE_TICKS && fib_key_equal(k, c) && c->max_len > len)
		len = c->max_len;
	__builtin_memcpy(&c->key, &k->k, sizeof(c->key));
	c->jiffies = now;
	c->max_len = len;
	c->ifindex = fib->ifindex;
	__builtin_memcpy(c->smac, fib->smac, ETH_ALEN);
	__builtin_memcpy(c->dmac, fib->dmac, ETH_ALEN);
}

/* bpf_fib_lookup(ctx, fib, sizeof(*fib), 0), answered from the cache when
 * the same inputs passed within XLB_FIB_CACHE_TICKS and len is no more
 * than a length that passed. len is what the lookup's MTU check compares
 * (XDP: the IP total length; tc, skb set: the skb length), 0 to bypass
 * the cache (a GSO skb, which the check passes whatever its length; the
 * first packet of a flow, see xdp_forward). Only a
 * successful lookup is kept: the others send the packet to the kernel's
 * slower paths anyway. On a hit, only the outputs the data path reads
 * are set: egress ifindex, smac and dmac. */
static __always_inline int fib_lookup_cached(void *ctx, struct bpf_fib_lookup *fib, __u32 len,
					     int skb)
{
	union fib_key_words k;
	struct xlb_fib_cache *c;
	__u32 slot;
	__u64 now;
	int rc;

	if (XLB_FIB_CACHE_TICKS == 0 || len == 0)
		return bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
	fib_key_of(&k, fib, skb);
	slot = fib_cache_slot(&k);
	c = bpf_map_lookup_elem(&xlb_fib_cache, &slot);
	if (!c)
		return bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
	now = bpf_jiffies64();
	if (now - c->jiffies < XLB_FIB_CACHE_TICKS && len <= c->max_len && fib_key_equal(&k, c)) {
		fib->ifindex = c->ifindex;
		__builtin_memcpy(fib->smac, c->smac, ETH_ALEN);
		__builtin_memcpy(fib->dmac, c->dmac, ETH_ALEN);
		return BPF_FIB_LKUP_RET_SUCCESS;
	}
	rc = bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
	if (rc == BPF_FIB_LKUP_RET_SUCCESS)
		fib_cache_fill(c, &k, now, len, fib);
	return rc;
}

#endif
