/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Every map of the data path: what it holds, who writes it, who reads it.
 * Key and value layouts are in include/xlb/map_types.h. All are pinned by name
 * under xlbd's pin directory, so a restarted xlbd (and xlbctl) reuses them. */
#ifndef XLB_MAPS_BPF_H
#define XLB_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "xlb/map_types.h"

/* (VIP, port, proto) -> service. xlbd writes, XDP reads. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XLB_MAX_SERVICES);
	__type(key, struct xlb_svc_key);
	__type(value, struct xlb_svc);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xlb_services SEC(".maps");

/* service id -> name and listener, for xlbctl only. xlbd writes. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct xlb_svc_info);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xlb_svc_info SEC(".maps");

/* backend id -> address, port, state. xlbd writes, XDP reads. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct xlb_backend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xlb_backends SEC(".maps");

/* One service's Maglev table: slot -> backend id (0 = none). */
struct xlb_maglev_table {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_MAGLEV_SIZE);
	__type(key, __u32);
	__type(value, __u32);
};

/* service id -> its current Maglev table. xlbd builds a fresh inner map
 * and swaps the slot (atomic for readers); XDP reads. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, XLB_MAX_SERVICES);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct xlb_maglev_table);
} xlb_maglev SEC(".maps");

/* client 5-tuple -> backend. XDP inserts on a new flow and reads; the
 * return program reads (a reply's flow); xlbd deletes the flows of a
 * deleted backend. A shared LRU, so a flow seen on any CPU is found on
 * every CPU. (BPF_F_NO_COMMON_LRU saved about 25 ns per new flow, but
 * splits the capacity per CPU: with every flow on one CPU, as behind a
 * single-queue link, the table would hold 1/nr_cpus of its size.) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XLB_FLOW_ENTRIES);
	__type(key, struct xlb_flow_key);
	__type(value, struct xlb_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xlb_flows SEC(".maps");

/* The data path's settings (the flow hash's seed): xlbd writes at start
 * and on reload, XDP reads on a new flow, xlbctl status shows. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_dp_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xlb_dp_config SEC(".maps");

/* backend address -> the link (and, behind a bridge, the port and MAC)
 * its replies arrive on. xlbd writes as it sets links up, the tc return
 * program reads. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XLB_MAX_BACKENDS);
	__type(key, struct xlb_be_link_key);
	__type(value, struct xlb_be_link);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xlb_be_links SEC(".maps");

/* backend endpoint -> the L4 listeners it serves. xlbd writes, the tc
 * return program reads. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XLB_MAX_BACKENDS);
	__type(key, struct xlb_ep_key);
	__type(value, struct xlb_ep_listeners);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xlb_rnat_eps SEC(".maps");

/* Interfaces XDP_REDIRECT delivers into. xlbd writes (from the netns the
 * ifindexes belong to: devmap values resolve in the writer's netns). */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, XLB_MAX_IFACES);
	__type(key, __u32);
	__type(value, __u32);
	/* pinned by xlbd itself: the kernel adds BPF_F_RDONLY_PROG to a
	 * devmap's flags, so libbpf's by-name reuse would refuse it */
} xlb_tx_ports SEC(".maps");

/* (bridge, backend MAC) -> the bridge port to redirect into. xlbd writes,
 * XDP reads. One entry per backend MAC behind a bridge, and each valid
 * one names a port in xlb_tx_ports: sized like it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XLB_MAX_IFACES);
	__type(key, struct xlb_bridge_port_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xlb_bridge_ports SEC(".maps");

/* ifindex -> what xlbd attached there; xlbd writes, xlbctl teardown reads. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XLB_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct xlb_iface);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xlb_ifaces SEC(".maps");

/* Routes (host + path) and proxy counters: userspace only (see
 * map_types.h: xlbd writes, xlbd on restart and xlbctl read). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4 * XLB_MAX_SERVICES);
	__type(key, struct xlb_host_key);
	__type(value, struct xlb_host_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xlb_hosts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct xlb_proxy_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xlb_proxy_svc_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_MAX_LISTENERS);
	__type(key, __u32);
	__type(value, struct xlb_listener);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xlb_listeners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct xlb_http_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xlb_http_svc_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct xlb_tls_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xlb_tls_svc_stats SEC(".maps");

/* The proxy's sockmap path. Not pinned: the sockets live and die with
 * xlbd. xlbd attaches the verdict program before inserting sockets. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64);   /* socket cookie */
	__type(value, __u64); /* the socket (fd on update) */
} xlb_sock_pairs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct xlb_sock_peer);
} xlb_sock_peer SEC(".maps");

/* Per-CPU counters: the data path adds without atomics; readers sum. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct xlb_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xlb_svc_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct xlb_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xlb_be_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_R_MAX);
	__type(key, __u32);
	__type(value, struct xlb_reason_count);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xlb_reasons SEC(".maps");

/* Recent fib lookup results (see XLB_FIB_CACHE_TICKS). Per CPU, so no
 * reader sees a half-written entry. Not pinned: a cache, rebuilt from
 * scratch by a new program. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_FIB_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct xlb_fib_cache);
} xlb_fib_cache SEC(".maps");

/* Tracing (see map_types.h). The knob: xlbctl trace writes, XDP and tc read. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_trace_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xlb_trace_cfg SEC(".maps");

/* Trace events: XDP and tc write, xlbctl trace reads. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XLB_TRACE_RING_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xlb_trace SEC(".maps");

/* Events written and lost: XDP and tc write while tracing, xlbctl reads. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_trace_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xlb_trace_stats SEC(".maps");

#endif
