// SPDX-License-Identifier: GPL-2.0
#include "datapath.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "lib/log.h"
#include "lib/percpu.h"
#include "lib/pins.h"

/* ---- pins ------------------------------------------------------------------- */

int xlb_datapath_prepare_pins(const char *pin_dir)
{
	int err = xlb_pins_prepare(pin_dir);

	if (err)
		return pr_err("pin dir %s: %s", pin_dir, strerror(-err)), err;
	err = xlb_pins_remove_obsolete(pin_dir);
	if (err > 0)
		pr_info("event=obsolete_pins_removed pin_dir=%s count=%d", pin_dir, err);
	else if (err < 0)
		pr_warn("event=obsolete_pins_kept pin_dir=%s err=\"%s\"", pin_dir, strerror(-err));
	return 0;
}

static void pin_path(const struct bpf_map *m, const char *pin_dir, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", pin_dir, bpf_map__name(m));
}

/* libbpf would refuse a pinned table of another size with a bare EINVAL:
 * say why first. */
static int size_flow_table(struct bpf_map *m, const char *pin_dir, uint32_t entries)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, err;

	if (!entries)
		return 0;
	pin_path(m, pin_dir, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		err = bpf_obj_get_info_by_fd(fd, &info, &len);
		close(fd);
		if (!err && info.max_entries != entries)
			return pr_err("--flow-table-size %u: the pinned %s has %u entries "
				      "(xlbctl teardown first, which drops every flow)",
				      entries, bpf_map__name(m), info.max_entries),
			       -EEXIST;
	}
	err = bpf_map__set_max_entries(m, entries);
	if (err)
		return pr_err("--flow-table-size: %s", strerror(-err)), err;
	return 0;
}

static int devmap_reuse(struct bpf_map *m, const char *pin_dir, bool *reused)
{
	char path[PATH_MAX];
	int fd, err;

	pin_path(m, pin_dir, path, sizeof(path));
	*reused = false;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	err = bpf_map__reuse_fd(m, fd);
	close(fd);
	*reused = err == 0;
	return err;
}

int xlb_datapath_prepare_maps(struct bpf_map *flows, struct bpf_map *devmap, const char *pin_dir,
			      uint32_t entries, bool *devmap_reused)
{
	int err = size_flow_table(flows, pin_dir, entries);

	if (err)
		return err;
	err = devmap_reuse(devmap, pin_dir, devmap_reused);
	if (err)
		return pr_err("reusing pinned %s: %s", bpf_map__name(devmap), strerror(-err)), err;
	return 0;
}

/* ---- xlb_reasons of an earlier size ----------------------------------------------- */

/* A new reason makes xlb_reasons longer, and libbpf refuses to reuse a
 * pinned map of another size: its counts are read (summed over CPUs) and
 * its pin removed, so that the load makes one of this size, and
 * xlb_datapath_restore_reasons puts them back. A program still attached
 * keeps counting into the old map until the new one replaces it. */
int xlb_datapath_save_reasons(const char *pin_dir, struct xlb_reasons_carry *c)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, err = 0;

	memset(c, 0, sizeof(*c));
	snprintf(path, sizeof(path), "%s/xlb_reasons", pin_dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		err = -errno;
	else if (info.max_entries >= XLB_R_MAX ||
		 info.value_size != sizeof(struct xlb_reason_count))
		goto out; /* the same size (or a newer one: libbpf says so) */
	for (__u32 r = 0; !err && r < info.max_entries; r++)
		err = xlb_percpu_sum(fd, r, libbpf_num_possible_cpus(), NULL, &c->counts[r],
				     sizeof(c->counts[r]));
	if (!err && unlink(path))
		err = -errno;
	if (!err) {
		c->resized = true;
		c->old_entries = info.max_entries;
	}
out:
	close(fd);
	if (err)
		pr_err("resizing pinned xlb_reasons: %s", strerror(-err));
	return err;
}

/* The sums go to the first CPU's copy: readers only ever add the copies. */
int xlb_datapath_restore_reasons(struct bpf_map *reasons, const struct xlb_reasons_carry *c)
{
	int fd = bpf_map__fd(reasons), ncpus = libbpf_num_possible_cpus(), err = 0;
	struct xlb_reason_count *v;

	if (!c->resized)
		return 0;
	v = ncpus > 0 ? calloc((size_t)ncpus, sizeof(*v)) : NULL;
	if (!v)
		err = ncpus > 0 ? -ENOMEM : ncpus;
	for (__u32 r = 0; !err && r < c->old_entries; r++) {
		v[0] = c->counts[r];
		if (bpf_map_update_elem(fd, &r, v, BPF_ANY))
			err = -errno;
	}
	free(v);
	if (err)
		pr_warn("event=reasons_resized entries=%u old_entries=%u counts=lost err=\"%s\"",
			XLB_R_MAX, c->old_entries, strerror(-err));
	else
		pr_info("event=reasons_resized entries=%u old_entries=%u counts=kept", XLB_R_MAX,
			c->old_entries);
	return err;
}

int xlb_datapath_pin_devmap(struct bpf_map *devmap, const char *pin_dir)
{
	char path[PATH_MAX];
	int err;

	pin_path(devmap, pin_dir, path, sizeof(path));
	err = bpf_map__pin(devmap, path);
	if (err)
		return pr_err("pinning %s: %s", bpf_map__name(devmap), strerror(-err)), err;
	return 0;
}

