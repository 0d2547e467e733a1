// SPDX-License-Identifier: GPL-2.0
#include "netlink.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>

/* One request, one answer (no dumps): open a socket, send, run cb over
 * the single reply. A NLMSG_ERROR reply becomes -errno. */
static int nl_request(struct nlmsghdr *req, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	unsigned int portid;
	int ret, err = 0;

	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	req->nlmsg_seq = (unsigned int)time(NULL);
	if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0) {
		err = -errno;
		goto out;
	}
	ret = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (ret < 0) {
		err = -errno;
		goto out;
	}
	if (mnl_cb_run(buf, ret, req->nlmsg_seq, portid, cb, data) < 0)
		err = -errno;
out:
	mnl_socket_close(nl);
	return err;
}

/* A request header of type with its family header of hdr_len bytes. */
static void *nl_request_start(char *buf, uint16_t type, size_t hdr_len, struct nlmsghdr **nlh)
{
	*nlh = mnl_nlmsg_put_header(buf);
	(*nlh)->nlmsg_type = type;
	(*nlh)->nlmsg_flags = NLM_F_REQUEST;
	return mnl_nlmsg_put_extra_header(*nlh, hdr_len);
}

static int route_attr_cb(const struct nlattr *attr, void *data)
{
	int *oif = data;

	if (mnl_attr_get_type(attr) == RTA_OIF && mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
		*oif = (int)mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct rtmsg), route_attr_cb, data);
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
	err = nl_request(nlh, route_cb, oif);
	if (err)
		return err;
	return *oif > 0 ? 0 : -ENETUNREACH;
}

static void link_info_kind(const struct nlattr *linkinfo, struct xlb_link_info *info)
{
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, linkinfo) {
		if (mnl_attr_get_type(a) == IFLA_INFO_KIND &&
		    mnl_attr_validate(a, MNL_TYPE_STRING) >= 0)
			info->is_veth = strcmp(mnl_attr_get_str(a), "veth") == 0;
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

static int nsid_attr_cb(const struct nlattr *attr, void *data)
{
	int *nsid = data;

	if (mnl_attr_get_type(attr) == NETNSA_NSID && mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
		*nsid = (int)mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

static int nsid_cb(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct rtgenmsg), nsid_attr_cb, data);
}

int xlb_nl_netnsid_of_fd(int nsfd, int *nsid)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct rtgenmsg *g = nl_request_start(buf, RTM_GETNSID, sizeof(*g), &nlh);

	g->rtgen_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, NETNSA_FD, (uint32_t)nsfd);
	*nsid = -1;
	return nl_request(nlh, nsid_cb, nsid);
}
