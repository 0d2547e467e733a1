// SPDX-License-Identifier: GPL-2.0
/* xlbctl: reads xlb's pinned maps (so it works while xlbd is down) and
 * changes services and backends through xlbd's control socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <jansson.h>

#include "addr.h"
#include "attach.h"
#include "config.h"
#include "log.h"
#include "pins.h"
#include "table.h"
#include "xlb/maps.h"
#include "xlb/reason_names.h"

enum ctl_exit { CTL_OK = 0, CTL_FAIL = 1, CTL_USAGE = 2 };

/* xlbd answers a request once the maps are written; a Maglev rebuild and a
 * flow prune take milliseconds, so this only catches a hung daemon. */
#define CONTROL_TIMEOUT_S 30
/* Replies are a handful of lines; a cap keeps a confused peer from making
 * us buffer without end. */
#define CONTROL_REPLY_MAX (1 << 20)

struct ctl {
	const char *pin_dir;
	const char *socket;
	bool json;
	int ncpus;
};

/* Every xlbctl error is one line "xlbctl: ..." on stderr. Returns code so
 * that callers can write `return complain(CTL_USAGE, ...)`. */
static int __attribute__((format(printf, 2, 3))) complain(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("xlbctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

static void print_usage(FILE *out)
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

enum sub_opt {
	SUB_JSON = 1 << 0,
	SUB_LISTEN = 1 << 1,
	SUB_WEIGHT = 1 << 2,
	SUB_SERVICE = 1 << 3,
	SUB_BACKEND = 1 << 4,
	SUB_HOST = 1 << 5,
	SUB_PROTO = 1 << 6,
	SUB_WATCH = 1 << 7,
	SUB_INTERVAL = 1 << 8,
	SUB_COUNT = 1 << 9,
	SUB_SAMPLE = 1 << 10,
	SUB_DURATION = 1 << 11,
};

/* More --host options than one control request can carry (see
 * CTL_REQUEST_MAX_WORDS) are refused while parsing. */
#define SUB_MAX_HOSTS 32

struct sub_args {
	const char *hosts[SUB_MAX_HOSTS];	/* --host, repeatable, in order */
	int nhosts;
	const char *proto;
	const char *listen;
	const char *weight;
	const char *service;
	const char *backend;
	bool watch;
	const char *interval;
	const char *count;
	const char *sample;
	const char *duration;
	char **pos;	/* positional arguments after the command words */
	int npos;
};

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
static int parse_sub_args(struct ctl *ctl, const char *what, int argc, char **argv,
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

struct ctl_map {
	const char *name;
	int fd;
	__u32 max_entries;
	__u32 key_size;
};

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
static int open_map_opt(const struct ctl *ctl, const char *name, __u32 key_size,
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

static int open_map(const struct ctl *ctl, const char *name, __u32 key_size, __u32 value_size,
		    struct ctl_map *m)
{
	return open_map_opt(ctl, name, key_size, value_size, false, m);
}

static void close_map(struct ctl_map *m)
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
static int sum_percpu(const struct ctl *ctl, const struct ctl_map *m, __u32 idx, __u64 *out,
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

typedef int (*key_visit_fn)(const struct ctl_map *m, const void *key, void *ctx);

#define MAX_KEY_SIZE 256
_Static_assert(sizeof(struct xlb_flow_key) <= MAX_KEY_SIZE, "flow key fits the walk buffer");
_Static_assert(sizeof(struct xlb_host_key) <= MAX_KEY_SIZE, "host key fits the walk buffer");

/* Visits every key of a hash map. Under traffic, LRU eviction can delete
 * the key we stand on and the kernel then restarts from the first key, so
 * the walk is bounded by max_entries to be sure it ends (a key may then be
 * seen twice, which a snapshot of a live table cannot avoid anyway). */
static int walk_keys(const struct ctl_map *m, key_visit_fn visit, void *ctx)
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

/* One xlb_hosts entry: a host name (or "*.suffix") and its service. */
struct host_ent {
	char name[XLB_HOST_KEY_LEN];
	__u32 svc_id;
	__u32 flags;	/* XLB_SVC_F_TLS */
};

struct state {
	struct xlb_svc_info *svc;	/* indexed by service id */
	__u32 n_svc_slots;
	struct xlb_backend *be;		/* indexed by backend id */
	__u32 n_be_slots;
	__u32 *svc_ids;			/* used service slots, by name */
	size_t n_svcs;
	__u32 *be_ids;			/* used backend slots, by service name then id */
	size_t n_bes;
	struct xlb_counters *svc_c;	/* by service id; only with counters */
	struct xlb_counters *be_c;	/* by backend id; only with counters */
	struct host_ent *hosts;		/* by service id, then name; only with hosts */
	size_t n_hosts, cap_hosts;
};

static void state_free(struct state *st)
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

static bool svc_used(const struct state *st, __u32 id)
{
	return id < st->n_svc_slots && st->svc[id].name[0] != '\0';
}

static bool be_used(const struct state *st, __u32 id)
{
	return id < st->n_be_slots && st->be[id].state != XLB_BE_UNUSED;
}

static const char *svc_name(const struct state *st, __u32 id)
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
static int read_array_map_opt(const struct ctl *ctl, const char *name, size_t value_size,
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

static int cmp_u32(__u32 x, __u32 y)
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

static int load_state(const struct ctl *ctl, struct state *st)
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

static int load_state_counters(const struct ctl *ctl, struct state *st)
{
	int rc = load_counters(ctl, "xlb_svc_stats", st->svc_ids, st->n_svcs, st->n_svc_slots,
			       &st->svc_c);

	if (!rc)
		rc = load_counters(ctl, "xlb_be_stats", st->be_ids, st->n_bes, st->n_be_slots,
				   &st->be_c);
	return rc;
}

static int collect_host(const struct ctl_map *m, const void *key, void *ctx)
{
	struct state *st = ctx;
	struct xlb_host_val val;
	struct host_ent *e;

	if (bpf_map_lookup_elem(m->fd, key, &val))
		return errno == ENOENT ? 0 : -errno;	/* deleted since get_next_key */
	if (st->n_hosts == st->cap_hosts) {
		size_t cap = st->cap_hosts ? st->cap_hosts * 2 : 16;
		struct host_ent *v = reallocarray(st->hosts, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		st->hosts = v;
		st->cap_hosts = cap;
	}
	e = &st->hosts[st->n_hosts++];
	memcpy(e->name, key, sizeof(e->name));
	e->name[sizeof(e->name) - 1] = '\0';	/* kernel memory: never trust it */
	e->svc_id = val.svc_id;
	e->flags = val.flags;
	return 0;
}

static int cmp_hosts(const void *a, const void *b)
{
	const struct host_ent *x = a, *y = b;
	int c = cmp_u32(x->svc_id, y->svc_id);

	return c ? c : strcmp(x->name, y->name);
}

/* Reads xlb_hosts, sorted so that each service's names are one run. A pin
 * dir from before host routing has no such map: no service has hosts. */
static int load_hosts(const struct ctl *ctl, struct state *st)
{
	struct ctl_map m;
	int rc = open_map_opt(ctl, "xlb_hosts", sizeof(struct xlb_host_key),
			      sizeof(struct xlb_host_val), true, &m);

	if (rc)
		return rc == -ENOENT ? 0 : rc;
	rc = walk_keys(&m, collect_host, st);
	if (rc)
		complain(CTL_FAIL, "cannot read map xlb_hosts: %s", strerror(-rc));
	else if (st->n_hosts)
		qsort(st->hosts, st->n_hosts, sizeof(*st->hosts), cmp_hosts);
	close_map(&m);
	return rc;
}

/* The run of service svc_id's host names: sets *first, returns the count. */
static size_t hosts_of(const struct state *st, __u32 svc_id, size_t *first)
{
	size_t lo = 0, hi = st->n_hosts, n = 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (st->hosts[mid].svc_id < svc_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*first = lo;
	while (lo + n < st->n_hosts && st->hosts[lo + n].svc_id == svc_id)
		n++;
	return n;
}

/* "http" or "tls" for a service routed by host name, NULL otherwise. */
static const char *host_proto(const struct state *st, __u32 svc_id)
{
	const struct xlb_svc_info *info = &st->svc[svc_id];
	size_t first;

	if (!(info->flags & XLB_SVC_F_HOST) && !hosts_of(st, svc_id, &first))
		return NULL;
	return info->flags & XLB_SVC_F_TLS ? "tls" : "http";
}

static int find_service(const struct state *st, const char *name, __u32 *id)
{
	for (size_t i = 0; i < st->n_svcs; i++) {
		if (strcmp(st->svc[st->svc_ids[i]].name, name) == 0) {
			*id = st->svc_ids[i];
			return 0;
		}
	}
	return -ENOENT;
}

/* Keeps only the backends of one service in st->be_ids. */
static void keep_service_backends(struct state *st, __u32 svc_id)
{
	size_t n = 0;

	for (size_t i = 0; i < st->n_bes; i++)
		if (st->be[st->be_ids[i]].svc_id == svc_id)
			st->be_ids[n++] = st->be_ids[i];
	st->n_bes = n;
}

/* A read command needs the pin dir; say plainly when there is none. */
static int require_pins(const struct ctl *ctl)
{
	if (xlb_pins_present(ctl->pin_dir) > 0)
		return CTL_OK;
	return complain(CTL_FAIL, "no xlb state at %s (is xlbd running?)", ctl->pin_dir);
}

/* ---- formatting ------------------------------------------------------------- */

static const char *format_ep(uint8_t family, const struct xlb_addr *addr, __be16 port,
			     uint8_t proto, char *buf, size_t len)
{
	struct xlb_endpoint ep = {
		.addr = *addr, .port = ntohs(port), .family = family, .proto = proto,
	};

	return xlb_format_endpoint(&ep, buf, len);
}

/* "10.200.0.100:80/tcp", or NULL for a service without an L4 listener. */
static const char *format_listen(const struct xlb_svc_info *info, char *buf, size_t len)
{
	const struct xlb_svc_key *k = &info->key;

	if (k->family == 0)
		return NULL;
	return format_ep(k->family, &k->vip, k->port, k->proto, buf, len);
}

static const char *format_backend(const struct xlb_backend *be, char *buf, size_t len)
{
	return format_ep(be->family, &be->addr, be->port, 0, buf, len);
}

/* Failing xlbd's checks shows as "down"; a drained backend, or a
 * container that is stopping, paused or unhealthy, as "draining". */
static const char *backend_state_name(const struct xlb_backend *be)
{
	if (be->state != XLB_BE_UNUSED && (be->flags & XLB_BE_F_DOWN))
		return "down";
	switch (be->state) {
	case XLB_BE_UNUSED: return "unused";
	case XLB_BE_ACTIVE: return "active";
	case XLB_BE_DRAINING: return "draining";
	}
	return "unknown";
}

static void cell_u64(char *cell, __u64 v)
{
	snprintf(cell, XLB_CELL_LEN, "%llu", (unsigned long long)v);
}

static void cell_str(char *cell, const char *s)
{
	snprintf(cell, XLB_CELL_LEN, "%s", s ? s : "-");
}

/* Keeps the order of the table printers and the JSON builders in one
 * place: packets, bytes, new flows. */
static void cells_counters(char cells[][XLB_CELL_LEN], const struct xlb_counters *c)
{
	cell_u64(cells[0], c->packets);
	cell_u64(cells[1], c->bytes);
	cell_u64(cells[2], c->new_flows);
}

static int print_table(const struct xlb_table_col *cols, size_t ncols, size_t nrows,
		       xlb_table_row_fn fill_row, void *ctx)
{
	int rc = xlb_table_print(stdout, cols, ncols, nrows, fill_row, ctx);

	return rc ? complain(CTL_FAIL, "cannot write output: %s", strerror(-rc)) : CTL_OK;
}

/* ---- JSON ------------------------------------------------------------------- */

/* jansson constructors return NULL on allocation failure and the setters
 * then fail: remember it once here instead of checking every call. */
static bool json_failed;

static void jset(json_t *obj, const char *key, json_t *val)
{
	if (!obj || json_object_set_new(obj, key, val))
		json_failed = true;
}

static void jpush(json_t *arr, json_t *val)
{
	if (!arr || json_array_append_new(arr, val))
		json_failed = true;
}

static json_t *jint(__u64 v)
{
	return json_integer((json_int_t)v);
}

static json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static void jset_counters(json_t *obj, const struct xlb_counters *c)
{
	jset(obj, "packets", jint(c->packets));
	jset(obj, "bytes", jint(c->bytes));
	jset(obj, "flows", jint(c->new_flows));
}

/* Prints root as one indented document and releases it. */
static int emit_json(json_t *root)
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

/* ---- services --------------------------------------------------------------- */

/* Room kept at the end of a hosts cell for ",+N" (N names left out). */
#define HOSTS_MORE_LEN 12

/* Joins the service's host names with commas into cell, "-" for none. A
 * list too long for one cell ends in ",+N" for the N names not shown, so
 * the cut is visible; --json always carries the whole list. */
static void cell_hosts(char *cell, const struct state *st, __u32 svc_id)
{
	size_t first, n = hosts_of(st, svc_id, &first), used = 0, i;

	cell_str(cell, NULL);
	for (i = 0; i < n; i++) {
		const char *name = st->hosts[first + i].name;
		size_t need = (i ? 1 : 0) + strlen(name), reserve = i + 1 < n ? HOSTS_MORE_LEN : 0;

		if (used + need + reserve >= XLB_CELL_LEN)
			break;
		used += (size_t)snprintf(cell + used, XLB_CELL_LEN - used, "%s%s", i ? "," : "",
					 name);
	}
	if (i < n)
		snprintf(cell + used, XLB_CELL_LEN - used, "%s+%zu", i ? "," : "", n - i);
}

/* PROTO and HOSTS come last: scripts that read the older columns by
 * position keep working, and the widest column is the one not padded. */
static void fill_service_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct state *st = ctx;
	__u32 id = st->svc_ids[row];
	const struct xlb_svc_info *info = &st->svc[id];
	char ep[XLB_EP_STRLEN];

	cell_str(cells[0], info->name);
	cell_str(cells[1], format_listen(info, ep, sizeof(ep)));
	cell_u64(cells[2], info->backends);
	cells_counters(cells + 3, &st->svc_c[id]);
	cell_str(cells[6], host_proto(st, id));
	cell_hosts(cells[7], st, id);
}

static int print_services_table(const struct state *st)
{
	static const struct xlb_table_col cols[] = {
		{ "NAME", XLB_ALIGN_LEFT },	 { "LISTEN", XLB_ALIGN_LEFT },
		{ "BACKENDS", XLB_ALIGN_RIGHT }, { "PACKETS", XLB_ALIGN_RIGHT },
		{ "BYTES", XLB_ALIGN_RIGHT },	 { "FLOWS", XLB_ALIGN_RIGHT },
		{ "PROTO", XLB_ALIGN_LEFT },	 { "HOSTS", XLB_ALIGN_LEFT },
	};

	return print_table(cols, 8, st->n_svcs, fill_service_row, (void *)st);
}

static json_t *hosts_json(const struct state *st, __u32 svc_id)
{
	size_t first, n = hosts_of(st, svc_id, &first);
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++)
		jpush(arr, json_string(st->hosts[first + i].name));
	return arr;
}

static json_t *service_json(const struct state *st, __u32 id)
{
	const struct xlb_svc_info *info = &st->svc[id];
	char ep[XLB_EP_STRLEN];
	json_t *o = json_object();

	jset(o, "name", json_string(info->name));
	jset(o, "id", jint(id));
	jset(o, "listen", jstr_or_null(format_listen(info, ep, sizeof(ep))));
	jset(o, "backends", jint(info->backends));
	jset(o, "runtime", json_boolean(info->flags & XLB_SVC_F_RUNTIME));
	jset(o, "origin", json_string(info->flags & XLB_SVC_F_RUNTIME  ? "runtime"
				      : info->flags & XLB_SVC_F_DOCKER ? "docker"
								       : "config"));
	jset(o, "hosts", hosts_json(st, id));
	jset(o, "proto", jstr_or_null(host_proto(st, id)));
	jset_counters(o, &st->svc_c[id]);
	return o;
}

static json_t *services_json(const struct state *st)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < st->n_svcs; i++)
		jpush(arr, service_json(st, st->svc_ids[i]));
	return arr;
}

static int cmd_services(struct ctl *ctl, int argc, char **argv)
{
	struct sub_args a;
	struct state st;
	int rc = parse_sub_args(ctl, "services", argc, argv, SUB_JSON, 0, 0, &a);

	if (rc || (rc = require_pins(ctl)))
		return rc;
	if (load_state(ctl, &st) || load_state_counters(ctl, &st) || load_hosts(ctl, &st)) {
		state_free(&st);
		return CTL_FAIL;
	}
	if (ctl->json) {
		json_t *root = json_object();

		jset(root, "services", services_json(&st));
		rc = emit_json(root);
	} else {
		rc = print_services_table(&st);
	}
	state_free(&st);
	return rc;
}

/* ---- backends --------------------------------------------------------------- */

static void fill_backend_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct state *st = ctx;
	__u32 id = st->be_ids[row];
	const struct xlb_backend *be = &st->be[id];
	char ep[XLB_EP_STRLEN];

	cell_str(cells[0], svc_name(st, be->svc_id));
	cell_u64(cells[1], id);
	cell_str(cells[2], format_backend(be, ep, sizeof(ep)));
	cell_str(cells[3], backend_state_name(be));
	cell_u64(cells[4], be->weight);
	cells_counters(cells + 5, &st->be_c[id]);
}

static int print_backends_table(const struct state *st)
{
	static const struct xlb_table_col cols[] = {
		{ "SERVICE", XLB_ALIGN_LEFT }, { "ID", XLB_ALIGN_RIGHT },
		{ "ADDRESS", XLB_ALIGN_LEFT }, { "STATE", XLB_ALIGN_LEFT },
		{ "WEIGHT", XLB_ALIGN_RIGHT }, { "PACKETS", XLB_ALIGN_RIGHT },
		{ "BYTES", XLB_ALIGN_RIGHT },  { "FLOWS", XLB_ALIGN_RIGHT },
	};

	return print_table(cols, 8, st->n_bes, fill_backend_row, (void *)st);
}

static json_t *backend_json(const struct state *st, __u32 id)
{
	const struct xlb_backend *be = &st->be[id];
	char ep[XLB_EP_STRLEN];
	json_t *o = json_object();

	jset(o, "service", json_string(svc_name(st, be->svc_id)));
	jset(o, "id", jint(id));
	jset(o, "address", json_string(format_backend(be, ep, sizeof(ep))));
	jset(o, "state", json_string(backend_state_name(be)));
	jset(o, "weight", jint(be->weight));
	jset(o, "runtime", json_boolean(be->flags & XLB_BE_F_RUNTIME));
	jset(o, "origin", json_string(be->flags & XLB_BE_F_RUNTIME  ? "runtime"
				      : be->flags & XLB_BE_F_DOCKER ? "docker"
								    : "config"));
	jset_counters(o, &st->be_c[id]);
	return o;
}

static json_t *backends_json(const struct state *st)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < st->n_bes; i++)
		jpush(arr, backend_json(st, st->be_ids[i]));
	return arr;
}

/* Loads the state with counters, keeping only `service`'s backends when
 * one is named. Prints its own errors. */
static int load_backends(const struct ctl *ctl, const char *service, struct state *st)
{
	__u32 svc_id;

	if (load_state(ctl, st))
		return CTL_FAIL;
	if (service && find_service(st, service, &svc_id))
		return complain(CTL_FAIL, "no service named '%s'", service);
	if (service)
		keep_service_backends(st, svc_id);
	return load_state_counters(ctl, st) ? CTL_FAIL : CTL_OK;
}

static int cmd_backends(struct ctl *ctl, int argc, char **argv)
{
	struct sub_args a;
	struct state st;
	int rc = parse_sub_args(ctl, "backends", argc, argv, SUB_JSON, 0, 1, &a);

	if (rc || (rc = require_pins(ctl)))
		return rc;
	rc = load_backends(ctl, a.npos ? a.pos[0] : NULL, &st);
	if (!rc && ctl->json) {
		json_t *root = json_object();

		jset(root, "backends", backends_json(&st));
		rc = emit_json(root);
	} else if (!rc) {
		rc = print_backends_table(&st);
	}
	state_free(&st);
	return rc;
}

/* ---- flows ------------------------------------------------------------------ */

struct flow_ent {
	struct xlb_flow_key key;
	struct xlb_flow val;
};

struct flow_filter {
	bool by_service;
	__u32 svc_id;
	bool by_backend;
	struct xlb_endpoint backend;
};

struct flow_walk {
	const struct state *st;
	const struct flow_filter *filter;
	struct flow_ent *v;
	size_t n, cap;
};

static bool backend_is(const struct xlb_backend *be, const struct xlb_endpoint *ep)
{
	return be->family == ep->family && ntohs(be->port) == ep->port &&
	       memcmp(&be->addr, &ep->addr, sizeof(be->addr)) == 0;
}

static bool flow_matches(const struct flow_walk *w, const struct xlb_flow *f)
{
	const struct flow_filter *flt = w->filter;

	if (flt->by_service && f->svc_id != flt->svc_id)
		return false;
	if (flt->by_backend &&
	    (!be_used(w->st, f->backend_id) || !backend_is(&w->st->be[f->backend_id], &flt->backend)))
		return false;
	return true;
}

static int append_flow(struct flow_walk *w, const struct xlb_flow_key *key,
		       const struct xlb_flow *val)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 256;
		struct flow_ent *v = reallocarray(w->v, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		w->v = v;
		w->cap = cap;
	}
	w->v[w->n++] = (struct flow_ent){ .key = *key, .val = *val };
	return 0;
}

