// SPDX-License-Identifier: GPL-2.0
/* The HTTP request head peeker. Every call gets a heap copy of exactly the
 * bytes under test, so ASan catches a read one byte too far. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hostmap.h"
#include "proxy/peek_http.h"

struct peeked {
	enum xlb_peek verdict;
	char host[XLB_HOSTNAME_SIZE];
	size_t head_len;
	const char *why;
};

static struct peeked peek_n_sized(const char *s, size_t n, size_t host_size)
{
	struct peeked p = { .head_len = (size_t)-1 };
	char *copy = malloc(n ? n : 1);

	assert_non_null(copy);
	memcpy(copy, s, n);
	p.verdict = xlb_peek_http(copy, n, p.host, host_size, &p.head_len, &p.why);
	free(copy);
	return p;
}

static struct peeked peek_n(const char *s, size_t n)
{
	return peek_n_sized(s, n, sizeof(((struct peeked *)0)->host));
}

static struct peeked peek(const char *s)
{
	return peek_n(s, strlen(s));
}

static const char *verdict_name(enum xlb_peek v)
{
	switch (v) {
	case XLB_PEEK_MORE:
		return "MORE";
	case XLB_PEEK_OK:
		return "OK";
	case XLB_PEEK_BAD:
		return "BAD";
	case XLB_PEEK_NONE:
		return "NONE";
	}
	return "?";
}

/* OK with host, and the head is the whole of s. */
static void assert_host(const char *s, const char *host)
{
	struct peeked p = peek(s);

	if (p.verdict != XLB_PEEK_OK)
		fail_msg("%s (%s) for: %s", verdict_name(p.verdict), p.why ? p.why : "-", s);
	assert_string_equal(p.host, host);
	assert_int_equal(p.head_len, strlen(s));
	assert_null(p.why);
}

static void assert_bad_n(const char *s, size_t n, const char *why)
{
	struct peeked p = peek_n(s, n);

	if (p.verdict != XLB_PEEK_BAD)
		fail_msg("%s instead of BAD '%s' for: %.*s", verdict_name(p.verdict), why, (int)n,
			 s);
	assert_non_null(p.why);
	assert_string_equal(p.why, why);
}

static void assert_bad(const char *s, const char *why)
{
	assert_bad_n(s, strlen(s), why);
}

/* Every proper prefix of the head of s is MORE. */
static void assert_prefixes_more(const char *s, size_t head_len)
{
	for (size_t n = 0; n < head_len; n++) {
		struct peeked p = peek_n(s, n);

		if (p.verdict != XLB_PEEK_MORE)
			fail_msg("prefix %zu of %zu: %s (%s)", n, head_len, verdict_name(p.verdict),
				 p.why ? p.why : "-");
	}
}

#define GET_HOST(h) "GET / HTTP/1.1\r\nHost: " h "\r\n\r\n"

static void test_simple_get(void **state)
{
	(void)state;
	assert_host("GET /index.html HTTP/1.1\r\n"
		    "Host: api.app.dev\r\n"
		    "User-Agent: curl/7.88.1\r\n"
		    "Accept: */*\r\n"
		    "\r\n",
		    "api.app.dev");
	assert_host("POST /v1/items?x=1 HTTP/1.1\r\nHost: app.app.dev\r\nContent-Length: 0\r\n\r\n",
		    "app.app.dev");
	assert_host(GET_HOST("localhost"), "localhost");
	/* no OWS at all, and OWS on both sides */
	assert_host("GET / HTTP/1.1\r\nHost:api.app.dev\r\n\r\n", "api.app.dev");
	assert_host(GET_HOST(" \t api.app.dev \t "), "api.app.dev");
	/* obs-text in another header's value is fine */
	assert_host("GET / HTTP/1.1\r\nX-Name: caf\xc3\xa9\r\nHost: a.dev\r\n\r\n", "a.dev");
}

static void test_host_with_port(void **state)
{
	(void)state;
	assert_host(GET_HOST("api.app.dev:8080"), "api.app.dev");
	assert_host(GET_HOST("api.app.dev:80"), "api.app.dev");
	assert_host(GET_HOST("api.app.dev:65535"), "api.app.dev");
	assert_host(GET_HOST("api.app.dev:"), "api.app.dev"); /* RFC 3986: port = *DIGIT */
	assert_host(GET_HOST("api.app.dev."), "api.app.dev");
	assert_host(GET_HOST("api.app.dev.:80"), "api.app.dev");
	assert_host(GET_HOST("10.200.0.100:80"), "10.200.0.100");
	assert_host(GET_HOST("[FD00:200::100]:80"), "[fd00:200::100]");
	assert_host(GET_HOST("[::ffff:10.0.0.1]"), "[::ffff:10.0.0.1]");
}

