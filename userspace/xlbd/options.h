/* SPDX-License-Identifier: GPL-2.0 */
/* Command-line options from a table: a row per option says what getopt_long
 * takes (name, id, argument) and what the option does with its argument,
 * so that adding an option is adding a row. The common deeds are here (a
 * string, a flag, a number within limits); a row may bring its own. */
#ifndef XLB_OPTIONS_H
#define XLB_OPTIONS_H

#include <getopt.h> /* a row's has_arg */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Ids below this are the letters of short options too. */
#define XLB_OPT_LONG_ONLY 256

struct xlb_opt;
/* Does what the option says into target, with its argument (NULL: none);
 * logs its error and returns -EINVAL. */
typedef int (*xlb_opt_fn)(const struct xlb_opt *opt, const char *arg, void *target);

struct xlb_opt {
	const char *name;
	int id;	     /* getopt_long's value for it */
	int has_arg; /* no_argument, required_argument, optional_argument */
	xlb_opt_fn fn;
	size_t field;	   /* offset in target of what it sets */
	uint32_t min, max; /* a number's limits */
};

/* The field opt sets in target. */
void *xlb_opt_field(const struct xlb_opt *opt, void *target);
/* A const char *: the argument. */
int xlb_opt_string(const struct xlb_opt *opt, const char *arg, void *target);
/* A bool: true. */
int xlb_opt_true(const struct xlb_opt *opt, const char *arg, void *target);
/* A uint32_t from min to max ("bad --NAME 'ARG' (a number >= MIN)", and
 * "(MIN-MAX)" beyond a max below UINT32_MAX). */
int xlb_opt_number(const struct xlb_opt *opt, const char *arg, void *target);

/* Parses argv with getopt_long by table (n rows, in the order getopt_long
 * lists the candidates of an ambiguous abbreviation) into target, up to
 * the first error. An optional argument may also be the next word when
 * that is a path ("--docker /run/docker.sock"). An unknown option prints
 * usage to stderr; a word that is no option is an error. Returns 0 or
 * -EINVAL. */
int xlb_opts_parse(const struct xlb_opt *table, size_t n, int argc, char **argv, void *target,
		   void (*usage)(FILE *f));

#endif
