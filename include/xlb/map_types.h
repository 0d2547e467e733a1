/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Keys and values of every xlb BPF map: the single source of truth for the
 * BPF programs and userspace. All maps are pinned under the pin directory
 * (default /sys/fs/bpf/xlb) with BTF, so bpftool prints named fields.
 *
 * Byte order: addresses and ports are in network byte order (as on the
 * wire, so the data path copies them without swapping); everything else is
 * host order. An IPv4 address sits in addr.v4 with the other 12 bytes zero,
 * so one key layout serves both families. Structs have explicit padding:
 * hash keys are compared bytewise, and a hole would make equal keys differ. */
#ifndef XLB_MAP_TYPES_H
#define XLB_MAP_TYPES_H

#include <linux/types.h>
#include "consts.h"

struct xlb_addr {
	union {
		__be32 v4;
		__be32 v6[4];
	};
};

/* xlb_services (HASH): (VIP, port, protocol) -> service.
 * Written by xlbd, read by the XDP ingress program. */
struct xlb_svc_key {
	struct xlb_addr vip;
	__be16 port;
	__u8 proto;  /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 family; /* AF_INET or AF_INET6 */
};

struct xlb_svc {
	__u32 id;    /* index into xlb_maglev, xlb_svc_info, xlb_svc_stats */
	__u32 flags; /* XLB_SVC_F_* */
};

enum xlb_svc_flags {
	XLB_SVC_F_RUNTIME = 1 << 0,	/* added through the control socket */
	XLB_SVC_F_HOST = 1 << 1,	/* has host names (proxy-routed) */
	XLB_SVC_F_TLS = 1 << 2,		/* host names are routed by SNI */
	XLB_SVC_F_PROXY_V2 = 1 << 3,	/* proxied connections get a PROXY v2 header */
	XLB_SVC_F_DOCKER = 1 << 4,	/* discovered from Docker labels */
	XLB_SVC_F_STRIP_PATH = 1 << 5,	/* routes strip their path prefix */
	XLB_SVC_F_HTTPS = 1 << 6,	/* xlb_hosts only: the route was declared
					* https:// (TLS termination, later) */
	XLB_SVC_F_BACKEND_TLS = 1 << 7, /* the proxy speaks TLS to its backends */
};

/* xlb_svc_info (ARRAY, XLB_MAX_SERVICES): service id -> metadata that only
 * userspace reads (xlbctl lists services from it when xlbd is down). */
struct xlb_svc_info {
	char name[XLB_NAME_LEN];
	struct xlb_svc_key key; /* the L4 listener; zero family if none */
	__u32 flags;		/* XLB_SVC_F_*; 0 with an empty name = free */
	__u32 backends;		/* backends in the current Maglev table */
};

/* xlb_backends (ARRAY, XLB_MAX_BACKENDS): backend id -> backend.
 * Written by xlbd; read by XDP after a Maglev or flow-table hit. */
struct xlb_backend {
	struct xlb_addr addr;
	__be16 port;
	__u8 family;
	__u8 state; /* enum xlb_backend_state */
	__u32 svc_id;
	__u32 weight;
	__u32 flags; /* XLB_BE_F_* */
};

enum xlb_backend_state {
	XLB_BE_UNUSED = 0,   /* free slot; flows pointing here re-pick */
	XLB_BE_ACTIVE = 1,   /* in the Maglev table */
	XLB_BE_DRAINING = 2, /* out of the table; existing flows continue */
};

enum xlb_backend_flags {
	XLB_BE_F_RUNTIME = 1 << 0,  /* added through the control socket */
	XLB_BE_F_DOCKER = 1 << 1,   /* a discovered container */
	XLB_BE_F_DOWN = 1 << 2,	    /* failing its health check (state shows draining) */
	XLB_BE_F_STOPPING = 1 << 3, /* its container is stopping, paused or unhealthy */
	XLB_BE_F_DRAINED = 1 << 4,  /* drained by the operator: with DOWN or STOPPING
					 * the state alone cannot tell (for adoption) */
};

/* xlb_maglev (ARRAY_OF_MAPS, XLB_MAX_SERVICES): service id -> inner ARRAY
 * of XLB_MAGLEV_SIZE backend ids. xlbd builds a new inner map and swaps the
 * outer slot, so the data path sees either the old table or the new one. */

