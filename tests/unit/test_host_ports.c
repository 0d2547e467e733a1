// SPDX-License-Identifier: GPL-2.0
/* Who takes a port's traffic on this host (xlbd/host_ports.c), asked of
 * the kernel (sock_diag) about sockets this test opens: exact addresses,
 * IPv4 and IPv6 wildcards, v6-only sockets, and the owner's uid. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xlbd/host_ports.h"

/* A socket of type bound to addr on a free port (and listening if TCP);
 * the port in *port. */
static int bound(int family, int type, const char *addr, bool v6only, uint16_t *port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);
	int fd = socket(family, type, 0), one = 1;

	assert_true(fd >= 0);
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		int v6 = v6only;

		assert_int_equal(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof(v6)), 0);
		a->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, addr, &a->sin6_addr), 1);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, addr, &a->sin_addr), 1);
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(fd, (struct sockaddr *)&ss,
			      family == AF_INET6 ? sizeof(struct sockaddr_in6)
						 : sizeof(struct sockaddr_in)),
			 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					 : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

static struct xlb_endpoint ep_of(const char *addr, uint16_t port)
{
	struct xlb_endpoint ep = { .port = port };

	if (strchr(addr, ':')) {
		ep.family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, addr, ep.addr.v6), 1);
	} else {
		ep.family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, addr, &ep.addr.v4), 1);
	}
	return ep;
}

static int owner_of(const char *addr, uint16_t port, uint8_t proto, char *owner)
{
	struct xlb_endpoint ep = ep_of(addr, port);

	return xlb_host_port_owner(&ep, proto, owner, 128);
}

static void test_a_listener_on_the_address_and_its_owner(void **state)
{
	char owner[128], want[64];
	uint16_t port;
	int fd = bound(AF_INET, SOCK_STREAM, "127.0.0.1", false, &port);

	(void)state;
	assert_int_equal(owner_of("127.0.0.1", port, IPPROTO_TCP, owner), 1);
	snprintf(want, sizeof(want), "uid=%u inode=", getuid());
	assert_int_equal(strncmp(owner, want, strlen(want)), 0);
	/* another address, another protocol: not taken */
	assert_int_equal(owner_of("127.0.0.2", port, IPPROTO_TCP, owner), 0);
	assert_int_equal(owner_of("127.0.0.1", port, IPPROTO_UDP, owner), 0);
	close(fd);
	assert_int_equal(owner_of("127.0.0.1", port, IPPROTO_TCP, owner), 0);
}

static void test_wildcards_cover_every_address(void **state)
{
	char owner[128];
	uint16_t udp, dual, v6;
	int a = bound(AF_INET, SOCK_DGRAM, "0.0.0.0", false, &udp);
	int b = bound(AF_INET6, SOCK_STREAM, "::", false, &dual);
	int c = bound(AF_INET6, SOCK_STREAM, "::", true, &v6);

	(void)state;
	assert_int_equal(owner_of("10.9.8.7", udp, IPPROTO_UDP, owner), 1);
	/* a dual-stack IPv6 wildcard takes IPv4 too; a v6-only one does not */
	assert_int_equal(owner_of("10.9.8.7", dual, IPPROTO_TCP, owner), 1);
	assert_int_equal(owner_of("fd00::7", dual, IPPROTO_TCP, owner), 1);
	assert_int_equal(owner_of("10.9.8.7", v6, IPPROTO_TCP, owner), 0);
	assert_int_equal(owner_of("fd00::7", v6, IPPROTO_TCP, owner), 1);
	close(a);
	close(b);
	close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_listener_on_the_address_and_its_owner),
		cmocka_unit_test(test_wildcards_cover_every_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
