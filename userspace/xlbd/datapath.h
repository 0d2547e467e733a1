/* SPDX-License-Identifier: GPL-2.0 */
/* The data path's pins and links. xlbd's main opens and loads the BPF
 * object through its skeleton (generated for main.c alone); around the
 * load, the pinned maps are kept or made, and after it the programs go
 * on the links: XDP on the uplinks, the return path on every link a
 * backend is reached through. */
#ifndef XLB_DATAPATH_H
#define XLB_DATAPATH_H

#include <stdbool.h>
#include <stdint.h>

#include <bpf/libbpf.h>

#include "lib/addr.h"
#include "lib/attach.h"
#include "state.h"

/* How often backend links are looked up again (a MAC that moved, one not
 * known yet). */
#define XLB_LINKS_RECHECK_S 5

/* Makes the pin directory, and removes the pins no version of xlb uses
 * any more. Returns 0 or -errno (logged). */
int xlb_datapath_prepare_pins(const char *pin_dir);

/* Before the load: sizes the flow table (entries 0: as compiled; a pinned
 * one keeps its size, so another size is refused, saying why) and takes
 * the pinned devmap (the devmap is reused by hand, see maps.bpf.h).
 * *devmap_reused tells whether there was one. Returns 0 or -errno
 * (logged). */
int xlb_datapath_prepare_maps(struct bpf_map *flows, struct bpf_map *devmap, const char *pin_dir,
			      uint32_t entries, bool *devmap_reused);
/* After the load: pins a new devmap. Returns 0 or -errno (logged). */
int xlb_datapath_pin_devmap(struct bpf_map *devmap, const char *pin_dir);

/* The links the loaded programs go on. */
struct xlb_links {
	struct xlb_attach_ctx ctx;
	bool pending; /* a backend's link was not ready at the last look */
};

/* XDP on an uplink. Returns 0 or -errno (logged). */
int xlb_links_attach_uplink(struct xlb_links *l, const char *ifname, int ifindex);
/* Backend-facing links (behind a bridge: the backend's bridge port too)
 * are found by route lookup, per backend address, on every recheck:
 * cheap when nothing changed, and it follows a backend whose MAC moved.
 * One backend, as the state's xlb_state_be_new_fn (arg: the links). */
void xlb_links_ensure_backend(const struct xlb_endpoint *ep, void *links);
/* Every backend of st; pending tells whether one was not ready yet. */
void xlb_links_ensure_backends(struct xlb_links *l, const struct xlb_state *st);

#endif
