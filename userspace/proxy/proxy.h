/* SPDX-License-Identifier: GPL-2.0 */
/* The Host/SNI proxy: shared HTTP and TLS listeners whose connections are
 * routed by the request's Host header or the ClientHello's SNI, after which
 * the kernel moves the bytes (splice(2) through a pipe per direction). */
#ifndef XLB_PROXY_H
#define XLB_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/loop.h"
#include "xlbd/state.h"
#include "xlbd/takeover.h"

/* How a routed connection's bytes move (measured: README, proxy paths). */
enum xlb_proxy_path {
	XLB_PATH_SPLICE,  /* splice(2) through a pipe per direction: default */
	XLB_PATH_SOCKMAP, /* sockhash + stream verdict redirect, no backpressure */
	XLB_PATH_COPY,	  /* read/write through a buffer: the baseline */
};

/* How the HTTP listeners serve a connection (TLS is always routed once). */
enum xlb_http_mode {
	XLB_HTTP_MODE_CONNECTION, /* routed once by its first head, then moved blindly */
	XLB_HTTP_MODE_REQUEST,	  /* each request routed on its own (exchange.h): default */
};

struct xlb_proxy_limits {
	uint32_t peek_timeout_ms; /* whole head/ClientHello within this */
	uint32_t max_head;	  /* bytes of head or ClientHello */
	uint32_t max_conns;	  /* concurrent; more are refused */
	uint32_t idle_timeout_ms; /* no byte either way for this long */
	enum xlb_proxy_path path;
	enum xlb_http_mode http_mode;
	uint32_t response_timeout_ms;  /* request mode: a response head within this */
	uint32_t tls_workers;	       /* threads for TLS handshakes (handshake.h); 0: the loop's */
	uint32_t max_conns_per_source; /* from one address or IPv6 /64; 0: no limit */
	uint32_t max_pending;	       /* before their first head whole; the oldest makes room */
};

#define XLB_PROXY_DEFAULT_LIMITS                                                               \
	{                                                                                      \
		10000, 16384, 20000, 300000, XLB_PATH_SPLICE, XLB_HTTP_MODE_REQUEST, 60000, 0, \
			256, 1024                                                              \
	}

/* The sockmap path's maps (xlb_sock_pairs with the verdict program
 * attached, and xlb_sock_peer); unused on the other paths. */
struct xlb_proxy_sockmap {
	int pairs_fd;
	int peer_fd;
};

struct xlb_proxy;

int xlb_proxy_new(struct xlb_loop *loop, struct xlb_state *st, const struct xlb_proxy_limits *lim,
		  const struct xlb_proxy_sockmap *sm, struct xlb_proxy **out);
const char *xlb_proxy_path_name(enum xlb_proxy_path path);
int xlb_proxy_path_parse(const char *s, enum xlb_proxy_path *path);
const char *xlb_http_mode_name(enum xlb_http_mode mode);
int xlb_http_mode_parse(const char *s, enum xlb_http_mode *mode);
/* Opens a listener (TCP; ep's proto is ignored); one already open is
 * kept. Returns 0 or -errno. */
int xlb_proxy_listen(struct xlb_proxy *p, const struct xlb_endpoint *ep, bool tls);
/* Closes a listener (a reload dropped it); its connections go on. */
void xlb_proxy_unlisten(struct xlb_proxy *p, const struct xlb_endpoint *ep, bool tls);
/* Takes an inherited listening socket (takeover.h) as a listener; closes
 * fd on failure. */
int xlb_proxy_adopt_listener(struct xlb_proxy *p, const struct xlb_endpoint *ep, bool tls, int fd);

/* Listeners of one kind, as the command line or the config has them. */
struct xlb_listen_set {
	const struct xlb_endpoint *eps;
	size_t n;
	bool tls;
};

/* At start: opens every listener of the sets, each on the socket handed
 * over for it (taken out of handed) when there is one. Returns 0 or the
 * first failure's -errno (logged). */
int xlb_proxy_listen_sets(struct xlb_proxy *p, const struct xlb_listen_set *sets, size_t n,
			  struct xlb_handed *handed);
/* After a reload, for one kind: the listeners of was that neither now nor
 * keep has close (their connections go on), now's open. A port that
 * cannot be taken is one error line. */
void xlb_proxy_relisten(struct xlb_proxy *p, const struct xlb_listen_set *was,
			const struct xlb_listen_set *now, const struct xlb_listen_set *keep);

/* The listening sockets still accepting, for a takeover. */
size_t xlb_proxy_listeners(const struct xlb_proxy *p, struct xlb_handed_listener *out, size_t max);
/* Stops accepting and closes this process's listening descriptors; open
 * connections go on. */
void xlb_proxy_stop_accepting(struct xlb_proxy *p);
size_t xlb_proxy_conn_count(const struct xlb_proxy *p);
/* The HTTP listeners' trusted proxies (exchange.h); the list is copied,
 * and unused in --http-mode connection. Returns 0 or -ENOMEM. */
int xlb_proxy_set_trusted(struct xlb_proxy *p, const struct xlb_cidr *v, size_t n);
/* Terminates TLS on the TLS listeners for the names an https service
 * claims (xlb_state_terminates), with certificates picked from ctx's
 * servername callback; NULL: passthrough only. The proxy holds a
 * reference. The first context starts lim.tls_workers handshake threads
 * (handshake.h); the callbacks of ctx then run on them. Returns 0,
 * -ENOMEM, or why the threads could not start. */
struct ssl_ctx_st;
int xlb_proxy_set_tls(struct xlb_proxy *p, struct ssl_ctx_st *ctx);
/* The ACME challenges to answer: HTTP-01 tokens on the HTTP listeners,
 * before routing (TLS-ALPN-01 is answered by the TLS context's ALPN
 * hook; the proxy closes such a validation after its handshake). */
struct xlb_acme_challs;
void xlb_proxy_set_acme(struct xlb_proxy *p, struct xlb_acme_challs *t);
/* Ends (RST both ways) the connections a removed backend carries: its
 * container is gone, so they would otherwise hang until the idle timeout. */
void xlb_proxy_close_backend(struct xlb_proxy *p, uint32_t be_id);
/* Deadlines: call a few times a second. */
void xlb_proxy_tick(struct xlb_proxy *p);
/* Frees the connections closed during the last loop iteration. */
void xlb_proxy_reap(struct xlb_proxy *p);
/* Writes the counters to the pinned maps (fds may be -1). */
void xlb_proxy_flush_stats(struct xlb_proxy *p, int svc_stats_fd, int listeners_fd);
/* Writes the request mode's HTTP counters (xlb_http_svc_stats; fd may be
 * -1); nothing in --http-mode connection. */
void xlb_proxy_flush_http_stats(struct xlb_proxy *p, int http_svc_stats_fd);
/* Writes the terminated TLS handshakes' counters (xlb_tls_svc_stats; fd
 * may be -1). */
void xlb_proxy_flush_tls_stats(struct xlb_proxy *p, int tls_svc_stats_fd);
void xlb_proxy_free(struct xlb_proxy *p);

#endif
