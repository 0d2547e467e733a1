// SPDX-License-Identifier: GPL-2.0
/* Endpoint parsing and formatting. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/addr.h"

static struct xlb_endpoint parse_ok(const char *s, enum xlb_ep_want want)
{
	struct xlb_endpoint ep;
	const char *why = NULL;

	memset(&ep, 0xaa, sizeof(ep));
	if (xlb_parse_endpoint(s, want, &ep, &why) != 0)
		fail_msg("'%s' refused: %s", s, why);
	return ep;
}

static void test_ipv4_with_proto(void **state)
{
	struct xlb_endpoint ep = parse_ok("10.0.0.1:80/tcp", XLB_EP_PROTO);

	(void)state;
	assert_int_equal(ep.family, AF_INET);
	assert_int_equal(ep.port, 80);
	assert_int_equal(ep.proto, IPPROTO_TCP);
	assert_int_equal(ep.addr.v4, htonl(0x0a000001));
	/* the rest of an IPv4 address is zero, so keys compare bytewise */
	assert_int_equal(ep.addr.v6[1], 0);
	assert_int_equal(ep.addr.v6[2], 0);
	assert_int_equal(ep.addr.v6[3], 0);
}

static void test_ipv6_with_proto(void **state)
{
	struct xlb_endpoint ep = parse_ok("[fd00::1]:53/udp", XLB_EP_PROTO);
	struct in6_addr want;

	(void)state;
	assert_int_equal(inet_pton(AF_INET6, "fd00::1", &want), 1);
	assert_int_equal(ep.family, AF_INET6);
	assert_int_equal(ep.port, 53);
	assert_int_equal(ep.proto, IPPROTO_UDP);
	assert_memory_equal(ep.addr.v6, &want, 16);
}

static void test_without_proto(void **state)
{
	struct xlb_endpoint ep;

	(void)state;
	ep = parse_ok("10.200.1.2:8000", XLB_EP_NO_PROTO);
	assert_int_equal(ep.family, AF_INET);
	assert_int_equal(ep.port, 8000);
	assert_int_equal(ep.proto, 0);
	ep = parse_ok("[fd00:201::2]:8000", XLB_EP_NO_PROTO);
	assert_int_equal(ep.family, AF_INET6);
	assert_int_equal(ep.proto, 0);
}

static void test_port_limits(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("10.0.0.1:1", XLB_EP_NO_PROTO).port, 1);
	assert_int_equal(parse_ok("10.0.0.1:65535/udp", XLB_EP_PROTO).port, 65535);
	assert_int_equal(parse_ok("[::ffff:10.0.0.1]:443/tcp", XLB_EP_PROTO).port, 443);
}

struct bad_case {
	const char *in;
	enum xlb_ep_want want;
	const char *why;
};

