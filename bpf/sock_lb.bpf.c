// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Socket-level balancing for local clients: cgroup socket hooks.
 *
 * A process on the balancer's host (or in a container of it) that connects
 * to an L4 VIP never crosses the uplink's XDP program. These hooks serve
 * it at the socket instead: connect() and an unconnected UDP sendmsg() to
 * a VIP get a backend's address in its place, chosen from the service's
 * Maglev table under the same rules as XDP's (bpf/choose.h), so no packet
 * of the flow needs NAT. getpeername() and recvmsg() show the VIP again
 * where the socket would see the backend it was given, so the application
 * sees the peer it asked for.
 *
 * The slot is hashed from what a hook knows: the socket's cookie in place
 * of the source (its port and address are chosen later, by the kernel),
 * the VIP and port as the destination. A socket thus keeps its backend for
 * every send to one VIP while the table stays as it is.
 *
 * An address that is no VIP (a backend's, already rewritten by another
 * xlb program attached beside this one during a takeover) is left alone. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xlb/hash.h"
#include "xlb/map_types.h"
#include "maps.bpf.h"
#include "choose.h"
#include "af.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The hooks' verdicts: 1 lets the call go on; 0 fails it with EPERM. */
#define SOCK_ALLOW 1
#define SOCK_REFUSE 0

/* local socket -> the VIP it asked for and the backend it got (see
 * map_types.h). The hooks write and read; nothing else does. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct xlb_sock_lb_rec);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xlb_sock_lb SEC(".maps");

/* The destination a hook sees, in map_types.h's layout. */
struct sock_dst {
	struct xlb_addr addr;
	__be16 port;
	__u8 proto;
	__u8 family;
};

/* family is a constant of each program: the verifier refuses a v4 hook
 * that so much as reads user_ip6, so the other family's branch must not
 * be in its code at all. */
static __always_inline void dst_read(const struct bpf_sock_addr *ctx, __u8 family,
				     struct sock_dst *d)
{
	__builtin_memset(d, 0, sizeof(*d));
	d->family = family;
	d->proto = ctx->protocol;
	d->port = (__be16)ctx->user_port;
	if (family == AF_INET) {
		d->addr.v4 = ctx->user_ip4;
		return;
	}
	d->addr.v6[0] = ctx->user_ip6[0];
	d->addr.v6[1] = ctx->user_ip6[1];
	d->addr.v6[2] = ctx->user_ip6[2];
	d->addr.v6[3] = ctx->user_ip6[3];
}

static __always_inline void dst_write(struct bpf_sock_addr *ctx, __u8 family,
				      const struct xlb_addr *a, __be16 port)
{
	if (family == AF_INET) {
		ctx->user_ip4 = a->v4;
	} else {
		ctx->user_ip6[0] = a->v6[0];
		ctx->user_ip6[1] = a->v6[1];
		ctx->user_ip6[2] = a->v6[2];
		ctx->user_ip6[3] = a->v6[3];
	}
	ctx->user_port = port;
}

static __always_inline int addr_same(const struct xlb_addr *a, const struct xlb_addr *b)
{
	return a->v6[0] == b->v6[0] && a->v6[1] == b->v6[1] && a->v6[2] == b->v6[2] &&
	       a->v6[3] == b->v6[3];
}

/* The L4 service at d, or NULL. xlb_services holds L4 listeners only:
 * host names are served through the proxy's listeners, which are no entry
 * there, so nothing meant for the proxy is taken from it. A service with
 * host names (XLB_SVC_F_HOST) is in it only by a listen of its own, which
 * XDP balances at L4 whatever the flags: so is it here. */
static __always_inline const struct xlb_svc *l4_service(const struct sock_dst *d)
{
	struct xlb_svc_key key = {};

	key.vip = d->addr;
	key.port = d->port;
	key.proto = d->proto;
	key.family = d->family;
	return bpf_map_lookup_elem(&xlb_services, &key);
}

/* The Maglev key of a local socket: its cookie where a packet's source
 * address would be, no source port, the VIP and port as destination. */
static __always_inline void sock_key(struct xlb_flow_key *k, __u64 cookie, const struct sock_dst *d)
{
	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memcpy(&k->src, &cookie, sizeof(cookie));
	k->dst = d->addr;
	k->dport = d->port;
	k->proto = d->proto;
	k->family = d->family;
}

/* A backend for a new local flow: active, and the service's (the same
 * test as XDP's for a SYN: draining and down backends take none). */
