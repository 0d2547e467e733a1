// SPDX-License-Identifier: GPL-2.0
/* The per-CPU reader: the word-by-word sum over CPUs, and a real
 * PERCPU_ARRAY read through it (skipped where bpf() is not allowed). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lib/percpu.h"
#include "xlb/map_types.h"

#define N_SLOTS 4

static void test_fold_sums_each_word_over_cpus(void **state)
{
	/* 3 CPUs x { packets, bytes, new_flows } */
	const uint64_t percpu[] = { 1, 100, 1, 2, 200, 0, 4, 400, 3 };
	struct xlb_counters sum = { 99, 99, 99 };

	(void)state;
	xlb_percpu_fold(percpu, 3, sizeof(sum), &sum);
	assert_int_equal(sum.packets, 7);
	assert_int_equal(sum.bytes, 700);
	assert_int_equal(sum.new_flows, 4);
}

static void test_fold_one_cpu_copies(void **state)
{
	const uint64_t percpu[] = { UINT64_MAX, 5 };
	struct xlb_reason_count sum;

	(void)state;
	xlb_percpu_fold(percpu, 1, sizeof(sum), &sum);
	assert_true(sum.packets == UINT64_MAX);
	assert_int_equal(sum.bytes, 5);
}

static void test_refuses_bad_sizes(void **state)
{
	uint64_t out[2] = { 7, 7 };

	(void)state;
	assert_int_equal(xlb_percpu_sum(-1, 0, 2, NULL, out, 12), -EINVAL);
	assert_int_equal(xlb_percpu_sum(-1, 0, 2, NULL, out, 0), -EINVAL);
	assert_int_equal(xlb_percpu_sum(-1, 0, 0, NULL, out, 16), -EINVAL);
	assert_int_equal(out[0], 7);
}

static void test_lookup_error_leaves_out(void **state)
{
	struct xlb_counters c = { 1, 2, 3 };

	(void)state;
	assert_int_equal(xlb_percpu_sum(-1, 0, 2, NULL, &c, sizeof(c)), -EBADF);
	assert_int_equal(c.packets, 1);
	assert_int_equal(c.new_flows, 3);
}

/* Slot k holds, on CPU n, { k + n, 10 * (n + 1), 1 }. */
static int fill_map(int fd, int ncpus)
{
	struct xlb_counters *v = calloc((size_t)ncpus, sizeof(*v));
	int err = v ? 0 : -ENOMEM;

	for (uint32_t k = 0; !err && k < N_SLOTS; k++) {
		for (int n = 0; n < ncpus; n++)
			v[n] = (struct xlb_counters){ k + (uint64_t)n, 10 * ((uint64_t)n + 1), 1 };
		err = bpf_map_update_elem(fd, &k, v, BPF_ANY) ? -errno : 0;
	}
	free(v);
	return err;
}

static int make_map(int *ncpus)
{
	int fd;

	*ncpus = libbpf_num_possible_cpus();
	assert_true(*ncpus > 0);
	fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "test_percpu", sizeof(uint32_t),
			    sizeof(struct xlb_counters), N_SLOTS, NULL);
	if (fd < 0)
		skip(); /* no CAP_BPF here */
	assert_int_equal(fill_map(fd, *ncpus), 0);
	return fd;
}

static void assert_slot(const struct xlb_counters *c, uint64_t k, int ncpus)
{
	uint64_t n = (uint64_t)ncpus;

	assert_true(c->packets == k * n + n * (n - 1) / 2);
	assert_true(c->bytes == 10 * n * (n + 1) / 2);
	assert_true(c->new_flows == n);
}

static void test_reads_a_percpu_array(void **state)
{
	struct xlb_counters c;
	uint64_t *scratch;
	int ncpus, fd = make_map(&ncpus);

	(void)state;
	scratch = calloc(XLB_PERCPU_WORDS(ncpus, sizeof(c)), sizeof(*scratch));
	assert_non_null(scratch);
	for (uint32_t k = 0; k < N_SLOTS; k++) {
		memset(&c, 0xff, sizeof(c));
		assert_int_equal(xlb_percpu_sum(fd, k, ncpus, scratch, &c, sizeof(c)), 0);
		assert_slot(&c, k, ncpus);
		memset(&c, 0xff, sizeof(c));
		assert_int_equal(xlb_percpu_sum(fd, k, ncpus, NULL, &c, sizeof(c)), 0);
		assert_slot(&c, k, ncpus);
	}
	assert_int_equal(xlb_percpu_sum(fd, N_SLOTS, ncpus, scratch, &c, sizeof(c)), -ENOENT);
	free(scratch);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fold_sums_each_word_over_cpus),
		cmocka_unit_test(test_fold_one_cpu_copies),
		cmocka_unit_test(test_refuses_bad_sizes),
		cmocka_unit_test(test_lookup_error_leaves_out),
		cmocka_unit_test(test_reads_a_percpu_array),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
