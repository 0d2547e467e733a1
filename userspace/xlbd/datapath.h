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
#include "xlb/map_types.h"

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

/* The counts of a pinned xlb_reasons made with fewer reasons than this
 * build's, carried across the load. */
struct xlb_reasons_carry {
	bool resized;
	uint32_t old_entries;
	struct xlb_reason_count counts[XLB_R_MAX];
};

/* Before the load: a pinned xlb_reasons with fewer than XLB_R_MAX entries
 * (an earlier version's), which libbpf would refuse to reuse, has its
 * counts read into c and its pin removed, so the load makes one of this
 * size. Returns 0 or -errno (logged). */
int xlb_datapath_save_reasons(const char *pin_dir, struct xlb_reasons_carry *c);
/* After the load: c's counts into the new xlb_reasons, and one log line.
 * Returns 0 or -errno (logged; the counts then start from 0). */
int xlb_datapath_restore_reasons(struct bpf_map *reasons, const struct xlb_reasons_carry *c);

/* The flow hash's seed (xlb_dp_config; see map_types.h): *want, from
 * source ("option", "config"), when given; else the pinned one; else one
 * drawn at random now, as when the maps are first made. A seed that
 * changes is logged once (new flows are hashed anew; tracked ones keep
 * their backends); start logs the seed's source even when it stays, as
 * xlbd starts. Returns 0 or -errno (logged). */
int xlb_datapath_set_hash_seed(int dp_config_fd, const uint64_t *want, const char *source,
			       bool start);

/* The links the loaded programs go on. */
struct xlb_links {
	struct xlb_attach_ctx ctx;
	bool pending; /* a backend's link was not ready at the last look */
};

/* The uplink program on an uplink, XDP or tc by mode (auto: by link, see
 * xlb_attach_uplink); the mode chosen and why are logged. Returns 0 or
 * -errno (logged). */
int xlb_links_attach_uplink(struct xlb_links *l, const char *ifname, int ifindex,
			    enum xlb_attach_mode mode);
/* Backend-facing links (behind a bridge: the backend's bridge port too)
 * are found by route lookup, per backend address, on every recheck:
 * cheap when nothing changed, and it follows a backend whose MAC moved.
 * One backend, as the state's xlb_state_be_new_fn (arg: the links). */
void xlb_links_ensure_backend(const struct xlb_endpoint *ep, void *links);
/* Every backend of st; pending tells whether one was not ready yet.
 * Then the xlb_be_links entries of addresses no backend has are deleted. */
void xlb_links_ensure_backends(struct xlb_links *l, const struct xlb_state *st);

#endif
