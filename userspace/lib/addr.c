// SPDX-License-Identifier: GPL-2.0
/* Endpoint parsing and formatting: "10.0.0.1:80/tcp", "[fd00::1]:53/udp". */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
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
