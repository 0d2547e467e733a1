# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
# A small lab of its own for bench/control.sh and memory.sh, so that
# they never touch the standard lab (scripts/lab.sh) another bench part may
# be using:
#
#   <P>-c   c0 10.211.0.2/24 ---- u0 10.211.0.1/24  <P>-lb   (xlbd, XDP on u0)
#   <P>-lb  b<i> 10.211.<i>.1/24 ---- eth0 10.211.<i>.2/24  <P>-b<i>
#
# The client routes the VIP 10.211.0.100 and the lb routes 10.211.128.0/17
# (source addresses of generated flows) back to the client.
# Needs: REPO, BUILD. Sets: CBLAB_PREFIX, CBLAB_N, CBLAB_XLBD_PID.

CBLAB_VIP=10.211.0.100
CBLAB_SRC_NET=10.211.128.0/17
CBLAB_PREFIX=
CBLAB_N=0
CBLAB_XLBD_PID=

# wait_for SECONDS CMD...: polls CMD every 50 ms until it succeeds.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || return 1
		sleep 0.05
	done
}

# A zombie child counts as gone.
pid_running() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

pid_gone() { ! pid_running "$1"; }

# stop_pid PID: SIGTERM, SIGKILL after 10 s, and reap it.
stop_pid() {
	[[ -n $1 ]] || return 0
	kill "$1" 2>/dev/null || true
	wait_for 10 pid_gone "$1" || kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

cblab_ns_list() {
	local i
	echo "$CBLAB_PREFIX-c" "$CBLAB_PREFIX-lb"
	for ((i = 1; i <= CBLAB_N; i++)); do echo "$CBLAB_PREFIX-b$i"; done
}

cblab_make_ns() {
	ip netns add "$1"
	ip -n "$1" link set lo up
}

cblab_backend() {
	local i=$1 ns=$CBLAB_PREFIX-b$1 lb=$CBLAB_PREFIX-lb
	cblab_make_ns "$ns"
	ip -n "$lb" link add "b$i" type veth peer name eth0 netns "$ns"
	ip -n "$lb" addr add "10.211.$i.1/24" dev "b$i"
	ip -n "$ns" addr add "10.211.$i.2/24" dev eth0
	ip -n "$lb" link set "b$i" up
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add default via "10.211.$i.1"
}

cblab_links_up() {
	local i
	[[ $(ip -n "$CBLAB_PREFIX-c" -br link show c0) == *" UP "* ]] || return 1
	for ((i = 1; i <= CBLAB_N; i++)); do
		[[ $(ip -n "$CBLAB_PREFIX-lb" -br link show "b$i") == *" UP "* ]] || return 1
		[[ $(ip -n "$CBLAB_PREFIX-b$i" -br link show eth0) == *" UP "* ]] || return 1
	done
}

# cblab_up PREFIX N: the namespaces PREFIX-c, PREFIX-lb, PREFIX-b1..N.
cblab_up() {
	local ns i c lb
	CBLAB_PREFIX=$1
	CBLAB_N=$2
	c=$CBLAB_PREFIX-c
	lb=$CBLAB_PREFIX-lb
	for ns in $(cblab_ns_list); do
		if [[ -e /run/netns/$ns ]]; then
			echo "cblab: netns $ns exists already (another run?)" >&2
			CBLAB_N=-1 # cblab_down must not remove what is not ours
			return 1
		fi
	done
	cblab_make_ns "$c"
	cblab_make_ns "$lb"
	ip -n "$c" link add c0 type veth peer name u0 netns "$lb"
	ip -n "$c" addr add 10.211.0.2/24 dev c0
	ip -n "$lb" addr add 10.211.0.1/24 dev u0
	ip -n "$c" link set c0 up
	ip -n "$lb" link set u0 up
	# XDP must see complete checksums, as from a NIC (README, design).
	ip netns exec "$c" ethtool -K c0 tx off >/dev/null
	ip -n "$c" route add "$CBLAB_VIP/32" via 10.211.0.1
	ip -n "$lb" route add "$CBLAB_SRC_NET" via 10.211.0.2
	ip netns exec "$lb" sysctl -qw net.ipv4.ip_forward=1
	for ((i = 1; i <= CBLAB_N; i++)); do cblab_backend "$i"; done
	wait_for 10 cblab_links_up
}

ctl_ping() { [[ $(printf 'ping\n' | socat -t 5 - "UNIX-CONNECT:$1" | tail -n 1) == ok ]]; }

# cblab_xlbd CONFIG PIN_DIR SOCKET LOG [ARGS...]: xlbd in PREFIX-lb with
# XDP on u0; waits until its control socket answers.
cblab_xlbd() {
	local cfg=$1 pin=$2 sock=$3 log=$4
	shift 4
	# --no-socket-lb: the lab's client stands for a remote one (XDP)
	nsenter --net="/run/netns/$CBLAB_PREFIX-lb" "$BUILD/xlbd" --config "$cfg" --iface u0 --attach xdp \
		--no-socket-lb --pin-dir "$pin" --control "$sock" --log-level info "$@" </dev/null >"$log" 2>&1 &
	CBLAB_XLBD_PID=$!
	wait_for 15 ctl_ping "$sock" || { cat "$log" >&2; return 1; }
}

# cblab_down PIN_DIR: stops xlbd, removes its pins and attachments, and the
# lab's namespaces with whatever still runs in them.
cblab_down() {
	local ns pid
	stop_pid "$CBLAB_XLBD_PID"
	CBLAB_XLBD_PID=
	[[ -z ${1-} ]] || "$BUILD/xlbctl" --pin-dir "$1" teardown >/dev/null 2>&1 || true
	((CBLAB_N >= 0)) || return 0
	[[ -n $CBLAB_PREFIX ]] || return 0
	for ns in $(cblab_ns_list); do
		[[ -e /run/netns/$ns ]] || continue
		for pid in $(ip netns pids "$ns"); do kill "$pid" 2>/dev/null || true; done
		ip netns del "$ns"
	done
	CBLAB_PREFIX=
	CBLAB_N=0
}
