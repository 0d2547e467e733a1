// SPDX-License-Identifier: GPL-2.0
/* HTTP/1.1 message heads and chunked framing (proxy/http1.h). Every parse
 * gets a heap copy of exactly the bytes under test, so ASan catches a read
 * one byte too far; spans are offsets, so they are read back in the
 * original string. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/http1.h"

#define MAX_FIELDS 16
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct parsed_req {
	enum xlb_http1 verdict;
	struct xlb_http1_request req;
	struct xlb_http1_field fields[MAX_FIELDS];
};

struct parsed_resp {
	enum xlb_http1 verdict;
	struct xlb_http1_response resp;
	struct xlb_http1_field fields[MAX_FIELDS];
};

static const char *verdict_name(enum xlb_http1 v)
{
	switch (v) {
	case XLB_HTTP1_MORE:
		return "MORE";
	case XLB_HTTP1_OK:
		return "OK";
	case XLB_HTTP1_BAD:
		return "BAD";
	}
	return "?";
}

static char *heap_copy(const char *s, size_t n)
{
	char *copy = malloc(n ? n : 1);

	assert_non_null(copy);
	memcpy(copy, s, n);
	return copy;
}

static void parse_req_n(struct parsed_req *p, const char *s, size_t n, unsigned int max_fields)
{
	char *copy = heap_copy(s, n);

	p->verdict = xlb_http1_parse_request(copy, n, &p->req, p->fields, max_fields);
	free(copy);
}

static void parse_resp_n(struct parsed_resp *p, const char *s, size_t n,
			 enum xlb_http1_method method)
{
	char *copy = heap_copy(s, n);

	p->verdict = xlb_http1_parse_response(copy, n, method, &p->resp, p->fields, MAX_FIELDS);
	free(copy);
}

/* OK, and the head is the whole of s. */
static void req_ok(struct parsed_req *p, const char *s)
{
	parse_req_n(p, s, strlen(s), MAX_FIELDS);
	if (p->verdict != XLB_HTTP1_OK)
		fail_msg("%s (%s) for: %s", verdict_name(p->verdict),
			 p->req.head.why ? p->req.head.why : "-", s);
	assert_int_equal(p->req.head.head_len, strlen(s));
	assert_null(p->req.head.why);
}

static void resp_ok(struct parsed_resp *p, const char *s, enum xlb_http1_method method)
{
	parse_resp_n(p, s, strlen(s), method);
	if (p->verdict != XLB_HTTP1_OK)
		fail_msg("%s (%s) for: %s", verdict_name(p->verdict),
			 p->resp.head.why ? p->resp.head.why : "-", s);
	assert_int_equal(p->resp.head.head_len, strlen(s));
}

/* BAD for why, with no framing and no host to act on. */
static void assert_req_bad(const char *s, const char *why)
{
	struct parsed_req p;

	parse_req_n(&p, s, strlen(s), MAX_FIELDS);
	if (p.verdict != XLB_HTTP1_BAD)
		fail_msg("%s instead of BAD '%s' for: %s", verdict_name(p.verdict), why, s);
	assert_string_equal(p.req.head.why, why);
	assert_int_equal(p.req.head.body, XLB_HTTP1_BODY_UNKNOWN);
	assert_string_equal(p.req.host, "");
}

static void assert_resp_bad(const char *s, const char *why)
{
	struct parsed_resp p;

	parse_resp_n(&p, s, strlen(s), XLB_HTTP1_M_GET);
	if (p.verdict != XLB_HTTP1_BAD)
		fail_msg("%s instead of BAD '%s' for: %s", verdict_name(p.verdict), why, s);
	assert_string_equal(p.resp.head.why, why);
	assert_int_equal(p.resp.head.body, XLB_HTTP1_BODY_UNKNOWN);
}

static void assert_span(const char *s, struct xlb_http1_span sp, const char *want)
{
	if (sp.len != strlen(want) || memcmp(s + sp.off, want, sp.len) != 0)
		fail_msg("span '%.*s' is not '%s'", (int)sp.len, s + sp.off, want);
}

/* ---- requests --------------------------------------------------------------- */

static void test_request_simple_get(void **state)
{
	static const char s[] = "GET /index.html HTTP/1.1\r\n"
				"Host: API.app.dev:8080\r\n"
				"User-Agent: curl/7.88.1\r\n"
				"\r\n";
	struct parsed_req p;

	(void)state;
	req_ok(&p, s);
	assert_int_equal(p.req.method, XLB_HTTP1_M_GET);
	assert_span(s, p.req.method_name, "GET");
	assert_int_equal(p.req.form, XLB_HTTP1_T_ORIGIN);
	assert_span(s, p.req.target, "/index.html");
	assert_span(s, p.req.path, "/index.html");
	assert_false(p.req.has_query);
	assert_int_equal(p.req.query.len, 0);
	assert_int_equal(p.req.head.minor, 1);
	assert_string_equal(p.req.host, "api.app.dev");
	assert_int_equal(p.req.head.body, XLB_HTTP1_BODY_NONE);
	assert_true(p.req.head.keep_alive);
	assert_int_equal(p.req.head.connection, 0);
	assert_false(p.req.head.upgrade);
	assert_false(p.req.expect_continue);
	assert_int_equal(p.req.head.start, 0);
	assert_int_equal(p.req.head.n_fields, 2);
}

/* Each line's place: the line with its CRLF, the name, the value without
 * OWS; the proxy drops and rewrites heads by these. */
static void test_request_field_places(void **state)
{
	static const char s[] = "POST /a HTTP/1.1\r\n"
				"Host:a.dev\r\n"
				"X-Forwarded-For: \t 10.0.0.1 \t\r\n"
				"Empty:\r\n"
				"Content-Length: 3\r\n"
				"\r\n";
	struct parsed_req p;
	const struct xlb_http1_field *f = p.fields;

	(void)state;
	req_ok(&p, s);
	assert_int_equal(p.req.head.n_fields, 4);
	assert_span(s, f[0].line, "Host:a.dev\r\n");
	assert_span(s, f[0].name, "Host");
	assert_span(s, f[0].value, "a.dev");
	assert_int_equal(f[0].kind, XLB_HTTP1_F_HOST);
	assert_span(s, f[1].line, "X-Forwarded-For: \t 10.0.0.1 \t\r\n");
	assert_span(s, f[1].value, "10.0.0.1");
	assert_int_equal(f[1].kind, XLB_HTTP1_F_X_FORWARDED_FOR);
	assert_span(s, f[2].name, "Empty");
	assert_int_equal(f[2].value.len, 0);
	assert_int_equal(f[2].kind, XLB_HTTP1_F_OTHER);
	assert_int_equal(f[3].kind, XLB_HTTP1_F_CONTENT_LENGTH);
	/* the lines tile the head between the request line and the blank line */
	assert_int_equal(f[0].line.off, strlen("POST /a HTTP/1.1\r\n"));
	for (int i = 1; i < 4; i++)
		assert_int_equal(f[i].line.off, f[i - 1].line.off + f[i - 1].line.len);
	assert_int_equal(f[3].line.off + f[3].line.len + 2, strlen(s));
}

