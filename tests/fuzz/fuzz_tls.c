// SPDX-License-Identifier: GPL-2.0
/* libFuzzer target for the ClientHello peeker. Beyond the sanitizers it
 * traps on a broken promise of peek_tls.h: the verdict's outputs, and that
 * only MORE may change when more bytes arrive. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hostmap.h"
#include "proxy/peek_tls.h"

#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

struct verdict {
	enum xlb_peek peek;
	char sni[XLB_HOSTNAME_SIZE];
	const char *why;
};

/* Peeks at an exact-size heap copy, so ASan sees any read past len. */
static void peek(const uint8_t *data, size_t len, struct verdict *v)
{
	uint8_t *copy = malloc(len ? len : 1);

	CHECK(copy);
	memcpy(copy, data, len);
	memset(v, 0, sizeof(*v));
	v->peek = xlb_peek_tls(copy, len, v->sni, sizeof(v->sni), &v->why);
	free(copy);
}

/* The name is a lowercase DNS name. */
static bool valid_sni(const char *sni)
{
	size_t n = strnlen(sni, XLB_HOSTNAME_SIZE);
	char again[XLB_HOSTNAME_SIZE];

	return n > 0 && n < XLB_HOSTNAME_SIZE &&
	       xlb_host_normalize(sni, n, again, sizeof(again)) == (int)n &&
	       strcmp(again, sni) == 0;
}

static void check_verdict(const struct verdict *v)
{
	CHECK((v->why != NULL) == (v->peek == XLB_PEEK_BAD));
	if (v->why)
		CHECK(v->why[0] != '\0');
	if (v->peek == XLB_PEEK_OK)
		CHECK(valid_sni(v->sni));
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
	check_verdict(&whole);
	/* a prefix that decided decides the same for the whole */
	peek(data, cut, &part);
	check_verdict(&part);
	if (part.peek != XLB_PEEK_MORE) {
		CHECK(part.peek == whole.peek);
		if (part.peek == XLB_PEEK_OK)
			CHECK(strcmp(part.sni, whole.sni) == 0);
	}
	return 0;
}
