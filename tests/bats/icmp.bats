#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# shellcheck disable=SC2030,SC2031 # bats' run sets status and output in each test
# ICMP errors about balanced flows, as a user meets them: path MTU
# discovery through a router on the client's side, and a UDP client told
# "connection refused" by a backend port without a listener. Pings to a
# VIP are still left to the kernel.
#
# The shared lab (scripts/lab.sh) with one more namespace behind the
# client, which routes between the two:
#
#   xlb-far     eth0 10.250.0.2/24 fd00:f00::2/64, MTU 1500
#                |
#   xlb-client  f0 10.250.0.1/24 fd00:f00::1/64, MTU 1280 (forwarding on)
#               c0 ---- u0 xlb-lb (routes 10.250.0.0/24 and fd00:f00::/64
#                                  back via the client)
#
# A client in xlb-far advertises MSS 1460 (1440 over IPv6), so a backend's
# full-size segments do not fit the client's link to it: the client, a
# router here, refuses them with ICMP "fragmentation needed" (IPv6:
# "packet too big") sent to the VIP, their source. Only when xlb hands
# that error to the backend does the backend learn the smaller path MTU;
# without it the download stalls (no TCP MTU probing in the lab).

load helpers

FAR_NS=xlb-far
FAR4=10.250.0.2
FAR6=fd00:f00::2
FAR_MTU=1280
BULK_PORT=8080
UDP_PROBE=$REPO/tests/lab/udpprobe.py

# --- the far client ---------------------------------------------------------------

far_links_up() {
	[[ $(ip -n xlb-client -br link show f0) == *" UP "* ]] &&
		[[ $(ip -n "$FAR_NS" -br link show eth0) == *" UP "* ]]
}

far_down() {
	[[ ! -e /run/netns/$FAR_NS ]] || ip netns del "$FAR_NS"
}

# far_up: xlb-far behind the lab's client, and the lb's routes to it (the
# backends route everything to the lb already).
far_up() {
	ip netns add "$FAR_NS"
	ip -n "$FAR_NS" link set lo up
	ip -n xlb-client link add f0 type veth peer name eth0 netns "$FAR_NS"
	ip -n xlb-client link set f0 mtu "$FAR_MTU"
	ip -n xlb-client addr add 10.250.0.1/24 dev f0
	ip -n xlb-client addr add fd00:f00::1/64 dev f0 nodad
	ip -n "$FAR_NS" addr add "$FAR4/24" dev eth0
	ip -n "$FAR_NS" addr add "$FAR6/64" dev eth0 nodad
	ip -n xlb-client link set f0 up
	ip -n "$FAR_NS" link set eth0 up
	# XDP must see complete checksums (as for c0 in lab.sh): the far
	# client's packets are forwarded to the uplink as they were sent.
	in_ns "$FAR_NS" ethtool -K eth0 tx off >/dev/null
	ip -n "$FAR_NS" route add default via 10.250.0.1
	ip -n "$FAR_NS" route add default via fd00:f00::1
	in_client sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	ip -n xlb-lb route add 10.250.0.0/24 via 10.200.0.2
	ip -n xlb-lb route add fd00:f00::/64 via fd00:200::2
	wait_until 10 far_links_up
}

in_far() { in_ns "$FAR_NS" "$@"; }

setup_file() {
	far_down
	lab_setup 2
	far_up
	head -c $((512 * 1024)) /dev/urandom >"$BATS_FILE_TMPDIR/bulk.bin"
	# be1 serves the IPv4 download, be2 the IPv6 one: each backend's route
	# cache then says which error reached it
	"$LAB" serve-http 1 "$BULK_PORT" "$BATS_FILE_TMPDIR/bulk.bin" >&2
	"$LAB" serve-http 2 "$BULK_PORT" "$BATS_FILE_TMPDIR/bulk.bin" >&2
	serve name 1 1
}

teardown_file() {
	far_down
	lab_teardown
}

teardown() {
	xlb_test_teardown
}

# Downloads through both VIPs; UDP services with a listener (the name
# server's :5353) and without one (:5399, nothing listens there).
icmp_config() {
	cat <<-EOF
		[service bulk]
		listen = $VIP4:$BULK_PORT/tcp
		backend = 10.200.1.2:$BULK_PORT
		[service bulk6]
		listen = [$VIP6]:$BULK_PORT/tcp
		backend = [fd00:202::2]:$BULK_PORT
		[service dns]
		listen = $VIP4:53/udp
		backend = 10.200.1.2:5353
		[service dns6]
		listen = [$VIP6]:53/udp
		backend = [fd00:201::2]:5353
		[service closed]
		listen = $VIP4:54/udp
		backend = 10.200.1.2:5399
		[service closed6]
		listen = [$VIP6]:54/udp
		backend = [fd00:201::2]:5399
	EOF
}

