// SPDX-License-Identifier: GPL-2.0
/* An open-addressing table of sources and their connection counts:
 * linear probing, and deletion by shifting the entries behind back (no
 * tombstones, so a long-running table does not fill with them). The
 * hash is seeded at random so that a client cannot pick addresses that
 * all probe one run of slots. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <sys/socket.h>
#include "xlb/hash.h"

#include "source_limit.h"

struct src_slot {
	uint64_t key;	/* the IPv4 address, or the IPv6 /64 */
	uint32_t conns; /* 0: the slot is empty */
	uint8_t family;
};

struct xlb_srclim {
	uint32_t per_source;
	uint64_t seed;
	struct src_slot *slots;
	size_t mask; /* slots - 1, a power of two less one */
	size_t used;
	struct xlb_cidr *exempt;
	size_t n_exempt;
};

/* Large enough for every connection to come from its own source, at a
 * load of at most one half; bounded, since --max-conns may be huge. */
#define SRC_SLOTS_MIN 64
#define SRC_SLOTS_MAX (1u << 21)

static size_t slots_for(uint32_t max_conns)
{
	size_t n = SRC_SLOTS_MIN;

	while (n < SRC_SLOTS_MAX && n < 2 * (size_t)max_conns)
		n <<= 1;
	return n;
}

int xlb_srclim_new(uint32_t per_source, uint32_t max_conns, struct xlb_srclim **out)
{
	struct xlb_srclim *t = calloc(1, sizeof(*t));
	size_t n = per_source ? slots_for(max_conns) : 0;

	if (!t)
		return -ENOMEM;
	t->per_source = per_source;
	if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) != sizeof(t->seed))
		t->seed = (uint64_t)(uintptr_t)t ^ XLB_HASH_MUL; /* no entropy yet: still varies */
	if (n) {
		t->slots = calloc(n, sizeof(*t->slots));
		if (!t->slots) {
			free(t);
			return -ENOMEM;
		}
		t->mask = n - 1;
	}
	*out = t;
	return 0;
}

static uint64_t source_key(const struct xlb_flow_key *flow)
{
	if (flow->family == AF_INET)
		return flow->src.v4;
	return (uint64_t)flow->src.v6[0] << 32 | flow->src.v6[1];
}

static size_t home_of(const struct xlb_srclim *t, uint64_t key, uint8_t family)
{
	uint64_t h = t->seed;

	h = xlb_hash_mix(h, (uint32_t)key);
	h = xlb_hash_mix(h, (uint32_t)(key >> 32));
	h = xlb_hash_mix(h, family);
	return (size_t)h & t->mask;
}

/* The source's slot, or the empty one where it would go. */
static size_t probe(const struct xlb_srclim *t, uint64_t key, uint8_t family)
{
	size_t i = home_of(t, key, family);

	while (t->slots[i].conns && (t->slots[i].key != key || t->slots[i].family != family))
		i = (i + 1) & t->mask;
	return i;
}

static bool exempt(const struct xlb_srclim *t, const struct xlb_flow_key *flow)
{
	return t->n_exempt &&
	       xlb_cidr_list_contains(t->exempt, t->n_exempt, flow->family, &flow->src);
}

enum xlb_srclim_verdict xlb_srclim_take(struct xlb_srclim *t, const struct xlb_flow_key *flow)
{
	uint64_t key;
	size_t i;

	if (!t->per_source || exempt(t, flow))
		return XLB_SRC_FREE;
	key = source_key(flow);
	i = probe(t, key, flow->family);
	if (t->slots[i].conns >= t->per_source)
		return XLB_SRC_REFUSED;
	if (!t->slots[i].conns) {
		if (t->used >= (t->mask + 1) / 2)
			return XLB_SRC_FREE; /* probes stay short; the global limit still holds */
		t->slots[i] = (struct src_slot){ .key = key, .family = flow->family };
		t->used++;
	}
	t->slots[i].conns++;
	return XLB_SRC_COUNTED;
}

/* Slot i is empty now: entries after it whose home is not between i and
 * where they sit move back into it, so every probe still finds them. */
static void close_gap(struct xlb_srclim *t, size_t i)
{
	size_t j = i;

	for (;;) {
		size_t home;

		j = (j + 1) & t->mask;
		if (!t->slots[j].conns)
			return;
		home = home_of(t, t->slots[j].key, t->slots[j].family);
		/* j stays when its home lies cyclically in (i, j] */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		t->slots[i] = t->slots[j];
		t->slots[j].conns = 0;
		i = j;
	}
}

void xlb_srclim_put(struct xlb_srclim *t, const struct xlb_flow_key *flow)
{
	size_t i;

	if (!t->slots)
		return;
	i = probe(t, source_key(flow), flow->family);
	if (!t->slots[i].conns)
		return; /* a put without its take: nothing to undo */
	if (--t->slots[i].conns)
		return;
	t->used--;
	close_gap(t, i);
}

uint32_t xlb_srclim_held(const struct xlb_srclim *t, const struct xlb_flow_key *flow)
{
	return t->slots ? t->slots[probe(t, source_key(flow), flow->family)].conns : 0;
}

uint32_t xlb_srclim_per_source(const struct xlb_srclim *t)
{
	return t->per_source;
}

int xlb_srclim_set_exempt(struct xlb_srclim *t, const struct xlb_cidr *v, size_t n)
{
	return xlb_cidr_list_set(&t->exempt, &t->n_exempt, v, n);
}

void xlb_srclim_free(struct xlb_srclim *t)
{
	if (!t)
		return;
	free(t->slots);
	free(t->exempt);
	free(t);
}
