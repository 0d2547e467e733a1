/* SPDX-License-Identifier: GPL-2.0 */
/* HTTP/1.1 messages as the proxy frames them (RFC 9112), without I/O and
 * without allocating: it runs on untrusted bytes from clients and backends.
 *
 *  - a request head or a response head, once complete, is parsed into a
 *    small struct: what routes it, how its body is framed, whether the
 *    connection stays open, and where each header line is, so the proxy can
 *    drop or rewrite lines without parsing them again;
 *  - a chunked body is decoded incrementally from the framing bytes only
 *    (chunk-size lines, CRLFs, trailers): the decoder says how many data
 *    bytes follow and the caller moves them (splice), never the decoder.
 *
 * The parsers refuse every shape that lets two parsers disagree on where a
 * message ends (request smuggling, response splitting): the next hop must
 * read the same messages that the proxy framed. */
#ifndef XLB_HTTP1_H
#define XLB_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/hostmap.h"

/* ---- heads -------------------------------------------------------------- */

enum xlb_http1 {
	XLB_HTTP1_MORE, /* the head is incomplete and nothing in it is wrong so far */
	XLB_HTTP1_OK,	/* a complete head, parsed */
	XLB_HTTP1_BAD,	/* malformed: head.why says how */
};

/* How the body after a head ends (RFC 9112 6.3). UNKNOWN until a head is
 * OK: a refused head never has a framing. */
enum xlb_http1_body {
	XLB_HTTP1_BODY_UNKNOWN,
	XLB_HTTP1_BODY_NONE,	/* no body: the next message follows the head */
	XLB_HTTP1_BODY_LENGTH,	/* exactly content_length bytes */
	XLB_HTTP1_BODY_CHUNKED, /* chunked: see struct xlb_chunk below */
	XLB_HTTP1_BODY_CLOSE,	/* a response that ends when the backend closes */
	XLB_HTTP1_BODY_TUNNEL,	/* 101 or 2xx to CONNECT: bytes of another protocol */
};

/* Connection options the proxy acts on (RFC 9112 9.3, RFC 9110 7.6.1). */
#define XLB_HTTP1_CONN_CLOSE 0x1u
#define XLB_HTTP1_CONN_KEEP_ALIVE 0x2u
#define XLB_HTTP1_CONN_UPGRADE 0x4u

/* Header fields the proxy drops, rewrites or decides on; OTHER for the
 * rest. Names compare case-insensitively (RFC 9110 5.1). */
enum xlb_http1_field_kind {
	XLB_HTTP1_F_OTHER,
	XLB_HTTP1_F_HOST,
	XLB_HTTP1_F_CONTENT_LENGTH,
	XLB_HTTP1_F_TRANSFER_ENCODING,
	XLB_HTTP1_F_CONNECTION,
	XLB_HTTP1_F_KEEP_ALIVE,
	XLB_HTTP1_F_PROXY_CONNECTION,
	XLB_HTTP1_F_UPGRADE,
	XLB_HTTP1_F_TE,
	XLB_HTTP1_F_TRAILER,
	XLB_HTTP1_F_EXPECT,
	XLB_HTTP1_F_FORWARDED,
	XLB_HTTP1_F_X_FORWARDED_FOR,
	XLB_HTTP1_F_X_FORWARDED_HOST,
	XLB_HTTP1_F_X_FORWARDED_PROTO,
	XLB_HTTP1_F_X_FORWARDED_PORT,
	XLB_HTTP1_F_X_FORWARDED_PREFIX,
};

/* A run of bytes of the parsed buffer, as offsets: they stay right when the
 * caller moves its buffer. Heads are smaller than 4 GiB (the parsers see no
 * further), so 32 bits do. */
struct xlb_http1_span {
	uint32_t off;
	uint32_t len;
};

/* One header line: buf[line.off, +line.len) is the line with its CRLF, the
 * name starts the line, the value is OWS-trimmed (RFC 9112 5). */
struct xlb_http1_field {
	struct xlb_http1_span line;
	struct xlb_http1_span name;
	struct xlb_http1_span value;
	enum xlb_http1_field_kind kind;
};

/* What requests and responses share. Set in full on OK; on MORE and BAD
 * only why (BAD) is meaningful, and body stays UNKNOWN. */