static void test_uppercase(void **state)
{
	(void)state;
	assert_host("GET / HTTP/1.1\r\nHOST: API.App.DEV\r\n\r\n", "api.app.dev");
	assert_host("GET / HTTP/1.1\r\nhOsT: Api.App.Dev:443\r\n\r\n", "api.app.dev");
}

static void test_absolute_form_wins(void **state)
{
	(void)state;
	assert_host("GET http://App.app.dev:81/x?y HTTP/1.1\r\nHost: api.app.dev\r\n\r\n",
		    "app.app.dev");
	assert_host("GET https://app.app.dev HTTP/1.1\r\nHost: api.app.dev\r\n\r\n", "app.app.dev");
	assert_host("GET HTTP://app.app.dev?q HTTP/1.1\r\nHost: api.app.dev\r\n\r\n",
		    "app.app.dev");
	/* HTTP/1.0 may leave Host out */
	assert_host("GET http://app.app.dev/ HTTP/1.0\r\n\r\n", "app.app.dev");
	/* a Host header is still required in 1.1, and must still be valid */
	assert_bad("GET http://app.app.dev/ HTTP/1.1\r\n\r\n", "no Host header");
	assert_bad("GET http://app.app.dev/ HTTP/1.1\r\nHost: a_b\r\n\r\n", "bad host");
	/* the authority must be a host: no userinfo, not empty */
	assert_bad("GET http://user@app.app.dev/ HTTP/1.1\r\nHost: app.app.dev\r\n\r\n",
		   "bad host");
	assert_bad("GET http:///x HTTP/1.1\r\nHost: app.app.dev\r\n\r\n", "bad host");
	/* not absolute-form: origin, asterisk and authority forms use Host */
	assert_host("GET /http://app.app.dev/ HTTP/1.1\r\nHost: api.app.dev\r\n\r\n",
		    "api.app.dev");
	assert_host("OPTIONS * HTTP/1.1\r\nHost: api.app.dev\r\n\r\n", "api.app.dev");
	assert_host("CONNECT app.app.dev:443 HTTP/1.1\r\nHost: api.app.dev\r\n\r\n", "api.app.dev");
}

static void test_no_host(void **state)
{
	static const char v10[] = "GET / HTTP/1.0\r\nAccept: */*\r\n\r\n";
	static const char empty[] = "GET / HTTP/1.1\r\nHost:\r\n\r\n";
	struct peeked p;

	(void)state;
	p = peek(v10);
	assert_int_equal(p.verdict, XLB_PEEK_NONE);
	assert_int_equal(p.head_len, strlen(v10));
	assert_null(p.why);
	p = peek("GET / HTTP/1.0\r\n\r\n");
	assert_int_equal(p.verdict, XLB_PEEK_NONE);
	/* an empty Host names no host (RFC 9112 3.2) */
	p = peek(empty);
	assert_int_equal(p.verdict, XLB_PEEK_NONE);
	assert_int_equal(p.head_len, strlen(empty));
	assert_host("GET / HTTP/1.0\r\nHost: api.app.dev\r\n\r\n", "api.app.dev");
	assert_bad("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", "no Host header");
	assert_bad("GET / HTTP/1.1\r\n\r\n", "no Host header");
	assert_bad("GET / HTTP/1.9\r\n\r\n", "no Host header");
}

static void test_every_prefix_is_more(void **state)
{
	static const char *const valid[] = {
		"GET /index.html HTTP/1.1\r\nHost: api.app.dev:8080\r\nUser-Agent: x\r\n\r\n",
		"GET http://app.app.dev/ HTTP/1.1\r\nHost: api.app.dev\r\n\r\n",
		"\r\nGET / HTTP/1.0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a.dev\r\nContent-Length: 5\r\n\r\nhello",
		"GET / HTTP/1.1\r\nHost: [fd00::1]:80\r\nX:\r\n\r\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		struct peeked p = peek(valid[i]);

		assert_true(p.verdict == XLB_PEEK_OK || p.verdict == XLB_PEEK_NONE);
		assert_prefixes_more(valid[i], p.head_len);
	}
}

