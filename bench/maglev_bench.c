// SPDX-License-Identifier: GPL-2.0
/* Control-plane cost of a Maglev table change, as xlbd pays it:
 *
 *   build   xlb_maglev_build() over N backends into a 65537-entry table
 *           (userspace/xlbd/maglev.c, linked as is);
 *   load    what xlbd does next (xlbd/state.c, maglev_swap_in): create a fresh
 *           inner ARRAY and fill it with one batch update;
 *   swap    then put it into an ARRAY_OF_MAPS slot.
 *           Both need bpf(); skipped without it.
 *
 * Sizes are interleaved round by round (10 100 1000 10000, 10 100 ...), so
 * a noisy neighbour hits every size alike. Prints a TSV (header first) of
 * the median, min and max per case, in milliseconds.
 *
 *   maglev_bench [--rounds N] [--sizes 10,100,1000,10000]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "xlbd/maglev.h"
#include "xlb/consts.h"

#define MAX_SIZES 16
#define KEY_LEN 32

struct bench_case {
	size_t n;   /* backends */
	double *ms; /* one sample per round */
};

static uint32_t table[XLB_MAGLEV_SIZE];

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Backends keyed like xlbd's ("10.1.2.3:8000"), ids 1..n, equal weights. */
static struct xlb_maglev_backend *make_backends(size_t n, char (**keys)[KEY_LEN])
{
	struct xlb_maglev_backend *be = calloc(n, sizeof(*be));
	char(*k)[KEY_LEN] = calloc(n, sizeof(*k));

	if (!be || !k) {
		free(be);
		free(k);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(k[i], KEY_LEN, "10.%zu.%zu.%zu:8000", i >> 16 & 255, i >> 8 & 255,
			 i & 255);
		be[i] = (struct xlb_maglev_backend){ k[i], (uint32_t)(i + 1), 1 };
	}
	*keys = k;
	return be;
}

static int time_build(size_t n, double *ms)
{
	char(*keys)[KEY_LEN] = NULL;
	struct xlb_maglev_backend *be = make_backends(n, &keys);
	double t0;
	int err;

	if (!be)
		return -ENOMEM;
	t0 = now_ms();
	err = xlb_maglev_build(be, n, table, XLB_MAGLEV_SIZE);
	*ms = now_ms() - t0;
	free(be);
	free(keys);
	return err;
}

/* The outer map the swap writes into, like xlb_maglev (one slot used). */
static int outer_create(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts);
	int inner, outer;

	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "cb_tbl_tmpl", sizeof(__u32), sizeof(__u32),
			       XLB_MAGLEV_SIZE, NULL);
	if (inner < 0)
		return -errno;
	opts.inner_map_fd = inner;
	outer = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "cb_maglev", sizeof(__u32),
			       sizeof(__u32), 1, &opts);
	if (outer < 0)
		outer = -errno;
	close(inner);
	return outer;
}

/* Fills a fresh inner table (fill_ms), then swaps it into the outer slot
 * (outer_ms): timed apart, because the kernel waits for an RCU grace
 * period on every map-in-map update from userspace. */
static int time_swap(int outer, const uint32_t *slots, double *fill_ms, double *outer_ms)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 count = XLB_MAGLEV_SIZE, zero = 0;
	double t0 = now_ms(), t1;
	int fd, err = 0;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "cb_tbl", sizeof(__u32), sizeof(__u32),
			    XLB_MAGLEV_SIZE, NULL);
	if (fd < 0)
		return -errno;
	if (bpf_map_update_batch(fd, slots, table, &count, &opts))
		err = -errno;
	t1 = now_ms();
	if (!err && bpf_map_update_elem(outer, &zero, &fd, BPF_ANY))
		err = -errno;
	*outer_ms = now_ms() - t1;
	*fill_ms = t1 - t0;
	close(fd);
	return err;
}

