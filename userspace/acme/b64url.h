/* SPDX-License-Identifier: GPL-2.0 */
/* base64url without padding (RFC 4648 section 5, as JOSE uses it: RFC
 * 7515 section 2): every binary field of an ACME request. */
#ifndef XLB_ACME_B64URL_H
#define XLB_ACME_B64URL_H

#include <stddef.h>
#include <stdint.h>

/* Characters of the encoding of n bytes, without the NUL. */
#define XLB_B64URL_LEN(n) (((n) / 3) * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))

/* Encodes in[0..n) into out (out_len bytes, NUL-terminated). Returns the
 * length written without the NUL, or -ENOSPC. */
int xlb_b64url_encode(const uint8_t *in, size_t n, char *out, size_t out_len);
/* The same into a fresh malloc'ed string; NULL when out of memory. */
char *xlb_b64url_encode_alloc(const uint8_t *in, size_t n);

/* Decodes in[0..n): only the 64 characters of the alphabet, no padding,
 * no spare bits set (so each byte string has one encoding). Returns the
 * bytes written to out, -EINVAL for bad input, or -ENOSPC. */
int xlb_b64url_decode(const char *in, size_t n, uint8_t *out, size_t out_len);

#endif
