/* SPDX-License-Identifier: GPL-2.0 */
/* The self-signed certificate that answers a TLS-ALPN-01 challenge
 * (RFC 8737 section 3): one dNSName, the name being validated, and the
 * critical id-pe-acmeIdentifier extension holding the SHA-256 of the
 * key authorization. */
#ifndef XLB_ACME_TLSALPN_H
#define XLB_ACME_TLSALPN_H

#include <openssl/evp.h>
#include <openssl/x509.h>

/* id-pe-acmeIdentifier */
#define XLB_ACME_IDENTIFIER_OID "1.3.6.1.5.5.7.1.31"

/* A fresh P-256 key and the certificate for name and key_authz, each
 * for the caller to free. Returns 0 or -errno. */
int xlb_acme_tlsalpn_cert(const char *name, const char *key_authz, X509 **cert, EVP_PKEY **key);

#endif
