// SPDX-License-Identifier: GPL-2.0
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>

#include "lib/log.h"

#define MAX_OPTS 64

void *xlb_opt_field(const struct xlb_opt *opt, void *target)
{
	return (char *)target + opt->field;
}

int xlb_opt_string(const struct xlb_opt *opt, const char *arg, void *target)
{
	*(const char **)xlb_opt_field(opt, target) = arg;
	return 0;
}

int xlb_opt_true(const struct xlb_opt *opt, const char *arg, void *target)
{
	(void)arg;
	*(bool *)xlb_opt_field(opt, target) = true;
	return 0;
}

int xlb_opt_number(const struct xlb_opt *opt, const char *arg, void *target)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || *end || end == arg || v < opt->min || v > UINT32_MAX)
		return pr_err("bad --%s '%s' (a number >= %u)", opt->name, arg, opt->min), -EINVAL;
	if (v > opt->max)
		return pr_err("bad --%s '%s' (%u-%u)", opt->name, arg, opt->min, opt->max), -EINVAL;
	*(uint32_t *)xlb_opt_field(opt, target) = (uint32_t)v;
	return 0;
}

/* getopt_long's view of the table: its long options, and the letters. */
static void getopt_view(const struct xlb_opt *table, size_t n, struct option *longs, char *letters)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		longs[i] = (struct option){ table[i].name, table[i].has_arg, NULL, table[i].id };
		if (table[i].id >= XLB_OPT_LONG_ONLY)
			continue;
		letters[k++] = (char)table[i].id;
		if (table[i].has_arg != no_argument)
			letters[k++] = ':';
		if (table[i].has_arg == optional_argument)
			letters[k++] = ':';
	}
	longs[n] = (struct option){ 0 };
	letters[k] = '\0';
}

static const struct xlb_opt *opt_find(const struct xlb_opt *table, size_t n, int id)
{
	for (size_t i = 0; i < n; i++)
		if (table[i].id == id)
			return &table[i];
	return NULL;
}

static const char *opt_arg(const struct xlb_opt *opt, int argc, char **argv)
{
	if (opt->has_arg == optional_argument && !optarg && optind < argc && argv[optind][0] == '/')
		return argv[optind++];
	return optarg;
}

static int usage_error(void (*usage)(FILE *f))
{
	usage(stderr);
	return -EINVAL;
}

int xlb_opts_parse(const struct xlb_opt *table, size_t n, int argc, char **argv, void *target,
		   void (*usage)(FILE *f))
{
	struct option longs[MAX_OPTS + 1];
	char letters[3 * MAX_OPTS + 1];
	int c, err = 0;

	if (n > MAX_OPTS)
		return pr_err("%zu options, more than %d", n, MAX_OPTS), -EINVAL;
	getopt_view(table, n, longs, letters);
	while (!err && (c = getopt_long(argc, argv, letters, longs, NULL)) != -1) {
		const struct xlb_opt *opt = opt_find(table, n, c);

		err = opt ? opt->fn(opt, opt_arg(opt, argc, argv), target) : usage_error(usage);
	}
	if (err)
		return err;
	if (optind < argc)
		return pr_err("unexpected argument '%s'", argv[optind]), -EINVAL;
	return 0;
}
