/* SPDX-License-Identifier: GPL-2.0 */
/* Endpoint syntax shared by the config file, the control socket and xlbctl:
 *   10.0.0.1:80/tcp   [fd00::1]:53/udp   10.0.0.1:8000   [fd00::1]:8000
 * The protocol suffix is required where a listener is named and refused
 * where a backend is. */
#ifndef XLB_ADDR_H
#define XLB_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "xlb/map_types.h"

struct xlb_endpoint {
	struct xlb_addr addr; /* network byte order, as in the maps */
	uint16_t port;	      /* host byte order */
	uint8_t family;	      /* AF_INET or AF_INET6 */
	uint8_t proto;	      /* IPPROTO_TCP/UDP, or 0 when not given */
};

enum xlb_ep_want { XLB_EP_NO_PROTO, XLB_EP_PROTO };

/* Parses s into ep. On error returns -EINVAL and points *why at a short
 * static reason ("invalid IPv4 address", "port out of range", ...). */
int xlb_parse_endpoint(const char *s, enum xlb_ep_want want, struct xlb_endpoint *ep,
		       const char **why);

/* Parses a bare address (no port) of either family. */
int xlb_parse_addr(const char *s, struct xlb_addr *addr, uint8_t *family);

/* "10.0.0.1" or "fd00::1"; returns buf. */
const char *xlb_format_addr(uint8_t family, const struct xlb_addr *addr, char *buf, size_t len);
/* "10.0.0.1:80/tcp", "[fd00::1]:53" (no suffix when proto is 0); returns buf. */
const char *xlb_format_endpoint(const struct xlb_endpoint *ep, char *buf, size_t len);
/* "tcp", "udp" or "?" */
const char *xlb_proto_name(uint8_t proto);

/* ep as a socket address for bind/connect; returns its length. */
socklen_t xlb_endpoint_sockaddr(const struct xlb_endpoint *ep, struct sockaddr_storage *ss);

bool xlb_endpoint_equal(const struct xlb_endpoint *a, const struct xlb_endpoint *b);

/* An address block: "10.0.0.0/8", "fd00::/64", or a plain address (its
 * full length). Bits past the prefix are zero. */
struct xlb_cidr {
	struct xlb_addr addr; /* network byte order */
	uint8_t family;	      /* AF_INET or AF_INET6 */
	uint8_t prefix;	      /* 0..32 or 0..128 */
};

/* Parses one block. On error returns -EINVAL and writes a short reason
 * ("prefix length out of range (0-32)", "host bits set (10.0.0.0/8?)")
 * into why. */
int xlb_parse_cidr(const char *s, struct xlb_cidr *out, char *why, size_t whylen);

/* Appends the blocks of s, separated by spaces, tabs or commas, to
 * *arr (realloc'ed) of *n. Returns 0, -ENOMEM, or -EINVAL with why
 * naming the bad item ("'10.0.0.0/33': prefix length out of range
 * (0-32)"); *arr and *n stay valid and hold the items before it. */
int xlb_parse_cidr_list(const char *s, struct xlb_cidr **arr, size_t *n, char *why, size_t whylen);

/* Whether addr (of family) lies in c; an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d, a dual-stack socket's IPv4 peer) matches as its IPv4
 * address. */
bool xlb_cidr_contains(const struct xlb_cidr *c, uint8_t family, const struct xlb_addr *addr);
/* The same over n blocks. */
bool xlb_cidr_list_contains(const struct xlb_cidr *v, size_t n, uint8_t family,
			    const struct xlb_addr *addr);
/* Where labels may publish an L4 service (--docker-listen-allow): an
 * address block and a port range. Text: "10.0.0.1", "10.0.0.0/24:8000-8099",
 * "[fd00::/64]:443" (ports 1024-65535 when none are given). */
struct xlb_listen_rule {
	struct xlb_cidr net;
	uint16_t lo, hi;
};

/* One rule; -EINVAL with a short reason in why. */
int xlb_parse_listen_rule(const char *s, struct xlb_listen_rule *out, char *why, size_t whylen);
/* A list of them, as xlb_parse_cidr_list reads blocks. */
int xlb_parse_listen_rules(const char *s, struct xlb_listen_rule **arr, size_t *n, char *why,
			   size_t whylen);
/* Whether one of the n rules lets ep be published. */
bool xlb_listen_rules_allow(const struct xlb_listen_rule *v, size_t n,
			    const struct xlb_endpoint *ep);

/* *arr (malloc'ed, n of them) becomes a copy of v; on -ENOMEM it stays. */
int xlb_cidr_list_set(struct xlb_cidr **arr, size_t *n, const struct xlb_cidr *v, size_t nv);

/* Longest formatted endpoint: "[" 39 "]:" 5 "/" 3 + NUL */
#define XLB_EP_STRLEN 64

#endif
