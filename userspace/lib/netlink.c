// SPDX-License-Identifier: GPL-2.0
#include "netlink.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/inet_diag.h>
#include <linux/neighbour.h>
#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>

/* One request: open a socket, send, run cb over every answer until the
 * dump ends (or over the one answer of a plain get). A NLMSG_ERROR reply
 * becomes -errno. Strict checking makes the kernel apply the filters a
 * dump request carries instead of ignoring them. */
static int nl_exchange_on(int bus, struct nlmsghdr *req, mnl_cb_t cb, void *data, bool strict)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	bool dump = req->nlmsg_flags & NLM_F_DUMP;
	struct mnl_socket *nl;
	unsigned int portid;
	int one = 1, ret, err = 0;

	nl = mnl_socket_open(bus);
	if (!nl)
		return -errno;
	if ((strict && mnl_socket_setsockopt(nl, NETLINK_GET_STRICT_CHK, &one, sizeof(one))) ||
	    mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	req->nlmsg_seq = (unsigned int)time(NULL);
	if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0) {
		err = -errno;
		goto out;
	}
	do {
		ret = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (ret < 0) {
			err = -errno;
			goto out;
		}
		ret = mnl_cb_run(buf, (size_t)ret, req->nlmsg_seq, portid, cb, data);
	} while (dump && ret == MNL_CB_OK);
	if (ret < 0)
		err = -errno;
out:
	mnl_socket_close(nl);
	return err;
}

static int nl_exchange(struct nlmsghdr *req, mnl_cb_t cb, void *data, bool strict)
{
	return nl_exchange_on(NETLINK_ROUTE, req, cb, data, strict);
}

static int nl_request(struct nlmsghdr *req, mnl_cb_t cb, void *data)
{
	return nl_exchange(req, cb, data, false);
}

/* A request header of type with its family header of hdr_len bytes. */
static void *nl_request_start(char *buf, uint16_t type, size_t hdr_len, struct nlmsghdr **nlh)
{
	*nlh = mnl_nlmsg_put_header(buf);
	(*nlh)->nlmsg_type = type;
	(*nlh)->nlmsg_flags = NLM_F_REQUEST;
	return mnl_nlmsg_put_extra_header(*nlh, hdr_len);
}

/* The u32 attribute of one type in an answer, read into an int. */
struct u32_attr_query {
	unsigned int hdr_len; /* the answer's family header */
	uint16_t type;
	int *value;
};

static int u32_attr_cb(const struct nlattr *attr, void *data)
{
	const struct u32_attr_query *q = data;

	if (mnl_attr_get_type(attr) == q->type && mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
		*q->value = (int)mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

static int u32_attr_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct u32_attr_query *q = data;

	return mnl_attr_parse(nlh, q->hdr_len, u32_attr_cb, data);
}

/* Sends req and reads the u32 attribute type of its answer, whose family
 * header is hdr_len bytes, into *value; an answer without one leaves
 * *value as it was. */
static int nl_request_u32(struct nlmsghdr *req, size_t hdr_len, uint16_t type, int *value)
{
	struct u32_attr_query q = { .hdr_len = (unsigned int)hdr_len,
				    .type = type,
				    .value = value };

	return nl_request(req, u32_attr_msg_cb, &q);
}

struct addr_query {
	int ifindex;
	uint8_t family;
	bool found;
	struct xlb_addr addr;
};

static int addr_attr_cb(const struct nlattr *attr, void *data)
{
	struct addr_query *q = data;
	size_t len = q->family == AF_INET ? 4 : 16;

	if (!q->found && mnl_attr_get_type(attr) == IFA_ADDRESS &&
	    mnl_attr_get_payload_len(attr) == len) {
		memcpy(&q->addr, mnl_attr_get_payload(attr), len);
		q->found = true;
	}
	return MNL_CB_OK;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct addr_query *q = data;

	/* the first global address of the link, in the kernel's order */
	if (q->found || ifa->ifa_family != q->family || (int)ifa->ifa_index != q->ifindex ||
	    ifa->ifa_scope != RT_SCOPE_UNIVERSE)
		return MNL_CB_OK;
	return mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, data);
}

int xlb_nl_link_addr(int ifindex, uint8_t family, struct xlb_addr *addr)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa = nl_request_start(buf, RTM_GETADDR, sizeof(*ifa), &nlh);
	struct addr_query q = { .ifindex = ifindex, .family = family };
	int err;

	nlh->nlmsg_flags |= NLM_F_DUMP;
	ifa->ifa_family = family;
	err = nl_request(nlh, addr_cb, &q);
	if (err)
		return err;
	if (!q.found)
		return -EADDRNOTAVAIL;
	memset(addr, 0, sizeof(*addr));
	memcpy(addr, &q.addr, family == AF_INET ? 4 : 16);
	return 0;
}

