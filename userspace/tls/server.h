/* SPDX-License-Identifier: GPL-2.0 */
/* The server side of TLS: one policy (versions, ciphers, ALPN, session
 * tickets) that every SSL_CTX the proxy terminates TLS with is made
 * under, so that a connection switched to another certificate by SNI
 * keeps the same rules and its session tickets stay readable. The
 * ticket key ring turns inside OpenSSL's callback, under a lock: the
 * policy's SSL_CTXs may handshake on several threads at once. */
#ifndef XLB_TLS_SERVER_H
#define XLB_TLS_SERVER_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "cert.h"

/* 12 h: a stolen ticket key opens at most a day of sessions */
#define XLB_TLS_TICKET_ROTATE_SECS (12 * 3600)

/* Called once ALPN has chosen proto (not NUL-terminated). Lets the
 * caller, which listed "acme-tls/1", swap in the challenge certificate
 * with SSL_use_cert_and_key. Nonzero ends the handshake with an alert. */
typedef int (*xlb_tls_alpn_chosen_fn)(SSL *ssl, const unsigned char *proto, unsigned len,
				      void *arg);

struct xlb_tls_server_opts {
	/* protocols accepted, the server's preferred first; none: http/1.1 */
	const char *const *alpn;
	size_t n_alpn;
	xlb_tls_alpn_chosen_fn alpn_chosen; /* may be NULL */
	void *alpn_chosen_arg;
	unsigned ticket_rotate_secs; /* 0: XLB_TLS_TICKET_ROTATE_SECS */
};

struct xlb_tls_server;

/* The policy and its ticket key ring (keys made here, never written
 * anywhere). o may be NULL for the defaults. -EINVAL for an ALPN name
 * empty or longer than 255 bytes, -ENOMEM. */
int xlb_tls_server_new(const struct xlb_tls_server_opts *o, struct xlb_tls_server **out);

/* Another reference to srv; every SSL_CTX made from it holds one, so it
 * lives as long as the last of them. */
struct xlb_tls_server *xlb_tls_server_get(struct xlb_tls_server *srv);
void xlb_tls_server_put(struct xlb_tls_server *srv);

/* A server SSL_CTX under srv's policy serving cert, or, with cert NULL,
 * serving none (the one connections are accepted on before SNI picks
 * theirs). TLS 1.2 with ECDHE and AEAD ciphers only, TLS 1.3 with its
 * default suites; no compression, no renegotiation; stateless tickets,
 * no server-side session cache. NULL when OpenSSL fails (out of memory,
 * or a key it cannot use). */
SSL_CTX *xlb_tls_server_ctx(struct xlb_tls_server *srv, const struct xlb_tls_cert *cert);

/* Makes a new ticket key current now, keeping the last one to read
 * tickets it wrote; tickets of older keys get a full handshake. The ring
 * also turns by itself every ticket_rotate_secs. -EIO if the random
 * generator fails (the old keys stay). */
int xlb_tls_server_rotate_tickets(struct xlb_tls_server *srv);

#endif
