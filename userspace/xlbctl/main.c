// SPDX-License-Identifier: GPL-2.0
/* xlbctl: reads xlb's pinned maps (so it works while xlbd is down) and
 * changes services and backends through xlbd's control socket. This file
 * is main, the usage and the argument parsing (global options, each
 * subcommand's); what every command uses is in maps.c, state.c, output.c
 * and clock.c, and the commands themselves in the other files (see
 * xlbctl.h). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "lib/config.h"
#include "lib/log.h"
#include "lib/pins.h"
#include "xlbctl.h"

void print_usage(FILE *out)
{
	fprintf(out,
		"usage: xlbctl [--pin-dir DIR] [--socket PATH] [--json] COMMAND [ARGS]\n"
		"\n"
		"Read the pinned maps (works without xlbd):\n"
		"  status                          pin dir, daemon, counts, trace, attached interfaces\n"
		"  services                        services with listener, routes and counters\n"
		"  backends [SERVICE]              backends with state, weight and counters\n"
		"  flows [--service NAME] [--backend ADDR:PORT]\n"
		"                                  tracked client flows\n"
		"  stats                           per-service, per-backend, per-reason and proxy counters\n"
		"  stats --watch [--interval S] [--count N]\n"
		"                                  live rates per second, every S seconds (default 1),\n"
		"                                  N times (default: until interrupted)\n"
		"  trace [--sample N] [--service NAME] [--count N] [--duration S]\n"
		"                                  why packets are forwarded, passed or dropped, a\n"
		"                                  line each: one packet in --sample N (default: every\n"
		"                                  one), of one service or all; tracing is on until\n"
		"                                  --count lines, --duration seconds or Ctrl-C\n"
		"Ask the running balancer (through xlbd):\n"
		"  certs                           TLS certificates in service: names, source\n"
		"                                  (file, acme, env), expiry, serial, issuer\n"
		"Change the running balancer (through xlbd):\n"
		"  service add NAME [--listen ADDR:PORT/PROTO] [--host HOST[/PATH]]...\n"
		"              [--path PATH]... [--strip-path] [--proto http|https|tls]\n"
		"              [--backend-tls]\n"
		"                                  at least one of --listen and --host; HOST is a\n"
		"                                  DNS name or a *.example.com wildcard, routed by\n"
		"                                  HTTP Host (default) or TLS SNI (--proto tls);\n"
		"                                  --proto https: HTTP routes whose TLS xlbd\n"
		"                                  terminates on the TLS listeners;\n"
		"                                  PATH a prefix (/api: /api, /api/x, not /apix),\n"
		"                                  --path for the hosts given without one;\n"
		"                                  --strip-path forwards /api/x as /x;\n"
		"                                  --backend-tls: TLS to the backends (HTTP routes)\n"
		"  service del NAME\n"
		"  backend add SERVICE ADDR:PORT [--weight N]   (N in 1..%d, default 1)\n"
		"  backend drain SERVICE ADDR:PORT\n"
		"  backend del SERVICE ADDR:PORT\n"
		"Other:\n"
		"  teardown                        detach everything and remove the pins\n"
		"\n"
		"Options:\n"
		"  --pin-dir DIR   pinned maps (default %s)\n"
		"  --socket PATH   xlbd control socket (default %s)\n"
		"  --json          one JSON document on stdout (read commands; one object\n"
		"                  per line for stats --watch and trace)\n"
		"  -h, --help      this text\n"
		"Exit status: 0 ok, 1 runtime error, 2 usage error.\n",
		XLB_WEIGHT_MAX, XLB_DEFAULT_PIN_DIR, XLB_DEFAULT_CONTROL);
}

/* After getopt returned '?': optopt names an unknown short option (which
 * may sit inside a cluster like -jx, so argv[optind - 1] is not it); for
 * an unknown long option optopt is 0 and the word just consumed is it. */
