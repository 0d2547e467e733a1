#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# L4 balancing to backends behind a Linux bridge, as Docker runs them
# (docker0, br-*: each container's eth0 is a veth whose other end is a
# bridge port). XDP cannot redirect into a bridge: xlbd finds each
# backend's bridge port (neighbour table, then the bridge's FDB), and XDP
# redirects into the port; the tc return program on the port turns the
# replies around before the bridge sees them.
#
# Its own namespaces, pin dir and control socket, so the shared lab
# (scripts/lab.sh) is neither used nor touched:
#
#   xlb-br-client  c0 10.202.0.2/24 ---- u0 10.202.0.1/24  xlb-br-lb
#   xlb-br-lb      xbr0 10.202.1.1/24: a bridge with ports xp1..xp3
#   xlb-br-be<i>   eth0 10.202.1.<i+1>/24, the peer of xp<i>;
#                  tests/lab/httpserver.py on :8080 (/who answers be<i>)
#   xlb-br-other   eth0 10.202.1.5/24, the peer of xp9: a container on the
#                  same bridge that is no backend
#
# The client routes the VIP 10.202.0.100 to the lb, which has no address
# for it: only XDP answers it.

load helpers

BR_VIP=10.202.0.100
BR_NAMESPACES=(xlb-br-client xlb-br-lb xlb-br-be1 xlb-br-be2 xlb-br-be3 xlb-br-other)
UDPFORGE=$REPO/tests/lab/udpforge.py
BR_REQUESTS=30
# read by helpers.bash (xlbctl, xlb_test_teardown)
# shellcheck disable=SC2034
PIN_DIR=/sys/fs/bpf/xlb-br
# shellcheck disable=SC2034
CTL_SOCK=/run/xlb/br.sock

# helpers.bash's xlbctl, host_answers and assert_no_bpf_attached then work
# on this file's namespaces instead of the shared lab's.
in_lb() { in_ns xlb-br-lb "$@"; }
in_client() { in_ns xlb-br-client "$@"; }
lab_namespaces() { printf '%s\n' "${BR_NAMESPACES[@]}"; }

# --- the bridge lab ---------------------------------------------------------------

# br_backend_link I: backend I's veth, its lb end a port of xbr0, the way
# Docker connects a container to its bridge.
br_backend_link() {
	local i=$1 ns=xlb-br-be$1
	ip -n xlb-br-lb link add "xp$i" type veth peer name eth0 netns "$ns"
	ip -n xlb-br-lb link set "xp$i" master xbr0 up
	ip -n "$ns" addr add "10.202.1.$((i + 1))/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add default via 10.202.1.1
}

# br_other_link: xlb-br-other on xbr0 (port xp9), as another container
# on the backends' network.
br_other_link() {
	ip -n xlb-br-lb link add xp9 type veth peer name eth0 netns xlb-br-other
	ip -n xlb-br-lb link set xp9 master xbr0 up
	ip -n xlb-br-other addr add 10.202.1.5/24 dev eth0
	ip -n xlb-br-other link set eth0 up
	ip -n xlb-br-other route add default via 10.202.1.1
}

link_up() { [[ $(ip -n "$1" -br link show "$2") == *" UP "* ]]; }

br_links_up() {
	local i
	link_up xlb-br-client c0 && link_up xlb-br-lb u0 && link_up xlb-br-lb xbr0 || return 1
	for i in 1 2 3; do
		link_up xlb-br-lb "xp$i" && link_up "xlb-br-be$i" eth0 || return 1
	done
	link_up xlb-br-lb xp9 && link_up xlb-br-other eth0
}

