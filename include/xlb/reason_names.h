/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Userspace names of enum xlb_reason, as xlbctl stats prints them. */
#ifndef XLB_REASON_NAMES_H
#define XLB_REASON_NAMES_H

#include "map_types.h"

static const char *const xlb_reason_names[XLB_R_MAX] = {
	[XLB_R_FWD_REDIRECT] = "fwd_redirect",
	[XLB_R_FWD_STACK] = "fwd_stack",
	[XLB_R_RNAT_REDIRECT] = "rnat_redirect",
	[XLB_R_RNAT_STACK] = "rnat_stack",
	[XLB_R_PASS_NOT_IP] = "pass_not_ip",
	[XLB_R_PASS_NOT_SERVICE] = "pass_not_service",
	[XLB_R_PASS_FRAGMENT] = "pass_fragment",
	[XLB_R_PASS_ICMP] = "pass_icmp",
	[XLB_R_PASS_L4_OTHER] = "pass_l4_other",
	[XLB_R_PASS_IPV6_EXT] = "pass_ipv6_ext",
	[XLB_R_PASS_TTL] = "pass_ttl",
	[XLB_R_DROP_TRUNCATED] = "drop_truncated",
	[XLB_R_DROP_BAD_HEADER] = "drop_bad_header",
	[XLB_R_DROP_NO_BACKEND] = "drop_no_backend",
	[XLB_R_FLOW_INSERT_FAIL] = "flow_insert_fail",
	[XLB_R_DROP_REPLY_LINK] = "drop_reply_link",
	[XLB_R_TC_FWD_REDIRECT] = "tc_fwd_redirect",
	[XLB_R_TC_FWD_STACK] = "tc_fwd_stack",
	[XLB_R_SOCK_CONNECT] = "sock_connect",
	[XLB_R_SOCK_SENDMSG] = "sock_sendmsg",
	[XLB_R_SOCK_NO_BACKEND] = "sock_no_backend",
};

#endif