static const struct bad_case bad_cases[] = {
	{ "10.0.0.256:80/tcp", XLB_EP_PROTO, "invalid IPv4 address" },
	{ "10.0.0:80", XLB_EP_NO_PROTO, "invalid IPv4 address" },
	{ "backend.local:80", XLB_EP_NO_PROTO, "invalid IPv4 address" },
	{ " 10.0.0.1:80", XLB_EP_NO_PROTO, "invalid IPv4 address" },
	{ "[fd00::g]:80", XLB_EP_NO_PROTO, "invalid IPv6 address" },
	{ "[fd00::1:80", XLB_EP_NO_PROTO, "invalid IPv6 address" },
	{ "[10.0.0.1]:80", XLB_EP_NO_PROTO, "invalid IPv6 address" },
	{ "fd00::1:80", XLB_EP_NO_PROTO, "IPv6 address must be in brackets" },
	{ "10.0.0.1", XLB_EP_NO_PROTO, "missing port" },
	{ "10.0.0.1:", XLB_EP_NO_PROTO, "missing port" },
	{ "10.0.0.1:/tcp", XLB_EP_PROTO, "missing port" },
	{ "[fd00::1]", XLB_EP_NO_PROTO, "missing port" },
	{ "[fd00::1]/udp", XLB_EP_PROTO, "missing port" },
	{ "10.0.0.1:0", XLB_EP_NO_PROTO, "port out of range" },
	{ "10.0.0.1:65536", XLB_EP_NO_PROTO, "port out of range" },
	{ "[fd00::1]:99999999999999999999/tcp", XLB_EP_PROTO, "port out of range" },
	{ "10.0.0.1:8x", XLB_EP_NO_PROTO, "invalid port" },
	{ "10.0.0.1:-1", XLB_EP_NO_PROTO, "invalid port" },
	{ "10.0.0.1:80 ", XLB_EP_NO_PROTO, "invalid port" },
	{ "10.0.0.1:80/sctp", XLB_EP_PROTO, "unknown protocol 'sctp'" },
	{ "10.0.0.1:80/TCP", XLB_EP_PROTO, "unknown protocol 'TCP'" },
	{ "10.0.0.1:80/", XLB_EP_PROTO, "unknown protocol ''" },
	{ "10.0.0.1:80", XLB_EP_PROTO, "missing protocol (/tcp or /udp)" },
	{ "[fd00::1]:80", XLB_EP_PROTO, "missing protocol (/tcp or /udp)" },
	{ "10.0.0.1:80/tcp", XLB_EP_NO_PROTO, "unexpected protocol suffix" },
	{ "[fd00::1]:53/udp", XLB_EP_NO_PROTO, "unexpected protocol suffix" },
	{ "", XLB_EP_NO_PROTO, "empty endpoint" },
};

/* Every refusal names its reason, and leaves the output untouched. */
static void test_invalid_endpoints(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct xlb_endpoint ep, before;
		const char *why = NULL;

		memset(&ep, 0x5a, sizeof(ep));
		before = ep;
		if (xlb_parse_endpoint(c->in, c->want, &ep, &why) != -EINVAL)
			fail_msg("'%s' accepted", c->in);
		if (!why || strcmp(why, c->why) != 0)
			fail_msg("'%s': reason '%s', want '%s'", c->in, why ? why : "(null)",
				 c->why);
		assert_memory_equal(&ep, &before, sizeof(ep));
	}
	/* the reason pointer is optional */
	{
		struct xlb_endpoint ep;

		assert_int_equal(xlb_parse_endpoint("x", XLB_EP_NO_PROTO, &ep, NULL), -EINVAL);
	}
}

/* Canonical strings format back to themselves. */
static void test_format_round_trip(void **state)
{
	static const char *const canon[] = {
		"10.0.0.1:80/tcp",    "[fd00::1]:53/udp",	   "10.200.1.2:8000",
		"[fd00:201::2]:8000", "255.255.255.255:65535/udp", "[::]:1/tcp",
		"0.0.0.0:443",
	};
	char buf[XLB_EP_STRLEN];

	(void)state;
	for (size_t i = 0; i < sizeof(canon) / sizeof(canon[0]); i++) {
		enum xlb_ep_want want = strchr(canon[i], '/') ? XLB_EP_PROTO : XLB_EP_NO_PROTO;
		struct xlb_endpoint ep = parse_ok(canon[i], want);

		assert_string_equal(xlb_format_endpoint(&ep, buf, sizeof(buf)), canon[i]);
	}
}

static void test_format_canonicalises(void **state)
{
	struct xlb_endpoint ep = parse_ok("[FD00:0:0::0001]:080", XLB_EP_NO_PROTO);
	char buf[XLB_EP_STRLEN];

	(void)state;
	assert_string_equal(xlb_format_endpoint(&ep, buf, sizeof(buf)), "[fd00::1]:80");
	/* the longest endpoint fits XLB_EP_STRLEN */
	ep = parse_ok("[1111:2222:3333:4444:5555:6666:7777:8888]:65535/udp", XLB_EP_PROTO);
	assert_string_equal(xlb_format_endpoint(&ep, buf, sizeof(buf)),
			    "[1111:2222:3333:4444:5555:6666:7777:8888]:65535/udp");
	/* a short buffer truncates instead of overflowing */
	assert_string_equal(xlb_format_endpoint(&ep, buf, 8), "[1111:2");
}

