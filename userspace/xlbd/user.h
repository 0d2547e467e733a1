/* SPDX-License-Identifier: GPL-2.0 */
/* --user: after set-up, xlbd goes on as an unprivileged user, keeping only
 * the runtime capabilities caps.c picks. What it still writes at runtime
 * (pins, the control socket, the ACME state) is handed to that user first.
 * docs/design.md says why this is opt-in. */
#ifndef XLB_USER_H
#define XLB_USER_H

#include <stdbool.h>
#include <sys/types.h>

struct xlb_user {
	const char *name; /* NULL: no --user, xlbd stays uid 0 */
	uid_t uid;
	gid_t gid;
};

/* What xlbd writes after the switch; NULL: not in use. */
struct xlb_user_paths {
	const char *pin_dir;	/* unlinks its pins on teardown */
	const char *control;	/* unlinks the socket at exit */
	const char *acme_state; /* writes keys and certificates */
};

/* Looks NAME up in the user database. Returns 0, or -ENOENT (no such
 * user) or another negative errno, logged. */
int xlb_user_lookup(const char *name, struct xlb_user *u);

/* A user other than root: xlbd needs the capabilities of caps.c's
 * XLB_CAPS_USER need after the switch. */
bool xlb_user_is_unprivileged(const struct xlb_user *u);

/* Hands the paths to the user, takes its groups, gid and uid, and keeps
 * every permitted capability effective so that the capability drop that
 * follows works as it does for root. Must come before the drop (it needs
 * CAP_CHOWN, CAP_SETUID, CAP_SETGID) and before the seccomp filter (which
 * kills the set*id calls). Returns 0 or a negative errno, logged
 * (event=user_switch_failed); xlbd must not go on then. */
int xlb_user_switch(const struct xlb_user *u, const struct xlb_user_paths *p);

/* The line that says it is done, with the capabilities kept: call after
 * the capability drop (event=user_switched). */
void xlb_user_log_switched(const struct xlb_user *u);

#endif
