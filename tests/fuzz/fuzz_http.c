// SPDX-License-Identifier: GPL-2.0
/* libFuzzer target for the HTTP request head peeker. Beyond the sanitizers
 * it traps on a broken promise of peek_http.h: the verdict's outputs, and
 * that only MORE may change when more bytes arrive. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hostmap.h"
#include "proxy/peek_http.h"

#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

struct verdict {
	enum xlb_peek peek;
	char host[XLB_HOSTNAME_SIZE];
	size_t head_len;
	const char *why;
};

/* Peeks at an exact-size heap copy, so ASan sees any read past len. */
static void peek(const uint8_t *data, size_t len, struct verdict *v)
{
	char *copy = malloc(len ? len : 1);

	CHECK(copy);
	memcpy(copy, data, len);
	memset(v, 0, sizeof(*v));
	v->peek = xlb_peek_http(copy, len, v->host, sizeof(v->host), &v->head_len, &v->why);
	free(copy);
}

/* A host is a lowercase DNS name or a bracketed IPv6 literal. */
static bool valid_host(const char *host)
{
	size_t n = strnlen(host, XLB_HOSTNAME_SIZE);
	char again[XLB_HOSTNAME_SIZE];

	if (n == 0 || n >= XLB_HOSTNAME_SIZE)
		return false;
	if (host[0] == '[')
		return n >= 3 && host[n - 1] == ']' &&
		       strspn(host + 1, "0123456789abcdef:.") == n - 2;
	return xlb_host_normalize(host, n, again, sizeof(again)) == (int)n &&
	       strcmp(again, host) == 0;
}

static void check_verdict(const uint8_t *data, size_t len, const struct verdict *v)
{
	CHECK((v->why != NULL) == (v->peek == XLB_PEEK_BAD));
	if (v->why)
		CHECK(v->why[0] != '\0');
	if (v->peek != XLB_PEEK_OK && v->peek != XLB_PEEK_NONE)
		return;
	/* a head ends with its request line's CRLF and the blank line */
	CHECK(v->head_len >= 4 && v->head_len <= len);
	CHECK(memcmp(data + v->head_len - 4, "\r\n\r\n", 4) == 0);
	if (v->peek == XLB_PEEK_OK)
		CHECK(valid_host(v->host));
}

static void check_same(const struct verdict *a, const struct verdict *b)
{
	CHECK(a->peek == b->peek);
	if (a->peek == XLB_PEEK_OK || a->peek == XLB_PEEK_NONE)
		CHECK(a->head_len == b->head_len);
	if (a->peek == XLB_PEEK_OK)
		CHECK(strcmp(a->host, b->host) == 0);
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
	struct verdict whole, part;
	size_t cut = pick_cut(data, len);

	peek(data, len, &whole);
	check_verdict(data, len, &whole);
	/* a prefix that decided decides the same for the whole */
	peek(data, cut, &part);
	check_verdict(data, cut, &part);
	if (part.peek != XLB_PEEK_MORE)
		check_same(&part, &whole);
	/* the head alone, ending exactly at the end of the bytes */
	if (whole.peek == XLB_PEEK_OK || whole.peek == XLB_PEEK_NONE) {
		peek(data, whole.head_len, &part);
		check_same(&part, &whole);
	}
	return 0;
}
