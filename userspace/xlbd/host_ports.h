/* SPDX-License-Identifier: GPL-2.0 */
/* Whether a socket of this host already takes an address and port's
 * traffic, and whose it is: an L4 service published there would take
 * that traffic from it before the host's stack saw it (XDP runs first). */
#ifndef XLB_HOST_PORTS_H
#define XLB_HOST_PORTS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"

/* A TCP listener (proto IPPROTO_TCP) or bound UDP socket (IPPROTO_UDP)
 * on ep's address or on a wildcard that covers it (an IPv6 wildcard
 * socket covers IPv4 unless it is v6-only). Returns 1 with owner filled
 * ("uid=0 inode=81234": `ss -ltnpe` names the process beside the inode),
 * 0 when none, or -errno. */
int xlb_host_port_owner(const struct xlb_endpoint *ep, uint8_t proto, char *owner, size_t len);

#endif
