// SPDX-License-Identifier: GPL-2.0
/* libFuzzer target for the HTTP/1.1 request head parser (proxy/http1.h).
 * Beyond the sanitizers it traps on a broken promise: a refused or
 * incomplete head has no framing; an accepted head's spans lie in it and
 * its lines tile it; a prefix that decided decides the same; the peeker's
 * way (no field room) decides the same; and an accepted head, written
 * again from its parsed fields, parses to the same fields. */
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

struct parsed {
	enum xlb_http1 v;
	struct xlb_http1_request req;
	struct xlb_http1_field fields[MAX_FIELDS];
	char *copy; /* the bytes parsed, kept to read spans */
	size_t len;
};

/* Parses an exact-size heap copy, so ASan sees any read past len. */
static void parse(const char *data, size_t len, struct parsed *p, bool record)
{
	p->copy = malloc(len ? len : 1);
	CHECK(p->copy);
	memcpy(p->copy, data, len);
	p->len = len;
	p->v = xlb_http1_parse_request(p->copy, len, &p->req, record ? p->fields : NULL,
				       record ? MAX_FIELDS : 0);
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
	const struct xlb_http1_head *h = &p->req.head;
	size_t next = 0;

	for (unsigned int i = 0; i < h->n_fields; i++) {
		const struct xlb_http1_field *f = &p->fields[i];

		CHECK(i == 0 || f->line.off == next);
		CHECK(span_in(f->line, h->head_len - 2) && f->line.len >= 3);
		CHECK(memcmp(p->copy + f->line.off + f->line.len - 2, "\r\n", 2) == 0);
		CHECK(f->name.off == f->line.off && f->name.len > 0);
		CHECK(p->copy[f->name.off + f->name.len] == ':');
		CHECK(f->value.off > f->name.off + f->name.len);
		CHECK(f->value.off + f->value.len <= f->line.off + f->line.len - 2);
		next = f->line.off + f->line.len;
	}
	CHECK(h->n_fields == 0 || next == h->head_len - 2);
}

static void check_verdict(const struct parsed *p)
{
	const struct xlb_http1_request *r = &p->req;
	const struct xlb_http1_head *h = &r->head;

	CHECK((h->why != NULL) == (p->v == XLB_HTTP1_BAD));
	if (p->v != XLB_HTTP1_OK) {
		CHECK(h->body == XLB_HTTP1_BODY_UNKNOWN && r->host[0] == '\0');
		return;
	}
	CHECK(h->body == XLB_HTTP1_BODY_NONE || h->body == XLB_HTTP1_BODY_LENGTH ||
	      h->body == XLB_HTTP1_BODY_CHUNKED);
	CHECK((h->body == XLB_HTTP1_BODY_CHUNKED) == h->chunked);
	CHECK((h->body == XLB_HTTP1_BODY_LENGTH) == h->has_content_length);
	CHECK(h->head_len >= 4 && h->head_len <= p->len);
	CHECK(memcmp(p->copy + h->head_len - 4, "\r\n\r\n", 4) == 0);
	CHECK(span_in(r->method_name, h->head_len) && span_in(r->target, h->head_len));
	CHECK(span_in(r->path, h->head_len) && span_in(r->query, h->head_len));
	CHECK(r->method_name.off == h->start && r->target.len > 0);
	CHECK(h->minor <= 9 && strlen(r->host) < XLB_HOSTNAME_SIZE);
	CHECK(!h->keep_alive || !(h->connection & XLB_HTTP1_CONN_CLOSE));
	check_fields(p);
}

static bool same_fields(const struct parsed *a, const struct parsed *b)
{
	if (a->req.head.n_fields != b->req.head.n_fields)
		return false;
	for (unsigned int i = 0; i < a->req.head.n_fields; i++) {
		const struct xlb_http1_field *fa = &a->fields[i], *fb = &b->fields[i];

		if (fa->kind != fb->kind || !span_eq(a, fa->name, b, fb->name) ||
		    !span_eq(a, fa->value, b, fb->value))
			return false;
	}
	return true;
}

/* Equal in everything but where the bytes were. */
static bool same_request(const struct parsed *a, const struct parsed *b)
{
	const struct xlb_http1_request *x = &a->req, *y = &b->req;

	return x->method == y->method && span_eq(a, x->method_name, b, y->method_name) &&
	       x->form == y->form && span_eq(a, x->target, b, y->target) &&
	       span_eq(a, x->authority, b, y->authority) && span_eq(a, x->path, b, y->path) &&
	       span_eq(a, x->query, b, y->query) && x->has_query == y->has_query &&
	       x->expect_continue == y->expect_continue && strcmp(x->host, y->host) == 0 &&
	       x->head.minor == y->head.minor && x->head.body == y->head.body &&
	       x->head.content_length == y->head.content_length &&
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

/* The head written from the parsed fields: single spaces, ": " after each
 * name, no leading empty lines, no OWS around values. */
static size_t reserialise(const struct parsed *p, char *out)
{
	const struct xlb_http1_request *r = &p->req;
	char version[16];
	size_t n = 0;

	n = put(out, n, p->copy + r->method_name.off, r->method_name.len);
	n = put(out, n, " ", 1);
	n = put(out, n, p->copy + r->target.off, r->target.len);
	snprintf(version, sizeof(version), " HTTP/1.%u\r\n", r->head.minor);
	n = put(out, n, version, strlen(version));
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
	char *out = malloc(p->len + p->req.head.n_fields + 16);
	struct parsed again;
	size_t n;

	CHECK(out);
	n = reserialise(p, out);
	parse(out, n, &again, true);
	CHECK(again.v == XLB_HTTP1_OK && again.req.head.head_len == n);
	CHECK(same_request(p, &again));
	free(again.copy);
	free(out);
}

static bool same_decision(const struct parsed *a, const struct parsed *b)
{
	if (a->v != b->v)
		return false;
	if (a->v == XLB_HTTP1_BAD)
		return strcmp(a->req.head.why, b->req.head.why) == 0;
	return a->v != XLB_HTTP1_OK || a->req.head.head_len == b->req.head.head_len;
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
	struct parsed whole, part, bare;

	parse((const char *)data, len, &whole, true);
	check_verdict(&whole);
	/* a prefix that decided decides the same for the whole */
	parse((const char *)data, pick_cut(data, len), &part, true);
	check_verdict(&part);
	CHECK(part.v == XLB_HTTP1_MORE || same_decision(&part, &whole));
	free(part.copy);
	/* without room for fields, only "too many header fields" is gone */
	parse((const char *)data, len, &bare, false);
	if (whole.v != XLB_HTTP1_BAD || strcmp(whole.req.head.why, "too many header fields"))
		CHECK(same_decision(&bare, &whole));
	free(bare.copy);
	if (whole.v == XLB_HTTP1_OK) {
		/* the head alone, ending exactly at the end of the bytes */
		parse((const char *)data, whole.req.head.head_len, &part, true);
		CHECK(same_decision(&part, &whole) && same_request(&part, &whole));
		free(part.copy);
		check_round_trip(&whole);
	}
	free(whole.copy);
	return 0;
}
