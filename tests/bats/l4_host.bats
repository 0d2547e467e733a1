#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The balancer must never break the host's own networking: ICMP, ARP/ND,
# other ports of the lb host and plain routed traffic pass untouched.

load helpers

setup_file() {
	lab_setup 2
	serve api 1 2
}

teardown_file() {
	lab_teardown
}

setup() {
	local i cfg
	cfg=$(
		echo "[service api]"
		echo "listen = $VIP4:80/tcp"
		for i in 1 2; do echo "backend = 10.200.$i.2:8000"; done
		echo "[service api6]"
		echo "listen = [$VIP6]:80/tcp"
		for i in 1 2; do echo "backend = [fd00:20$i::2]:8000"; done
	)
	start_xlbd "$(write_config "$cfg")"
}

teardown() {
	xlb_test_teardown
}

vip_answers() {
	run in_client curl -sS -m 3 -g "$1"
	[[ $status -eq 0 && $output == *'"hostname": "be'* ]] || { fail "$1: $output"; return 1; }
}

@test "ping from the client to the lb host works (IPv4 and IPv6)" {
	in_client ping -c 3 -i 0.2 -W 2 10.200.0.1
	in_client ping -c 3 -i 0.2 -W 2 fd00:200::1
}

@test "ARP and ND resolve across the uplink" {
	ip -n xlb-client neigh flush dev c0
	ip -n xlb-lb neigh flush dev u0
	in_client ping -c 1 -W 2 10.200.0.1
	in_client ping -c 1 -W 2 fd00:200::1
	u0_mac=$(ip -n xlb-lb -br link show u0 | awk '{print $3}')
	c0_mac=$(ip -n xlb-client -br link show c0 | awk '{print $3}')
	for addr in 10.200.0.1 fd00:200::1; do
		[[ $(ip -n xlb-client neigh show "$addr" dev c0) == *"lladdr $u0_mac"* ]] ||
			fail "client has no neighbour entry for $addr: $(ip -n xlb-client neigh show dev c0)"
	done
	for addr in 10.200.0.2 fd00:200::2; do
		[[ $(ip -n xlb-lb neigh show "$addr" dev u0) == *"lladdr $c0_mac"* ]] ||
			fail "lb has no neighbour entry for $addr: $(ip -n xlb-lb neigh show dev u0)"
	done
	vip_answers "http://$VIP4/"
	vip_answers "http://[$VIP6]/"
}

@test "other ports of the lb host are unaffected (TCP 7000, TCP 80 on the host address, UDP 7001)" {
	log=$BATS_TEST_TMPDIR/socat
	bg_start xlb-lb "$log.7000" socat TCP6-LISTEN:7000,ipv6only=0,reuseaddr,fork SYSTEM:'echo lbhost'
	bg_start xlb-lb "$log.80" socat TCP6-LISTEN:80,ipv6only=0,reuseaddr,fork SYSTEM:'echo lbhost80'
	bg_start xlb-lb "$log.7001" socat UDP6-RECVFROM:7001,ipv6only=0,reuseaddr,fork SYSTEM:'echo lbudp'
	wait_until 5 in_lb bash -c '[[ -n $(ss -Hltn "sport = :7000") && -n $(ss -Hltn "sport = :80") && -n $(ss -Hlun "sport = :7001") ]]'

	[[ $(in_client socat -T 3 - TCP:10.200.0.1:7000 </dev/null) == lbhost ]]
	[[ $(in_client socat -T 3 - 'TCP:[fd00:200::1]:7000' </dev/null) == lbhost ]]
	# same port as the VIP service, but the host's own address
	[[ $(in_client socat -T 3 - TCP:10.200.0.1:80 </dev/null) == lbhost80 ]]
	[[ $(echo hi | in_client socat -T 3 - UDP:10.200.0.1:7001) == lbudp ]]
	vip_answers "http://$VIP4/"
	vip_answers "http://[$VIP6]/"
}

@test "routed traffic to a backend's own address passes through the lb untouched" {
	run in_client curl -sS -m 3 http://10.200.2.2:8000/
	[[ $status -eq 0 && $output == *'"hostname": "be2"'* ]] || { fail "$output"; return 1; }
	run in_client curl -sS -m 3 -g 'http://[fd00:201::2]:8000/'
	[[ $status -eq 0 && $output == *'"hostname": "be1"'* ]] || { fail "$output"; return 1; }
	in_client ping -c 2 -i 0.2 -W 2 10.200.1.2
}
