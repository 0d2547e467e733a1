// SPDX-License-Identifier: GPL-2.0
/* The host map: exact names before wildcards, the longest wildcard, no
 * match, case, duplicates; and the host name syntax the peekers rely on. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/hostmap.h"

static uint32_t lookup(const struct xlb_hostmap *m, const char *host)
{
	uint32_t value = 0;

	assert_int_equal(xlb_hostmap_lookup(m, host, &value), 0);
	return value;
}

static void assert_no_route(const struct xlb_hostmap *m, const char *host)
{
	uint32_t value = 77;

	assert_int_equal(xlb_hostmap_lookup(m, host, &value), -ENOENT);
	assert_int_equal(value, 77);
}

static void test_exact_before_wildcard(void **state)
{
	struct xlb_hostmap m = XLB_HOSTMAP_INIT;

	(void)state;
	assert_int_equal(xlb_hostmap_add(&m, "*.app.dev", 2), 0);
	assert_int_equal(xlb_hostmap_add(&m, "api.app.dev", 1), 0);
	assert_int_equal(lookup(&m, "api.app.dev"), 1);
	assert_int_equal(lookup(&m, "web.app.dev"), 2);
	assert_int_equal(lookup(&m, "x.api.app.dev"), 2);
	xlb_hostmap_clear(&m);
}

static void test_longest_wildcard(void **state)
{
	struct xlb_hostmap m = XLB_HOSTMAP_INIT;

	(void)state;
	assert_int_equal(xlb_hostmap_add(&m, "*.api.app.dev", 3), 0);
	assert_int_equal(xlb_hostmap_add(&m, "*.app.dev", 2), 0);
	assert_int_equal(xlb_hostmap_add(&m, "*.dev", 1), 0);
	assert_int_equal(lookup(&m, "x.api.app.dev"), 3);
	assert_int_equal(lookup(&m, "a.b.api.app.dev"), 3);
	assert_int_equal(lookup(&m, "api.app.dev"), 2); /* not *.api.app.dev */
	assert_int_equal(lookup(&m, "app.dev"), 1);
	assert_int_equal(lookup(&m, "x.xapi.app.dev"), 2); /* label boundary */
	xlb_hostmap_clear(&m);
}

static void test_wildcard_needs_a_label(void **state)
{
	struct xlb_hostmap m = XLB_HOSTMAP_INIT;

	(void)state;
	assert_int_equal(xlb_hostmap_add(&m, "*.api.app.dev", 3), 0);
	assert_no_route(&m, "api.app.dev");
	assert_no_route(&m, ".api.app.dev");
	assert_no_route(&m, "xapi.app.dev");
	assert_int_equal(lookup(&m, "x.api.app.dev"), 3);
	xlb_hostmap_clear(&m);
}

static void test_no_match(void **state)
{
	struct xlb_hostmap m = XLB_HOSTMAP_INIT;
	char long_name[400];

	(void)state;
	assert_no_route(&m, "api.app.dev"); /* empty map */
	assert_int_equal(xlb_hostmap_add(&m, "api.app.dev", 1), 0);
	assert_int_equal(xlb_hostmap_add(&m, "*.web.dev", 2), 0);
	assert_no_route(&m, "app.dev");
	assert_no_route(&m, "api.app.dev.evil");
	assert_no_route(&m, "x.api.app.dev");
	assert_no_route(&m, "web.dev");
	assert_no_route(&m, "dev");
	assert_no_route(&m, "");
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_no_route(&m, long_name);
	xlb_hostmap_clear(&m);
}

static void test_case_insensitive(void **state)
{
	struct xlb_hostmap m = XLB_HOSTMAP_INIT;

	(void)state;
	assert_int_equal(xlb_hostmap_add(&m, "API.App.Dev", 1), 0);
	assert_int_equal(xlb_hostmap_add(&m, "*.EXAMPLE.com", 2), 0);
	assert_int_equal(lookup(&m, "api.app.dev"), 1);
	assert_int_equal(lookup(&m, "api.APP.dev"), 1);
	assert_int_equal(lookup(&m, "X.example.COM"), 2);
	xlb_hostmap_clear(&m);
}

