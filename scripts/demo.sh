#!/usr/bin/env bash
# `make demo`: the demo stack on the netns lab. Five API backends behind
# VIP 10.200.0.100:80, the frontend (nginx) behind 10.200.0.101:80, xlbd
# in the lb netns; shows who answers, the stats, then tears it all down.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$REPO/build}
XLBD=$BUILD/xlbd
XLBCTL=$BUILD/xlbctl
LAB=$REPO/scripts/lab.sh
PIN_DIR=/sys/fs/bpf/xlb-demo
CTL_SOCK=/run/xlb/demo.sock
API_BACKENDS=5
WEB_BACKEND=6
REQUESTS=20

WORK=
XLBD_PID=

in_ns() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" "$@"
}

xlbctl() {
	in_ns xlb-lb "$XLBCTL" --pin-dir "$PIN_DIR" --socket "$CTL_SOCK" "$@"
}

section() { printf '\n=== %s\n' "$*"; }

cleanup() {
	local rc=$?
	set +e
	section "tearing down"
	if [[ -n $XLBD_PID ]] && kill -0 "$XLBD_PID" 2>/dev/null; then
		kill -TERM "$XLBD_PID"
		wait "$XLBD_PID"
	fi
	if ((rc != 0)) && [[ -s $WORK/xlbd.log ]]; then
		echo "--- xlbd log"
		cat "$WORK/xlbd.log"
	fi
	[[ -x $XLBCTL ]] && xlbctl teardown
	"$LAB" down
	[[ -n $WORK ]] && rm -rf "$WORK"
	exit "$rc"
}

write_config() {
	local i
	{
		echo "[service api]"
		echo "listen = 10.200.0.100:80/tcp"
		for ((i = 1; i <= API_BACKENDS; i++)); do echo "backend = 10.200.$i.2:8000"; done
		echo "[service app]"
		echo "listen = 10.200.0.101:80/tcp"
		echo "backend = 10.200.$WEB_BACKEND.2:80"
	} >"$WORK/xlb.ini"
	section "config ($WORK/xlb.ini)"
	cat "$WORK/xlb.ini"
}

start_xlbd() {
	section "starting xlbd in netns xlb-lb"
	# nsenter, not a function, in the background: $! is xlbd's pid.
	nsenter --net=/run/netns/xlb-lb "$XLBD" --config "$WORK/xlb.ini" --iface u0 --pin-dir "$PIN_DIR" \
		--control "$CTL_SOCK" </dev/null 2>"$WORK/xlbd.log" &
	XLBD_PID=$!
	local deadline=$((SECONDS + 15))
	until [[ $(printf 'ping\n' | socat -t 2 - "UNIX-CONNECT:$CTL_SOCK" 2>/dev/null | tail -n 1) == ok ]]; do
		kill -0 "$XLBD_PID" 2>/dev/null || { echo "xlbd exited" >&2; return 1; }
		((SECONDS < deadline)) || { echo "xlbd not ready after 15s" >&2; return 1; }
		sleep 0.1
	done
	echo "xlbd ready (pid $XLBD_PID)"
}

show_api_answers() {
	local i out name
	section "$REQUESTS requests from the client to http://10.200.0.100/ (service api)"
	: >"$WORK/answers"
	for ((i = 1; i <= REQUESTS; i++)); do
		out=$(in_ns xlb-client curl -sS -m 3 http://10.200.0.100/) || out='"hostname": "(failed)"'
		name=${out#*\"hostname\": \"}
		name=${name%%\"*}
		printf 'request %2d -> %s\n' "$i" "$name"
		echo "$name" >>"$WORK/answers"
	done
	section "requests per backend"
	sort "$WORK/answers" | uniq -c
}

show_frontend() {
	section "the frontend from http://10.200.0.101/ (service app)"
	in_ns xlb-client curl -sS -m 3 http://10.200.0.101/
}

main() {
	[[ $(id -u) -eq 0 ]] || { echo "demo.sh: must run as root" >&2; exit 1; }
	[[ -x $XLBD && -x $XLBCTL ]] || { echo "demo.sh: build first (make)" >&2; exit 1; }
	WORK=$(mktemp -d /tmp/xlb-demo.XXXXXX)
	trap cleanup EXIT
	trap 'exit 130' INT TERM

	section "lab: client, lb, $API_BACKENDS API backends, nginx on backend $WEB_BACKEND"
	"$LAB" up "$WEB_BACKEND"
	for ((i = 1; i <= API_BACKENDS; i++)); do "$LAB" serve-api "$i"; done
	"$LAB" serve-web "$WEB_BACKEND"

	write_config
	start_xlbd
	section "xlbctl services"
	xlbctl services
	show_api_answers
	show_frontend
	section "xlbctl stats"
	xlbctl stats
}

main "$@"
