/* SPDX-License-Identifier: GPL-2.0 */
/* The HTTP/1.x request head peeker: which host a new proxied connection is
 * for. It reads bytes taken with MSG_PEEK, so it is called again with more
 * bytes until it decides; it keeps no state between calls and never
 * allocates, since it runs on untrusted input for every connection. It is
 * the request head parser of http1.h, so the peeked head and the heads the
 * proxy parses later obey the same rules. */
#ifndef XLB_PEEK_HTTP_H
#define XLB_PEEK_HTTP_H

#include <stddef.h>

/* A peeker's verdict on the bytes seen so far (shared with peek_tls.h).
 * Only MORE can change when more bytes arrive: once a prefix of a stream
 * is OK, BAD or NONE, so is every longer prefix. */
enum xlb_peek {
	XLB_PEEK_MORE, /* incomplete: wait for more (up to the caller's limits) */
	XLB_PEEK_OK,   /* complete, and it names a host */
	XLB_PEEK_BAD,  /* malformed: why says how */
	XLB_PEEK_NONE, /* complete and well formed, but it names no host */
};

/* Looks at the first len bytes of a connection.
 *  MORE: the head (up to its blank line) is incomplete and nothing in it
 *        is wrong so far.
 *  OK:   host holds the target host: lowercased, without port or trailing
 *        dot, a DNS name or a bracketed IPv6 literal ("[fd00::1]"). The
 *        absolute-form request target ("GET http://h:80/ HTTP/1.1") wins
 *        over the Host header (RFC 9112 3.2.2). *head_len is the number of
 *        bytes up to and including the blank line; pipelined requests or a
 *        body may follow.
 *  NONE: an HTTP/1.0 request without Host, or with an empty Host (RFC 9112
 *        3.2: a request for a URI without authority); *head_len is set.
 *  BAD:  *why is a short static reason, one of: "bad request line",
 *        "bare CR", "bare LF", "NUL byte", "control character", "obs-fold",
 *        "header without colon", "whitespace before colon", "bad header
 *        name", "two Host headers", "no Host header", "bad host",
 *        "two Content-Length headers", "bad Content-Length",
 *        "two Transfer-Encoding headers", "bad Transfer-Encoding",
 *        "Transfer-Encoding in HTTP/1.0",
 *        "Content-Length with Transfer-Encoding".
 * A request-target must have one of the forms of RFC 9112 3.2 (origin,
 * absolute, "*", and for CONNECT only and always "host:port") and no '#';
 * else it is a "bad request line".
 * The checks reject the shapes that make two parsers disagree on where a
 * request ends (request smuggling), even though the proxy peeks only the
 * first head: the backend must read the same request the proxy routed.
 * host_len should be at least XLB_HOSTNAME_SIZE (hostmap.h); a longer host
 * is BAD "bad host". Limits on size and time are the caller's. */
enum xlb_peek xlb_peek_http(const char *buf, size_t len, char *host, size_t host_len,
			    size_t *head_len, const char **why);

#endif
