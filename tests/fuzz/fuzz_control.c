// SPDX-License-Identifier: GPL-2.0
/* libFuzzer target for xlbd's control protocol (xlbd/control.h): each
 * input is up to MAX_LINES request lines, run as the control socket runs
 * them (the takeover line parser first, then xlb_control_exec) against a
 * fresh xlb_state on small, real BPF maps. Beyond the sanitizers it traps
 * on a broken promise: err->msg is set exactly on error; a refused
 * request leaves the state as it was (the model's backends and every map
 * entry) and uploads no Maglev table; an accepted "service add" undone by
 * "service del" (and an accepted "backend add" undone by "backend del")
 * gives back the state before it, and doing it again the state after it;
 * every Maglev table holds serving backends of one service only; deleting
 * every service at the end empties the maps. Without BPF (no CAP_BPF)
 * only the takeover line parser is checked. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "lib/log.h"
#include "xlb/map_types.h"
#include "xlbd/control.h"
#include "xlbd/state.h"

#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

/* Each line adds at most one service or backend, so ids stay below
 * MAX_LINES + 1 and the maps can be small (and cheap to compare). */
#define MAX_LINES 16
#define ID_SLOTS 32
#define HASH_MAX 4096
#define LINE_MAX_BYTES 600

struct snap {
	uint8_t *b;
	size_t len, cap;
};

static struct xlb_state_maps maps;
static bool have_bpf;
/* The arrays, mmap'ed: their elements lie 8-byte aligned. */
#define STRIDE(type) ((sizeof(type) + 7) / 8 * 8)
#define INFO_SIZE (ID_SLOTS * STRIDE(struct xlb_svc_info))
#define BACKENDS_SIZE (ID_SLOTS * STRIDE(struct xlb_backend))
static uint8_t *svc_info, *backends;
static struct snap empty;
static unsigned long uploads; /* Maglev tables written */

static const struct xlb_backend *backend_at(uint32_t id)
{
	return (const void *)(backends + id * STRIDE(struct xlb_backend));
}

/* Uploading a Maglev table (65537 slots) is what makes a change slow, so
 * the fuzzer checks the table instead of writing it: every slot holds a
 * backend of one service that the backends map already shows serving, or
 * no slot holds any. (Backends leaving the table are marked after it, so
 * the map may show more.) This definition takes the place of libbpf's. */
int bpf_map_update_batch(int fd, const void *keys, const void *values, __u32 *count,
			 const struct bpf_map_batch_opts *opts)
{
	const uint32_t *k = keys, *v = values;
	uint32_t svc = UINT32_MAX;

	(void)fd;
	(void)opts;
	CHECK(*count == XLB_MAGLEV_SIZE);
	for (uint32_t i = 0; i < *count; i++) {
		CHECK(k[i] == i && v[i] < ID_SLOTS && !v[i] == !v[0]);
		if (!v[i])
			continue;
		CHECK(backend_at(v[i])->state == XLB_BE_ACTIVE);
		CHECK(svc == UINT32_MAX || backend_at(v[i])->svc_id == svc);
		svc = backend_at(v[i])->svc_id;
	}
	uploads++;
	return 0;
}

static void put(struct snap *s, const void *p, size_t n)
{
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2;
		s->b = realloc(s->b, s->cap);
		CHECK(s->b);
	}
	memcpy(s->b + s->len, p, n);
	s->len += n;
}

static size_t entry_cmp_size;

static int entry_cmp(const void *a, const void *b)
{
	return memcmp(a, b, entry_cmp_size);
}

/* A hash map's entries, sorted by key: the order a walk gives depends on
 * the map's history, not only on its contents. vsz 0: the keys only. */
static void put_hash(struct snap *s, int fd, size_t ksz, size_t vsz)
{
	uint8_t key[512], next[512], val[512];
	uint8_t *all = NULL;
	size_t n = 0, esz = ksz + vsz;
	void *prev = NULL;

	CHECK(ksz <= sizeof(key));
	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, ksz);
		prev = key;
		all = realloc(all, (n + 1) * esz);
		CHECK(all);
		memcpy(all + n * esz, key, ksz);
		CHECK(bpf_map_lookup_elem(fd, key, val) == 0);
		memcpy(all + n * esz + ksz, val, vsz);
		n++;
	}
	entry_cmp_size = ksz;
	if (n)
		qsort(all, n, esz, entry_cmp);
	put(s, &n, sizeof(n));
	if (n)
		put(s, all, n * esz);
	free(all);
}

