#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Socket-level balancing (bpf/sock_lb.bpf.c): local clients of L4 VIPs,
# which never cross the uplink's XDP program, are given a backend at
# connect() and sendmsg() by cgroup socket hooks, and see the VIP as their
# peer. Every test asserts at the far end: which backend answered.

load helpers

SOCKPEER=$REPO/tests/lab/sockpeer.py

setup_file() {
	lab_setup 4
	serve name 1 4
	"$LAB" serve-http 1 >&2
	"$LAB" serve-http 2 >&2
}

teardown_file() {
	lab_teardown
}

setup() {
	# the tests here mean the socket hooks (helpers.bash: xlbd_mode_args)
	export XLBD_SOCKET_LB=1
	SOCK_CG=
	CLIENT_BLACKHOLE=
}

teardown() {
	xlb_test_teardown
	local failed=0
	if [[ -n $CLIENT_BLACKHOLE ]]; then
		ip -n xlb-client route del blackhole "$CLIENT_BLACKHOLE" || failed=1
	fi
	# its processes are gone (stop_bg, or they ran to the end)
	if [[ -n $SOCK_CG && -d $SOCK_CG ]]; then
		rmdir "$SOCK_CG" || failed=1
	fi
	assert_no_sock_lb_attached || failed=1
	((failed == 0))
}

# The line service on TCP 9000 and UDP 5353 of backends 1..4, as TCP and
# UDP services on the IPv4 and the IPv6 VIP.
sock_config() {
	lab_service names "$VIP4:9000/tcp" 9000
	lab_service names6 "[$VIP6]:9000/tcp" 9000 6
	lab_service dns "$VIP4:53/udp" 5353
	lab_service dns6 "[$VIP6]:53/udp" 5353 6
}

# sockpeer NS MODE HOST PORT N >FILE: tests/lab/sockpeer.py in netns NS.
sockpeer() {
	local ns=$1
	shift
	in_ns "$ns" "$PYTHON" "$SOCKPEER" "$@"
}

# names_of FILE: the answering backends of a sockpeer output, one a line.
names_of() {
	awk '{ print $1 }' "$1"
}

# assert_peer_is FILE ADDR: every exchange of FILE saw ADDR as its peer.
assert_peer_is() {
	local bad
	bad=$(awk -v want="$2" '$2 != want' "$1")
	[[ -z $bad ]] || { fail "peers other than $2: $(echo "$bad" | head -n 3)"; return 1; }
}

# assert_spread FILE MIN_SHARE: the answers of FILE came from be1..be4,
# each with at least MIN_SHARE percent.
assert_spread() {
	names_of "$1" >"$1.names"
	assert_balanced "$1.names" "$2" be1 be2 be3 be4
}

hook_count() {
	bpftool cgroup tree "$(cgroup2_mount)" | grep -cE "[[:space:]]$1[[:space:]]*$" || true
}

@test "attach: one log line, 8 hooks on the cgroup v2 mount, xlbctl status says where" {
	local cg
	cg=$(cgroup2_mount)
	start_xlbd "$(write_config "$(sock_config)")"
	log_has "event=socket_lb_attached cgroup=$cg programs=8\$" || { fail "no attach line"; return 1; }
	[[ $(bpftool cgroup tree "$cg" | grep -cE '[[:space:]]xlb_sock_') -eq 8 ]] ||
		{ bpftool cgroup tree "$cg" >&2; fail "not 8 xlb hooks on $cg"; return 1; }
	run xlbctl status
	[[ $output == *"socket lb:   on (cgroup $cg)"* ]] || { fail "status: $output"; return 1; }
	xlbctl --json status >"$BATS_TEST_TMPDIR/status.json"
	"$PYTHON" -c '
import json, sys
sl = json.load(sys.stdin)["socket_lb"]
sys.exit(0 if sl == {"enabled": True, "cgroup": sys.argv[1]} else 1)' "$cg" \
		<"$BATS_TEST_TMPDIR/status.json" || { fail "status --json: socket_lb"; return 1; }
}

@test "a process in the lb's namespace connecting to a TCP VIP is spread over every backend" {
	start_xlbd "$(write_config "$(sock_config)")"
	sockpeer xlb-lb tcp "$VIP4" 9000 100 >"$BATS_TEST_TMPDIR/answers" || true
	assert_spread "$BATS_TEST_TMPDIR/answers" 10
	# the path that served them: the socket hook, once per connection
	xlbctl stats | grep -E '^sock_connect +[0-9]+' >&2
	[[ $(reason_packets sock_connect) -ge 100 ]] || { fail "sock_connect not counted"; return 1; }
}

