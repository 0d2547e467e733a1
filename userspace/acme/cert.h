/* SPDX-License-Identifier: GPL-2.0 */
/* A certificate the client got or keeps: the chain as the CA sent it,
 * the key it was issued for, and what the schedule needs to know of its
 * leaf. */
#ifndef XLB_ACME_CERT_H
#define XLB_ACME_CERT_H

#include <stdbool.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* a serial number in hex; RFC 5280 allows up to 20 octets */
#define XLB_ACME_SERIAL_LEN 41

struct xlb_acme_cert {
	char *name;
	char *chain_pem; /* the leaf first, then intermediates */
	char *key_pem;	 /* the leaf's private key, PKCS#8 */
	time_t not_before;
	time_t not_after;
	char serial[XLB_ACME_SERIAL_LEN];
	bool from_state; /* read from the state dir, not just issued */
};

/* Fills not_before, not_after and serial from chain_pem's leaf, and
 * checks that key_pem holds the leaf's key. -EINVAL when it does not
 * or when either does not parse. */
int xlb_acme_cert_parse(struct xlb_acme_cert *c);

/* The leaf of a PEM chain, or NULL. */
X509 *xlb_acme_cert_leaf(const char *chain_pem);

/* A P-256 key as PKCS#8 PEM, malloc'ed; NULL when out of memory. */
char *xlb_acme_key_pem(EVP_PKEY *key);

/* Frees what c points to, and c itself. NULL is fine. */
void xlb_acme_cert_free(struct xlb_acme_cert *c);

#endif
