// SPDX-License-Identifier: GPL-2.0
/* libFuzzer target for the HTTP/1.1 response head parser (proxy/http1.h).
 * The first byte picks the method of the request answered, the rest is
 * the head. Beyond the sanitizers it traps on a broken promise: a refused
 * or incomplete head has no framing; an accepted head's framing follows
 * RFC 9112 6.3 from status and method, its spans lie in it and its lines
 * tile it; a prefix that decided decides the same; and an accepted head,
 * written again from its parsed fields, parses to the same fields. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/http1.h"

#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)
#define MAX_FIELDS 32

static const enum xlb_http1_method methods[] = {
	XLB_HTTP1_M_GET,     XLB_HTTP1_M_HEAD,	  XLB_HTTP1_M_POST,
	XLB_HTTP1_M_CONNECT, XLB_HTTP1_M_OPTIONS, XLB_HTTP1_M_OTHER,
};

struct parsed {
	enum xlb_http1 v;
	enum xlb_http1_method method;
	struct xlb_http1_response resp;
	struct xlb_http1_field fields[MAX_FIELDS];
	char *copy; /* the bytes parsed, kept to read spans */
	size_t len;
};

/* Parses an exact-size heap copy, so ASan sees any read past len. */
static void parse(const char *data, size_t len, enum xlb_http1_method method, struct parsed *p)
{
	p->copy = malloc(len ? len : 1);
	CHECK(p->copy);
	memcpy(p->copy, data, len);
	p->len = len;
	p->method = method;
	p->v = xlb_http1_parse_response(p->copy, len, method, &p->resp, p->fields, MAX_FIELDS);
}

static bool span_in(struct xlb_http1_span s, size_t end)
{
	return (size_t)s.off + s.len <= end;
}

static bool span_eq(const struct parsed *a, struct xlb_http1_span sa, const struct parsed *b,
		    struct xlb_http1_span sb)
{
	return sa.len == sb.len && memcmp(a->copy + sa.off, b->copy + sb.off, sa.len) == 0;
}

static void check_fields(const struct parsed *p)
{
	const struct xlb_http1_head *h = &p->resp.head;
	size_t next = 0;

	for (unsigned int i = 0; i < h->n_fields; i++) {
		const struct xlb_http1_field *f = &p->fields[i];

		CHECK(i == 0 || f->line.off == next);
		CHECK(span_in(f->line, h->head_len - 2) && f->line.len >= 3);
		CHECK(memcmp(p->copy + f->line.off + f->line.len - 2, "\r\n", 2) == 0);
		CHECK(f->name.off == f->line.off && f->name.len > 0);
		CHECK(p->copy[f->name.off + f->name.len] == ':');
		CHECK(f->value.off + f->value.len <= f->line.off + f->line.len - 2);
		next = f->line.off + f->line.len;
	}
	CHECK(h->n_fields == 0 || next == h->head_len - 2);
}

/* RFC 9112 6.3, written out once more. */
static enum xlb_http1_body expected_body(const struct parsed *p)
{
	unsigned int s = p->resp.status;

	if (s == 101 || (p->method == XLB_HTTP1_M_CONNECT && s >= 200 && s < 300))
		return XLB_HTTP1_BODY_TUNNEL;
	if (p->method == XLB_HTTP1_M_HEAD || s < 200 || s == 204 || s == 304)
		return XLB_HTTP1_BODY_NONE;
	if (p->resp.head.chunked)
		return XLB_HTTP1_BODY_CHUNKED;
	return p->resp.head.has_content_length ? XLB_HTTP1_BODY_LENGTH : XLB_HTTP1_BODY_CLOSE;
}

static void check_verdict(const struct parsed *p)
{
	const struct xlb_http1_response *r = &p->resp;
	const struct xlb_http1_head *h = &r->head;

	CHECK((h->why != NULL) == (p->v == XLB_HTTP1_BAD));
	if (p->v != XLB_HTTP1_OK) {
		CHECK(h->body == XLB_HTTP1_BODY_UNKNOWN);
		return;
	}
	CHECK(h->body == expected_body(p));
	CHECK(!(h->chunked && h->has_content_length));
	CHECK(r->status >= 100 && r->status <= 599 && h->minor <= 9);
	CHECK(r->interim == (r->status < 200 && r->status != 101));
	CHECK(h->head_len >= 4 && h->head_len <= p->len && h->start == 0);
	CHECK(memcmp(p->copy, "HTTP/1.", 7) == 0);
	CHECK(memcmp(p->copy + h->head_len - 4, "\r\n\r\n", 4) == 0);
	CHECK(span_in(r->reason, h->head_len));
	if (h->keep_alive)
		CHECK(!(h->connection & XLB_HTTP1_CONN_CLOSE) && h->body != XLB_HTTP1_BODY_CLOSE &&
		      h->body != XLB_HTTP1_BODY_TUNNEL);
	check_fields(p);
}

