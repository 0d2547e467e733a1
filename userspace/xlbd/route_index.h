/* SPDX-License-Identifier: GPL-2.0 */
/* Routes (a host name, matched without case, and a path prefix) to what
 * one Docker model build knows of each: which service held it before,
 * which service has it in this build, which groups of containers claim
 * it. A build asks these once per route of every container; answered by
 * a hash instead of scans, a label naming thousands of hosts costs time
 * in proportion to them, not to their square. The hash is seeded at
 * random: the names are anyone's who can label a container. */
#ifndef XLB_ROUTE_INDEX_H
#define XLB_ROUTE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct xlb_route_rec {
	const char *host, *path; /* the caller's strings; NULL: a free slot */
	long held;		 /* the caller's index of the previous holder; -1: none */
	long owner;		 /* the caller's index of this build's owner; -1: none */
	uint32_t *claim;	 /* groups that claim it, ascending */
	size_t n_claim, cap_claim;
};

struct xlb_route_index {
	struct xlb_route_rec *slots;
	size_t mask;
	size_t used;
	uint64_t seed;
};

/* Room for max_routes distinct routes. Returns 0 or -ENOMEM. */
int xlb_route_index_init(struct xlb_route_index *ix, size_t max_routes);
/* The record of (host, path), made (held and owner -1) when there is
 * none; NULL only past max_routes. The strings must outlive the index. */
struct xlb_route_rec *xlb_route_index_get(struct xlb_route_index *ix, const char *host,
					  const char *path);
/* The record, or NULL. */
struct xlb_route_rec *xlb_route_index_find(const struct xlb_route_index *ix, const char *host,
					   const char *path);
/* Group g claims r; groups come in ascending order. Returns 0 or -ENOMEM. */
int xlb_route_rec_claim(struct xlb_route_rec *r, uint32_t g);
bool xlb_route_rec_claims(const struct xlb_route_rec *r, uint32_t g);
void xlb_route_index_free(struct xlb_route_index *ix);

#endif