static int collect_flow(const struct ctl_map *m, const void *key, void *ctx)
{
	struct flow_walk *w = ctx;
	struct xlb_flow val;

	if (bpf_map_lookup_elem(m->fd, key, &val))
		return errno == ENOENT ? 0 : -errno;	/* evicted since get_next_key */
	if (!flow_matches(w, &val))
		return 0;
	return append_flow(w, key, &val);
}

static int count_key(const struct ctl_map *m, const void *key, void *ctx)
{
	(void)m;
	(void)key;
	++*(size_t *)ctx;
	return 0;
}

static void fill_flow_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct flow_walk *w = ctx;
	const struct flow_ent *e = &w->v[row];
	const struct xlb_flow_key *k = &e->key;
	char ep[XLB_EP_STRLEN];

	cell_str(cells[0], format_ep(k->family, &k->src, k->sport, 0, ep, sizeof(ep)));
	cell_str(cells[1], format_ep(k->family, &k->dst, k->dport, k->proto, ep, sizeof(ep)));
	if (be_used(w->st, e->val.backend_id))
		cell_str(cells[2], format_backend(&w->st->be[e->val.backend_id], ep, sizeof(ep)));
	else
		cell_str(cells[2], NULL);	/* backend deleted; the flow re-picks */
	cell_str(cells[3], svc_name(w->st, e->val.svc_id));
}

static int print_flows_table(struct flow_walk *w)
{
	static const struct xlb_table_col cols[] = {
		{ "CLIENT", XLB_ALIGN_LEFT },
		{ "VIP", XLB_ALIGN_LEFT },
		{ "BACKEND", XLB_ALIGN_LEFT },
		{ "SERVICE", XLB_ALIGN_LEFT },
	};
	int rc = print_table(cols, 4, w->n, fill_flow_row, w);

	if (!rc)
		printf("%zu flow%s\n", w->n, w->n == 1 ? "" : "s");
	return rc;
}

