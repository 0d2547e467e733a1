/* SPDX-License-Identifier: GPL-2.0 */
/* Certificates from the environment, as dockercloud-haproxy took them.
 * DEFAULT_SSL_CERT in xlbd's own environment is the operator's word: the
 * default certificate, read at start. SSL_CERT on a container, and a
 * container's DEFAULT_SSL_CERT (never the default from there), come from
 * whoever could start a container: each is served only for the https
 * host names the container's service holds in routing. On every Docker
 * sync the store follows the containers: a new one's certificate comes
 * in, a gone one's goes, and what each serves follows the routes.
 *
 * xlbd's modules do not include tls/: main.c hands over the store with
 * the functions of tls/ that reach it. */
#ifndef XLB_ENVCERTS_H
#define XLB_ENVCERTS_H

#include <stdbool.h>
#include <stddef.h>

#include "dmodel.h"
#include "state.h"

struct xlb_certs;
struct xlb_envcerts;

/* The store and tls/'s functions on it (tls/certs.h, tls/cert.h). */
struct xlb_envcerts_store {
	struct xlb_certs *certs;
	int (*add_pem)(struct xlb_certs *s, const char *source, const char *pem, size_t len,
		       unsigned flags);
	unsigned as_default; /* add_pem's flag for the default */
	int (*add_scoped)(struct xlb_certs *s, const char *source, const char *pem, size_t len,
			  const char *const *allowed, const char *const *denied, char *detail,
			  size_t detail_len);
	int (*remove_scoped)(struct xlb_certs *s, const char *source);
	int (*unescape)(const char *in, char **out); /* "\n" as two characters */
};

/* Whether xlbd needs a certificate store for these even without a
 * certificate directory or ACME: DEFAULT_SSL_CERT is set, or containers
 * may bring theirs (docker). */
bool xlb_envcerts_wanted(bool docker);

/* A keeper of store->certs; installs DEFAULT_SSL_CERT from xlbd's own
 * environment as the default (a refused one is reported by the store,
 * and xlbd runs on without it). -ENOMEM. */
int xlb_envcerts_new(const struct xlb_envcerts_store *store, struct xlb_envcerts **out);

/* Brings the store in line with the certificates the running containers
 * of m offer, each served for the https names its service holds in st
 * (m applied to st already). A refusal is logged once, naming the
 * container. ec NULL (no TLS): nothing. */
void xlb_envcerts_sync(struct xlb_envcerts *ec, const struct xlb_state *st,
		       const struct xlb_dmodel *m);

/* The containers' certificates stay in the store. */
void xlb_envcerts_free(struct xlb_envcerts *ec);

#endif
