/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The backend choice and the counters every xlb program shares: the XDP
 * and tc packet paths and the socket hooks pick from the same service
 * tables with the same rules, so a backend is chosen the same way
 * whichever path serves the client. */
#ifndef XLB_CHOOSE_H
#define XLB_CHOOSE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "xlb/hash.h"
#include "xlb/map_types.h"
#include "maps.bpf.h"

static __always_inline void count_reason(__u32 reason, __u32 len)
{
	struct xlb_reason_count *c = bpf_map_lookup_elem(&xlb_reasons, &reason);

	if (c) {
		c->packets++;
		c->bytes += len;
	}
}

static __always_inline void count_flow(void *map, __u32 id, __u32 len, int new_flow)
{
	struct xlb_counters *c = bpf_map_lookup_elem(map, &id);

	if (c) {
		c->packets++;
		c->bytes += len;
		c->new_flows += new_flow;
	}
}

static __always_inline struct xlb_backend *backend_get(__u32 id)
{
	return bpf_map_lookup_elem(&xlb_backends, &id);
}

/* The flow hash's seed (xlb_dp_config). 0 only in a map xlbd has not set
 * yet, and xlbd sets it before it attaches the program anywhere. */
static __always_inline __u64 hash_seed(void)
{
	__u32 zero = 0;
	struct xlb_dp_config *c = bpf_map_lookup_elem(&xlb_dp_config, &zero);

	return c ? c->hash_seed : 0;
}

/* Maglev: the flow's hash indexes the service's table. */
static __always_inline __u32 maglev_pick(__u32 svc_id, const struct xlb_flow_key *key)
{
	__u32 slot = xlb_flow_hash(key, hash_seed()) % XLB_MAGLEV_SIZE;
	__u32 *id;
	void *table;

	table = bpf_map_lookup_elem(&xlb_maglev, &svc_id);
	if (!table)
		return 0;
	id = bpf_map_lookup_elem(table, &slot);
	return id ? *id : 0;
}

/* An existing flow keeps its backend while that backend is still the
 * service's (active or draining). A slot that was freed or reused, or a
 * SYN to a draining backend (a new connection on a reused tuple), picks
 * again. So does every packet of a backend failing its health check: it
 * is presumed unreachable, and the live backend its flows land on resets
 * them (no socket) where they would hang until TCP gave up. */
static __always_inline int flow_still_valid(const struct xlb_flow *f, __u32 svc_id,
					    const struct xlb_backend *be, int syn)
{
	if (!be || be->svc_id != svc_id || f->svc_id != svc_id)
		return 0;
	if (be->state == XLB_BE_ACTIVE)
		return 1;
	return be->state == XLB_BE_DRAINING && !syn && !(be->flags & XLB_BE_F_DOWN);
}

#endif