br_lab_up() {
	local ns i
	for ns in "${BR_NAMESPACES[@]}"; do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
	done
	ip -n xlb-br-client link add c0 type veth peer name u0 netns xlb-br-lb
	ip -n xlb-br-client addr add 10.202.0.2/24 dev c0
	ip -n xlb-br-lb addr add 10.202.0.1/24 dev u0
	ip -n xlb-br-client link set c0 up
	ip -n xlb-br-lb link set u0 up
	# XDP must see complete checksums, as from a real NIC (README)
	in_ns xlb-br-client ethtool -K c0 tx off >/dev/null
	ip -n xlb-br-client route add "$BR_VIP/32" via 10.202.0.1
	ip -n xlb-br-client route add 10.202.1.0/24 via 10.202.0.1
	in_ns xlb-br-lb sysctl -qw net.ipv4.ip_forward=1
	# A MAC of its own, as Docker gives its bridges: one without takes its
	# lowest port's, and each change of MAC flushes the neighbour table.
	ip -n xlb-br-lb link add xbr0 address 02:02:02:00:00:01 type bridge
	ip -n xlb-br-lb addr add 10.202.1.1/24 dev xbr0
	ip -n xlb-br-lb link set xbr0 up
	for i in 1 2 3; do br_backend_link "$i"; done
	br_other_link
	wait_until 10 br_links_up
}

# Stops every process in this file's namespaces (the servers, an xlbd
# left behind) by pid, and deletes the namespaces that exist.
br_lab_down() {
	local ns pid
	local -a pids=()
	for ns in "${BR_NAMESPACES[@]}"; do
		[[ -e /run/netns/$ns ]] || continue
		mapfile -t -O "${#pids[@]}" pids < <(ip netns pids "$ns")
	done
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do
		wait_until 5 pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
	done
	for ns in "${BR_NAMESPACES[@]}"; do
		[[ ! -e /run/netns/$ns ]] || ip netns del "$ns"
	done
}

listening_8080() { [[ -n $(in_ns "$1" ss -Hltn 'sport = :8080') ]]; }

br_serve() {
	local i
	for i in 1 2 3; do
		setsid nsenter --net="/run/netns/xlb-br-be$i" "$PYTHON" "$REPO/tests/lab/httpserver.py" \
			--name "be$i" --port 8080 </dev/null >"$BATS_FILE_TMPDIR/http-be$i.log" 2>&1 3>&- &
	done
	for i in 1 2 3; do
		wait_until 10 listening_8080 "xlb-br-be$i" ||
			{ cat "$BATS_FILE_TMPDIR/http-be$i.log" >&2; return 1; }
	done
}

setup_file() {
	require_built
	br_lab_down
	br_lab_up
	br_serve
}

teardown_file() {
	br_lab_down
}

# xlbd may run under a launcher that is not xlbd itself (see
# dockerlike_launcher): stop xlbd first, then what helpers.bash cleans.
teardown() {
	[[ -z ${XLBD_PID-} ]] || stop_xlbd TERM
	xlb_test_teardown
}

# --- xlbd -----------------------------------------------------------------------

br_config() {
	local i
	echo "[service api]"
	echo "listen = $BR_VIP:80/tcp"
	for i in 1 2 3; do echo "backend = 10.202.1.$((i + 1)):8080"; done
	echo "[service dns]"
	echo "listen = $BR_VIP:53/udp"
	echo "backend = 10.202.1.2:5353"
}

is_xlbd() { [[ $(readlink "/proc/$1/exe" 2>/dev/null) == "$(readlink -f "$XLBD")" ]]; }

# xlbd_pid_under PID: PID itself once it has exec'd xlbd, or its child
# that has.
xlbd_pid_under() {
	local p
	for p in "$1" $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
		is_xlbd "$p" && { echo "$p"; return 0; }
	done
	return 1
}

