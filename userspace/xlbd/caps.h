/* SPDX-License-Identifier: GPL-2.0 */
/* Least privilege: what xlbd keeps of its capabilities once it is set up.
 * Loading the programs, pinning, attaching uplinks, mounting bpffs and
 * binding the listeners all happen before; what is left is the runtime
 * work below. The README's Security section has the table. */
#ifndef XLB_CAPS_H
#define XLB_CAPS_H

#include <stddef.h>

/* Runtime work that needs more than the map and socket fds xlbd holds. */
enum xlb_caps_need {
	/* XDP is on uplinks: backend links found later (control socket,
	 * SIGHUP, Docker) get the tc return program and, on a veth, the
	 * peer's XDP program, inside the backend's netns; teardown-on-exit
	 * takes them off again */
	XLB_CAPS_LINKS = 1 << 0,
	/* a config file: SIGHUP may open its new [http]/[tls] listeners */
	XLB_CAPS_LISTEN = 1 << 1,
	/* --user other than root: the pins under /sys/fs/bpf (mode 0700),
	 * Docker's netns files under /run/docker (0700), certificates and
	 * the config file, all root's, are reached by path after the switch */
	XLB_CAPS_USER = 1 << 2,
};

/* Drops every capability that the runtime work in needs (a mask of enum
 * xlb_caps_need) does not use, from the effective, permitted, inheritable,
 * ambient and bounding sets, and sets no_new_privs. Logs what it kept
 * (event=caps_dropped). A failure (not root, no CAP_SETPCAP for the
 * bounding set) is logged as a warning and xlbd goes on with what it has. */
void xlb_caps_drop_to_runtime(unsigned needs);

/* The running thread's effective set as names ("cap_bpf,cap_net_admin"),
 * or "none", for a log line. */
void xlb_caps_format_effective(char *buf, size_t len);

#endif