/* The JSON view reuses the table's row formatter, so both agree. */
static json_t *flows_json(struct flow_walk *w)
{
	static const char *const keys[] = { "client", "vip", "backend", "service" };
	json_t *arr = json_array();

	for (size_t r = 0; r < w->n; r++) {
		char cells[4][XLB_CELL_LEN];
		json_t *o = json_object();

		fill_flow_row(w, r, cells);
		for (size_t c = 0; c < 4; c++)
			jset(o, keys[c], strcmp(cells[c], "-") ? json_string(cells[c]) : json_null());
		jset(o, "backend_id", jint(w->v[r].val.backend_id));
		jpush(arr, o);
	}
	return arr;
}

static int parse_flow_filter(const struct state *st, const struct sub_args *a,
			     struct flow_filter *f)
{
	const char *why = NULL;

	*f = (struct flow_filter){ 0 };
	if (a->backend) {
		if (xlb_parse_endpoint(a->backend, XLB_EP_NO_PROTO, &f->backend, &why))
			return complain(CTL_USAGE, "flows: --backend '%s': %s", a->backend, why);
		f->by_backend = true;
	}
	if (a->service) {
		if (find_service(st, a->service, &f->svc_id))
			return complain(CTL_FAIL, "no service named '%s'", a->service);
		f->by_service = true;
	}
	return CTL_OK;
}

static int walk_flows(const struct ctl *ctl, key_visit_fn visit, void *ctx)
{
	struct ctl_map m;
	int rc = open_map(ctl, "xlb_flows", sizeof(struct xlb_flow_key), sizeof(struct xlb_flow), &m);

	if (rc)
		return rc;
	rc = walk_keys(&m, visit, ctx);
	if (rc)
		complain(CTL_FAIL, "cannot read map xlb_flows: %s", strerror(-rc));
	close_map(&m);
	return rc;
}

/* Service, then client (family, address, port): hash order would make
 * two listings of the same flows differ. */
static int cmp_flows(const void *a, const void *b, void *arg)
{
	const struct flow_ent *x = a, *y = b;
	const struct state *st = arg;
	int c = strcmp(svc_name(st, x->val.svc_id), svc_name(st, y->val.svc_id));

	if (!c)
		c = cmp_u32(x->key.family, y->key.family);
	if (!c)
		c = memcmp(&x->key.src, &y->key.src, sizeof(x->key.src));
	if (!c)
		c = cmp_u32(ntohs(x->key.sport), ntohs(y->key.sport));
	if (!c)
		c = memcmp(&x->key, &y->key, sizeof(x->key));
	return c;
}

static int show_flows(const struct ctl *ctl, struct flow_walk *w)
{
	json_t *root;

	if (walk_flows(ctl, collect_flow, w))
		return CTL_FAIL;
	if (w->n)
		qsort_r(w->v, w->n, sizeof(*w->v), cmp_flows, (void *)w->st);
	if (!ctl->json)
		return print_flows_table(w);
	root = json_object();
	jset(root, "flows", flows_json(w));
	jset(root, "count", jint(w->n));
	return emit_json(root);
}

static int cmd_flows(struct ctl *ctl, int argc, char **argv)
{
	struct flow_walk w = { 0 };
	struct flow_filter filter;
	struct sub_args a;
	struct state st;
	int rc = parse_sub_args(ctl, "flows", argc, argv, SUB_JSON | SUB_SERVICE | SUB_BACKEND, 0, 0,
				&a);

	if (rc || (rc = require_pins(ctl)))
		return rc;
	if (load_state(ctl, &st)) {
		state_free(&st);
		return CTL_FAIL;
	}
	rc = parse_flow_filter(&st, &a, &filter);
	if (!rc) {
		w.st = &st;
		w.filter = &filter;
		rc = show_flows(ctl, &w);
	}
	free(w.v);
	state_free(&st);
	return rc;
}

/* ---- stats ------------------------------------------------------------------ */

static void fill_svc_stats_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct state *st = ctx;
	__u32 id = st->svc_ids[row];

	cell_str(cells[0], st->svc[id].name);
	cells_counters(cells + 1, &st->svc_c[id]);
}

static int print_svc_stats_table(const struct state *st)
{
	static const struct xlb_table_col cols[] = {
		{ "SERVICE", XLB_ALIGN_LEFT },
		{ "PACKETS", XLB_ALIGN_RIGHT },
		{ "BYTES", XLB_ALIGN_RIGHT },
		{ "FLOWS", XLB_ALIGN_RIGHT },
	};

	return print_table(cols, 4, st->n_svcs, fill_svc_stats_row, (void *)st);
}

static void fill_be_stats_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct state *st = ctx;
	__u32 id = st->be_ids[row];
	char ep[XLB_EP_STRLEN];

	cell_str(cells[0], svc_name(st, st->be[id].svc_id));
	cell_str(cells[1], format_backend(&st->be[id], ep, sizeof(ep)));
	cells_counters(cells + 2, &st->be_c[id]);
}

static int print_be_stats_table(const struct state *st)
{
	static const struct xlb_table_col cols[] = {
		{ "SERVICE", XLB_ALIGN_LEFT }, { "BACKEND", XLB_ALIGN_LEFT },
		{ "PACKETS", XLB_ALIGN_RIGHT }, { "BYTES", XLB_ALIGN_RIGHT },
		{ "FLOWS", XLB_ALIGN_RIGHT },
	};

	return print_table(cols, 5, st->n_bes, fill_be_stats_row, (void *)st);
}

#define REASON_WORDS (sizeof(struct xlb_reason_count) / sizeof(__u64))

/* Fills counts[XLB_R_MAX]; reasons beyond the map's size read as zero. */
static int load_reasons(const struct ctl *ctl, struct xlb_reason_count *counts)
{
	struct ctl_map m;
	int rc = open_map(ctl, "xlb_reasons", sizeof(__u32), sizeof(struct xlb_reason_count), &m);

	memset(counts, 0, XLB_R_MAX * sizeof(*counts));
	if (rc)
		return rc;
	for (__u32 r = 0; !rc && r < XLB_R_MAX && r < m.max_entries; r++)
		rc = sum_percpu(ctl, &m, r, (__u64 *)&counts[r], REASON_WORDS);
	close_map(&m);
	return rc;
}

static void fill_reason_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct xlb_reason_count *counts = ctx;

	cell_str(cells[0], xlb_reason_names[row]);
	cell_u64(cells[1], counts[row].packets);
	cell_u64(cells[2], counts[row].bytes);
}

static int print_reasons_table(const struct xlb_reason_count *counts)
{
	static const struct xlb_table_col cols[] = {
		{ "REASON", XLB_ALIGN_LEFT },
		{ "PACKETS", XLB_ALIGN_RIGHT },
		{ "BYTES", XLB_ALIGN_RIGHT },
	};

	return print_table(cols, 3, XLB_R_MAX, fill_reason_row, (void *)counts);
}

static json_t *svc_stats_json(const struct state *st)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < st->n_svcs; i++) {
		__u32 id = st->svc_ids[i];
		json_t *o = json_object();

		jset(o, "name", json_string(st->svc[id].name));
		jset_counters(o, &st->svc_c[id]);
		jpush(arr, o);
	}
	return arr;
}

static json_t *be_stats_json(const struct state *st)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < st->n_bes; i++) {
		__u32 id = st->be_ids[i];
		char ep[XLB_EP_STRLEN];
		json_t *o = json_object();

		jset(o, "service", json_string(svc_name(st, st->be[id].svc_id)));
		jset(o, "id", jint(id));
		jset(o, "address", json_string(format_backend(&st->be[id], ep, sizeof(ep))));
		jset_counters(o, &st->be_c[id]);
		jpush(arr, o);
	}
	return arr;
}

/* An object keyed by reason name, in enum order: `jq .reasons.pass_icmp`. */
static json_t *reasons_json(const struct xlb_reason_count *counts)
{
	json_t *obj = json_object();

	for (int r = 0; r < XLB_R_MAX; r++) {
		json_t *o = json_object();

		jset(o, "packets", jint(counts[r].packets));
		jset(o, "bytes", jint(counts[r].bytes));
		jset(obj, xlb_reason_names[r], o);
	}
	return obj;
}

/* ---- proxy stats ---------------------------------------------------------- */

/* The proxy's counters in struct order, with their table header and JSON
 * key, so the listener and service views cannot drift apart. */
static const struct {
	const char *header;
	const char *key;
	size_t off;
} proxy_fields[] = {
#define PROXY_FIELD(h, k) { h, #k, offsetof(struct xlb_proxy_counters, k) }
	PROXY_FIELD("ACCEPTED", accepted),
	PROXY_FIELD("ROUTED", routed),
	PROXY_FIELD("NO_ROUTE", no_route),
	PROXY_FIELD("BAD_REQUEST", bad_request),
	PROXY_FIELD("TIMEOUTS", timeouts),
	PROXY_FIELD("REFUSED", refused),
	PROXY_FIELD("CONNECT_FAILED", connect_failed),
	PROXY_FIELD("SPLICED_BYTES", spliced_bytes),
	PROXY_FIELD("SPLICE_CONNS", splice_conns),
	PROXY_FIELD("SOCKMAP_CONNS", sockmap_conns),
	PROXY_FIELD("COPY_CONNS", copy_conns),
#undef PROXY_FIELD
};

#define N_PROXY_FIELDS (sizeof(proxy_fields) / sizeof(proxy_fields[0]))
_Static_assert(N_PROXY_FIELDS * sizeof(__u64) == sizeof(struct xlb_proxy_counters),
	       "every proxy counter has a column");
_Static_assert(N_PROXY_FIELDS + 2 <= XLB_TABLE_MAX_COLS, "listener table fits");

struct proxy_stats {
	bool present;			/* the pin dir has the proxy's maps */
	struct xlb_listener *lis;	/* every slot of xlb_listeners */
	__u32 n_lis_slots;
	__u32 *lis_ids;			/* slots in use, in slot order */
	size_t n_lis;
	struct xlb_proxy_counters *svc;	/* by service id */
	__u32 *svc_ids;			/* services with a nonzero counter, by name */
	size_t n_svcs;
};

static void proxy_stats_free(struct proxy_stats *p)
{
	free(p->lis);
	free(p->lis_ids);
	free(p->svc);
	free(p->svc_ids);
	*p = (struct proxy_stats){ 0 };
}

static __u64 proxy_field(const struct xlb_proxy_counters *c, size_t f)
{
	__u64 v;

	memcpy(&v, (const char *)c + proxy_fields[f].off, sizeof(v));
	return v;
}

static bool proxy_counters_zero(const struct xlb_proxy_counters *c)
{
	for (size_t f = 0; f < N_PROXY_FIELDS; f++)
		if (proxy_field(c, f))
			return false;
	return true;
}

static const char *listener_kind_name(__u8 kind)
{
	switch (kind) {
	case XLB_LISTEN_UNUSED: return "unused";
	case XLB_LISTEN_HTTP: return "http";
	case XLB_LISTEN_TLS: return "tls";
	}
	return "unknown";
}

/* Reads xlb_listeners and lists the slots in use. -ENOENT (silent) when
 * the pin dir predates the proxy. */
static int load_listeners(const struct ctl *ctl, struct proxy_stats *p)
{
	int rc = read_array_map_opt(ctl, "xlb_listeners", sizeof(struct xlb_listener), true,
				    (void **)&p->lis, &p->n_lis_slots);

	if (rc)
		return rc;
	p->lis_ids = calloc(p->n_lis_slots + 1, sizeof(__u32));
	if (!p->lis_ids)
		return -ENOMEM;
	for (__u32 i = 0; i < p->n_lis_slots; i++)
		if (p->lis[i].kind != XLB_LISTEN_UNUSED)
			p->lis_ids[p->n_lis++] = i;
	return 0;
}

/* Reads the proxy counters of the services in st, keeping those with any
 * nonzero counter. xlbd writes this map, so reading each slot once gives
 * a consistent snapshot of that slot. */
