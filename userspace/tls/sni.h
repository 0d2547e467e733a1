/* SPDX-License-Identifier: GPL-2.0 */
/* Switching a TLS connection to the certificate its SNI names: the
 * proxy accepts every TLS connection on one SSL_CTX, and the servername
 * callback moves each to the store's SSL_CTX for the name the client
 * sent in its ClientHello. */
#ifndef XLB_TLS_SNI_H
#define XLB_TLS_SNI_H

#include <openssl/ssl.h>

#include "certs.h"
#include "server.h"

/* Moves ssl, in its handshake (on any thread), to the store's SSL_CTX
 * for sni (NULL: the client sent none). SSL_TLSEXT_ERR_OK, or
 * SSL_TLSEXT_ERR_ALERT_FATAL with *alert set to unrecognized_name when
 * no certificate serves it. */
int xlb_tls_sni_switch(SSL *ssl, const struct xlb_certs *store, const char *sni, int *alert);

/* The SSL_CTX to accept TLS connections on: srv's policy, no certificate
 * of its own, and a servername callback that switches each connection by
 * SNI to one of store's. store must outlive the handshakes made on it. */
SSL_CTX *xlb_tls_sni_ctx_new(struct xlb_tls_server *srv, const struct xlb_certs *store);

#endif