static int complain_bad_option(const char *what, char **argv)
{
	char shortopt[3] = { '-', (char)optopt, '\0' };
	const char *opt = optopt ? shortopt : argv[optind - 1];

	if (what)
		return complain(CTL_USAGE, "%s: unknown option '%s'", what, opt);
	return complain(CTL_USAGE, "unknown option '%s' (see xlbctl --help)", opt);
}

/* ---- subcommand arguments --------------------------------------------------- */

/* One option table for every subcommand; each command passes the subset
 * it takes, so getopt itself refuses the rest. */
static const struct option all_sub_opts[] = {
	{ "json", no_argument, NULL, SUB_JSON },
	{ "listen", required_argument, NULL, SUB_LISTEN },
	{ "weight", required_argument, NULL, SUB_WEIGHT },
	{ "service", required_argument, NULL, SUB_SERVICE },
	{ "backend", required_argument, NULL, SUB_BACKEND },
	{ "host", required_argument, NULL, SUB_HOST },
	{ "proto", required_argument, NULL, SUB_PROTO },
	{ "path", required_argument, NULL, SUB_PATH },
	{ "strip-path", no_argument, NULL, SUB_STRIP_PATH },
	{ "backend-tls", no_argument, NULL, SUB_BACKEND_TLS },
	{ "watch", no_argument, NULL, SUB_WATCH },
	{ "interval", required_argument, NULL, SUB_INTERVAL },
	{ "count", required_argument, NULL, SUB_COUNT },
	{ "sample", required_argument, NULL, SUB_SAMPLE },
	{ "duration", required_argument, NULL, SUB_DURATION },
};

#define N_SUB_OPTS (sizeof(all_sub_opts) / sizeof(all_sub_opts[0]))

static void build_sub_opts(unsigned allowed, struct option *opts)
{
	size_t n = 0;

	for (size_t i = 0; i < N_SUB_OPTS; i++)
		if (allowed & (unsigned)all_sub_opts[i].val)
			opts[n++] = all_sub_opts[i];
	opts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	opts[n] = (struct option){ 0 };
}

static int store_host(const char *what, struct sub_args *a)
{
	if (a->nhosts == SUB_MAX_HOSTS)
		return complain(CTL_USAGE, "%s: too many --host options (at most %d)", what,
				SUB_MAX_HOSTS);
	a->hosts[a->nhosts++] = optarg;
	return CTL_OK;
}

static int store_path(const char *what, struct sub_args *a)
{
	if (a->npaths == SUB_MAX_HOSTS)
		return complain(CTL_USAGE, "%s: too many --path options (at most %d)", what,
				SUB_MAX_HOSTS);
	a->paths[a->npaths++] = optarg;
	return CTL_OK;
}

static int store_sub_opt(struct ctl *ctl, const char *what, int c, struct sub_args *a)
{
	switch (c) {
	case SUB_JSON:
		ctl->json = true;
		break;
	case SUB_LISTEN:
		a->listen = optarg;
		break;
	case SUB_WEIGHT:
		a->weight = optarg;
		break;
	case SUB_SERVICE:
		a->service = optarg;
		break;
	case SUB_BACKEND:
		a->backend = optarg;
		break;
	case SUB_HOST:
		return store_host(what, a);
	case SUB_PROTO:
		a->proto = optarg;
		break;
	case SUB_PATH:
		return store_path(what, a);
	case SUB_STRIP_PATH:
		a->strip_path = true;
		break;
	case SUB_BACKEND_TLS:
		a->backend_tls = true;
		break;
	case SUB_WATCH:
		a->watch = true;
		break;
	case SUB_INTERVAL:
		a->interval = optarg;
		break;
	case SUB_COUNT:
		a->count = optarg;
		break;
	case SUB_SAMPLE:
		a->sample = optarg;
		break;
	case SUB_DURATION:
		a->duration = optarg;
		break;
	}
	return CTL_OK;
}

