/* SPDX-License-Identifier: GPL-2.0 */
/* The state directory (--acme-state DIR), which lets a restarted xlbd
 * keep its account and certificates:
 *   DIR/               0700
 *   DIR/account.key    the account's P-256 key, PKCS#8 PEM, 0600
 *   DIR/account.url    the account's URL (its "kid"), one line
 *   DIR/certs/NAME.pem the name's private key, then its chain, 0600
 * Key and chain share one file so that a rename swaps both at once: a
 * reader never sees a new chain with an old key. Every file is written
 * beside its place and renamed over it. */
#ifndef XLB_ACME_STATE_H
#define XLB_ACME_STATE_H

#include <stdbool.h>

#include <openssl/evp.h>

#include "cert.h"

/* A name that may be ordered and stored: a DNS name of letters, digits,
 * hyphens and dots, no empty label, at most 253 characters. Wildcards
 * need DNS-01, which this client does not do. */
bool xlb_acme_name_ok(const char *name);

/* Creates DIR and DIR/certs (0700) when missing, and narrows their mode
 * to 0700 when wider. */
int xlb_acme_state_init(const char *dir);

/* -ENOENT when there is none yet. */
int xlb_acme_state_load_key(const char *dir, EVP_PKEY **key);
int xlb_acme_state_save_key(const char *dir, EVP_PKEY *key);
int xlb_acme_state_load_url(const char *dir, char **url);
int xlb_acme_state_save_url(const char *dir, const char *url);

/* The stored certificate for name, parsed (xlb_acme_cert_parse), with
 * from_state set. -ENOENT when there is none, -EINVAL when the file is
 * damaged. */
int xlb_acme_state_load_cert(const char *dir, const char *name, struct xlb_acme_cert **out);
int xlb_acme_state_save_cert(const char *dir, const struct xlb_acme_cert *c);

#endif