static int load_proxy_svc_stats(const struct ctl *ctl, const struct state *st,
				struct proxy_stats *p)
{
	struct ctl_map m;
	int rc = open_map_opt(ctl, "xlb_proxy_svc_stats", sizeof(__u32),
			      sizeof(struct xlb_proxy_counters), true, &m);

	if (rc)
		return rc == -ENOENT ? 0 : rc;
	p->svc = calloc(st->n_svc_slots + 1, sizeof(*p->svc));
	p->svc_ids = calloc(st->n_svcs + 1, sizeof(__u32));
	if (!p->svc || !p->svc_ids)
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < st->n_svcs; i++) {
		__u32 id = st->svc_ids[i];

		if (id >= m.max_entries)
			continue;
		if (bpf_map_lookup_elem(m.fd, &id, &p->svc[id])) {
			rc = -errno;
			complain(CTL_FAIL, "cannot read map %s: %s", m.name, strerror(-rc));
		} else if (!proxy_counters_zero(&p->svc[id])) {
			p->svc_ids[p->n_svcs++] = id;
		}
	}
	close_map(&m);
	return rc;
}

/* Prints its own errors. A pin dir without the proxy's maps (made by an
 * xlbd before host routing) leaves p->present false and is no error. */
static int load_proxy_stats(const struct ctl *ctl, const struct state *st,
			    struct proxy_stats *p)
{
	int rc = load_listeners(ctl, p);

	if (rc == -ENOENT)
		return 0;
	if (!rc)
		rc = load_proxy_svc_stats(ctl, st, p);
	if (rc == -ENOMEM)
		complain(CTL_FAIL, "out of memory");
	p->present = !rc;
	return rc;
}

static void cells_proxy_counters(char cells[][XLB_CELL_LEN], const struct xlb_proxy_counters *c)
{
	for (size_t f = 0; f < N_PROXY_FIELDS; f++)
		cell_u64(cells[f], proxy_field(c, f));
}

static void jset_proxy_counters(json_t *obj, const struct xlb_proxy_counters *c)
{
	for (size_t f = 0; f < N_PROXY_FIELDS; f++)
		jset(obj, proxy_fields[f].key, jint(proxy_field(c, f)));
}

static const char *format_listener(const struct xlb_listener *l, char *buf, size_t len)
{
	return format_ep(l->family, &l->addr, l->port, 0, buf, len);
}

static void fill_listener_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct proxy_stats *p = ctx;
	const struct xlb_listener *l = &p->lis[p->lis_ids[row]];
	char ep[XLB_EP_STRLEN];

	cell_str(cells[0], format_listener(l, ep, sizeof(ep)));
	cell_str(cells[1], listener_kind_name(l->kind));
	cells_proxy_counters(cells + 2, &l->c);
}

struct proxy_svc_rows {
	const struct state *st;
	const struct proxy_stats *p;
};

static void fill_proxy_svc_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct proxy_svc_rows *r = ctx;
	__u32 id = r->p->svc_ids[row];

	cell_str(cells[0], r->st->svc[id].name);
	cells_proxy_counters(cells + 1, &r->p->svc[id]);
}

/* Column set: the given leading text columns, then every proxy counter. */
static size_t proxy_cols(struct xlb_table_col *cols, const char *const *lead, size_t nlead)
{
	size_t n = 0;

	for (size_t i = 0; i < nlead; i++)
		cols[n++] = (struct xlb_table_col){ lead[i], XLB_ALIGN_LEFT };
	for (size_t f = 0; f < N_PROXY_FIELDS; f++)
		cols[n++] = (struct xlb_table_col){ proxy_fields[f].header, XLB_ALIGN_RIGHT };
	return n;
}

static int print_proxy_tables(const struct state *st, const struct proxy_stats *p)
{
	static const char *const lis_lead[] = { "ADDRESS", "KIND" };
	static const char *const svc_lead[] = { "SERVICE" };
	struct proxy_svc_rows rows = { st, p };
	struct xlb_table_col cols[XLB_TABLE_MAX_COLS];
	size_t n = proxy_cols(cols, lis_lead, 2);
	int rc;

	printf("\nproxy listeners:\n");
	rc = print_table(cols, n, p->n_lis, fill_listener_row, (void *)p);
	if (rc)
		return rc;
	printf("\nproxy services:\n");
	n = proxy_cols(cols, svc_lead, 1);
	return print_table(cols, n, p->n_svcs, fill_proxy_svc_row, &rows);
}

static json_t *listeners_json(const struct proxy_stats *p)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < p->n_lis; i++) {
		const struct xlb_listener *l = &p->lis[p->lis_ids[i]];
		char ep[XLB_EP_STRLEN];
		json_t *o = json_object();

		jset(o, "address", json_string(format_listener(l, ep, sizeof(ep))));
		jset(o, "kind", json_string(listener_kind_name(l->kind)));
		jset_proxy_counters(o, &l->c);
		jpush(arr, o);
	}
	return arr;
}

static json_t *proxy_svc_json(const struct state *st, const struct proxy_stats *p)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < p->n_svcs; i++) {
		__u32 id = p->svc_ids[i];
		json_t *o = json_object();

		jset(o, "name", json_string(st->svc[id].name));
		jset_proxy_counters(o, &p->svc[id]);
		jpush(arr, o);
	}
	return arr;
}

/* ---- stats ------------------------------------------------------------------ */

static int print_stats_tables(const struct state *st, const struct xlb_reason_count *counts,
			      const struct proxy_stats *p)
{
	int rc = print_svc_stats_table(st);

	if (!rc) {
		putchar('\n');
		rc = print_be_stats_table(st);
	}
	if (!rc) {
		putchar('\n');
		rc = print_reasons_table(counts);
	}
	if (!rc && p->present)
		rc = print_proxy_tables(st, p);
	return rc;
}

/* The proxy arrays are present (maybe empty) even for a pin dir without
 * the proxy's maps, so that `jq '.listeners[]'` never meets a null. */
static json_t *stats_json(const struct state *st, const struct xlb_reason_count *counts,
			  const struct proxy_stats *p)
{
	json_t *root = json_object();

	jset(root, "services", svc_stats_json(st));
	jset(root, "backends", be_stats_json(st));
	jset(root, "reasons", reasons_json(counts));
	jset(root, "listeners", listeners_json(p));
	jset(root, "proxy_services", proxy_svc_json(st, p));
	return root;
}

/* ---- stats --watch: rates between two samples ------------------------------ */

struct sample {
	struct state st;
	struct xlb_reason_count counts[XLB_R_MAX];
	double t;	/* CLOCK_MONOTONIC, seconds */
};

struct rate_view {
	const struct sample *cur, *prev;
	double dt;
	size_t reasons[XLB_R_MAX];	/* the reasons that moved, in order */
	size_t n_reasons;
};

static double monotonic_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sample_load(const struct ctl *ctl, struct sample *smp)
{
	*smp = (struct sample){ 0 };
	smp->t = monotonic_s();
	return load_state(ctl, &smp->st) || load_state_counters(ctl, &smp->st) ||
			       load_reasons(ctl, smp->counts)
		       ? CTL_FAIL
		       : CTL_OK;
}

/* Per second from a counter's two readings; a counter that went back (the
 * maps were made anew) counts from zero. */
static __u64 per_second(__u64 now, __u64 before, double dt)
{
	__u64 d = now >= before ? now - before : now;

	return dt > 0 ? (__u64)((double)d / dt + 0.5) : 0;
}

/* The same slot in the previous sample, if it held the same service (ids
 * are reused after a delete). */
static const struct xlb_counters *prev_svc_counters(const struct rate_view *v, __u32 id)
{
	const struct state *p = &v->prev->st;

	if (!svc_used(p, id) || strcmp(p->svc[id].name, v->cur->st.svc[id].name))
		return NULL;
	return &p->svc_c[id];
}

static const struct xlb_counters *prev_be_counters(const struct rate_view *v, __u32 id)
{
	const struct state *p = &v->prev->st, *c = &v->cur->st;

	if (!be_used(p, id) || p->be[id].svc_id != c->be[id].svc_id ||
	    memcmp(&p->be[id].addr, &c->be[id].addr, sizeof(c->be[id].addr)) ||
	    p->be[id].port != c->be[id].port)
		return NULL;
	return &p->be_c[id];
}

static void rates_of(const struct rate_view *v, const struct xlb_counters *now,
		     const struct xlb_counters *before, struct xlb_counters *out)
{
	static const struct xlb_counters zero;

	if (!before)
		before = &zero;
	out->packets = per_second(now->packets, before->packets, v->dt);
	out->bytes = per_second(now->bytes, before->bytes, v->dt);
	out->new_flows = per_second(now->new_flows, before->new_flows, v->dt);
}

static void fill_svc_rate_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct rate_view *v = ctx;
	__u32 id = v->cur->st.svc_ids[row];
	struct xlb_counters r;

	rates_of(v, &v->cur->st.svc_c[id], prev_svc_counters(v, id), &r);
	cell_str(cells[0], v->cur->st.svc[id].name);
	cells_counters(cells + 1, &r);
}

static void fill_be_rate_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct rate_view *v = ctx;
	const struct state *st = &v->cur->st;
	__u32 id = st->be_ids[row];
	char ep[XLB_EP_STRLEN];
	struct xlb_counters r;

	rates_of(v, &st->be_c[id], prev_be_counters(v, id), &r);
	cell_str(cells[0], svc_name(st, st->be[id].svc_id));
	cell_str(cells[1], format_backend(&st->be[id], ep, sizeof(ep)));
	cells_counters(cells + 2, &r);
}

static void fill_reason_rate_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct rate_view *v = ctx;
	size_t r = v->reasons[row];

	cell_str(cells[0], xlb_reason_names[r]);
	cell_u64(cells[1], per_second(v->cur->counts[r].packets, v->prev->counts[r].packets, v->dt));
	cell_u64(cells[2], per_second(v->cur->counts[r].bytes, v->prev->counts[r].bytes, v->dt));
}

static void rate_view_init(struct rate_view *v, const struct sample *cur, const struct sample *prev)
{
	*v = (struct rate_view){ .cur = cur, .prev = prev, .dt = cur->t - prev->t };
	for (size_t r = 0; r < XLB_R_MAX; r++)
		if (cur->counts[r].packets != prev->counts[r].packets)
			v->reasons[v->n_reasons++] = r;
}

static int print_rates(struct rate_view *v)
{
	static const struct xlb_table_col svc_cols[] = {
		{ "SERVICE", XLB_ALIGN_LEFT }, { "PKTS/S", XLB_ALIGN_RIGHT },
		{ "BYTES/S", XLB_ALIGN_RIGHT }, { "FLOWS/S", XLB_ALIGN_RIGHT },
	};
	static const struct xlb_table_col be_cols[] = {
		{ "SERVICE", XLB_ALIGN_LEFT }, { "BACKEND", XLB_ALIGN_LEFT },
		{ "PKTS/S", XLB_ALIGN_RIGHT }, { "BYTES/S", XLB_ALIGN_RIGHT },
		{ "FLOWS/S", XLB_ALIGN_RIGHT },
	};
	static const struct xlb_table_col reason_cols[] = {
		{ "REASON", XLB_ALIGN_LEFT }, { "PKTS/S", XLB_ALIGN_RIGHT },
		{ "BYTES/S", XLB_ALIGN_RIGHT },
	};
	int rc;

	printf("rates over the last %.2f s\n\n", v->dt);
	rc = print_table(svc_cols, 4, v->cur->st.n_svcs, fill_svc_rate_row, v);
	if (!rc) {
		putchar('\n');
		rc = print_table(be_cols, 5, v->cur->st.n_bes, fill_be_rate_row, v);
	}
	if (!rc) {
		putchar('\n');
		rc = print_table(reason_cols, 3, v->n_reasons, fill_reason_rate_row, v);
	}
	return rc;
}

static json_t *rate_obj(const struct xlb_counters *r)
{
	json_t *o = json_object();

	jset(o, "packets_per_s", jint(r->packets));
	jset(o, "bytes_per_s", jint(r->bytes));
	jset(o, "new_flows_per_s", jint(r->new_flows));
	return o;
}