/* xlb_flows (LRU_HASH): the client's 5-tuple as it arrives at the VIP ->
 * chosen backend. Written by XDP on a new flow; read by XDP, and by the tc
 * return program, which rebuilds this key from a reply (see
 * xlb_rnat_eps); pruned by xlbd when a backend is deleted. One entry
 * serves both directions: a second, reverse table doubled the cost of a
 * new flow (two inserts: measured 1110 -> 495 ns at 1M flows). */
struct xlb_flow_key {
	struct xlb_addr src;
	struct xlb_addr dst;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 family;
	__u16 pad;
};

struct xlb_flow {
	__u32 backend_id;
	__u32 svc_id;
};

/* xlb_dp_config (ARRAY, 1 entry): the data path's settings that outlive
 * an xlbd. hash_seed seeds the flow hash (xlb/hash.h) that picks a new
 * flow's Maglev slot: with a constant one, a client could choose source
 * ports that all land on one backend. xlbd draws it at random when it
 * first creates the map, or sets the operator's (--hash-seed, the
 * config's hash_seed: nodes behind one ECMP route share theirs); being
 * pinned, it survives a restart and a takeover, so a new flow lands where
 * it would have before. A changed seed moves new flows only: tracked
 * ones keep their xlb_flows entry. Written by xlbd, read by XDP on each
 * new flow and by xlbctl status. */
struct xlb_dp_config {
	__u64 hash_seed;
	__u32 flags; /* XLB_DP_F_* */
	__u32 pad;
};

enum xlb_dp_config_flags {
	XLB_DP_F_SEEDED = 1 << 0, /* hash_seed was set: a zeroed new map has not */
};

/* xlb_rnat_eps (HASH, XLB_MAX_BACKENDS): a backend endpoint as its replies
 * show it (address, port, protocol) -> the L4 listeners it serves. Written
 * by xlbd, read by the tc return program. For each listener the reply's
 * flow key is rebuilt (client = the reply's destination, VIP = the
 * listener's) and looked up in xlb_flows; the reply is translated only
 * when that flow is this listener's and runs to this very backend. So a
 * reply outside a balanced flow (a health check, a client talking to the
 * backend directly) is never rewritten. An endpoint serves at most
 * XLB_EP_MAX_LISTENERS L4 services; xlbd refuses more. */
#define XLB_EP_MAX_LISTENERS 4

struct xlb_ep_key {
	struct xlb_addr addr;
	__be16 port;
	__u8 proto; /* the listeners' protocol */
	__u8 family;
};

struct xlb_ep_listener {
	struct xlb_addr vip;
	__be16 vport;
	__u16 pad;
	__u32 svc_id;
};

struct xlb_ep_listeners {
	__u32 n; /* used entries of l[] */
	__u32 pad;
	struct xlb_ep_listener l[XLB_EP_MAX_LISTENERS];
};

/* xlb_tx_ports (DEVMAP_HASH): ifindex -> ifindex of every interface that
 * XDP_REDIRECT delivers into: uplinks, and backend-facing veths whose peer
 * xlbd has prepared. A backend behind any other interface is still served,
 * through the kernel stack (XDP_PASS after DNAT). */

/* xlb_bridge_ports (HASH): (bridge ifindex, backend MAC) -> ifindex of the
 * bridge port that MAC sits behind (a container's veth on docker0 or a
 * br-* network). XDP cannot redirect into a bridge, so when the route to a
 * backend leads to one, XDP looks here for the port and redirects into it,
 * past the bridge. Written by xlbd from the neighbour table and the
 * bridge's FDB; read by XDP. A port counts only while it is in
 * xlb_tx_ports (the kernel drops it from there when it goes away), so a
 * leftover entry sends nothing astray: the packet goes to the kernel. */
struct xlb_bridge_port_key {
	__u32 bridge_ifindex;
	__u8 mac[6];
	__u16 pad;
};

/* xlb_be_links (HASH, XLB_MAX_BACKENDS): a backend's address -> the link
 * its replies must arrive on. The return program trusts a reply's source
 * address only there: anyone else on a shared bridge (another container,
 * which Docker grants NET_RAW) could otherwise send from a backend's
 * address and port and have xlb pass its datagrams to a client as the
 * VIP's. xlbd writes the entry when it sets up the backend's link (route
 * lookup) and again as it learns the backend's MAC and bridge port; it
 * deletes the entries of addresses that are no backend's any more. The
 * tc program reads it; a reply of a balanced flow from anywhere else is
 * dropped (XLB_R_DROP_REPLY_LINK). */