struct xlb_http1_head {
	const char *why; /* BAD: a short static reason, else NULL */
	size_t head_len; /* bytes up to and including the blank line */
	uint32_t start;	 /* the first line (after skipped empty lines) */
	uint8_t minor;	 /* HTTP/1.minor: 0 or 1 (or a later 1.x) */
	enum xlb_http1_body body;
	uint64_t content_length; /* BODY_LENGTH: the length */
	bool has_content_length; /* a Content-Length line, even where ignored */
	bool chunked;		 /* a Transfer-Encoding ending in chunked */
	unsigned int connection; /* XLB_HTTP1_CONN_* options named */
	bool upgrade;		 /* an Upgrade field is present */
	bool keep_alive;	 /* the connection persists after this message */
	unsigned int n_fields;	 /* header lines; in fields[] if given room */
};

/* ---- requests ------------------------------------------------------------ */

enum xlb_http1_method {
	XLB_HTTP1_M_OTHER, /* any other token: methods are case-sensitive */
	XLB_HTTP1_M_GET,
	XLB_HTTP1_M_HEAD,
	XLB_HTTP1_M_POST,
	XLB_HTTP1_M_PUT,
	XLB_HTTP1_M_DELETE,
	XLB_HTTP1_M_CONNECT,
	XLB_HTTP1_M_OPTIONS,
	XLB_HTTP1_M_TRACE,
	XLB_HTTP1_M_PATCH,
};

/* The request-target's form (RFC 9112 3.2). */
enum xlb_http1_target {
	XLB_HTTP1_T_ORIGIN,    /* "/path?query" */
	XLB_HTTP1_T_ABSOLUTE,  /* "http://host:port/path?query" (proxies, 3.2.2) */
	XLB_HTTP1_T_AUTHORITY, /* "host:port", CONNECT only (3.2.3) */
	XLB_HTTP1_T_ASTERISK,  /* "*", a server-wide OPTIONS (3.2.4) */
};

struct xlb_http1_request {
	struct xlb_http1_head head;
	enum xlb_http1_method method;
	struct xlb_http1_span method_name;
	enum xlb_http1_target form;
	struct xlb_http1_span target;	 /* the whole request-target */
	struct xlb_http1_span authority; /* ABSOLUTE, AUTHORITY: "host[:port]" */
	struct xlb_http1_span path;	 /* ORIGIN, ABSOLUTE: up to '?' (may be empty
					 * in absolute-form: read it as "/") */
	struct xlb_http1_span query;	 /* after '?', without it; len 0 if none */
	bool has_query;			 /* a '?' was there, even with nothing after */
	bool expect_continue;		 /* Expect: 100-continue (RFC 9110 10.1.1) */
	/* The host the request is for: lowercased, without port or trailing
	 * dot, a DNS name or a bracketed IPv6 literal; the absolute-form
	 * target's authority wins over Host (RFC 9112 3.2.2). "" when the
	 * request names none: HTTP/1.0 without Host, or an empty Host. */
	char host[XLB_HOSTNAME_SIZE];
};

/* Parses the request head at the start of buf[0, len). Empty lines before
 * the request line are skipped (RFC 9112 2.2). Lines are parsed as they
 * complete, so a malformed line is BAD before the head is complete, and a
 * valid head is MORE at every proper prefix; the incomplete last line is
 * checked for bytes no continuation can make valid (NUL, controls).
 *  OK:   req is filled; bytes after head.head_len (a body, the next
 *        request) are not looked at.
 *  BAD:  req->head.why is one of: "bad request line", "bare CR", "bare LF",
 *        "NUL byte", "control character", "obs-fold", "header without
 *        colon", "whitespace before colon", "bad header name", "too many
 *        header fields", "two Host headers", "no Host header", "bad host",
 *        "two Content-Length headers", "bad Content-Length", "two
 *        Transfer-Encoding headers", "bad Transfer-Encoding",
 *        "Transfer-Encoding in HTTP/1.0", "Content-Length with
 *        Transfer-Encoding".
 * fields[0, max_fields) receives the header lines in order; more lines
 * than max_fields is BAD "too many header fields". With fields NULL, no
 * line is recorded and there is no such limit. Limits on size and time are
 * the caller's. */
enum xlb_http1 xlb_http1_parse_request(const char *buf, size_t len, struct xlb_http1_request *req,
				       struct xlb_http1_field *fields, unsigned int max_fields);