static void test_nothing_yet(void **state)
{
	char host[XLB_HOSTNAME_SIZE];
	const char *why = "unset";
	size_t head_len;

	(void)state;
	assert_int_equal(xlb_peek_http(NULL, 0, host, sizeof(host), &head_len, &why),
			 XLB_PEEK_MORE);
	assert_null(why);
}

static void test_leading_empty_lines(void **state)
{
	static const char s[] = "\r\n\r\nGET / HTTP/1.1\r\nHost: a.dev\r\n\r\n";
	struct peeked p;

	(void)state;
	p = peek(s);
	assert_int_equal(p.verdict, XLB_PEEK_OK);
	assert_string_equal(p.host, "a.dev");
	assert_int_equal(p.head_len, strlen(s));
}

static void test_request_line(void **state)
{
	static const char *const bad[] = {
		"GET /  HTTP/1.1\r\n",
		"GET  / HTTP/1.1\r\n",
		" GET / HTTP/1.1\r\n",
		"GET / HTTP/1.1 \r\n",
		"GET / HTTP/2.0\r\n",
		"GET / HTTP/1.10\r\n",
		"GET / http/1.1\r\n",
		"GET / HTTP/1\r\n",
		"GET /\r\n",
		"GET\r\n",
		"/ HTTP/1.1\r\n",
		"G(T / HTTP/1.1\r\n",
		"GET /\x80 HTTP/1.1\r\n",
		"GET\t/ HTTP/1.1\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_bad(bad[i], "bad request line");
	assert_host("M-SEARCH * HTTP/1.1\r\nHost: a.dev\r\n\r\n", "a.dev");
}

static void test_bad_headers(void **state)
{
	(void)state;
	assert_bad("GET / HTTP/1.1\r\nHost: a.dev\r\nX: 1\r\n  folded\r\n\r\n", "obs-fold");
	assert_bad("GET / HTTP/1.1\r\nHost: a.dev\r\nX: 1\r\n\tfolded\r\n\r\n", "obs-fold");
	assert_bad("GET / HTTP/1.1\r\n Host: a.dev\r\n\r\n", "obs-fold");
	assert_bad("GET / HTTP/1.1\r\nHost: a.dev\r\nHost: b.dev\r\n\r\n", "two Host headers");
	assert_bad("GET / HTTP/1.1\r\nhost: a.dev\r\nHOST: a.dev\r\n\r\n", "two Host headers");
	assert_bad("GET / HTTP/1.1\r\nHost: a.dev\r\nFoo\r\n\r\n", "header without colon");
	assert_bad("GET / HTTP/1.1\r\nHost : a.dev\r\n\r\n", "whitespace before colon");
	assert_bad("GET / HTTP/1.1\r\nHost\t: a.dev\r\n\r\n", "whitespace before colon");
	assert_bad("GET / HTTP/1.1\r\n: a.dev\r\n\r\n", "bad header name");
	assert_bad("GET / HTTP/1.1\r\nHo(st: a.dev\r\n\r\n", "bad header name");
	assert_bad("GET / HTTP/1.1\r\nX\x80: 1\r\nHost: a.dev\r\n\r\n", "bad header name");
}

static void test_bad_bytes(void **state)
{
	static const char nul[] = "GET / HTTP/1.1\r\nHost: a.dev\0.evil\r\n\r\n";

	(void)state;
	assert_bad_n(nul, sizeof(nul) - 1, "NUL byte");
	assert_bad_n("GET /\0", 6, "NUL byte"); /* refused before the line ends */
	assert_bad("GET / HTTP/1.1\r\nHost: a\x01.dev\r\n\r\n", "control character");
	assert_bad("GET / HTTP/1.1\r\nX: \x7f\r\nHost: a.dev\r\n\r\n", "control character");
	assert_bad("GET / HTTP/1.1\r\nX: a\rb\r\nHost: a.dev\r\n\r\n", "bare CR");
	assert_bad("GET / HTTP/1.1\r\nHost: a.dev\r\r\n\r\n", "bare CR");
	assert_bad("GET / HTTP/1.1\nHost: a.dev\n\n", "bare LF");
	assert_bad("GET / HTTP/1.1\r\nHost: a.dev\r\n\n", "bare LF");
	/* a TLS ClientHello on the HTTP port: refused from its first byte */
	assert_bad_n("\x16\x03\x01", 1, "control character");
}

static void test_bad_host(void **state)
{
	static const char *const bad[] = {
		GET_HOST("a_b.dev"),	 GET_HOST("a..dev"),	  GET_HOST(":80"),
		GET_HOST("a.dev:x"),	 GET_HOST("a.dev:65536"), GET_HOST("a.dev:123456"),
		GET_HOST("a.dev:80:80"), GET_HOST("a dev"),	  GET_HOST("a.dev, b.dev"),
		GET_HOST("user@a.dev"),	 GET_HOST("[::1"),	  GET_HOST("[]"),
		GET_HOST("[::1]x"),	 GET_HOST("[::g]"),	  GET_HOST("a%2e.dev"),
		GET_HOST("."),		 GET_HOST("-a.dev"),
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_bad(bad[i], "bad host");
}

/* A name that does not fit the caller's buffer is refused, not cut. */
static void test_host_buffer_size(void **state)
{
	static const char s[] = GET_HOST("api.app.dev");
	struct peeked p;

	(void)state;
	p = peek_n_sized(s, strlen(s), 12);
	assert_int_equal(p.verdict, XLB_PEEK_OK);
	assert_string_equal(p.host, "api.app.dev");
	p = peek_n_sized(s, strlen(s), 11);
	assert_int_equal(p.verdict, XLB_PEEK_BAD);
	assert_string_equal(p.why, "bad host");
}

static void test_framing(void **state)
{
	(void)state;
	assert_host("POST / HTTP/1.1\r\nHost: a.dev\r\nTransfer-Encoding: chunked\r\n\r\n",
		    "a.dev");
	assert_host("POST / HTTP/1.1\r\nHost: a.dev\r\nContent-Length: 12\r\n\r\n", "a.dev");
	assert_bad("POST / HTTP/1.1\r\nHost: a.dev\r\nContent-Length: 5\r\n"
		   "Transfer-Encoding: chunked\r\n\r\n",
		   "Content-Length with Transfer-Encoding");
	assert_bad("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nHost: a.dev\r\n"
		   "content-length: 5\r\n\r\n",
		   "Content-Length with Transfer-Encoding");
	assert_bad("POST / HTTP/1.1\r\nHost: a.dev\r\nContent-Length: 5\r\n"
		   "Content-Length: 5\r\n\r\n",
		   "two Content-Length headers");
	assert_bad("POST / HTTP/1.1\r\nHost: a.dev\r\nContent-Length: 5, 5\r\n\r\n",
		   "bad Content-Length");
	assert_bad("POST / HTTP/1.1\r\nHost: a.dev\r\nContent-Length: +5\r\n\r\n",
		   "bad Content-Length");
	assert_bad("POST / HTTP/1.1\r\nHost: a.dev\r\nContent-Length:\r\n\r\n",
		   "bad Content-Length");
	assert_bad("POST / HTTP/1.1\r\nHost: a.dev\r\nContent-Length: 1234567890123456789\r\n\r\n",
		   "bad Content-Length");
}

/* Transfer-Encoding: chunked last and once, one header line, HTTP/1.1
 * only; every other shape leaves the body's end to a guess. */
static void test_transfer_encoding(void **state)
{
	static const char *const ok[] = {
		"Transfer-Encoding: chunked",
		"Transfer-Encoding: CHUNKED",
		"Transfer-Encoding: gzip, chunked",
		"Transfer-Encoding: gzip,chunked",
		"Transfer-Encoding: \t gzip \t,\tchunked \t",
	};
	static const char *const bad[] = {
		"Transfer-Encoding: gzip",
		"Transfer-Encoding: chunked, gzip",
		"Transfer-Encoding: chunked, chunked",
		"Transfer-Encoding: xchunked",
		"Transfer-Encoding: chunkedx",
		"Transfer-Encoding: chunked;q=1",
		"Transfer-Encoding: \"chunked\"",
		"Transfer-Encoding: chunked,",
		"Transfer-Encoding: ,chunked",
		"Transfer-Encoding: gzip chunked",
		"Transfer-Encoding:",
		"Transfer-Encoding: chunked\x0bx",
	};
	char buf[256];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(buf, sizeof(buf), "POST / HTTP/1.1\r\nHost: a.dev\r\n%s\r\n\r\n", ok[i]);
		assert_host(buf, "a.dev");
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "POST / HTTP/1.1\r\nHost: a.dev\r\n%s\r\n\r\n", bad[i]);
		if (strchr(bad[i], '\x0b'))
			assert_bad(buf, "control character");
		else
			assert_bad(buf, "bad Transfer-Encoding");
	}
	assert_bad("POST / HTTP/1.1\r\nHost: a.dev\r\nTransfer-Encoding: chunked\r\n"
		   "Transfer-Encoding: chunked\r\n\r\n",
		   "two Transfer-Encoding headers");
	assert_bad("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nHost: a.dev\r\n"
		   "transfer-encoding: identity\r\n\r\n",
		   "two Transfer-Encoding headers");
	assert_bad("POST / HTTP/1.0\r\nHost: a.dev\r\nTransfer-Encoding: chunked\r\n\r\n",
		   "Transfer-Encoding in HTTP/1.0");
	assert_bad("POST / HTTP/1.1\r\nHost: a.dev\r\nTransfer-Encoding: chunked\r\n"
		   "Content-Length: 0\r\n\r\n",
		   "Content-Length with Transfer-Encoding");
}

