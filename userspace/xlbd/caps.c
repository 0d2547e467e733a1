// SPDX-License-Identifier: GPL-2.0
#include "caps.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "lib/log.h"

#define CAP_LIST_LEN 256

struct runtime_cap {
	cap_value_t cap;
	unsigned needs; /* kept when any of these is asked for; 0: always */
	/* kept instead when cap is not there to keep: Docker 20.10 (Debian
	 * 12's) knows no CAP_BPF, and grants bpf() only with CAP_SYS_ADMIN */
	cap_value_t stand_in;
};

/* Each one found by taking it away and watching what broke (see
 * tests/bats/privilege.bats). */
static const struct runtime_cap runtime_caps[] = {
	/* a service whose backends change gets a new Maglev inner map
	 * (BPF_MAP_CREATE), refused without it while unprivileged BPF is
	 * off, as it is by default */
	{ CAP_BPF, 0, CAP_SYS_ADMIN },
	/* tc filters and XDP programs on links found later, and neighbour
	 * probes for bridged backends: netlink refuses them without it */
	{ CAP_NET_ADMIN, XLB_CAPS_LINKS, -1 },
	/* setns() into a backend's netns to put XDP on its veth peer, and at
	 * teardown BPF_PROG_GET_FD_BY_ID to tell our program there from
	 * someone else's: the kernel asks for nothing less for either */
	{ CAP_SYS_ADMIN, XLB_CAPS_LINKS, -1 },
	/* a listener a reload adds on a port below 1024 */
	{ CAP_NET_BIND_SERVICE, XLB_CAPS_LISTEN, -1 },
	/* as another user: search and read root's directories and files
	 * (pins, netns files, certificates, the config), not write them */
	{ CAP_DAC_READ_SEARCH, XLB_CAPS_USER, -1 },
};

#define N_RUNTIME_CAPS (sizeof(runtime_caps) / sizeof(runtime_caps[0]))

static bool cap_permitted(cap_value_t cap)
{
	cap_t cur = cap_get_proc();
	cap_flag_value_t have = CAP_CLEAR;

	if (cur)
		cap_get_flag(cur, cap, CAP_PERMITTED, &have);
	cap_free(cur);
	return have == CAP_SET;
}

/* The capability that does runtime_caps[i]'s work here: its own, or its
 * stand-in when the process lacks it; -1: none needed. */
static cap_value_t cap_for(size_t i, unsigned needs)
{
	const struct runtime_cap *r = &runtime_caps[i];

	if (r->needs && !(r->needs & needs))
		return -1;
	if (r->stand_in >= 0 && !cap_permitted(r->cap))
		return r->stand_in;
	return r->cap;
}

static bool cap_wanted(cap_value_t cap, unsigned needs)
{
	for (size_t i = 0; i < N_RUNTIME_CAPS; i++)
		if (cap_for(i, needs) == cap)
			return true;
	return false;
}

/* A capability that is not in the bounding set can never come back, not
 * even through a setuid-root or file-capability execve. Needs
 * CAP_SETPCAP, so it goes before the process sets shrink. */
static int drop_bounding(unsigned needs)
{
	for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++) {
		if (cap_wanted(c, needs) || cap_get_bound(c) != 1)
			continue;
		if (cap_drop_bound(c))
			return -errno;
	}
	return 0;
}

/* Effective and permitted: the wanted capabilities xlbd has; the
 * inheritable and ambient sets: empty, so nothing passes on. */
static int set_process_caps(unsigned needs)
{
	cap_t next = cap_init();
	int err = 0;

	if (!next)
		return -errno;
	for (size_t i = 0; i < N_RUNTIME_CAPS; i++) {
		cap_value_t c = cap_for(i, needs);

		if (c < 0 || !cap_permitted(c))
			continue;
		cap_set_flag(next, CAP_EFFECTIVE, 1, &c, CAP_SET);
		cap_set_flag(next, CAP_PERMITTED, 1, &c, CAP_SET);
	}
	if (cap_set_proc(next) || (CAP_AMBIENT_SUPPORTED() && cap_reset_ambient()))
		err = -errno;
	cap_free(next);
	return err;
}

/* "cap_bpf,cap_net_admin": the capabilities in flag's set of the running
 * process, or in the bounding set when bounding. */
static void format_caps(bool bounding, cap_flag_t flag, char *buf, size_t len)
{
	cap_t cur = bounding ? NULL : cap_get_proc();
	cap_flag_value_t v = CAP_CLEAR;
	size_t off = 0;

	buf[0] = '\0';
	for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++) {
		char *name;

		if (bounding ? cap_get_bound(c) != 1
			     : !cur || cap_get_flag(cur, c, flag, &v) || v != CAP_SET)
			continue;
		name = cap_to_name(c);
		if (name && off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "," : "", name);
		cap_free(name);
	}
	cap_free(cur);
	if (!buf[0])
		snprintf(buf, len, "none");
}

void xlb_caps_format_effective(char *buf, size_t len)
{
	format_caps(false, CAP_EFFECTIVE, buf, len);
}

void xlb_caps_drop_to_runtime(unsigned needs)
{
	char kept[CAP_LIST_LEN], bound[CAP_LIST_LEN];
	int nnp_err = 0, bound_err, err;

	/* no execve (xlbd does none) may gain what is dropped here */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		nnp_err = -errno;
	bound_err = drop_bounding(needs);
	err = set_process_caps(needs);
	format_caps(false, CAP_EFFECTIVE, kept, sizeof(kept));
	format_caps(true, 0, bound, sizeof(bound));
	if (err || nnp_err)
		pr_warn("event=caps_drop_failed kept=%s bounding=%s no_new_privs=%d err=\"%s\"",
			kept, bound, !nnp_err, strerror(err ? -err : -nnp_err));
	else if (bound_err)
		/* e.g. a container without CAP_SETPCAP: its runtime already
		 * cut the bounding set to what it granted, and no_new_privs
		 * keeps an execve from taking any of that back */
		pr_info("event=caps_dropped kept=%s bounding=%s no_new_privs=1 "
			"bounding_err=\"%s\"",
			kept, bound, strerror(-bound_err));
	else
		pr_info("event=caps_dropped kept=%s bounding=%s no_new_privs=1", kept, bound);
}