static void test_request_field_kinds(void **state)
{
	static const struct {
		const char *name;
		enum xlb_http1_field_kind kind;
	} kinds[] = {
		{ "HOST", XLB_HTTP1_F_HOST },
		{ "content-length", XLB_HTTP1_F_CONTENT_LENGTH },
		{ "Connection", XLB_HTTP1_F_CONNECTION },
		{ "Keep-Alive", XLB_HTTP1_F_KEEP_ALIVE },
		{ "Proxy-Connection", XLB_HTTP1_F_PROXY_CONNECTION },
		{ "Upgrade", XLB_HTTP1_F_UPGRADE },
		{ "TE", XLB_HTTP1_F_TE },
		{ "Trailer", XLB_HTTP1_F_TRAILER },
		{ "Expect", XLB_HTTP1_F_EXPECT },
		{ "Forwarded", XLB_HTTP1_F_FORWARDED },
		{ "X-Forwarded-Host", XLB_HTTP1_F_X_FORWARDED_HOST },
		{ "x-forwarded-proto", XLB_HTTP1_F_X_FORWARDED_PROTO },
		{ "X-Forwarded-Port", XLB_HTTP1_F_X_FORWARDED_PORT },
		{ "X-Forwarded-Prefix", XLB_HTTP1_F_X_FORWARDED_PREFIX },
		{ "X-Forwarded", XLB_HTTP1_F_OTHER },
		{ "Hosts", XLB_HTTP1_F_OTHER },
		{ "Content-Length2", XLB_HTTP1_F_OTHER },
	};
	char buf[256];
	struct parsed_req p;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		bool host = kinds[i].kind == XLB_HTTP1_F_HOST;

		snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\n%s%s: %s\r\n\r\n",
			 host ? "" : "Host: a.dev\r\n", kinds[i].name,
			 kinds[i].kind == XLB_HTTP1_F_CONTENT_LENGTH ? "0" : "a.dev");
		req_ok(&p, buf);
		assert_int_equal(p.fields[host ? 0 : 1].kind, kinds[i].kind);
	}
}

static void test_request_methods(void **state)
{
	static const struct {
		const char *name;
		enum xlb_http1_method method;
		bool idempotent;
	} methods[] = {
		{ "GET", XLB_HTTP1_M_GET, true },
		{ "HEAD", XLB_HTTP1_M_HEAD, true },
		{ "POST", XLB_HTTP1_M_POST, false },
		{ "PUT", XLB_HTTP1_M_PUT, true },
		{ "DELETE", XLB_HTTP1_M_DELETE, true },
		{ "OPTIONS", XLB_HTTP1_M_OPTIONS, true },
		{ "TRACE", XLB_HTTP1_M_TRACE, true },
		{ "PATCH", XLB_HTTP1_M_PATCH, false },
		/* methods are case-sensitive: these are other methods */
		{ "get", XLB_HTTP1_M_OTHER, false },
		{ "PROPFIND", XLB_HTTP1_M_OTHER, false },
		{ "GETS", XLB_HTTP1_M_OTHER, false },
	};
	char buf[128];
	struct parsed_req p;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++) {
		snprintf(buf, sizeof(buf), "%s /x HTTP/1.1\r\nHost: a.dev\r\n\r\n",
			 methods[i].name);
		req_ok(&p, buf);
		assert_int_equal(p.req.method, methods[i].method);
		assert_span(buf, p.req.method_name, methods[i].name);
		assert_int_equal(xlb_http1_method_idempotent(p.req.method), methods[i].idempotent);
	}
	assert_false(xlb_http1_method_idempotent(XLB_HTTP1_M_CONNECT));
}

static void test_request_origin_form_query(void **state)
{
	static const char s[] = "GET /v1/items?x=1&y=/z?w HTTP/1.1\r\nHost: a.dev\r\n\r\n";
	static const char empty_q[] = "GET /a? HTTP/1.1\r\nHost: a.dev\r\n\r\n";
	struct parsed_req p;

	(void)state;
	req_ok(&p, s);
	assert_span(s, p.req.path, "/v1/items");
	assert_true(p.req.has_query);
	assert_span(s, p.req.query, "x=1&y=/z?w");
	req_ok(&p, empty_q);
	assert_span(empty_q, p.req.path, "/a");
	assert_true(p.req.has_query);
	assert_int_equal(p.req.query.len, 0);
}

/* absolute-form: the authority names the host, over Host (RFC 9112 3.2.2) */
static void test_request_absolute_form(void **state)
{
	static const char s[] =
		"GET http://App.app.dev:81/x/y?q=1 HTTP/1.1\r\nHost: api.app.dev\r\n\r\n";
	static const char bare[] = "GET https://app.app.dev HTTP/1.1\r\nHost: api.app.dev\r\n\r\n";
	static const char query[] = "GET HTTP://app.app.dev?q HTTP/1.0\r\n\r\n";
	struct parsed_req p;

	(void)state;
	req_ok(&p, s);
	assert_int_equal(p.req.form, XLB_HTTP1_T_ABSOLUTE);
	assert_span(s, p.req.authority, "App.app.dev:81");
	assert_span(s, p.req.path, "/x/y");
	assert_span(s, p.req.query, "q=1");
	assert_string_equal(p.req.host, "app.app.dev");
	req_ok(&p, bare);
	assert_span(bare, p.req.authority, "app.app.dev");
	assert_int_equal(p.req.path.len, 0);
	assert_false(p.req.has_query);
	assert_string_equal(p.req.host, "app.app.dev");
	req_ok(&p, query);
	assert_int_equal(p.req.path.len, 0);
	assert_span(query, p.req.query, "q");
	assert_string_equal(p.req.host, "app.app.dev");
	assert_int_equal(p.req.head.minor, 0);
}

/* CONNECT takes authority-form only, and authority-form is CONNECT's
 * only (RFC 9112 3.2.3); the Host header still names the host. */
static void test_request_authority_form(void **state)
{
	static const char s[] = "CONNECT app.app.dev:443 HTTP/1.1\r\nHost: api.app.dev\r\n\r\n";
	static const char v6[] = "CONNECT [fd00::1]:443 HTTP/1.1\r\nHost: api.app.dev\r\n\r\n";
	struct parsed_req p;

	(void)state;
	req_ok(&p, s);
	assert_int_equal(p.req.method, XLB_HTTP1_M_CONNECT);
	assert_int_equal(p.req.form, XLB_HTTP1_T_AUTHORITY);
	assert_span(s, p.req.authority, "app.app.dev:443");
	assert_int_equal(p.req.path.len, 0);
	assert_string_equal(p.req.host, "api.app.dev");
	req_ok(&p, v6);
	assert_span(v6, p.req.authority, "[fd00::1]:443");
}

static void test_request_asterisk_form(void **state)
{
	static const char s[] = "OPTIONS * HTTP/1.1\r\nHost: a.dev\r\n\r\n";
	struct parsed_req p;

	(void)state;
	req_ok(&p, s);
	assert_int_equal(p.req.form, XLB_HTTP1_T_ASTERISK);
	assert_int_equal(p.req.path.len, 0);
	assert_span(s, p.req.target, "*");
}

