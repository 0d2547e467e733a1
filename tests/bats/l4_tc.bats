#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The tc uplink program (xlbd --attach tc|auto), for uplinks whose frames
# carry partial checksums: a veth whose other end is a local stack at its
# default offloads. XDP's DNAT and redirect cannot carry such frames (the
# backends count checksum errors and drop them); the tc program rewrites
# them through the skb checksum helpers. The lab's client keeps its
# default offloads here (lab.sh --client-offload), except where a test
# turns them off to compare with XDP.

load helpers

setup_file() {
	XLB_LAB_CLIENT_OFFLOAD=1 lab_setup 4
	serve api 1 4
	serve name 1 4
}

teardown_file() {
	lab_teardown
}

teardown() {
	xlb_test_teardown
	"$LAB" client-offload on >&2
}

tc_config() {
	l4_services_config
	lab_service names "$VIP4:9000/tcp" 9000
}

backend_ep() { echo "10.200.${1#be}.2:9000"; }

# csum_errors: checksum errors the backends' stacks counted, summed: TCP
# (both families share the counter), UDP and UDP over IPv6.
csum_errors() {
	local i sum=0 n
	# shellcheck disable=SC2016 # awk's fields, not the shell's
	for i in 1 2 3 4; do
		n=$(in_ns "xlb-be$i" awk '
			$1 == "Tcp:" || $1 == "Udp:" {
				if (!($1 in hdr)) { for (f = 2; f <= NF; f++) col[$1, $f] = f; hdr[$1] = 1; next }
				s += $(col[$1, "InCsumErrors"])
			}
			END { print s + 0 }' /proc/net/snmp)
		sum=$((sum + n))
		n=$(in_ns "xlb-be$i" awk '$1 == "Udp6InCsumErrors" { print $2 }' /proc/net/snmp6)
		sum=$((sum + ${n:-0}))
	done
	echo "$sum"
}

# uplink_roles: u0's roles in xlbctl status (e.g. "clsact-ours,uplink-tc").
uplink_roles() {
	xlbctl status | awk '$2 == "u0" { print $3 }'
}

# uplink_has_role ROLE: ROLE is one of u0's roles.
uplink_has_role() {
	[[ ,$(uplink_roles), == *",$1,"* ]]
}

# every_backend_answers FILE: each of be1..be4 answered at least once, and
# nothing else came back (no errors).
every_backend_answers() {
	assert_balanced "$1" 1 be1 be2 be3 be4
}

@test "auto: a client at default offloads reaches every backend of a TCP, a UDP and an IPv6 VIP through tc, with no checksum errors at the backends" {
	local before after red xdp
	XLBD_ATTACH=auto start_xlbd "$(write_config "$(tc_config)")"
	log_has 'event=uplink_attached iface=u0 ifindex=[0-9]+ mode=tc why=veth' ||
		{ fail "no uplink_attached mode=tc why=veth line"; return 1; }
	uplink_has_role uplink-tc && ! uplink_has_role uplink ||
		{ fail "xlbctl status: u0 roles '$(uplink_roles)'"; return 1; }
	before=$(csum_errors)
	red=$(reason_packets tc_fwd_redirect)
	xdp=$(reason_packets fwd_redirect)

	curl_hostnames 60 "http://$VIP4/" >"$BATS_TEST_TMPDIR/tcp4"
	every_backend_answers "$BATS_TEST_TMPDIR/tcp4"
	udp_ask "$VIP4" 53 60 >"$BATS_TEST_TMPDIR/udp4" || true
	every_backend_answers "$BATS_TEST_TMPDIR/udp4"
	curl_hostnames 60 "http://[$VIP6]/" >"$BATS_TEST_TMPDIR/tcp6"
	every_backend_answers "$BATS_TEST_TMPDIR/tcp6"

	after=$(csum_errors)
	((after == before)) || { fail "backends counted $((after - before)) checksum errors"; return 1; }
	(($(reason_packets tc_fwd_redirect) > red)) || { fail "tc_fwd_redirect did not move"; return 1; }
	(($(reason_packets fwd_redirect) == xdp)) || { fail "XDP forwarded packets in tc mode"; return 1; }
}

# A client at default offloads hands its veth TCP segments of up to 64 KB
# (GSO) with partial checksums: one 4 MB line to the line service crosses
# the tc program in such segments, and the backend answers once it has
# the whole line.
@test "tc: a 4 MB upload from a client at default offloads arrives whole, with no checksum errors" {
	local before answer
	XLBD_ATTACH=auto start_xlbd "$(write_config "$(tc_config)")"
	before=$(csum_errors)
	answer=$(in_client "$PYTHON" -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 9000), timeout=20)
s.sendall(b"x" * (4 << 20) + b"\n")
print(s.makefile().readline().strip())' "$VIP4")
	[[ $answer == be[1234] ]] || { fail "upload answered '$answer'"; return 1; }
	(($(csum_errors) == before)) || { fail "backends counted checksum errors"; return 1; }
}

