/* SPDX-License-Identifier: GPL-2.0 */
/* Maglev consistent hashing (Eisenbud et al., NSDI 2016) with weights.
 * The table maps a flow hash modulo its (prime) size to a backend id. */
#ifndef XLB_MAGLEV_H
#define XLB_MAGLEV_H

#include <stddef.h>
#include <stdint.h>

struct xlb_maglev_backend {
	const char *key; /* stable identity, e.g. "10.200.1.2:8000" */
	uint32_t id;	 /* value written into the table (nonzero) */
	uint32_t weight; /* >= 1 */
};

/* Fills table[0..size-1] with backend ids. size must be prime. The result
 * depends only on the set of (key, weight) pairs, never on their order or
 * on ids, so every xlbd computes the same table. With n == 0 the table is
 * zeroed (0 = no backend). Returns 0, or -EINVAL / -ENOMEM. */
int xlb_maglev_build(const struct xlb_maglev_backend *backends, size_t n, uint32_t *table,
		     uint32_t size);

#endif
