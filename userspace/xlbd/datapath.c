// SPDX-License-Identifier: GPL-2.0
#include "datapath.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "lib/log.h"
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

/* ---- links ------------------------------------------------------------------ */

int xlb_links_attach_uplink(struct xlb_links *l, const char *ifname, int ifindex)
{
	int err = xlb_attach_uplink(&l->ctx, ifindex);

	if (err)
		return pr_err("attaching XDP to %s: %s", ifname, strerror(-err)), err;
	pr_info("event=uplink_attached iface=%s ifindex=%d", ifname, ifindex);
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

void xlb_links_ensure_backends(struct xlb_links *l, const struct xlb_state *st)
{
	l->pending = false;
	xlb_state_for_each_backend(st, xlb_links_ensure_backend, l);
}