static void test_parse_addr(void **state)
{
	struct xlb_addr a;
	uint8_t family = 0;
	char buf[64];

	(void)state;
	assert_int_equal(xlb_parse_addr("10.200.0.100", &a, &family), 0);
	assert_int_equal(family, AF_INET);
	assert_string_equal(xlb_format_addr(family, &a, buf, sizeof(buf)), "10.200.0.100");
	assert_int_equal(a.v6[1] | a.v6[2] | a.v6[3], 0);
	assert_int_equal(xlb_parse_addr("fd00:200::100", &a, &family), 0);
	assert_int_equal(family, AF_INET6);
	assert_string_equal(xlb_format_addr(family, &a, buf, sizeof(buf)), "fd00:200::100");
	assert_int_equal(xlb_parse_addr("[fd00::1]", &a, &family), -EINVAL);
	assert_int_equal(xlb_parse_addr("10.0.0.1:80", &a, &family), -EINVAL);
	assert_int_equal(xlb_parse_addr("", &a, &family), -EINVAL);
	assert_string_equal(xlb_format_addr(0, &a, buf, sizeof(buf)), "?");
}

static void test_proto_names(void **state)
{
	(void)state;
	assert_string_equal(xlb_proto_name(IPPROTO_TCP), "tcp");
	assert_string_equal(xlb_proto_name(IPPROTO_UDP), "udp");
	assert_string_equal(xlb_proto_name(0), "?");
	assert_string_equal(xlb_proto_name(IPPROTO_SCTP), "?");
}

static void test_endpoint_equal(void **state)
{
	struct xlb_endpoint a = parse_ok("10.0.0.1:80/tcp", XLB_EP_PROTO);
	struct xlb_endpoint b = parse_ok("10.0.0.1:80/tcp", XLB_EP_PROTO);

	(void)state;
	assert_true(xlb_endpoint_equal(&a, &b));
	b = parse_ok("10.0.0.1:80/udp", XLB_EP_PROTO);
	assert_false(xlb_endpoint_equal(&a, &b));
	b = parse_ok("10.0.0.1:81/tcp", XLB_EP_PROTO);
	assert_false(xlb_endpoint_equal(&a, &b));
	b = parse_ok("10.0.0.2:80/tcp", XLB_EP_PROTO);
	assert_false(xlb_endpoint_equal(&a, &b));
	b = parse_ok("[a00:1::]:80/tcp", XLB_EP_PROTO); /* same 16 bytes, other family */
	assert_false(xlb_endpoint_equal(&a, &b));
	b = parse_ok("10.0.0.1:80", XLB_EP_NO_PROTO);
	assert_false(xlb_endpoint_equal(&a, &b));
}

static struct xlb_cidr cidr_ok(const char *s)
{
	struct xlb_cidr c;
	char why[96] = "";

	memset(&c, 0xaa, sizeof(c));
	if (xlb_parse_cidr(s, &c, why, sizeof(why)) != 0)
		fail_msg("'%s' refused: %s", s, why);
	return c;
}