@test "xdp: the same client with tx offload off is still served by XDP, from every backend" {
	local red tcred
	"$LAB" client-offload off >&2
	XLBD_ATTACH=xdp start_xlbd "$(write_config "$(tc_config)")"
	log_has 'event=uplink_attached iface=u0 ifindex=[0-9]+ mode=xdp why=option' ||
		{ fail "no uplink_attached mode=xdp why=option line"; return 1; }
	uplink_has_role uplink && ! uplink_has_role uplink-tc ||
		{ fail "xlbctl status: u0 roles '$(uplink_roles)'"; return 1; }
	red=$(reason_packets fwd_redirect)
	tcred=$(reason_packets tc_fwd_redirect)
	curl_hostnames 60 "http://$VIP4/" >"$BATS_TEST_TMPDIR/tcp4"
	every_backend_answers "$BATS_TEST_TMPDIR/tcp4"
	(($(reason_packets fwd_redirect) > red)) || { fail "fwd_redirect did not move"; return 1; }
	(($(reason_packets tc_fwd_redirect) == tcred)) || { fail "tc forwarded in xdp mode"; return 1; }
}

@test "tc: a drained backend gets no new flows while its held connection continues" {
	local drained f=$BATS_TEST_TMPDIR/burst
	XLBD_ATTACH=tc start_xlbd "$(write_config "$(tc_config)")"
	hold_start a "$VIP4" 9000
	drained=$(hold_probe a)
	[[ $drained == be[1234] ]] || { fail "held connection answered '$drained'"; return 1; }
	xlbctl backend drain names "$(backend_ep "$drained")"
	assert_held a "$drained"
	burst "$VIP4" 9000 60 >"$f" || { cat "$f" >&2; fail "new connections failed"; return 1; }
	sort "$f" | uniq -c >&2
	! grep -qx "$drained" "$f" || { fail "drained $drained got new flows"; return 1; }
	assert_held a "$drained"
}

@test "tc: flows survive an xlbd restart, new flows balance while it is down, the restart replaces the filter in place" {
	local held cfg
	cfg=$(write_config "$(tc_config)")
	XLBD_ATTACH=auto start_xlbd "$cfg"
	hold_start a "$VIP4" 9000
	held=$(hold_probe a)
	stop_xlbd TERM
	assert_held a "$held"
	burst "$VIP4" 9000 60 >"$BATS_TEST_TMPDIR/down" || true
	every_backend_answers "$BATS_TEST_TMPDIR/down"
	XLBD_ATTACH=auto start_xlbd "$cfg"
	assert_held a "$held"
	[[ $(in_lb tc filter show dev u0 ingress | grep -c 'xlb_ingress_tc') -eq 1 ]] ||
		{ in_lb tc filter show dev u0 ingress >&2; fail "not one tc uplink filter on u0"; return 1; }
	burst "$VIP4" 9000 60 >"$BATS_TEST_TMPDIR/up" || true
	every_backend_answers "$BATS_TEST_TMPDIR/up"
}

@test "a restart from xdp to tc takes XDP off the uplink and keeps held flows" {
	local held cfg
	"$LAB" client-offload off >&2
	cfg=$(write_config "$(tc_config)")
	XLBD_ATTACH=xdp start_xlbd "$cfg"
	hold_start a "$VIP4" 9000
	held=$(hold_probe a)
	stop_xlbd TERM
	XLBD_ATTACH=tc start_xlbd "$cfg"
	assert_held a "$held"
	! in_lb ip -d link show dev u0 | grep -q 'prog/xdp' || { fail "XDP still on u0"; return 1; }
	uplink_has_role uplink-tc && ! uplink_has_role uplink ||
		{ fail "xlbctl status: u0 roles '$(uplink_roles)'"; return 1; }
	burst "$VIP4" 9000 60 >"$BATS_TEST_TMPDIR/after" || true
	every_backend_answers "$BATS_TEST_TMPDIR/after"
}

@test "tc: xlbctl teardown, and xlbd's own stop with --teardown-on-exit, leave nothing attached" {
	XLBD_ATTACH=tc start_xlbd "$(write_config "$(tc_config)")"
	[[ -n $(in_lb tc filter show dev u0 ingress) ]] || { fail "no tc filter on u0"; return 1; }
	stop_xlbd TERM
	xlbctl teardown >&2
	assert_no_bpf_attached

	XLBD_ATTACH=tc start_xlbd "$(write_config "$(tc_config)")" --teardown-on-exit
	curl_hostnames 4 "http://$VIP4/" >"$BATS_TEST_TMPDIR/answers"
	! grep -qx error "$BATS_TEST_TMPDIR/answers" || { fail "requests failed"; return 1; }
	stop_xlbd TERM
	assert_no_bpf_attached
}
