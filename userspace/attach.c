// SPDX-License-Identifier: GPL-2.0
#include "attach.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "log.h"
#include "pins.h"

/* tc filter identity: one filter of ours per backend link */
#define XLB_TC_HANDLE 0x71b
#define XLB_TC_PRIO 0x71b
#define XLB_PEER_PROG_NAME "xlb_peer_pass"

static void xdp_link_path(char *buf, size_t len, const char *pin_dir, int ifindex)
{
	snprintf(buf, len, "%s/xdp_link_%d", pin_dir, ifindex);
}

static ino_t netns_self_ino(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) ? 0 : st.st_ino;
}

static int iface_get(int ifaces_fd, int ifindex, struct xlb_iface *val)
{
	__u32 key = (__u32)ifindex;

	memset(val, 0, sizeof(*val));
	if (bpf_map_lookup_elem(ifaces_fd, &key, val))
		return -errno;
	return 0;
}

static int iface_add_role(int ifaces_fd, int ifindex, const struct xlb_iface *add)
{
	struct xlb_iface val;
	__u32 key = (__u32)ifindex;

	iface_get(ifaces_fd, ifindex, &val);
	val.role |= add->role;
	val.netns_ino = netns_self_ino();
	if (add->role & XLB_IF_PEER_PREPARED) {
		val.peer_ifindex = add->peer_ifindex;
		val.peer_netnsid = add->peer_netnsid;
	}
	return bpf_map_update_elem(ifaces_fd, &key, &val, BPF_ANY) ? -errno : 0;
}

static int uplink_update_pinned(const char *path, int prog_fd)
{
	int fd = bpf_obj_get(path), err = 0;

	if (fd < 0)
		return -errno;
	if (bpf_link_update(fd, prog_fd, NULL))
		err = -errno;
	close(fd);
	return err;
}

static int uplink_create_pinned(const char *path, int prog_fd, int ifindex)
{
	int fd, err = 0;

	fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, NULL);
	if (fd < 0)
		return -errno;
	if (bpf_obj_pin(fd, path))
		err = -errno;
	close(fd);
	return err;
}

int xlb_attach_uplink(const struct xlb_attach_ctx *ctx, int ifindex)
{
	struct xlb_iface role = { .role = XLB_IF_UPLINK };
	char path[PATH_MAX];
	int err;

	xdp_link_path(path, sizeof(path), ctx->pin_dir, ifindex);
	err = uplink_update_pinned(path, ctx->ingress_fd);
	if (err == -ENOENT) {
		err = uplink_create_pinned(path, ctx->ingress_fd, ifindex);
	} else if (err) {
		/* the link's interface went away and came back: start afresh */
		unlink(path);
		err = uplink_create_pinned(path, ctx->ingress_fd, ifindex);
	}
	if (err)
		return err;
	return iface_add_role(ctx->ifaces_fd, ifindex, &role);
}

static int tc_attach_return(const struct xlb_attach_ctx *ctx, int ifindex, bool *created)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = XLB_TC_HANDLE, .priority = XLB_TC_PRIO,
		    .prog_fd = ctx->return_fd, .flags = BPF_TC_F_REPLACE);
	int err;

	xlb_log_libbpf_quiet(true); /* EEXIST is the common, fine case */
	err = bpf_tc_hook_create(&hook);
	xlb_log_libbpf_quiet(false);
	*created = err == 0;
	if (err && err != -EEXIST)
		return err;
	return bpf_tc_attach(&hook, &opts);
}

/* A netns has no name we can ask for by id; search the places where one
 * can be opened: named netns first (ip netns), then every process. */
struct ns_want {
	int nsid;	/* match by the id our netns gives it, or */
	ino_t ino;	/* by inode when nsid < 0 */
};

static bool netns_is_wanted(int fd, const struct stat *st, const struct ns_want *w)
{
	int id;

	if (w->nsid < 0)
		return st->st_ino == w->ino;
	return xlb_nl_netnsid_of_fd(fd, &id) == 0 && id == w->nsid;
}

static int netns_match(const char *path, const struct ns_want *w, ino_t *seen, size_t *nseen)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0) {
		for (size_t i = 0; i < *nseen; i++) {
			if (seen[i] == st.st_ino)
				goto skip;
		}
		if (*nseen < 4096)
			seen[(*nseen)++] = st.st_ino;
		if (netns_is_wanted(fd, &st, w))
			return fd;
	}
skip:
	close(fd);
	return -1;
}

