#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs the BPF_PROG_TEST_RUN packet tests in a private network namespace
# (unshare --net: it disappears with the runner, nothing to clean up, and
# no named namespace is touched). The namespace has a fixed topology so
# bpf_fib_lookup gives known answers. KEEP IN SYNC with tests/bpf/topo.h.
#
#   up0 10.210.0.1/24 fd00:210::1/64  (uplink, peer up1)
#       client 10.210.0.2 / fd00:210::2: permanent neighbour
#   be0 10.210.1.1/24 fd00:211::1/64  (backends, peer be1)
#       backend A .2 / ::2, backend B .3 / ::3: permanent neighbours
#   br0 10.210.2.1/24 fd00:212::1/64  (a bridge, as docker0; port bp0, peer bp1)
#       backend D .2 / ::2, backend E .3: permanent neighbours
#
# usage: tests/bpf/run.sh path/to/bpf_test [--only SUBSTRING]
set -euo pipefail

die() {
	echo "run.sh: $*" >&2
	exit 2
}

[ $# -ge 1 ] || die "usage: $0 path/to/bpf_test [runner options]"
[ "$(id -u)" -eq 0 ] || die "needs root (BPF and a network namespace)"

if [ -z "${XLB_BPFTEST_IN_NETNS:-}" ]; then
	XLB_BPFTEST_IN_NETNS=1 exec unshare --net -- "$0" "$@"
fi

runner=$1
shift

veth() { # name mac peer peer_mac
	ip link add "$1" address "$2" type veth peer name "$3" address "$4"
	ip link set "$1" up
	ip link set "$3" up
}

neigh() { # addr mac dev
	ip neigh replace "$1" lladdr "$2" dev "$3" nud permanent
}

ip link set lo up
veth up0 02:10:00:00:00:01 up1 02:10:00:00:00:02
veth be0 02:11:00:00:00:01 be1 02:11:00:00:00:02
ip addr add 10.210.0.1/24 dev up0
ip addr add fd00:210::1/64 dev up0 nodad
ip addr add 10.210.1.1/24 dev be0
ip addr add fd00:211::1/64 dev be0 nodad
ip link add br0 address 02:12:00:00:00:01 type bridge
veth bp0 02:12:00:00:00:02 bp1 02:12:00:00:00:03
ip link set bp0 master br0
ip link set br0 up
ip addr add 10.210.2.1/24 dev br0
ip addr add fd00:212::1/64 dev br0 nodad
# bpf_fib_lookup answers only for interfaces that forward
sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
neigh 10.210.0.2 02:c0:00:00:00:02 up0
neigh fd00:210::2 02:c0:00:00:00:02 up0
neigh 10.210.1.2 02:be:00:00:00:02 be0
neigh fd00:211::2 02:be:00:00:00:02 be0
neigh 10.210.1.3 02:be:00:00:00:03 be0
neigh fd00:211::3 02:be:00:00:00:03 be0
neigh 10.210.2.2 02:be:00:00:00:04 br0
neigh fd00:212::2 02:be:00:00:00:04 br0
neigh 10.210.2.3 02:be:00:00:00:05 br0

exec "$runner" --uplink up0 --backend-if be0 --bridge br0 --bridge-port bp0 "$@"