int xlb_nl_route_oif(uint8_t family, const struct xlb_addr *dst, int *oif)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct rtmsg *rtm = nl_request_start(buf, RTM_GETROUTE, sizeof(*rtm), &nlh);
	int err;

	rtm->rtm_family = family;
	rtm->rtm_dst_len = family == AF_INET ? 32 : 128;
	mnl_attr_put(nlh, RTA_DST, family == AF_INET ? 4 : 16, dst);
	*oif = 0;
	err = nl_request_u32(nlh, sizeof(*rtm), RTA_OIF, oif);
	if (err)
		return err;
	return *oif > 0 ? 0 : -ENETUNREACH;
}

static void link_info_kind(const struct nlattr *linkinfo, struct xlb_link_info *info)
{
	const struct nlattr *a;

	mnl_attr_for_each_nested (a, linkinfo) {
		if (mnl_attr_get_type(a) == IFLA_INFO_KIND &&
		    mnl_attr_validate(a, MNL_TYPE_STRING) >= 0) {
			info->is_veth = strcmp(mnl_attr_get_str(a), "veth") == 0;
			info->is_bridge = strcmp(mnl_attr_get_str(a), "bridge") == 0;
		}
	}
}

static int link_attr_cb(const struct nlattr *attr, void *data)
{
	struct xlb_link_info *info = data;

	switch (mnl_attr_get_type(attr)) {
	case IFLA_IFNAME:
		if (mnl_attr_validate(attr, MNL_TYPE_STRING) >= 0)
			snprintf(info->name, sizeof(info->name), "%s", mnl_attr_get_str(attr));
		break;
	case IFLA_LINK:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
			info->peer_ifindex = (int)mnl_attr_get_u32(attr);
		break;
	case IFLA_LINK_NETNSID:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
			info->link_netnsid = (int)mnl_attr_get_u32(attr);
		break;
	case IFLA_LINKINFO:
		if (mnl_attr_validate(attr, MNL_TYPE_NESTED) >= 0)
			link_info_kind(attr, info);
		break;
	}
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct ifinfomsg), link_attr_cb, data);
}

int xlb_nl_link_info(int ifindex, struct xlb_link_info *info)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm = nl_request_start(buf, RTM_GETLINK, sizeof(*ifm), &nlh);

	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	memset(info, 0, sizeof(*info));
	info->ifindex = ifindex;
	info->link_netnsid = -1;
	return nl_request(nlh, link_cb, info);
}

int xlb_nl_netnsid_of_fd(int nsfd, int *nsid)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct rtgenmsg *g = nl_request_start(buf, RTM_GETNSID, sizeof(*g), &nlh);

	g->rtgen_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, NETNSA_FD, (uint32_t)nsfd);
	*nsid = -1;
	return nl_request_u32(nlh, sizeof(*g), NETNSA_NSID, nsid);
}

/* ---- neighbours and the bridge FDB -------------------------------------- */

struct neigh_answer {
	uint16_t state; /* NUD_* */
	bool has_mac;
	uint8_t mac[6];
};

static int neigh_attr_cb(const struct nlattr *attr, void *data)
{
	struct neigh_answer *a = data;

	if (mnl_attr_get_type(attr) == NDA_LLADDR && mnl_attr_get_payload_len(attr) == 6) {
		memcpy(a->mac, mnl_attr_get_payload(attr), 6);
		a->has_mac = true;
	}
	return MNL_CB_OK;
}

static int neigh_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
	struct neigh_answer *a = data;

	a->state = ndm->ndm_state;
	return mnl_attr_parse(nlh, sizeof(*ndm), neigh_attr_cb, data);
}

/* States in which the kernel itself would send to the MAC it has (STALE
 * included: the next packet sent confirms or corrects it). INCOMPLETE and
 * FAILED entries carry no usable MAC. */
#define NEIGH_USABLE (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT)

int xlb_nl_neigh_mac(uint8_t family, const struct xlb_addr *addr, int ifindex, uint8_t mac[6])
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct ndmsg *ndm = nl_request_start(buf, RTM_GETNEIGH, sizeof(*ndm), &nlh);
	struct neigh_answer a = { 0 };
	int err;

	ndm->ndm_family = family;
	ndm->ndm_ifindex = ifindex;
	mnl_attr_put(nlh, NDA_DST, family == AF_INET ? 4 : 16, addr);
	err = nl_request(nlh, neigh_cb, &a);
	if (err)
		return err;
	if (!(a.state & NEIGH_USABLE) || !a.has_mac)
		return -ENOENT;
	memcpy(mac, a.mac, 6);
	return 0;
}

int xlb_nl_neigh_probe(uint8_t family, const struct xlb_addr *addr, int ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct ndmsg *ndm = nl_request_start(buf, RTM_NEWNEIGH, sizeof(*ndm), &nlh);

	/* NTF_USE: the kernel resolves the entry as if a packet wanted it */
	nlh->nlmsg_flags |= NLM_F_CREATE | NLM_F_ACK;
	ndm->ndm_family = family;
	ndm->ndm_ifindex = ifindex;
	ndm->ndm_flags = NTF_USE;
	mnl_attr_put(nlh, NDA_DST, family == AF_INET ? 4 : 16, addr);
	return nl_request(nlh, NULL, NULL);
}

