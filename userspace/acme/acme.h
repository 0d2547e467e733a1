/* SPDX-License-Identifier: GPL-2.0 */
/* xlbd's certificate manager: keeps a certificate for every name it is
 * given, from the state directory or from the CA, and renews it. The
 * ACME exchanges run in a thread of its own; the daemon's loop learns of
 * new certificates through a file descriptor, and its listeners answer
 * the CA's validation requests from the challenge table.
 *
 *   xlb_acme_start(&cfg, &a);                  once, with the options
 *   loop_add(xlb_acme_fd(a), EPOLLIN, ...);    then, when it is readable:
 *       while ((c = xlb_acme_take(a))) { install c; xlb_acme_cert_free(c); }
 *   xlb_acme_set_names(a, names, n);           whenever the services change
 *   xlb_acme_challs(a)                         for the HTTP and TLS listeners
 *   xlb_acme_stop(a);                          at exit
 */
#ifndef XLB_ACME_H
#define XLB_ACME_H

#include <stddef.h>

#include "cert.h"
#include "chall.h"
#include "client.h"

/* A name some service wants a certificate for, and how to prove it. */
struct xlb_acme_name {
	const char *name;
	enum xlb_acme_chall type;
};

struct xlb_acme_stats {
	unsigned orders;     /* orders attempted */
	unsigned issued;     /* certificates received */
	unsigned failures;   /* orders that failed */
	unsigned loaded;     /* certificates taken from the state dir */
	unsigned bad_nonces; /* requests retried after badNonce */
};

struct xlb_acme;

/* Copies cfg, creates the state dir and starts the worker, which waits
 * for names. -errno when the state dir cannot be made. */
int xlb_acme_start(const struct xlb_acme_config *cfg, struct xlb_acme **out);
/* Stops the worker (an exchange in flight is cut at its next wait, or
 * ends with its request's timeout) and frees everything, undelivered
 * certificates included. NULL is fine. */
void xlb_acme_stop(struct xlb_acme *a);

/* Readable (EPOLLIN) when xlb_acme_take has certificates to give. */
int xlb_acme_fd(const struct xlb_acme *a);
/* The next certificate to install, the caller's to free; NULL when none.
 * A name's stored certificate comes first (from_state), then each one
 * issued. Until a new one comes, the last one given stays valid: a
 * renewal replaces a certificate only once the new one is in. */
struct xlb_acme_cert *xlb_acme_take(struct xlb_acme *a);

/* The names to keep certificates for, replacing the previous set. Names
 * dropped from it are no longer renewed; their stored files stay. Case
 * is ignored. -EINVAL (and nothing changes) when a name cannot be
 * ordered (see xlb_acme_name_ok). */
int xlb_acme_set_names(struct xlb_acme *a, const struct xlb_acme_name *names, size_t n);
/* Orders a new certificate for name now, whatever its schedule says
 * (an operator's command). -ENOENT when name is not in the set. */
int xlb_acme_renew(struct xlb_acme *a, const char *name);

/* The table the HTTP and TLS listeners answer challenges from. */
struct xlb_acme_challs *xlb_acme_challs(struct xlb_acme *a);
void xlb_acme_get_stats(struct xlb_acme *a, struct xlb_acme_stats *s);

#endif