static void test_duplicates(void **state)
{
	struct xlb_hostmap m = XLB_HOSTMAP_INIT;

	(void)state;
	assert_int_equal(xlb_hostmap_add(&m, "api.app.dev", 1), 0);
	assert_int_equal(xlb_hostmap_add(&m, "api.app.dev", 2), -EEXIST);
	assert_int_equal(xlb_hostmap_add(&m, "Api.App.Dev", 2), -EEXIST);
	/* a wildcard and the exact name of its suffix are different names */
	assert_int_equal(xlb_hostmap_add(&m, "*.api.app.dev", 3), 0);
	assert_int_equal(xlb_hostmap_add(&m, "*.API.app.dev", 4), -EEXIST);
	assert_int_equal(lookup(&m, "api.app.dev"), 1);
	assert_int_equal(lookup(&m, "x.api.app.dev"), 3);
	xlb_hostmap_clear(&m);
}

/* nginx's order: exact, longest leading wildcard, longest trailing one;
 * a trailing wildcard needs a label after its prefix. */
static void test_trailing_wildcard(void **state)
{
	struct xlb_hostmap m = XLB_HOSTMAP_INIT;

	(void)state;
	assert_int_equal(xlb_hostmap_add(&m, "api.*", 1), 0);
	assert_int_equal(xlb_hostmap_add(&m, "api.app.*", 2), 0);
	assert_int_equal(xlb_hostmap_add(&m, "*.app.dev", 3), 0);
	assert_int_equal(xlb_hostmap_add(&m, "api.app.dev", 4), 0);
	assert_int_equal(xlb_hostmap_add(&m, "API.*", 5), -EEXIST);
	assert_int_equal(lookup(&m, "api.app.dev"), 4);	    /* exact */
	assert_int_equal(lookup(&m, "web.app.dev"), 3);	    /* leading */
	assert_int_equal(lookup(&m, "api.app.example"), 2); /* longest trailing */
	assert_int_equal(lookup(&m, "API.App.co.uk"), 2);   /* any labels after */
	assert_int_equal(lookup(&m, "api.example"), 1);
	assert_int_equal(lookup(&m, "api.x.y"), 1);
	assert_no_route(&m, "api"); /* the prefix alone */
	assert_no_route(&m, "apix.example");
	assert_no_route(&m, "x.api.example");
	/* a pattern finds its own entry, as routing's TLS holder relies on */
	assert_int_equal(lookup(&m, "api.app.*"), 2);
	assert_true(xlb_host_is_pattern("api.*"));
	assert_true(xlb_host_is_pattern("*.api"));
	assert_false(xlb_host_is_pattern("api.dev"));
	xlb_hostmap_clear(&m);
}

/* "~regex" after every other form, in the order added, on the host
 * lowercased; a pattern's own text finds it; a bad one is refused. */
static void test_regex_hosts(void **state)
{
	struct xlb_hostmap m = XLB_HOSTMAP_INIT;
	char why[160];

	(void)state;
	assert_int_equal(xlb_hostmap_add(&m, "~^api\\d+\\.example\\.tld$", 1), 0);
	assert_int_equal(xlb_hostmap_add(&m, "~example", 2), 0);
	assert_int_equal(xlb_hostmap_add(&m, "api7.example.tld", 3), 0);
	assert_int_equal(xlb_hostmap_add(&m, "~example", 4), -EEXIST);
	assert_int_equal(lookup(&m, "api12.example.tld"), 1);
	assert_int_equal(lookup(&m, "API12.Example.TLD"), 1); /* lowercased */
	assert_int_equal(lookup(&m, "api7.example.tld"), 3);  /* exact first */
	assert_int_equal(lookup(&m, "apix.example.tld"), 2);  /* the next regex */
	assert_no_route(&m, "api12.other.tld");
	assert_int_equal(lookup(&m, "~example"), 2);
	assert_true(xlb_host_is_pattern("~x"));
	assert_int_equal(xlb_hostmap_add(&m, "~(", 5), -EINVAL);
	assert_int_equal(xlb_hostmap_add(&m, "~", 5), -EINVAL);
	assert_int_equal(xlb_host_regex_check("~a(b", why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "bad regex at offset"));
	assert_int_equal(xlb_host_regex_check("~(*UTF)a", why, sizeof(why)), -EINVAL);
	xlb_hostmap_clear(&m);
}

/* A pattern that backtracks exponentially gives up at the match limit:
 * no match, and no stall. */