static void print_row(const char *name, double *ms, int rounds, const char *note)
{
	qsort(ms, (size_t)rounds, sizeof(*ms), cmp_double);
	printf("%s\t%d\t%.3f\t%.3f\t%.3f\t%s\n", name, rounds,
	       rounds % 2 ? ms[rounds / 2] : (ms[rounds / 2 - 1] + ms[rounds / 2]) / 2, ms[0],
	       ms[rounds - 1], note);
}

static int parse_sizes(const char *s, struct bench_case *c, int *n)
{
	char *copy = strdup(s), *tok, *save = NULL;

	*n = 0;
	for (tok = strtok_r(copy, ",", &save); tok && *n < MAX_SIZES;
	     tok = strtok_r(NULL, ",", &save)) {
		long v = strtol(tok, NULL, 10);

		if (v < 1 || v >= XLB_MAGLEV_SIZE) {
			free(copy);
			return -EINVAL;
		}
		c[(*n)++].n = (size_t)v;
	}
	free(copy);
	return *n ? 0 : -EINVAL;
}

static int run(struct bench_case *c, int n_cases, int rounds)
{
	static uint32_t slots[XLB_MAGLEV_SIZE];
	double *fill_ms = calloc((size_t)rounds, sizeof(double));
	double *outer_ms = calloc((size_t)rounds, sizeof(double));
	int outer = outer_create(), err = 0;
	double warm;

	if (!fill_ms || !outer_ms) {
		err = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < XLB_MAGLEV_SIZE; i++)
		slots[i] = i;
	for (int i = 0; i < n_cases && !err; i++) {
		c[i].ms = calloc((size_t)rounds, sizeof(double));
		err = c[i].ms ? time_build(c[i].n, &warm) : -ENOMEM; /* warm-up */
	}
	for (int r = 0; r < rounds && !err; r++) {
		for (int i = 0; i < n_cases && !err; i++)
			err = time_build(c[i].n, &c[i].ms[r]);
		if (!err && outer >= 0)
			err = time_swap(outer, slots, &fill_ms[r], &outer_ms[r]);
	}
	if (err) {
		fprintf(stderr, "maglev_bench: %s\n", strerror(-err));
		goto out;
	}
	printf("case\truns\tmedian_ms\tmin_ms\tmax_ms\tnote\n");
	for (int i = 0; i < n_cases; i++) {
		char name[64];

		snprintf(name, sizeof(name), "maglev_build_%zu", c[i].n);
		print_row(name, c[i].ms, rounds, "xlb_maglev_build, 65537 slots, equal weights");
	}
	if (outer >= 0) {
		print_row("maglev_load_inner", fill_ms, rounds,
			  "bpf_map_create ARRAY + one batch update of 65537 slots");
		print_row("maglev_swap_outer", outer_ms, rounds,
			  "one ARRAY_OF_MAPS slot update (the kernel waits for RCU)");
	} else {
		printf("maglev_load_inner\t0\t-\t-\t-\tskipped: bpf() refused (%s)\n",
		       strerror(-outer));
	}
out:
	for (int i = 0; i < n_cases; i++)
		free(c[i].ms);
	free(fill_ms);
	free(outer_ms);
	if (outer >= 0)
		close(outer);
	return err;
}

int main(int argc, char **argv)
{
	struct bench_case cases[MAX_SIZES] = { 0 };
	const char *sizes = "10,100,1000,10000";
	int rounds = 9, n_cases;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--sizes") && i + 1 < argc)
			sizes = argv[++i];
		else {
			fprintf(stderr, "usage: maglev_bench [--rounds N] [--sizes A,B,...]\n");
			return 2;
		}
	}
	if (rounds < 1 || parse_sizes(sizes, cases, &n_cases)) {
		fprintf(stderr, "maglev_bench: bad --rounds or --sizes (each 1..%d)\n",
			XLB_MAGLEV_SIZE - 1);
		return 2;
	}
	return run(cases, n_cases, rounds) ? 1 : 0;
}
