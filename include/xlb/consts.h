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

/* Default flow-table entries. One entry serves both directions of a flow
 * and costs 112 bytes of kernel memory, LRU overhead included: 262144
 * entries are 28 MiB. xlbd's --flow-table-size changes it before the maps
 * are created. */
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

/* How long a bpf_fib_lookup result is reused, in jiffies: results are
 * kept per CPU for one tick (4 ms at HZ=250), so a route or neighbour
 * change reaches forwarding within a tick, about the time packets already
 * queued spend in rings. 0 looks up every packet. A cached result is
 * used only for the same inputs (addresses, ingress interface, TOS,
 * protocol) and a packet no longer than one the lookup passed, so policy
 * routing and the MTU check see what they would see. */
#ifndef XLB_FIB_CACHE_TICKS
#define XLB_FIB_CACHE_TICKS 1
#endif

/* Slots of that cache per CPU (a power of 2): a direct-mapped table, one
 * (client, backend) pair per slot. */
#ifndef XLB_FIB_CACHE_SLOTS
#define XLB_FIB_CACHE_SLOTS 1024
#endif

/* Bytes of the trace ring buffer (xlbctl trace): a power of 2 and a
 * multiple of the page size. An event takes 96 bytes with the ring's
 * header, so 256 KiB hold about 2700: a burst that long between two reads
 * by xlbctl is kept, the rest is counted as lost. Memory is taken only
 * once, when xlbd creates the map. */
#ifndef XLB_TRACE_RING_BYTES
#define XLB_TRACE_RING_BYTES (256 * 1024)
#endif

/* Service names are short labels ("api", "compose_api"). */
#define XLB_NAME_LEN 64

#endif
