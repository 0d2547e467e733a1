// SPDX-License-Identifier: GPL-2.0
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bpf/libbpf.h>

static enum xlb_log_level log_level = XLB_LOG_INFO;
static const char *log_prog = "xlb";
static bool libbpf_quiet;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

void xlb_log_set_level(enum xlb_log_level lvl)
{
	log_level = lvl;
}

void xlb_log_set_prog(const char *prog)
{
	log_prog = prog;
}

int xlb_log_parse_level(const char *s, enum xlb_log_level *lvl)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*lvl = (enum xlb_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

bool xlb_log_enabled(enum xlb_log_level lvl)
{
	return lvl <= log_level;
}

/* Every line: "<prog>: level=<l> <message>", so a grep for the program
 * name or a level finds each event on exactly one line. */
static void log_vline(enum xlb_log_level lvl, const char *fmt, va_list ap)
{
	char msg[1024];
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);

	if (n < 0)
		return;
	/* libbpf terminates its lines itself; keep one event per line */
	while (n > 0 && (size_t)n < sizeof(msg) && msg[n - 1] == '\n')
		msg[--n] = '\0';
	for (char *p = msg; *p; p++)
		if (*p == '\n')
			*p = ' ';
	fprintf(stderr, "%s: level=%s %s\n", log_prog, level_names[lvl], msg);
}

void xlb_log(enum xlb_log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if (!xlb_log_enabled(lvl))
		return;
	va_start(ap, fmt);
	log_vline(lvl, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level l, const char *fmt, va_list ap)
{
	enum xlb_log_level lvl = l == LIBBPF_WARN   ? XLB_LOG_WARN
				 : l == LIBBPF_INFO ? XLB_LOG_DEBUG
						    : XLB_LOG_DEBUG;
	char prefixed[512];

	if (libbpf_quiet || !xlb_log_enabled(lvl))
		return 0;
	snprintf(prefixed, sizeof(prefixed), "%s", fmt);
	log_vline(lvl, prefixed, ap);
	return 0;
}

void xlb_log_route_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}

void xlb_log_libbpf_quiet(bool quiet)
{
	libbpf_quiet = quiet;
}