static json_t *rates_json(const struct rate_view *v)
{
	const struct state *st = &v->cur->st;
	json_t *root = json_object(), *svcs = json_array(), *bes = json_array();
	json_t *reasons = json_object();
	struct xlb_counters r;
	char ep[XLB_EP_STRLEN];

	jset(root, "interval_s", json_real(v->dt));
	for (size_t i = 0; i < st->n_svcs; i++) {
		__u32 id = st->svc_ids[i];
		json_t *o;

		rates_of(v, &st->svc_c[id], prev_svc_counters(v, id), &r);
		o = rate_obj(&r);
		jset(o, "service", json_string(st->svc[id].name));
		jpush(svcs, o);
	}
	for (size_t i = 0; i < st->n_bes; i++) {
		__u32 id = st->be_ids[i];
		json_t *o;

		rates_of(v, &st->be_c[id], prev_be_counters(v, id), &r);
		o = rate_obj(&r);
		jset(o, "service", json_string(svc_name(st, st->be[id].svc_id)));
		jset(o, "backend", json_string(format_backend(&st->be[id], ep, sizeof(ep))));
		jpush(bes, o);
	}
	for (size_t r_ = 0; r_ < XLB_R_MAX; r_++)
		jset(reasons, xlb_reason_names[r_],
		     jint(per_second(v->cur->counts[r_].packets, v->prev->counts[r_].packets, v->dt)));
	jset(root, "services", svcs);
	jset(root, "backends", bes);
	jset(root, "reasons_packets_per_s", reasons);
	return root;
}

static int parse_watch_args(const struct sub_args *a, double *interval, long *count)
{
	char *end;

	*interval = 1.0;
	*count = -1;
	if (a->interval) {
		errno = 0;
		*interval = strtod(a->interval, &end);
		if (errno || end == a->interval || *end || !(*interval >= 0.1 && *interval <= 3600))
			return complain(CTL_USAGE, "stats: --interval '%s': seconds from 0.1 to 3600",
					a->interval);
	}
	if (a->count) {
		errno = 0;
		*count = strtol(a->count, &end, 10);
		if (errno || end == a->count || *end || *count < 1)
			return complain(CTL_USAGE, "stats: --count '%s': a whole number from 1",
					a->count);
	}
	if ((a->interval || a->count) && !a->watch)
		return complain(CTL_USAGE, "stats: --interval and --count go with --watch");
	return CTL_OK;
}

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s,
			       .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* One sample, then every interval the rates since the one before: a
 * table per sample (the screen cleared first on a terminal), or one JSON
 * object per line with --json. */
static int stats_watch(struct ctl *ctl, double interval, long count)
{
	struct sample smp[2];
	bool tty = isatty(STDOUT_FILENO);
	int rc = sample_load(ctl, &smp[0]), cur = 0;

	for (long n = 0; !rc && (count < 0 || n < count); n++) {
		struct rate_view v;

		sleep_s(interval);
		rc = sample_load(ctl, &smp[cur ^ 1]);
		if (rc)
			break;
		cur ^= 1;
		rate_view_init(&v, &smp[cur], &smp[cur ^ 1]);
		if (ctl->json) {
			json_t *o = rates_json(&v);

			json_dumpf(o, stdout, JSON_COMPACT);
			putchar('\n');
			json_decref(o);
		} else {
			if (tty)
				fputs("\033[H\033[2J", stdout);
			rc = print_rates(&v);
			if (!tty)
				putchar('\n');
		}
		fflush(stdout);
		state_free(&smp[cur ^ 1].st);
	}
	state_free(&smp[0].st);
	state_free(&smp[1].st);
	return rc;
}

static int cmd_stats(struct ctl *ctl, int argc, char **argv)
{
	struct xlb_reason_count counts[XLB_R_MAX];
	struct proxy_stats p = { 0 };
	struct sub_args a;
	struct state st;
	double interval;
	long count;
	int rc = parse_sub_args(ctl, "stats", argc, argv,
				SUB_JSON | SUB_WATCH | SUB_INTERVAL | SUB_COUNT, 0, 0, &a);

	if (rc || (rc = parse_watch_args(&a, &interval, &count)) || (rc = require_pins(ctl)))
		return rc;
	if (a.watch)
		return stats_watch(ctl, interval, count);
	if (load_state(ctl, &st) || load_state_counters(ctl, &st) || load_reasons(ctl, counts) ||
	    load_proxy_stats(ctl, &st, &p)) {
		rc = CTL_FAIL;
		goto out;
	}
	if (ctl->json)
		rc = emit_json(stats_json(&st, counts, &p));
	else
		rc = print_stats_tables(&st, counts, &p);
out:
	proxy_stats_free(&p);
	state_free(&st);
	return rc;
}

/* ---- the control socket ----------------------------------------------------- */

struct reply {
	char *buf;	/* everything xlbd sent, NUL-terminated */
	size_t len;
};

static int control_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CONTROL_TIMEOUT_S };
	int fd, rc = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		rc = -errno;
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

/* MSG_NOSIGNAL: a daemon that hangs up early must give an error message,
 * not kill xlbctl with SIGPIPE. */
static int send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int grow_reply(struct reply *r, size_t *cap)
{
	char *buf;

	if (r->len + 1 < *cap)
		return 0;
	if (*cap >= CONTROL_REPLY_MAX)
		return -EMSGSIZE;
	*cap = *cap ? *cap * 2 : 4096;
	buf = realloc(r->buf, *cap);
	if (!buf)
		return -ENOMEM;
	r->buf = buf;
	return 0;
}

/* Reads until xlbd closes the connection, which ends every answer. */
static int recv_all(int fd, struct reply *r)
{
	size_t cap = 0;

	*r = (struct reply){ 0 };
	for (;;) {
		int rc = grow_reply(r, &cap);
		ssize_t n;

		if (rc)
			return rc;
		n = recv(fd, r->buf + r->len, cap - r->len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0)
			break;
		r->len += (size_t)n;
	}
	r->buf[r->len] = '\0';
	return 0;
}

/* Sends one request line and reads the whole answer. Prints its own
 * errors, distinguishing "xlbd is not there" from "xlbd broke off". */
static int control_request(const char *path, const char *request, struct reply *r, bool quiet)
{
	char line[512];
	int fd = control_connect(path), rc;

	*r = (struct reply){ 0 };
	if (fd < 0) {
		if (!quiet)
			complain(CTL_FAIL, "cannot reach xlbd at %s: %s", path, strerror(-fd));
		return fd;
	}
	snprintf(line, sizeof(line), "%s\n", request);
	rc = send_all(fd, line, strlen(line));
	if (!rc)
		rc = recv_all(fd, r);
	close(fd);
	if (rc == -ETIMEDOUT && !quiet)
		complain(CTL_FAIL, "xlbd at %s did not answer within %d s", path, CONTROL_TIMEOUT_S);
	else if (rc && !quiet)
		complain(CTL_FAIL, "talking to xlbd at %s: %s", path, strerror(-rc));
	return rc;
}

/* Splits the answer into its output lines and the final status line
 * ("ok" or "error: ..."), both in place. */