struct xlb_be_link_key {
	struct xlb_addr addr;
	__u8 family;
	__u8 pad[3];
};

struct xlb_be_link {
	__u32 ifindex;	    /* the route's link toward the backend */
	__u32 port_ifindex; /* behind a bridge: the backend's port, once known; else 0 */
	__u8 mac[6];	    /* behind a bridge: the backend's MAC, with XLB_BE_LINK_F_MAC */
	__u8 flags;	    /* XLB_BE_LINK_F_* */
	__u8 pad;
};

enum xlb_be_link_flags {
	/* ifindex is a bridge: every port's frames come up through it, so
	 * the source MAC must be the backend's too */
	XLB_BE_LINK_F_BRIDGE = 1 << 0,
	XLB_BE_LINK_F_MAC = 1 << 1, /* mac is known (from the neighbour table) */
};

/* xlb_ifaces (HASH): ifindex -> what xlbd attached there, so xlbctl
 * teardown can undo it without the daemon. */
struct xlb_iface {
	__u32 role;	    /* XLB_IF_* bits */
	__u32 peer_ifindex; /* veth peer prepared with the pass program */
	__s32 peer_netnsid; /* its netns id as seen from the balancer */
	__u32 pad;
	__u64 netns_ino; /* inode of the balancer's netns: ifindexes
				 * mean something only there */
};

enum xlb_iface_role {
	XLB_IF_UPLINK = 1 << 0,	       /* XDP ingress (pinned link) */
	XLB_IF_BACKEND = 1 << 1,       /* tc ingress return program */
	XLB_IF_PEER_PREPARED = 1 << 2, /* pass program on the veth peer */
	XLB_IF_CLSACT_OURS = 1 << 3,   /* xlbd created the clsact qdisc */
	XLB_IF_UPLINK_TC = 1 << 4,     /* tc ingress uplink program (xlb_ingress_tc) */
};

/* xlb_hosts (HASH): a route, host name or "*.suffix" wildcard and path
 * prefix -> the service that serves it through the proxy (HTTP Host and
 * request path, or TLS SNI). Written by xlbd, read by xlbd on restart and
 * by xlbctl; the data path never sees it. The path rides in the key after
 * the host's NUL ("app.dev\0/api\0..."), none meaning "/": the layout is
 * that of the host-only map, whose pins read as routes for "/", and host
 * and path fit together in XLB_HOST_KEY_LEN - 2 characters. */
#define XLB_HOST_KEY_LEN 256

struct xlb_host_key {
	char name[XLB_HOST_KEY_LEN]; /* lowercased host, NUL, path, NUL-padded */
};

struct xlb_host_val {
	__u32 svc_id;
	__u32 flags; /* XLB_SVC_F_TLS: routed by SNI; _STRIP_PATH, _HTTPS */
};

/* xlb_proxy_svc_stats (ARRAY, XLB_MAX_SERVICES) and xlb_listeners (ARRAY,
 * XLB_MAX_LISTENERS): the proxy's counters, written by xlbd about once a
 * second, read by xlbctl. */
#define XLB_MAX_LISTENERS 64

struct xlb_proxy_counters {
	__u64 accepted;	      /* connections taken from a listener */
	__u64 routed;	      /* host found, backend connected */
	__u64 no_route;	      /* unknown host or SNI, or no SNI */
	__u64 bad_request;    /* malformed head or ClientHello */
	__u64 timeouts;	      /* closed at the peek or idle deadline */
	__u64 refused;	      /* over a connection limit: all, per source, handshakes */
	__u64 connect_failed; /* backend refused or unreachable (after retry) */
	__u64 spliced_bytes;  /* bytes moved after routing, both directions */
	__u64 splice_conns;   /* connections moved by splice(2) */
	__u64 sockmap_conns;  /* connections moved by sockmap redirection */
	__u64 copy_conns;     /* connections moved by read/write (--proxy-path copy) */
};

enum xlb_listener_kind {
	XLB_LISTEN_UNUSED = 0,
	XLB_LISTEN_HTTP = 1,
	XLB_LISTEN_TLS = 2,
};

