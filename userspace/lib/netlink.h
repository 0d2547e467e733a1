/* SPDX-License-Identifier: GPL-2.0 */
/* rtnetlink queries over libmnl: routes, links, netns ids, neighbours and
 * bridge forwarding entries. */
#ifndef XLB_NETLINK_H
#define XLB_NETLINK_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "xlb/map_types.h"

struct xlb_link_info {
	int ifindex;
	char name[IF_NAMESIZE];
	bool is_veth;
	bool is_bridge;
	int peer_ifindex; /* IFLA_LINK: the veth peer's ifindex in its netns */
	int link_netnsid; /* IFLA_LINK_NETNSID, -1 when the peer is local */
};

/* The first global address of family on ifindex (RTM_GETADDR). Returns 0,
 * -EADDRNOTAVAIL when it has none, or -errno. */
int xlb_nl_link_addr(int ifindex, uint8_t family, struct xlb_addr *addr);

/* Output interface of the route to dst (RTM_GETROUTE). Returns 0 or -errno. */
int xlb_nl_route_oif(uint8_t family, const struct xlb_addr *dst, int *oif);

/* Link attributes of ifindex (RTM_GETLINK). Returns 0 or -errno. */
int xlb_nl_link_info(int ifindex, struct xlb_link_info *info);

/* The id the current netns gives to the netns behind nsfd (RTM_GETNSID);
 * -1 in *nsid when it has none. Returns 0 or -errno. */
int xlb_nl_netnsid_of_fd(int nsfd, int *nsid);

/* The MAC of neighbour addr on ifindex (RTM_GETNEIGH), if the entry is
 * usable (reachable, stale, delay, probe or permanent). Returns 0, -ENOENT
 * when there is no usable entry, or -errno. */
/* Asks the kernel to resolve addr on ifindex now (ARP or neighbour
 * solicitation), so a backend's MAC is known before traffic needs it. */
int xlb_nl_neigh_probe(uint8_t family, const struct xlb_addr *addr, int ifindex);
int xlb_nl_neigh_mac(uint8_t family, const struct xlb_addr *addr, int ifindex, uint8_t mac[6]);

/* The port of bridge bridge_ifindex behind which mac was learned (or
 * configured), from the bridge's FDB (an AF_BRIDGE RTM_GETNEIGH dump
 * filtered by NDA_MASTER). Returns 0, -ENOENT when the bridge has no such
 * entry, or -errno. */
int xlb_nl_fdb_port(int bridge_ifindex, const uint8_t mac[6], int *port_ifindex);

/* A socket of this network namespace, as sock_diag reports it. */
struct xlb_nl_sock {
	uint8_t family;
	struct xlb_addr addr; /* bound address; all zero: the wildcard */
	uint16_t port;
	bool v6only; /* an AF_INET6 socket that takes no IPv4 */
	uint32_t uid;
	uint32_t inode; /* to find the process that holds it (/proc/PID/fd) */
};
/* Returns nonzero to stop the walk. */
typedef int (*xlb_nl_sock_fn)(const struct xlb_nl_sock *s, void *arg);

/* Calls fn for each socket of family that takes port's traffic: TCP
 * listeners (proto IPPROTO_TCP), or bound UDP sockets (IPPROTO_UDP).
 * Returns 0 or -errno. */
int xlb_nl_sockets_on_port(uint8_t family, uint8_t proto, uint16_t port, xlb_nl_sock_fn fn,
			   void *arg);

#endif
