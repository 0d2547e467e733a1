#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Docker discovery with a real dockerd: xlbd (from this build, on the host)
# finds containers by their labels through the Engine API and routes Host
# names to them through its proxy on 127.0.0.1:$PORT. Everything here is
# made under the compose project / name prefix "xlbdt" and removed again.

load helpers
load docker_xlbd

PORT=18081
DT_PIN=/sys/fs/bpf/xlb-dtest
DT_SOCK=/run/xlb/dtest.sock
PROJECT=xlbdt
IMAGE=xlbdt/www:latest
# a network of the project's own (the default bridge is everyone's)
DT_NET=xlbdt_net

# --- set-up ------------------------------------------------------------------------

setup_file() {
	require_built
	# a dockerd that runs already (the machine's, or another suite's) stays
	export DT_OWN_DOCKERD=0
	if ! curl -sf -m 2 --unix-socket /var/run/docker.sock http://d/_ping >/dev/null; then
		"$REPO/scripts/dockerd.sh" start >&2
		DT_OWN_DOCKERD=1
	fi
	eval "$("$REPO/scripts/images.sh" | grep '^XLB_[A-Z_]*=')"
	export XLB_PYTHON_IMAGE
	build_who_image "$IMAGE"
	dt_cleanup
}

teardown_file() {
	dt_cleanup
	docker image rm -f "$IMAGE" >/dev/null 2>&1 || true
	if ((DT_OWN_DOCKERD)); then "$REPO/scripts/dockerd.sh" stop >&2 || true; fi
}

dt_cleanup() {
	local ids
	ids=$(docker ps -aq --filter "name=^xlbdt" 2>/dev/null || true)
	[[ -z $ids ]] || docker rm -f $ids >/dev/null 2>&1 || true
	docker network rm "$DT_NET" >/dev/null 2>&1 || true
	if [[ -n ${DT_PID-} ]]; then
		kill "$DT_PID" 2>/dev/null || true
		wait "$DT_PID" 2>/dev/null || true
	fi
	pkill -f -- "--pin-dir $DT_PIN" 2>/dev/null || true
	"$XLBCTL" --pin-dir "$DT_PIN" teardown >/dev/null 2>&1 || true
}

setup() {
	DT_LOG=$BATS_TEST_TMPDIR/xlbd.log
}

teardown() {
	local stopped=0
	stop_dt_xlbd || stopped=$?
	local ids
	ids=$(docker ps -aq --filter "name=^xlbdt" 2>/dev/null || true)
	[[ -z $ids ]] || docker rm -f $ids >/dev/null 2>&1 || true
	docker network rm "$DT_NET" >/dev/null 2>&1 || true
	"$XLBCTL" --pin-dir "$DT_PIN" teardown >/dev/null 2>&1 || true
	if [[ -n ${LOOP_PID-} ]]; then kill "$LOOP_PID" 2>/dev/null || true; fi
	if [[ -n ${SOCAT_PID-} ]]; then kill "$SOCAT_PID" 2>/dev/null || true; fi
	if [[ -n ${HOST_SRV_PID-} ]]; then kill "$HOST_SRV_PID" 2>/dev/null || true; fi
	l4_client_down
	return "$stopped"
}

# start_dt_xlbd [ARGS...]: xlbd --docker with this file's pin dir, socket
# and listener; waits until it has synced with dockerd.
start_dt_xlbd() {
	"$XLBD" --docker --http-listen "127.0.0.1:$PORT" --pin-dir "$DT_PIN" \
		--control "$DT_SOCK" --log-level debug "$@" </dev/null >>"$DT_LOG" 2>&1 3>&- &
	DT_PID=$!
	wait_until 20 grep -q 'event=docker_synced' "$DT_LOG" ||
		{ cat "$DT_LOG" >&2; return 1; }
}

# stop_dt_xlbd: SIGTERM, and xlbd must exit 0 (with the sanitizer build a
# leak or a memory error makes it exit non-zero).
stop_dt_xlbd() {
	[[ -n ${DT_PID-} ]] || return 0
	local pid=$DT_PID
	DT_PID=
	stop_docker_xlbd "$pid" "$DT_LOG"
}