static void test_request_bad_targets(void **state)
{
	static const char *const bad[] = {
		"CONNECT / HTTP/1.1\r\nHost: a.dev\r\n\r\n",
		"CONNECT a.dev HTTP/1.1\r\nHost: a.dev\r\n\r\n",
		"CONNECT a.dev: HTTP/1.1\r\nHost: a.dev\r\n\r\n",
		"CONNECT a_b.dev:443 HTTP/1.1\r\nHost: a.dev\r\n\r\n",
		"CONNECT [::1] HTTP/1.1\r\nHost: a.dev\r\n\r\n",
		"CONNECT http://a.dev:443/ HTTP/1.1\r\nHost: a.dev\r\n\r\n",
		"CONNECT * HTTP/1.1\r\nHost: a.dev\r\n\r\n",
		"GET a.dev:443 HTTP/1.1\r\nHost: a.dev\r\n\r\n",
		"GET index.html HTTP/1.1\r\nHost: a.dev\r\n\r\n",
		"GET http:/a.dev/ HTTP/1.1\r\nHost: a.dev\r\n\r\n",
		"GET /a#b HTTP/1.1\r\nHost: a.dev\r\n\r\n",
		"GET http://a.dev/#x HTTP/1.1\r\nHost: a.dev\r\n\r\n",
		"GET ** HTTP/1.1\r\nHost: a.dev\r\n\r\n",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_req_bad(bad[i], "bad request line");
}

static void test_request_bad_request_lines(void **state)
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
	};

	(void)state;
	/* refused as soon as the line is complete, before the head is */
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_req_bad(bad[i], "bad request line");
}

/* RFC 9112 9.3: 1.1 persists unless close, 1.0 only with keep-alive */
static void test_request_keep_alive(void **state)
{
	static const struct {
		const char *head;
		unsigned int connection;
		bool keep_alive;
	} cases[] = {
		{ "GET / HTTP/1.1\r\nHost: a.dev\r\n\r\n", 0, true },
		{ "GET / HTTP/1.1\r\nHost: a.dev\r\nConnection: close\r\n\r\n",
		  XLB_HTTP1_CONN_CLOSE, false },
		{ "GET / HTTP/1.1\r\nHost: a.dev\r\nConnection: Keep-Alive, CLOSE\r\n\r\n",
		  XLB_HTTP1_CONN_CLOSE | XLB_HTTP1_CONN_KEEP_ALIVE, false },
		{ "GET / HTTP/1.0\r\n\r\n", 0, false },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", XLB_HTTP1_CONN_KEEP_ALIVE,
		  true },
		/* a list over two lines, empty elements, other options */
		{ "GET / HTTP/1.0\r\nConnection: , x-opt ,\r\nConnection:\t,keep-alive\t\r\n\r\n",
		  XLB_HTTP1_CONN_KEEP_ALIVE, true },
		{ "GET / HTTP/1.1\r\nHost: a.dev\r\nConnection: closed, keep-alive2\r\n\r\n", 0,
		  true },
		{ "GET / HTTP/1.1\r\nHost: a.dev\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		  XLB_HTTP1_CONN_UPGRADE, true },
	};
	struct parsed_req p;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		req_ok(&p, cases[i].head);
		assert_int_equal(p.req.head.connection, cases[i].connection);
		assert_int_equal(p.req.head.keep_alive, cases[i].keep_alive);
	}
}

static void test_request_upgrade_and_expect(void **state)
{
	struct parsed_req p;

	(void)state;
	req_ok(&p, "GET /ws HTTP/1.1\r\nHost: a.dev\r\nConnection: upgrade\r\n"
		   "Upgrade: websocket\r\n\r\n");
	assert_true(p.req.head.upgrade);
	assert_true(p.req.head.connection & XLB_HTTP1_CONN_UPGRADE);
	req_ok(&p, "PUT /f HTTP/1.1\r\nHost: a.dev\r\nExpect: 100-Continue\r\n"
		   "Content-Length: 10\r\n\r\n");
	assert_true(p.req.expect_continue);
	req_ok(&p, "PUT /f HTTP/1.1\r\nHost: a.dev\r\nExpect: 100-continue-x\r\n\r\n");
	assert_false(p.req.expect_continue);
	assert_false(p.req.head.upgrade);
}

static void test_request_framing(void **state)
{
	static const struct {
		const char *fields;
		enum xlb_http1_body body;
		uint64_t length;
	} cases[] = {
		{ "", XLB_HTTP1_BODY_NONE, 0 },
		{ "Content-Length: 0\r\n", XLB_HTTP1_BODY_LENGTH, 0 },
		{ "Content-Length: 12\r\n", XLB_HTTP1_BODY_LENGTH, 12 },
		{ "Content-Length: 999999999999999999\r\n", XLB_HTTP1_BODY_LENGTH,
		  999999999999999999ull },
		{ "Content-Length: 007\r\n", XLB_HTTP1_BODY_LENGTH, 7 },
		{ "Transfer-Encoding: chunked\r\n", XLB_HTTP1_BODY_CHUNKED, 0 },
		{ "Transfer-Encoding: gzip, Chunked\r\n", XLB_HTTP1_BODY_CHUNKED, 0 },
	};
	char buf[256];
	struct parsed_req p;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(buf, sizeof(buf), "POST / HTTP/1.1\r\nHost: a.dev\r\n%s\r\n",
			 cases[i].fields);
		req_ok(&p, buf);
		assert_int_equal(p.req.head.body, cases[i].body);
		assert_int_equal(p.req.head.content_length, cases[i].length);
	}
}