static int netns_scan_dir(const char *dir, const char *suffix, const struct ns_want *w,
			  ino_t *seen, size_t *nseen)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);
	int fd = -1;

	if (!d)
		return -1;
	while (fd < 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (*suffix && (de->d_name[0] < '0' || de->d_name[0] > '9'))
			continue;
		snprintf(path, sizeof(path), "%s/%s%s", dir, de->d_name, suffix);
		fd = netns_match(path, w, seen, nseen);
	}
	closedir(d);
	return fd;
}

static int netns_open(const struct ns_want *w)
{
	ino_t *seen = calloc(4096, sizeof(*seen));
	size_t nseen = 0;
	int fd;

	if (!seen)
		return -ENOMEM;
	fd = netns_scan_dir("/run/netns", "", w, seen, &nseen);
	if (fd < 0)
		fd = netns_scan_dir("/proc", "/ns/net", w, seen, &nseen);
	free(seen);
	return fd < 0 ? -ENOENT : fd;
}

/* Runs fn(arg) inside the netns w names, and comes back. */
static int in_netns_want(const struct ns_want *w, int (*fn)(void *), void *arg)
{
	int self, target, err;

	target = netns_open(w);
	if (target < 0)
		return target;
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		err = -errno;
		close(target);
		return err;
	}
	if (setns(target, CLONE_NEWNET)) {
		err = -errno;
	} else {
		err = fn(arg);
		if (setns(self, CLONE_NEWNET)) {
			pr_err("event=setns_back_failed err=\"%s\"", strerror(errno));
			abort(); /* continuing in the wrong netns would corrupt everything */
		}
	}
	close(self);
	close(target);
	return err;
}

/* The same, for the netns with id nsid as seen from ours (-1: ours). */
static int in_netns(int nsid, int (*fn)(void *), void *arg)
{
	struct ns_want w = { .nsid = nsid };

	return nsid < 0 ? fn(arg) : in_netns_want(&w, fn, arg);
}

struct peer_op {
	int ifindex;
	int prog_fd;
};

static int peer_attach_fn(void *arg)
{
	struct peer_op *op = arg;
	__u32 id = 0;
	int err;

	if (bpf_xdp_query_id(op->ifindex, XDP_FLAGS_DRV_MODE, &id) == 0 && id)
		return 0;
	err = bpf_xdp_attach(op->ifindex, op->prog_fd,
			     XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	/* a program already there (ours from before, or anyone's) also
	 * makes the veth accept redirected frames */
	return err == -EBUSY || err == -EEXIST ? 0 : err;
}

static int prog_is_ours(__u32 prog_id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd, ours;

	fd = bpf_prog_get_fd_by_id(prog_id);
	if (fd < 0)
		return 0;
	ours = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
	       strcmp(info.name, XLB_PEER_PROG_NAME) == 0;
	close(fd);
	return ours;
}

static int peer_detach_fn(void *arg)
{
	struct peer_op *op = arg;
	__u32 id = 0;

	if (bpf_xdp_query_id(op->ifindex, XDP_FLAGS_DRV_MODE, &id) || !id)
		return 0;
	if (!prog_is_ours(id))
		return 0;
	return bpf_xdp_detach(op->ifindex, XDP_FLAGS_DRV_MODE, NULL);
}

static int prepare_veth_peer(const struct xlb_attach_ctx *ctx, const struct xlb_link_info *li)
{
	struct peer_op op = { .ifindex = li->peer_ifindex, .prog_fd = ctx->peer_pass_fd };
	struct xlb_iface role = {
		.role = XLB_IF_PEER_PREPARED,
		.peer_ifindex = (__u32)li->peer_ifindex,
		.peer_netnsid = li->link_netnsid,
	};
	int err;

	err = in_netns(li->link_netnsid, peer_attach_fn, &op);
	if (err)
		return err;
	return iface_add_role(ctx->ifaces_fd, li->ifindex, &role);
}

static int tx_port_add(int tx_ports_fd, int ifindex)
{
	__u32 key = (__u32)ifindex, val = (__u32)ifindex;

	return bpf_map_update_elem(tx_ports_fd, &key, &val, BPF_ANY) ? -errno : 0;
}

int xlb_attach_backend_link(const struct xlb_attach_ctx *ctx, int ifindex)
{
	struct xlb_iface role = { .role = XLB_IF_BACKEND };
	struct xlb_link_info li;
	bool created = false;
	int err;

	err = xlb_nl_link_info(ifindex, &li);
	if (err)
		return err;
	err = tc_attach_return(ctx, ifindex, &created);
	if (err)
		return err;
	if (created)
		role.role |= XLB_IF_CLSACT_OURS;
	err = iface_add_role(ctx->ifaces_fd, ifindex, &role);
	if (err || !li.is_veth)
		return err; /* not a veth: the kernel stack forwards to it */
	err = prepare_veth_peer(ctx, &li);
	if (err) {
		pr_warn("event=peer_prepare_failed link=%s err=\"%s\" fallback=kernel_forwarding",
			li.name, strerror(-err));
		return 0;
	}
	pr_info("event=backend_link link=%s ifindex=%d peer_ifindex=%d netnsid=%d redirect=yes",
		li.name, ifindex, li.peer_ifindex, li.link_netnsid);
	return tx_port_add(ctx->tx_ports_fd, ifindex);
}

/* ---- teardown ------------------------------------------------------------ */

static int tc_detach_return(int ifindex, bool destroy_hook)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = XLB_TC_HANDLE, .priority = XLB_TC_PRIO);
	int err;

	err = bpf_tc_detach(&hook, &opts);
	if (err == -ENOENT || err == -ENODEV || err == -EINVAL)
		err = 0;
	if (destroy_hook) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
	return err;
}

