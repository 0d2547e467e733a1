// SPDX-License-Identifier: GPL-2.0
/* Endpoint parsing and formatting: "10.0.0.1:80/tcp", "[fd00::1]:53/udp". */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Parses s into addr/family; IPv4 lands in addr->v4 with the rest zero,
 * so equal addresses compare equal bytewise (the maps hash their keys). */
static int parse_family(const char *s, int af, struct xlb_addr *addr)
{
	struct xlb_addr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(af, s, af == AF_INET ? (void *)&a.v4 : (void *)a.v6) != 1)
		return -EINVAL;
	*addr = a;
	return 0;
}

int xlb_parse_addr(const char *s, struct xlb_addr *addr, uint8_t *family)
{
	if (parse_family(s, AF_INET, addr) == 0) {
		*family = AF_INET;
		return 0;
	}
	if (parse_family(s, AF_INET6, addr) == 0) {
		*family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

/* Copies s[0..len) into a NUL-terminated buffer; false if it does not fit. */
static bool copy_span(char *dst, size_t size, const char *s, size_t len)
{
	if (len >= size)
		return false;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return true;
}

/* "[v6]" at the start of s: parses the address and returns what follows
 * the closing bracket, or NULL with *why set. */
static const char *parse_bracketed(const char *s, struct xlb_endpoint *ep, const char **why)
{
	const char *close = strchr(s, ']');
	char buf[INET6_ADDRSTRLEN];

	if (!close || !copy_span(buf, sizeof(buf), s + 1, (size_t)(close - s - 1)) ||
	    parse_family(buf, AF_INET6, &ep->addr)) {
		*why = "invalid IPv6 address";
		return NULL;
	}
	ep->family = AF_INET6;
	return close + 1;
}

/* Why a host part without brackets is not an IPv4 address. */
static const char *unbracketed_reason(const char *host, size_t len)
{
	char buf[INET6_ADDRSTRLEN];
	struct xlb_addr a;

	if (copy_span(buf, sizeof(buf), host, len) && parse_family(buf, AF_INET6, &a) == 0)
		return "IPv6 address must be in brackets";
	return "invalid IPv4 address";
}

/* "a.b.c.d" up to the first ':' (or '/' or the end): returns what follows
 * the address, or NULL with *why set. */
static const char *parse_plain_v4(const char *s, struct xlb_endpoint *ep, const char **why)
{
	size_t len = strcspn(s, ":/");
	char buf[INET_ADDRSTRLEN];

	/* A second ':' means an IPv6 address someone forgot to bracket. */
	if (s[len] == ':' && strchr(s + len + 1, ':'))
		len = strcspn(s, "/");
	if (!copy_span(buf, sizeof(buf), s, len) || parse_family(buf, AF_INET, &ep->addr)) {
		*why = unbracketed_reason(s, len);
		return NULL;
	}
	ep->family = AF_INET;
	return s + len;
}

/* ":PORT" with PORT in 1..65535; returns what follows, or NULL. */
static const char *parse_port(const char *s, uint16_t *port, const char **why)
{
	uint32_t v = 0;
	const char *p;

	if (*s != ':' || s[1] == '\0' || s[1] == '/') {
		*why = "missing port";
		return NULL;
	}
	for (p = s + 1; *p >= '0' && *p <= '9'; p++)
		if (v <= 65535) /* saturate: any longer number is out of range */
			v = v * 10 + (uint32_t)(*p - '0');
	if (*p != '\0' && *p != '/') {
		*why = "invalid port";
		return NULL;
	}
	if (v == 0 || v > 65535) {
		*why = "port out of range";
		return NULL;
	}
	*port = (uint16_t)v;
	return p;
}

/* The reason names the protocol so the user sees what was refused; a
 * thread-local buffer keeps the "static reason" contract of addr.h without
 * making parsers in different threads overwrite each other's message. */
static const char *unknown_proto_reason(const char *name)
{
	static _Thread_local char why[48];

	snprintf(why, sizeof(why), "unknown protocol '%.16s'", name);
	return why;
}

/* "/tcp", "/udp", or nothing, as the caller wants. */
static int parse_proto_suffix(const char *s, enum xlb_ep_want want, uint8_t *proto,
			      const char **why)
{
	if (*s == '\0') {
		*proto = 0;
		if (want == XLB_EP_PROTO) {
			*why = "missing protocol (/tcp or /udp)";
			return -EINVAL;
		}
		return 0;
	}
	if (want == XLB_EP_NO_PROTO) {
		*why = "unexpected protocol suffix";
		return -EINVAL;
	}
	if (strcmp(s + 1, "tcp") == 0)
		*proto = IPPROTO_TCP;
	else if (strcmp(s + 1, "udp") == 0)
		*proto = IPPROTO_UDP;
	else {
		*why = unknown_proto_reason(s + 1);
		return -EINVAL;
	}
	return 0;
}

static int parse_endpoint(const char *s, enum xlb_ep_want want, struct xlb_endpoint *ep,
			  const char **why)
{
	const char *rest;

	if (*s == '\0') {
		*why = "empty endpoint";
		return -EINVAL;
	}
	rest = *s == '[' ? parse_bracketed(s, ep, why) : parse_plain_v4(s, ep, why);
	if (!rest)
		return -EINVAL;
	rest = parse_port(rest, &ep->port, why);
	if (!rest)
		return -EINVAL;
	return parse_proto_suffix(rest, want, &ep->proto, why);
}

int xlb_parse_endpoint(const char *s, enum xlb_ep_want want, struct xlb_endpoint *ep,
		       const char **why)
{
	struct xlb_endpoint tmp;
	const char *ignored;
	int err;

	if (!why)
		why = &ignored;
	memset(&tmp, 0, sizeof(tmp));
	err = parse_endpoint(s, want, &tmp, why);
	if (err)
		return err;
	*ep = tmp;
	return 0;
}

const char *xlb_format_addr(uint8_t family, const struct xlb_addr *addr, char *buf, size_t len)
{
	const void *src = family == AF_INET ? (const void *)&addr->v4 : (const void *)addr->v6;

	if (len == 0)
		return buf;
	if ((family != AF_INET && family != AF_INET6) ||
	    !inet_ntop(family, src, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

const char *xlb_format_endpoint(const struct xlb_endpoint *ep, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	const char *open = ep->family == AF_INET6 ? "[" : "";
	const char *close = ep->family == AF_INET6 ? "]" : "";

	xlb_format_addr(ep->family, &ep->addr, a, sizeof(a));
	if (ep->proto)
		snprintf(buf, len, "%s%s%s:%u/%s", open, a, close, ep->port,
			 xlb_proto_name(ep->proto));
	else
		snprintf(buf, len, "%s%s%s:%u", open, a, close, ep->port);
	return buf;
}

const char *xlb_proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	default:
		return "?";
	}
}

bool xlb_endpoint_equal(const struct xlb_endpoint *a, const struct xlb_endpoint *b)
{
	return a->family == b->family && a->port == b->port && a->proto == b->proto &&
	       memcmp(&a->addr, &b->addr, sizeof(a->addr)) == 0;
}

socklen_t xlb_endpoint_sockaddr(const struct xlb_endpoint *ep, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (ep->family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(ep->port);
		sin->sin_addr.s_addr = ep->addr.v4;
		return sizeof(*sin);
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(ep->port);
	memcpy(&sin6->sin6_addr, ep->addr.v6, sizeof(sin6->sin6_addr));
	return sizeof(*sin6);
}

/* ---- address blocks ---------------------------------------------------------- */

static uint8_t *addr_bytes(struct xlb_addr *a, uint8_t family)
{
	return family == AF_INET ? (uint8_t *)&a->v4 : (uint8_t *)a->v6;
}

/* Whether the bits of a past prefix are zero; clears them in *masked. */
static bool mask_addr(const struct xlb_addr *a, uint8_t family, unsigned prefix,
		      struct xlb_addr *masked)
{
	size_t len = family == AF_INET ? 4 : 16;
	uint8_t *b;

	*masked = *a;
	b = addr_bytes(masked, family);
	for (size_t i = 0; i < len; i++) {
		unsigned keep = prefix >= 8 * (i + 1) ? 8 : prefix > 8 * i ? prefix - 8 * i : 0;
		uint8_t m = (uint8_t)(keep ? 0xff << (8 - keep) : 0);

		b[i] &= m;
	}
	return memcmp(masked, a, sizeof(*a)) == 0;
}

/* A prefix length: 1-3 digits, at most max. */
static int parse_prefix(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9' && i < 4; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	if (i == 0 || s[i] != '\0' || i > 3)
		return -EINVAL;
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int xlb_parse_cidr(const char *s, struct xlb_cidr *out, char *why, size_t whylen)
{
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	char buf[INET6_ADDRSTRLEN], shown[INET6_ADDRSTRLEN];
	struct xlb_cidr c = {};
	struct xlb_addr net;
	unsigned max, prefix;
	int err;

	if (!copy_span(buf, sizeof(buf), s, alen) || xlb_parse_addr(buf, &c.addr, &c.family)) {
		snprintf(why, whylen, "not an IPv4 or IPv6 address");
		return -EINVAL;
	}
	max = c.family == AF_INET ? 32 : 128;
	prefix = max;
	if (slash) {
		err = parse_prefix(slash + 1, max, &prefix);
		if (err == -ERANGE) {
			snprintf(why, whylen, "prefix length out of range (0-%u)", max);
			return -EINVAL;
		}
		if (err) {
			snprintf(why, whylen, "bad prefix length '%.8s'", slash + 1);
			return -EINVAL;
		}
	}
	c.prefix = (uint8_t)prefix;
	if (!mask_addr(&c.addr, c.family, prefix, &net)) {
		snprintf(why, whylen, "host bits set (%s/%u?)",
			 xlb_format_addr(c.family, &net, shown, sizeof(shown)), prefix);
		return -EINVAL;
	}
	*out = c;
	return 0;
}

/* Parses one item of a list into out (elem bytes); returns 0 or -EINVAL
 * with a short reason. */
typedef int (*item_parse_fn)(const char *item, void *out, char *why, size_t whylen);

/* The items of s, separated by spaces, tabs or commas, each parsed by
 * parse and appended to *arr (realloc'ed, elem bytes each) of *n; an item
 * longer than max_item is refused as too long. */
static int parse_list(const char *s, item_parse_fn parse, size_t max_item, size_t elem, void **arr,
		      size_t *n, char *why, size_t whylen)
{
	static const char sep[] = " \t,";

	for (s += strspn(s, sep); *s; s += strspn(s, sep)) {
		size_t len = strcspn(s, sep);
		char item[INET6_ADDRSTRLEN + 24], reason[64], one[64];
		void *grown;

		if (len > max_item || !copy_span(item, sizeof(item), s, len)) {
			snprintf(why, whylen, "'%.*s...': too long", 24, s);
			return -EINVAL;
		}
		if (parse(item, one, reason, sizeof(reason))) {
			snprintf(why, whylen, "'%s': %s", item, reason);
			return -EINVAL;
		}
		grown = realloc(*arr, (*n + 1) * elem);
		if (!grown)
			return -ENOMEM;
		*arr = grown;
		memcpy((char *)grown + (*n)++ * elem, one, elem);
		s += len;
	}
	return 0;
}

static int parse_cidr_item(const char *item, void *out, char *why, size_t whylen)
{
	return xlb_parse_cidr(item, out, why, whylen);
}

int xlb_parse_cidr_list(const char *s, struct xlb_cidr **arr, size_t *n, char *why, size_t whylen)
{
	_Static_assert(sizeof(struct xlb_cidr) <= 64, "an item fits parse_list's buffer");
	return parse_list(s, parse_cidr_item, INET6_ADDRSTRLEN + 7, sizeof(**arr), (void **)arr, n,
			  why, whylen);
}

/* "1024", "8000-8099": a port or a range of them, low to high. */
static int parse_port_range(const char *s, uint16_t *lo, uint16_t *hi)
{
	unsigned long a, b;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	a = strtoul(s, &end, 10);
	b = a;
	if (*end == '-') {
		s = end + 1;
		if (*s < '0' || *s > '9')
			return -EINVAL;
		b = strtoul(s, &end, 10);
	}
	if (*end || a < 1 || b > 65535 || a > b)
		return -EINVAL;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
}

int xlb_parse_listen_rule(const char *s, struct xlb_listen_rule *out, char *why, size_t whylen)
{
	char net[INET6_ADDRSTRLEN + 8];
	const char *ports = NULL;
	const char *colon = strrchr(s, ':');
	struct xlb_listen_rule r = { .lo = 1024, .hi = 65535 };
	size_t nlen = strlen(s);

	if (s[0] == '[') { /* [v6 block]:ports, or [v6 block] */
		const char *close = strchr(s, ']');

		if (!close || (close[1] && close[1] != ':')) {
			snprintf(why, whylen, "an IPv6 block with ports goes in brackets");
			return -EINVAL;
		}
		ports = close[1] ? close + 2 : NULL;
		s++;
		nlen = (size_t)(close - s);
	} else if (colon && colon == strchr(s, ':')) { /* v4 block:ports */
		ports = colon + 1;
		nlen = (size_t)(colon - s);
	}
	if (!copy_span(net, sizeof(net), s, nlen) || xlb_parse_cidr(net, &r.net, why, whylen)) {
		if (!why[0])
			snprintf(why, whylen, "not an address or block");
		return -EINVAL;
	}
	if (ports && parse_port_range(ports, &r.lo, &r.hi)) {
		snprintf(why, whylen, "bad port range '%.12s' (PORT or LOW-HIGH, 1-65535)", ports);
		return -EINVAL;
	}
	*out = r;
	return 0;
}

static int parse_listen_item(const char *item, void *out, char *why, size_t whylen)
{
	return xlb_parse_listen_rule(item, out, why, whylen);
}

int xlb_parse_listen_rules(const char *s, struct xlb_listen_rule **arr, size_t *n, char *why,
			   size_t whylen)
{
	_Static_assert(sizeof(struct xlb_listen_rule) <= 64, "an item fits parse_list's buffer");
	return parse_list(s, parse_listen_item, INET6_ADDRSTRLEN + 23, sizeof(**arr), (void **)arr,
			  n, why, whylen);
}

bool xlb_listen_rules_allow(const struct xlb_listen_rule *v, size_t n,
			    const struct xlb_endpoint *ep)
{
	for (size_t i = 0; i < n; i++)
		if (ep->port >= v[i].lo && ep->port <= v[i].hi &&
		    xlb_cidr_contains(&v[i].net, ep->family, &ep->addr))
			return true;
	return false;
}

bool xlb_cidr_contains(const struct xlb_cidr *c, uint8_t family, const struct xlb_addr *addr)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	struct xlb_addr a = *addr, masked;

	if (family == AF_INET6 && c->family == AF_INET &&
	    memcmp(addr->v6, mapped, sizeof(mapped)) == 0) {
		memset(&a, 0, sizeof(a));
		a.v4 = addr->v6[3];
		family = AF_INET;
	}
	if (family != c->family)
		return false;
	if (family == AF_INET) /* only the first 4 bytes count */
		memset((uint8_t *)&a + 4, 0, sizeof(a) - 4);
	mask_addr(&a, family, c->prefix, &masked);
	return memcmp(&masked, &c->addr, sizeof(masked)) == 0;
}

bool xlb_cidr_list_contains(const struct xlb_cidr *v, size_t n, uint8_t family,
			    const struct xlb_addr *addr)
{
	for (size_t i = 0; i < n; i++)
		if (xlb_cidr_contains(&v[i], family, addr))
			return true;
	return false;
}

int xlb_cidr_list_set(struct xlb_cidr **arr, size_t *n, const struct xlb_cidr *v, size_t nv)
{
	struct xlb_cidr *copy = NULL;

	if (nv) {
		copy = malloc(nv * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, v, nv * sizeof(*copy));
	}
	free(*arr);
	*arr = copy;
	*n = nv;
	return 0;
}