static void split_reply(struct reply *r, const char **output, const char **status)
{
	char *end = r->buf + r->len, *nl;

	while (end > r->buf && (end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	nl = strrchr(r->buf, '\n');
	if (!nl) {
		*output = "";
		*status = r->buf;
		return;
	}
	*nl = '\0';
	*output = r->buf;
	*status = nl + 1;
}

static int report_status(const char *status)
{
	if (strcmp(status, "ok") == 0)
		return CTL_OK;
	if (strncmp(status, "error: ", 7) == 0)
		return complain(CTL_FAIL, "%s", status + 7);
	if (status[0] == '\0')
		return complain(CTL_FAIL, "xlbd closed the connection without an answer");
	return complain(CTL_FAIL, "unexpected answer from xlbd: '%s'", status);
}

/* Runs one changing request: prints xlbd's output lines, then turns the
 * status line into the exit code. */
static int run_request(const struct ctl *ctl, const char *request)
{
	const char *output, *status;
	struct reply r;
	int rc;

	if (control_request(ctl->socket, request, &r, false)) {
		free(r.buf);
		return CTL_FAIL;
	}
	split_reply(&r, &output, &status);
	if (output[0])
		printf("%s\n", output);
	rc = report_status(status);
	free(r.buf);
	return rc;
}

/* ---- changing commands ------------------------------------------------------ */

static int check_service_name(const char *what, const char *name)
{
	if (xlb_valid_service_name(name))
		return CTL_OK;
	return complain(CTL_USAGE, "%s: invalid service name '%s' (1-%d characters of A-Z a-z 0-9 _ . -)",
			what, name, XLB_NAME_LEN - 1);
}

/* Parses ADDR:PORT[/PROTO] and writes its canonical form (e.g. IPv6
 * compressed) into out, which is what goes on the wire. */
static int check_endpoint(const char *what, const char *s, enum xlb_ep_want want, char *out,
			  size_t len)
{
	struct xlb_endpoint ep;
	const char *why = "invalid endpoint";

	if (xlb_parse_endpoint(s, want, &ep, &why))
		return complain(CTL_USAGE, "%s: '%s': %s", what, s, why);
	xlb_format_endpoint(&ep, out, len);
	return CTL_OK;
}

static int parse_weight(const char *what, const char *s, unsigned long *weight)
{
	char *end;

	*weight = 1;
	if (!s)
		return CTL_OK;
	errno = 0;
	*weight = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end || errno || *weight < 1 || *weight > XLB_WEIGHT_MAX)
		return complain(CTL_USAGE, "%s: --weight must be an integer in 1..%d, not '%s'", what,
				XLB_WEIGHT_MAX, s);
	return CTL_OK;
}

/* xlbd's limits on one request line (CTL_MAX_WORDS, and CTL_LINE_MAX
 * less the newline and the NUL, in userspace/control.c): xlbd refuses a
 * longer request, so xlbctl says why before sending it. */
#define CTL_REQUEST_MAX_WORDS 24
#define CTL_REQUEST_MAX_LEN 510

/* A request line built word by word; too_long once a word did not fit. */
struct request_line {
	char text[CTL_REQUEST_MAX_LEN + 1];
	size_t len;
	int words;
	bool too_long;
};

static void __attribute__((format(printf, 2, 3))) add_word(struct request_line *r,
							    const char *fmt, ...)
{
	char word[CTL_REQUEST_MAX_LEN + 1];
	size_t room = sizeof(r->text) - r->len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(word, sizeof(word), fmt, ap);
	va_end(ap);
	if (r->too_long || n < 0 || (size_t)n + (r->words ? 1 : 0) >= room) {
		r->too_long = true;
		return;
	}
	r->len += (size_t)snprintf(r->text + r->len, room, "%s%s", r->words ? " " : "", word);
	r->words++;
}

static int check_hosts(const char *what, const struct sub_args *a)
{
	for (int i = 0; i < a->nhosts; i++) {
		if (!xlb_valid_host_name(a->hosts[i]))
			return complain(CTL_USAGE, "%s: invalid host name '%s' (a DNS name, or "
					"*.DOMAIN for a wildcard; no port)", what, a->hosts[i]);
		for (int j = 0; j < i; j++)
			if (strcasecmp(a->hosts[i], a->hosts[j]) == 0)
				return complain(CTL_USAGE, "%s: host '%s' given twice", what,
						a->hosts[i]);
	}
	return CTL_OK;
}

/* Checks the options of `service add` beyond what getopt does. */
static int check_service_add(const char *what, const struct sub_args *a, char *listen,
			     size_t len)
{
	int rc = check_service_name(what, a->pos[0]);

	if (!rc && !a->listen && !a->nhosts)
		rc = complain(CTL_USAGE, "%s: give --listen ADDR:PORT/PROTO, --host NAME, or both",
			      what);
	if (!rc && a->listen)
		rc = check_endpoint(what, a->listen, XLB_EP_PROTO, listen, len);
	if (!rc)
		rc = check_hosts(what, a);
	if (!rc && a->proto && strcmp(a->proto, "http") && strcmp(a->proto, "tls"))
		rc = complain(CTL_USAGE, "%s: --proto must be http or tls, not '%s'", what, a->proto);
	if (!rc && a->proto && !a->nhosts)
		rc = complain(CTL_USAGE, "%s: --proto applies to --host names; none given", what);
	return rc;
}

/* `service add NAME [listen=EP] [host=H]... [proto=P]` */
static int build_service_add(const char *what, const struct sub_args *a, const char *listen,
			     struct request_line *r)
{
	add_word(r, "service");
	add_word(r, "add");
	add_word(r, "%s", a->pos[0]);
	if (a->listen)
		add_word(r, "listen=%s", listen);
	for (int i = 0; i < a->nhosts; i++)
		add_word(r, "host=%s", a->hosts[i]);
	if (a->proto)
		add_word(r, "proto=%s", a->proto);
	if (!r->too_long && r->words <= CTL_REQUEST_MAX_WORDS)
		return CTL_OK;
	return complain(CTL_USAGE, "%s: too many or too long --host names for one request to xlbd "
			"(at most %d words, %d bytes); list them in the config file instead",
			what, CTL_REQUEST_MAX_WORDS, CTL_REQUEST_MAX_LEN);
}

static int service_add(struct ctl *ctl, int argc, char **argv)
{
	const char *what = "service add";
	char listen[XLB_EP_STRLEN];
	struct request_line req = { 0 };
	struct sub_args a;
	int rc = parse_sub_args(ctl, what, argc, argv, SUB_LISTEN | SUB_HOST | SUB_PROTO, 1, 1, &a);

	if (!rc)
		rc = check_service_add(what, &a, listen, sizeof(listen));
	if (!rc)
		rc = build_service_add(what, &a, listen, &req);
	if (rc)
		return rc;
	return run_request(ctl, req.text);
}

static int service_del(struct ctl *ctl, int argc, char **argv)
{
	const char *what = "service del";
	struct sub_args a;
	char req[256];
	int rc = parse_sub_args(ctl, what, argc, argv, 0, 1, 1, &a);

	if (!rc)
		rc = check_service_name(what, a.pos[0]);
	if (rc)
		return rc;
	snprintf(req, sizeof(req), "service del %s", a.pos[0]);
	return run_request(ctl, req);
}

/* `backend VERB SERVICE ADDR:PORT`, validated; the canonical endpoint goes
 * into ep. Only `add` takes --weight. */
static int parse_backend_args(struct ctl *ctl, const char *what, int argc, char **argv,
			      unsigned opts, struct sub_args *a, char *ep, size_t len)
{
	int rc = parse_sub_args(ctl, what, argc, argv, opts, 2, 2, a);

	if (!rc)
		rc = check_service_name(what, a->pos[0]);
	if (!rc)
		rc = check_endpoint(what, a->pos[1], XLB_EP_NO_PROTO, ep, len);
	return rc;
}

static int backend_add(struct ctl *ctl, int argc, char **argv)
{
	const char *what = "backend add";
	char ep[XLB_EP_STRLEN], req[256];
	unsigned long weight;
	struct sub_args a;
	int rc = parse_backend_args(ctl, what, argc, argv, SUB_WEIGHT, &a, ep, sizeof(ep));

	if (!rc)
		rc = parse_weight(what, a.weight, &weight);
	if (rc)
		return rc;
	snprintf(req, sizeof(req), "backend add %s %s weight=%lu", a.pos[0], ep, weight);
	return run_request(ctl, req);
}

/* drain and del take the same arguments and differ only in the verb. */
static int backend_simple(struct ctl *ctl, const char *verb, int argc, char **argv)
{
	char what[32], ep[XLB_EP_STRLEN], req[256];
	struct sub_args a;
	int rc;

	snprintf(what, sizeof(what), "backend %s", verb);
	rc = parse_backend_args(ctl, what, argc, argv, 0, &a, ep, sizeof(ep));
	if (rc)
		return rc;
	snprintf(req, sizeof(req), "backend %s %s %s", verb, a.pos[0], ep);
	return run_request(ctl, req);
}

static int cmd_service(struct ctl *ctl, int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : NULL;

	if (verb && strcmp(verb, "add") == 0)
		return service_add(ctl, argc - 1, argv + 1);
	if (verb && strcmp(verb, "del") == 0)
		return service_del(ctl, argc - 1, argv + 1);
	if (verb && (strcmp(verb, "-h") == 0 || strcmp(verb, "--help") == 0)) {
		print_usage(stdout);
		return CTL_OK;
	}
	return complain(CTL_USAGE, "service: expected 'add' or 'del'%s%s%s", verb ? ", not '" : "",
			verb ? verb : "", verb ? "'" : "");
}

static int cmd_backend(struct ctl *ctl, int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : NULL;

	if (verb && strcmp(verb, "add") == 0)
		return backend_add(ctl, argc - 1, argv + 1);
	if (verb && (strcmp(verb, "drain") == 0 || strcmp(verb, "del") == 0))
		return backend_simple(ctl, verb, argc - 1, argv + 1);
	if (verb && (strcmp(verb, "-h") == 0 || strcmp(verb, "--help") == 0)) {
		print_usage(stdout);
		return CTL_OK;
	}
	return complain(CTL_USAGE, "backend: expected 'add', 'drain' or 'del'%s%s%s",
			verb ? ", not '" : "", verb ? verb : "", verb ? "'" : "");
}

/* ---- trace ------------------------------------------------------------------- */

/* The poll loop wakes at least this often to see --duration and signals. */
#define TRACE_POLL_MS 200
/* An event naming a service or backend unknown to the names read last
 * makes them be read again, at most this often (seconds). */
#define TRACE_NAMES_REFRESH_S 1.0
#define TRACE_SAMPLE_MAX 1000000

struct trace_opts {
	__u32 sample_n;
	long count;		/* events to print; -1: no limit */
	double duration_s;	/* 0: no limit */
	const char *service;
};

struct trace {
	const struct ctl *ctl;
	struct trace_opts o;
	__u32 svc_id;		/* with o.service */
	struct state st;	/* service and backend names */
	double names_t;		/* when st was read (monotonic seconds) */
	struct ctl_map cfg, ring, stats;
	int lock_fd;
	bool discard;		/* events found in the ring before we switched on */
	long printed;
	double wall_off;	/* CLOCK_REALTIME - CLOCK_MONOTONIC, seconds */
};

static volatile sig_atomic_t trace_stop;

static void trace_on_signal(int sig)
{
	(void)sig;
	trace_stop = 1;
}

/* SIGPIPE too: `xlbctl trace | head` must still switch tracing off. No
 * SA_RESTART, so that a signal ends the wait for events at once. */
static void trace_catch_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
	struct sigaction sa = { .sa_handler = trace_on_signal };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

static int parse_trace_args(const struct sub_args *a, struct trace_opts *o)
{
	char *end;

	*o = (struct trace_opts){ .sample_n = 1, .count = -1, .service = a->service };
	if (a->sample) {
		unsigned long n;

		errno = 0;
		n = strtoul(a->sample, &end, 10);
		if (a->sample[0] < '0' || a->sample[0] > '9' || *end || errno || n < 1 ||
		    n > TRACE_SAMPLE_MAX)
			return complain(CTL_USAGE, "trace: --sample '%s': a whole number from 1 to %d "
					"(trace one packet in N)", a->sample, TRACE_SAMPLE_MAX);
		o->sample_n = (__u32)n;
	}
	if (a->count) {
		errno = 0;
		o->count = strtol(a->count, &end, 10);
		if (errno || end == a->count || *end || o->count < 1)
			return complain(CTL_USAGE, "trace: --count '%s': a whole number from 1", a->count);
	}
	if (a->duration) {
		errno = 0;
		o->duration_s = strtod(a->duration, &end);
		if (errno || end == a->duration || *end || !(o->duration_s > 0 && o->duration_s <= 1e6))
			return complain(CTL_USAGE, "trace: --duration '%s': seconds, more than 0",
					a->duration);
	}
	if (a->service)
		return check_service_name("trace", a->service);
	return CTL_OK;
}

/* The three trace maps. A pin dir made by an xlbd from before tracing has
 * none: the xlbd of this build adds them when it starts. */
static int trace_open_maps(struct trace *t)
{
	int rc = open_map_opt(t->ctl, "xlb_trace_cfg", sizeof(__u32), sizeof(struct xlb_trace_cfg),
			      true, &t->cfg);

	if (rc == -ENOENT)
		return complain(CTL_FAIL, "no trace maps in %s (pinned by an older xlbd: start the "
				"xlbd of this build once to add them)", t->ctl->pin_dir);
	if (!rc)
		rc = open_map(t->ctl, "xlb_trace", 0, 0, &t->ring);
	if (!rc)
		rc = open_map(t->ctl, "xlb_trace_stats", sizeof(__u32),
			      sizeof(struct xlb_trace_stats), &t->stats);
	return rc ? CTL_FAIL : CTL_OK;
}

static int trace_cfg_read(int fd, struct xlb_trace_cfg *c)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(fd, &zero, c) ? -errno : 0;
}

static int trace_cfg_write(const struct trace *t, const struct xlb_trace_cfg *c)
{
	__u32 zero = 0;

	return bpf_map_update_elem(t->cfg.fd, &zero, c, BPF_ANY) ? -errno : 0;
}

/* One trace at a time, since the knob has one owner: an exclusive flock
 * on the pin directory. The kernel drops it however xlbctl ends, so a
 * trace killed with SIGKILL (which leaves the knob on) blocks no later
 * one: that one takes the knob over and switches it off when it ends. */
