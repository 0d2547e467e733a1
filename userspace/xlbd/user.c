// SPDX-License-Identifier: GPL-2.0
#include "user.h"

#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "caps.h"
#include "lib/log.h"
#include "lib/pins.h"

#define PW_BUF_LEN 4096
#define CAP_LIST_LEN 256
/* file descriptors nftw may hold open while it walks a tree */
#define WALK_FDS 16

int xlb_user_lookup(const char *name, struct xlb_user *u)
{
	char buf[PW_BUF_LEN];
	struct passwd pw, *found = NULL;
	int err = getpwnam_r(name, &pw, buf, sizeof(buf), &found);

	if (!err && !found)
		err = ENOENT;
	if (err)
		return pr_err("event=user_unknown user=%s err=\"%s\"", name,
			      err == ENOENT ? "no such user" : strerror(err)),
		       -err;
	*u = (struct xlb_user){ .name = name, .uid = pw.pw_uid, .gid = pw.pw_gid };
	return 0;
}

bool xlb_user_is_unprivileged(const struct xlb_user *u)
{
	return u->name && u->uid != 0;
}

/* nftw passes no context: the owner to give, for the walk under way */
static uid_t walk_uid;
static gid_t walk_gid;

static int chown_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)type, (void)ftw;
	return lchown(path, walk_uid, walk_gid) ? -errno : 0;
}

/* PATH and all below it; a path that is not there has nothing to hand. */
static int chown_tree(const char *path, const struct xlb_user *u)
{
	int err;

	if (!path || access(path, F_OK))
		return 0;
	walk_uid = u->uid;
	walk_gid = u->gid;
	err = nftw(path, chown_entry, WALK_FDS, FTW_PHYS | FTW_MOUNT);
	return err > 0 ? -err : err < 0 ? -errno : 0;
}

/* The control socket, and its directory when that is xlb's own (the
 * default's, /run/xlb, which xlbd or the unit makes): xlbd unlinks the
 * socket at exit. A directory the operator chose is left as it is. */
static int chown_control(const char *path, const struct xlb_user *u)
{
	char dir[PATH_MAX], own[] = XLB_DEFAULT_CONTROL;

	if (!path || access(path, F_OK))
		return 0;
	if (lchown(path, u->uid, u->gid))
		return -errno;
	snprintf(dir, sizeof(dir), "%s", path);
	if (strcmp(dirname(dir), dirname(own)))
		return 0;
	return chown(dir, u->uid, u->gid) ? -errno : 0;
}

static int chown_runtime_paths(const struct xlb_user *u, const struct xlb_user_paths *p)
{
	int err = chown_tree(p->pin_dir, u);

	if (!err)
		err = chown_control(p->control, u);
	if (!err)
		err = chown_tree(p->acme_state, u);
	return err;
}

/* After setresuid the effective set is empty and the permitted set is
 * kept (PR_SET_KEEPCAPS): make it effective again, for the drop. */
static int raise_permitted(void)
{
	cap_t c = cap_get_proc();
	int err = 0;

	if (!c)
		return -errno;
	if (cap_fill(c, CAP_EFFECTIVE, CAP_PERMITTED) || cap_set_proc(c))
		err = -errno;
	cap_free(c);
	return err;
}

/* Groups first and the uid last: each step needs the privilege that the
 * next one gives up. glibc applies set*id to every thread; only this one
 * keeps its capabilities, the others (log writer, TLS workers, ACME)
 * need none. */
static int take_ids(const struct xlb_user *u)
{
	if (initgroups(u->name, u->gid) || setresgid(u->gid, u->gid, u->gid))
		return -errno;
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || setresuid(u->uid, u->uid, u->uid))
		return -errno;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0))
		return -errno;
	return raise_permitted();
}

int xlb_user_switch(const struct xlb_user *u, const struct xlb_user_paths *p)
{
	const char *step = "chown";
	int err;

	if (!u->name)
		return 0;
	err = chown_runtime_paths(u, p);
	if (!err) {
		step = "ids";
		err = take_ids(u);
	}
	if (err)
		pr_err("event=user_switch_failed user=%s step=%s err=\"%s\"", u->name, step,
		       strerror(-err));
	return err;
}

void xlb_user_log_switched(const struct xlb_user *u)
{
	char caps[CAP_LIST_LEN];
	int n = getgroups(0, NULL);

	if (!u->name)
		return;
	xlb_caps_format_effective(caps, sizeof(caps));
	pr_info("event=user_switched user=%s uid=%u gid=%u groups=%d caps=%s", u->name,
		(unsigned)getuid(), (unsigned)getgid(), n < 0 ? 0 : n, caps);
}