static void cidr_bad(const char *s, const char *want)
{
	struct xlb_cidr c;
	char why[96] = "";

	memset(&c, 0xaa, sizeof(c));
	assert_int_equal(xlb_parse_cidr(s, &c, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, want);
}

static bool in(const struct xlb_cidr *c, const char *addr)
{
	struct xlb_addr a;
	uint8_t family;

	assert_int_equal(xlb_parse_addr(addr, &a, &family), 0);
	return xlb_cidr_contains(c, family, &a);
}

static void test_cidr_parse(void **state)
{
	struct xlb_cidr c = cidr_ok("10.0.0.0/8");

	(void)state;
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix, 8);
	assert_int_equal(c.addr.v4, htonl(0x0a000000));
	assert_int_equal(c.addr.v6[1], 0);
	c = cidr_ok("10.200.0.2"); /* a plain address: its full length */
	assert_int_equal(c.prefix, 32);
	c = cidr_ok("0.0.0.0/0");
	assert_int_equal(c.prefix, 0);
	c = cidr_ok("fd00::/8");
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(c.prefix, 8);
	c = cidr_ok("fd00:200::2");
	assert_int_equal(c.prefix, 128);
	c = cidr_ok("10.1.2.3/32");
	assert_int_equal(c.prefix, 32);
}

static void test_cidr_errors(void **state)
{
	(void)state;
	cidr_bad("10.0.0.0/33", "prefix length out of range (0-32)");
	cidr_bad("fd00::/129", "prefix length out of range (0-128)");
	cidr_bad("10.0.0.0/", "bad prefix length ''");
	cidr_bad("10.0.0.0/8x", "bad prefix length '8x'");
	cidr_bad("10.0.0.0/-1", "bad prefix length '-1'");
	cidr_bad("10.0.0.0/0008", "bad prefix length '0008'");
	cidr_bad("10.0.0.1/8", "host bits set (10.0.0.0/8?)");
	cidr_bad("fd00::1/64", "host bits set (fd00::/64?)");
	cidr_bad("10.0.0/8", "not an IPv4 or IPv6 address");
	cidr_bad("", "not an IPv4 or IPv6 address");
	cidr_bad("/8", "not an IPv4 or IPv6 address");
	cidr_bad("[fd00::]/8", "not an IPv4 or IPv6 address");
	cidr_bad("host.example", "not an IPv4 or IPv6 address");
}

static void test_cidr_contains(void **state)
{
	struct xlb_cidr c = cidr_ok("10.200.0.0/16");

	(void)state;
	assert_true(in(&c, "10.200.0.2"));
	assert_true(in(&c, "10.200.255.255"));
	assert_false(in(&c, "10.201.0.2"));
	assert_true(in(&c, "::ffff:10.200.0.2")); /* a dual-stack socket's IPv4 peer */
	assert_false(in(&c, "fd00::2"));
	c = cidr_ok("10.0.0.0/9"); /* a prefix inside a byte */
	assert_true(in(&c, "10.127.1.1"));
	assert_false(in(&c, "10.128.1.1"));
	c = cidr_ok("0.0.0.0/0");
	assert_true(in(&c, "192.0.2.1"));
	assert_false(in(&c, "2001:db8::1"));
	c = cidr_ok("10.200.0.2");
	assert_true(in(&c, "10.200.0.2"));
	assert_false(in(&c, "10.200.0.3"));
	c = cidr_ok("fd00:200::/33");
	assert_true(in(&c, "fd00:200:7fff::1"));
	assert_false(in(&c, "fd00:200:8000::1"));
	assert_false(in(&c, "10.200.0.2"));
	c = cidr_ok("::/0");
	assert_true(in(&c, "::1"));
	assert_false(in(&c, "10.0.0.1"));
}

