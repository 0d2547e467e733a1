#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make demo`: the demo stack on the netns lab, xlbd in the lb netns.
# Five API backends and the frontend (nginx) share ONE port of the lab,
# 10.200.0.1:80, told apart by the Host header (api.app.dev, app.app.dev)
# by xlbd's proxy; the same services also have L4 VIPs (10.200.0.100:80,
# 10.200.0.101:80) balanced by XDP alone. Shows who answers, the stats,
# then tears it all down.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$REPO/build}
XLBD=$BUILD/xlbd
XLBCTL=$BUILD/xlbctl
LAB=$REPO/scripts/lab.sh
PIN_DIR=/sys/fs/bpf/xlb-demo
CTL_SOCK=/run/xlb/demo.sock
SHARED=10.200.0.1:80
API_VIP=10.200.0.100
APP_VIP=10.200.0.101
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
	# stdout may be a closed pipe (make demo | head): a write must not kill
	# the clean-up half way
	trap '' PIPE
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
		echo "host = api.app.dev"
		echo "listen = $API_VIP:80/tcp"
		for ((i = 1; i <= API_BACKENDS; i++)); do echo "backend = 10.200.$i.2:8000"; done
		echo "[service app]"
		echo "host = app.app.dev"
		echo "listen = $APP_VIP:80/tcp"
		echo "backend = 10.200.$WEB_BACKEND.2:80"
	} >"$WORK/xlb.ini"
	section "config ($WORK/xlb.ini)"
	cat "$WORK/xlb.ini"
}

start_xlbd() {
	section "starting xlbd in netns xlb-lb, Host routing on $SHARED"
	# nsenter, not a function, in the background: $! is xlbd's pid.
	# --no-socket-lb: the demo's client stands for a remote host, served by XDP
	nsenter --net=/run/netns/xlb-lb "$XLBD" --config "$WORK/xlb.ini" --iface u0 --attach xdp --no-socket-lb \
		--pin-dir "$PIN_DIR" --control "$CTL_SOCK" --http-listen "$SHARED" </dev/null 2>"$WORK/xlbd.log" &
	XLBD_PID=$!
	local deadline=$((SECONDS + 15))
	until [[ $(printf 'ping\n' | socat -t 2 - "UNIX-CONNECT:$CTL_SOCK" 2>/dev/null | tail -n 1) == ok ]]; do
		kill -0 "$XLBD_PID" 2>/dev/null || { echo "xlbd exited" >&2; return 1; }
		((SECONDS < deadline)) || { echo "xlbd not ready after 15s" >&2; return 1; }
		sleep 0.1
	done
	echo "xlbd ready (pid $XLBD_PID)"
}

# api_answers TITLE CURL_ARGS...: REQUESTS requests (each a new connection)
# from the client; prints who answered each and the count per backend.
api_answers() {
	local title=$1 i out name
	shift
	section "$title"
	: >"$WORK/answers"
	for ((i = 1; i <= REQUESTS; i++)); do
		out=$(in_ns xlb-client curl -sS -m 3 "$@") || out='"hostname": "(failed)"'
		name=${out#*\"hostname\": \"}
		name=${name%%\"*}
		printf 'request %2d -> %s\n' "$i" "$name"
		echo "$name" >>"$WORK/answers"
	done
	section "requests per backend"
	sort "$WORK/answers" | uniq -c
	local n
	n=$(sort -u "$WORK/answers" | grep -cx 'be[0-9]*' || true)
	if ((n == API_BACKENDS)); then
		echo "all $API_BACKENDS API backends answered"
	else
		echo "$n of $API_BACKENDS API backends answered (the flow hash spreads $REQUESTS connections unevenly)"
	fi
}

show_frontend() {
	section "Host: app.app.dev on http://$SHARED/ (service app, nginx)"
	in_ns xlb-client curl -sS -m 3 -H "Host: app.app.dev" "http://$SHARED/"
}

show_unknown_host() {
	section "Host: nope.app.dev on http://$SHARED/ (no such service)"
	in_ns xlb-client curl -sS -m 3 -i -H "Host: nope.app.dev" "http://$SHARED/" || true
}

# xlbd writes the proxy's counters about once a second: wait (3 s at most)
# until they count the connections made, so that the stats show them.
wait_proxy_stats() {
	local want=$1 deadline=$((SECONDS + 3)) n
	while ((SECONDS < deadline)); do
		n=$(xlbctl --json stats | python3 -c '
import json, sys
print(sum(l["accepted"] for l in json.load(sys.stdin)["listeners"]))') || n=0
		((n >= want)) && return 0
		sleep 0.2
	done
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
	api_answers "$REQUESTS requests with Host: api.app.dev to http://$SHARED/ (the proxy)" \
		-H "Host: api.app.dev" "http://$SHARED/"
	show_frontend
	show_unknown_host
	api_answers "$REQUESTS requests to the L4 VIP http://$API_VIP/ (XDP only)" "http://$API_VIP/"
	wait_proxy_stats $((REQUESTS + 2))
	section "xlbctl stats"
	xlbctl stats
}

main "$@"
