/* SPDX-License-Identifier: GPL-2.0 */
/* Attaching xlb's programs to interfaces, and taking them off again.
 * Everything attached is recorded in the pinned xlb_ifaces map, so that a
 * restarted xlbd, or xlbctl teardown, knows what is xlb's. */
#ifndef XLB_ATTACH_H
#define XLB_ATTACH_H

#include "addr.h"
#include "netlink.h"

struct xlb_attach_ctx {
	const char *pin_dir;
	int ifaces_fd;	   /* xlb_ifaces */
	int tx_ports_fd;   /* xlb_tx_ports */
	int be_links_fd;   /* xlb_be_links */
	int ingress_fd;	   /* XDP xlb_ingress */
	int ingress_tc_fd; /* tc xlb_ingress_tc */
	int return_fd;	   /* tc xlb_return */
	int peer_pass_fd;  /* XDP xlb_peer_pass */
};

/* Which program serves an uplink (docs/attach-modes.md). */
enum xlb_attach_mode {
	XLB_ATTACH_AUTO, /* tc on a veth or where native XDP fails, else XDP */
	XLB_ATTACH_XDP,	 /* xlb_ingress */
	XLB_ATTACH_TC,	 /* xlb_ingress_tc, for frames with partial checksums */
};

/* "auto", "xdp" or "tc". Returns 0 or -EINVAL. */
int xlb_attach_mode_parse(const char *text, enum xlb_attach_mode *mode);
const char *xlb_attach_mode_name(enum xlb_attach_mode mode);

/* What xlb_attach_uplink chose, and why: "option" (asked for), "veth",
 * "native_xdp", "no_native_xdp". */
struct xlb_uplink_attached {
	enum xlb_attach_mode mode; /* XDP or TC */
	const char *why;
};

/* The uplink program on an uplink, by mode want (see enum
 * xlb_attach_mode). XDP goes through a pinned bpf_link, updated in place
 * to the new program; tc is a clsact filter, replaced in place; either
 * way no packet goes by unbalanced across an xlbd restart. The program
 * of the other mode, left by an earlier xlbd, is taken off once the new
 * one serves. Returns 0 or -errno. */
int xlb_attach_uplink(const struct xlb_attach_ctx *ctx, int ifindex, enum xlb_attach_mode want,
		      struct xlb_uplink_attached *out);

/* tc return program on a backend-facing link, and, for a veth, the pass
 * program on its peer so XDP_REDIRECT can deliver into it; only then is
 * the link added to the redirect ports. Idempotent. Returns 0 or -errno. */
int xlb_attach_backend_link(const struct xlb_attach_ctx *ctx, int ifindex);

/* Sets up the link a backend is reached through (route lookup), as
 * xlb_attach_backend_link does; when that link is a bridge, also the
 * backend's bridge port, recorded in xlb_bridge_ports so that XDP
 * redirects into the port. The link (behind a bridge: also the port and
 * the backend's MAC) goes into xlb_be_links first, where the return
 * program looks for it. Cheap when nothing changed, so callers re-run
 * it periodically (a MAC that moved is picked up then). Returns 0,
 * -EAGAIN when the backend's neighbour or bridge FDB entry is not known
 * yet (the kernel forwards its traffic meanwhile; retry later), or
 * -errno. */
int xlb_attach_backend_route(const struct xlb_attach_ctx *ctx, const struct xlb_endpoint *backend);

/* Detaches every program xlb attached (XDP links, tc filters, prepared
 * veth peers, as recorded in the pinned xlb_ifaces map) and removes the
 * pin directory. Safe to run when nothing is attached. Returns 0 or
 * -errno of the first failure (it keeps going after one). */
int xlb_teardown(const char *pin_dir);

#endif
