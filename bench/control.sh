#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Bench part 4: the control plane.
#
#   Maglev      table build for 10, 100, 1,000, 10,000 backends, and the
#               inner map load and outer swap that follow in xlbd
#               (build/bench/maglev_bench: userspace/xlbd/maglev.c as linked in
#               xlbd; rounds interleaved over the sizes).
#   backend add `xlbctl backend add` -> the first flow at the new backend,
#               on namespaces of its own (xlb-cb-*: a client, the balancer
#               with xlbd and XDP on its uplink, two backends), with a UDP
#               stream of fresh flows (bench/addlat.py).
#   Docker      a container's `start` event -> its first request served
#               through xlb, and `die` -> its removal from xlb
#               (tests/lab/startlat.py against xlbd --docker), when a
#               dockerd answers or scripts/dockerd.sh can start one (then
#               stopped again); otherwise those rows say "skipped: no docker".
#
# usage: bench/control.sh [--quick]
# env:   BUILD (default <repo>/build), BENCH_OUT (the TSV goes to
#        $BENCH_OUT/control.tsv, the commands to control.commands)
#        XLB_CONTROL_PARTS (default "maglev add docker": which measurements),
#        XLB_BENCH_DOCKER=0 (skip the Docker rows even where Docker runs)
# Prints a markdown table. Removes everything it made, also on failure.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$REPO/build}
[[ $BUILD == /* ]] || BUILD=$REPO/$BUILD
PYTHON=${PYTHON:-python3}
QUICK=0
[[ ${1-} == --quick ]] && QUICK=1

MAGLEV_ROUNDS=$((QUICK ? 3 : 9))
ADD_TRIALS=$((QUICK ? 5 : 20))
DOCKER_TRIALS=$((QUICK ? 5 : 20))

# shellcheck source=bench/cblab.bash
. "$REPO/bench/cblab.bash"

# The backend-add lab (cblab.bash: namespaces xlb-cb-*), with pins and a
# socket of its own.
CB_PIN=/sys/fs/bpf/xlb-cb
CB_SOCK=/run/xlb/cb.sock
VPORT=9000

# The Docker part: xlbd --docker on the host with a pin dir, socket and
# proxy port of its own; containers and image named xlbcb*.
DK_PIN=/sys/fs/bpf/xlb-cb-dk
DK_SOCK=/run/xlb/cb-dk.sock
DK_PORT=18091
DK_IMAGE=xlbcb/www:latest
DK_PREFIX=xlbcb_lat

WORK=$(mktemp -d /tmp/xlb-cb-control.XXXXXX)
DK_XLBD_PID=
DK_OWN_DOCKERD=0

say() { echo "control.sh: $*" >&2; }

# --- output --------------------------------------------------------------------------

setup_out() {
	if [[ -z ${BENCH_OUT-} ]]; then
		BENCH_OUT=$(mktemp -d /tmp/xlb-bench.XXXXXX)
		say "BENCH_OUT not set: writing to $BENCH_OUT"
	fi
	mkdir -p "$BENCH_OUT"
	TSV=$BENCH_OUT/control.tsv
	CMDS=$BENCH_OUT/control.commands
	printf 'case\tn\tmedian_ms\tp99_ms\tmin_ms\tmax_ms\tnote\n' >"$TSV"
	: >"$CMDS"
}

# record CMD...: one line of the commands that produced the figures.
# (paths inside the repo are given relative to its root)
# and the run's own directories by name.
record() {
	local line="$*"
	line=${line//"$BENCH_OUT"/\$BENCH_OUT}
	line=${line//"$WORK"/<work dir>}
	echo "${line//"$REPO/"/}" >>"$CMDS"
}

skip_rows() {
	local why=$1 c
	shift
	for c; do printf '%s\t0\t-\t-\t-\t-\tskipped: %s\n' "$c" "$why" >>"$TSV"; done
}

print_markdown() {
	awk -F'\t' 'NR == 1 { h = "|"; s = "|"; for (i = 1; i <= NF; i++) { h = h " " $i " |"; s = s "---|" }
		print h; print s; next }
		{ l = "|"; for (i = 1; i <= NF; i++) l = l " " $i " |"; print l }' "$TSV"
}

# --- Maglev --------------------------------------------------------------------------

bench_maglev() {
	local cmd=("$BUILD/bench/maglev_bench" --rounds "$MAGLEV_ROUNDS")
	say "maglev: ${cmd[*]}"
	record "${cmd[*]}"
	"${cmd[@]}" | tail -n +2 | awk -F'\t' -v OFS='\t' '{ print $1, $2, $3, "-", $4, $5, $6 }' >>"$TSV"
}

# --- backend add -> first flow -------------------------------------------------------------

bench_backend_add() {
	cblab_up xlb-cb 2
	cat >"$WORK/cb.ini" <<-EOF
		[service cbadd]
		listen = $CBLAB_VIP:$VPORT/udp
		backend = 10.211.1.2:$VPORT
	EOF
	cblab_xlbd "$WORK/cb.ini" "$CB_PIN" "$CB_SOCK" "$WORK/cb-xlbd.log"
	record "nsenter --net=/run/netns/xlb-cb-lb $BUILD/xlbd --config cb.ini --iface u0 --attach xdp --no-socket-lb" \
		"--pin-dir $CB_PIN --control $CB_SOCK --log-level info" \
		"(netns of bench/cblab.bash; cb.ini: [service cbadd]" \
		"listen = $CBLAB_VIP:$VPORT/udp, backend = 10.211.1.2:$VPORT)"
	local cmd=("$PYTHON" "$REPO/bench/addlat.py" run
		--xlbctl "$BUILD/xlbctl --pin-dir $CB_PIN --socket $CB_SOCK"
		--service cbadd --backend "10.211.2.2:$VPORT" --vip "$CBLAB_VIP" --port "$VPORT"
		--src-net "$CBLAB_SRC_NET" --client-ns xlb-cb-c --backend-ns xlb-cb-b2
		--sink-ns xlb-cb-b1 --trials "$ADD_TRIALS" --tsv "$TSV")
	say "backend add: ${cmd[*]}"
	record "${cmd[*]}"
	"${cmd[@]}" >&2
	cblab_down "$CB_PIN"
}

# --- Docker: start -> served, die -> removed --------------------------------------------

docker_ping() { [[ $(curl -s -m 2 --unix-socket /var/run/docker.sock http://d/_ping 2>/dev/null) == OK ]]; }

# The tests' image (as in tests/bats/docker_discovery.bats): an HTTP server
# whose /who answers the container's hostname.
# build_image IMAGES_SH_OUTPUT
build_image() {
	local dir=$WORK/img XLB_PYTHON_IMAGE
	XLB_PYTHON_IMAGE=$(sed -n 's/^XLB_PYTHON_IMAGE=\([A-Za-z0-9_./:-]*\)$/\1/p' <<<"$1")
	[[ -n $XLB_PYTHON_IMAGE ]] || return 1
	mkdir -p "$dir"
	cat >"$dir/serve.py" <<-'EOF'
		import http.server, socket
		open("/srv/who", "w").write(socket.gethostname() + "\n")
		class H(http.server.SimpleHTTPRequestHandler):
		    protocol_version = "HTTP/1.1"
		    def log_message(self, *a):
		        pass
		http.server.ThreadingHTTPServer(("", 8000), lambda *a: H(*a, directory="/srv")).serve_forever()
	EOF
	cat >"$dir/Dockerfile" <<-'EOF'
		ARG BASE=python:3.12-slim
		FROM ${BASE}
		RUN mkdir -p /srv
		COPY serve.py /serve.py
		CMD ["python3", "/serve.py"]
		EXPOSE 8000
	EOF
	docker build -q --build-arg "BASE=$XLB_PYTHON_IMAGE" -t "$DK_IMAGE" "$dir" >/dev/null
}

docker_up() {
	if docker_ping; then
		return 0
	fi
	command -v dockerd >/dev/null || return 1
	local out
	out=$("$REPO/scripts/dockerd.sh" start) || return 1
	[[ $out == *dockerd=started* ]] && DK_OWN_DOCKERD=1
	docker_ping
}

docker_containers_down() {
	local ids
	ids=$(docker ps -aq --filter "name=^$DK_PREFIX" 2>/dev/null || true)
	# shellcheck disable=SC2086 # one id per word
	[[ -z $ids ]] || docker rm -f $ids >/dev/null 2>&1 || true
}

docker_down() {
	docker_containers_down
	stop_pid "$DK_XLBD_PID"
	DK_XLBD_PID=
	"$BUILD/xlbctl" --pin-dir "$DK_PIN" teardown >/dev/null 2>&1 || true
	if docker_ping; then docker image rm -f "$DK_IMAGE" >/dev/null 2>&1 || true; fi
	if ((DK_OWN_DOCKERD)); then
		"$REPO/scripts/dockerd.sh" stop >&2 || say "dockerd.sh stop failed"
		DK_OWN_DOCKERD=0
	fi
}

DOCKER_CASES=(docker_start_container_answers docker_start_served_via_xlb docker_start_xlb_part
	docker_die_removed)

bench_docker() {
	local images
	if [[ ${XLB_BENCH_DOCKER-} == 0 ]]; then
		skip_rows "no docker (XLB_BENCH_DOCKER=0)" "${DOCKER_CASES[@]}"
		return 0
	fi
	if ! docker_up; then
		say "no dockerd answers and none could be started: Docker rows skipped"
		skip_rows "no docker" "${DOCKER_CASES[@]}"
		return 0
	fi
	if ! images=$("$REPO/scripts/images.sh") || ! build_image "$images"; then
		say "no base image for the test container: Docker rows skipped"
		skip_rows "no docker image (scripts/images.sh failed)" "${DOCKER_CASES[@]}"
		docker_down
		return 0
	fi
	docker_containers_down
	"$BUILD/xlbd" --docker --http-listen "127.0.0.1:$DK_PORT" --no-socket-lb --pin-dir "$DK_PIN" \
		--control "$DK_SOCK" --log-level info </dev/null >"$WORK/dk-xlbd.log" 2>&1 &
	DK_XLBD_PID=$!
	record "$BUILD/xlbd --docker --http-listen 127.0.0.1:$DK_PORT --no-socket-lb --pin-dir $DK_PIN --control $DK_SOCK --log-level info"
	wait_for 20 grep -q 'event=docker_synced' "$WORK/dk-xlbd.log" ||
		{ cat "$WORK/dk-xlbd.log" >&2; return 1; }
	local cmd=("$PYTHON" "$REPO/tests/lab/startlat.py" --image "$DK_IMAGE"
		--proxy "127.0.0.1:$DK_PORT" --host lat.cb.test --trials "$DOCKER_TRIALS"
		--name-prefix "$DK_PREFIX" --xlbd-log "$WORK/dk-xlbd.log" --tsv "$TSV")
	say "docker: ${cmd[*]}"
	record "${cmd[*]}"
	"${cmd[@]}" >&2
	docker_down
}

# --- main ------------------------------------------------------------------------------

cleanup() {
	cblab_down "$CB_PIN"
	docker_down
	rm -rf "$WORK"
}

main() {
	[[ $(id -u) -eq 0 ]] || { say "must run as root"; exit 1; }
	[[ -x $BUILD/xlbd && -x $BUILD/xlbctl ]] || { say "no $BUILD/xlbd: run make first"; exit 1; }
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	make -s -C "$REPO" BUILD="$BUILD" bench-progs >&2
	setup_out
	local part
	for part in ${XLB_CONTROL_PARTS:-maglev add docker}; do
		case $part in
		maglev) bench_maglev ;;
		add) bench_backend_add ;;
		docker) bench_docker ;;
		*) say "unknown part '$part'"; exit 2 ;;
		esac
	done
	print_markdown
}

main "$@"
