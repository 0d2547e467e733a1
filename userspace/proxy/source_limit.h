/* SPDX-License-Identifier: GPL-2.0 */
/* Connections per client source, so that one client cannot hold every
 * connection the proxy will take (--max-conns-per-source). A source is
 * an IPv4 address, or an IPv6 /64: an IPv6 host is commonly given a
 * whole /64 and can pick any address in it. Sources in the exempt list
 * (the trusted proxies, whose connections carry many clients) are not
 * counted. Single-threaded: the proxy's loop owns it. */
#ifndef XLB_SOURCE_LIMIT_H
#define XLB_SOURCE_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "xlb/map_types.h"

struct xlb_srclim;

/* per_source 0: no limit (take always succeeds, nothing is counted).
 * max_conns bounds how many sources can be counted at once (each holds
 * at least one connection). Returns 0 or -ENOMEM. */
int xlb_srclim_new(uint32_t per_source, uint32_t max_conns, struct xlb_srclim **out);
enum xlb_srclim_verdict {
	XLB_SRC_REFUSED, /* the source holds per_source already */
	XLB_SRC_COUNTED, /* one more for the source: put it when it closes */
	XLB_SRC_FREE,	 /* not counted: no limit, an exempt source, or no
			  * room to count one more source */
};

/* A new connection from flow's source. */
enum xlb_srclim_verdict xlb_srclim_take(struct xlb_srclim *t, const struct xlb_flow_key *flow);
/* A connection whose take said COUNTED is gone. */
void xlb_srclim_put(struct xlb_srclim *t, const struct xlb_flow_key *flow);
/* How many connections the source holds (tests, logs). */
uint32_t xlb_srclim_held(const struct xlb_srclim *t, const struct xlb_flow_key *flow);
uint32_t xlb_srclim_per_source(const struct xlb_srclim *t);
/* Sources not counted from now on; the list is copied. Returns 0 or
 * -ENOMEM (the old list stays). */
int xlb_srclim_set_exempt(struct xlb_srclim *t, const struct xlb_cidr *v, size_t n);
void xlb_srclim_free(struct xlb_srclim *t);

#endif
