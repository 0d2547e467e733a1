/* SPDX-License-Identifier: GPL-2.0 */
/* The ACME protocol (RFC 8555), blocking: one client holds an account
 * and orders one certificate at a time. The worker in acme.c drives it;
 * a test can drive it directly. */
#ifndef XLB_ACME_CLIENT_H
#define XLB_ACME_CLIENT_H

#include <stdatomic.h>
#include <stdbool.h>

#include "cert.h"
#include "chall.h"

struct xlb_acme_config {
	const char *directory_url; /* the CA's directory, https:// */
	const char *contact;	   /* an email address for the account, or NULL */
	const char *ca_file;	   /* trust for the CA's HTTPS; NULL: the system's */
	const char *state_dir;	   /* see state.h */
};

struct xlb_acme_client;

/* Copies nothing from cfg: its strings must outlive the client. The
 * challenges of its orders go into challs. A set *stop (may be NULL)
 * cuts any wait short with -ECANCELED. No request is made until the
 * first order. */
int xlb_acme_client_new(const struct xlb_acme_config *cfg, struct xlb_acme_challs *challs,
			const atomic_bool *stop, struct xlb_acme_client **out);
void xlb_acme_client_free(struct xlb_acme_client *c);

/* Registers the account (or finds it: newAccount with a known key
 * answers with the existing one) when that is not done yet, then orders
 * a certificate for name, answering its challenge by type, and returns
 * it with a fresh key. Saves nothing: the caller decides. Returns 0 or
 * -errno, with what went wrong in xlb_acme_client_error. */
int xlb_acme_client_issue(struct xlb_acme_client *c, const char *name, enum xlb_acme_chall type,
			  struct xlb_acme_cert **out);

/* The last failure as key=value pairs, for one log line. */
const char *xlb_acme_client_error(const struct xlb_acme_client *c);

/* Requests retried after a badNonce answer, since the client was made. */
unsigned xlb_acme_client_bad_nonces(const struct xlb_acme_client *c);

#endif
