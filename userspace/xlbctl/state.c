// SPDX-License-Identifier: GPL-2.0
/* The state xlbctl reads once per command: the services and backends
 * of the pinned arrays, ordered by name, with their counters on demand;
 * and the helpers that collect and order entries read from the maps. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "xlbctl.h"
#include "xlb/map_types.h"

/* ---- the state: services and backends --------------------------------------- */

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

static int read_array_map(const struct ctl *ctl, const char *name, size_t value_size, void **vals,
			  __u32 *n)
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
			continue; /* a larger info map than stats map: no counters */
		rc = sum_percpu(ctl, &m, ids[i], &(*out)[ids[i]], sizeof(**out));
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

/* ---- collecting entries ----------------------------------------------------- */

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
