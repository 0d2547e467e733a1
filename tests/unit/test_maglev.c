// SPDX-License-Identifier: GPL-2.0
/* Maglev table: balance, weights, disruption on change, determinism. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xlbd/maglev.h"
#include "xlb/consts.h"

#define SIZE XLB_MAGLEV_SIZE
#define MAX_BE 1000

static uint32_t table_a[SIZE], table_b[SIZE];
static char keys[MAX_BE][32];

/* Backends i = 0..n-1 with keys like the daemon's ("10.200.1.2:8000") and
 * ids i + 1. */
static void make_backends(struct xlb_maglev_backend *be, size_t n, const uint32_t *weights)
{
	for (size_t i = 0; i < n; i++) {
		snprintf(keys[i], sizeof(keys[i]), "10.%zu.%zu.2:8000", 200 + i / 250, i % 250);
		be[i].key = keys[i];
		be[i].id = (uint32_t)(i + 1);
		be[i].weight = weights ? weights[i] : 1;
	}
}

static void count_shares(const uint32_t *table, size_t n, uint32_t *count)
{
	memset(count, 0, (n + 1) * sizeof(*count));
	for (uint32_t i = 0; i < SIZE; i++) {
		assert_true(table[i] >= 1 && table[i] <= n);
		count[table[i]]++;
	}
}

/* Each backend's entries within 5% (relative) of weight / sum * SIZE. */
static void assert_shares(const struct xlb_maglev_backend *be, size_t n, const uint32_t *table)
{
	uint32_t count[MAX_BE + 1];
	double sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += be[i].weight;
	count_shares(table, n, count);
	for (size_t i = 0; i < n; i++) {
		double want = SIZE * be[i].weight / sum;
		double got = count[be[i].id];

		if (got < want * 0.95 || got > want * 1.05)
			fail_msg("n=%zu backend %zu: %.0f entries, want %.1f", n, i, got, want);
	}
}

static void test_equal_weights_balance(void **state)
{
	struct xlb_maglev_backend be[20];

	(void)state;
	for (size_t n = 2; n <= 20; n++) {
		make_backends(be, n, NULL);
		assert_int_equal(xlb_maglev_build(be, n, table_a, SIZE), 0);
		assert_shares(be, n, table_a);
	}
}

static void test_weighted_balance(void **state)
{
	static const uint32_t sets[][4] = {
		{ 1, 2, 3, 4 },
		{ 4, 3, 2, 1 },
		{ 30000, 29999, 1000, 1000 }, /* a round-per-weight scheme fails this */
		{ 1, 100, 100, 100 },
	};
	struct xlb_maglev_backend be[4];

	(void)state;
	for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
		make_backends(be, 4, sets[s]);
		assert_int_equal(xlb_maglev_build(be, 4, table_a, SIZE), 0);
		assert_shares(be, 4, table_a);
	}
}

/* Adding one backend to n moves at most 1.2 / (n + 1) of the table: the
 * 1 / (n + 1) the newcomer must take, plus little churn between others. */
static void test_add_backend_disruption(void **state)
{
	struct xlb_maglev_backend be[21];
	double worst = 0;
	size_t worst_n = 0;

	(void)state;
	for (size_t n = 2; n <= 20; n++) {
		uint32_t changed = 0;
		double ratio;

		make_backends(be, n + 1, NULL);
		assert_int_equal(xlb_maglev_build(be, n, table_a, SIZE), 0);
		assert_int_equal(xlb_maglev_build(be, n + 1, table_b, SIZE), 0);
		for (uint32_t i = 0; i < SIZE; i++)
			changed += table_a[i] != table_b[i];
		ratio = changed * (double)(n + 1) / SIZE;
		if (ratio > worst) {
			worst = ratio;
			worst_n = n;
		}
		if (ratio > 1.2)
			fail_msg("n=%zu -> %zu: %u entries changed = %.3f / (n+1)", n, n + 1,
				 changed, ratio);
	}
	printf("# maglev: worst disruption adding a backend: %.3f / (n+1) at n=%zu\n", worst,
	       worst_n);
}

static void shuffle(struct xlb_maglev_backend *be, size_t n, unsigned *seed)
{
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)rand_r(seed) % (i + 1);
		struct xlb_maglev_backend t = be[i];

		be[i] = be[j];
		be[j] = t;
	}
}

/* Rewrites every id in the table to its key's index in keys[], so tables
 * built with different ids compare by which key owns each slot. */
