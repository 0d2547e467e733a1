/* SPDX-License-Identifier: GPL-2.0 */
/* One server certificate read from PEM and checked: the leaf, the chain
 * that follows it, the private key that matches the leaf, and what the
 * store indexes and lists of it. Nothing here logs; the store names the
 * file or the source when it reports why a certificate was refused. */
#ifndef XLB_TLS_CERT_H
#define XLB_TLS_CERT_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* a serial number in hex; RFC 5280 allows up to 20 octets */
#define XLB_TLS_SERIAL_LEN 44
#define XLB_TLS_ISSUER_LEN 256

struct xlb_tls_cert {
	X509 *leaf;
	STACK_OF(X509) * chain; /* the certificates after the leaf, maybe empty */
	EVP_PKEY *key;
	char **names; /* lower case DNS names: subjectAltName, else the CN */
	size_t n_names;
	char issuer[XLB_TLS_ISSUER_LEN]; /* RFC 2253 form */
	char serial[XLB_TLS_SERIAL_LEN];
	time_t not_before;
	time_t not_after;
};

/* Reads the leaf and its chain from crt, and the key from key, or from
 * crt when key is NULL (one PEM holding both). Refuses, with -EINVAL and
 * *why set to a short reason, a text without a certificate or a key, a
 * key that is not the leaf's, and a leaf not valid at now. -ENOMEM when
 * out of memory. Encrypted keys are refused rather than prompted for. */
int xlb_tls_cert_parse(const char *crt, size_t crt_len, const char *key, size_t key_len, time_t now,
		       struct xlb_tls_cert **out, const char **why);

/* Frees c and all it holds. NULL is fine. */
void xlb_tls_cert_free(struct xlb_tls_cert *c);

/* Turns the two characters "\n" into a newline, as PEM passed through
 * an environment variable (SSL_CERT) arrives; a real newline stays. The
 * result is malloc'ed. -ENOMEM when out of memory. */
int xlb_tls_pem_unescape(const char *in, char **out);

#endif