@test "a process in a child cgroup and another netns is spread too; the VIP itself is unreachable there" {
	SOCK_CG=$(cgroup2_mount)/xlb-socklb-test
	mkdir "$SOCK_CG"
	# no way to the VIP from the client netns but the socket hook's: XDP
	# never sees a packet to it
	CLIENT_BLACKHOLE=$VIP4/32
	ip -n xlb-client route add blackhole "$CLIENT_BLACKHOLE"
	start_xlbd "$(write_config "$(sock_config)")"
	run bash -c 'echo $$ >"$1/cgroup.procs" && exec grep "^0::" /proc/self/cgroup' _ "$SOCK_CG"
	[[ $output == "0::/xlb-socklb-test" ]] || { fail "not in the child cgroup: $output"; return 1; }
	# shellcheck disable=SC2016 # expanded by the inner bash
	bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$SOCK_CG" \
		nsenter --net=/run/netns/xlb-client "$PYTHON" "$SOCKPEER" tcp "$VIP4" 9000 100 \
		>"$BATS_TEST_TMPDIR/answers" || true
	assert_spread "$BATS_TEST_TMPDIR/answers" 10
	assert_peer_is "$BATS_TEST_TMPDIR/answers" "$VIP4:9000"
}

@test "getpeername() of a balanced TCP socket is the VIP, not the backend that answers" {
	start_xlbd "$(write_config "$(sock_config)")"
	sockpeer xlb-lb tcp "$VIP4" 9000 20 >"$BATS_TEST_TMPDIR/answers" || true
	cat "$BATS_TEST_TMPDIR/answers" >&2
	assert_spread "$BATS_TEST_TMPDIR/answers" 0
	assert_peer_is "$BATS_TEST_TMPDIR/answers" "$VIP4:9000"
}

@test "UDP on unconnected sockets: sendto a VIP reaches every backend, recvfrom shows the VIP; one socket keeps its backend" {
	start_xlbd "$(write_config "$(sock_config)")"
	sockpeer xlb-lb udp "$VIP4" 53 100 >"$BATS_TEST_TMPDIR/answers" || true
	assert_spread "$BATS_TEST_TMPDIR/answers" 10
	assert_peer_is "$BATS_TEST_TMPDIR/answers" "$VIP4:53"
	[[ $(reason_packets sock_sendmsg) -ge 100 ]] || { fail "sock_sendmsg not counted"; return 1; }
	sockpeer xlb-lb udp-one "$VIP4" 53 20 >"$BATS_TEST_TMPDIR/one" || true
	cat "$BATS_TEST_TMPDIR/one" >&2
	[[ $(names_of "$BATS_TEST_TMPDIR/one" | sort -u | wc -l) -eq 1 &&
		$(names_of "$BATS_TEST_TMPDIR/one" | grep -cx 'be[1-4]') -eq 20 ]] ||
		{ fail "one socket's datagrams went to several backends, or failed"; return 1; }
	assert_peer_is "$BATS_TEST_TMPDIR/one" "$VIP4:53"
}

@test "a drained backend gets no new local connections; with none left, connect() fails with EPERM" {
	local i
	start_xlbd "$(write_config "$(sock_config)")"
	xlbctl backend drain names 10.200.1.2:9000
	sockpeer xlb-lb tcp "$VIP4" 9000 90 >"$BATS_TEST_TMPDIR/answers" || true
	names_of "$BATS_TEST_TMPDIR/answers" >"$BATS_TEST_TMPDIR/names"
	assert_balanced "$BATS_TEST_TMPDIR/names" 10 be2 be3 be4
	for i in 2 3 4; do xlbctl backend drain names "10.200.$i.2:9000"; done
	run sockpeer xlb-lb tcp "$VIP4" 9000 1
	[[ $status -ne 0 && $output == *"Operation not permitted"* ]] ||
		{ fail "no backend left, yet: $output"; return 1; }
	[[ $(reason_packets sock_no_backend) -ge 1 ]] || { fail "sock_no_backend not counted"; return 1; }
}

@test "with --no-socket-lb nothing is attached, and a local client of the VIP reaches no backend" {
	unset XLBD_SOCKET_LB
	start_xlbd "$(write_config "$(sock_config)")"
	log_has 'event=socket_lb_attached' && { fail "attached despite --no-socket-lb"; return 1; }
	assert_no_sock_lb_attached
	run xlbctl status
	[[ $output == *"socket lb:   off"* ]] || { fail "status: $output"; return 1; }
	# from the lb's own namespace the VIP is nobody's address
	run sockpeer xlb-lb tcp "$VIP4" 9000 1
	[[ $status -ne 0 && $output == error:* ]] || { fail "a backend answered: $output"; return 1; }
	[[ $(reason_packets sock_connect) -eq 0 ]]
}

@test "IPv6 VIPs from the lb's namespace: TCP and UDP spread, the VIP as peer" {
	start_xlbd "$(write_config "$(sock_config)")"
	sockpeer xlb-lb tcp "$VIP6" 9000 60 >"$BATS_TEST_TMPDIR/tcp" || true
	assert_spread "$BATS_TEST_TMPDIR/tcp" 5
	assert_peer_is "$BATS_TEST_TMPDIR/tcp" "[$VIP6]:9000"
	sockpeer xlb-lb udp "$VIP6" 53 60 >"$BATS_TEST_TMPDIR/udp" || true
	assert_spread "$BATS_TEST_TMPDIR/udp" 5
	assert_peer_is "$BATS_TEST_TMPDIR/udp" "[$VIP6]:53"
}

