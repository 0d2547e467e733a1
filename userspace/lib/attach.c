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

/* tc filter identity: one filter of ours per backend link, and one per
 * uplink served on the skb path; the uplink's runs first on a link that
 * is both, and hands what it passes on to the return filter */
#define XLB_TC_HANDLE 0x71b
#define XLB_TC_PRIO 0x71b
#define XLB_TC_UPLINK_PRIO 0x71a
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

static int uplink_create_pinned(const char *path, int prog_fd, int ifindex, __u32 xdp_flags)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = xdp_flags);
	int fd, err = 0;

	fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
	if (fd < 0)
		return -errno;
	if (bpf_obj_pin(fd, path))
		err = -errno;
	close(fd);
	return err;
}

int xlb_attach_mode_parse(const char *text, enum xlb_attach_mode *mode)
{
	for (enum xlb_attach_mode m = XLB_ATTACH_AUTO; m <= XLB_ATTACH_TC; m++) {
		if (strcmp(text, xlb_attach_mode_name(m)) == 0) {
			*mode = m;
			return 0;
		}
	}
	return -EINVAL;
}

const char *xlb_attach_mode_name(enum xlb_attach_mode mode)
{
	switch (mode) {
	case XLB_ATTACH_XDP:
		return "xdp";
	case XLB_ATTACH_TC:
		return "tc";
	default:
		return "auto";
	}
}

/* The uplink's role in xlb_ifaces: one of the two uplink programs, the
 * other's bit cleared (a restart may have changed the mode). */
static int iface_set_uplink(int ifaces_fd, int ifindex, __u32 uplink_role, bool clsact_created)
{
	struct xlb_iface val;
	__u32 key = (__u32)ifindex;

	iface_get(ifaces_fd, ifindex, &val);
	val.role &= ~(__u32)(XLB_IF_UPLINK | XLB_IF_UPLINK_TC);
	val.role |= uplink_role | (clsact_created ? XLB_IF_CLSACT_OURS : 0);
	val.netns_ino = netns_self_ino();
	return bpf_map_update_elem(ifaces_fd, &key, &val, BPF_ANY) ? -errno : 0;
}

/* XDP through a pinned bpf_link: an existing one is updated in place. */
static int uplink_attach_xdp(const struct xlb_attach_ctx *ctx, int ifindex, __u32 xdp_flags)
{
	char path[PATH_MAX];
	int err;

	xdp_link_path(path, sizeof(path), ctx->pin_dir, ifindex);
	err = uplink_update_pinned(path, ctx->ingress_fd);
	if (err == -ENOENT) {
		err = uplink_create_pinned(path, ctx->ingress_fd, ifindex, xdp_flags);
	} else if (err) {
		/* the link's interface went away and came back: start afresh */
		unlink(path);
		err = uplink_create_pinned(path, ctx->ingress_fd, ifindex, xdp_flags);
	}
	return err;
}

/* The pinned XDP link of an uplink that is served by tc now: unpinned,
 * the kernel detaches it (nothing else holds it). */
static void uplink_xdp_remove(const struct xlb_attach_ctx *ctx, int ifindex)
{
	char path[PATH_MAX];

	xdp_link_path(path, sizeof(path), ctx->pin_dir, ifindex);
	unlink(path);
}

static int tc_attach(int ifindex, int prog_fd, __u32 prio, bool *created)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = XLB_TC_HANDLE, .priority = prio,
		    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int err;

	xlb_log_libbpf_quiet(true); /* EEXIST is the common, fine case */
	err = bpf_tc_hook_create(&hook);
	xlb_log_libbpf_quiet(false);
	*created = err == 0;
	if (err && err != -EEXIST)
		return err;
	return bpf_tc_attach(&hook, &opts);
}

/* Whatever is gone already is fine (callers keep libbpf quiet about it). */
static int tc_detach(int ifindex, __u32 prio)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = XLB_TC_HANDLE, .priority = prio);
	int err = bpf_tc_detach(&hook, &opts);

	return err == -ENOENT || err == -ENODEV || err == -EINVAL ? 0 : err;
}

static void tc_hook_destroy(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

	bpf_tc_hook_destroy(&hook);
}

/* XDP serves the uplink now: recorded, and the tc uplink filter of an
 * earlier mode off, if the record says there was one (asked only then:
 * a detach of what is not there costs a netlink round trip for nothing). */
static int uplink_xdp_serves(const struct xlb_attach_ctx *ctx, int ifindex)
{
	struct xlb_iface was;
	int err;

	iface_get(ctx->ifaces_fd, ifindex, &was);
	err = iface_set_uplink(ctx->ifaces_fd, ifindex, XLB_IF_UPLINK, false);
	if (!err && (was.role & XLB_IF_UPLINK_TC)) {
		xlb_log_libbpf_quiet(true);
		tc_detach(ifindex, XLB_TC_UPLINK_PRIO);
		xlb_log_libbpf_quiet(false);
	}
	return err;
}