static void test_cidr_list(void **state)
{
	struct xlb_cidr *v = NULL;
	size_t n = 0;
	char why[96] = "";

	(void)state;
	assert_int_equal(xlb_parse_cidr_list(" 10.0.0.0/8, fd00::/8\t192.0.2.7,,", &v, &n, why,
					     sizeof(why)),
			 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[1].family, AF_INET6);
	assert_int_equal(v[2].prefix, 32);
	assert_int_equal(xlb_parse_cidr_list("", &v, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 3);
	assert_int_equal(xlb_parse_cidr_list("172.16.0.0/12 10.0.0.1/8 1.2.3.4", &v, &n, why,
					     sizeof(why)),
			 -EINVAL);
	assert_string_equal(why, "'10.0.0.1/8': host bits set (10.0.0.0/8?)");
	assert_int_equal(n, 4); /* the items before the bad one */
	assert_true(xlb_cidr_list_contains(v, n, v[3].family, &v[3].addr));
	assert_int_equal(
		xlb_parse_cidr_list("10.0.0.0/8 "
				    "fd00:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000/8",
				    &v, &n, why, sizeof(why)),
		-EINVAL);
	assert_string_equal(why, "'fd00:0000:0000:0000:0000...': too long");
	free(v);
	assert_false(xlb_cidr_list_contains(NULL, 0, AF_INET, &(struct xlb_addr){}));
}

static struct xlb_endpoint endpoint(const char *s)
{
	struct xlb_endpoint ep;
	const char *why = NULL;

	assert_int_equal(xlb_parse_endpoint(s, XLB_EP_NO_PROTO, &ep, &why), 0);
	return ep;
}

static void test_listen_rules(void **state)
{
	struct xlb_listen_rule *v = NULL;
	size_t n = 0;
	char why[128] = "";
	struct xlb_endpoint ep;

	(void)state;
	assert_int_equal(xlb_parse_listen_rules("10.0.0.1, 10.1.0.0/16:8000-8099 [fd00::/64]:443",
						&v, &n, why, sizeof(why)),
			 0);
	assert_int_equal(n, 3);
	/* no ports given: 1024 and up */
	ep = endpoint("10.0.0.1:1024");
	assert_true(xlb_listen_rules_allow(v, n, &ep));
	ep = endpoint("10.0.0.1:1023");
	assert_false(xlb_listen_rules_allow(v, n, &ep));
	ep = endpoint("10.0.0.2:8080");
	assert_false(xlb_listen_rules_allow(v, n, &ep));
	ep = endpoint("10.1.2.3:8099");
	assert_true(xlb_listen_rules_allow(v, n, &ep));
	ep = endpoint("10.1.2.3:8100");
	assert_false(xlb_listen_rules_allow(v, n, &ep));
	ep = endpoint("[fd00::5]:443");
	assert_true(xlb_listen_rules_allow(v, n, &ep));
	ep = endpoint("[fd00::5]:444");
	assert_false(xlb_listen_rules_allow(v, n, &ep));
	free(v);
	v = NULL;
	n = 0;
	assert_int_equal(xlb_parse_listen_rules("10.0.0.1:9-8", &v, &n, why, sizeof(why)), -EINVAL);
	assert_string_equal(why,
			    "'10.0.0.1:9-8': bad port range '9-8' (PORT or LOW-HIGH, 1-65535)");
	assert_int_equal(xlb_parse_listen_rules("fd00::/64:443", &v, &n, why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(xlb_parse_listen_rules("[fd00::1:443", &v, &n, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "'[fd00::1:443': an IPv6 block with ports goes in brackets");
	assert_int_equal(xlb_parse_listen_rules("10.0.0.1:0", &v, &n, why, sizeof(why)), -EINVAL);
	assert_int_equal(n, 0);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_with_proto),
		cmocka_unit_test(test_ipv6_with_proto),
		cmocka_unit_test(test_without_proto),
		cmocka_unit_test(test_port_limits),
		cmocka_unit_test(test_invalid_endpoints),
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_format_canonicalises),
		cmocka_unit_test(test_parse_addr),
		cmocka_unit_test(test_proto_names),
		cmocka_unit_test(test_endpoint_equal),
		cmocka_unit_test(test_cidr_parse),
		cmocka_unit_test(test_cidr_errors),
		cmocka_unit_test(test_cidr_contains),
		cmocka_unit_test(test_cidr_list),
		cmocka_unit_test(test_listen_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