# replica SERVICE N [docker run args...]: container xlbdt_SERVICE_N of compose
# project xlbdt, service SERVICE, routed as SERVICE.dt.test.
replica() {
	local svc=$1 n=$2
	shift 2
	docker run -d --name "${PROJECT}_${svc}_$n" \
		-l "com.docker.compose.project=$PROJECT" -l "com.docker.compose.service=$svc" \
		-l "xlb.host=$svc.dt.test" "$@" "$IMAGE" >/dev/null
}

lines_more_than() { (($(wc -l <"$1") > $2)); }

hostname_of() { docker inspect -f '{{.Config.Hostname}}' "$1"; }

# who HOST: the hostname of the container that answered GET /who for HOST.
who() { curl -sf -m 5 -H "Host: $1" "http://127.0.0.1:$PORT/who"; }

status_of() { curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Host: $1" "http://127.0.0.1:$PORT/who"; }

# answered_by HOST N: prints the distinct hostnames of N answers, sorted.
answered_by() {
	local i
	for ((i = 0; i < $2; i++)); do who "$1" || echo FAILED; done | sort -u
}

# all_seen HOST NAMES...: every container named answers within 40 tries.
all_seen() {
	local host=$1 seen i n
	shift
	seen=$(for ((i = 0; i < 40; i++)); do who "$host"; done | sort -u)
	for n in "$@"; do grep -qx "$(hostname_of "$n")" <<<"$seen" || return 1; done
}

# --- tests ---------------------------------------------------------------------

@test "docker: the replicas of one compose service are one service, and every replica answers" {
	for i in 1 2 3; do replica api "$i"; done
	start_dt_xlbd
	run "$XLBCTL" --pin-dir "$DT_PIN" services
	echo "$output"
	[[ $output == *"xlbdt_api"* ]]
	run "$XLBCTL" --pin-dir "$DT_PIN" backends
	echo "$output"
	[[ $(grep -c 'xlbdt_api' <<<"$output") -eq 3 ]]
	wait_until 10 all_seen api.dt.test xlbdt_api_1 xlbdt_api_2 xlbdt_api_3
	# a host nobody serves is 404, not a guess
	[[ $(status_of nobody.dt.test) == 404 ]]
}

@test "docker: a container started later gets traffic, and a stopped one none" {
	replica api 1
	start_dt_xlbd
	[[ $(answered_by api.dt.test 5) == "$(hostname_of xlbdt_api_1)" ]]
	replica api 2
	wait_until 10 all_seen api.dt.test xlbdt_api_1 xlbdt_api_2
	docker stop -t 2 xlbdt_api_1 >/dev/null
	# no request after the stop reaches it, none fails
	run answered_by api.dt.test 20
	[[ $output == "$(hostname_of xlbdt_api_2)" ]]
}

@test "docker: scaling 5 -> 2 -> 6 under a client loop: no failed request, none to a removed container" {
	local i out=$BATS_TEST_TMPDIR/loop.out
	for i in 1 2 3 4 5; do replica api "$i"; done
	start_dt_xlbd
	wait_until 10 all_seen api.dt.test xlbdt_api_{1..5}
	# the client: one line per request, "OK hostname" or "FAILED code"
	(
		while :; do
			h=$(curl -s -m 5 -w ' %{http_code}' -H 'Host: api.dt.test' "http://127.0.0.1:$PORT/who")
			if [[ $h == *" 200" ]]; then echo "OK ${h% 200}"; else echo "FAILED $h"; fi
		done
	) >"$out" 2>&1 3>&- &
	LOOP_PID=$!
	wait_until 10 test -s "$out"
	docker stop -t 5 xlbdt_api_3 xlbdt_api_4 xlbdt_api_5 >/dev/null
	local mark
	mark=$(wc -l <"$out")
	wait_until 10 lines_more_than "$out" $((mark + 20))
	# after the stops returned, only the two left answer
	local left
	left=$(printf '%s\n%s\n' "$(hostname_of xlbdt_api_1)" "$(hostname_of xlbdt_api_2)" | sort)
	[[ $(tail -n +$((mark + 2)) "$out" | grep '^OK' | awk '{print $2}' | sort -u) == "$left" ]]
	for i in 6 7 8 9; do replica api "$i"; done
	wait_until 20 all_seen api.dt.test xlbdt_api_1 xlbdt_api_2 xlbdt_api_{6..9}
	kill "$LOOP_PID"
	wait "$LOOP_PID" 2>/dev/null || true
	LOOP_PID=
	echo "requests: $(grep -cE "^(OK|FAILED)" "$out"), failed: $(grep -c "^FAILED" "$out" || true)"
	grep '^FAILED' "$out" || true
	! grep -q '^FAILED' "$out"
}

@test "docker: a container whose Docker healthcheck fails gets no traffic until it is healthy" {
	replica api 1
	replica api 2 --health-cmd 'test -f /srv/healthy' --health-interval 1s --health-retries 1
	start_dt_xlbd
	wait_until 20 bash -c "[[ \$(docker inspect -f '{{.State.Health.Status}}' xlbdt_api_2) != starting ]]"
	[[ $(docker inspect -f '{{.State.Health.Status}}' xlbdt_api_2) == unhealthy ]]
	run "$XLBCTL" --pin-dir "$DT_PIN" backends
	echo "$output"
	[[ $(grep -c ' draining ' <<<"$output") -eq 1 ]]
	run answered_by api.dt.test 20
	[[ $output == "$(hostname_of xlbdt_api_1)" ]]
	docker exec xlbdt_api_2 touch /srv/healthy
	wait_until 20 all_seen api.dt.test xlbdt_api_1 xlbdt_api_2
}

one_backend_down() {
	[[ $("$XLBCTL" --pin-dir "$DT_PIN" backends | grep -c ' down ') -eq 1 ]]
}

@test "docker: xlbd's own http check (xlb.healthcheck) takes a failing backend out and puts it back" {
	local hc=(-l 'xlb.healthcheck=http:/ok' -l 'xlb.healthcheck.interval=200ms' -l 'xlb.healthcheck.timeout=150ms'
		-l 'xlb.healthcheck.fall=2' -l 'xlb.healthcheck.rise=2')
	replica api 1 "${hc[@]}"
	replica api 2 "${hc[@]}"
	start_dt_xlbd
	wait_until 10 all_seen api.dt.test xlbdt_api_1 xlbdt_api_2
	docker exec xlbdt_api_2 rm /srv/ok
	wait_until 10 grep -q 'event=health_change.*state=down' "$DT_LOG"
	# the map shows it after the log line: its state is written once the
	# new Maglev table is in (state.c svc_sync), so poll
	wait_until 10 one_backend_down ||
		{ "$XLBCTL" --pin-dir "$DT_PIN" backends; fail "not exactly one backend down"; return 1; }
	run answered_by api.dt.test 20
	[[ $output == "$(hostname_of xlbdt_api_1)" ]]
	docker exec xlbdt_api_2 touch /srv/ok
	wait_until 10 all_seen api.dt.test xlbdt_api_1 xlbdt_api_2
}

@test "docker: bad labels give one error line naming the container and label; the rest keeps working" {
	replica api 1
	docker run -d --name xlbdt_bad_1 -l xlb.host=bad.dt.test -l xlb.port=eighty "$IMAGE" >/dev/null
	docker run -d --name xlbdt_bad_2 -l 'xlb.host=a b.dt.test' "$IMAGE" >/dev/null
	start_dt_xlbd
	[[ $(answered_by api.dt.test 5) == "$(hostname_of xlbdt_api_1)" ]]
	grep -F "container xlbdt_bad_1: label xlb.port='eighty': not a port number" "$DT_LOG"
	grep -F "container xlbdt_bad_2: label xlb.host='a b.dt.test': invalid host name" "$DT_LOG"
	[[ $(status_of bad.dt.test) == 404 ]]
	# a resync and other containers' events do not repeat the line
	replica api 2
	wait_until 10 all_seen api.dt.test xlbdt_api_1 xlbdt_api_2
	[[ $(grep -c 'container xlbdt_bad_1:' "$DT_LOG") -eq 1 ]]
}

@test "docker: VIRTUAL_HOST and VIRTUAL_PORT route like xlb.host and xlb.port" {
	docker run -d --name xlbdt_legacy_1 -e VIRTUAL_HOST=legacy.dt.test -e VIRTUAL_PORT=8000 \
		"$IMAGE" >/dev/null
	start_dt_xlbd
	[[ $(answered_by legacy.dt.test 3) == "$(hostname_of xlbdt_legacy_1)" ]]
}

# who_at HOST PATH: the hostname of the container that answered HOST/PATH
# (its file server has /who at its root).
who_at() { curl -sf -m 5 -H "Host: $1" "http://127.0.0.1:$PORT$2"; }

@test "docker: path routes from labels: xlb.host with a path, xlb.path, VIRTUAL_PATH with VIRTUAL_DEST" {
	docker run -d --name xlbdt_site_1 -l xlb.host=site.dt.test -l xlb.port=8000 "$IMAGE" >/dev/null
	docker run -d --name xlbdt_files_1 -l xlb.host=site.dt.test -l xlb.path=/files \
		-l xlb.path.strip=true -l xlb.port=8000 "$IMAGE" >/dev/null
	docker run -d --name xlbdt_admin_1 -l xlb.host=site.dt.test/admin -l xlb.path.strip=true \
		-l xlb.port=8000 "$IMAGE" >/dev/null
	docker run -d --name xlbdt_legacypath_1 -e VIRTUAL_HOST=site.dt.test -e VIRTUAL_PATH=/old \
		-e VIRTUAL_DEST=/ -e VIRTUAL_PORT=8000 "$IMAGE" >/dev/null
	start_dt_xlbd --http-mode request
	# one prefix per container, stripped before its file server sees it
	[[ $(who_at site.dt.test /who) == "$(hostname_of xlbdt_site_1)" ]]
	[[ $(who_at site.dt.test /files/who) == "$(hostname_of xlbdt_files_1)" ]]
	[[ $(who_at site.dt.test /admin/who) == "$(hostname_of xlbdt_admin_1)" ]]
	[[ $(who_at site.dt.test /old/who) == "$(hostname_of xlbdt_legacypath_1)" ]]
	# not under a prefix: the site's own, which has no such file
	[[ $(curl -s -m 5 -o /dev/null -w '%{http_code}' -H 'Host: site.dt.test' \
		"http://127.0.0.1:$PORT/filesx/who") == 404 ]]
	run "$XLBCTL" --pin-dir "$DT_PIN" services
	[[ $output == *"site.dt.test/files"* && $output == *"site.dt.test/old"* ]] || fail "$output"
}

@test "docker: a missed event heals at the next resync" {
	replica api 1
	start_dt_xlbd --docker-resync-ms 500
	[[ $(answered_by api.dt.test 3) == "$(hostname_of xlbdt_api_1)" ]]
	# pause xlbd so the start event of the new container goes unread... the
	# stream buffers it; instead, remove the backend behind xlbd's back with
	# xlbctl and let the resync put it back
	run "$XLBCTL" --pin-dir "$DT_PIN" --socket "$DT_SOCK" backend del xlbdt_api \
		"$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' xlbdt_api_1):8000"
	echo "$output"
	[[ $status -eq 0 ]]
	wait_until 10 bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: api.dt.test' http://127.0.0.1:$PORT/who) == 200 ]]"
}

# keepalive_then CMD...: opens one keep-alive connection through xlb, makes
# a request, runs CMD, and prints how the connection ended on the next read.
keepalive_then() {
	python3 - "$PORT" "$@" <<-'PY'
		import http.client, socket, subprocess, sys
		c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
		c.request("GET", "/who", headers={"Host": "api.dt.test"})
		r = c.getresponse()
		r.read()  # the whole answer: what comes next is the connection's end
		print("first answer: HTTP/1.1", r.status)
		subprocess.run(sys.argv[2:], check=True, capture_output=True)
		c.sock.settimeout(60)
		try:
		    data = c.sock.recv(4096)
		    print("ended by", "FIN" if data == b"" else "data %r" % data[:80])
		except ConnectionResetError:
		    print("ended by RST")
		except socket.timeout:
		    print("still open after 60 s")
	PY
}

# With --http-mode connection a client connection is tied to its backend
# for its life: when the backend goes, the connection must end, not hang.
# (Per request, an idle client connection belongs to no backend: its next
# request is routed again, and a request in flight to a removed backend
# is reset: proxy_errors.bats.)
@test "docker: a killed container's proxied connection ends at once, not left hanging" {
	replica api 1
	start_dt_xlbd --http-mode connection
	run keepalive_then docker kill xlbdt_api_1
	echo "$output"
	[[ $status -eq 0 ]]
	[[ $output == *"first answer: HTTP/1.1 200"* ]]
	[[ $output == *"ended by FIN"* || $output == *"ended by RST"* ]]
}

@test "docker: a container taken off its network has its proxied connections reset" {
	replica api 1
	start_dt_xlbd --http-mode connection
	# the process lives on, but xlb can no longer reach it: reset, not a
	# connection that hangs until the idle timeout
	run keepalive_then docker network disconnect bridge xlbdt_api_1
	echo "$output"
	[[ $status -eq 0 ]]
	[[ $output == *"first answer: HTTP/1.1 200"* ]]
	[[ $output == *"ended by RST"* ]]
	grep -q 'event=proxy_backend_gone' "$DT_LOG"
}

@test "docker: dockerd restarts under a client loop: no request fails, and xlbd resyncs" {
	# restarting a dockerd we did not start would disturb the machine
	((DT_OWN_DOCKERD)) || skip "dockerd was running before this suite (not ours to restart)"
	local out=$BATS_TEST_TMPDIR/loop.out
	replica api 1 --restart unless-stopped
	replica api 2 --restart unless-stopped
	start_dt_xlbd
	wait_until 10 all_seen api.dt.test xlbdt_api_1 xlbdt_api_2
	(
		while :; do
			if h=$(curl -sf -m 5 -H 'Host: api.dt.test' "http://127.0.0.1:$PORT/who"); then
				echo "OK $h"
			else
				echo "FAILED"
			fi
		done
	) >"$out" 2>&1 3>&- &
	LOOP_PID=$!
	local t_restart t_synced
	t_restart=$(date +%s%3N)
	"$REPO/scripts/dockerd.sh" restart >&2
	wait_until 30 grep -q 'event=docker_down' "$DT_LOG"
	wait_until 60 bash -c "(( \$(grep -c 'event=docker_synced' '$DT_LOG') >= 2 ))"
	t_synced=$(date +%s%3N)
	local mark
	mark=$(wc -l <"$out")
	wait_until 10 lines_more_than "$out" $((mark + 20))
	kill "$LOOP_PID"
	wait "$LOOP_PID" 2>/dev/null || true
	LOOP_PID=
	echo "requests: $(grep -cE "^(OK|FAILED)" "$out"), failed: $(grep -c "^FAILED" "$out" || true)"
	# recover: restart begun -> xlbd resynced (seen within 0.1 s)
	echo "# fault dockerd_restart_host: requests=$(grep -cE "^(OK|FAILED)" "$out") failed=$(grep -c "^FAILED" "$out" || true) recover_ms=$((t_synced - t_restart))" >&3
	! grep -q '^FAILED' "$out"
	# the resynced xlbd follows events again
	replica api 3
	wait_until 20 all_seen api.dt.test xlbdt_api_1 xlbdt_api_2 xlbdt_api_3
}

# A client namespace behind a veth whose host end is the uplink xlbd
# attaches XDP to; the VIP is that end's address. It stands for a remote
# client, so xlbd runs without the socket hooks there (which would hand
# its connect() a container's address that Docker's forwarding rules
# keep it from reaching: see docs/socket-lb.md).
l4_client_up() {
	ip netns add xlbdt-cl
	ip link add xdt0 type veth peer name xdt1
	ip link set xdt1 netns xlbdt-cl
	ip addr add 10.203.0.1/24 dev xdt0
	ip link set xdt0 up
	ip -n xlbdt-cl addr add 10.203.0.2/24 dev xdt1
	ip -n xlbdt-cl link set xdt1 up
	ip -n xlbdt-cl link set lo up
	ip -n xlbdt-cl route add default via 10.203.0.1
	# checksums of locally made packets are filled in by the stack, not
	# left to a veth "offload" XDP would pass on unfilled
	nsenter --net=/run/netns/xlbdt-cl ethtool -K xdt1 tx off >/dev/null
}

l4_client_down() {
	ip link del xdt0 2>/dev/null || true
	ip netns del xlbdt-cl 2>/dev/null || true
}

reason_count() {
	"$XLBCTL" --pin-dir "$DT_PIN" --json stats |
		python3 -c "import json,sys; print(json.load(sys.stdin)['reasons']['$1']['packets'])"
}

@test "docker: xlb.listen publishes an L4 VIP through XDP, redirected into the containers' bridge ports" {
	l4_client_up
	local i
	for i in 1 2; do replica l4 "$i" -l xlb.listen=8080/tcp -l xlb.port=8000; done
	start_dt_xlbd --iface xdt0 --attach xdp --no-socket-lb --vip 10.203.0.1
	wait_until 10 bash -c "(( \$(grep -c 'event=bridge_port' '$DT_LOG') >= 2 ))"
	local before_redirect before_stack seen
	before_redirect=$(reason_count fwd_redirect)
	before_stack=$(reason_count fwd_stack)
	seen=$(for i in $(seq 20); do
		nsenter --net=/run/netns/xlbdt-cl curl -sf -m 5 http://10.203.0.1:8080/who || echo FAILED
	done | sort -u)
	echo "$seen"
	[[ $seen == "$(printf '%s\n' "$(hostname_of xlbdt_l4_1)" "$(hostname_of xlbdt_l4_2)" | sort)" ]]
	(($(reason_count fwd_redirect) > before_redirect))
	[[ $(reason_count fwd_stack) -eq $before_stack ]]
	l4_client_down
}

@test "docker: --teardown-on-exit leaves no program, pin or prepared veth behind" {
	l4_client_up
	replica l4 1 -l xlb.listen=8080/tcp -l xlb.port=8000
	# no --vip: the uplink's address is the VIP
	start_dt_xlbd --iface xdt0 --attach xdp --no-socket-lb --teardown-on-exit
	grep -q 'event=vip_default vip=10.203.0.1 iface=xdt0' "$DT_LOG"
	wait_until 10 grep -q 'event=bridge_port' "$DT_LOG"
	local port peer_ns
	port=$(grep -o 'event=bridge_port.* port=[^ ]*' "$DT_LOG" | head -1 | sed 's/.*port=//')
	ip -d link show dev xdt0 | grep -q 'prog/xdp'
	[[ -n $(tc filter show dev "$port" ingress) ]]
	stop_dt_xlbd
	[[ ! -e $DT_PIN ]]
	! ip -d link show dev xdt0 | grep -q 'prog/xdp'
	[[ -z $(tc filter show dev "$port" ingress) ]]
	[[ -z $(tc filter show dev docker0 ingress) ]]
	peer_ns=$(docker inspect -f '{{.NetworkSettings.SandboxKey}}' xlbdt_l4_1)
	! nsenter --net="$peer_ns" ip -d link show dev eth0 | grep -q 'prog/xdp'
	l4_client_down
}

@test "docker: xlbd only reads the Engine API: every request it sends is a GET" {
	local proxy=$BATS_TEST_TMPDIR/docker-proxy.sock dump=$BATS_TEST_TMPDIR/requests methods
	# everything xlbd writes to the socket, copied on its way to dockerd
	socat -r "$dump" "UNIX-LISTEN:$proxy,fork" UNIX-CONNECT:/var/run/docker.sock &
	SOCAT_PID=$!
	wait_until 5 test -S "$proxy"
	replica api 1
	start_dt_xlbd --docker="$proxy"
	replica api 2
	wait_until 10 all_seen api.dt.test xlbdt_api_1 xlbdt_api_2
	docker stop -t 2 xlbdt_api_1 >/dev/null
	wait_until 10 grep -q 'event=backend_del' "$DT_LOG"
	kill "$SOCAT_PID"
	methods=$(grep -aoE '^[A-Z]+ /[^ ]* HTTP/1\.[01]' "$dump" | cut -d' ' -f1 | sort | uniq -c)
	echo "$methods"
	grep -aqE '^GET /v1\.[0-9]+/containers/json' "$dump"
	grep -aqE '^GET /v1\.[0-9]+/events' "$dump"
	grep -aqE '^GET /v1\.[0-9]+/containers/[0-9a-f]+/json' "$dump"
	[[ $(grep -aoE '^[A-Z]+ /' "$dump" | grep -vc '^GET ') -eq 0 ]]
}

# host_listens PORT: a TCP socket of this host listens on PORT.
host_listens() { ss -Htln "sport = :$1" | grep -q LISTEN; }

@test "docker: a label cannot publish over a port the host listens on, nor multicast, nor an address the operator did not allow" {
	l4_client_up
	mkdir -p "$BATS_TEST_TMPDIR/www"
	echo host >"$BATS_TEST_TMPDIR/www/index.html"
	# the host's own service on 8090, on every address
	python3 -m http.server 8090 --bind 0.0.0.0 --directory "$BATS_TEST_TMPDIR/www" \
		>/dev/null 2>&1 &
	HOST_SRV_PID=$!
	wait_until 10 host_listens 8090 || fail "the host's server did not listen"
	replica hog 1 -l xlb.listen=8090/tcp -l xlb.port=8000
	replica mc 1 -l xlb.listen=224.0.0.251:5353/udp -l xlb.port=8000
	replica away 1 -l xlb.listen=10.203.0.77:8080/tcp -l xlb.port=8000
	replica l4 1 -l xlb.listen=8080/tcp -l xlb.port=8000
	start_dt_xlbd --iface xdt0 --attach xdp --no-socket-lb --vip 10.203.0.1
	wait_until 10 grep -q "service xlbdt_hog: label xlb.listen on container xlbdt_hog_1: 10.203.0.1:8090/tcp is taken on the host by uid=0 inode=$(ss -Htlne "sport = :8090" | grep -o "ino:[0-9]*" | head -1 | cut -d: -f2); not published" "$DT_LOG" ||
		fail "no refusal for the host's port: $(grep docker_conflict "$DT_LOG")"
	grep -q 'service xlbdt_mc: label xlb.listen on container xlbdt_mc_1: 224.0.0.251:5353/udp is a multicast, broadcast or unspecified address; not published' "$DT_LOG" ||
		fail "no refusal for multicast: $(grep docker_conflict "$DT_LOG")"
	grep -q 'service xlbdt_away: label xlb.listen on container xlbdt_away_1: 10.203.0.77:8080/tcp is not the VIP (see --docker-listen-allow); not published' "$DT_LOG" ||
		fail "no refusal for another address: $(grep docker_conflict "$DT_LOG")"
	# at the far end: the host's server still answers its port, and the
	# allowed listener is the container's
	[[ $(nsenter --net=/run/netns/xlbdt-cl curl -sf -m 5 http://10.203.0.1:8090/) == host ]] ||
		fail "the host's port was taken"
	wait_until 10 bash -c "[[ \$(nsenter --net=/run/netns/xlbdt-cl curl -sf -m 5 http://10.203.0.1:8080/who) == $(hostname_of xlbdt_l4_1) ]]" ||
		fail "the allowed listener does not reach its container"
	stop_dt_xlbd
	# the operator's own policy: only 9000-9100 on the VIP
	: >"$DT_LOG"
	start_dt_xlbd --iface xdt0 --attach xdp --no-socket-lb --vip 10.203.0.1 --docker-listen-allow 10.203.0.1:9000-9100
	wait_until 10 grep -q 'service xlbdt_l4: label xlb.listen on container xlbdt_l4_1: 10.203.0.1:8080/tcp is not in --docker-listen-allow; not published' "$DT_LOG" ||
		fail "8080 published outside the policy: $(grep docker_conflict "$DT_LOG")"
	"$XLBCTL" --pin-dir "$DT_PIN" --json services >"$BATS_TEST_TMPDIR/svcs"
	! grep -q '10.203.0.1:8080/tcp' "$BATS_TEST_TMPDIR/svcs" || { cat "$BATS_TEST_TMPDIR/svcs"; false; }
	l4_client_down
}

@test "docker: a label cannot take a port below --docker-min-listen-port (default 1024) on the VIP" {
	local listeners
	replica ssh 1 -l xlb.listen=22/tcp -l xlb.port=8000
	start_dt_xlbd --vip 10.203.0.1
	wait_until 10 grep -q 'port 22 is below --docker-min-listen-port 1024; not published' "$DT_LOG"
	[[ $(grep -c 'port 22 is below --docker-min-listen-port' "$DT_LOG") -eq 1 ]]
	# the service exists (by name) but has no listener, and no service key
	# for port 22 reached the data path
	"$XLBCTL" --pin-dir "$DT_PIN" --json services >"$BATS_TEST_TMPDIR/svcs"
	listeners=$(python3 -c 'import json, sys
print(sum(1 for s in json.load(open(sys.argv[1]))["services"] if s.get("listen")))' \
		"$BATS_TEST_TMPDIR/svcs")
	[[ $listeners -eq 0 ]] || { cat "$BATS_TEST_TMPDIR/svcs"; false; }
	[[ $(who ssh.dt.test) == "$(hostname_of xlbdt_ssh_1)" ]]
	stop_dt_xlbd
	# the operator allows it: published
	start_dt_xlbd --vip 10.203.0.1 --docker-min-listen-port 22
	# the log holds the first run's docker_synced too
	wait_until 10 bash -c "(( \$(grep -c 'event=docker_synced' '$DT_LOG') >= 2 ))"
	"$XLBCTL" --pin-dir "$DT_PIN" --json services >"$BATS_TEST_TMPDIR/svcs"
	grep -q '10.203.0.1:22/tcp' "$BATS_TEST_TMPDIR/svcs" || { cat "$BATS_TEST_TMPDIR/svcs"; false; }
}

# only_from HOST N NAMES...: N answers for HOST, each from one of the
# containers named (their file servers answer with their hostnames).
only_from() {
	local host=$1 n=$2 allowed got h
	shift 2
	allowed=$(for h in "$@"; do hostname_of "$h"; done)
	got=$(answered_by "$host" "$n")
	echo "answered by: $(tr '\n' ' ' <<<"$got")(allowed: $(tr '\n' ' ' <<<"$allowed"))"
	while read -r h; do grep -qx "$h" <<<"$allowed" || return 1; done <<<"$got"
}

@test "docker: a container started later cannot take a host name the api holds, nor after xlbd restarts" {
	local refusal='host api.dt.test is held by service xlbdt_api; not routed to container xlbdt_0evil'
	replica api 1
	replica api 2
	start_dt_xlbd
	wait_until 10 all_seen api.dt.test xlbdt_api_1 xlbdt_api_2
	# its name sorts before xlbdt_api, which used to be enough to win
	docker run -d --name xlbdt_0evil -l xlb.host=api.dt.test "$IMAGE" >/dev/null
	# before the fix nothing is logged; the answers below then show why
	wait_until 10 grep -qF "$refusal" "$DT_LOG" || true
	run only_from api.dt.test 40 xlbdt_api_1 xlbdt_api_2
	echo "$output"
	[[ $status -eq 0 ]]
	grep -F "event=docker_conflict msg=\"service xlbdt_0evil: $refusal\"" "$DT_LOG"
	# later builds (a new replica, its events) do not repeat the line
	replica api 3
	wait_until 10 all_seen api.dt.test xlbdt_api_1 xlbdt_api_2 xlbdt_api_3
	[[ $(grep -cF "$refusal" "$DT_LOG") -eq 1 ]]
	# a new xlbd holds nothing yet: the api, created first, gets the name again
	stop_dt_xlbd
	start_dt_xlbd
	wait_until 20 bash -c "(( \$(grep -c 'event=docker_synced' '$DT_LOG') >= 2 ))"
	run only_from api.dt.test 40 xlbdt_api_1 xlbdt_api_2 xlbdt_api_3
	echo "$output"
	[[ $status -eq 0 ]]
	[[ $(grep -cF "$refusal" "$DT_LOG") -eq 2 ]]
}

@test "docker: forged compose project/service labels do not make a container a backend of that service" {
	local origin=(-l com.docker.compose.project.working_dir=/src/xlbdt
		-l com.docker.compose.project.config_files=/src/xlbdt/docker-compose.yml)
	local split='container xlbdt_forged is not one of its containers'
	docker network create "$DT_NET" >/dev/null
	replica api 1 --network "$DT_NET" "${origin[@]}"
	replica api 2 --network "$DT_NET" "${origin[@]}"
	start_dt_xlbd
	wait_until 10 all_seen api.dt.test xlbdt_api_1 xlbdt_api_2
	# the api's project and service, from another checkout, on the default bridge
	docker run -d --name xlbdt_forged -l "com.docker.compose.project=$PROJECT" \
		-l com.docker.compose.service=api -l xlb.host=api.dt.test \
		-l com.docker.compose.project.working_dir=/tmp/elsewhere \
		-l com.docker.compose.project.config_files=/tmp/elsewhere/docker-compose.yml \
		"$IMAGE" >/dev/null
	# before the fix nothing is logged; the answers below then show why
	wait_until 10 grep -qF "$split" "$DT_LOG" || true
	run only_from api.dt.test 40 xlbdt_api_1 xlbdt_api_2
	echo "$output"
	[[ $status -eq 0 ]]
	[[ $(grep -cF "$split" "$DT_LOG") -eq 1 ]]
	grep -F "served as service xlbdt_api.xlbdt_forged" "$DT_LOG"
	run "$XLBCTL" --pin-dir "$DT_PIN" backends
	echo "$output"
	[[ $(grep -c 'xlbdt_api' <<<"$output") -eq 2 ]]
}