static int uplink_serve_xdp(const struct xlb_attach_ctx *ctx, int ifindex)
{
	int err = uplink_attach_xdp(ctx, ifindex, 0);

	return err ? err : uplink_xdp_serves(ctx, ifindex);
}

/* The tc uplink filter (replaced in one step, as a restart needs), and
 * the XDP link of an earlier mode off once it serves. */
static int uplink_serve_tc(const struct xlb_attach_ctx *ctx, int ifindex)
{
	bool created = false;
	int err = tc_attach(ifindex, ctx->ingress_tc_fd, XLB_TC_UPLINK_PRIO, &created);

	if (!err)
		err = iface_set_uplink(ctx->ifaces_fd, ifindex, XLB_IF_UPLINK_TC, created);
	if (!err)
		uplink_xdp_remove(ctx, ifindex);
	return err;
}

/* auto: a veth's frames may come from a local stack with partial
 * checksums, which XDP cannot carry through DNAT and redirect: tc. Any
 * other link gets native XDP, or tc where its driver has none (generic
 * XDP would cost more than tc and gain nothing). */
static int uplink_serve_auto(const struct xlb_attach_ctx *ctx, int ifindex,
			     struct xlb_uplink_attached *out)
{
	struct xlb_link_info li;
	int err = xlb_nl_link_info(ifindex, &li);

	if (err)
		return err;
	out->mode = XLB_ATTACH_TC;
	if (li.is_veth) {
		out->why = "veth";
		return uplink_serve_tc(ctx, ifindex);
	}
	xlb_log_libbpf_quiet(true); /* a refusal is an answer here */
	err = uplink_attach_xdp(ctx, ifindex, XDP_FLAGS_DRV_MODE);
	xlb_log_libbpf_quiet(false);
	if (!err) {
		out->mode = XLB_ATTACH_XDP;
		out->why = "native_xdp";
		return uplink_xdp_serves(ctx, ifindex);
	}
	pr_debug("event=native_xdp_refused ifindex=%d err=\"%s\"", ifindex, strerror(-err));
	out->why = "no_native_xdp";
	return uplink_serve_tc(ctx, ifindex);
}

int xlb_attach_uplink(const struct xlb_attach_ctx *ctx, int ifindex, enum xlb_attach_mode want,
		      struct xlb_uplink_attached *out)
{
	out->mode = want;
	out->why = "option";
	if (want == XLB_ATTACH_XDP)
		return uplink_serve_xdp(ctx, ifindex);
	if (want == XLB_ATTACH_TC)
		return uplink_serve_tc(ctx, ifindex);
	return uplink_serve_auto(ctx, ifindex, out);
}

/* A netns has no name we can ask for by id; search the places where one
 * can be opened: named netns first (ip netns), then Docker's bind mounts
 * of its containers' netns, then every process. Docker's directory comes
 * before /proc because an xlbd in a container (network_mode host) has a
 * pid namespace of its own: it sees the containers' netns only through
 * that directory, mounted in. */
static const char *const netns_dirs[] = {
	"/run/netns", "/run/docker/netns",
	"/var/run/docker/netns", /* the same directory where /var/run -> /run */
};