static void put_backend(const struct xlb_endpoint *ep, void *arg)
{
	put(arg, ep, sizeof(*ep));
}

/* The model's backends and every map but the flows (there are none). Of
 * the Maglev map only which services have a table: its values are
 * descriptors of maps closed since. */
static void take(struct snap *s, const struct xlb_state *st)
{
	size_t n = st ? xlb_state_service_count(st) : 0;

	s->len = 0;
	put(s, &n, sizeof(n));
	if (st)
		xlb_state_for_each_backend(st, put_backend, s);
	put(s, svc_info, INFO_SIZE);
	put(s, backends, BACKENDS_SIZE);
	put_hash(s, maps.services, sizeof(struct xlb_svc_key), sizeof(struct xlb_svc));
	put_hash(s, maps.hosts, sizeof(struct xlb_host_key), sizeof(struct xlb_host_val));
	put_hash(s, maps.rnat_eps, sizeof(struct xlb_ep_key), sizeof(struct xlb_ep_listeners));
	put_hash(s, maps.maglev, sizeof(uint32_t), 0);
}

static bool same(const struct snap *a, const struct snap *b)
{
	return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

static int map(enum bpf_map_type type, size_t key, size_t val, uint32_t max, uint32_t flags)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags);

	return bpf_map_create(type, NULL, (uint32_t)key, (uint32_t)val, max, &o);
}

