// SPDX-License-Identifier: GPL-2.0
#include "host_ports.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/netlink.h"

struct port_query {
	const struct xlb_endpoint *ep;
	bool found;
	struct xlb_nl_sock sock;
};

static bool all_zero(const void *p, size_t n)
{
	static const uint8_t zero[16];

	return memcmp(p, zero, n) == 0;
}

/* ::ffff:a.b.c.d for ep's IPv4 address */
static bool v4_mapped_is(const struct xlb_addr *a, const struct xlb_endpoint *ep)
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return memcmp(a->v6, prefix, 12) == 0 && a->v6[3] == ep->addr.v4;
}

static bool covers(const struct xlb_nl_sock *s, const struct xlb_endpoint *ep)
{
	if (s->family == AF_INET)
		return ep->family == AF_INET && (s->addr.v4 == 0 || s->addr.v4 == ep->addr.v4);
	if (ep->family == AF_INET6)
		return all_zero(s->addr.v6, 16) || memcmp(s->addr.v6, ep->addr.v6, 16) == 0;
	return !s->v6only && (all_zero(s->addr.v6, 16) || v4_mapped_is(&s->addr, ep));
}

static int on_socket(const struct xlb_nl_sock *s, void *arg)
{
	struct port_query *q = arg;

	if (!covers(s, q->ep))
		return 0;
	q->found = true;
	q->sock = *s;
	return 1;
}

int xlb_host_port_owner(const struct xlb_endpoint *ep, uint8_t proto, char *owner, size_t len)
{
	static const uint8_t families[] = { AF_INET, AF_INET6 };
	struct port_query q = { .ep = ep };

	for (size_t i = 0; i < sizeof(families) && !q.found; i++) {
		int err = xlb_nl_sockets_on_port(families[i], proto, ep->port, on_socket, &q);

		if (err)
			return err;
	}
	if (!q.found)
		return 0;
	/* the process behind it is not to be had here: /proc/PID/fd of a
	 * process with more capabilities than xlbd's runtime set needs
	 * CAP_SYS_PTRACE; the inode is what ss -e shows beside it */
	snprintf(owner, len, "uid=%u inode=%u", q.sock.uid, q.sock.inode);
	return 1;
}
