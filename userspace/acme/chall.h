/* SPDX-License-Identifier: GPL-2.0 */
/* The challenges being answered right now (RFC 8555 section 8), shared
 * between the ACME worker, which fills it, and the daemon's listeners,
 * which answer the CA's validation requests from it: HTTP-01 by token
 * (RFC 8555 section 8.3), TLS-ALPN-01 by server name (RFC 8737). Every
 * function is thread-safe; lookups hand out copies or references, never
 * pointers into the table. */
#ifndef XLB_ACME_CHALL_H
#define XLB_ACME_CHALL_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

enum xlb_acme_chall {
	XLB_ACME_HTTP01,
	XLB_ACME_TLSALPN01,
};

/* The path prefix of an HTTP-01 request; the token follows it. */
#define XLB_ACME_HTTP01_PREFIX "/.well-known/acme-challenge/"
/* The ALPN protocol of a TLS-ALPN-01 validation, as on the wire. */
#define XLB_ACME_ALPN "acme-tls/1"

/* "http-01" or "tls-alpn-01" */
const char *xlb_acme_chall_name(enum xlb_acme_chall type);
/* The inverse; -EINVAL for anything else. */
int xlb_acme_chall_parse(const char *s, enum xlb_acme_chall *type);

/* The key authorization of a challenge (RFC 8555 section 8.1):
 * token "." thumbprint, into a malloc'ed string. -EINVAL when the token
 * is not base64url (it ends up in a URL path and a file of the CA's
 * choosing), -ENOMEM. */
int xlb_acme_key_authz(const char *token, const char *thumbprint, char **out);

struct xlb_acme_challs;

struct xlb_acme_challs *xlb_acme_challs_new(void);
void xlb_acme_challs_free(struct xlb_acme_challs *t);

/* Adds (or replaces) the answer to an HTTP-01 challenge. */
int xlb_acme_challs_add_http01(struct xlb_acme_challs *t, const char *token, const char *key_authz);
/* Builds the validation certificate for name and adds it (or replaces
 * the one for name). */
int xlb_acme_challs_add_tlsalpn01(struct xlb_acme_challs *t, const char *name,
				  const char *key_authz);
/* Removes what the two above added under token or name; no error when
 * there is none. */
void xlb_acme_challs_del_http01(struct xlb_acme_challs *t, const char *token);
void xlb_acme_challs_del_tlsalpn01(struct xlb_acme_challs *t, const char *name);

/* For the HTTP listener: the body to answer GET <prefix><token> with,
 * copied into out (NUL-terminated). -ENOENT when the token is unknown,
 * -ENOSPC when out is too small. */
int xlb_acme_http01_lookup(struct xlb_acme_challs *t, const char *token, char *out, size_t out_len);
/* For the TLS listener, when a ClientHello offers only XLB_ACME_ALPN:
 * the certificate and key to complete the handshake for name (case
 * ignored), each with a reference the caller drops (X509_free,
 * EVP_PKEY_free). -ENOENT when name has no challenge pending. */
int xlb_acme_tlsalpn01_lookup(struct xlb_acme_challs *t, const char *name, X509 **cert,
			      EVP_PKEY **key);

/* Pending entries, of both kinds. */
size_t xlb_acme_challs_count(struct xlb_acme_challs *t);

#endif
