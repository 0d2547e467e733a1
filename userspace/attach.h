/* SPDX-License-Identifier: GPL-2.0 */
/* Attaching xlb's programs to interfaces, and taking them off again.
 * Everything attached is recorded in the pinned xlb_ifaces map, so that a
 * restarted xlbd, or xlbctl teardown, knows what is xlb's. */
#ifndef XLB_ATTACH_H
#define XLB_ATTACH_H

#include "netlink.h"

struct xlb_attach_ctx {
	const char *pin_dir;
	int ifaces_fd;		/* xlb_ifaces */
	int tx_ports_fd;	/* xlb_tx_ports */
	int ingress_fd;		/* XDP xlb_ingress */
	int return_fd;		/* tc xlb_return */
	int peer_pass_fd;	/* XDP xlb_peer_pass */
};

/* XDP ingress on an uplink through a pinned bpf_link; an existing pinned
 * link is updated in place to the new program, so no packet goes by
 * unbalanced across an xlbd restart. Returns 0 or -errno. */
int xlb_attach_uplink(const struct xlb_attach_ctx *ctx, int ifindex);

/* tc return program on a backend-facing link, and, for a veth, the pass
 * program on its peer so XDP_REDIRECT can deliver into it; only then is
 * the link added to the redirect ports. Idempotent. Returns 0 or -errno. */
int xlb_attach_backend_link(const struct xlb_attach_ctx *ctx, int ifindex);

/* Detaches every program xlb attached (XDP links, tc filters, prepared
 * veth peers, as recorded in the pinned xlb_ifaces map) and removes the
 * pin directory. Safe to run when nothing is attached. Returns 0 or
 * -errno of the first failure (it keeps going after one). */
int xlb_teardown(const char *pin_dir);

#endif