/* Every refused shape, one line each: none is ever framed. */
static void test_request_refused_shapes(void **state)
{
	static const struct {
		const char *head;
		const char *why;
	} shapes[] = {
		{ "GET / HTTP/1.1\r\nHost: a.dev\r\nX: 1\r\n  folded\r\n\r\n", "obs-fold" },
		{ "GET / HTTP/1.1\r\n\tHost: a.dev\r\n\r\n", "obs-fold" },
		{ "GET / HTTP/1.1\r\nHost: a.dev\r\nFoo\r\n\r\n", "header without colon" },
		{ "GET / HTTP/1.1\r\nHost : a.dev\r\n\r\n", "whitespace before colon" },
		{ "GET / HTTP/1.1\r\n: a.dev\r\n\r\n", "bad header name" },
		{ "GET / HTTP/1.1\r\nHo(st: a.dev\r\n\r\n", "bad header name" },
		{ "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", "bare CR" },
		{ "GET / HTTP/1.1\nHost: a.dev\n\n", "bare LF" },
		{ "GET / HTTP/1.1\r\nHost: a.dev\r\n\n", "bare LF" },
		{ "GET / HTTP/1.1\r\nHost: a\x01.dev\r\n\r\n", "control character" },
		{ "GET / HTTP/1.1\r\nX: \x7f\r\n\r\n", "control character" },
		{ "GET / HTTP/1.1\r\nHost: a.dev\r\nHost: b.dev\r\n\r\n", "two Host headers" },
		{ "GET / HTTP/1.1\r\n\r\n", "no Host header" },
		{ "GET / HTTP/1.1\r\nHost: a_b.dev\r\n\r\n", "bad host" },
		{ "GET http://u@a.dev/ HTTP/1.1\r\nHost: a.dev\r\n\r\n", "bad host" },
		{ "GET http:///x HTTP/1.1\r\nHost: a.dev\r\n\r\n", "bad host" },
		{ "POST / HTTP/1.1\r\nHost: a.dev\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
		  "two Content-Length headers" },
		{ "POST / HTTP/1.1\r\nHost: a.dev\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		  "two Content-Length headers" },
		{ "POST / HTTP/1.1\r\nHost: a.dev\r\nContent-Length: 5, 5\r\n\r\n",
		  "bad Content-Length" },
		{ "POST / HTTP/1.1\r\nHost: a.dev\r\nContent-Length: -1\r\n\r\n",
		  "bad Content-Length" },
		{ "POST / HTTP/1.1\r\nHost: a.dev\r\nContent-Length: 0x10\r\n\r\n",
		  "bad Content-Length" },
		{ "POST / HTTP/1.1\r\nHost: a.dev\r\nContent-Length: 1234567890123456789\r\n\r\n",
		  "bad Content-Length" },
		{ "POST / HTTP/1.1\r\nHost: a.dev\r\nContent-Length:\r\n\r\n",
		  "bad Content-Length" },
		{ "POST / HTTP/1.1\r\nHost: a.dev\r\nTransfer-Encoding: chunked\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n",
		  "two Transfer-Encoding headers" },
		{ "POST / HTTP/1.1\r\nHost: a.dev\r\nTransfer-Encoding: gzip\r\n\r\n",
		  "bad Transfer-Encoding" },
		{ "POST / HTTP/1.1\r\nHost: a.dev\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
		  "bad Transfer-Encoding" },
		{ "POST / HTTP/1.1\r\nHost: a.dev\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
		  "bad Transfer-Encoding" },
		{ "POST / HTTP/1.1\r\nHost: a.dev\r\nTransfer-Encoding: identity\r\n\r\n",
		  "bad Transfer-Encoding" },
		{ "POST / HTTP/1.0\r\nHost: a.dev\r\nTransfer-Encoding: chunked\r\n\r\n",
		  "Transfer-Encoding in HTTP/1.0" },
		{ "POST / HTTP/1.1\r\nHost: a.dev\r\nContent-Length: 5\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n",
		  "Content-Length with Transfer-Encoding" },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nHost: a.dev\r\n"
		  "content-length: 0\r\n\r\n",
		  "Content-Length with Transfer-Encoding" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(shapes); i++)
		assert_req_bad(shapes[i].head, shapes[i].why);
}

static void test_request_nul_byte(void **state)
{
	static const char s[] = "GET / HTTP/1.1\r\nHost: a.dev\0.evil\r\n\r\n";
	struct parsed_req p;

	(void)state;
	parse_req_n(&p, s, sizeof(s) - 1, MAX_FIELDS);
	assert_int_equal(p.verdict, XLB_HTTP1_BAD);
	assert_string_equal(p.req.head.why, "NUL byte");
	/* refused before its line is complete */
	parse_req_n(&p, "GET /\0", 6, MAX_FIELDS);
	assert_int_equal(p.verdict, XLB_HTTP1_BAD);
	assert_string_equal(p.req.head.why, "NUL byte");
}

/* More lines than the caller has room for are refused; without a room,
 * none is recorded and any number is taken (the peeker's way). */
static void test_request_too_many_fields(void **state)
{
	static const char s[] = "GET / HTTP/1.1\r\nHost: a.dev\r\nA: 1\r\nB: 2\r\n\r\n";
	struct parsed_req p;

	(void)state;
	parse_req_n(&p, s, strlen(s), 3);
	assert_int_equal(p.verdict, XLB_HTTP1_OK);
	assert_int_equal(p.req.head.n_fields, 3);
	parse_req_n(&p, s, strlen(s), 2);
	assert_int_equal(p.verdict, XLB_HTTP1_BAD);
	assert_string_equal(p.req.head.why, "too many header fields");
	assert_int_equal(xlb_http1_parse_request(s, strlen(s), &p.req, NULL, 0), XLB_HTTP1_OK);
	assert_int_equal(p.req.head.n_fields, 3);
}

static void test_request_http10_without_host(void **state)
{
	struct parsed_req p;

	(void)state;
	req_ok(&p, "GET / HTTP/1.0\r\nAccept: */*\r\n\r\n");
	assert_string_equal(p.req.host, "");
	assert_int_equal(p.req.head.minor, 0);
	req_ok(&p, "GET / HTTP/1.1\r\nHost:\r\n\r\n"); /* empty: names none */
	assert_string_equal(p.req.host, "");
	req_ok(&p, "GET / HTTP/1.0\r\nHost: [FD00::1]:80\r\n\r\n");
	assert_string_equal(p.req.host, "[fd00::1]");
}

static void test_request_leading_empty_lines(void **state)
{
	static const char s[] = "\r\n\r\nGET / HTTP/1.1\r\nHost: a.dev\r\n\r\n";
	struct parsed_req p;

	(void)state;
	req_ok(&p, s);
	assert_int_equal(p.req.head.start, 4);
	assert_span(s, p.req.method_name, "GET");
	assert_span(s, p.fields[0].name, "Host");
}

/* A valid head is MORE at every proper prefix, and OK with any bytes
 * after it (a body, the next request), which it does not look at. */
static void test_request_every_prefix_is_more(void **state)
{
	static const char s[] = "POST /x?y HTTP/1.1\r\nHost: a.dev\r\nContent-Length: 4\r\n\r\n"
				"\0\r\x01\n";
	size_t head = strlen(s);
	struct parsed_req p;

	(void)state;
	for (size_t n = 0; n < head; n++) {
		parse_req_n(&p, s, n, MAX_FIELDS);
		if (p.verdict != XLB_HTTP1_MORE)
			fail_msg("prefix %zu: %s", n, verdict_name(p.verdict));
		assert_int_equal(p.req.head.body, XLB_HTTP1_BODY_UNKNOWN);
	}
	parse_req_n(&p, s, sizeof(s) - 1, MAX_FIELDS);
	assert_int_equal(p.verdict, XLB_HTTP1_OK);
	assert_int_equal(p.req.head.head_len, head);
	assert_int_equal(p.req.head.body, XLB_HTTP1_BODY_LENGTH);
}

/* ---- responses -------------------------------------------------------------- */

static void test_response_status_line(void **state)
{
	static const char s[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
	static const char no_reason[] = "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n";
	static const char no_sp[] = "HTTP/1.1 204\r\n\r\n";
	static const char odd[] = "HTTP/1.0 599 caf\xc3\xa9 \t ok\r\n\r\n";
	struct parsed_resp p;

	(void)state;
	resp_ok(&p, s, XLB_HTTP1_M_GET);
	assert_int_equal(p.resp.status, 404);
	assert_span(s, p.resp.reason, "Not Found");
	assert_int_equal(p.resp.head.minor, 1);
	assert_int_equal(p.resp.head.n_fields, 1);
	assert_int_equal(p.fields[0].kind, XLB_HTTP1_F_CONTENT_LENGTH);
	resp_ok(&p, no_reason, XLB_HTTP1_M_GET);
	assert_int_equal(p.resp.status, 200);
	assert_int_equal(p.resp.reason.len, 0);
	resp_ok(&p, no_sp, XLB_HTTP1_M_GET);
	assert_int_equal(p.resp.status, 204);
	assert_int_equal(p.resp.reason.len, 0);
	resp_ok(&p, odd, XLB_HTTP1_M_GET);
	assert_int_equal(p.resp.status, 599);
	assert_span(odd, p.resp.reason, "caf\xc3\xa9 \t ok");
	assert_int_equal(p.resp.head.minor, 0);
}

static void test_response_bad_status_lines(void **state)
{
	static const char *const bad[] = {
		"HTTP/1.1 20 OK\r\n",	 "HTTP/1.1 2000 OK\r\n", "HTTP/1.1 099 Low\r\n",
		"HTTP/1.1 600 High\r\n", "HTTP/1.1 2x0 OK\r\n",	 "HTTP/2 200 OK\r\n",
		"http/1.1 200 OK\r\n",	 "HTTP/1.1  200 OK\r\n", "HTTP/1.1 200OK\r\n",
		"HTTP/1.1\t200 OK\r\n",	 " HTTP/1.1 200 OK\r\n", "\r\n",
		"GET / HTTP/1.1\r\n",
	};

	(void)state;
	/* an empty line before a status line is not skipped, as before a
	 * request line: there is no such rule for responses */
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_resp_bad(bad[i], "bad status line");
}

/* RFC 9112 6.3: the body by request method and status, then headers. */
static void test_response_framing(void **state)
{
	static const struct {
		enum xlb_http1_method method;
		const char *head;
		enum xlb_http1_body body;
	} cases[] = {
		{ XLB_HTTP1_M_GET, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
		  XLB_HTTP1_BODY_LENGTH },
		{ XLB_HTTP1_M_GET, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		  XLB_HTTP1_BODY_CHUNKED },
		{ XLB_HTTP1_M_GET, "HTTP/1.1 200 OK\r\n\r\n", XLB_HTTP1_BODY_CLOSE },
		{ XLB_HTTP1_M_POST, "HTTP/1.0 500 x\r\nServer: y\r\n\r\n", XLB_HTTP1_BODY_CLOSE },
		/* HEAD, 1xx, 204, 304: no body, whatever the headers say */
		{ XLB_HTTP1_M_HEAD, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
		  XLB_HTTP1_BODY_NONE },
		{ XLB_HTTP1_M_HEAD, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		  XLB_HTTP1_BODY_NONE },
		{ XLB_HTTP1_M_HEAD, "HTTP/1.1 404 x\r\n\r\n", XLB_HTTP1_BODY_NONE },
		{ XLB_HTTP1_M_GET, "HTTP/1.1 204 No Content\r\n\r\n", XLB_HTTP1_BODY_NONE },
		{ XLB_HTTP1_M_GET, "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
		  XLB_HTTP1_BODY_NONE },
		{ XLB_HTTP1_M_PUT, "HTTP/1.1 100 Continue\r\n\r\n", XLB_HTTP1_BODY_NONE },
		{ XLB_HTTP1_M_GET, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n",
		  XLB_HTTP1_BODY_NONE },
		/* a tunnel: 101, and 2xx to CONNECT */
		{ XLB_HTTP1_M_GET,
		  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		  "Connection: Upgrade\r\n\r\n",
		  XLB_HTTP1_BODY_TUNNEL },
		{ XLB_HTTP1_M_CONNECT, "HTTP/1.1 200 OK\r\n\r\n", XLB_HTTP1_BODY_TUNNEL },
		{ XLB_HTTP1_M_CONNECT, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
		  XLB_HTTP1_BODY_TUNNEL },
		{ XLB_HTTP1_M_CONNECT, "HTTP/1.1 407 x\r\nContent-Length: 5\r\n\r\n",
		  XLB_HTTP1_BODY_LENGTH },
	};
	struct parsed_resp p;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		resp_ok(&p, cases[i].head, cases[i].method);
		if (p.resp.head.body != cases[i].body)
			fail_msg("body %d, not %d, for: %s", p.resp.head.body, cases[i].body,
				 cases[i].head);
	}
	resp_ok(&p, "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", XLB_HTTP1_M_GET);
	assert_true(p.resp.head.has_content_length);
	assert_int_equal(p.resp.head.content_length, 9);
}

static void test_response_interim_and_upgrade(void **state)
{
	struct parsed_resp p;

	(void)state;
	resp_ok(&p, "HTTP/1.1 100 Continue\r\n\r\n", XLB_HTTP1_M_POST);
	assert_true(p.resp.interim);
	resp_ok(&p,
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		"Connection: upgrade\r\n\r\n",
		XLB_HTTP1_M_GET);
	assert_false(p.resp.interim);
	assert_true(p.resp.head.upgrade);
	assert_true(p.resp.head.connection & XLB_HTTP1_CONN_UPGRADE);
	assert_false(p.resp.head.keep_alive); /* no more HTTP on it */
	resp_ok(&p, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", XLB_HTTP1_M_GET);
	assert_false(p.resp.interim);
}

static void test_response_keep_alive(void **state)
{
	static const struct {
		const char *head;
		bool keep_alive;
	} cases[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", false },
		{ "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false },
		{ "HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n", true },
		/* its end is the close */
		{ "HTTP/1.1 200 OK\r\n\r\n", false },
		{ "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n", false },
		{ "HTTP/1.1 204 No Content\r\n\r\n", true },
	};
	struct parsed_resp p;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		resp_ok(&p, cases[i].head, XLB_HTTP1_M_GET);
		assert_int_equal(p.resp.head.keep_alive, cases[i].keep_alive);
	}
}

static void test_response_refused_shapes(void **state)
{
	static const struct {
		const char *head;
		const char *why;
	} shapes[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		  "Content-Length with Transfer-Encoding" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n",
		  "two Content-Length headers" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5,5\r\n\r\n", "bad Content-Length" },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "bad Transfer-Encoding" },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
		  "two Transfer-Encoding headers" },
		{ "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		  "Transfer-Encoding in HTTP/1.0" },
		{ "HTTP/1.1 200 OK\r\nX: 1\r\n 2\r\n\r\n", "obs-fold" },
		{ "HTTP/1.1 200 OK\r\nX : 1\r\n\r\n", "whitespace before colon" },
		{ "HTTP/1.1 200 OK\nX: 1\r\n\r\n", "bare LF" },
		{ "HTTP/1.1 200 OK\r\nX: 1\r2\r\n\r\n", "bare CR" },
		{ "HTTP/1.1 200 OK\r\nX\r\n\r\n", "header without colon" },
		/* a HEAD response is still refused for a smuggling shape */
		{ "HTTP/1.1 204 x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
		  "Content-Length with Transfer-Encoding" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(shapes); i++)
		assert_resp_bad(shapes[i].head, shapes[i].why);
}

/* Host means nothing in a response: neither required nor counted. */
static void test_response_ignores_host(void **state)
{
	struct parsed_resp p;

	(void)state;
	resp_ok(&p, "HTTP/1.1 200 OK\r\nHost: a\r\nHost: b_c\r\nContent-Length: 0\r\n\r\n",
		XLB_HTTP1_M_GET);
	assert_int_equal(p.fields[0].kind, XLB_HTTP1_F_HOST);
}

static void test_response_every_prefix_is_more(void **state)
{
	static const char s[] =
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
	size_t head = strlen("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	struct parsed_resp p;

	(void)state;
	for (size_t n = 0; n < head; n++) {
		parse_resp_n(&p, s, n, XLB_HTTP1_M_GET);
		assert_int_equal(p.verdict, XLB_HTTP1_MORE);
	}
	parse_resp_n(&p, s, strlen(s), XLB_HTTP1_M_GET);
	assert_int_equal(p.verdict, XLB_HTTP1_OK);
	assert_int_equal(p.resp.head.head_len, head);
}

/* ---- chunked bodies --------------------------------------------------------- */

struct decoded {
	enum xlb_chunk_verdict verdict;
	char body[256];
	size_t body_len;
	size_t end;    /* DONE: where the next message starts; BAD: the bad byte */
	size_t n_data; /* DATA verdicts */
	const char *why;
};

/* Decodes s fed in pieces of at most piece bytes, moving data bytes
 * itself as the proxy would splice them (in pieces too). */
static struct decoded decode_pieces(const char *s, size_t n, size_t piece)
{
	struct decoded d = { .verdict = XLB_CHUNK_MORE };
	struct xlb_chunk c;
	size_t pos = 0;
	char *copy = heap_copy(s, n);

	xlb_chunk_init(&c);
	while (pos < n) {
		size_t len = n - pos < piece ? n - pos : piece, used;

		d.verdict = xlb_chunk_feed(&c, copy + pos, len, &used);
		pos += used;
		if (d.verdict == XLB_CHUNK_DATA) {
			uint64_t take = xlb_chunk_data_left(&c);

			d.n_data++;
			take = take < piece ? take : piece;
			take = take < n - pos ? take : n - pos;
			assert_true(d.body_len + take <= sizeof(d.body));
			memcpy(d.body + d.body_len, copy + pos, take);
			d.body_len += take;
			pos += take;
			xlb_chunk_data_done(&c, take);
			d.verdict = xlb_chunk_feed(&c, copy + pos, 0, &used);
		} else if (d.verdict != XLB_CHUNK_MORE) {
			break;
		}
	}
	free(copy);
	d.end = pos;
	d.why = c.why;
	return d;
}

static struct decoded decode(const char *s)
{
	return decode_pieces(s, strlen(s), SIZE_MAX);
}

/* Decodes s whole and a byte at a time, which must agree, and checks it
 * gives body and ends after end bytes. */
static void assert_decodes(const char *s, const char *body, size_t end)
{
	struct decoded whole = decode(s), bytes = decode_pieces(s, strlen(s), 1);

	if (whole.verdict != XLB_CHUNK_DONE)
		fail_msg("verdict %d (%s) for: %s", whole.verdict, whole.why ? whole.why : "-", s);
	assert_int_equal(whole.body_len, strlen(body));
	assert_memory_equal(whole.body, body, whole.body_len);
	assert_int_equal(whole.end, end);
	assert_int_equal(bytes.verdict, XLB_CHUNK_DONE);
	assert_int_equal(bytes.body_len, whole.body_len);
	assert_memory_equal(bytes.body, body, bytes.body_len);
	assert_int_equal(bytes.end, end);
}

static void assert_decodes_all(const char *s, const char *body)
{
	assert_decodes(s, body, strlen(s));
}

/* BAD for why at byte at, whole and a byte at a time. */
static void assert_chunk_bad_at(const char *s, size_t n, const char *why, size_t at)
{
	struct decoded whole = decode_pieces(s, n, SIZE_MAX), bytes = decode_pieces(s, n, 1);

	if (whole.verdict != XLB_CHUNK_BAD)
		fail_msg("verdict %d instead of BAD '%s' for: %.*s", whole.verdict, why, (int)n, s);
	assert_string_equal(whole.why, why);
	assert_int_equal(bytes.verdict, XLB_CHUNK_BAD);
	assert_string_equal(bytes.why, why);
	if (at != SIZE_MAX) {
		assert_int_equal(whole.end, at);
		assert_int_equal(bytes.end, at);
	}
}

static void assert_chunk_bad(const char *s, const char *why)
{
	assert_chunk_bad_at(s, strlen(s), why, SIZE_MAX);
}

static void test_chunk_simple(void **state)
{
	(void)state;
	assert_decodes_all("5\r\nhello\r\n0\r\n\r\n", "hello");
	assert_decodes_all("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world");
	assert_decodes_all("0\r\n\r\n", "");
	/* data may hold anything, CRLFs and NULs included */
	assert_decodes_all("4\r\n\r\n0\r\r\n0\r\n\r\n", "\r\n0\r");
}

static void test_chunk_hex_sizes(void **state)
{
	static const char sixteen[] = "10\r\n0123456789abcdef\r\n0\r\n\r\n";

	(void)state;
	assert_decodes_all(sixteen, "0123456789abcdef");
	assert_decodes_all("A\r\n0123456789\r\n0\r\n\r\n", "0123456789");
	assert_decodes_all("a\r\n0123456789\r\n000\r\n\r\n", "0123456789");
	assert_decodes_all("0000000000000001\r\nx\r\n0\r\n\r\n", "x");
}

/* chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ), value a token
 * or a quoted-string (RFC 9112 7.1.1) */
static void test_chunk_extensions(void **state)
{
	static const char *const ok[] = {
		"5;a\r\nhello\r\n0\r\n\r\n",
		"5;a=b\r\nhello\r\n0\r\n\r\n",
		"5;a=b;c;d=e\r\nhello\r\n0;last=1\r\n\r\n",
		"5 ; a = b \t;\tc\r\nhello\r\n0\r\n\r\n",
		"5;a=\"q;uo\\\"ted \xc3\xa9\"\r\nhello\r\n0\r\n\r\n",
		"5;a=\"\"\r\nhello\r\n0\r\n\r\n",
		"5;a=\"x\" ;b\r\nhello\r\n0\r\n\r\n",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		assert_decodes_all(ok[i], "hello");
}

static void test_chunk_trailers(void **state)
{
	(void)state;
	assert_decodes_all("5\r\nhello\r\n0\r\nX-Sum: abc\r\nY:\r\nZ: a \t b\r\n\r\n", "hello");
	assert_decodes_all("0\r\nExpires: Wed, 21 Oct 2015 07:28:00 GMT\r\n\r\n", "");
}

/* DONE says where the next message starts: pipelined requests follow. */
static void test_chunk_next_message_follows(void **state)
{
	static const char s[] = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n";

	(void)state;
	assert_decodes(s, "abc", strlen("3\r\nabc\r\n0\r\n\r\n"));
}

static void test_chunk_bad_sizes(void **state)
{
	(void)state;
	assert_chunk_bad_at("\r\n", 2, "bad chunk size", 0);
	assert_chunk_bad_at("x\r\n", 3, "bad chunk size", 0);
	assert_chunk_bad_at(" 5\r\nhello\r\n0\r\n\r\n", 16, "bad chunk size", 0);
	assert_chunk_bad("-5\r\n", "bad chunk size");
	assert_chunk_bad("+5\r\n", "bad chunk size");
	assert_chunk_bad_at("0x5\r\nhello\r\n", 12, "bad chunk size", 1);
	assert_chunk_bad_at("5g\r\n", 4, "bad chunk size", 1);
	assert_chunk_bad_at("5 \r\nhello\r\n", 11, "bad chunk extension", 2);
	assert_chunk_bad_at("5\r\nhello\r\n;\r\n", 13, "bad chunk size", 10);
	/* 16 digits fit 64 bits, and no more are taken, not even zeros */
	assert_chunk_bad_at("00000000000000001\r\n", 19, "chunk size too large", 16);
	assert_chunk_bad_at("10000000000000000\r\n", 19, "chunk size too large", 16);
}

static void test_chunk_largest_size(void **state)
{
	static const char s[] = "ffffffffffffffff;x\r\n";
	struct xlb_chunk c;
	size_t used;

	(void)state;
	xlb_chunk_init(&c);
	assert_int_equal(xlb_chunk_feed(&c, s, strlen(s), &used), XLB_CHUNK_DATA);
	assert_int_equal(used, strlen(s));
	assert_true(xlb_chunk_data_left(&c) == UINT64_MAX);
}

static void test_chunk_bad_extensions(void **state)
{
	static const char *const bad[] = {
		"5;\r\nhello\r\n",	"5; \r\nhello\r\n",	     "5;=x\r\nhello\r\n",
		"5;a=\r\nhello\r\n",	"5;a b\r\nhello\r\n",	     "5;a=b c\r\nhello\r\n",
		"5;a=\"x\r\nhello\r\n", "5;a=\"x\"y\r\nhello\r\n",   "5;a=b=c\r\nhello\r\n",
		"5;a(\r\nhello\r\n",	"5;a=\"\x01\"\r\nhello\r\n", "5;a=\"\\\x7f\"\r\nhello\r\n",
		"5 x\r\nhello\r\n",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_chunk_bad(bad[i], "bad chunk extension");
}

static void test_chunk_bare_cr_lf(void **state)
{
	(void)state;
	assert_chunk_bad("5\nhello\r\n0\r\n\r\n", "bare LF");
	assert_chunk_bad("5;a\nhello\r\n", "bare LF");
	assert_chunk_bad("5;a=\"x\ny\"\r\nhello\r\n", "bare LF");
	assert_chunk_bad("5\rhello\r\n", "bare CR");
	assert_chunk_bad("0\r\nX: 1\nY: 2\r\n\r\n", "bare LF");
	assert_chunk_bad("0\r\nX: 1\rY: 2\r\n\r\n", "bare CR");
	assert_chunk_bad("0\r\n\n", "bare LF");
	assert_chunk_bad("0\r\n\rX", "bare CR");
}

/* Data longer than its size says is where smuggled messages hide. */
static void test_chunk_no_crlf_after_data(void **state)
{
	(void)state;
	assert_chunk_bad_at("5\r\nhello!\r\n0\r\n\r\n", 16, "no CRLF after chunk data", 8);
	assert_chunk_bad_at("5\r\nhello\n0\r\n\r\n", 14, "no CRLF after chunk data", 8);
	assert_chunk_bad_at("5\r\nhello\rx0\r\n\r\n", 15, "no CRLF after chunk data", 9);
}

static void test_chunk_bad_trailers(void **state)
{
	static const char nul[] = "0\r\nX: a\0b\r\n\r\n";

	(void)state;
	assert_chunk_bad("0\r\n X: 1\r\n\r\n", "bad trailer field"); /* obs-fold */
	assert_chunk_bad("0\r\nX: 1\r\n\t2\r\n\r\n", "bad trailer field");
	assert_chunk_bad("0\r\nX : 1\r\n\r\n", "bad trailer field");
	assert_chunk_bad("0\r\nX\r\n\r\n", "bad trailer field");
	assert_chunk_bad("0\r\n: 1\r\n\r\n", "bad trailer field");
	assert_chunk_bad("0\r\nX: \x01\r\n\r\n", "bad trailer field");
	assert_chunk_bad_at(nul, sizeof(nul) - 1, "bad trailer field", 7);
}

static void test_chunk_line_limit(void **state)
{
	size_t n = XLB_CHUNK_LINE_MAX + 64;
	char *s = malloc(n);
	size_t line;

	(void)state;
	assert_non_null(s);
	/* "1;" then x...x then CRLF: exactly the limit is taken */
	line = XLB_CHUNK_LINE_MAX;
	memcpy(s, "1;", 2);
	memset(s + 2, 'x', line - 4);
	memcpy(s + line - 2, "\r\nA\r\n0\r\n\r\n", 10);
	s[line + 8] = '\0';
	assert_decodes_all(s, "A");
	/* one more byte is refused at that byte */
	memcpy(s, "1;", 2);
	memset(s + 2, 'x', line - 3);
	memcpy(s + line - 1, "\r\nA\r\n0\r\n\r\n", 10);
	assert_chunk_bad_at(s, line + 9, "chunk line too long", XLB_CHUNK_LINE_MAX);
	free(s);
}

static void test_chunk_trailer_limit(void **state)
{
	static const char field[] = "X-Pad: 0123456789012345678901234567890123456789\r\n";
	size_t n_lines = XLB_CHUNK_TRAILER_MAX / (sizeof(field) - 1) + 1;
	size_t n = 3 + n_lines * (sizeof(field) - 1) + 2;
	char *s = malloc(n + 1);
	struct decoded d;

	(void)state;
	assert_non_null(s);
	memcpy(s, "0\r\n", 3);
	for (size_t i = 0; i < n_lines; i++)
		memcpy(s + 3 + i * (sizeof(field) - 1), field, sizeof(field) - 1);
	memcpy(s + n - 2, "\r\n", 3);
	d = decode_pieces(s, n, 100);
	assert_int_equal(d.verdict, XLB_CHUNK_BAD);
	assert_string_equal(d.why, "trailer section too long");
	assert_int_equal(d.end, 3 + XLB_CHUNK_TRAILER_MAX);
	free(s);
}

/* While data is due, feeding returns DATA at once and takes nothing;
 * data may be moved in pieces; moving more than is due is refused. */
static void test_chunk_data_protocol(void **state)
{
	static const char s[] = "5\r\nhello\r\n0\r\n\r\n";
	struct xlb_chunk c;
	size_t used;

	(void)state;
	xlb_chunk_init(&c);
	assert_int_equal(xlb_chunk_data_left(&c), 0);
	assert_int_equal(xlb_chunk_feed(&c, s, strlen(s), &used), XLB_CHUNK_DATA);
	assert_int_equal(used, 3);
	assert_int_equal(xlb_chunk_data_left(&c), 5);
	assert_int_equal(xlb_chunk_feed(&c, s + 3, strlen(s) - 3, &used), XLB_CHUNK_DATA);
	assert_int_equal(used, 0);
	xlb_chunk_data_done(&c, 0);
	xlb_chunk_data_done(&c, 2);
	assert_int_equal(xlb_chunk_data_left(&c), 3);
	xlb_chunk_data_done(&c, 3);
	assert_int_equal(xlb_chunk_data_left(&c), 0);
	assert_int_equal(xlb_chunk_feed(&c, s + 8, strlen(s) - 8, &used), XLB_CHUNK_DONE);
	assert_int_equal(used, strlen(s) - 8);
	/* DONE stays DONE */
	assert_int_equal(xlb_chunk_feed(&c, "5\r\n", 3, &used), XLB_CHUNK_DONE);
	assert_int_equal(used, 0);

	xlb_chunk_init(&c);
	assert_int_equal(xlb_chunk_feed(&c, s, strlen(s), &used), XLB_CHUNK_DATA);
	xlb_chunk_data_done(&c, 6);
	assert_int_equal(xlb_chunk_feed(&c, s + 9, 1, &used), XLB_CHUNK_BAD);
	assert_string_equal(c.why, "chunk data overrun");
	/* BAD stays BAD */
	assert_int_equal(xlb_chunk_feed(&c, "0\r\n\r\n", 5, &used), XLB_CHUNK_BAD);
	assert_int_equal(used, 0);

	xlb_chunk_init(&c);
	xlb_chunk_data_done(&c, 1); /* no data is due */
	assert_string_equal(c.why, "chunk data overrun");
}

/* A zeroed decoder is a fresh one. */
static void test_chunk_zeroed_is_initial(void **state)
{
	struct xlb_chunk c = { 0 };
	size_t used;

	(void)state;
	assert_int_equal(xlb_chunk_feed(&c, "0\r\n\r\n", 5, &used), XLB_CHUNK_DONE);
	assert_int_equal(used, 5);
}

static void test_chunk_incomplete_is_more(void **state)
{
	static const char s[] = "5;a=\"b\"\r\nhello\r\n0\r\nX: y\r\n\r\n";
	size_t n = strlen(s);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		struct decoded d = decode_pieces(s, i, 1);

		if (d.verdict != XLB_CHUNK_MORE && d.verdict != XLB_CHUNK_DATA)
			fail_msg("prefix %zu: verdict %d", i, d.verdict);
	}
}

/* ---- pacing ------------------------------------------------------------------ */

/* A 16 KiB head arriving a byte at a time: parsed O(log n) times, and at
 * its last byte, where it ends. */
static void test_pace_byte_at_a_time(void **state)
{
	enum { LEN = 16384 };
	struct xlb_http1_pace pace = { 0 };
	static char head[LEN + 1];
	struct xlb_http1_request rq;
	unsigned parses = 0;
	size_t i, pos;

	(void)state;
	pos = (size_t)snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nHost: a.test\r\n");
	while (pos + 12 < LEN)
		pos += (size_t)snprintf(head + pos, sizeof(head) - pos, "X-Pad: %03zu\r\n",
					pos % 1000);
	memcpy(head + pos, "\r\n", 2);
	pos += 2;
	for (i = 1; i <= pos; i++) {
		if (!xlb_http1_pace_due(&pace, head, i))
			continue;
		parses++;
		enum xlb_http1 v = xlb_http1_parse_request(head, i, &rq, NULL, 0);

		assert_int_equal(v, i == pos ? XLB_HTTP1_OK : XLB_HTTP1_MORE);
	}
	/* 1, 2, 4, ... 8192 and the end */
	assert_in_range(parses, 2, 16);
	assert_int_equal(pace.parsed, pos);
}

/* The end of the head is seen wherever the arrivals cut "\r\n\r\n", and a
 * bare "\n\n" (which the parser refuses) is due at once too. */
static void test_pace_sees_every_end(void **state)
{
	static const char *const heads[] = {
		"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n",
		"GET / HTTP/1.1\nHost: a.test\n\n",
	};

	(void)state;
	for (size_t h = 0; h < 2; h++) {
		size_t len = strlen(heads[h]);

		for (size_t cut = 1; cut < len; cut++) {
			struct xlb_http1_pace pace = { 0 };

			/* cut bytes first, then the rest: only the end can
			 * make the second arrival due (it cannot double) */
			assert_true(xlb_http1_pace_due(&pace, heads[h], cut));
			pace.parsed = len;
			assert_true(xlb_http1_pace_due(&pace, heads[h], len));
		}
	}
}

/* A malformed head is refused by the time it has doubled, not only at
 * its end. */
static void test_pace_due_on_doubling(void **state)
{
	struct xlb_http1_pace pace = { 0 };
	const char *buf = "GET / HTTP/1.1\r\nHo\x01st: a\r\nX-A: 1\r\nX-B: 2\r\nX-C: 3\r\n";

	(void)state;
	assert_true(xlb_http1_pace_due(&pace, buf, 10));
	assert_false(xlb_http1_pace_due(&pace, buf, 15));
	assert_false(xlb_http1_pace_due(&pace, buf, 19));
	assert_true(xlb_http1_pace_due(&pace, buf, 20));
	assert_false(xlb_http1_pace_due(&pace, buf, 39));
	assert_true(xlb_http1_pace_due(&pace, buf, 40));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pace_byte_at_a_time),
		cmocka_unit_test(test_pace_sees_every_end),
		cmocka_unit_test(test_pace_due_on_doubling),
		cmocka_unit_test(test_request_simple_get),
		cmocka_unit_test(test_request_field_places),
		cmocka_unit_test(test_request_field_kinds),
		cmocka_unit_test(test_request_methods),
		cmocka_unit_test(test_request_origin_form_query),
		cmocka_unit_test(test_request_absolute_form),
		cmocka_unit_test(test_request_authority_form),
		cmocka_unit_test(test_request_asterisk_form),
		cmocka_unit_test(test_request_bad_targets),
		cmocka_unit_test(test_request_bad_request_lines),
		cmocka_unit_test(test_request_keep_alive),
		cmocka_unit_test(test_request_upgrade_and_expect),
		cmocka_unit_test(test_request_framing),
		cmocka_unit_test(test_request_refused_shapes),
		cmocka_unit_test(test_request_nul_byte),
		cmocka_unit_test(test_request_too_many_fields),
		cmocka_unit_test(test_request_http10_without_host),
		cmocka_unit_test(test_request_leading_empty_lines),
		cmocka_unit_test(test_request_every_prefix_is_more),
		cmocka_unit_test(test_response_status_line),
		cmocka_unit_test(test_response_bad_status_lines),
		cmocka_unit_test(test_response_framing),
		cmocka_unit_test(test_response_interim_and_upgrade),
		cmocka_unit_test(test_response_keep_alive),
		cmocka_unit_test(test_response_refused_shapes),
		cmocka_unit_test(test_response_ignores_host),
		cmocka_unit_test(test_response_every_prefix_is_more),
		cmocka_unit_test(test_chunk_simple),
		cmocka_unit_test(test_chunk_hex_sizes),
		cmocka_unit_test(test_chunk_extensions),
		cmocka_unit_test(test_chunk_trailers),
		cmocka_unit_test(test_chunk_next_message_follows),
		cmocka_unit_test(test_chunk_bad_sizes),
		cmocka_unit_test(test_chunk_largest_size),
		cmocka_unit_test(test_chunk_bad_extensions),
		cmocka_unit_test(test_chunk_bare_cr_lf),
		cmocka_unit_test(test_chunk_no_crlf_after_data),
		cmocka_unit_test(test_chunk_bad_trailers),
		cmocka_unit_test(test_chunk_line_limit),
		cmocka_unit_test(test_chunk_trailer_limit),
		cmocka_unit_test(test_chunk_data_protocol),
		cmocka_unit_test(test_chunk_zeroed_is_initial),
		cmocka_unit_test(test_chunk_incomplete_is_more),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