static bool same_fields(const struct parsed *a, const struct parsed *b)
{
	if (a->resp.head.n_fields != b->resp.head.n_fields)
		return false;
	for (unsigned int i = 0; i < a->resp.head.n_fields; i++) {
		const struct xlb_http1_field *fa = &a->fields[i], *fb = &b->fields[i];

		if (fa->kind != fb->kind || !span_eq(a, fa->name, b, fb->name) ||
		    !span_eq(a, fa->value, b, fb->value))
			return false;
	}
	return true;
}

/* Equal in everything but where the bytes were. */
static bool same_response(const struct parsed *a, const struct parsed *b)
{
	const struct xlb_http1_response *x = &a->resp, *y = &b->resp;

	return x->status == y->status && span_eq(a, x->reason, b, y->reason) &&
	       x->interim == y->interim && x->head.minor == y->head.minor &&
	       x->head.body == y->head.body && x->head.content_length == y->head.content_length &&
	       x->head.has_content_length == y->head.has_content_length &&
	       x->head.chunked == y->head.chunked && x->head.connection == y->head.connection &&
	       x->head.upgrade == y->head.upgrade && x->head.keep_alive == y->head.keep_alive &&
	       same_fields(a, b);
}

static size_t put(char *out, size_t at, const char *s, size_t n)
{
	memcpy(out + at, s, n);
	return at + n;
}

/* The head written from the parsed fields: "HTTP/1.x NNN reason", then
 * ": " after each name, no OWS around values. */
static size_t reserialise(const struct parsed *p, char *out)
{
	const struct xlb_http1_response *r = &p->resp;
	char status[32];
	size_t n;

	snprintf(status, sizeof(status), "HTTP/1.%u %03u ", r->head.minor, r->status);
	n = put(out, 0, status, strlen(status));
	n = put(out, n, p->copy + r->reason.off, r->reason.len);
	n = put(out, n, "\r\n", 2);
	for (unsigned int i = 0; i < r->head.n_fields; i++) {
		const struct xlb_http1_field *f = &p->fields[i];

		n = put(out, n, p->copy + f->name.off, f->name.len);
		n = put(out, n, ": ", 2);
		n = put(out, n, p->copy + f->value.off, f->value.len);
		n = put(out, n, "\r\n", 2);
	}
	return put(out, n, "\r\n", 2);
}

static void check_round_trip(const struct parsed *p)
{
	char *out = malloc(p->len + p->resp.head.n_fields + 16);
	struct parsed again;
	size_t n;

	CHECK(out);
	n = reserialise(p, out);
	parse(out, n, p->method, &again);
	CHECK(again.v == XLB_HTTP1_OK && again.resp.head.head_len == n);
	CHECK(same_response(p, &again));
	free(again.copy);
	free(out);
}

static bool same_decision(const struct parsed *a, const struct parsed *b)
{
	if (a->v != b->v)
		return false;
	if (a->v == XLB_HTTP1_BAD)
		return strcmp(a->resp.head.why, b->resp.head.why) == 0;
	return a->v != XLB_HTTP1_OK || a->resp.head.head_len == b->resp.head.head_len;
}

/* One prefix length per input, spread over the whole input. */
static size_t pick_cut(const uint8_t *data, size_t len)
{
	if (len == 0)
		return 0;
	return ((size_t)data[len / 2] * 131u + len * 2654435761u) % len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct parsed whole, part;
	enum xlb_http1_method method;
	const char *head = (const char *)data + 1;

	if (len < 1)
		return 0;
	method = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
	len--;
	parse(head, len, method, &whole);
	check_verdict(&whole);
	/* a prefix that decided decides the same for the whole */
	parse(head, pick_cut(data, len), method, &part);
	check_verdict(&part);
	CHECK(part.v == XLB_HTTP1_MORE || same_decision(&part, &whole));
	free(part.copy);
	if (whole.v == XLB_HTTP1_OK) {
		/* the head alone, ending exactly at the end of the bytes */
		parse(head, whole.resp.head.head_len, method, &part);
		CHECK(same_decision(&part, &whole) && same_response(&part, &whole));
		free(part.copy);
		check_round_trip(&whole);
	}
	free(whole.copy);
	return 0;
}
