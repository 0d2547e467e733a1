// SPDX-License-Identifier: GPL-2.0
/* xlbctl: reads xlb's pinned maps (so it works while xlbd is down) and
 * changes services and backends through xlbd's control socket. This file
 * is the core every command uses (arguments, pinned maps, the state,
 * formatting, JSON) and main; the commands live in xlbctl_*.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <jansson.h>

#include "lib/addr.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/pins.h"
#include "lib/table.h"
#include "xlbctl.h"
#include "xlb/map_types.h"

/* Every xlbctl error is one line "xlbctl: ..." on stderr. Returns code so
 * that callers can write `return complain(CTL_USAGE, ...)`. */
int __attribute__((format(printf, 2, 3))) complain(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("xlbctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

void print_usage(FILE *out)
{
	fprintf(out,
		"usage: xlbctl [--pin-dir DIR] [--socket PATH] [--json] COMMAND [ARGS]\n"
		"\n"
		"Read the pinned maps (works without xlbd):\n"
		"  status                          pin dir, daemon, counts, trace, attached interfaces\n"
		"  services                        services with listener, host names and counters\n"
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
		"Change the running balancer (through xlbd):\n"
		"  service add NAME [--listen ADDR:PORT/PROTO] [--host HOST]... [--proto http|tls]\n"
		"                                  at least one of --listen and --host; HOST is a\n"
		"                                  DNS name or a *.example.com wildcard, routed by\n"
		"                                  HTTP Host (default) or TLS SNI (--proto tls)\n"
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

/* ---- subcommand arguments ------------------------------------------------ */

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

static int store_sub_opt(struct ctl *ctl, const char *what, int c, struct sub_args *a)
{
	switch (c) {
	case SUB_JSON: ctl->json = true; break;
	case SUB_LISTEN: a->listen = optarg; break;
	case SUB_WEIGHT: a->weight = optarg; break;
	case SUB_SERVICE: a->service = optarg; break;
	case SUB_BACKEND: a->backend = optarg; break;
	case SUB_HOST: return store_host(what, a);
	case SUB_PROTO: a->proto = optarg; break;
	case SUB_WATCH: a->watch = true; break;
	case SUB_INTERVAL: a->interval = optarg; break;
	case SUB_COUNT: a->count = optarg; break;
	case SUB_SAMPLE: a->sample = optarg; break;
	case SUB_DURATION: a->duration = optarg; break;
	}
	return CTL_OK;
}

/* Parses argv (argv[0] is the last command word, e.g. "add") with GNU
 * getopt, which lets options follow positional arguments. Returns CTL_OK
 * or CTL_USAGE after one error line; -h prints the usage and exits. */
int parse_sub_args(struct ctl *ctl, const char *what, int argc, char **argv,
		   unsigned allowed, int min_pos, int max_pos, struct sub_args *a)
{
	struct option opts[N_SUB_OPTS + 2];
	int c, rc;

	*a = (struct sub_args){ 0 };
	build_sub_opts(allowed, opts);
	optind = 0;	/* GNU: full reset, as argv is a different vector */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h') {
			print_usage(stdout);
			exit(CTL_OK);
		}
		if (c == ':')
			return complain(CTL_USAGE, "%s: option %s needs a value", what, argv[optind - 1]);
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

/* ---- pinned maps ----------------------------------------------------------- */

static int check_map_layout(const struct ctl_map *m, const struct bpf_map_info *info,
			    __u32 key_size, __u32 value_size)
{
	if (info->key_size == key_size && info->value_size == value_size)
		return 0;
	complain(CTL_FAIL, "map %s has key/value sizes %u/%u, this xlbctl expects %u/%u "
		 "(xlbd and xlbctl from different builds?)",
		 m->name, info->key_size, info->value_size, key_size, value_size);
	return -EPROTO;
}

/* Opens a pinned map and checks its layout against the structs this
 * binary was built with: a mismatch would otherwise print garbage. Prints
 * the error itself, except -ENOENT when the map is optional: maps added
 * after the first release (the proxy's) are absent from pin dirs that an
 * older xlbd made, and the commands then leave their part out. */
int open_map_opt(const struct ctl *ctl, const char *name, __u32 key_size,
		 __u32 value_size, bool optional, struct ctl_map *m)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	int rc;

	m->name = name;
	m->fd = xlb_pins_open_map(ctl->pin_dir, name);
	if (m->fd == -ENOENT && optional)
		return m->fd;
	if (m->fd < 0) {
		complain(CTL_FAIL, "cannot open map %s in %s: %s", name, ctl->pin_dir,
			 strerror(-m->fd));
		return m->fd;
	}
	rc = bpf_obj_get_info_by_fd(m->fd, &info, &len) ? -errno : 0;
	if (rc)
		complain(CTL_FAIL, "cannot inspect map %s: %s", name, strerror(-rc));
	else
		rc = check_map_layout(m, &info, key_size, value_size);
	if (rc) {
		close(m->fd);
		m->fd = -1;
		return rc;
	}
	m->max_entries = info.max_entries;
	m->key_size = key_size;
	return 0;
}

int open_map(const struct ctl *ctl, const char *name, __u32 key_size, __u32 value_size,
	     struct ctl_map *m)
{
	return open_map_opt(ctl, name, key_size, value_size, false, m);
}

void close_map(struct ctl_map *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
}

/* Reads every slot of an ARRAY map into vals (max_entries values). */
static int read_array(const struct ctl_map *m, void *vals, size_t value_size)
{
	for (__u32 i = 0; i < m->max_entries; i++) {
		if (bpf_map_lookup_elem(m->fd, &i, (char *)vals + (size_t)i * value_size)) {
			int rc = -errno;

			complain(CTL_FAIL, "cannot read map %s: %s", m->name, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* Sums one slot of a PERCPU_ARRAY over all CPUs. Both per-CPU value
 * structs (xlb_counters, xlb_reason_count) are arrays of __u64, so one
 * word-wise sum serves them; their size is already a multiple of the 8
 * bytes the kernel rounds each CPU's copy up to. */
int sum_percpu(const struct ctl *ctl, const struct ctl_map *m, __u32 idx, __u64 *out,
	       size_t nwords)
{
	__u64 *vals = calloc((size_t)ctl->ncpus * nwords, sizeof(__u64));
	int rc = 0;

	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(m->fd, &idx, vals)) {
		rc = -errno;
		complain(CTL_FAIL, "cannot read map %s: %s", m->name, strerror(-rc));
	}
	memset(out, 0, nwords * sizeof(__u64));
	for (int cpu = 0; !rc && cpu < ctl->ncpus; cpu++)
		for (size_t w = 0; w < nwords; w++)
			out[w] += vals[(size_t)cpu * nwords + w];
	free(vals);
	return rc;
}

#define MAX_KEY_SIZE 256
_Static_assert(sizeof(struct xlb_flow_key) <= MAX_KEY_SIZE, "flow key fits the walk buffer");
_Static_assert(sizeof(struct xlb_host_key) <= MAX_KEY_SIZE, "host key fits the walk buffer");

/* Visits every key of a hash map. Under traffic, LRU eviction can delete
 * the key we stand on and the kernel then restarts from the first key, so
 * the walk is bounded by max_entries to be sure it ends (a key may then be
 * seen twice, which a snapshot of a live table cannot avoid anyway). */
int walk_keys(const struct ctl_map *m, key_visit_fn visit, void *ctx)
{
	unsigned char cur[MAX_KEY_SIZE], next[MAX_KEY_SIZE];
	bool first = true;

	if (m->key_size > MAX_KEY_SIZE)
		return -EINVAL;
	for (__u32 steps = 0; steps < m->max_entries; steps++) {
		int rc;

		if (bpf_map_get_next_key(m->fd, first ? NULL : cur, next))
			return errno == ENOENT ? 0 : -errno;
		memcpy(cur, next, m->key_size);
		first = false;
		rc = visit(m, cur, ctx);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- the state: services and backends -------------------------------------- */

void state_free(struct state *st)
{
	free(st->svc);
	free(st->be);
	free(st->svc_ids);
	free(st->be_ids);
	free(st->svc_c);
	free(st->be_c);
	free(st->hosts);
	*st = (struct state){ 0 };
}

bool svc_used(const struct state *st, __u32 id)
{
	return id < st->n_svc_slots && st->svc[id].name[0] != '\0';
}

bool be_used(const struct state *st, __u32 id)
{
	return id < st->n_be_slots && st->be[id].state != XLB_BE_UNUSED;
}

const char *svc_name(const struct state *st, __u32 id)
{
	return svc_used(st, id) ? st->svc[id].name : "-";
}

/* Service names are NUL-terminated by xlbd, but the map is kernel memory
 * anyone with access may write: never trust the terminator. */
static void terminate_names(struct state *st)
{
	for (__u32 i = 0; i < st->n_svc_slots; i++)
		st->svc[i].name[XLB_NAME_LEN - 1] = '\0';
}

/* Reads a whole ARRAY map into a new buffer. An optional map that is not
 * pinned gives -ENOENT without a message. */
int read_array_map_opt(const struct ctl *ctl, const char *name, size_t value_size,
		       bool optional, void **vals, __u32 *n)
{
	struct ctl_map m;
	int rc = open_map_opt(ctl, name, sizeof(__u32), (__u32)value_size, optional, &m);

	if (rc)
		return rc;
	*vals = calloc(m.max_entries ? m.max_entries : 1, value_size);
	rc = *vals ? read_array(&m, *vals, value_size) : -ENOMEM;
	if (!rc)
		*n = m.max_entries;
	close_map(&m);
	return rc;
}

static int read_array_map(const struct ctl *ctl, const char *name, size_t value_size,
			  void **vals, __u32 *n)
{
	return read_array_map_opt(ctl, name, value_size, false, vals, n);
}

int cmp_u32(__u32 x, __u32 y)
{
	return (x > y) - (x < y);
}

static int cmp_svc_ids(const void *a, const void *b, void *arg)
{
	const struct state *st = arg;
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;
	int c = strcmp(st->svc[x].name, st->svc[y].name);

	return c ? c : cmp_u32(x, y);
}

static int cmp_be_ids(const void *a, const void *b, void *arg)
{
	const struct state *st = arg;
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;
	int c = strcmp(svc_name(st, st->be[x].svc_id), svc_name(st, st->be[y].svc_id));

	return c ? c : cmp_u32(x, y);
}

/* Lists the used slots in the order tables print them: by name, so the
 * output does not depend on which ids xlbd happened to assign. */
static int index_state(struct state *st)
{
	st->svc_ids = calloc(st->n_svc_slots + 1, sizeof(__u32));
	st->be_ids = calloc(st->n_be_slots + 1, sizeof(__u32));
	if (!st->svc_ids || !st->be_ids)
		return -ENOMEM;
	for (__u32 i = 0; i < st->n_svc_slots; i++)
		if (svc_used(st, i))
			st->svc_ids[st->n_svcs++] = i;
	for (__u32 i = 0; i < st->n_be_slots; i++)
		if (be_used(st, i))
			st->be_ids[st->n_bes++] = i;
	qsort_r(st->svc_ids, st->n_svcs, sizeof(__u32), cmp_svc_ids, st);
	qsort_r(st->be_ids, st->n_bes, sizeof(__u32), cmp_be_ids, st);
	return 0;
}

int load_state(const struct ctl *ctl, struct state *st)
{
	int rc;

	*st = (struct state){ 0 };
	rc = read_array_map(ctl, "xlb_svc_info", sizeof(struct xlb_svc_info), (void **)&st->svc,
			    &st->n_svc_slots);
	if (!rc)
		rc = read_array_map(ctl, "xlb_backends", sizeof(struct xlb_backend),
				    (void **)&st->be, &st->n_be_slots);
	if (!rc) {
		terminate_names(st);
		rc = index_state(st);
	}
	if (rc == -ENOMEM)
		complain(CTL_FAIL, "out of memory");
	return rc;
}

#define COUNTER_WORDS (sizeof(struct xlb_counters) / sizeof(__u64))

/* Sums the per-CPU counters of the slots listed in ids into out[id]. */
static int load_counters(const struct ctl *ctl, const char *name, const __u32 *ids, size_t n,
			 __u32 n_slots, struct xlb_counters **out)
{
	struct ctl_map m;
	int rc = open_map(ctl, name, sizeof(__u32), sizeof(struct xlb_counters), &m);

	if (rc)
		return rc;
	*out = calloc(n_slots + 1, sizeof(**out));
	if (!*out) {
		complain(CTL_FAIL, "out of memory");
		rc = -ENOMEM;
	}
	for (size_t i = 0; !rc && i < n; i++) {
		if (ids[i] >= m.max_entries)
			continue;	/* a larger info map than stats map: no counters */
		rc = sum_percpu(ctl, &m, ids[i], (__u64 *)&(*out)[ids[i]], COUNTER_WORDS);
	}
	close_map(&m);
	return rc;
}

int load_state_counters(const struct ctl *ctl, struct state *st)
{
	int rc = load_counters(ctl, "xlb_svc_stats", st->svc_ids, st->n_svcs, st->n_svc_slots,
			       &st->svc_c);

	if (!rc)
		rc = load_counters(ctl, "xlb_be_stats", st->be_ids, st->n_bes, st->n_be_slots,
				   &st->be_c);
	return rc;
}

int find_service(const struct state *st, const char *name, __u32 *id)
{
	for (size_t i = 0; i < st->n_svcs; i++) {
		if (strcmp(st->svc[st->svc_ids[i]].name, name) == 0) {
			*id = st->svc_ids[i];
			return 0;
		}
	}
	return -ENOENT;
}

/* A read command needs the pin dir; say plainly when there is none. */
int require_pins(const struct ctl *ctl)
{
	if (xlb_pins_present(ctl->pin_dir) > 0)
		return CTL_OK;
	return complain(CTL_FAIL, "no xlb state at %s (is xlbd running?)", ctl->pin_dir);
}

/* ---- formatting ------------------------------------------------------------- */

const char *format_ep(uint8_t family, const struct xlb_addr *addr, __be16 port,
		      uint8_t proto, char *buf, size_t len)
{
	struct xlb_endpoint ep = {
		.addr = *addr, .port = ntohs(port), .family = family, .proto = proto,
	};

	return xlb_format_endpoint(&ep, buf, len);
}

const char *format_backend(const struct xlb_backend *be, char *buf, size_t len)
{
	return format_ep(be->family, &be->addr, be->port, 0, buf, len);
}

void cell_u64(char *cell, __u64 v)
{
	snprintf(cell, XLB_CELL_LEN, "%llu", (unsigned long long)v);
}

void cell_str(char *cell, const char *s)
{
	snprintf(cell, XLB_CELL_LEN, "%s", s ? s : "-");
}

/* Keeps the order of the table printers and the JSON builders in one
 * place: packets, bytes, new flows. */
void cells_counters(char cells[][XLB_CELL_LEN], const struct xlb_counters *c)
{
	cell_u64(cells[0], c->packets);
	cell_u64(cells[1], c->bytes);
	cell_u64(cells[2], c->new_flows);
}

int print_table(const struct xlb_table_col *cols, size_t ncols, size_t nrows,
		xlb_table_row_fn fill_row, void *ctx)
{
	int rc = xlb_table_print(stdout, cols, ncols, nrows, fill_row, ctx);

	return rc ? complain(CTL_FAIL, "cannot write output: %s", strerror(-rc)) : CTL_OK;
}

/* ---- JSON ------------------------------------------------------------------- */

/* jansson constructors return NULL on allocation failure and the setters
 * then fail: remember it once here instead of checking every call. */
static bool json_failed;

void jset(json_t *obj, const char *key, json_t *val)
{
	if (!obj || json_object_set_new(obj, key, val))
		json_failed = true;
}

void jpush(json_t *arr, json_t *val)
{
	if (!arr || json_array_append_new(arr, val))
		json_failed = true;
}

json_t *jint(__u64 v)
{
	return json_integer((json_int_t)v);
}

json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

void jset_counters(json_t *obj, const struct xlb_counters *c)
{
	jset(obj, "packets", jint(c->packets));
	jset(obj, "bytes", jint(c->bytes));
	jset(obj, "flows", jint(c->new_flows));
}

/* Prints root as one indented document and releases it. */
int emit_json(json_t *root)
{
	char *text = json_failed || !root ? NULL : json_dumps(root, JSON_INDENT(2));
	int rc = CTL_OK;

	if (!text)
		rc = complain(CTL_FAIL, "cannot build JSON output: out of memory");
	else if (puts(text) == EOF || fflush(stdout))
		rc = complain(CTL_FAIL, "cannot write output: %s", strerror(errno));
	free(text);
	json_decref(root);
	return rc;
}

/* ---- clock ------------------------------------------------------------------- */

double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double monotonic_s(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

/* ---- arguments shared by subcommands ------------------------------------------ */

int parse_count(const char *cmd, const char *arg, long *count)
{
	char *end;

	errno = 0;
	*count = strtol(arg, &end, 10);
	if (errno || end == arg || *end || *count < 1)
		return complain(CTL_USAGE, "%s: --count '%s': a whole number from 1", cmd, arg);
	return CTL_OK;
}

/* ---- arrays ------------------------------------------------------------------ */

void *array_room(void *v, size_t n, size_t *cap, size_t size, size_t first)
{
	size_t ncap;
	void *nv;

	if (n < *cap)
		return v;
	ncap = *cap ? *cap * 2 : first;
	nv = reallocarray(v, ncap, size);
	if (nv)
		*cap = ncap;
	return nv;
}

/* ---- main ------------------------------------------------------------------- */

struct command {
	const char *name;
	int (*run)(struct ctl *ctl, int argc, char **argv);
};

static const struct command commands[] = {
	{ "status", cmd_status },     { "services", cmd_services }, { "backends", cmd_backends },
	{ "flows", cmd_flows },	      { "stats", cmd_stats },	    { "service", cmd_service },
	{ "backend", cmd_backend },   { "teardown", cmd_teardown }, { "trace", cmd_trace },
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
		case OPT_PIN_DIR: ctl->pin_dir = optarg; break;
		case OPT_SOCKET: ctl->socket = optarg; break;
		case OPT_JSON: ctl->json = true; break;
		case 'h': print_usage(stdout); return -1;
		case ':': return complain(CTL_USAGE, "option %s needs a value", argv[optind - 1]);
		default: return complain_bad_option(NULL, argv);
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
		return complain(CTL_USAGE, "unknown command '%s' (see xlbctl --help)", argv[optind]);
	ctl.ncpus = libbpf_num_possible_cpus();
	if (ctl.ncpus <= 0)
		return complain(CTL_FAIL, "cannot count possible CPUs: %s", strerror(-ctl.ncpus));
	return cmd->run(&ctl, argc - optind, argv + optind);
}
