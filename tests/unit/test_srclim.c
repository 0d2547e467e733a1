// SPDX-License-Identifier: GPL-2.0
/* Connections per source (proxy/source_limit.c): the limit per address
 * and per IPv6 /64, exempt sources, and a table that stays consistent
 * under many takes and puts, checked against a plain array. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proxy/source_limit.h"

static struct xlb_flow_key flow_from(const char *src)
{
	struct xlb_flow_key f = { 0 };

	if (strchr(src, ':')) {
		f.family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, src, f.src.v6), 1);
	} else {
		f.family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, src, &f.src.v4), 1);
	}
	return f;
}

static void test_a_source_gets_its_limit_and_no_more(void **state)
{
	struct xlb_flow_key a = flow_from("10.0.0.1"), b = flow_from("10.0.0.2");
	struct xlb_srclim *t;

	(void)state;
	assert_int_equal(xlb_srclim_new(3, 100, &t), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(xlb_srclim_take(t, &a), XLB_SRC_COUNTED);
	assert_int_equal(xlb_srclim_take(t, &a), XLB_SRC_REFUSED);
	assert_int_equal(xlb_srclim_held(t, &a), 3);
	/* another source is not held back by the first */
	assert_int_equal(xlb_srclim_take(t, &b), XLB_SRC_COUNTED);
	/* one closes: one more may come */
	xlb_srclim_put(t, &a);
	assert_int_equal(xlb_srclim_take(t, &a), XLB_SRC_COUNTED);
	assert_int_equal(xlb_srclim_take(t, &a), XLB_SRC_REFUSED);
	xlb_srclim_free(t);
}

static void test_an_ipv6_source_is_its_slash_64(void **state)
{
	struct xlb_flow_key a = flow_from("2001:db8:1:2::1"), b = flow_from("2001:db8:1:2:ffff::9");
	struct xlb_flow_key other = flow_from("2001:db8:1:3::1");
	struct xlb_srclim *t;

	(void)state;
	assert_int_equal(xlb_srclim_new(2, 100, &t), 0);
	assert_int_equal(xlb_srclim_take(t, &a), XLB_SRC_COUNTED);
	assert_int_equal(xlb_srclim_take(t, &b), XLB_SRC_COUNTED);
	assert_int_equal(xlb_srclim_take(t, &a), XLB_SRC_REFUSED);
	assert_int_equal(xlb_srclim_take(t, &other), XLB_SRC_COUNTED);
	xlb_srclim_free(t);
}

static void test_exempt_sources_and_no_limit_are_not_counted(void **state)
{
	struct xlb_flow_key proxy = flow_from("192.0.2.7"), client = flow_from("198.51.100.1");
	struct xlb_cidr c;
	char why[64];
	struct xlb_srclim *t;

	(void)state;
	assert_int_equal(xlb_parse_cidr("192.0.2.0/24", &c, why, sizeof(why)), 0);
	assert_int_equal(xlb_srclim_new(1, 100, &t), 0);
	assert_int_equal(xlb_srclim_set_exempt(t, &c, 1), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(xlb_srclim_take(t, &proxy), XLB_SRC_FREE);
	assert_int_equal(xlb_srclim_take(t, &client), XLB_SRC_COUNTED);
	assert_int_equal(xlb_srclim_take(t, &client), XLB_SRC_REFUSED);
	xlb_srclim_free(t);
	assert_int_equal(xlb_srclim_new(0, 100, &t), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(xlb_srclim_take(t, &client), XLB_SRC_FREE);
	xlb_srclim_put(t, &client); /* harmless */
	xlb_srclim_free(t);
}

/* Random takes and puts over 300 sources in a table sized for 200
 * connections (128 slots at most half full): every count matches a
 * plain array's, so deletions never lose an entry behind them. */
static void test_counts_match_a_model_under_churn(void **state)
{
	enum { SOURCES = 300, ROUNDS = 200000, LIMIT = 4 };
	static uint32_t model[SOURCES];
	struct xlb_flow_key f[SOURCES];
	struct xlb_srclim *t;
	uint32_t rng = 12345;

	(void)state;
	memset(model, 0, sizeof(model));
	for (int i = 0; i < SOURCES; i++) {
		f[i] = (struct xlb_flow_key){ .family = AF_INET };
		f[i].src.v4 = htonl(0x0a000000u + (uint32_t)i * 7919u);
	}
	assert_int_equal(xlb_srclim_new(LIMIT, 64, &t), 0);
	for (int r = 0; r < ROUNDS; r++) {
		int i;

		rng = rng * 1103515245u + 12345u;
		i = (int)((rng >> 8) % SOURCES);
		if ((rng >> 30) & 1) {
			enum xlb_srclim_verdict v = xlb_srclim_take(t, &f[i]);

			if (model[i] == LIMIT)
				assert_int_equal(v, XLB_SRC_REFUSED);
			else if (v == XLB_SRC_COUNTED)
				model[i]++;
			else
				assert_true(v == XLB_SRC_FREE &&
					    model[i] == 0); /* table at its load */
		} else if (model[i]) {
			xlb_srclim_put(t, &f[i]);
			model[i]--;
		}
		assert_int_equal(xlb_srclim_held(t, &f[i]), model[i]);
	}
	for (int i = 0; i < SOURCES; i++)
		assert_int_equal(xlb_srclim_held(t, &f[i]), model[i]);
	xlb_srclim_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_source_gets_its_limit_and_no_more),
		cmocka_unit_test(test_an_ipv6_source_is_its_slash_64),
		cmocka_unit_test(test_exempt_sources_and_no_limit_are_not_counted),
		cmocka_unit_test(test_counts_match_a_model_under_churn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