static int teardown_iface(const char *pin_dir, __u32 ifindex, const struct xlb_iface *v)
{
	struct peer_op op = { .ifindex = (int)v->peer_ifindex };
	char path[PATH_MAX];
	int err = 0, e;

	xlb_log_libbpf_quiet(true); /* what is already gone is fine */
	if (v->role & XLB_IF_UPLINK) {
		xdp_link_path(path, sizeof(path), pin_dir, (int)ifindex);
		if (unlink(path) && errno != ENOENT)
			err = -errno;
	}
	if (v->role & XLB_IF_BACKEND) {
		e = tc_detach_return((int)ifindex, v->role & XLB_IF_CLSACT_OURS);
		err = err ? err : e;
	}
	if (v->role & XLB_IF_PEER_PREPARED) {
		e = in_netns(v->peer_netnsid, peer_detach_fn, &op);
		if (e == -ENOENT) /* the backend's netns is gone, and the peer with it */
			e = 0;
		err = err ? err : e;
	}
	xlb_log_libbpf_quiet(false);
	if (err)
		pr_warn("event=teardown_iface ifindex=%u err=\"%s\"", ifindex, strerror(-err));
	else
		pr_info("event=teardown_iface ifindex=%u role=0x%x", ifindex, v->role);
	return err;
}

struct teardown_op {
	const char *pin_dir;
	__u32 ifindex;
	const struct xlb_iface *v;
};

static int teardown_iface_fn(void *arg)
{
	struct teardown_op *op = arg;

	return teardown_iface(op->pin_dir, op->ifindex, op->v);
}

/* Ifindexes are per netns: undo each interface's programs from the netns
 * xlbd ran in, wherever xlbctl was started. A netns that is gone took its
 * interfaces, and their programs, with it. */
static int teardown_iface_in_netns(const char *pin_dir, __u32 ifindex, const struct xlb_iface *v)
{
	struct teardown_op op = { pin_dir, ifindex, v };
	struct ns_want w = { .nsid = -1, .ino = (ino_t)v->netns_ino };
	int err;

	if (!v->netns_ino || w.ino == netns_self_ino())
		return teardown_iface(pin_dir, ifindex, v);
	err = in_netns_want(&w, teardown_iface_fn, &op);
	if (err == -ENOENT) {
		pr_info("event=teardown_iface ifindex=%u netns=gone", ifindex);
		return 0;
	}
	return err;
}

static int teardown_ifaces(const char *pin_dir)
{
	int fd = xlb_pins_open_map(pin_dir, "xlb_ifaces"), err = 0, e;
	__u32 key, next, *prev = NULL;
	struct xlb_iface v;

	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v))
			continue;
		e = teardown_iface_in_netns(pin_dir, key, &v);
		err = err ? err : e;
	}
	close(fd);
	return err;
}

static int remove_pins(const char *pin_dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(pin_dir);
	int err = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, de->d_name);
		if (unlink(path) && !err)
			err = -errno;
	}
	closedir(d);
	if (rmdir(pin_dir) && errno == EBUSY) {
		/* a bpffs xlbd mounted on the pin directory itself */
		if (umount2(pin_dir, MNT_DETACH) == 0 && rmdir(pin_dir) == 0)
			return err;
	}
	return err;
}

int xlb_teardown(const char *pin_dir)
{
	int err = teardown_ifaces(pin_dir), e;

	e = remove_pins(pin_dir);
	err = err ? err : e;
	if (!err)
		pr_info("event=teardown pin_dir=%s", pin_dir);
	return err;
}