# br_start_xlbd [LAUNCHER...]: xlbd with br_config on u0 of the lb netns,
# in the background, run through LAUNCHER (default: nsenter into the lb
# netns); waits until its control socket answers. XLBD_PID is xlbd itself;
# a launcher process left in between goes to BG_PIDS, to be reaped.
br_start_xlbd() {
	local -a launcher=("$@")
	((${#launcher[@]})) || launcher=(nsenter --net=/run/netns/xlb-br-lb)
	local cfg launched deadline=$((SECONDS + 15))
	local -a modes
	mapfile -t modes < <(xlbd_mode_args)
	cfg=$(write_config "$(br_config)")
	XLBD_LOG=$BATS_TEST_TMPDIR/xlbd.log
	"${launcher[@]}" "$XLBD" --config "$cfg" --iface u0 "${modes[@]}" --pin-dir "$PIN_DIR" \
		--control "$CTL_SOCK" --log-level debug </dev/null >>"$XLBD_LOG" 2>&1 3>&- &
	launched=$!
	until XLBD_PID=$(xlbd_pid_under "$launched") && control_ok ping 2>/dev/null; do
		if ! pid_running "$launched" || ((SECONDS >= deadline)); then
			fail "xlbd did not get ready; log:" || true
			cat "$XLBD_LOG" >&2
			XLBD_PID=
			BG_PIDS+=("$launched")
			return 1
		fi
		sleep 0.1
	done
	[[ $XLBD_PID == "$launched" ]] || BG_PIDS+=("$launched")
}

# --- what the test looks at -------------------------------------------------------

ifindex_of() { ip -n "$1" -o link show dev "$2" | awk -F': ' '{ print $1 }'; }
mac_of() { ip -n "$1" -o link show dev "$2" | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2; }

# What xlb_bridge_ports must hold: each backend's MAC on xbr0 -> its port,
# as "BRIDGE_IFINDEX/MAC=PORT_IFINDEX" lines.
expected_bridge_ports() {
	local br i
	br=$(ifindex_of xlb-br-lb xbr0)
	for i in 1 2 3; do
		echo "$br/$(mac_of "xlb-br-be$i" eth0)=$(ifindex_of xlb-br-lb "xp$i")"
	done | sort
}

bridge_ports_dump() {
	bpftool -j map dump pinned "$PIN_DIR/xlb_bridge_ports" | "$PYTHON" -c '
import json, sys
for e in json.load(sys.stdin):
    k, v = e["formatted"]["key"], e["formatted"]["value"]
    print("%d/%s=%d" % (k["bridge_ifindex"], ":".join("%02x" % b for b in k["mac"]), v))' |
		sort
}

# xlb_bridge_ports holds exactly one entry per backend, naming its port.
bridge_ports_complete() {
	[[ $(bridge_ports_dump) == "$(expected_bridge_ports)" ]]
}

wait_bridge_ports() {
	wait_until 20 bridge_ports_complete || {
		echo "xlb_bridge_ports expected:" >&2
		expected_bridge_ports >&2
		echo "xlb_bridge_ports actual:" >&2
		bridge_ports_dump >&2
		fail "xlb_bridge_ports is not one entry per backend after 20s"
	}
}

bridge_rx_packets() {
	ip -n xlb-br-lb -s -j link show xbr0 | "$PYTHON" -c '
import json, sys
print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])'
}

# requests_reach_all FILE: BR_REQUESTS requests (each a new connection) to
# the VIP; every one answered, by be1, be2 or be3, and each answers.
requests_reach_all() {
	host_answers "$BR_REQUESTS" api "http://$BR_VIP/who" >"$1"
	assert_only_from "$1" be1 be2 be3
	[[ $(wc -l <"$1") -eq $BR_REQUESTS ]] || { fail "$(wc -l <"$1") answers"; return 1; }
}

# assert_redirected_batch NAME: a batch of requests goes XDP -> bridge port
# -> backend and back through the port's tc program: fwd_redirect and
# rnat_redirect grow, fwd_stack (the kernel forwarding) does not, and the
# bridge device itself receives fewer packets than there were requests
# (each reply is at least three packets; through the bridge, every one
# would count there). Prints the deltas as TAP comments.
assert_redirected_batch() {
	local red stack rnat rx
	red=$(reason_packets fwd_redirect)
	stack=$(reason_packets fwd_stack)
	rnat=$(reason_packets rnat_redirect)
	rx=$(bridge_rx_packets)
	requests_reach_all "$BATS_TEST_TMPDIR/answers-$1"
	red=$(($(reason_packets fwd_redirect) - red))
	stack=$(($(reason_packets fwd_stack) - stack))
	rnat=$(($(reason_packets rnat_redirect) - rnat))
	rx=$(($(bridge_rx_packets) - rx))
	echo "# $1: $BR_REQUESTS requests: fwd_redirect +$red fwd_stack +$stack rnat_redirect +$rnat xbr0 rx +$rx" >&3
	((red >= BR_REQUESTS)) || { fail "fwd_redirect grew by $red for $BR_REQUESTS requests"; return 1; }
	((stack == 0)) || { fail "fwd_stack grew by $stack: the kernel still forwards"; return 1; }
	((rnat >= BR_REQUESTS)) || { fail "rnat_redirect grew by $rnat for $BR_REQUESTS requests"; return 1; }
	((rx < BR_REQUESTS)) || { fail "xbr0 received $rx packets: replies went through the bridge"; return 1; }
}

# Every backend's veth end has an XDP program (its peer xp<i> can take
# redirected frames), and every port the return program.
assert_ports_prepared() {
	local i
	for i in 1 2 3; do
		[[ $(ip -n "xlb-br-be$i" -d link show eth0) == *prog/xdp* ]] ||
			{ fail "no XDP program on eth0 of xlb-br-be$i"; return 1; }
		[[ $(tc -n xlb-br-lb filter show dev "xp$i" ingress) == *xlb_return* ]] ||
			{ fail "no xlb_return on xp$i"; return 1; }
	done
}

# --- the tests ----------------------------------------------------------------------

@test "bridge lab: backends answer through the bridge, the VIP not without xlbd" {
	run in_client curl -sS -m 3 http://10.202.1.2:8080/who
	[[ $status -eq 0 && $output == be1 ]] || fail "direct: $output"
	run in_client curl -sS -m 1 "http://$BR_VIP/who"
	[[ $status -ne 0 ]] || fail "VIP answered without xlbd: $output"
}

@test "bridged backends: all answer; once their ports are known XDP redirects into them and replies skip the bridge" {
	br_start_xlbd
	# The first requests teach the kernel the backends' MACs and the
	# bridge where they sit; the kernel forwards them meanwhile.
	requests_reach_all "$BATS_TEST_TMPDIR/answers-first"
	wait_bridge_ports
	assert_ports_prepared
	assert_redirected_batch redirected
}

@test "a backend whose veth is replaced (new port, new MAC): its entry follows, the stale one goes" {
	br_start_xlbd
	requests_reach_all "$BATS_TEST_TMPDIR/answers-first"
	wait_bridge_ports
	# the container restarts: its veth pair is made anew
	ip -n xlb-br-lb link del xp3
	br_backend_link 3
	wait_until 10 br_links_up
	# as a starting container does, be3 talks first, which tells the lb
	# its new MAC and the bridge its new port
	in_ns xlb-br-be3 ping -c 1 -W 2 10.202.1.1 >/dev/null
	wait_bridge_ports
	assert_ports_prepared
	assert_redirected_batch replaced
}

@test "xlbctl teardown leaves no program on the bridge, its ports or the backends' veths, and no pins" {
	br_start_xlbd
	requests_reach_all "$BATS_TEST_TMPDIR/answers"
	wait_bridge_ports
	stop_xlbd TERM
	[[ $XLBD_STATUS == 0 ]] || { fail "xlbd exit status after SIGTERM: $XLBD_STATUS"; return 1; }

	run xlbctl teardown
	[[ $status -eq 0 ]] || { fail "xlbctl teardown: status $status: $output"; return 1; }
	[[ ! -e $PIN_DIR ]] || { fail "pin dir left: $(ls -la "$PIN_DIR")"; return 1; }
	assert_no_bpf_attached
	run in_client curl -sS -m 3 http://10.202.1.2:8080/who
	[[ $status -eq 0 && $output == be1 ]] || { fail "direct after teardown: $output"; return 1; }
	run in_client curl -sS -m 1 "http://$BR_VIP/who"
	[[ $status -ne 0 ]] || { fail "VIP still answers after teardown: $output"; return 1; }
}

# Runs "$@" (xlbd) as it runs in a container with network_mode host: in a
# pid namespace of its own, so its /proc shows no backend's process, and a
# mount namespace where the backends' netns are bind-mounted only under
# /run/docker/netns, as dockerd mounts its containers', and /run/netns is
# empty. Only the private mount namespace sees those mounts; the host's
# /run/docker/netns is untouched.
# shellcheck disable=SC2016 # expanded by the inner bash
DOCKERLIKE_SH='
set -euo pipefail
mount -t tmpfs xlb-br-docker /run/docker/netns
for ns in xlb-br-be1 xlb-br-be2 xlb-br-be3; do
	: >"/run/docker/netns/$ns"
	mount --bind "/run/netns/$ns" "/run/docker/netns/$ns"
done
exec 9</run/netns/xlb-br-lb
mount -t tmpfs xlb-br-hide /run/netns
exec nsenter --net=/proc/self/fd/9 sh -c "exec 9<&-; exec \"\$@\"" sh "$@"
'

@test "xlbd in its own pid namespace (a container) prepares the ports' peers through Docker's netns dir" {
	[[ -d /run/docker/netns ]] || skip "no /run/docker/netns on this host (Docker not installed)"
	br_start_xlbd unshare --mount --propagation private --pid --fork --mount-proc \
		--kill-child=SIGTERM bash -c "$DOCKERLIKE_SH" dockerlike
	requests_reach_all "$BATS_TEST_TMPDIR/answers-first"
	wait_bridge_ports
	assert_ports_prepared
	! log_has 'event=peer_prepare_failed' || { fail "a peer was not prepared:"; grep peer_prepare "$XLBD_LOG" >&2; return 1; }
	assert_redirected_batch dockerlike
}

# --- replies only from the backend's link -----------------------------------------

udp_listening() { [[ -n $(in_ns "$1" ss -Hlun "sport = :$2") ]]; }

# answers_from LOG FROM TEXT: lines of the client's LOG that say a
# datagram TEXT came from FROM (ADDR:PORT).
answers_from() {
	grep -cxF -- "from $2 $3" "$1" || true
}

answers_more_than() { (($(answers_from "$1" "$2" "$3") > $4)); }

reply_link_drops_at_least() { (($(reason_packets drop_reply_link) >= $1)); }

# Docker grants its containers NET_RAW: one on the backends' bridge can
# send from a backend's address and port. Only what comes from the
# backend's own link (and, through the bridge, its MAC) may leave as the
# VIP's.
@test "another container on the bridge forging a UDP backend's replies: the client never gets them from the VIP; the backend's own still come" {
	local log=$BATS_TEST_TMPDIR/client.log n drops
	bg_start xlb-br-be1 "$BATS_TEST_TMPDIR/name-be1.log" \
		"$PYTHON" "$REPO/tests/lab/nameserver.py" --name be1 --tcp-port 9053 --udp-port 5353
	wait_until 10 udp_listening xlb-br-be1 5353
	br_start_xlbd
	: >"$log"
	# the client's flow: 10.202.0.2:40053 -> VIP:53, to be1
	bg_start xlb-br-client "$BATS_TEST_TMPDIR/client.err" \
		"$PYTHON" "$UDPFORGE" listen "$BR_VIP" 53 "$log" --local-port 40053
	wait_until 10 answers_more_than "$log" "$BR_VIP:53" be1 0 ||
		{ fail "no answer from be1 through the VIP:"; cat "$log" "$BATS_TEST_TMPDIR/client.err" >&2; return 1; }

	drops=$(reason_packets drop_reply_link 2>/dev/null) || drops=0
	in_ns xlb-br-other "$PYTHON" "$UDPFORGE" forge 10.202.1.2 5353 10.202.0.2 40053 forged --count 5
	# be1 is still heard through the VIP after the forgery (two more
	# answers, each a round trip that began after the forged datagrams
	# had left)
	n=$(answers_from "$log" "$BR_VIP:53" be1)
	wait_until 10 answers_more_than "$log" "$BR_VIP:53" be1 $((n + 1)) ||
		{ fail "be1's answers stopped after the forgery"; return 1; }
	echo "# client log:" >&3
	sort "$log" | uniq -c | sed 's/^/#   /' >&3
	! grep -q forged "$log" || { fail "the client received forged datagrams:"; grep forged "$log" >&2; return 1; }
	# each forged datagram reached the return program and was counted
	wait_until 10 reply_link_drops_at_least $((drops + 5)) ||
		{ fail "drop_reply_link went from $drops to $(reason_packets drop_reply_link), not +5"; return 1; }
}