static void *map_mmap(int fd, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* The maps as xlbd's skeleton makes them, smaller, but for the Maglev
 * map: a hash of the same keys and values instead of an array of maps,
 * whose updates wait for an RCU grace period each. */
static void open_maps(void)
{
	maps = (struct xlb_state_maps){
		.hosts = map(BPF_MAP_TYPE_HASH, sizeof(struct xlb_host_key),
			     sizeof(struct xlb_host_val), HASH_MAX, BPF_F_NO_PREALLOC),
		.services = map(BPF_MAP_TYPE_HASH, sizeof(struct xlb_svc_key),
				sizeof(struct xlb_svc), HASH_MAX, BPF_F_NO_PREALLOC),
		.svc_info = map(BPF_MAP_TYPE_ARRAY, 4, sizeof(struct xlb_svc_info), ID_SLOTS,
				BPF_F_MMAPABLE),
		.backends = map(BPF_MAP_TYPE_ARRAY, 4, sizeof(struct xlb_backend), ID_SLOTS,
				BPF_F_MMAPABLE),
		.maglev = map(BPF_MAP_TYPE_HASH, 4, 4, ID_SLOTS, 0),
		.flows = map(BPF_MAP_TYPE_LRU_HASH, sizeof(struct xlb_flow_key),
			     sizeof(struct xlb_flow), 64, 0),
		.rnat_eps = map(BPF_MAP_TYPE_HASH, sizeof(struct xlb_ep_key),
				sizeof(struct xlb_ep_listeners), HASH_MAX, BPF_F_NO_PREALLOC),
	};
	if (maps.hosts < 0 || maps.services < 0 || maps.svc_info < 0 || maps.backends < 0 ||
	    maps.maglev < 0 || maps.flows < 0 || maps.rnat_eps < 0) {
		fprintf(stderr,
			"fuzz_control: no BPF maps here: checking the takeover parser only\n");
		return;
	}
	svc_info = map_mmap(maps.svc_info, INFO_SIZE);
	backends = map_mmap(maps.backends, BACKENDS_SIZE);
	CHECK(svc_info && backends);
	have_bpf = true;
	take(&empty, NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	xlb_log_set_level(XLB_LOG_ERROR);
	open_maps();
	return 0;
}

/* The line as the control socket hands it on: cut at the first CR or LF
 * (and, being a C string, at a NUL). */
static size_t next_line(const uint8_t *data, size_t len, char *line)
{
	size_t n = 0, used = 0;

	while (used < len && data[used] != '\n') {
		if (n < LINE_MAX_BYTES - 1)
			line[n++] = (char)data[used];
		used++;
	}
	line[n] = '\0';
	line[strcspn(line, "\r")] = '\0';
	return used < len ? used + 1 : used;
}

/* The takeover line parser: errors exactly with a message, and an
 * accepted value reads back the same when written out again. */
static int check_takeover(const char *line)
{
	struct xlb_err err = { "" };
	uint32_t drain_ms = 0xdeadbeef, again = 0;
	char text[64];
	int e = xlb_control_parse_takeover(line, &drain_ms, &err);

	CHECK(e == 0 || e == -ENOENT || e == -EINVAL);
	CHECK((err.msg[0] != '\0') == (e == -EINVAL));
	CHECK(e == 0 || drain_ms == 0xdeadbeef);
	if (e == 0) {
		snprintf(text, sizeof(text), "takeover drain_ms=%u", drain_ms);
		CHECK(xlb_control_parse_takeover(text, &again, &err) == 0 && again == drain_ms);
		CHECK(err.msg[0] == '\0');
	}
	return e;
}

static int exec(struct xlb_state *st, const char *line)
{
	struct xlb_err err = { "" };
	bool changed = true;
	int e = xlb_control_exec(st, line, &changed, &err);

	CHECK(e <= 0);
	CHECK((err.msg[0] != '\0') == (e != 0));
	CHECK(!changed || e == 0);
	return e;
}

/* The first words of a request, split as the control socket splits them. */
static int words(const char *line, char w[4][LINE_MAX_BYTES])
{
	char copy[LINE_MAX_BYTES], *save = NULL, *tok;
	int n = 0;

	snprintf(copy, sizeof(copy), "%s", line);
	for (tok = strtok_r(copy, " \t\r\n", &save); tok && n < 4;
	     tok = strtok_r(NULL, " \t\r\n", &save))
		snprintf(w[n++], LINE_MAX_BYTES, "%s", tok);
	return n;
}

/* An accepted add of a service or backend, undone and done again. */
static void check_undo(struct xlb_state *st, const char *line, const struct snap *before,
		       const struct snap *after, struct snap *now)
{
	char w[4][LINE_MAX_BYTES], undo[3 * LINE_MAX_BYTES];
	int n = words(line, w);

	if (n >= 3 && strcmp(w[0], "service") == 0 && strcmp(w[1], "add") == 0)
		snprintf(undo, sizeof(undo), "service del %s", w[2]);
	else if (n >= 4 && strcmp(w[0], "backend") == 0 && strcmp(w[1], "add") == 0)
		snprintf(undo, sizeof(undo), "backend del %s %s", w[2], w[3]);
	else
		return;
	CHECK(exec(st, undo) == 0);
	take(now, st);
	CHECK(same(now, before));
	CHECK(exec(st, line) == 0);
	take(now, st);
	CHECK(same(now, after));
}

/* Deletes what the input made: the maps must end as empty as they began. */
static void clean_up(struct xlb_state *st, struct snap *now)
{
	struct xlb_err err = { "" };

	for (int id = 0; id < ID_SLOTS; id++) {
		const struct xlb_svc_info *info =
			(const void *)(svc_info + id * STRIDE(struct xlb_svc_info));
		char name[XLB_NAME_LEN];

		if (!info->name[0])
			continue;
		memcpy(name, info->name, sizeof(name));
		name[sizeof(name) - 1] = '\0';
		CHECK(xlb_state_service_del(st, name, &err) == 0);
	}
	CHECK(xlb_state_service_count(st) == 0);
	xlb_state_free(st);
	take(now, NULL);
	CHECK(same(now, &empty));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct snap before, after, now;
	struct xlb_state *st = NULL;
	char line[LINE_MAX_BYTES];
	size_t off = 0;

	if (have_bpf)
		CHECK(xlb_state_new(&maps, &st) == 0);
	for (int i = 0; i < MAX_LINES && off < len; i++) {
		unsigned long n_up;
		int e;

		off += next_line(data + off, len - off, line);
		/* a takeover line, good or bad, is answered without exec */
		if (check_takeover(line) != -ENOENT || !st)
			continue;
		take(&before, st);
		n_up = uploads;
		e = exec(st, line);
		take(&after, st);
		if (e) {
			CHECK(same(&after, &before) && uploads == n_up);
			continue;
		}
		check_undo(st, line, &before, &after, &now);
	}
	if (st)
		clean_up(st, &now);
	return 0;
}