/* ---- the flow hash's seed ------------------------------------------------------------ */

static int seed_draw(__u64 *seed)
{
	ssize_t n = getrandom(seed, sizeof(*seed), 0);

	if (n == (ssize_t)sizeof(*seed))
		return 0;
	return n < 0 ? -errno : -EIO;
}

int xlb_datapath_set_hash_seed(int dp_config_fd, const uint64_t *want, const char *source,
			       bool start)
{
	struct xlb_dp_config cfg;
	__u32 zero = 0;
	bool seeded;
	int err;

	if (bpf_map_lookup_elem(dp_config_fd, &zero, &cfg))
		return err = -errno, pr_err("reading xlb_dp_config: %s", strerror(-err)), err;
	seeded = cfg.flags & XLB_DP_F_SEEDED;
	if (seeded && (!want || cfg.hash_seed == *want)) {
		if (start)
			pr_info("event=hash_seed source=%s", want ? source : "pinned");
		return 0;
	}
	if (want)
		cfg.hash_seed = *want;
	else if ((err = seed_draw(&cfg.hash_seed)))
		return pr_err("drawing a hash seed: %s", strerror(-err)), err;
	cfg.flags |= XLB_DP_F_SEEDED;
	if (bpf_map_update_elem(dp_config_fd, &zero, &cfg, BPF_ANY))
		return err = -errno, pr_err("writing xlb_dp_config: %s", strerror(-err)), err;
	/* the seed itself stays out of the log: it tells a client how to
	 * aim its flows (xlbctl status shows it, to root) */
	if (seeded)
		pr_warn("event=hash_seed_changed source=%s new_flows=rehashed tracked_flows=kept",
			source);
	else
		pr_info("event=hash_seed source=%s", want ? source : "random");
	return 0;
}

/* ---- links ------------------------------------------------------------------ */

int xlb_links_attach_uplink(struct xlb_links *l, const char *ifname, int ifindex,
			    enum xlb_attach_mode mode)
{
	struct xlb_uplink_attached how;
	int err = xlb_attach_uplink(&l->ctx, ifindex, mode, &how);

	if (err)
		return pr_err("attaching the %s uplink program to %s: %s",
			      xlb_attach_mode_name(how.mode), ifname, strerror(-err)),
		       err;
	pr_info("event=uplink_attached iface=%s ifindex=%d mode=%s why=%s", ifname, ifindex,
		xlb_attach_mode_name(how.mode), how.why);
	return 0;
}

void xlb_links_ensure_backend(const struct xlb_endpoint *ep, void *links)
{
	struct xlb_links *l = links;
	char buf[XLB_EP_STRLEN];
	int err = xlb_attach_backend_route(&l->ctx, ep);

	if (err == -EAGAIN) { /* the kernel forwards to it meanwhile */
		l->pending = true;
		pr_debug("event=backend_link_pending backend=%s retry_s=%d",
			 xlb_format_endpoint(ep, buf, sizeof(buf)), XLB_LINKS_RECHECK_S);
	} else if (err) {
		pr_warn("event=backend_link_failed backend=%s err=\"%s\"",
			xlb_format_endpoint(ep, buf, sizeof(buf)), strerror(-err));
	}
}

/* The backends' addresses, as xlb_be_links keys, sorted. */
struct be_addrs {
	struct xlb_be_link_key *v;
	size_t n, cap;
	bool oom;
};

static void be_addr_add(const struct xlb_endpoint *ep, void *arg)
{
	struct be_addrs *a = arg;
	struct xlb_be_link_key *v;

	if (a->n == a->cap && !a->oom) {
		a->cap = a->cap ? 2 * a->cap : 64;
		v = realloc(a->v, a->cap * sizeof(*v));
		if (!v)
			a->oom = true;
		else
			a->v = v;
	}
	if (a->oom)
		return;
	a->v[a->n++] = (struct xlb_be_link_key){ .addr = ep->addr, .family = ep->family };
}

static int be_key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct xlb_be_link_key));
}

static bool be_addr_present(const struct be_addrs *a, const struct xlb_be_link_key *k)
{
	return bsearch(k, a->v, a->n, sizeof(*k), be_key_cmp) != NULL;
}

/* Deletes the xlb_be_links entries of addresses that are no backend's any
 * more (Docker gives each new container an address of its own), so that
 * the map does not fill up. The next key is taken before the current one
 * is deleted, so the walk never restarts. */
static void be_links_prune(int fd, const struct xlb_state *st)
{
	struct be_addrs a = { 0 };
	struct xlb_be_link_key key, next;
	bool have = false, stale = false;

	xlb_state_for_each_backend(st, be_addr_add, &a);
	if (a.oom) { /* not knowing every backend, delete nothing */
		free(a.v);
		return;
	}
	if (a.n)
		qsort(a.v, a.n, sizeof(*a.v), be_key_cmp);
	while (bpf_map_get_next_key(fd, have ? &key : NULL, &next) == 0) {
		if (stale)
			bpf_map_delete_elem(fd, &key);
		key = next;
		have = true;
		stale = !be_addr_present(&a, &key);
	}
	if (stale)
		bpf_map_delete_elem(fd, &key);
	free(a.v);
}

void xlb_links_ensure_backends(struct xlb_links *l, const struct xlb_state *st)
{
	l->pending = false;
	xlb_state_for_each_backend(st, xlb_links_ensure_backend, l);
	be_links_prune(l->ctx.be_links_fd, st);
}