/* Request smuggling and routing-by-guess shapes, one each:
 * all refused, none routed. */
static void test_smuggling_shapes(void **state)
{
	static const struct {
		const char *head;
		const char *why;
	} shapes[] = {
		{ "GET / HTTP/1.1\r\nHost: api.app.dev\r\nHost: app.app.dev\r\n\r\n",
		  "two Host headers" },
		{ "GET / HTTP/1.1\r\nHost: api.app.dev\r\nhost: api.app.dev\r\n\r\n",
		  "two Host headers" },
		{ "GET / HTTP/1.1\r\nHost: api.app.dev\r\n app.app.dev\r\n\r\n", "obs-fold" },
		{ "GET / HTTP/1.1\r\nX: 1\r\n\tHost: app.app.dev\r\nHost: api.app.dev\r\n\r\n",
		  "obs-fold" },
		{ "POST / HTTP/1.1\r\nHost: api.app.dev\r\nContent-Length: 4\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n",
		  "Content-Length with Transfer-Encoding" },
		{ "POST / HTTP/1.1\r\nHost: api.app.dev\r\nContent-Length: 4\r\n"
		  "Content-Length: 40\r\n\r\n",
		  "two Content-Length headers" },
		{ "POST / HTTP/1.1\r\nHost: api.app.dev\r\nContent-Length : 4\r\n\r\n",
		  "whitespace before colon" },
		{ "POST / HTTP/1.1\r\nHost: api.app.dev\r\nTransfer-Encoding : chunked\r\n\r\n",
		  "whitespace before colon" },
		{ "GET / HTTP/1.1\r\nHost: user@api.app.dev\r\n\r\n", "bad host" },
		{ "GET / HTTP/1.1\r\nHost: user:pw@api.app.dev\r\n\r\n", "bad host" },
		{ "GET / HTTP/1.1\r\nHost: api.app.dev app.app.dev\r\n\r\n", "bad host" },
		{ "GET / HTTP/1.1\r\nHost: api.app.dev/x\r\n\r\n", "bad host" },
		{ "GET / HTTP/1.1\r\nHost: api.app.dev?x\r\n\r\n", "bad host" },
		{ "GET / HTTP/1.1\r\nHost: api.app.dev#x\r\n\r\n", "bad host" },
		{ "GET / HTTP/1.1\r\nHost: api.app.dev\\x\r\n\r\n", "bad host" },
		{ "GET / HTTP/1.1\r\nHost: \"api.app.dev\"\r\n\r\n", "bad host" },
		/* bad UTF-8 (a lone continuation byte, a cut sequence, an overlong
		 * '/'), and valid UTF-8: a name must be the ASCII (punycode) form */
		{ "GET / HTTP/1.1\r\nHost: api\x80.app.dev\r\n\r\n", "bad host" },
		{ "GET / HTTP/1.1\r\nHost: api.app.dev\xc3\r\n\r\n", "bad host" },
		{ "GET / HTTP/1.1\r\nHost: api\xc0\xaf.app.dev\r\n\r\n", "bad host" },
		{ "GET / HTTP/1.1\r\nHost: \xff\xfe\r\n\r\n", "bad host" },
		{ "GET / HTTP/1.1\r\nHost: b\xc3\xbc"
		  "cher.app.dev\r\n\r\n",
		  "bad host" },
		{ "GET http://b\xc3\xbc"
		  "cher.dev/ HTTP/1.1\r\nHost: a.dev\r\n\r\n",
		  "bad request line" },
		{ "POST / HTTP/1.1\r\nHost: api.app.dev\r\nTransfer-Encoding: chunked\r\n"
		  "Transfer-Encoding: identity\r\n\r\n",
		  "two Transfer-Encoding headers" },
		{ "POST / HTTP/1.1\r\nHost: api.app.dev\r\nTransfer-Encoding: chunked, identity\r\n"
		  "\r\n",
		  "bad Transfer-Encoding" },
		{ "POST / HTTP/1.0\r\nHost: api.app.dev\r\nTransfer-Encoding: chunked\r\n\r\n",
		  "Transfer-Encoding in HTTP/1.0" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		assert_bad(shapes[i].head, shapes[i].why);
}

/* A NUL refuses the head wherever it is: request line, header name or
 * value, the blank line; and before the line that holds it is complete.
 * (In place of an LF it leaves its CR bare, which is refused first.) */
static void test_nul_anywhere(void **state)
{
	static const char head[] = "GET /x HTTP/1.1\r\nHost: api.app.dev\r\nX-A: b\r\n\r\n";
	size_t n = sizeof(head) - 1;
	char buf[sizeof(head)];

	(void)state;
	for (size_t at = 0; at < n; at++) {
		const char *why = head[at] == '\n' ? "bare CR" : "NUL byte";

		memcpy(buf, head, n);
		buf[at] = '\0';
		assert_bad_n(buf, n, why);
		assert_bad_n(buf, at + 1, why);
	}
}

/* Limits are the caller's: a large head is MORE until its blank line, and
 * a head ending exactly at the end of the bytes is OK. */
static void test_large_head(void **state)
{
	static const char start[] = "GET / HTTP/1.1\r\nHost: big.app.dev\r\nX-Big: ";
	size_t big = 16 * 1024, n = strlen(start);
	char *s = malloc(big + 1);
	struct peeked p;

	(void)state;
	assert_non_null(s);
	memcpy(s, start, n);
	memset(s + n, 'x', big - n - 4);
	memcpy(s + big - 4, "\r\n\r\n", 4);
	s[big] = '\0';
	p = peek_n(s, big - 1);
	assert_int_equal(p.verdict, XLB_PEEK_MORE);
	p = peek_n(s, big);
	assert_int_equal(p.verdict, XLB_PEEK_OK);
	assert_string_equal(p.host, "big.app.dev");
	assert_int_equal(p.head_len, big);
	free(s);
}

/* keep-alive: a second request right behind the first head; a body with
 * bytes a head may not hold is not looked at. */
static void test_pipelined(void **state)
{
	static const char first[] = "GET /a HTTP/1.1\r\nHost: api.app.dev\r\n\r\n";
	static const char both[] = "GET /a HTTP/1.1\r\nHost: api.app.dev\r\n\r\n"
				   "GET /b HTTP/1.1\r\nHost: app.app.dev\r\n\r\n";
	static const char body[] = "POST / HTTP/1.1\r\nHost: a.dev\r\nContent-Length: 4\r\n\r\n"
				   "\0\x01\r\x7f";
	struct peeked p;

	(void)state;
	p = peek(both);
	assert_int_equal(p.verdict, XLB_PEEK_OK);
	assert_string_equal(p.host, "api.app.dev");
	assert_int_equal(p.head_len, strlen(first));
	p = peek(both + p.head_len);
	assert_int_equal(p.verdict, XLB_PEEK_OK);
	assert_string_equal(p.host, "app.app.dev");
	assert_int_equal(p.head_len, strlen(both) - strlen(first));

	p = peek_n(body, sizeof(body) - 1);
	assert_int_equal(p.verdict, XLB_PEEK_OK);
	assert_int_equal(p.head_len, sizeof(body) - 1 - 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_get),
		cmocka_unit_test(test_host_with_port),
		cmocka_unit_test(test_uppercase),
		cmocka_unit_test(test_absolute_form_wins),
		cmocka_unit_test(test_no_host),
		cmocka_unit_test(test_every_prefix_is_more),
		cmocka_unit_test(test_nothing_yet),
		cmocka_unit_test(test_leading_empty_lines),
		cmocka_unit_test(test_request_line),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_bad_bytes),
		cmocka_unit_test(test_bad_host),
		cmocka_unit_test(test_host_buffer_size),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_transfer_encoding),
		cmocka_unit_test(test_smuggling_shapes),
		cmocka_unit_test(test_nul_anywhere),
		cmocka_unit_test(test_large_head),
		cmocka_unit_test(test_pipelined),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
