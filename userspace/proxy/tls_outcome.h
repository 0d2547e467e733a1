/* SPDX-License-Identifier: GPL-2.0 */
/* How a server handshake ended, in the terms of the per-service TLS
 * counters (struct xlb_tls_counters): the suite a completed one agreed
 * on, or why one failed, told from OpenSSL's error and the alerts either
 * side sent. The mappings themselves are pure (tested without a
 * handshake); the rest reads them off an SSL. */
#ifndef XLB_PROXY_TLS_OUTCOME_H
#define XLB_PROXY_TLS_OUTCOME_H

#include <stdint.h>

#include <openssl/ssl.h>

#include "xlb/map_types.h"

/* The fatal alert each side sent during a handshake (close_notify too,
 * from the client); -1: none. */
struct xlb_tls_alerts {
	int sent;
	int received;
};

/* Records ssl's alerts into a, which must live until the handshake ends
 * and xlb_tls_alerts_unwatch is called: OpenSSL calls back on every
 * alert, also after the handshake. a is reset. -ENOMEM. */
int xlb_tls_alerts_watch(SSL *ssl, struct xlb_tls_alerts *a);
void xlb_tls_alerts_unwatch(SSL *ssl);

/* What a failed SSL_accept left behind. */
struct xlb_tls_end {
	int ssl_error;		      /* SSL_get_error of its return */
	unsigned long err;	      /* the last code of OpenSSL's error queue; 0: none */
	struct xlb_tls_alerts alerts; /* as recorded */
};

/* Fills end for SSL_accept's return r. Call it at once, on the thread
 * that called SSL_accept: OpenSSL's error queue is per thread. */
void xlb_tls_end_read(SSL *ssl, int r, const struct xlb_tls_alerts *a, struct xlb_tls_end *end);

/* Why the handshake failed; never XLB_TLS_FAIL_TIMEOUT nor _HANDSHAKE_LIMIT
 * (the caller's own decisions). */
enum xlb_tls_fail xlb_tls_fail_of(const struct xlb_tls_end *end);

/* The suite of version (TLS1_2_VERSION, TLS1_3_VERSION) and a cipher's
 * IANA number (SSL_CIPHER_get_protocol_id). */
enum xlb_tls_suite xlb_tls_suite_of(int version, uint16_t cipher_id);

/* The suite of ssl's completed handshake. */
enum xlb_tls_suite xlb_tls_suite_of_ssl(const SSL *ssl);

#endif
