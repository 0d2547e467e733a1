/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Tunables shared by the BPF programs and userspace. Every value carries
 * its unit and the reason for it. Override with -D at build time. */
#ifndef XLB_CONSTS_H
#define XLB_CONSTS_H

/* Entries in one service's Maglev lookup table. Must be prime and much
 * larger than the backend count so each backend's share stays within a
 * fraction of a percent of its weight (Maglev paper: M >> 100 * N). */
#ifndef XLB_MAGLEV_SIZE
#define XLB_MAGLEV_SIZE 65537
#endif

/* Services (L4 VIPs and host-routed names) one balancer holds. Sizes the
 * per-service arrays: the Maglev outer map, counters and metadata. */
#ifndef XLB_MAX_SERVICES
#define XLB_MAX_SERVICES 1024
#endif

/* Backend slots across all services; slot 0 is never used so that a zeroed
 * Maglev entry can mean "no backend". */
#ifndef XLB_MAX_BACKENDS
#define XLB_MAX_BACKENDS 8192
#endif

/* Default flow-table entries (per direction). One entry costs about 120
 * bytes of kernel memory with LRU overhead: 262144 entries are ~30 MiB per
 * table. xlbd's --flow-table-size changes it before the maps are created. */
#ifndef XLB_FLOW_ENTRIES
#define XLB_FLOW_ENTRIES 262144
#endif

/* Interfaces xlb may redirect into (uplinks and backend-facing links). */
#ifndef XLB_MAX_IFACES
#define XLB_MAX_IFACES 1024
#endif

/* IPv6 extension headers walked before giving up and passing the packet;
 * bounded so the verifier sees a finite loop. Real traffic carries 0-2. */
#ifndef XLB_MAX_IPV6_EXT
#define XLB_MAX_IPV6_EXT 4
#endif

/* Stacked 802.1Q/802.1ad tags parsed (QinQ = 2). */
#ifndef XLB_MAX_VLANS
#define XLB_MAX_VLANS 2
#endif

/* Service names are short labels ("api", "compose_api"). */
#define XLB_NAME_LEN 64

#endif