struct xlb_listener {
	struct xlb_addr addr;
	__be16 port;
	__u8 family;
	__u8 kind; /* enum xlb_listener_kind */
	__u32 pad;
	struct xlb_proxy_counters c;
};

/* xlb_http_svc_stats (ARRAY, XLB_MAX_SERVICES): the per-request HTTP
 * engine's counters of a service (HTTP listeners in --http-mode request),
 * written by xlbd about once a second and at each scrape, read by xlbctl
 * and the metrics. A map of its own, so that the pinned
 * xlb_proxy_svc_stats and xlb_listeners of an older xlbd keep their layout.
 * The requests themselves are the service's `accepted` in
 * xlb_proxy_svc_stats (one per request routed to it): not counted twice. */
#define XLB_HTTP_CLASSES 5     /* 1xx .. 5xx */
#define XLB_HTTP_FB_BUCKETS 13 /* finite buckets; +Inf is fb_count */
/* Upper bounds of the first-byte buckets, in microseconds: 1 ms .. 10 s. */
#define XLB_HTTP_FB_BOUNDS_US                                                                    \
	{                                                                                        \
		1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, \
			5000000, 10000000                                                        \
	}

struct xlb_http_counters {
	__u64 responses[XLB_HTTP_CLASSES]; /* heads the client got, by class [0] 1xx ..
					    * [4] 5xx, the proxy's own answers included */
	__u64 reused;			   /* requests sent on a pooled backend connection */
	__u64 connects;			   /* fresh backend connections established */
	/* time to first byte: from the request head sent to the first byte
	 * of the backend's response head, once per request that got one */
	__u64 fb_buckets[XLB_HTTP_FB_BUCKETS]; /* per bucket, not cumulative */
	__u64 fb_count;			       /* observations (+Inf) */
	__u64 fb_sum_ns;		       /* their sum, nanoseconds */
};

/* xlb_tls_svc_stats (ARRAY, XLB_MAX_SERVICES): the TLS handshakes xlbd
 * terminated for a service (proto = https routes), written by xlbd about
 * once a second and at each scrape, read by xlbctl and the metrics. The
 * service is the one the SNI names, known before the handshake: xlbd
 * terminates only for names an https route claims, so every handshake has
 * one (a ClientHello for no service is the listener's no_route). A map of
 * its own, like xlb_http_svc_stats, so that the older maps keep their
 * layout. Names: xlb/tls_names.h. */

/* What a completed handshake agreed on: a suite implies its version. The
 * named ones are those xlb's policy allows (tls/server.c: TLS 1.3's
 * OpenSSL defaults, TLS 1.2's ECDHE with AEAD); anything else is its
 * version's "other". */
enum xlb_tls_suite {
	XLB_TLS13_AES_128_GCM_SHA256,
	XLB_TLS13_AES_256_GCM_SHA384,
	XLB_TLS13_CHACHA20_POLY1305_SHA256,
	XLB_TLS13_OTHER,
	XLB_TLS12_ECDHE_ECDSA_AES128_GCM_SHA256,
	XLB_TLS12_ECDHE_RSA_AES128_GCM_SHA256,
	XLB_TLS12_ECDHE_ECDSA_AES256_GCM_SHA384,
	XLB_TLS12_ECDHE_RSA_AES256_GCM_SHA384,
	XLB_TLS12_ECDHE_ECDSA_CHACHA20_POLY1305,
	XLB_TLS12_ECDHE_RSA_CHACHA20_POLY1305,
	XLB_TLS12_OTHER,
	XLB_TLS_SUITES
};

/* Why a handshake did not complete. */
enum xlb_tls_fail {
	XLB_TLS_FAIL_TIMEOUT,		/* not done by the deadline (--peek-timeout-ms) */
	XLB_TLS_FAIL_CLIENT_CLOSED,	/* the client closed or reset the connection */
	XLB_TLS_FAIL_PROTOCOL_VERSION,	/* it offered no version xlb speaks (< TLS 1.2) */
	XLB_TLS_FAIL_NO_SHARED_CIPHER,	/* no suite, group or signature algorithm in common */
	XLB_TLS_FAIL_NO_APP_PROTOCOL,	/* ALPN offered, none of xlb's protocols */
	XLB_TLS_FAIL_UNRECOGNIZED_NAME, /* no certificate serves the SNI */
	XLB_TLS_FAIL_ALERT_FROM_CLIENT, /* the client ended it with a fatal alert */
	XLB_TLS_FAIL_HANDSHAKE_LIMIT,	/* refused: too many handshakes under way */
	XLB_TLS_FAIL_OTHER,		/* anything else OpenSSL refused */
	XLB_TLS_FAILS
};