static int trace_lock(struct trace *t)
{
	struct xlb_trace_cfg c = { 0 };
	int fd = open(t->ctl->pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return complain(CTL_FAIL, "cannot open %s: %s", t->ctl->pin_dir, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		t->lock_fd = fd;
		return CTL_OK;
	}
	if (errno != EWOULDBLOCK) {
		complain(CTL_FAIL, "cannot lock %s: %s", t->ctl->pin_dir, strerror(errno));
	} else {
		trace_cfg_read(t->cfg.fd, &c);
		complain(CTL_FAIL, "a trace is already on (xlbctl pid %d); one at a time",
			 (int)c.owner_pid);
	}
	close(fd);
	return CTL_FAIL;
}

static int trace_open(struct trace *t)
{
	int rc = trace_open_maps(t);

	if (rc)
		return rc;
	if (load_state(t->ctl, &t->st))
		return CTL_FAIL;
	t->names_t = monotonic_s();
	if (t->o.service && find_service(&t->st, t->o.service, &t->svc_id))
		return complain(CTL_FAIL, "no service named '%s'", t->o.service);
	return trace_lock(t);
}

static void trace_close(struct trace *t)
{
	close_map(&t->cfg);
	close_map(&t->ring);
	close_map(&t->stats);
	if (t->lock_fd >= 0)
		close(t->lock_fd);
	state_free(&t->st);
}

/* In two writes: the filter while still off, then the flag. The data path
 * may read the value while a write copies it, and must never see "on"
 * with half a filter. */
static int trace_switch_on(struct trace *t)
{
	struct xlb_trace_cfg c = {
		.sample_n = t->o.sample_n,
		.flags = t->o.service ? XLB_TRACE_F_SERVICE : 0,
		.svc_id = t->svc_id,
		.owner_pid = (__s32)getpid(),
	};
	int rc = trace_cfg_write(t, &c);

	c.enabled = 1;
	if (!rc)
		rc = trace_cfg_write(t, &c);
	return rc ? complain(CTL_FAIL, "cannot switch tracing on: %s", strerror(-rc)) : CTL_OK;
}

/* Off first (only the flag changes), then the filter cleared. */
static int trace_switch_off(struct trace *t)
{
	struct xlb_trace_cfg c = { 0 };
	int rc = trace_cfg_read(t->cfg.fd, &c);

	c.enabled = 0;
	if (!rc)
		rc = trace_cfg_write(t, &c);
	if (!rc) {
		c = (struct xlb_trace_cfg){ 0 };
		rc = trace_cfg_write(t, &c);
	}
	return rc ? complain(CTL_FAIL, "cannot switch tracing off: %s (it stays on until another "
			     "xlbctl trace ends)", strerror(-rc))
		  : CTL_OK;
}

#define TRACE_STATS_WORDS (sizeof(struct xlb_trace_stats) / sizeof(__u64))

static int trace_stats_read(const struct ctl *ctl, const struct ctl_map *m,
			    struct xlb_trace_stats *s)
{
	return sum_percpu(ctl, m, 0, (__u64 *)s, TRACE_STATS_WORDS);
}

static bool trace_done(const struct trace *t)
{
	return t->o.count >= 0 && t->printed >= t->o.count;
}

/* An event may name a service or backend added after the names were read. */
static void trace_refresh_names(struct trace *t, const struct xlb_trace_event *ev)
{
	bool known = (ev->svc_id == XLB_TRACE_NONE || svc_used(&t->st, ev->svc_id)) &&
		     (ev->backend_id == XLB_TRACE_NONE || be_used(&t->st, ev->backend_id));
	double now = monotonic_s();
	struct state st;

	if (known || now - t->names_t < TRACE_NAMES_REFRESH_S)
		return;
	t->names_t = now;
	if (load_state(t->ctl, &st)) {
		state_free(&st);
		return;	/* keep the old names; load_state said why */
	}
	state_free(&t->st);
	t->st = st;
}

static bool reason_is_dnat(__u8 r)
{
	return r == XLB_R_FWD_REDIRECT || r == XLB_R_FWD_STACK;
}

static bool reason_is_rnat(__u8 r)
{
	return r == XLB_R_RNAT_REDIRECT || r == XLB_R_RNAT_STACK;
}

static const char *trace_proto_name(const struct xlb_flow_key *k, char *buf, size_t len)
{
	switch (k->proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "icmpv6";
	}
	snprintf(buf, len, "ip-proto-%u", k->proto);
	return buf;
}

/* An address with its port for TCP and UDP, the bare address otherwise. */
static const char *trace_ep(const struct xlb_flow_key *k, const struct xlb_addr *a, __be16 port,
			    char *buf, size_t len)
{
	if (k->proto == IPPROTO_TCP || k->proto == IPPROTO_UDP)
		return format_ep(k->family, a, port, 0, buf, len);
	return xlb_format_addr(k->family, a, buf, len);
}

/* An event in words; NULL members are not known (or do not apply). */
struct trace_view {
	char when[40];
	char iface[IF_NAMESIZE + 1];
	const char *prog, *reason, *service, *backend, *proto;
	const char *src, *dst, *nat_src, *nat_dst;	/* nat_*: after the rewrite */
	char be_buf[XLB_EP_STRLEN], proto_buf[24], reason_buf[24];
	char src_buf[XLB_EP_STRLEN], dst_buf[XLB_EP_STRLEN], nat_buf[XLB_EP_STRLEN];
};

/* Local time to the microsecond for a terminal, UTC in RFC 3339 for JSON. */
static void trace_format_time(const struct trace *t, __u64 ts_ns, bool utc, char *buf, size_t len)
{
	double wall = (double)ts_ns / 1e9 + t->wall_off;
	time_t sec = (time_t)wall;
	long usec = (long)((wall - (double)sec) * 1e6);
	struct tm tm;

	if (utc) {
		gmtime_r(&sec, &tm);
		strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(buf + strlen(buf), len - strlen(buf), ".%06ldZ", usec);
	} else {
		localtime_r(&sec, &tm);
		strftime(buf, len, "%H:%M:%S", &tm);
		snprintf(buf + strlen(buf), len - strlen(buf), ".%06ld", usec);
	}
}

static const char *trace_backend(const struct trace *t, const struct xlb_trace_event *ev,
				 struct trace_view *v)
{
	const struct xlb_flow_key *k = &ev->key;

	if (ev->backend_id != XLB_TRACE_NONE && be_used(&t->st, ev->backend_id))
		return format_backend(&t->st.be[ev->backend_id], v->be_buf, sizeof(v->be_buf));
	/* deleted since: the event itself still says where the packet went */
	if (reason_is_dnat(ev->reason))
		return format_ep(k->family, &ev->nat_addr, ev->nat_port, 0, v->be_buf,
				 sizeof(v->be_buf));
	if (reason_is_rnat(ev->reason))
		return format_ep(k->family, &k->src, k->sport, 0, v->be_buf, sizeof(v->be_buf));
	return NULL;
}

static void trace_view_of(const struct trace *t, const struct xlb_trace_event *ev, bool utc,
			  struct trace_view *v)
{
	const struct xlb_flow_key *k = &ev->key;

	memset(v, 0, sizeof(*v));
	trace_format_time(t, ev->ts_ns, utc, v->when, sizeof(v->when));
	if (!if_indextoname(ev->ifindex, v->iface))
		snprintf(v->iface, sizeof(v->iface), "%u", ev->ifindex);
	v->prog = ev->prog == XLB_TRACE_TC ? "tc" : "xdp";
	if (ev->reason < XLB_R_MAX) {
		v->reason = xlb_reason_names[ev->reason];
	} else {
		snprintf(v->reason_buf, sizeof(v->reason_buf), "reason-%u", ev->reason);
		v->reason = v->reason_buf;
	}
	if (ev->svc_id != XLB_TRACE_NONE && svc_used(&t->st, ev->svc_id))
		v->service = t->st.svc[ev->svc_id].name;
	v->backend = trace_backend(t, ev, v);
	if (k->family != AF_INET && k->family != AF_INET6)
		return;	/* not IP: no tuple */
	v->proto = trace_proto_name(k, v->proto_buf, sizeof(v->proto_buf));
	v->src = trace_ep(k, &k->src, k->sport, v->src_buf, sizeof(v->src_buf));
	v->dst = trace_ep(k, &k->dst, k->dport, v->dst_buf, sizeof(v->dst_buf));
	if (reason_is_dnat(ev->reason)) {
		v->nat_src = v->src;
		v->nat_dst = trace_ep(k, &ev->nat_addr, ev->nat_port, v->nat_buf, sizeof(v->nat_buf));
	} else if (reason_is_rnat(ev->reason)) {
		v->nat_src = trace_ep(k, &ev->nat_addr, ev->nat_port, v->nat_buf, sizeof(v->nat_buf));
		v->nat_dst = v->dst;
	}
}

static const char *dash(const char *s)
{
	return s ? s : "-";
}

/* TIME IFACE PROG REASON SERVICE BACKEND PROTO SRC -> DST [=> SRC -> DST]
 * len=N [new_flow], "-" for what does not apply. */
static void trace_print_text(const struct xlb_trace_event *ev, const struct trace_view *v)
{
	printf("%s %s %s %s %s %s %s ", v->when, v->iface, v->prog, v->reason, dash(v->service),
	       dash(v->backend), dash(v->proto));
	if (v->src)
		printf("%s -> %s", v->src, v->dst);
	else
		fputs("-", stdout);
	if (v->nat_src)
		printf(" => %s -> %s", v->nat_src, v->nat_dst);
	printf(" len=%u%s\n", ev->len, ev->flags & XLB_TRACE_EV_NEW_FLOW ? " new_flow" : "");
}

static void trace_print_json(const struct xlb_trace_event *ev, const struct trace_view *v)
{
	json_t *o = json_object(), *after = json_null();

	if (v->nat_src) {
		after = json_object();
		jset(after, "src", json_string(v->nat_src));
		jset(after, "dst", json_string(v->nat_dst));
	}
	jset(o, "time", json_string(v->when));
	jset(o, "iface", json_string(v->iface));
	jset(o, "ifindex", jint(ev->ifindex));
	jset(o, "prog", json_string(v->prog));
	jset(o, "reason", json_string(v->reason));
	jset(o, "service", jstr_or_null(v->service));
	jset(o, "backend", jstr_or_null(v->backend));
	jset(o, "proto", jstr_or_null(v->proto));
	jset(o, "src", jstr_or_null(v->src));
	jset(o, "dst", jstr_or_null(v->dst));
	jset(o, "after", after);
	jset(o, "len", jint(ev->len));
	jset(o, "new_flow", json_boolean(ev->flags & XLB_TRACE_EV_NEW_FLOW));
	json_dumpf(o, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(o);
}

static int trace_on_event(void *ctx, void *data, size_t size)
{
	struct trace *t = ctx;
	struct xlb_trace_event ev;
	struct trace_view v;

	if (t->discard || trace_done(t) || size < sizeof(ev))
		return 0;
	memcpy(&ev, data, sizeof(ev));
	trace_refresh_names(t, &ev);
	trace_view_of(t, &ev, t->ctl->json, &v);
	if (t->ctl->json)
		trace_print_json(&ev, &v);
	else
		trace_print_text(&ev, &v);
	t->printed++;
	return 0;
}

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Milliseconds to wait for events now; 0 when --duration is over. */
static int trace_wait_ms(const struct trace *t, double deadline)
{
	double left;

	if (t->o.duration_s <= 0)
		return TRACE_POLL_MS;
	left = deadline - monotonic_s();
	if (left <= 0)
		return 0;
	return left * 1000 < TRACE_POLL_MS ? (int)(left * 1000) + 1 : TRACE_POLL_MS;
}

/* Prints events until --count, --duration, a signal or a closed output. */
static int trace_follow(struct trace *t, struct ring_buffer *rb)
{
	double deadline = monotonic_s() + t->o.duration_s;
	int ms;

	while (!trace_stop && !trace_done(t) && (ms = trace_wait_ms(t, deadline)) > 0) {
		int n = ring_buffer__poll(rb, ms);

		if (n < 0 && n != -EINTR)
			return complain(CTL_FAIL, "reading the trace ring: %s", strerror(-n));
		if (fflush(stdout) == EOF)
			return errno == EPIPE ? CTL_OK	/* the reader is gone: done */
					      : complain(CTL_FAIL, "cannot write output: %s",
							 strerror(errno));
	}
	return CTL_OK;
}

/* Tracing is on only between switch_on and switch_off, whatever happens
 * in between. */
static int trace_session(struct trace *t)
{
	struct xlb_trace_stats before, after;
	struct ring_buffer *rb = ring_buffer__new(t->ring.fd, trace_on_event, t, NULL);
	int rc, off;

	if (!rb)
		return complain(CTL_FAIL, "cannot map the trace ring: %s", strerror(errno));
	/* left by a trace that was killed: not ours to print */
	t->discard = true;
	ring_buffer__consume(rb);
	t->discard = false;
	t->wall_off = clock_s(CLOCK_REALTIME) - clock_s(CLOCK_MONOTONIC);
	rc = trace_stats_read(t->ctl, &t->stats, &before) ? CTL_FAIL : CTL_OK;
	if (!rc) {
		trace_catch_signals();
		rc = trace_switch_on(t);
	}
	if (!rc) {
		rc = trace_follow(t, rb);
		off = trace_switch_off(t);
		rc = rc ? rc : off;
	}
	ring_buffer__free(rb);
	if (!trace_stats_read(t->ctl, &t->stats, &after) && after.lost > before.lost)
		fprintf(stderr, "xlbctl: %llu events lost: the ring buffer was full (--sample N "
			"traces fewer)\n", (unsigned long long)(after.lost - before.lost));
	return rc;
}

static int cmd_trace(struct ctl *ctl, int argc, char **argv)
{
	struct trace t = { .ctl = ctl, .lock_fd = -1, .cfg.fd = -1, .ring.fd = -1,
			   .stats.fd = -1 };
	struct sub_args a;
	int rc = parse_sub_args(ctl, "trace", argc, argv,
				SUB_JSON | SUB_SAMPLE | SUB_SERVICE | SUB_COUNT | SUB_DURATION, 0, 0,
				&a);

	if (rc || (rc = parse_trace_args(&a, &t.o)) || (rc = require_pins(ctl)))
		return rc;
	rc = trace_open(&t);
	if (!rc)
		rc = trace_session(&t);
	trace_close(&t);
	return rc;
}

/* ---- status ----------------------------------------------------------------- */

struct iface_ent {
	__u32 ifindex;
	struct xlb_iface val;
};

struct iface_list {
	struct iface_ent *v;
	size_t n, cap;
};

/* The trace knob and counters; absent in a pin dir from before tracing. */
struct trace_status {
	bool present;
	struct xlb_trace_cfg cfg;
	struct xlb_trace_stats sum;
};

struct status {
	bool xlbd_up;
	const char *xlbd_error;	/* why the socket did not answer */
	size_t flows;
	size_t listeners;	/* the proxy's, in use */
	struct iface_list ifaces;
	struct trace_status trace;
};

static int collect_iface(const struct ctl_map *m, const void *key, void *ctx)
{
	struct iface_list *l = ctx;
	struct iface_ent e;

	memcpy(&e.ifindex, key, sizeof(e.ifindex));
	if (bpf_map_lookup_elem(m->fd, key, &e.val))
		return errno == ENOENT ? 0 : -errno;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct iface_ent *v = reallocarray(l->v, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = e;
	return 0;
}

static int cmp_iface(const void *a, const void *b)
{
	return cmp_u32(((const struct iface_ent *)a)->ifindex, ((const struct iface_ent *)b)->ifindex);
}

static int load_ifaces(const struct ctl *ctl, struct iface_list *l)
{
	struct ctl_map m;
	int rc = open_map(ctl, "xlb_ifaces", sizeof(__u32), sizeof(struct xlb_iface), &m);

	if (rc)
		return rc;
	rc = walk_keys(&m, collect_iface, l);
	if (rc)
		complain(CTL_FAIL, "cannot read map xlb_ifaces: %s", strerror(-rc));
	else if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), cmp_iface);
	close_map(&m);
	return rc;
}

/* Listener slots in use; 0 for a pin dir from before the proxy. */
static int count_listeners(const struct ctl *ctl, size_t *n)
{
	struct proxy_stats p = { 0 };
	int rc = load_listeners(ctl, &p);

	*n = p.n_lis;
	proxy_stats_free(&p);
	if (rc == -ENOMEM)
		complain(CTL_FAIL, "out of memory");
	return rc == -ENOENT ? 0 : rc;
}

/* xlbd is "up" when it answers ping with ok; anything else is reported
 * with the reason, since status must work with the daemon down. */
static void probe_xlbd(const struct ctl *ctl, struct status *s)
{
	static char why[128];
	const char *output, *status;
	struct reply r;
	int rc = control_request(ctl->socket, "ping", &r, true);

	s->xlbd_up = false;
	if (rc) {
		snprintf(why, sizeof(why), "%s", strerror(-rc));
		s->xlbd_error = why;
	} else {
		split_reply(&r, &output, &status);
		s->xlbd_up = strcmp(status, "ok") == 0;
		snprintf(why, sizeof(why), "answered '%s'", status);
		s->xlbd_error = s->xlbd_up ? NULL : why;
	}
	free(r.buf);
}

static int load_trace_status(const struct ctl *ctl, struct trace_status *ts)
{
	struct ctl_map cfg = { .fd = -1 }, stats = { .fd = -1 };
	int rc = open_map_opt(ctl, "xlb_trace_cfg", sizeof(__u32), sizeof(struct xlb_trace_cfg),
			      true, &cfg);

	*ts = (struct trace_status){ 0 };
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	rc = open_map(ctl, "xlb_trace_stats", sizeof(__u32), sizeof(struct xlb_trace_stats),
		      &stats);
	if (!rc && (rc = trace_cfg_read(cfg.fd, &ts->cfg)))
		complain(CTL_FAIL, "cannot read map xlb_trace_cfg: %s", strerror(-rc));
	if (!rc)
		rc = sum_percpu(ctl, &stats, 0, (__u64 *)&ts->sum, TRACE_STATS_WORDS);
	ts->present = !rc;
	close_map(&cfg);
	close_map(&stats);
	return rc;
}

static const char *iface_name(__u32 ifindex, char *buf)
{
	return if_indextoname(ifindex, buf);	/* NULL: gone, or in another netns */
}

static const struct {
	__u32 bit;
	const char *name;
} iface_roles[] = {
	{ XLB_IF_UPLINK, "uplink" },
	{ XLB_IF_BACKEND, "backend" },
	{ XLB_IF_PEER_PREPARED, "peer-prepared" },
	{ XLB_IF_CLSACT_OURS, "clsact-ours" },
};

#define N_IFACE_ROLES (sizeof(iface_roles) / sizeof(iface_roles[0]))

/* "backend,peer-prepared" style, "-" for none. */
static void format_roles(__u32 role, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < N_IFACE_ROLES && used < len; i++)
		if (role & iface_roles[i].bit)
			used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? "," : "",
						 iface_roles[i].name);
	if (!used)
		snprintf(buf, len, "-");
}

