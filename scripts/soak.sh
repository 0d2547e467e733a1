#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The soak: xlbd on the netns lab with an L4 service (XDP) and a Host-routed
# one (the proxy), client loops of new connections to both for DURATION_S
# seconds, and a scaling event every S seconds (30 by default): a scale-down
# drains a backend of both services, waits until its connections are gone
# and deletes it; the next scale-up adds it back; the victim rotates.
# xlbd's RSS and descriptor count are sampled every second.
#
# usage: soak.sh DURATION_S [--events-every S]     (root; builds nothing)
#
# Prints a table of requests, failed requests, events, and RSS and fds at
# the start, at the end and their least-squares slope, then the same as
# "soak ..." key=value lines. Exits 1 when a request failed or xlbd holds
# more descriptors at the end (load stopped, connections closed) than
# before the load; 2 on a usage error.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$REPO/build}
LAB=$REPO/scripts/lab.sh
LOADCLIENT=$REPO/tests/lab/loadclient.py
PYTHON=${PYTHON:-python3}
PIN_DIR=/sys/fs/bpf/xlb-soak
CTL_SOCK=/run/xlb/soak.sock
VIP=10.200.0.100
LB=10.200.0.1
VHOST=web.soak.test
# how long a drained backend's connections may take to end
DRAIN_WAIT_S=20

usage() {
	echo "usage: soak.sh DURATION_S [--events-every S]" >&2
	exit 2
}

DURATION=${1:-}
[[ $DURATION =~ ^[0-9]+$ ]] && ((DURATION >= 10)) || usage
shift
EVERY=30
while (($#)); do
	case $1 in
	--events-every)
		EVERY=${2:-}
		[[ $EVERY =~ ^[0-9]+$ ]] && ((EVERY >= 2)) || usage
		shift 2
		;;
	*) usage ;;
	esac
done
[[ $(id -u) -eq 0 ]] || { echo "soak.sh: must run as root" >&2; exit 2; }
for f in "$BUILD/xlbd" "$BUILD/xlbctl"; do
	[[ -x $f ]] || { echo "soak.sh: missing $f (make first)" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/xlb-soak.XXXXXX)
XLBD_PID=
BG_PIDS=()

in_lb() { nsenter --net=/run/netns/xlb-lb "$@"; }
xlbctl() { in_lb "$BUILD/xlbctl" --pin-dir "$PIN_DIR" --socket "$CTL_SOCK" "$@" >/dev/null; }
now_ms() { date +%s%3N; }

