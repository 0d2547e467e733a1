/* SPDX-License-Identifier: GPL-2.0 */
/* The handshake pool (xlbd --tls-workers): full TLS handshakes on
 * threads of their own. A server handshake costs a signature (RSA-2048:
 * about 260 µs on the bench VM) and a key exchange, all CPU, where
 * everything else the loop does is a few system calls: in the loop, a
 * burst of new TLS clients holds up every connection already served, on
 * one core. The loop peeks the ClientHello and decides to terminate as
 * before, then hands the connection (its socket and SSL, as a job) to
 * the least busy worker, which drives SSL_accept on an epoll of its own
 * until the handshake ends or its deadline passes, and hands the job
 * back. In between the job is the worker's: the loop touches neither
 * it, nor the socket, nor the SSL. Queues go both ways under a mutex,
 * each with an eventfd that is written only when its queue was empty. */
#ifndef XLB_PROXY_HANDSHAKE_H
#define XLB_PROXY_HANDSHAKE_H

#include <stdint.h>

#include <openssl/ssl.h>

#include "lib/loop.h"
#include "tls_outcome.h"

/* the most workers --tls-workers takes: past the cores, more threads
 * only share them */
#define XLB_HS_MAX_WORKERS 64

enum xlb_hs_result {
	XLB_HS_DONE,	/* completed */
	XLB_HS_FAILED,	/* OpenSSL refused it or the client left: end says how */
	XLB_HS_TIMEOUT, /* its deadline passed */
	XLB_HS_ERROR,	/* the worker could not watch the socket: error */
};

struct xlb_hs_job {
	/* set by the loop before xlb_hs_submit */
	int fd;			      /* non-blocking, its ClientHello waiting */
	SSL *ssl;		      /* on fd, alerts watched (tls_outcome.h) */
	uint64_t deadline_ms;	      /* on xlb_loop_now_ms()'s clock */
	struct xlb_tls_alerts alerts; /* written by ssl's info callback */
	/* the answer, for the loop once the job is back */
	enum xlb_hs_result result;
	struct xlb_tls_end end; /* XLB_HS_FAILED */
	int error;		/* XLB_HS_ERROR: -errno */
	/* the pool's */
	uint32_t ev;	 /* registered with the worker's epoll, 0: not */
	unsigned worker; /* which one holds it */
	struct xlb_hs_job *next, *prev;
};

/* Called in the loop for each job back; job is the caller's again. */
typedef void (*xlb_hs_done_fn)(struct xlb_hs_job *job, void *arg);

struct xlb_hs_pool;

/* Starts n (1..XLB_HS_MAX_WORKERS) workers, which take no signal, and
 * watches for the jobs they give back on loop. Returns 0 or -errno (no
 * thread left running). */
int xlb_hs_pool_new(struct xlb_loop *loop, unsigned n, xlb_hs_done_fn done, void *arg,
		    struct xlb_hs_pool **out);

/* Hands job to the worker with the fewest jobs; from the loop only. */
void xlb_hs_submit(struct xlb_hs_pool *p, struct xlb_hs_job *job);

/* Stops and joins the workers. The jobs they held, or had not given back
 * yet, are the caller's again, done not called: their sockets and SSLs
 * are to be closed (no worker watches them any more). */
void xlb_hs_pool_free(struct xlb_hs_pool *p);

#endif