struct fdb_query {
	int bridge; /* the bridge's ifindex */
	uint8_t mac[6];
	int port; /* answer: the port's ifindex, 0 if none */
};

struct fdb_entry {
	int master;
	bool has_mac;
	uint8_t mac[6];
};

static int fdb_attr_cb(const struct nlattr *attr, void *data)
{
	struct fdb_entry *e = data;

	switch (mnl_attr_get_type(attr)) {
	case NDA_LLADDR:
		if (mnl_attr_get_payload_len(attr) == 6) {
			memcpy(e->mac, mnl_attr_get_payload(attr), 6);
			e->has_mac = true;
		}
		break;
	case NDA_MASTER:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
			e->master = (int)mnl_attr_get_u32(attr);
		break;
	}
	return MNL_CB_OK;
}

/* Only the bridge's own entries count (NDA_MASTER is the bridge), not the
 * ports' address lists, and of those not the local (permanent) ones: the
 * bridge's and its ports' own MACs. */
static int fdb_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
	struct fdb_query *q = data;
	struct fdb_entry e = { 0 };

	if (q->port || mnl_attr_parse(nlh, sizeof(*ndm), fdb_attr_cb, &e) < 0)
		return MNL_CB_OK;
	if (e.master == q->bridge && e.has_mac && !memcmp(e.mac, q->mac, 6) &&
	    !(ndm->ndm_state & NUD_PERMANENT) && ndm->ndm_ifindex > 0 &&
	    ndm->ndm_ifindex != q->bridge)
		q->port = ndm->ndm_ifindex;
	return MNL_CB_OK;
}

int xlb_nl_fdb_port(int bridge_ifindex, const uint8_t mac[6], int *port_ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct ndmsg *ndm = nl_request_start(buf, RTM_GETNEIGH, sizeof(*ndm), &nlh);
	struct fdb_query q = { .bridge = bridge_ifindex };
	int err;

	nlh->nlmsg_flags |= NLM_F_DUMP;
	ndm->ndm_family = AF_BRIDGE;
	mnl_attr_put_u32(nlh, NDA_MASTER, (uint32_t)bridge_ifindex);
	memcpy(q.mac, mac, 6);
	err = nl_exchange(nlh, fdb_cb, &q, true);
	if (err)
		return err;
	if (!q.port)
		return -ENOENT;
	*port_ifindex = q.port;
	return 0;
}

/* ---- sockets (sock_diag) ------------------------------------------------------ */

#define TCP_STATE_LISTEN 10 /* include/net/tcp_states.h: TCP_LISTEN */
#define TCP_STATE_CLOSE 7   /* an unconnected UDP socket's */

struct sock_query {
	uint16_t port;
	xlb_nl_sock_fn fn;
	void *arg;
	int stop;
};

static int v6only_attr_cb(const struct nlattr *attr, void *data)
{
	if (mnl_attr_get_type(attr) == INET_DIAG_SKV6ONLY && mnl_attr_get_payload_len(attr) >= 1)
		*(bool *)data = *(const uint8_t *)mnl_attr_get_payload(attr) != 0;
	return MNL_CB_OK;
}

static int sock_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	struct sock_query *q = data;
	struct xlb_nl_sock s = { .family = m->idiag_family };

	if (ntohs(m->id.idiag_sport) != q->port)
		return MNL_CB_OK;
	memcpy(&s.addr, m->id.idiag_src, sizeof(s.addr));
	s.port = q->port;
	s.uid = m->idiag_uid;
	s.inode = m->idiag_inode;
	mnl_attr_parse(nlh, sizeof(*m), v6only_attr_cb, &s.v6only);
	q->stop = q->fn(&s, q->arg);
	return q->stop ? MNL_CB_STOP : MNL_CB_OK;
}

int xlb_nl_sockets_on_port(uint8_t family, uint8_t proto, uint16_t port, xlb_nl_sock_fn fn,
			   void *arg)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct sock_query q = { .port = port, .fn = fn, .arg = arg };
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_req_v2 *r;
	int err;

	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	r = mnl_nlmsg_put_extra_header(nlh, sizeof(*r));
	r->sdiag_family = family;
	r->sdiag_protocol = proto;
	/* a TCP socket takes a port's connections when it listens; a UDP
	 * socket takes its datagrams once bound, connected or not */
	r->idiag_states = proto == IPPROTO_TCP ? 1u << TCP_STATE_LISTEN : ~0u;
	r->idiag_ext = 0;
	err = nl_exchange_on(NETLINK_SOCK_DIAG, nlh, sock_cb, &q, false);
	/* a stop asked for by fn is no error */
	return q.stop ? 0 : err;
}
