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
	int ifaces_fd;	  /* xlb_ifaces */
	int tx_ports_fd;  /* xlb_tx_ports */
	int be_links_fd;  /* xlb_be_links */
	int ingress_fd;	  /* XDP xlb_ingress */
	int return_fd;	  /* tc xlb_return */
	int peer_pass_fd; /* XDP xlb_peer_pass */
};

/* XDP ingress on an uplink through a pinned bpf_link; an existing pinned
 * link is updated in place to the new program, so no packet goes by
 * unbalanced across an xlbd restart. Returns 0 or -errno. */
int xlb_attach_uplink(const struct xlb_attach_ctx *ctx, int ifindex);

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