/* When a head that is still arriving is worth parsing again. Each parse
 * starts at the head's first byte, so parsing at every arrival costs
 * O(n^2) for a head sent a byte per segment; parsing only when the blank
 * line may have come, or when the head has doubled since the last parse,
 * bounds the work to O(n), and a malformed head is still refused by the
 * time it has doubled (or has ended, or reached the caller's size limit).
 * Zero it for each new head. */
struct xlb_http1_pace {
	size_t scanned; /* bytes looked at for the end of the head */
	size_t parsed;	/* length at the last parse; 0: none yet */
};

/* Looks at buf[p->scanned, len) for a line feed that ends an empty line
 * ("\n\r\n", or "\n\n", which the parser refuses), and returns true when
 * there is one, when nothing was parsed yet, or when len is at least
 * twice the last parse; p then counts a parse at len. */
bool xlb_http1_pace_due(struct xlb_http1_pace *p, const char *buf, size_t len);

/* RFC 9110 9.2.2: a request the client may send again after a failure. */
bool xlb_http1_method_idempotent(enum xlb_http1_method m);

/* ---- responses ------------------------------------------------------------ */

struct xlb_http1_response {
	struct xlb_http1_head head;
	unsigned int status;	      /* 100..599 */
	struct xlb_http1_span reason; /* may be empty */
	bool interim;		      /* 1xx but 101: the final response follows */
};

/* Parses the response head at the start of buf[0, len), the answer to a
 * request with method (its body framing depends on it: RFC 9112 6.3).
 * Verdicts as for requests; BAD reasons are those of requests that concern
 * no request line or Host, and "bad status line". The proxy answers a BAD
 * response with 502. */
enum xlb_http1 xlb_http1_parse_response(const char *buf, size_t len, enum xlb_http1_method method,
					struct xlb_http1_response *resp,
					struct xlb_http1_field *fields, unsigned int max_fields);

/* ---- chunked bodies -------------------------------------------------------- */

/* Longest framing line (a chunk-size line with its extensions, a trailer
 * field line) and the largest trailer section, CRLFs included. */
#define XLB_CHUNK_LINE_MAX 4096u
#define XLB_CHUNK_TRAILER_MAX 16384u

enum xlb_chunk_verdict {
	XLB_CHUNK_MORE, /* all bytes consumed: feed more */
	XLB_CHUNK_DATA, /* xlb_chunk_data_left() bytes of chunk data come next */
	XLB_CHUNK_DONE, /* the message ended: the next one starts at *consumed */
	XLB_CHUNK_BAD,	/* malformed at buf[*consumed]: c->why says how */
};

/* The decoder of one chunked body (RFC 9112 7.1), from right after the
 * head. Zero it, or call xlb_chunk_init, before the first byte. */
struct xlb_chunk {
	const char *why;      /* BAD: a short static reason */
	uint64_t size;	      /* the chunk-size being read, then data left */
	uint32_t line_len;    /* bytes of the framing line being read */
	uint32_t trailer_len; /* bytes of the trailer section so far */
	uint8_t digits;	      /* hex digits of the chunk-size so far */
	uint8_t state;	      /* private */
};

void xlb_chunk_init(struct xlb_chunk *c);

/* Reads framing bytes from buf[0, len), up to the next decision; *consumed
 * says how many were framing (MORE: all of them; DATA: up to the first
 * data byte; DONE: up to the end of the message; BAD: up to the bad byte).
 * While data is due, it returns DATA at once with *consumed 0. BAD reasons:
 * "bad chunk size", "chunk size too large", "bad chunk extension",
 * "chunk line too long", "bare CR", "bare LF", "no CRLF after chunk data",
 * "bad trailer field", "trailer section too long", "chunk data overrun".
 * Once DONE or BAD it stays so. Each byte is looked at once. */
enum xlb_chunk_verdict xlb_chunk_feed(struct xlb_chunk *c, const char *buf, size_t len,
				      size_t *consumed);

/* Data bytes still due in the current chunk (0 outside chunk data). */
uint64_t xlb_chunk_data_left(const struct xlb_chunk *c);

/* The caller moved n data bytes. More than xlb_chunk_data_left() is a bug
 * of the caller's and makes the decoder BAD "chunk data overrun". */
void xlb_chunk_data_done(struct xlb_chunk *c, uint64_t n);

#endif
