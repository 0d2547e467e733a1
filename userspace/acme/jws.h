/* SPDX-License-Identifier: GPL-2.0 */
/* JSON Web Signatures as ACME uses them (RFC 8555 section 6.2): ES256
 * over a P-256 account key, the flattened JSON serialization, the key as
 * a JWK and its RFC 7638 thumbprint (which the key authorization of every
 * challenge ends with). */
#ifndef XLB_ACME_JWS_H
#define XLB_ACME_JWS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* An ES256 signature: r and s, 32 bytes each, big-endian (RFC 7518
 * section 3.4), not the DER that OpenSSL produces. */
#define XLB_ES256_SIG_LEN 64
/* base64url of a SHA-256 digest */
#define XLB_JWS_THUMB_LEN 43

/* A fresh P-256 key, or NULL. */
EVP_PKEY *xlb_jws_keygen(void);

/* The public half of key as a JWK with only its required members, in
 * lexicographic order and without whitespace: the form RFC 7638 hashes.
 * EC keys on P-256 and RSA keys. Returns 0 and a malloc'ed string in
 * *out, -EINVAL for another kind of key, or -ENOMEM. */
int xlb_jws_jwk(EVP_PKEY *key, char **out);

/* RFC 7638 thumbprint of key's JWK (SHA-256, base64url) into out. */
int xlb_jws_thumbprint(EVP_PKEY *key, char out[XLB_JWS_THUMB_LEN + 1]);

/* The same from a JWK already in canonical form (hashes its bytes). */
int xlb_jws_thumbprint_of(const char *canonical_jwk, char out[XLB_JWS_THUMB_LEN + 1]);

/* ES256 signature of data[0..len) with a P-256 key. Returns 0 or -errno. */
int xlb_jws_es256(EVP_PKEY *key, const void *data, size_t len, uint8_t sig[XLB_ES256_SIG_LEN]);

/* The body of an ACME POST: a flattened JWS whose protected header has
 * alg ES256, nonce, url and either kid (the account URL, once there is
 * one) or, for newAccount, the jwk. payload is JSON text, or NULL for a
 * POST-as-GET (empty payload). Returns 0 and a malloc'ed string in *out,
 * or -errno. */
int xlb_jws_sign(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
		 const char *payload, char **out);

#endif
