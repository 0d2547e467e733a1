// SPDX-License-Identifier: GPL-2.0
/* libFuzzer target for the address parsers of lib/addr.h, which read the
 * config file, the control socket's requests, Docker's answers and the
 * takeover answer: endpoints (either way: with or without a protocol),
 * bare addresses, address blocks and lists of them. Beyond the sanitizers
 * it traps on a broken promise: why is set exactly on error; an accepted
 * endpoint, address or block is well-formed and, written out again
 * (xlb_format_*), parses to itself; a block holds its own address but no
 * address outside its prefix; a list parses to the blocks of its items,
 * each parsed alone, and keeps the items before a bad one. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/addr.h"

#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

/* An exact-size, NUL-terminated heap copy, so ASan sees any read past it. */
static char *copy_of(const uint8_t *data, size_t len)
{
	char *copy = malloc(len + 1);

	CHECK(copy);
	memcpy(copy, data, len);
	copy[len] = '\0';
	return copy;
}

/* IPv4 lives in the first word, the rest zero: equal addresses compare
 * equal bytewise. */
static bool addr_ok(uint8_t family, const struct xlb_addr *a)
{
	if (family == AF_INET6)
		return true;
	return family == AF_INET && !a->v6[1] && !a->v6[2] && !a->v6[3];
}

static void check_endpoint(const char *s, enum xlb_ep_want want)
{
	struct xlb_endpoint ep, again, untouched;
	const char *why = NULL, *why2 = NULL;
	char text[XLB_EP_STRLEN];
	int e;

	memset(&ep, 0xa5, sizeof(ep));
	untouched = ep;
	e = xlb_parse_endpoint(s, want, &ep, &why);
	CHECK(e == 0 || e == -EINVAL);
	CHECK((why != NULL) == (e != 0));
	if (e) {
		CHECK(why[0] != '\0' && memcmp(&ep, &untouched, sizeof(ep)) == 0);
		return;
	}
	CHECK(addr_ok(ep.family, &ep.addr) && ep.port != 0);
	if (want == XLB_EP_PROTO)
		CHECK(ep.proto == IPPROTO_TCP || ep.proto == IPPROTO_UDP);
	else
		CHECK(ep.proto == 0);
	xlb_format_endpoint(&ep, text, sizeof(text));
	CHECK(strlen(text) < sizeof(text) - 1);
	CHECK(xlb_parse_endpoint(text, want, &again, &why2) == 0 && why2 == NULL);
	CHECK(xlb_endpoint_equal(&ep, &again) && memcmp(&ep, &again, sizeof(ep)) == 0);
	/* the other way refuses it: a protocol is wanted or refused */
	CHECK(xlb_parse_endpoint(text, want == XLB_EP_PROTO ? XLB_EP_NO_PROTO : XLB_EP_PROTO,
				 &again, &why2) == -EINVAL &&
	      why2);
}

static void check_addr(const char *s)
{
	struct xlb_addr a, again;
	uint8_t family = 0, family2 = 0;
	char text[INET6_ADDRSTRLEN];

	if (xlb_parse_addr(s, &a, &family))
		return;
	CHECK(addr_ok(family, &a));
	xlb_format_addr(family, &a, text, sizeof(text));
	CHECK(xlb_parse_addr(text, &again, &family2) == 0);
	CHECK(family2 == family && memcmp(&a, &again, sizeof(a)) == 0);
}

/* The address with bit `bit` (from the most significant) flipped. */
static struct xlb_addr flip(const struct xlb_cidr *c, unsigned bit)
{
	struct xlb_addr a = c->addr;
	uint8_t *b = c->family == AF_INET ? (uint8_t *)&a.v4 : (uint8_t *)a.v6;

	b[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
	return a;
}

static void check_block(const struct xlb_cidr *c, unsigned pick)
{
	unsigned max = c->family == AF_INET ? 32 : 128;
	struct xlb_addr a;

	CHECK(addr_ok(c->family, &c->addr) && c->prefix <= max);
	CHECK(xlb_cidr_contains(c, c->family, &c->addr));
	CHECK(!xlb_cidr_contains(c, c->family == AF_INET ? AF_INET6 : AF_INET, &c->addr));
	if (c->family == AF_INET) { /* a dual-stack socket's view of it */
		memset(&a, 0, sizeof(a));
		a.v6[2] = htonl(0xffff);
		a.v6[3] = c->addr.v4;
		CHECK(xlb_cidr_contains(c, AF_INET6, &a));
	}
	if (c->prefix < max) { /* a host bit: still inside */
		a = flip(c, c->prefix + pick % (max - c->prefix));
		CHECK(xlb_cidr_contains(c, c->family, &a));
	}
	if (c->prefix > 0) { /* a network bit: outside */
		a = flip(c, pick % c->prefix);
		CHECK(!xlb_cidr_contains(c, c->family, &a));
	}
}

static void check_cidr(const char *s, unsigned pick)
{
	struct xlb_cidr c, again, untouched;
	char why[96] = "", why2[96] = "", text[INET6_ADDRSTRLEN + 8], a[INET6_ADDRSTRLEN];
	int e;

	memset(&c, 0xa5, sizeof(c));
	untouched = c;
	e = xlb_parse_cidr(s, &c, why, sizeof(why));
	CHECK(e == 0 || e == -EINVAL);
	CHECK((why[0] != '\0') == (e != 0));
	if (e) {
		CHECK(memcmp(&c, &untouched, sizeof(c)) == 0);
		return;
	}
	check_block(&c, pick);
	snprintf(text, sizeof(text), "%s/%u", xlb_format_addr(c.family, &c.addr, a, sizeof(a)),
		 c.prefix);
	CHECK(xlb_parse_cidr(text, &again, why2, sizeof(why2)) == 0 && why2[0] == '\0');
	CHECK(again.family == c.family && again.prefix == c.prefix &&
	      memcmp(&again.addr, &c.addr, sizeof(c.addr)) == 0);
}

/* The list against its items parsed one by one. */
static void check_cidr_list(const char *s)
{
	static const char sep[] = " \t,";
	struct xlb_cidr *arr = NULL, one;
	char why[160] = "", item[256], item_why[96];
	size_t n = 0, k = 0;
	int e = xlb_parse_cidr_list(s, &arr, &n, why, sizeof(why));
	bool bad = false;

	CHECK(e == 0 || e == -EINVAL);
	CHECK((why[0] != '\0') == (e != 0));
	for (s += strspn(s, sep); *s && !bad; s += strspn(s, sep)) {
		size_t len = strcspn(s, sep);

		snprintf(item, sizeof(item), "%.*s", (int)(len < 255 ? len : 255), s);
		bad = len >= 255 || xlb_parse_cidr(item, &one, item_why, sizeof(item_why)) != 0;
		if (!bad) {
			CHECK(k < n && memcmp(&arr[k], &one, sizeof(one)) == 0);
			k++;
		}
		s += len;
	}
	CHECK(k == n && bad == (e != 0));
	free(arr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *s = copy_of(data, len);
	unsigned pick = len ? data[0] * 31u + data[len - 1] : 0;

	check_endpoint(s, XLB_EP_NO_PROTO);
	check_endpoint(s, XLB_EP_PROTO);
	check_addr(s);
	check_cidr(s, pick);
	check_cidr_list(s);
	free(s);
	return 0;
}