# --- xlbctl trace -----------------------------------------------------------------

trace_on() {
	[[ $(xlbctl --json status | "$PYTHON" -c 'import json, sys
print(json.load(sys.stdin)["trace"]["enabled"])') == True ]]
}

# trace_start: `xlbctl --json trace` of every packet in TRACE_OUT, in the
# background until the per-test teardown stops it; returns once tracing is
# on.
trace_start() {
	TRACE_OUT=$BATS_TEST_TMPDIR/trace.jsonl
	# stdout and stderr in one file: trace_has skips what is not JSON
	bg_start xlb-lb "$TRACE_OUT" "$XLBCTL" --pin-dir "$PIN_DIR" --socket "$CTL_SOCK" --json trace
	wait_until 10 trace_on || {
		fail "tracing did not switch on:" || true
		cat "$TRACE_OUT" >&2
		return 1
	}
}

# trace_has KEY=ERE...: the trace holds an event whose every KEY (a field
# of `xlbctl --json trace`; after.src and after.dst for the tuple after
# NAT) matches its ERE in full.
trace_has() {
	"$PYTHON" - "$TRACE_OUT" "$@" <<-'EOF'
		import json, re, sys
		want = [a.split("=", 1) for a in sys.argv[2:]]
		def field(e, key):
		    for part in key.split("."):
		        e = e.get(part) if isinstance(e, dict) else None
		    return "" if e is None else str(e)
		for line in open(sys.argv[1]):
		    try:
		        e = json.loads(line)
		    except ValueError:
		        continue  # a message, or a line still being written
		    if all(re.fullmatch(v, field(e, k)) for k, v in want):
		        sys.exit(0)
		sys.exit(1)
	EOF
}

# wait_trace DESCRIPTION KEY=ERE...: polls until trace_has KEY=ERE...
wait_trace() {
	local what=$1
	shift
	wait_until 10 trace_has "$@" && return 0
	fail "no $what in xlbctl trace (wanted $*); its ICMP events, of $(wc -l <"$TRACE_OUT") lines:" || true
	grep -E '"proto": ?"icmp(v6)?"' "$TRACE_OUT" | head -n 20 >&2 || true
	return 1
}

# --- path MTU ---------------------------------------------------------------------

# backend_pmtu NS ADDR: the path MTU backend netns NS has learned for ADDR
# (`ip route get`'s mtu), or nothing.
backend_pmtu() {
	ip -n "$1" route get "$2" | grep -oE '(^|[[:space:]])mtu [0-9]+' | awk '{print $2}'
}

# assert_far_download URL: a client behind the 1280-byte link downloads
# the 512 KiB file through the VIP, whole, before a deadline.
assert_far_download() {
	local got=$BATS_TEST_TMPDIR/got.bin
	run in_far curl -sS -g -m 20 -o "$got" "$1"
	[[ $status -eq 0 ]] || { fail "download of $1 failed (curl status $status): $output"; return 1; }
	cmp "$got" "$BATS_FILE_TMPDIR/bulk.bin" >&2 || { fail "the body differs from the file"; return 1; }
}

# assert_pmtu_learned NS ADDR: the backend's kernel took the router's MTU.
assert_pmtu_learned() {
	local mtu
	mtu=$(backend_pmtu "$1" "$2")
	[[ $mtu == "$FAR_MTU" ]] ||
		{ fail "$1 route to $2: mtu '${mtu}', expected $FAR_MTU: $(ip -n "$1" route get "$2")"; return 1; }
}

# assert_direct_download URL: the far client downloads the whole file from
# a backend itself (no VIP).
assert_direct_download() {
	run in_far curl -sS -g -m 10 -o /dev/null -w '%{size_download}' "$1"
	[[ $status -eq 0 && $output == $((512 * 1024)) ]] || { fail "direct $1: status $status: $output"; return 1; }
}

@test "lab sanity: without xlb, backends learn the 1280-byte path MTU to the far client" {
	# the router's error goes to the backend itself here, so the routes and
	# MTUs are what the tests through the VIP need; the other backend than
	# there for each family, whose route cache must start empty
	assert_direct_download "http://10.200.2.2:$BULK_PORT/file"
	assert_pmtu_learned xlb-be2 "$FAR4"
	assert_direct_download "http://[fd00:201::2]:$BULK_PORT/file"
	assert_pmtu_learned xlb-be1 "$FAR6"
}

@test "IPv4 path MTU through a router on the client side: 'fragmentation needed' reaches the backend, the download completes" {
	start_xlbd "$(write_config "$(icmp_config)")"
	[[ -z $(backend_pmtu xlb-be1 "$FAR4") ]] || fail "be1 knows a path MTU before the test"
	trace_start
	assert_far_download "http://$VIP4:$BULK_PORT/file"
	assert_pmtu_learned xlb-be1 "$FAR4"
	# the router's error, to the VIP, went to the flow's backend
	wait_trace "forwarded ICMP error" prog=xdp iface=u0 proto=icmp 'reason=fwd_(redirect|stack)' \
		service=bulk "backend=10\.200\.1\.2:$BULK_PORT" 'dst=10\.200\.0\.100' 'after.dst=10\.200\.1\.2'
}

@test "IPv6 path MTU through a router on the client side: 'packet too big' reaches the backend, the download completes" {
	start_xlbd "$(write_config "$(icmp_config)")"
	[[ -z $(backend_pmtu xlb-be2 "$FAR6") ]] || fail "be2 knows a path MTU before the test"
	trace_start
	assert_far_download "http://[$VIP6]:$BULK_PORT/file"
	assert_pmtu_learned xlb-be2 "$FAR6"
	wait_trace "forwarded ICMPv6 error" prog=xdp iface=u0 proto=icmpv6 'reason=fwd_(redirect|stack)' \
		service=bulk6 "backend=\[fd00:202::2\]:$BULK_PORT" 'dst=fd00:200::100' 'after.dst=fd00:202::2'
}

# --- UDP: port unreachable ------------------------------------------------------------

# assert_udp_sees HOST PORT EXPECTED: a connected UDP client in the client
# netns gets EXPECTED (udpprobe.py's line: "answer be1", "refused", ...).
assert_udp_sees() {
	run in_client "$PYTHON" "$UDP_PROBE" "$1" "$2"
	[[ $status -eq 0 && $output == "$3" ]] || { fail "UDP to $1 port $2: '$output', expected '$3'"; return 1; }
}

@test "UDP over IPv4 to a VIP whose backend port has no listener: the client gets 'connection refused'" {
	start_xlbd "$(write_config "$(icmp_config)")"
	trace_start
	assert_udp_sees "$VIP4" 53 "answer be1"
	assert_udp_sees "$VIP4" 54 refused
	# be1's "port unreachable", from the VIP as the client's socket needs
	wait_trace "reverse-NATed ICMP error" prog=tc iface=b1 proto=icmp 'reason=rnat_(redirect|stack)' \
		service=closed 'src=10\.200\.1\.2' 'dst=10\.200\.0\.2' 'after.src=10\.200\.0\.100'
}

@test "UDP over IPv6 to a VIP whose backend port has no listener: the client gets 'connection refused'" {
	start_xlbd "$(write_config "$(icmp_config)")"
	trace_start
	assert_udp_sees "$VIP6" 53 "answer be1"
	assert_udp_sees "$VIP6" 54 refused
	wait_trace "reverse-NATed ICMPv6 error" prog=tc iface=b1 proto=icmpv6 'reason=rnat_(redirect|stack)' \
		service=closed6 'src=fd00:201::2' 'dst=fd00:200::2' 'after.src=fd00:200::100'
}

# --- echo ---------------------------------------------------------------------------

# echo_requests NS: ICMP echo requests netns NS has received.
echo_requests() {
	# shellcheck disable=SC2016 # awk's fields
	in_ns "$1" awk '$1 == "Icmp:" && !n++ { for (i = 2; i <= NF; i++) col[$i] = i; next }
		$1 == "Icmp:" { print $col["InEchos"] }' /proc/net/snmp
}

@test "a ping to the VIP is passed to the lb's kernel (pass_icmp), not to a backend" {
	start_xlbd "$(write_config "$(icmp_config)")"
	trace_start
	# the lb holds no VIP address, so nothing answers; the kernel may say
	# "unreachable" later: either way ping fails, and that is not the point
	in_client ping -c 1 -W 1 "$VIP4" >/dev/null || true
	wait_trace "passed echo request" prog=xdp iface=u0 proto=icmp reason=pass_icmp \
		'src=10\.200\.0\.2' 'dst=10\.200\.0\.100'
	[[ $(echo_requests xlb-be1) == 0 && $(echo_requests xlb-be2) == 0 ]] ||
		fail "a backend got echo requests: be1 $(echo_requests xlb-be1), be2 $(echo_requests xlb-be2)"
}
