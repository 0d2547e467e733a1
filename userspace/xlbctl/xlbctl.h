/* SPDX-License-Identifier: GPL-2.0 */
/* What xlbctl's modules share: the command context, the subcommand
 * arguments, a pinned map, the state snapshot (services and backends),
 * the control socket's reply, and the functions one module lends another.
 *   main.c     main, the usage, global and subcommand arguments
 *   maps.c     pinned maps: open and check, read arrays, per-CPU sums, walks
 *   state.c    the state snapshot, and collecting and ordering map entries
 *   output.c   the error line, endpoints, table cells and tables, JSON
 *   clock.c    seconds, for intervals
 *   tables.c, stats.c, control.c, certs.c, trace.c, status.c: the commands */
#ifndef XLB_XLBCTL_H
#define XLB_XLBCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>
#include <linux/types.h>

#include "lib/table.h"
#include "xlb/map_types.h"

enum ctl_exit { CTL_OK = 0, CTL_FAIL = 1, CTL_USAGE = 2 };

struct ctl {
	const char *pin_dir;
	const char *socket;
	bool json;
	int ncpus;
};

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
	SUB_PATH = 1 << 12,
	SUB_STRIP_PATH = 1 << 13,
	SUB_BACKEND_TLS = 1 << 14,
};

/* More --host options than one control request can carry (see
 * CTL_REQUEST_MAX_WORDS) are refused while parsing. */
#define SUB_MAX_HOSTS 32

struct sub_args {
	const char *hosts[SUB_MAX_HOSTS]; /* --host, repeatable, in order */
	int nhosts;
	const char *paths[SUB_MAX_HOSTS]; /* --path, repeatable, in order */
	int npaths;
	bool strip_path;
	bool backend_tls;
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
	char **pos; /* positional arguments after the command words */
	int npos;
};

struct ctl_map {
	const char *name;
	int fd;
	__u32 max_entries;
	__u32 key_size;
};

typedef int (*key_visit_fn)(const struct ctl_map *m, const void *key, void *ctx);

/* One xlb_hosts entry, a route: a host name (or "*.suffix"), a path
 * prefix ("/" when the key has none) and its service. */
struct host_ent {
	char name[XLB_HOST_KEY_LEN];
	char path[XLB_HOST_KEY_LEN];
	__u32 svc_id;
	__u32 flags; /* XLB_SVC_F_TLS, _STRIP_PATH, _HTTPS */
};

struct state {
	struct xlb_svc_info *svc; /* indexed by service id */
	__u32 n_svc_slots;
	struct xlb_backend *be; /* indexed by backend id */
	__u32 n_be_slots;
	__u32 *svc_ids; /* used service slots, by name */
	size_t n_svcs;
	__u32 *be_ids; /* used backend slots, by service name then id */
	size_t n_bes;
	struct xlb_counters *svc_c; /* by service id; only with counters */
	struct xlb_counters *be_c;  /* by backend id; only with counters */
	struct host_ent *hosts;	    /* by service id, then name; only with hosts */
	size_t n_hosts, cap_hosts;
};

struct reply {
	char *buf; /* everything xlbd sent, NUL-terminated */
	size_t len;
};

/* main.c: usage, subcommand arguments */
void print_usage(FILE *out);
int parse_sub_args(struct ctl *ctl, const char *what, int argc, char **argv, unsigned allowed,
		   int min_pos, int max_pos, struct sub_args *a);
/* --count N of cmd: CTL_OK, or CTL_USAGE with one error line. */
int parse_count(const char *cmd, const char *arg, long *count);

/* maps.c: pinned maps */
int open_map_opt(const struct ctl *ctl, const char *name, __u32 key_size, __u32 value_size,
		 bool optional, struct ctl_map *m);
int open_map(const struct ctl *ctl, const char *name, __u32 key_size, __u32 value_size,
	     struct ctl_map *m);
void close_map(struct ctl_map *m);
int sum_percpu(const struct ctl *ctl, const struct ctl_map *m, __u32 idx, void *out, size_t size);
int walk_map(const struct ctl *ctl, const char *name, __u32 key_size, __u32 value_size,
	     bool optional, key_visit_fn visit, void *ctx);
int read_array_map_opt(const struct ctl *ctl, const char *name, size_t value_size, bool optional,
		       void **vals, __u32 *n);
int require_pins(const struct ctl *ctl);

/* state.c: the state */
void state_free(struct state *st);
bool svc_used(const struct state *st, __u32 id);
bool be_used(const struct state *st, __u32 id);
const char *svc_name(const struct state *st, __u32 id);
int cmp_u32(__u32 x, __u32 y);
int load_state(const struct ctl *ctl, struct state *st);
int load_state_counters(const struct ctl *ctl, struct state *st);
int find_service(const struct state *st, const char *name, __u32 *id);
/* Room for one more element in an array holding n of capacity *cap
 * (doubling, first when empty): the array, moved if it had to grow, or
 * NULL with the old one left as it was. */
void *array_room(void *v, size_t n, size_t *cap, size_t size, size_t first);

/* output.c: errors, formatting and JSON */
int __attribute__((format(printf, 2, 3))) complain(int code, const char *fmt, ...);
const char *format_ep(uint8_t family, const struct xlb_addr *addr, __be16 port, uint8_t proto,
		      char *buf, size_t len);
const char *format_backend(const struct xlb_backend *be, char *buf, size_t len);
void cell_u64(char *cell, __u64 v);
void cell_str(char *cell, const char *s);
void cells_counters(char cells[][XLB_CELL_LEN], const struct xlb_counters *c);
int print_table(const struct xlb_table_col *cols, size_t ncols, size_t nrows,
		xlb_table_row_fn fill_row, void *ctx);
void jset(json_t *obj, const char *key, json_t *val);
void jpush(json_t *arr, json_t *val);
json_t *jint(__u64 v);
json_t *jstr_or_null(const char *s);
void jset_counters(json_t *obj, const struct xlb_counters *c);
int emit_json(json_t *root);
void emit_json_line(json_t *obj);

/* clock.c */
double clock_s(clockid_t id);
double monotonic_s(void);

/* tables.c */
int cmd_services(struct ctl *ctl, int argc, char **argv);
int cmd_backends(struct ctl *ctl, int argc, char **argv);
int cmd_flows(struct ctl *ctl, int argc, char **argv);
int walk_flows(const struct ctl *ctl, key_visit_fn visit, void *ctx);
int count_key(const struct ctl_map *m, const void *key, void *ctx);

/* stats.c */
int cmd_stats(struct ctl *ctl, int argc, char **argv);
int count_listeners(const struct ctl *ctl, size_t *n);

/* control.c */
int control_request(const char *path, const char *request, struct reply *r, bool quiet);
void split_reply(struct reply *r, const char **output, const char **status);
int control_query(const struct ctl *ctl, const char *request, char **output);
int check_service_name(const char *what, const char *name);
int cmd_service(struct ctl *ctl, int argc, char **argv);
int cmd_backend(struct ctl *ctl, int argc, char **argv);

/* certs.c */
int cmd_certs(struct ctl *ctl, int argc, char **argv);

/* trace.c */
int cmd_trace(struct ctl *ctl, int argc, char **argv);
int trace_cfg_read(int fd, struct xlb_trace_cfg *c);
int trace_stats_read(const struct ctl *ctl, const struct ctl_map *m, struct xlb_trace_stats *s);

/* status.c */
int cmd_status(struct ctl *ctl, int argc, char **argv);
int cmd_teardown(struct ctl *ctl, int argc, char **argv);

#endif