struct xlb_tls_counters {
	__u64 handshakes[XLB_TLS_SUITES]; /* completed, by suite */
	__u64 failures[XLB_TLS_FAILS];	  /* not completed, by reason */
};

/* xlb_sock_peer (HASH, not pinned): socket cookie -> its peer's cookie and
 * the bytes redirected from it, for proxied connections that the sockmap
 * path moves. xlbd writes the pairs; the stream verdict program counts. */
struct xlb_sock_peer {
	__u64 peer_cookie;
	__u64 bytes;
};

/* xlb_sock_lb (SK_STORAGE): what the socket hooks (bpf/sock_lb.bpf.c) chose
 * for a local socket: the VIP it asked for and the backend it was given
 * instead. Written by cgroup/connect and cgroup/sendmsg; read by
 * cgroup/getpeername and cgroup/recvmsg, which show the VIP again in place
 * of exactly this backend. Freed with the socket; pinned, so that a new
 * xlbd (a restart, a takeover) finds its predecessor's records. */
struct xlb_sock_lb_rec {
	struct xlb_addr vip;
	struct xlb_addr be_addr;
	__be16 vport;
	__be16 be_port;
	__u32 be_id;
};

/* xlb_svc_stats (PERCPU_ARRAY, XLB_MAX_SERVICES) and xlb_be_stats
 * (PERCPU_ARRAY, XLB_MAX_BACKENDS): forward-direction counters. */
struct xlb_counters {
	__u64 packets;
	__u64 bytes;
	__u64 new_flows;
};

/* xlb_fib_cache (PERCPU_ARRAY, XLB_FIB_CACHE_SLOTS, not pinned): recent
 * successful bpf_fib_lookup results, written and read by the data path
 * only (see XLB_FIB_CACHE_TICKS). The key holds every input of the lookup
 * that varies by packet, except the length, for which max_len keeps the
 * longest one the lookup has passed. */
struct xlb_fib_key {
	struct xlb_addr src;
	struct xlb_addr dst;
	__u32 ifindex; /* ingress */
	__u8 family;
	__u8 proto;
	__u8 tos;
	__u8 skb; /* 1: a tc lookup, whose MTU check differs */
};

struct xlb_fib_cache {
	struct xlb_fib_key key;
	__u64 jiffies; /* when looked up; 0: empty */
	__u32 max_len; /* the length the MTU check compares */
	__u32 ifindex; /* egress */
	__u8 smac[6];
	__u8 dmac[6];
	__u32 pad;
};

/* xlb_reasons (PERCPU_ARRAY, XLB_R_MAX): why each packet was forwarded,
 * passed or dropped. Names in xlb_reason_name() print in xlbctl stats.
 * New reasons go last: xlbd moves the counts of a pinned map of an
 * earlier, smaller size into one of this size at start (datapath.c). */
struct xlb_reason_count {
	__u64 packets;
	__u64 bytes;
};

enum xlb_reason {
	XLB_R_FWD_REDIRECT = 0, /* DNAT + XDP_REDIRECT to the backend side */
	XLB_R_FWD_STACK,	/* DNAT + XDP_PASS: kernel forwards (no tx port/neighbour) */
	XLB_R_RNAT_REDIRECT,	/* reverse NAT + redirect toward the client */
	XLB_R_RNAT_STACK,	/* reverse NAT + handed to the kernel stack */
	XLB_R_PASS_NOT_IP,	/* ARP, LLDP, ...: not ours */
	XLB_R_PASS_NOT_SERVICE, /* IP, but no service at (dst, port, proto) */
	XLB_R_PASS_FRAGMENT,	/* IP fragment: L4 ports not in every piece */
	XLB_R_PASS_ICMP,	/* ICMP/ICMPv6, including errors about flows */
	XLB_R_PASS_L4_OTHER,	/* not TCP or UDP */
	XLB_R_PASS_IPV6_EXT,	/* extension header chain too long or opaque */
	XLB_R_PASS_TTL,		/* TTL/hop limit would expire: stack sends ICMP */
	XLB_R_DROP_TRUNCATED,	/* a header runs past the end of the frame */
	XLB_R_DROP_BAD_HEADER,	/* bad version, IHL or length field */
	XLB_R_DROP_NO_BACKEND,	/* service has no active backend */
	XLB_R_FLOW_INSERT_FAIL, /* flow state not stored; forwarded anyway */
	XLB_R_DROP_REPLY_LINK,	/* a reply of a balanced flow, but not from the backend's
				 * link (or, on a bridge, its MAC): forged (tc) */
	XLB_R_TC_FWD_REDIRECT,	/* DNAT by the uplink's tc program + redirect */
	XLB_R_TC_FWD_STACK,	/* DNAT by the uplink's tc program + kernel forwards */
	XLB_R_SOCK_CONNECT,	/* a local socket's connect() to a VIP given a backend */
	XLB_R_SOCK_SENDMSG,	/* a local unconnected UDP send to a VIP given a backend */
	XLB_R_SOCK_NO_BACKEND,	/* a local socket to a VIP whose service has none: refused */
	XLB_R_MAX,
};

