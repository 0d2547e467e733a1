// SPDX-License-Identifier: GPL-2.0
/* xlbctl's access to the pinned maps: opening them with a layout check,
 * reading arrays whole, summing per-CPU slots, walking hash maps. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "lib/percpu.h"
#include "lib/pins.h"
#include "xlbctl.h"
#include "xlb/map_types.h"

/* ---- pinned maps ------------------------------------------------------------ */

static int check_map_layout(const struct ctl_map *m, const struct bpf_map_info *info,
			    __u32 key_size, __u32 value_size)
{
	if (info->key_size == key_size && info->value_size == value_size)
		return 0;
	complain(CTL_FAIL,
		 "map %s has key/value sizes %u/%u, this xlbctl expects %u/%u "
		 "(xlbd and xlbctl from different builds?)",
		 m->name, info->key_size, info->value_size, key_size, value_size);
	return -EPROTO;
}

/* Opens a pinned map and checks its layout against the structs this
 * binary was built with: a mismatch would otherwise print garbage. Prints
 * the error itself, except -ENOENT when the map is optional: maps added
 * after the first release (the proxy's) are absent from pin dirs that an
 * older xlbd made, and the commands then leave their part out. */
int open_map_opt(const struct ctl *ctl, const char *name, __u32 key_size, __u32 value_size,
		 bool optional, struct ctl_map *m)
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

/* Sums one slot of a PERCPU_ARRAY over all CPUs into out, a struct of
 * size bytes made of u64 counters only (see lib/percpu.h). */
int sum_percpu(const struct ctl *ctl, const struct ctl_map *m, __u32 idx, void *out, size_t size)
{
	int rc = xlb_percpu_sum(m->fd, idx, ctl->ncpus, NULL, out, size);

	if (rc)
		complain(CTL_FAIL, "cannot read map %s: %s", m->name, strerror(-rc));
	return rc;
}

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

/* Visits every key of a pinned hash map. Prints its own errors, except
 * -ENOENT for an optional map that is not pinned (as open_map_opt). */
int walk_map(const struct ctl *ctl, const char *name, __u32 key_size, __u32 value_size,
	     bool optional, key_visit_fn visit, void *ctx)
{
	struct ctl_map m;
	int rc = open_map_opt(ctl, name, key_size, value_size, optional, &m);

	if (rc)
		return rc;
	rc = walk_keys(&m, visit, ctx);
	if (rc)
		complain(CTL_FAIL, "cannot read map %s: %s", name, strerror(-rc));
	close_map(&m);
	return rc;
}

/* Reads a whole ARRAY map into a new buffer. An optional map that is not
 * pinned gives -ENOENT without a message. */
int read_array_map_opt(const struct ctl *ctl, const char *name, size_t value_size, bool optional,
		       void **vals, __u32 *n)
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

/* A read command needs the pin dir; say plainly when there is none. */
int require_pins(const struct ctl *ctl)
{
	if (xlb_pins_present(ctl->pin_dir) > 0)
		return CTL_OK;
	return complain(CTL_FAIL, "no xlb state at %s (is xlbd running?)", ctl->pin_dir);
}