static __always_inline const struct xlb_backend *
sock_pick(struct bpf_sock_addr *ctx, const struct sock_dst *d, __u32 svc_id, __u32 *be_id)
{
	const struct xlb_backend *be;
	struct xlb_flow_key k;

	sock_key(&k, bpf_get_socket_cookie(ctx), d);
	*be_id = maglev_pick(svc_id, &k);
	if (!*be_id)
		return NULL;
	be = backend_get(*be_id);
	if (!be || be->svc_id != svc_id || be->state != XLB_BE_ACTIVE || be->family != d->family)
		return NULL;
	return be;
}

/* Records what the socket was given; returns whether that is new for it
 * (a new flow to count): every datagram of an unconnected UDP socket
 * passes here, and only its first to a VIP, or a change of backend,
 * starts a flow. */
static __always_inline int sock_record(struct bpf_sock_addr *ctx, const struct sock_dst *d,
				       const struct xlb_backend *be, __u32 be_id)
{
	struct xlb_sock_lb_rec *r;

	r = bpf_sk_storage_get(&xlb_sock_lb, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!r)
		return 1; /* served all the same; only the peer shown is the backend's */
	if (r->be_id == be_id && r->vport == d->port && addr_same(&r->vip, &d->addr))
		return 0;
	r->vip = d->addr;
	r->vport = d->port;
	r->be_addr = be->addr;
	r->be_port = be->port;
	r->be_id = be_id;
	return 1;
}

/* connect() and unconnected sendmsg(): a VIP's address becomes a backend's. */
static __always_inline int sock_balance(struct bpf_sock_addr *ctx, __u8 family, __u32 reason)
{
	const struct xlb_backend *be;
	const struct xlb_svc *svc;
	struct sock_dst d;
	__u32 be_id = 0;
	int new_flow;

	dst_read(ctx, family, &d);
	svc = l4_service(&d);
	if (!svc)
		return SOCK_ALLOW;
	be = sock_pick(ctx, &d, svc->id, &be_id);
	if (!be) {
		/* as XDP drops the SYN: a fast EPERM, not a connect that
		 * hangs toward an address nobody answers on this host */
		count_reason(XLB_R_SOCK_NO_BACKEND, 0);
		return SOCK_REFUSE;
	}
	new_flow = sock_record(ctx, &d, be, be_id);
	dst_write(ctx, family, &be->addr, be->port);
	count_reason(reason, 0);
	count_flow(&xlb_svc_stats, svc->id, 0, new_flow);
	count_flow(&xlb_be_stats, be_id, 0, new_flow);
	return SOCK_ALLOW;
}

/* getpeername() and recvmsg(): the backend this socket was given shows as
 * the VIP it asked for; any other address stays. */
static __always_inline int sock_restore(struct bpf_sock_addr *ctx, __u8 family)
{
	const struct xlb_sock_lb_rec *r;
	struct sock_dst d;

	r = bpf_sk_storage_get(&xlb_sock_lb, ctx->sk, 0, 0);
	if (!r)
		return SOCK_ALLOW;
	dst_read(ctx, family, &d);
	if (d.port == r->be_port && addr_same(&d.addr, &r->be_addr))
		dst_write(ctx, family, &r->vip, r->vport);
	return SOCK_ALLOW;
}

SEC("cgroup/connect4")
int xlb_sock_connect4(struct bpf_sock_addr *ctx)
{
	return sock_balance(ctx, AF_INET, XLB_R_SOCK_CONNECT);
}

SEC("cgroup/connect6")
int xlb_sock_connect6(struct bpf_sock_addr *ctx)
{
	return sock_balance(ctx, AF_INET6, XLB_R_SOCK_CONNECT);
}

SEC("cgroup/sendmsg4")
int xlb_sock_sendmsg4(struct bpf_sock_addr *ctx)
{
	return sock_balance(ctx, AF_INET, XLB_R_SOCK_SENDMSG);
}

SEC("cgroup/sendmsg6")
int xlb_sock_sendmsg6(struct bpf_sock_addr *ctx)
{
	return sock_balance(ctx, AF_INET6, XLB_R_SOCK_SENDMSG);
}

SEC("cgroup/recvmsg4")
int xlb_sock_recvmsg4(struct bpf_sock_addr *ctx)
{
	return sock_restore(ctx, AF_INET);
}

SEC("cgroup/recvmsg6")
int xlb_sock_recvmsg6(struct bpf_sock_addr *ctx)
{
	return sock_restore(ctx, AF_INET6);
}

SEC("cgroup/getpeername4")
int xlb_sock_getpeername4(struct bpf_sock_addr *ctx)
{
	return sock_restore(ctx, AF_INET);
}

SEC("cgroup/getpeername6")
int xlb_sock_getpeername6(struct bpf_sock_addr *ctx)
{
	return sock_restore(ctx, AF_INET6);
}