@test "host names are left to the proxy (its listener is not rewritten); a host-routed service's own listen is balanced as XDP does" {
	start_xlbd "$(write_config "$(sock_config)
[http]
listen = $LB4:80
[service web]
host = web.lab
backend = 10.200.1.2:8080
backend = 10.200.2.2:8080
[service both]
listen = $VIP4:8080/tcp
host = both.lab
backend = 10.200.1.2:8080")"
	run in_lb curl -sS -m 3 -H 'Host: web.lab' "http://$LB4/who"
	[[ $status -eq 0 && $output == be[12] ]] || { fail "through the proxy: $output"; return 1; }
	run in_lb curl -sS -m 3 -H 'Host: both.lab' "http://$LB4/who"
	[[ $status -eq 0 && $output == be1 ]] || { fail "both, through the proxy: $output"; return 1; }
	[[ $(reason_packets sock_connect) -eq 0 ]] || { fail "the proxy's listener was rewritten"; return 1; }
	run in_lb curl -sS -m 3 "http://$VIP4:8080/who"
	[[ $status -eq 0 && $output == be1 ]] || { fail "both, at its VIP: $output"; return 1; }
	[[ $(reason_packets sock_connect) -eq 1 ]] || { fail "the VIP was not served by the hook"; return 1; }
}

@test "a killed xlbd leaves no hook attached" {
	start_xlbd "$(write_config "$(sock_config)")"
	[[ $(hook_count xlb_sock_connect4) -eq 1 ]]
	stop_xlbd KILL
	# the links were the process's: the kernel closed them with it
	wait_until 5 assert_no_sock_lb_attached
}

# The old xlbd's hooks stay until it exits: while it drains, both run; the
# first rewrites the VIP, the second sees a backend and leaves it.
@test "--takeover: both xlbds' hooks run at once while the old one drains, and local clients are served as before" {
	local cfg old status=0
	cfg=$(write_config "$(sock_config)
[http]
listen = $LB4:80
[service web]
host = api.app.dev
backend = 10.200.1.2:8080
backend = 10.200.2.2:8080")
	start_xlbd "$cfg"
	old=$XLBD_PID
	# one keep-alive connection through the old proxy keeps it draining
	bg_start xlb-client "$BATS_TEST_TMPDIR/held" \
		"$PYTHON" "$HTTPCLIENT" concurrent "$LB4" 80 api.app.dev 1 "$BATS_TEST_TMPDIR/release"
	wait_until 15 grep -q "^answered=1 of 1" "$BATS_TEST_TMPDIR/held" ||
		{ fail "held connection: $(cat "$BATS_TEST_TMPDIR/held")"; return 1; }
	start_xlbd "$cfg" --takeover --drain-timeout-ms 30000
	wait_log 'event=takeover listeners=1'
	pid_running "$old" || { fail "the old xlbd is gone already"; return 1; }
	[[ $(hook_count xlb_sock_connect4) -eq 2 ]] ||
		{ bpftool cgroup tree "$(cgroup2_mount)" >&2; fail "not two connect4 hooks"; return 1; }
	sockpeer xlb-lb tcp "$VIP4" 9000 100 >"$BATS_TEST_TMPDIR/answers" || true
	assert_spread "$BATS_TEST_TMPDIR/answers" 10
	assert_peer_is "$BATS_TEST_TMPDIR/answers" "$VIP4:9000"
	sockpeer xlb-lb udp "$VIP4" 53 20 >"$BATS_TEST_TMPDIR/udp" || true
	assert_peer_is "$BATS_TEST_TMPDIR/udp" "$VIP4:53"
	touch "$BATS_TEST_TMPDIR/release"
	wait_until 30 pid_gone "$old" || { fail "the old xlbd did not exit"; return 1; }
	wait "$old" || status=$?
	[[ $status -eq 0 ]] || { fail "old xlbd exit status $status"; return 1; }
	[[ $(hook_count xlb_sock_connect4) -eq 1 ]] || { fail "the old hooks stayed"; return 1; }
	sockpeer xlb-lb tcp "$VIP4" 9000 20 >"$BATS_TEST_TMPDIR/after" || true
	assert_spread "$BATS_TEST_TMPDIR/after" 0
	assert_peer_is "$BATS_TEST_TMPDIR/after" "$VIP4:9000"
}

@test "after the --user switch and under the seccomp filter the hooks still serve, and go when xlbd exits" {
	start_xlbd "$(write_config "$(sock_config)")" --user nobody
	log_has 'event=user_switched user=nobody' || { fail "no user switch logged"; return 1; }
	log_has 'event=seccomp mode=filter' || { fail "no seccomp filter logged"; return 1; }
	sockpeer xlb-lb tcp "$VIP4" 9000 40 >"$BATS_TEST_TMPDIR/answers" || true
	assert_spread "$BATS_TEST_TMPDIR/answers" 5
	assert_peer_is "$BATS_TEST_TMPDIR/answers" "$VIP4:9000"
	stop_xlbd TERM
	[[ $XLBD_STATUS == 0 ]] || { fail "xlbd exit status $XLBD_STATUS"; return 1; }
	assert_no_sock_lb_attached
}