cleanup() {
	local pid
	for pid in "${BG_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${BG_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	if [[ -n $XLBD_PID ]]; then
		kill -TERM "$XLBD_PID" 2>/dev/null || true
		wait "$XLBD_PID" 2>/dev/null || true
	fi
	"$BUILD/xlbctl" --pin-dir "$PIN_DIR" teardown >/dev/null 2>&1 || true
	rm -f "$CTL_SOCK"
	"$LAB" down >/dev/null 2>&1 || true
	if [[ -n ${KEEP_WORK-} ]]; then echo "soak: work dir $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# --- set-up -------------------------------------------------------------------

be_ip() { echo "10.200.$1.2"; }

write_config() {
	local i
	{
		echo "[http]"
		echo "listen = $LB:80"
		echo "[service names]"
		echo "listen = $VIP:9000/tcp"
		for i in 1 2 3; do echo "backend = $(be_ip "$i"):9000"; done
		echo "[service web]"
		echo "host = $VHOST"
		for i in 1 2 3; do echo "backend = $(be_ip "$i"):8080"; done
	} >"$WORK/xlb.ini"
}

start_xlbd() {
	local deadline=$((SECONDS + 15))
	# nsenter itself in the background: it execs xlbd, so $! is xlbd's pid
	# --no-socket-lb: the soak's client stands for a remote one (XDP)
	nsenter --net=/run/netns/xlb-lb "$BUILD/xlbd" --config "$WORK/xlb.ini" --iface u0 --attach xdp \
		--no-socket-lb --pin-dir "$PIN_DIR" --control "$CTL_SOCK" --log-level info </dev/null \
		>"$WORK/xlbd.log" 2>&1 &
	XLBD_PID=$!
	until grep -q 'event=ready' "$WORK/xlbd.log"; do
		if ((SECONDS >= deadline)) || ! kill -0 "$XLBD_PID" 2>/dev/null; then
			cat "$WORK/xlbd.log" >&2
			echo "soak.sh: xlbd did not start" >&2
			exit 1
		fi
		sleep 0.1
	done
}

set_up() {
	"$LAB" up 4 >/dev/null
	# The L4 loop opens ~500 connections a second to one VIP:port, and the
	# client closes first: its TIME-WAITs would use up the default 28k
	# ephemeral ports within a minute (connect: EADDRNOTAVAIL, the client's
	# own limit, not the balancer's). A flow reusing a tuple is balanced
	# like a new one (its SYN re-picks unless the backend is active).
	ip netns exec xlb-client sysctl -qw net.ipv4.tcp_tw_reuse=1 \
		net.ipv4.ip_local_port_range="1024 65535"
	local i
	for i in 1 2 3 4; do
		"$LAB" serve-name "$i" >/dev/null
		"$LAB" serve-http "$i" >/dev/null
	done
	write_config
	start_xlbd
}

# --- load, samples ---------------------------------------------------------------

bg() {
	"$@" </dev/null &
	BG_PIDS+=("$!")
}

start_load() {
	bg nsenter --net=/run/netns/xlb-client "$PYTHON" "$LOADCLIENT" tcp "$VIP" 9000 \
		"$WORK/l4.log" --conns 2
	L4_PID=$!
	bg nsenter --net=/run/netns/xlb-client "$PYTHON" "$LOADCLIENT" http "$LB" 80 "$VHOST" \
		"$WORK/host.log" --conns 2
	HOST_PID=$!
}

stop_load() {
	kill -TERM "$L4_PID" "$HOST_PID" 2>/dev/null || true
	wait "$L4_PID" "$HOST_PID" 2>/dev/null || true
}

fd_count() {
	local fds=("/proc/$XLBD_PID/fd"/*)
	echo "${#fds[@]}"
}

rss_kib() {
	awk '$1 == "VmRSS:" { print $2 }' "/proc/$XLBD_PID/status"
}

# One "seconds rss_kib fds" line a second, until killed.
sampler() {
	local t0=$SECONDS
	while kill -0 "$XLBD_PID" 2>/dev/null; do
		echo "$((SECONDS - t0)) $(rss_kib) $(fd_count)"
		sleep 1
	done
}

# --- scaling events ------------------------------------------------------------------

# Connections on the backend itself, in any state but TIME-WAIT (the
# client's to keep) and LISTEN.
backend_conns() {
	nsenter --net="/run/netns/xlb-be$1" ss -Htn state established state syn-recv \
		state fin-wait-1 state fin-wait-2 state close-wait state last-ack state closing \
		'( sport = :9000 or sport = :8080 )' | wc -l
}

scale_down() {
	local i=$1 deadline=$((SECONDS + DRAIN_WAIT_S))
	xlbctl backend drain names "$(be_ip "$i"):9000"
	xlbctl backend drain web "$(be_ip "$i"):8080"
	until (($(backend_conns "$i") == 0)); do
		if ((SECONDS >= deadline)); then
			echo "soak.sh: be$i still has connections ${DRAIN_WAIT_S}s after the drain" >&2
			break
		fi
		sleep 0.1
	done
	xlbctl backend del names "$(be_ip "$i"):9000"
	xlbctl backend del web "$(be_ip "$i"):8080"
}

scale_up() {
	xlbctl backend add names "$(be_ip "$1"):9000"
	xlbctl backend add web "$(be_ip "$1"):8080"
}

# Event k (from 0): even ones add the backend that is out (be4 first),
# odd ones drain and delete the next one in turn (be1, be2, be3, be4, ...).
OUT=4
run_event() {
	local k=$1
	if ((k % 2 == 0)); then
		scale_up "$OUT"
		echo "$(now_ms) up be$OUT" >>"$WORK/events"
	else
		OUT=$(((k / 2) % 4 + 1))
		scale_down "$OUT"
		echo "$(now_ms) down be$OUT" >>"$WORK/events"
	fi
}

# --- figures ----------------------------------------------------------------------------

# slope FILE COLUMN [FROM_S]: least-squares slope of COLUMN over the first
# column (seconds), per minute.
slope() {
	awk -v c="$2" -v from="${3:-0}" '$1 >= from {
		n++; sx += $1; sy += $c; sxx += $1 * $1; sxy += $1 * $c
	} END {
		d = n * sxx - sx * sx
		printf "%.1f\n", (n > 1 && d != 0) ? (n * sxy - sx * sy) / d * 60 : 0
	}' "$1"
}

# value_at FILE COLUMN SECONDS: COLUMN of the first sample at or after SECONDS.
value_at() {
	awk -v c="$2" -v t="$3" '$1 >= t { print $c; exit }' "$1"
}

summary_field() {
	local line
	line=$("$PYTHON" "$LOADCLIENT" summary "$1" | head -n 1)
	line=${line#*"$2"=}
	echo "${line%% *}"
}

report() {
	local l4_req l4_fail host_req host_fail events rss0 rss_mid rss1 fd0=$1 fd1=$2 last half
	l4_req=$(summary_field "$WORK/l4.log" requests)
	l4_fail=$(summary_field "$WORK/l4.log" failed)
	host_req=$(summary_field "$WORK/host.log" requests)
	host_fail=$(summary_field "$WORK/host.log" failed)
	events=$(wc -l <"$WORK/events")
	last=$(tail -n 1 "$WORK/samples" | awk '{ print $1 }')
	half=$((last / 2))
	rss0=$(head -n 1 "$WORK/samples" | awk '{ print $2 }')
	rss_mid=$(value_at "$WORK/samples" 2 "$half")
	rss1=$(tail -n 1 "$WORK/samples" | awk '{ print $2 }')
	REQUESTS=$((l4_req + host_req))
	FAILED=$((l4_fail + host_fail))
	printf '| soak %s s, events every %s s | start | end | slope /min |\n' "$DURATION" "$EVERY"
	printf '|---|---|---|---|\n'
	printf '| requests (L4 / Host) | %s (%s / %s) | | |\n' "$REQUESTS" "$l4_req" "$host_req"
	printf '| failed (L4 / Host) | %s (%s / %s) | | |\n' "$FAILED" "$l4_fail" "$host_fail"
	printf '| scaling events | %s | | |\n' "$events"
	printf '| xlbd RSS (KiB) | %s | %s | %s |\n' "$rss0" "$rss1" "$(slope "$WORK/samples" 2)"
	printf '| xlbd fds | %s | %s | %s |\n' "$fd0" "$fd1" "$(slope "$WORK/samples" 3)"
	echo "soak requests=$REQUESTS failed=$FAILED l4_requests=$l4_req l4_failed=$l4_fail host_requests=$host_req host_failed=$host_fail events=$events duration_s=$DURATION"
	echo "soak rss_kib start=$rss0 end=$rss1 slope_kib_per_min=$(slope "$WORK/samples" 2) second_half_growth_kib=$((rss1 - rss_mid)) second_half_slope_kib_per_min=$(slope "$WORK/samples" 2 "$half")"
	echo "soak fds start=$fd0 end=$fd1 slope_per_min=$(slope "$WORK/samples" 3) (start: before the load; end: after it, connections closed)"
}

# --- main ----------------------------------------------------------------------------------

main() {
	local t_end k=0 next fd_start fd_end deadline
	set_up
	: >"$WORK/events"
	fd_start=$(fd_count)
	bg sampler >"$WORK/samples"
	SAMPLER_PID=$!
	start_load
	t_end=$((SECONDS + DURATION))
	next=$((SECONDS + EVERY))
	while ((SECONDS < t_end)); do
		if ((SECONDS >= next)); then
			run_event "$k"
			k=$((k + 1))
			next=$((next + EVERY))
		fi
		sleep 0.2
	done
	stop_load
	kill -TERM "$SAMPLER_PID" 2>/dev/null || true
	wait "$SAMPLER_PID" 2>/dev/null || true
	# the proxy's last connections close within moments of the load's end
	deadline=$((SECONDS + 10))
	while (($(fd_count) > fd_start)) && ((SECONDS < deadline)); do sleep 0.1; done
	fd_end=$(fd_count)
	report "$fd_start" "$fd_end"
	if ((FAILED > 0)); then
		echo "soak: $FAILED of $REQUESTS requests failed:" >&2
		# the first 20 (head closing the pipe early is no failure)
		grep -h ' fail ' "$WORK/l4.log" "$WORK/host.log" | head -n 20 >&2 || true
		return 1
	fi
	if ((fd_end > fd_start)); then
		echo "soak: xlbd holds $fd_end descriptors after the load, $fd_start before" >&2
		return 1
	fi
}

main
