// SPDX-License-Identifier: GPL-2.0
/* Maglev lookup-table population (Eisenbud et al., NSDI 2016, section
 * 3.4) with weights.
 *
 * Each backend walks its own permutation of the table, given by
 * offset = h1(key) % size and skip = h2(key) % (size - 1) + 1 (size is
 * prime, so every skip visits every slot), and claims the first free slot
 * it meets. The paper lets backends take turns one slot each; with weights
 * the turns follow weighted fair queueing: the next claim goes to the
 * backend whose (claims + 1) / weight is smallest, ties to the smaller key.
 * Equal weights reduce exactly to the paper's round robin, and every
 * backend's share is within one slot of weight / sum(weights) whatever the
 * weights are (a "weight claims per round" scheme is off by up to a whole
 * weight in the last round). A binary heap picks the next backend, so the
 * cost is O(size log n) plus the permutation walks, not O(size * n). */
#include "maglev.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Two independent seeds for the permutation hashes (first digits of the
 * fractional parts of sqrt(3) and sqrt(5)). */
#define MAGLEV_SEED_OFFSET 0xbb67ae8584caa73bULL
#define MAGLEV_SEED_SKIP 0x3c6ef372fe94f82bULL

/* Per-backend state while populating. */
struct mg_slot {
	const struct xlb_maglev_backend *be;
	uint32_t pos; /* current slot in this backend's permutation */
	uint32_t skip;
	uint64_t claims; /* slots taken so far */
};

struct mg_state {
	struct mg_slot *slots; /* sorted by key */
	uint32_t *heap;	       /* indices into slots, min-heap on next turn */
	size_t n;
};

/* FNV-1a over the key, started from a seed instead of the usual offset
 * basis, then a splitmix64 finaliser: FNV alone leaves keys that differ in
 * one trailing character ("10.0.0.1:80", "10.0.0.2:80") too close. */
static uint64_t key_hash(const char *key, uint64_t seed)
{
	uint64_t h = seed;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

static bool is_prime(uint32_t v)
{
	if (v < 2)
		return false;
	for (uint32_t d = 2; (uint64_t)d * d <= v; d++)
		if (v % d == 0)
			return false;
	return true;
}

static int cmp_backend_key(const void *a, const void *b)
{
	const struct mg_slot *x = a, *y = b;

	return strcmp(x->be->key, y->be->key);
}

/* A zero id would read as "no backend" (and is our free-slot marker). */
static int check_backends(const struct xlb_maglev_backend *backends, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!backends[i].key || backends[i].weight == 0 || backends[i].id == 0)
			return -EINVAL;
	return 0;
}

/* True when slot a takes its next turn before slot b. Fair-queueing finish
 * times (claims + 1) / weight compared by cross-multiplication; both
 * products stay below 2^64 because claims < size <= 2^32 - 1. */
static bool turn_before(const struct mg_state *st, uint32_t a, uint32_t b)
{
	const struct mg_slot *x = &st->slots[a], *y = &st->slots[b];
	uint64_t fx = (x->claims + 1) * y->be->weight;
	uint64_t fy = (y->claims + 1) * x->be->weight;

	return fx < fy || (fx == fy && a < b);
}

static void heap_sift_down(struct mg_state *st, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, min = i;
		uint32_t tmp;

		if (l < st->n && turn_before(st, st->heap[l], st->heap[min]))
			min = l;
		if (r < st->n && turn_before(st, st->heap[r], st->heap[min]))
			min = r;
		if (min == i)
			return;
		tmp = st->heap[i];
		st->heap[i] = st->heap[min];
		st->heap[min] = tmp;
		i = min;
	}
}

static int state_init(struct mg_state *st, const struct xlb_maglev_backend *backends, size_t n,
		      uint32_t size)
{
	st->n = n;
	st->slots = calloc(n, sizeof(*st->slots));
	st->heap = calloc(n, sizeof(*st->heap));
	if (!st->slots || !st->heap)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		st->slots[i].be = &backends[i];
	qsort(st->slots, n, sizeof(*st->slots), cmp_backend_key);
	for (size_t i = 0; i < n; i++) {
		struct mg_slot *s = &st->slots[i];

		if (i > 0 && strcmp(s->be->key, st->slots[i - 1].be->key) == 0)
			return -EINVAL;
		s->pos = (uint32_t)(key_hash(s->be->key, MAGLEV_SEED_OFFSET) % size);
		s->skip = (uint32_t)(key_hash(s->be->key, MAGLEV_SEED_SKIP) % (size - 1) + 1);
		st->heap[i] = (uint32_t)i;
	}
	/* All claims are zero, so heap order is index order: already a heap. */
	return 0;
}

static void state_free(struct mg_state *st)
{
	free(st->slots);
	free(st->heap);
}

/* Walks s's permutation to its next free slot and takes it. */
static void claim_next_free(struct mg_slot *s, uint32_t *table, uint32_t size)
{
	while (table[s->pos] != 0) {
		uint64_t next = (uint64_t)s->pos + s->skip; /* no wrap near 2^32 */

		s->pos = (uint32_t)(next >= size ? next - size : next);
	}
	table[s->pos] = s->be->id;
	s->claims++;
}

static void populate(struct mg_state *st, uint32_t *table, uint32_t size)
{
	for (uint32_t filled = 0; filled < size; filled++) {
		claim_next_free(&st->slots[st->heap[0]], table, size);
		heap_sift_down(st, 0);
	}
}

int xlb_maglev_build(const struct xlb_maglev_backend *backends, size_t n, uint32_t *table,
		     uint32_t size)
{
	struct mg_state st = { 0 };
	int err;

	if (!is_prime(size) || check_backends(backends, n))
		return -EINVAL;
	memset(table, 0, (size_t)size * sizeof(*table));
	if (n == 0)
		return 0;
	err = state_init(&st, backends, n, size);
	if (!err)
		populate(&st, table, size);
	state_free(&st);
	return err;
}