static void test_regex_bounded(void **state)
{
	struct xlb_hostmap m = XLB_HOSTMAP_INIT;
	char host[64];

	(void)state;
	memset(host, 'a', sizeof(host) - 2);
	host[sizeof(host) - 2] = 'b';
	host[sizeof(host) - 1] = '\0';
	assert_int_equal(xlb_hostmap_add(&m, "~^(a+)+$", 1), 0);
	assert_no_route(&m, host);
	xlb_hostmap_clear(&m);
}

static void test_invalid_names(void **state)
{
	static const char *const bad[] = {
		"",   "*",    "*.",   "**.a",	 "a.*.b", "*a.b",	    "a..b",
		".a", ".*",   "a.**", "*.a.*",	 "a*",	  "a.b*",	    "-a.*",
		"a.", "-a.b", "a-.b", "a_b.dev", "a b",	  "api.app.dev:80", "[::1]",
	};
	struct xlb_hostmap m = XLB_HOSTMAP_INIT;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (xlb_hostmap_add(&m, bad[i], 1) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
	}
	assert_int_equal(m.n, 0);
	xlb_hostmap_clear(&m);
}

/* Many names inserted out of order all stay findable. */
static void test_many_names(void **state)
{
	struct xlb_hostmap m = XLB_HOSTMAP_INIT;
	char name[64];

	(void)state;
	for (uint32_t i = 0; i < 1000; i++) {
		uint32_t k = (i * 7919) % 1000; /* a permutation of 0..999 */

		snprintf(name, sizeof(name), "%ssvc%u.app.dev", k % 2 ? "*." : "", k);
		assert_int_equal(xlb_hostmap_add(&m, name, k), 0);
	}
	assert_int_equal(m.n, 1000);
	for (uint32_t k = 0; k < 1000; k++) {
		snprintf(name, sizeof(name), "%ssvc%u.app.dev", k % 2 ? "x." : "", k);
		assert_int_equal(lookup(&m, name), k);
	}
	assert_no_route(&m, "svc1.app.dev"); /* only *.svc1.app.dev */
	xlb_hostmap_clear(&m);
	assert_int_equal(m.n, 0);
	assert_no_route(&m, "svc0.app.dev");
	assert_int_equal(xlb_hostmap_add(&m, "svc0.app.dev", 5), 0); /* reusable */
	assert_int_equal(lookup(&m, "svc0.app.dev"), 5);
	xlb_hostmap_clear(&m);
}

static void test_normalize(void **state)
{
	char out[XLB_HOSTNAME_SIZE], name[300];

	(void)state;
	assert_int_equal(xlb_host_normalize("Api.APP.dev:80", 11, out, sizeof(out)), 11);
	assert_string_equal(out, "api.app.dev");
	assert_int_equal(xlb_host_normalize("10.200.0.100", 12, out, sizeof(out)), 12);
	assert_int_equal(xlb_host_normalize("api.app.dev", 11, out, 11), -ENOSPC);
	assert_int_equal(xlb_host_normalize("api.app.dev", 11, out, 12), 11);
	assert_int_equal(xlb_host_normalize("api.app.dev.", 12, out, sizeof(out)), -EINVAL);
	assert_int_equal(xlb_host_normalize("", 0, out, sizeof(out)), -EINVAL);
	assert_int_equal(xlb_host_normalize("a\0b", 3, out, sizeof(out)), -EINVAL);

	/* labels of 63 characters are fine, 64 are not */
	memset(name, 'a', 64);
	assert_int_equal(xlb_host_normalize(name, 63, out, sizeof(out)), 63);
	assert_int_equal(xlb_host_normalize(name, 64, out, sizeof(out)), -EINVAL);

	/* 253 characters are fine, 254 are not: 63.63.63.61 and one more */
	memset(name, 'a', sizeof(name));
	name[63] = name[127] = name[191] = '.';
	assert_int_equal(xlb_host_normalize(name, 253, out, sizeof(out)), 253);
	assert_int_equal(xlb_host_normalize(name, 254, out, sizeof(out)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_before_wildcard),
		cmocka_unit_test(test_longest_wildcard),
		cmocka_unit_test(test_trailing_wildcard),
		cmocka_unit_test(test_regex_hosts),
		cmocka_unit_test(test_regex_bounded),
		cmocka_unit_test(test_wildcard_needs_a_label),
		cmocka_unit_test(test_no_match),
		cmocka_unit_test(test_case_insensitive),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_invalid_names),
		cmocka_unit_test(test_many_names),
		cmocka_unit_test(test_normalize),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
