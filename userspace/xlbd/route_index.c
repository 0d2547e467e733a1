// SPDX-License-Identifier: GPL-2.0
/* Open addressing with linear probing at a load of at most one half; no
 * deletion (an index lives for one build). */
#include "route_index.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "xlb/hash.h"

int xlb_route_index_init(struct xlb_route_index *ix, size_t max_routes)
{
	size_t n = 16;

	while (n < 2 * max_routes)
		n <<= 1;
	memset(ix, 0, sizeof(*ix));
	ix->slots = calloc(n, sizeof(*ix->slots));
	if (!ix->slots)
		return -ENOMEM;
	ix->mask = n - 1;
	if (getrandom(&ix->seed, sizeof(ix->seed), GRND_NONBLOCK) != sizeof(ix->seed))
		ix->seed = (uint64_t)(uintptr_t)ix->slots ^ XLB_HASH_MUL;
	return 0;
}

static size_t home(const struct xlb_route_index *ix, const char *host, const char *path)
{
	uint64_t h = ix->seed;

	for (const char *p = host; *p; p++)
		h = xlb_hash_mix(h, (uint32_t)tolower((unsigned char)*p));
	h = xlb_hash_mix(h, 0x100); /* between the two: no char is 0x100 */
	for (const char *p = path; *p; p++)
		h = xlb_hash_mix(h, (unsigned char)*p);
	return (size_t)h & ix->mask;
}

static bool same(const struct xlb_route_rec *r, const char *host, const char *path)
{
	return strcasecmp(r->host, host) == 0 && strcmp(r->path, path) == 0;
}

/* The slot of (host, path), or the free one where it would go. */
static struct xlb_route_rec *probe(const struct xlb_route_index *ix, const char *host,
				   const char *path)
{
	size_t i = home(ix, host, path);

	while (ix->slots[i].host && !same(&ix->slots[i], host, path))
		i = (i + 1) & ix->mask;
	return &ix->slots[i];
}

struct xlb_route_rec *xlb_route_index_find(const struct xlb_route_index *ix, const char *host,
					   const char *path)
{
	struct xlb_route_rec *r = probe(ix, host, path);

	return r->host ? r : NULL;
}

struct xlb_route_rec *xlb_route_index_get(struct xlb_route_index *ix, const char *host,
					  const char *path)
{
	struct xlb_route_rec *r = probe(ix, host, path);

	if (r->host)
		return r;
	if (ix->used >= (ix->mask + 1) / 2)
		return NULL; /* past what the caller sized it for */
	*r = (struct xlb_route_rec){ .host = host, .path = path, .held = -1, .owner = -1 };
	ix->used++;
	return r;
}

int xlb_route_rec_claim(struct xlb_route_rec *r, uint32_t g)
{
	if (r->n_claim && r->claim[r->n_claim - 1] == g)
		return 0;
	if (r->n_claim == r->cap_claim) {
		size_t cap = r->cap_claim ? 2 * r->cap_claim : 2;
		uint32_t *more = realloc(r->claim, cap * sizeof(*more));

		if (!more)
			return -ENOMEM;
		r->claim = more;
		r->cap_claim = cap;
	}
	r->claim[r->n_claim++] = g;
	return 0;
}

bool xlb_route_rec_claims(const struct xlb_route_rec *r, uint32_t g)
{
	size_t lo = 0, hi = r->n_claim;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->claim[mid] == g)
			return true;
		if (r->claim[mid] < g)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

void xlb_route_index_free(struct xlb_route_index *ix)
{
	if (!ix->slots)
		return;
	for (size_t i = 0; i <= ix->mask; i++)
		free(ix->slots[i].claim);
	free(ix->slots);
	ix->slots = NULL;
}