static void ids_to_key_rank(uint32_t *table, const struct xlb_maglev_backend *be, size_t n)
{
	for (uint32_t i = 0; i < SIZE; i++) {
		for (size_t j = 0; j < n; j++) {
			if (be[j].id == table[i]) {
				table[i] =
					(uint32_t)((size_t)(be[j].key - keys[0]) / sizeof(keys[0]));
				break;
			}
		}
	}
}

static void test_order_and_id_independence(void **state)
{
	static const uint32_t w[12] = { 1, 2, 3, 1, 5, 1, 1, 2, 7, 1, 1, 3 };
	struct xlb_maglev_backend be[12];
	unsigned seed = 42;

	(void)state;
	make_backends(be, 12, w);
	assert_int_equal(xlb_maglev_build(be, 12, table_a, SIZE), 0);
	ids_to_key_rank(table_a, be, 12);
	for (int round = 0; round < 5; round++) {
		shuffle(be, 12, &seed);
		for (size_t i = 0; i < 12; i++)
			be[i].id = (uint32_t)(100 + i); /* ids follow the new order */
		assert_int_equal(xlb_maglev_build(be, 12, table_b, SIZE), 0);
		ids_to_key_rank(table_b, be, 12);
		assert_memory_equal(table_a, table_b, sizeof(table_a));
	}
}

static void test_empty_zeroes_table(void **state)
{
	(void)state;
	memset(table_a, 0xff, sizeof(table_a));
	assert_int_equal(xlb_maglev_build(NULL, 0, table_a, SIZE), 0);
	memset(table_b, 0, sizeof(table_b));
	assert_memory_equal(table_a, table_b, sizeof(table_a));
}

static void test_single_backend_fills_all(void **state)
{
	struct xlb_maglev_backend be[1];

	(void)state;
	make_backends(be, 1, NULL);
	assert_int_equal(xlb_maglev_build(be, 1, table_a, SIZE), 0);
	for (uint32_t i = 0; i < SIZE; i++)
		assert_int_equal(table_a[i], 1);
}

static void test_errors(void **state)
{
	struct xlb_maglev_backend be[3];
	uint32_t small[8];

	(void)state;
	make_backends(be, 3, NULL);
	assert_int_equal(xlb_maglev_build(be, 3, small, 0), -EINVAL);
	assert_int_equal(xlb_maglev_build(be, 3, small, 1), -EINVAL);
	assert_int_equal(xlb_maglev_build(be, 3, small, 8), -EINVAL); /* not prime */
	assert_int_equal(xlb_maglev_build(be, 3, small, 7), 0);
	be[1].weight = 0;
	assert_int_equal(xlb_maglev_build(be, 3, table_a, SIZE), -EINVAL);
	be[1].weight = 1;
	be[2].key = be[0].key;
	assert_int_equal(xlb_maglev_build(be, 3, table_a, SIZE), -EINVAL);
	be[2].key = keys[2];
	be[2].id = 0; /* 0 means "no backend" in the table */
	assert_int_equal(xlb_maglev_build(be, 3, table_a, SIZE), -EINVAL);
	be[2].id = 3;
	be[2].key = NULL;
	assert_int_equal(xlb_maglev_build(be, 3, table_a, SIZE), -EINVAL);
}

/* 1000 backends x 65537 entries must stay well under a second, even in
 * this sanitizer build. */
static void test_speed_1000_backends(void **state)
{
	static struct xlb_maglev_backend be[MAX_BE];
	static uint32_t w[MAX_BE];
	struct timespec t0, t1;
	double secs;

	(void)state;
	for (size_t i = 0; i < MAX_BE; i++)
		w[i] = (uint32_t)(i % 7 + 1);
	make_backends(be, MAX_BE, w);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(xlb_maglev_build(be, MAX_BE, table_a, SIZE), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("# maglev: %d backends x %d entries in %.3f s\n", MAX_BE, SIZE, secs);
	assert_true(secs < 0.5);
	for (uint32_t i = 0; i < SIZE; i++)
		assert_true(table_a[i] >= 1 && table_a[i] <= MAX_BE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equal_weights_balance),
		cmocka_unit_test(test_weighted_balance),
		cmocka_unit_test(test_add_backend_disruption),
		cmocka_unit_test(test_order_and_id_independence),
		cmocka_unit_test(test_empty_zeroes_table),
		cmocka_unit_test(test_single_backend_fills_all),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_speed_1000_backends),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