struct ns_want {
	int nsid;  /* match by the id our netns gives it, or */
	ino_t ino; /* by inode when nsid < 0 */
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

static int netns_scan_dir(const char *dir, const char *suffix, const struct ns_want *w, ino_t *seen,
			  size_t *nseen)
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

/* True when dir is one of the first n netns_dirs under another name. */
static bool netns_dir_seen(size_t n, const struct stat *dir)
{
	struct stat st;

	for (size_t i = 0; i < n; i++) {
		if (stat(netns_dirs[i], &st) == 0 && st.st_dev == dir->st_dev &&
		    st.st_ino == dir->st_ino)
			return true;
	}
	return false;
}

static int netns_open(const struct ns_want *w)
{
	ino_t *seen = calloc(4096, sizeof(*seen));
	size_t nseen = 0;
	struct stat st;
	int fd = -1;

	if (!seen)
		return -ENOMEM;
	for (size_t i = 0; fd < 0 && i < sizeof(netns_dirs) / sizeof(netns_dirs[0]); i++) {
		if (stat(netns_dirs[i], &st) == 0 && !netns_dir_seen(i, &st))
			fd = netns_scan_dir(netns_dirs[i], "", w, seen, &nseen);
	}
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
	err = tc_attach(ifindex, ctx->return_fd, XLB_TC_PRIO, &created);
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

/* ---- backends, by route ----------------------------------------------------- */

/* ifindex 1 is lo in every netns: a backend on the balancer itself is
 * reached over loopback and needs no return path. */
#define XLB_LOOPBACK_IFINDEX 1
#define XLB_BRIDGE_PORTS_MAP "xlb_bridge_ports"

/* True when our return filter on ifindex runs this xlbd's program: the
 * link was set up since this xlbd loaded it, and need not be again (that
 * would mean a netns scan every recheck). A restarted xlbd loads a new
 * program, so it sets every link up once more, onto the new one. */
static bool tc_return_current(const struct xlb_attach_ctx *ctx, int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = XLB_TC_HANDLE, .priority = XLB_TC_PRIO);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int err;

	xlb_log_libbpf_quiet(true); /* no filter yet is the expected answer */
	err = bpf_tc_query(&hook, &opts);
	xlb_log_libbpf_quiet(false);
	if (err || bpf_obj_get_info_by_fd(ctx->return_fd, &info, &len))
		return false;
	return opts.prog_id == info.id;
}

static int backend_link_ensure(const struct xlb_attach_ctx *ctx, int ifindex)
{
	if (tc_return_current(ctx, ifindex))
		return 0;
	return xlb_attach_backend_link(ctx, ifindex);
}

static bool tx_port_present(int tx_ports_fd, __u32 ifindex)
{
	__u32 val;

	return bpf_map_lookup_elem(tx_ports_fd, &ifindex, &val) == 0;
}

/* Deletes the entries whose port is no longer a tx port (the kernel takes
 * a device out of the devmap when it goes away), so that removed
 * containers do not fill the map. The next key is taken before the
 * current one is deleted, so the walk never restarts. */
static void bridge_ports_prune(int fd, int tx_ports_fd)
{
	struct xlb_bridge_port_key key, next;
	bool have = false, stale = false;
	__u32 port;

	while (bpf_map_get_next_key(fd, have ? &key : NULL, &next) == 0) {
		if (stale)
			bpf_map_delete_elem(fd, &key);
		key = next;
		have = true;
		stale = bpf_map_lookup_elem(fd, &key, &port) == 0 &&
			!tx_port_present(tx_ports_fd, port);
	}
	if (stale)
		bpf_map_delete_elem(fd, &key);
}

/* Writes key -> port unless it is there already. Returns 1 when it wrote,
 * 0 when nothing changed, or -errno. */
static int bridge_port_record(const struct xlb_attach_ctx *ctx,
			      const struct xlb_bridge_port_key *key, __u32 port)
{
	int fd = xlb_pins_open_map(ctx->pin_dir, XLB_BRIDGE_PORTS_MAP), ret = 0;
	__u32 cur;

	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, key, &cur) || cur != port) {
		bridge_ports_prune(fd, ctx->tx_ports_fd);
		ret = bpf_map_update_elem(fd, key, &port, BPF_ANY) ? -errno : 1;
	}
	close(fd);
	return ret;
}

static void bridge_port_log(const struct xlb_link_info *br, const struct xlb_bridge_port_key *key,
			    int port, const struct xlb_endpoint *be)
{
	char addr[XLB_EP_STRLEN], pname[IF_NAMESIZE] = "?";
	const __u8 *m = key->mac;

	if_indextoname((unsigned int)port, pname);
	pr_info("event=bridge_port bridge=%s backend=%s mac=%02x:%02x:%02x:%02x:%02x:%02x "
		"port=%s ifindex=%d redirect=yes",
		br->name, xlb_format_addr(be->family, &be->addr, addr, sizeof(addr)), m[0], m[1],
		m[2], m[3], m[4], m[5], pname, port);
}

/* What xlb_be_links should say of the backend now: link as learned this
 * time, but a bridge port and MAC learned before and not found this time
 * (a neighbour entry expired while XDP bypassed the kernel's forwarding)
 * are kept: forgetting them would refuse the replies the port's program
 * sees. Written only when it changes. Returns 0 or -errno. */
static int be_link_record(const struct xlb_attach_ctx *ctx, const struct xlb_endpoint *be,
			  struct xlb_be_link *link)
{
	struct xlb_be_link_key key = { .addr = be->addr, .family = be->family };
	char addr[XLB_EP_STRLEN];
	struct xlb_be_link cur;
	bool have = bpf_map_lookup_elem(ctx->be_links_fd, &key, &cur) == 0;

