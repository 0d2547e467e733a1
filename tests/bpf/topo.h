/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The private network namespace that tests/bpf/run.sh builds for the
 * runner, so that bpf_fib_lookup gives known answers. KEEP IN SYNC with
 * run.sh: the runner checks the interface MACs at start, the neighbour
 * entries show up as failing redirect cases.
 *
 *   up0 10.210.0.1/24 fd00:210::1/64 (uplink; peer up1)
 *       neighbours: client 10.210.0.2 / fd00:210::2
 *   be0 10.210.1.1/24 fd00:211::1/64 (backends; peer be1)
 *       neighbours: backend A .2 / ::2, backend B .3 / ::3;
 *       backend C .9 / ::9 has NO neighbour entry
 *   br0 10.210.2.1/24 fd00:212::1/64 (a bridge, as docker0; port bp0,
 *       peer bp1): backends D .2 / ::2 and E .3 behind it (neighbours on
 *       br0; the cases put D's MAC behind bp0 in xlb_bridge_ports)
 *
 * VIPs 10.210.0.100 and fd00:210::100 are on no interface: only the XDP
 * program under test knows them. */
#ifndef XLB_TEST_TOPO_H
#define XLB_TEST_TOPO_H

#include <stdint.h>

static const uint8_t topo_up0_mac[6] = { 0x02, 0x10, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t topo_be0_mac[6] = { 0x02, 0x11, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t topo_client_mac[6] = { 0x02, 0xc0, 0x00, 0x00, 0x00, 0x02 };
static const uint8_t topo_be_a_mac[6] = { 0x02, 0xbe, 0x00, 0x00, 0x00, 0x02 };
static const uint8_t topo_be_b_mac[6] = { 0x02, 0xbe, 0x00, 0x00, 0x00, 0x03 };
static const uint8_t topo_br0_mac[6] = { 0x02, 0x12, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t topo_bp0_mac[6] = { 0x02, 0x12, 0x00, 0x00, 0x00, 0x02 };
static const uint8_t topo_be_d_mac[6] = { 0x02, 0xbe, 0x00, 0x00, 0x00, 0x04 };
static const uint8_t topo_be_e_mac[6] = { 0x02, 0xbe, 0x00, 0x00, 0x00, 0x05 };

#define TOPO_CLIENT4 "10.210.0.2"
#define TOPO_CLIENT6 "fd00:210::2"
/* on the uplink's subnet, but without a neighbour entry */
#define TOPO_CLIENT4_NONEIGH "10.210.0.3"
#define TOPO_CLIENT6_NONEIGH "fd00:210::3"
/* no route at all in the namespace */
#define TOPO_CLIENT4_NOROUTE "192.0.2.77"
#define TOPO_VIP4 "10.210.0.100"
#define TOPO_VIP6 "fd00:210::100"
#define TOPO_OTHER4 "10.210.0.101"
#define TOPO_OTHER6 "fd00:210::101"
#define TOPO_BE_A4 "10.210.1.2"
#define TOPO_BE_A6 "fd00:211::2"
#define TOPO_BE_B4 "10.210.1.3"
#define TOPO_BE_B6 "fd00:211::3"
#define TOPO_BE_C4 "10.210.1.9"
#define TOPO_BE_C6 "fd00:211::9"
#define TOPO_BE_D4 "10.210.2.2"
#define TOPO_BE_D6 "fd00:212::2"
#define TOPO_BE_E4 "10.210.2.3"

#endif