/* ---- tracing (xlbctl trace) ------------------------------------------------
 * Sampled events that say why a packet was forwarded, passed or dropped.
 * Off unless an xlbctl trace runs: then each counted verdict (one per run
 * of the XDP or tc program, the reason it adds to xlb_reasons) may become
 * one event in the xlb_trace ring buffer. */

/* xlb_trace_cfg (ARRAY, 1 entry): the knob. xlbctl trace writes it (on at
 * start, off at exit); the XDP and tc programs read it once per run. Off,
 * that read and one branch are all tracing costs a packet. */
struct xlb_trace_cfg {
	__u32 enabled;	 /* 0: off */
	__u32 sample_n;	 /* trace one verdict in sample_n (0 and 1: each) */
	__u32 flags;	 /* XLB_TRACE_F_* */
	__u32 svc_id;	 /* with XLB_TRACE_F_SERVICE: only this service's */
	__s32 owner_pid; /* the xlbctl that switched it on, for messages */
	__u32 pad;
};

enum xlb_trace_cfg_flags {
	XLB_TRACE_F_SERVICE = 1 << 0, /* filter on svc_id */
};

/* svc_id or backend_id of an event that has none (a packet to no service,
 * a verdict reached before a backend was picked). */
#define XLB_TRACE_NONE 0xffffffffu

enum xlb_trace_prog {
	XLB_TRACE_XDP = 1,	 /* xlb_ingress, on an uplink */
	XLB_TRACE_TC = 2,	 /* xlb_return, on a backend link */
	XLB_TRACE_TC_UPLINK = 3, /* the ingress logic as a tc program, on an uplink */
};

enum xlb_trace_event_flags {
	XLB_TRACE_EV_NEW_FLOW = 1 << 0, /* the packet started (or re-picked) a flow */
};

/* xlb_trace (RINGBUF, XLB_TRACE_RING_BYTES): one event per traced verdict.
 * XDP and tc write, xlbctl trace reads. A full ring loses the event, never
 * the packet, and counts it in xlb_trace_stats. */
struct xlb_trace_event {
	__u64 ts_ns;		  /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 ifindex;		  /* the interface the packet arrived on */
	__u32 len;		  /* frame length */
	__u32 svc_id;		  /* or XLB_TRACE_NONE */
	__u32 backend_id;	  /* picked (xdp) or replying (tc), or XLB_TRACE_NONE */
	struct xlb_flow_key key;  /* the packet as it arrived, before any
					 * rewrite; zero past what parsing reached
					 * (no ports for ICMP, nothing for ARP) */
	struct xlb_addr nat_addr; /* fwd_*: the new destination (the backend);
					 * rnat_*: the new source (the VIP); else zero */
	__be16 nat_port;
	__u8 prog;   /* enum xlb_trace_prog */
	__u8 reason; /* enum xlb_reason */
	__u8 flags;  /* XLB_TRACE_EV_* */
	__u8 pad[3];
};

/* xlb_trace_stats (PERCPU_ARRAY, 1 entry): events written and events lost
 * to a full ring, since the map was made. XDP and tc write (only while
 * tracing), xlbctl reads. */
struct xlb_trace_stats {
	__u64 events;
	__u64 lost;
};

#endif