	if (have && cur.ifindex == link->ifindex && (cur.flags & XLB_BE_LINK_F_MAC) &&
	    !(link->flags & XLB_BE_LINK_F_MAC)) {
		memcpy(link->mac, cur.mac, sizeof(link->mac));
		link->port_ifindex = cur.port_ifindex;
		link->flags |= XLB_BE_LINK_F_MAC;
	}
	if (have && !memcmp(&cur, link, sizeof(cur)))
		return 0;
	if (bpf_map_update_elem(ctx->be_links_fd, &key, link, BPF_ANY))
		return -errno;
	pr_debug("event=backend_link_recorded backend=%s ifindex=%u port_ifindex=%u "
		 "mac=%02x:%02x:%02x:%02x:%02x:%02x",
		 xlb_format_addr(be->family, &be->addr, addr, sizeof(addr)), link->ifindex,
		 link->port_ifindex, link->mac[0], link->mac[1], link->mac[2], link->mac[3],
		 link->mac[4], link->mac[5]);
	return 0;
}

/* The backend's MAC behind bridge br (neighbour table) and the port the
 * bridge learned it on (FDB), into link. -EAGAIN while the kernel knows
 * neither yet: a neighbour probe teaches it both (the reply resolves the
 * MAC and the bridge learns where it came from). */
static int bridge_backend_learn(const struct xlb_link_info *br, const struct xlb_endpoint *be,
				struct xlb_be_link *link)
{
	int port, err;

	err = xlb_nl_neigh_mac(be->family, &be->addr, br->ifindex, link->mac);
	if (err == -ENOENT)
		/* traffic forwarded by the kernel may be filtered (Docker's
		 * FORWARD rules) before it resolves the MAC: ask directly */
		xlb_nl_neigh_probe(be->family, &be->addr, br->ifindex);
	if (!err)
		err = xlb_nl_fdb_port(br->ifindex, link->mac, &port);
	if (err) {
		memset(link->mac, 0, sizeof(link->mac));
		return err == -ENOENT ? -EAGAIN : err;
	}
	link->flags |= XLB_BE_LINK_F_MAC;
	link->port_ifindex = (__u32)port;
	return 0;
}

/* A backend behind a bridge: XDP redirects into its bridge port, found
 * from the backend's MAC and port (bridge_backend_learn). The port gets
 * the return program too, since tc on a bridge port sees the replies
 * before the bridge does; the bridge keeps its own for replies the
 * kernel forwarded, which come up through it. The backend's entry in
 * xlb_be_links goes in before either program can read it. */
static int bridge_backend_ensure(const struct xlb_attach_ctx *ctx, const struct xlb_link_info *br,
				 const struct xlb_endpoint *be, struct xlb_be_link *link)
{
	struct xlb_bridge_port_key key = { .bridge_ifindex = (__u32)br->ifindex };
	int learnt = bridge_backend_learn(br, be, link);
	int port = (int)link->port_ifindex, err;

	err = be_link_record(ctx, be, link);
	if (!err)
		err = backend_link_ensure(ctx, br->ifindex);
	if (err || learnt)
		return err ? err : learnt;
	memcpy(key.mac, link->mac, sizeof(key.mac));
	err = backend_link_ensure(ctx, port);
	if (err || !tx_port_present(ctx->tx_ports_fd, (__u32)port))
		return err; /* not a prepared veth: the kernel forwards to it */
	err = bridge_port_record(ctx, &key, (__u32)port);
	if (err == 1)
		bridge_port_log(br, &key, port, be);
	return err < 0 ? err : 0;
}

int xlb_attach_backend_route(const struct xlb_attach_ctx *ctx, const struct xlb_endpoint *backend)
{
	struct xlb_be_link link = { 0 };
	struct xlb_link_info li;
	int oif, err;

	err = xlb_nl_route_oif(backend->family, &backend->addr, &oif);
	if (err || oif == XLB_LOOPBACK_IFINDEX)
		return err;
	err = xlb_nl_link_info(oif, &li);
	if (err)
		return err;
	link.ifindex = (__u32)oif;
	if (li.is_bridge) {
		link.flags = XLB_BE_LINK_F_BRIDGE;
		return bridge_backend_ensure(ctx, &li, backend, &link);
	}
	err = be_link_record(ctx, backend, &link);
	return err ? err : backend_link_ensure(ctx, oif);
}

/* ---- teardown ------------------------------------------------------------ */

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
	if (v->role & XLB_IF_UPLINK_TC) {
		e = tc_detach((int)ifindex, XLB_TC_UPLINK_PRIO);
		err = err ? err : e;
	}
	if (v->role & XLB_IF_BACKEND) {
		e = tc_detach((int)ifindex, XLB_TC_PRIO);
		err = err ? err : e;
	}
	if (v->role & XLB_IF_CLSACT_OURS)
		tc_hook_destroy((int)ifindex);
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
