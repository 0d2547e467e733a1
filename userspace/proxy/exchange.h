/* SPDX-License-Identifier: GPL-2.0 */
/* The per-request HTTP/1.1 engine of the HTTP listeners (--http-mode
 * request): each request on a client connection is read up to the end of
 * its head (http1.h), routed on its own, sent to a backend connection
 * (taken from a pool of idle keep-alive ones when one is free) with its
 * head rewritten (hop-by-hop and forwarding headers). Body bytes that
 * came in the same read as their head go out with it; the rest of a body
 * is moved by splice(2) through a pipe per direction, framed by
 * Content-Length or the chunked decoder, and never enters userspace.
 * Requests of a connection are served one at a time, in order. */
#ifndef XLB_EXCHANGE_H
#define XLB_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/loop.h"
#include "xlbd/state.h"

struct xlb_exchange_limits {
	uint32_t peek_timeout_ms;     /* a whole request head within this */
	uint32_t max_head;	      /* bytes of a request or response head */
	uint32_t idle_timeout_ms;     /* nothing moved for this long */
	uint32_t response_timeout_ms; /* a response head within this */
};

struct xlb_exchange;

/* svc_c, http_c: the per-service counters (XLB_MAX_SERVICES of each);
 * srclim: the proxy's connections per source (source_limit.h), which
 * the engine's connections are put back into when they close. */
struct xlb_srclim;
int xlb_exchange_new(struct xlb_loop *loop, struct xlb_state *st,
		     const struct xlb_exchange_limits *lim, struct xlb_proxy_counters *svc_c,
		     struct xlb_http_counters *http_c, struct xlb_srclim *srclim,
		     struct xlb_exchange **out);
/* Takes fd, a client connection accepted on an HTTP listener whose port is
 * listen_port; counts its outcomes in lc (the listener's counters).
 * src_counted: the accept counted it in srclim, to be put back. */
void xlb_exchange_accept(struct xlb_exchange *x, int fd, const struct xlb_flow_key *flow,
			 uint16_t listen_port, struct xlb_proxy_counters *lc, bool src_counted);
/* The same for a connection of a TLS listener whose handshake xlb
 * completed: requests are read and answered through ssl (taken, freed
 * with the connection), backends see X-Forwarded-Proto: https, and the
 * bodies pass through userspace (no kernel TLS here to splice into).
 * fd must no longer be in the loop. */
struct ssl_st;
void xlb_exchange_accept_tls(struct xlb_exchange *x, int fd, struct ssl_st *ssl,
			     const struct xlb_flow_key *flow, uint16_t listen_port,
			     struct xlb_proxy_counters *lc, bool src_counted);
size_t xlb_exchange_count(const struct xlb_exchange *x);
/* Connections whose first head has not been read whole yet, and the
 * accept time (xlb_loop_now_ms) of the oldest (UINT64_MAX: none). */
size_t xlb_exchange_pending(const struct xlb_exchange *x);
uint64_t xlb_exchange_oldest_pending_ms(const struct xlb_exchange *x);
/* Closes the oldest of them to make room (counted as a peek timeout). */
void xlb_exchange_evict_oldest(struct xlb_exchange *x);
/* The proxies (trusted_proxies) whose X-Forwarded-For is kept and
 * appended to, and whose X-Forwarded-Proto/-Host/-Port are kept; the list
 * is copied. Returns 0 or -ENOMEM (the old list stays). */
int xlb_exchange_set_trusted(struct xlb_exchange *x, const struct xlb_cidr *v, size_t n);
/* Resets the connections that carry a request to be_id and closes its
 * pooled connections. Returns how many client connections were reset. */
unsigned int xlb_exchange_close_backend(struct xlb_exchange *x, uint32_t be_id);
/* Deadlines and the pool's idle timeout: call a few times a second. */
void xlb_exchange_tick(struct xlb_exchange *x);
/* Frees the connections closed during the last loop iteration. */
void xlb_exchange_reap(struct xlb_exchange *x);
void xlb_exchange_free(struct xlb_exchange *x);

/* ACME's HTTP-01 tokens (acme/chall.h) that requests for
 * /.well-known/acme-challenge/TOKEN get answered from, before routing;
 * NULL: none. */
struct xlb_acme_challs;
void xlb_exchange_set_acme(struct xlb_exchange *x, struct xlb_acme_challs *t);

#endif
