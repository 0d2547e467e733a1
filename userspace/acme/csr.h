/* SPDX-License-Identifier: GPL-2.0 */
/* The certificate signing request sent to an order's finalize URL (RFC
 * 8555 section 7.4): PKCS#10, the name in the subject's CN and as the
 * one dNSName of a subjectAltName extension, signed with SHA-256. */
#ifndef XLB_ACME_CSR_H
#define XLB_ACME_CSR_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* The DER of a CSR for name over key, malloc'ed into *der. Returns 0
 * or -errno. */
int xlb_acme_csr(const char *name, EVP_PKEY *key, uint8_t **der, size_t *len);

#endif
