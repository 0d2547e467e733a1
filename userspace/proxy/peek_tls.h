/* SPDX-License-Identifier: GPL-2.0 */
/* The TLS ClientHello peeker: which server name (SNI, RFC 6066) a new
 * proxied TLS connection asks for. TLS is passed through, never
 * terminated. Like the HTTP peeker it is stateless between calls, never
 * allocates, and reads every length against the bytes it was given. */
#ifndef XLB_PEEK_TLS_H
#define XLB_PEEK_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peek_http.h" /* enum xlb_peek */

/* Largest TLSPlaintext fragment (RFC 8446 5.1: 2^14 bytes). */
#define XLB_TLS_RECORD_MAX 16384

/* Looks at the first len bytes of a connection: TLS handshake records
 * (type 22, record version 0x0301..0x0304) carrying one ClientHello,
 * which may span several records and arrive over several reads.
 *  MORE: the ClientHello is not complete yet (also when the name has been
 *        seen: the whole hello is checked before a verdict).
 *  OK:   sni holds the host_name of the server_name extension, lowercased
 *        and valid as a DNS name (RFC 6066 3: no trailing dot).
 *  NONE: a complete, well-formed ClientHello without server_name.
 *  BAD:  *why is a short static reason: "SSLv2 hello", "not a handshake
 *        record", "bad record version", "bad record length", "not a
 *        ClientHello", "bad ClientHello version", "bad session id",
 *        "bad cipher suites", "bad compression methods", "bad extensions
 *        length", "extension overruns", "two server_name extensions",
 *        "bad server_name list", "empty SNI list", "bad SNI", "ClientHello
 *        overruns" (a field runs past the handshake length).
 * Bytes after the ClientHello are ignored. The ClientHello's 24-bit length
 * may announce more than the caller wants to buffer: bounding that is the
 * caller's (it stops peeking at its limit). sni_len should be at least
 * XLB_HOSTNAME_SIZE (hostmap.h); a longer name is BAD "bad SNI". */
enum xlb_peek xlb_peek_tls(const uint8_t *buf, size_t len, char *sni, size_t sni_len,
			   const char **why);

/* When to call xlb_peek_tls again as a ClientHello arrives: each call
 * walks the hello from its first byte, so calling it at every arrival
 * costs O(n^2) for a hello sent a byte per segment. Only the record
 * headers are new work here (each looked at once), and a parse is due
 * when the records hold the whole handshake message their first one
 * announces, when something is not as a ClientHello's records must be
 * (the parser then says BAD), or when len has doubled since the last
 * parse. Zero it for each connection. */
struct xlb_tls_pace {
	size_t next;	/* offset of the next record header not looked at */
	size_t have;	/* handshake bytes the looked-at records announce */
	size_t need;	/* the hello's bytes with their header; 0: not known */
	size_t parsed;	/* len at the last parse; 0: none yet */
	uint8_t hdr[4]; /* the handshake header, gathered across records */
	size_t hdr_n;
};

/* Whether buf[0, len) is due for a parse; if so, counts one at len. */
bool xlb_peek_tls_due(struct xlb_tls_pace *p, const uint8_t *buf, size_t len);

#endif