/* Parses argv (argv[0] is the last command word, e.g. "add") with GNU
 * getopt, which lets options follow positional arguments. Returns CTL_OK
 * or CTL_USAGE after one error line; -h prints the usage and exits. */
int parse_sub_args(struct ctl *ctl, const char *what, int argc, char **argv, unsigned allowed,
		   int min_pos, int max_pos, struct sub_args *a)
{
	struct option opts[N_SUB_OPTS + 2];
	int c, rc;

	*a = (struct sub_args){ 0 };
	build_sub_opts(allowed, opts);
	optind = 0; /* GNU: full reset, as argv is a different vector */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h') {
			print_usage(stdout);
			exit(CTL_OK);
		}
		if (c == ':')
			return complain(CTL_USAGE, "%s: option %s needs a value", what,
					argv[optind - 1]);
		if (c == '?')
			return complain_bad_option(what, argv);
		rc = store_sub_opt(ctl, what, c, a);
		if (rc)
			return rc;
	}
	a->pos = argv + optind;
	a->npos = argc - optind;
	if (a->npos < min_pos)
		return complain(CTL_USAGE, "%s: missing argument (see xlbctl --help)", what);
	if (a->npos > max_pos)
		return complain(CTL_USAGE, "%s: unexpected argument '%s'", what, a->pos[max_pos]);
	return CTL_OK;
}

/* ---- arguments shared by subcommands ---------------------------------------- */

int parse_count(const char *cmd, const char *arg, long *count)
{
	char *end;

	errno = 0;
	*count = strtol(arg, &end, 10);
	if (errno || end == arg || *end || *count < 1)
		return complain(CTL_USAGE, "%s: --count '%s': a whole number from 1", cmd, arg);
	return CTL_OK;
}

/* ---- main ------------------------------------------------------------------- */

struct command {
	const char *name;
	int (*run)(struct ctl *ctl, int argc, char **argv);
};

static const struct command commands[] = {
	{ "status", cmd_status },   { "services", cmd_services }, { "backends", cmd_backends },
	{ "flows", cmd_flows },	    { "stats", cmd_stats },	  { "service", cmd_service },
	{ "backend", cmd_backend }, { "teardown", cmd_teardown }, { "trace", cmd_trace },
	{ "certs", cmd_certs },
};

enum { OPT_PIN_DIR = 256, OPT_SOCKET, OPT_JSON };

/* Global options come before the command ('+': stop at the first
 * non-option, which leaves the command's own options to it). Returns
 * CTL_OK, CTL_USAGE, or -1 after printing the help. */
static int parse_global_opts(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_PIN_DIR:
			ctl->pin_dir = optarg;
			break;
		case OPT_SOCKET:
			ctl->socket = optarg;
			break;
		case OPT_JSON:
			ctl->json = true;
			break;
		case 'h':
			print_usage(stdout);
			return -1;
		case ':':
			return complain(CTL_USAGE, "option %s needs a value", argv[optind - 1]);
		default:
			return complain_bad_option(NULL, argv);
		}
	}
	return CTL_OK;
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	struct ctl ctl = { .pin_dir = XLB_DEFAULT_PIN_DIR, .socket = XLB_DEFAULT_CONTROL };
	const struct command *cmd;
	int rc;

	xlb_log_set_prog("xlbctl");
	xlb_log_route_libbpf();
	rc = parse_global_opts(&ctl, argc, argv);
	if (rc)
		return rc < 0 ? CTL_OK : rc;
	if (optind >= argc)
		return complain(CTL_USAGE, "missing command (see xlbctl --help)");
	cmd = find_command(argv[optind]);
	if (!cmd)
		return complain(CTL_USAGE, "unknown command '%s' (see xlbctl --help)",
				argv[optind]);
	ctl.ncpus = libbpf_num_possible_cpus();
	if (ctl.ncpus <= 0)
		return complain(CTL_FAIL, "cannot count possible CPUs: %s", strerror(-ctl.ncpus));
	return cmd->run(&ctl, argc - optind, argv + optind);
}
