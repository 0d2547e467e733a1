// SPDX-License-Identifier: GPL-2.0
#include "pins.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/magic.h>

#include "log.h"

static int is_bpffs(const char *path)
{
	struct statfs st;

	if (statfs(path, &st))
		return -errno;
	return st.f_type == BPF_FS_MAGIC;
}

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static int mount_bpffs(const char *where)
{
	if (mount("bpf", where, "bpf", 0, "mode=0700"))
		return -errno;
	pr_info("event=bpffs_mounted path=%s", where);
	return 0;
}

/* /sys/fs/bpf is the standard mount point and cannot take subdirectories
 * while it is plain sysfs, so mount there; any other location gets its
 * own bpffs instance on the pin directory itself. */
int xlb_pins_prepare(const char *dir)
{
	char parent[PATH_MAX];
	int err;

	if (is_bpffs(dir) == 1)
		return 0;
	snprintf(parent, sizeof(parent), "%s", dir);
	dirname(parent);
	if (is_bpffs(parent) != 1 && strcmp(parent, "/sys/fs/bpf") == 0) {
		err = mount_bpffs(parent);
		if (err)
			return err;
	}
	err = mkdir_p(dir);
	if (err)
		return err;
	if (is_bpffs(dir) == 1)
		return 0;
	return mount_bpffs(dir);
}

/* Maps earlier versions pinned and this one no longer has: a pin keeps
 * its map (and the memory behind it) alive, unused, until removed. */
static const char *const obsolete_pins[] = {
	"xlb_rnat", /* the reverse-NAT table, replaced by xlb_rnat_eps (b2c18fb) */
};

int xlb_pins_remove_obsolete(const char *dir)
{
	char path[PATH_MAX];
	int removed = 0;

	for (size_t i = 0; i < sizeof(obsolete_pins) / sizeof(obsolete_pins[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, obsolete_pins[i]);
		if (unlink(path) == 0)
			removed++;
		else if (errno != ENOENT)
			return -errno;
	}
	return removed;
}

int xlb_pins_open_map(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int xlb_pins_present(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/xlb_services", dir);
	return access(path, F_OK) == 0;
}