static void fill_iface_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	const struct iface_ent *e = &((const struct iface_list *)ctx)->v[row];
	char name[IF_NAMESIZE];
	bool peer = e->val.role & XLB_IF_PEER_PREPARED;

	cell_u64(cells[0], e->ifindex);
	cell_str(cells[1], iface_name(e->ifindex, name));
	format_roles(e->val.role, cells[2], XLB_CELL_LEN);
	if (peer) {
		cell_u64(cells[3], e->val.peer_ifindex);
		snprintf(cells[4], XLB_CELL_LEN, "%d", e->val.peer_netnsid);
	} else {
		cell_str(cells[3], NULL);
		cell_str(cells[4], NULL);
	}
}

static int print_ifaces_table(struct iface_list *l)
{
	static const struct xlb_table_col cols[] = {
		{ "IFINDEX", XLB_ALIGN_RIGHT }, { "NAME", XLB_ALIGN_LEFT },
		{ "ROLES", XLB_ALIGN_LEFT },	{ "PEER_IFINDEX", XLB_ALIGN_RIGHT },
		{ "PEER_NETNSID", XLB_ALIGN_RIGHT },
	};

	return print_table(cols, 5, l->n, fill_iface_row, l);
}

/* "on (xlbctl pid 42, one in 10, service api)", then the counters. */
static void print_trace_status(const struct state *st, const struct trace_status *ts)
{
	const struct xlb_trace_cfg *c = &ts->cfg;

	if (!ts->present) {
		printf("trace:       - (no trace maps: pinned by an older xlbd)\n");
		return;
	}
	if (c->enabled)
		printf("trace:       on (xlbctl pid %d, one in %u, %s%s)", (int)c->owner_pid,
		       c->sample_n ? c->sample_n : 1,
		       c->flags & XLB_TRACE_F_SERVICE ? "service " : "all services",
		       c->flags & XLB_TRACE_F_SERVICE ? svc_name(st, c->svc_id) : "");
	else
		printf("trace:       off");
	printf(", %llu events written, %llu lost\n", (unsigned long long)ts->sum.events,
	       (unsigned long long)ts->sum.lost);
}

static int print_status_text(const struct ctl *ctl, const struct state *st, struct status *s)
{
	printf("pin dir:     %s\n", ctl->pin_dir);
	if (s->xlbd_up)
		printf("xlbd:        running (%s)\n", ctl->socket);
	else
		printf("xlbd:        not answering at %s (%s)\n", ctl->socket, s->xlbd_error);
	printf("services:    %zu\n", st->n_svcs);
	printf("backends:    %zu\n", st->n_bes);
	printf("flows:       %zu\n", s->flows);
	printf("listeners:   %zu\n", s->listeners);
	printf("interfaces:  %zu\n", s->ifaces.n);
	print_trace_status(st, &s->trace);
	if (!s->ifaces.n)
		return CTL_OK;
	putchar('\n');
	return print_ifaces_table(&s->ifaces);
}

static json_t *roles_json(__u32 role)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < N_IFACE_ROLES; i++)
		if (role & iface_roles[i].bit)
			jpush(arr, json_string(iface_roles[i].name));
	return arr;
}

static json_t *iface_json(const struct iface_ent *e)
{
	char name[IF_NAMESIZE];
	bool peer = e->val.role & XLB_IF_PEER_PREPARED;
	json_t *o = json_object();

	jset(o, "ifindex", jint(e->ifindex));
	jset(o, "name", jstr_or_null(iface_name(e->ifindex, name)));
	jset(o, "roles", roles_json(e->val.role));
	jset(o, "peer_ifindex", peer ? jint(e->val.peer_ifindex) : json_null());
	jset(o, "peer_netnsid", peer ? json_integer(e->val.peer_netnsid) : json_null());
	return o;
}

static json_t *trace_status_json(const struct state *st, const struct trace_status *ts)
{
	const struct xlb_trace_cfg *c = &ts->cfg;
	bool by_svc = c->flags & XLB_TRACE_F_SERVICE;
	json_t *o;

	if (!ts->present)
		return json_null();
	o = json_object();
	jset(o, "enabled", json_boolean(c->enabled));
	jset(o, "owner_pid", c->enabled ? json_integer(c->owner_pid) : json_null());
	jset(o, "sample", c->enabled ? jint(c->sample_n ? c->sample_n : 1) : json_null());
	jset(o, "service", c->enabled && by_svc ? json_string(svc_name(st, c->svc_id)) : json_null());
	jset(o, "events", jint(ts->sum.events));
	jset(o, "lost", jint(ts->sum.lost));
	return o;
}

static json_t *status_json(const struct ctl *ctl, const struct state *st, const struct status *s)
{
	json_t *root = json_object(), *xlbd = json_object(), *ifaces = json_array();

	jset(xlbd, "socket", json_string(ctl->socket));
	jset(xlbd, "running", json_boolean(s->xlbd_up));
	jset(xlbd, "error", jstr_or_null(s->xlbd_error));
	for (size_t i = 0; i < s->ifaces.n; i++)
		jpush(ifaces, iface_json(&s->ifaces.v[i]));
	jset(root, "pin_dir", json_string(ctl->pin_dir));
	jset(root, "xlbd", xlbd);
	jset(root, "services", jint(st->n_svcs));
	jset(root, "backends", jint(st->n_bes));
	jset(root, "flows", jint(s->flows));
	jset(root, "listeners", jint(s->listeners));
	jset(root, "interfaces", ifaces);
	jset(root, "trace", trace_status_json(st, &s->trace));
	return root;
}

static int cmd_status(struct ctl *ctl, int argc, char **argv)
{
	struct status s = { 0 };
	struct sub_args a;
	struct state st;
	int rc = parse_sub_args(ctl, "status", argc, argv, SUB_JSON, 0, 0, &a);

	if (rc || (rc = require_pins(ctl)))
		return rc;
	if (load_state(ctl, &st) || walk_flows(ctl, count_key, &s.flows) ||
	    count_listeners(ctl, &s.listeners) || load_ifaces(ctl, &s.ifaces) ||
	    load_trace_status(ctl, &s.trace)) {
		rc = CTL_FAIL;
		goto out;
	}
	probe_xlbd(ctl, &s);
	if (ctl->json)
		rc = emit_json(status_json(ctl, &st, &s));
	else
		rc = print_status_text(ctl, &st, &s);
out:
	free(s.ifaces.v);
	state_free(&st);
	return rc;
}

/* ---- teardown --------------------------------------------------------------- */

static int cmd_teardown(struct ctl *ctl, int argc, char **argv)
{
	struct sub_args a;
	int rc = parse_sub_args(ctl, "teardown", argc, argv, 0, 0, 0, &a);

	if (rc)
		return rc;
	/* xlb_teardown logs each step (and the final event=teardown) itself */
	rc = xlb_teardown(ctl->pin_dir);
	if (rc < 0)
		return complain(CTL_FAIL, "teardown of %s incomplete: %s", ctl->pin_dir,
				strerror(-rc));
	return CTL_OK;
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
