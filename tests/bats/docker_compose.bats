#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The compose demo as a user runs it: compose/docker-compose.yml up with
# --scale api=5 on a real dockerd, xlbd in its lb container discovering the
# containers by their labels, and curl or a browser on the host's port 80.
#
# Needs: scripts/deps.sh (docker.io, docker-compose, debootstrap, chromium);
# the host's port 80 free. Builds from local stand-in base images
# (scripts/images.sh), as no registry is reachable here. Everything the
# stack makes is removed in teardown_file, also after a failure; the built
# images stay as the next run's cache.

load helpers
load docker_helpers

setup_file() {
	local t0=$SECONDS
	dockerd_up
	echo "# dockerd: $(cat "$DK_STATE.dockerd") ($((SECONDS - t0))s)" >&3
	t0=$SECONDS
	standin_images
	echo "# stand-in images ready ($((SECONDS - t0))s)" >&3
	# A stack left by an interrupted run would be adopted, not tested.
	stack_down 2>/dev/null
	if [[ -e $LB_PIN_DIR ]]; then
		fail "$LB_PIN_DIR exists before the stack starts (another xlbd, or a killed one: xlbctl teardown)"
		return 1
	fi
	record_host_before
	t0=$SECONDS
	stack_up
	echo "# compose up --build --scale api=$API_REPLICAS ($((SECONDS - t0))s)" >&3
	t0=$SECONDS
	if ! wait_until 60 stack_answers; then
		dump_lb_log
		fail "the balancer does not answer for api.app.dev and app.app.dev on port 80"
		return 1
	fi
	echo "# balancer answering ($((SECONDS - t0))s)" >&3
	if ! wait_until 60 api_backends_ready; then
		dump_lb_log
		fail "the lb does not have the $API_REPLICAS api replicas as active backends"
		return 1
	fi
}

teardown_file() {
	stack_down
	dockerd_down_if_ours
}

teardown() {
	if [[ -z ${BATS_TEST_COMPLETED-} ]]; then dump_lb_log; fi
}

@test "the compose example: 20 curls to api.app.dev get the JSON greeting, with CORS, from all 5 api containers" {
	local expected body i code seen=$BATS_TEST_TMPDIR/seen
	expected=$(api_hostnames)
	(($(wc -l <<<"$expected") == API_REPLICAS)) || fail "expected $API_REPLICAS api containers, have: $expected"
	body=$BATS_TEST_TMPDIR/body
	for ((i = 0; i < 20; i++)); do
		code=$(get api.app.dev "$body") || true
		[[ $code == 200 ]] || fail "request $i: status $code"
		api_hostname_of "$body" >>"$seen" || fail "request $i: not the greeting: $(cat "$body")"
		[[ $(header_of "$body" Content-Type) == application/json ]] ||
			fail "request $i: Content-Type '$(header_of "$body" Content-Type)'"
		[[ $(header_of "$body" Access-Control-Allow-Origin) == "*" ]] ||
			fail "request $i: no Access-Control-Allow-Origin: *"
	done
	echo "answers per container:" >&2
	sort "$seen" | uniq -c >&2
	assert_all_match "$seen" "$(paste -sd '|' <<<"$expected")"
	# the proxy's weighted round robin: 20 connections, 5 equal replicas
	[[ $(sort -u "$seen") == "$expected" ]] ||
		fail "answered by: $(sort -u "$seen" | tr '\n' ' '); api containers: $(tr '\n' ' ' <<<"$expected")"
}

# every_api_answered FILE EXPECTED: asks api.app.dev until every expected
# hostname has answered (FILE gets one hostname per answer).
every_api_answered() {
	local body=$BATS_TEST_TMPDIR/body
	[[ $(get api.app.dev "$body") == 200 ]] && api_hostname_of "$body" >>"$1"
	[[ $(sort -u "$1") == "$2" ]]
}

@test "every one of the 5 api containers, as docker inspect names them, answers through the balancer, and nothing else" {
	local expected seen=$BATS_TEST_TMPDIR/seen
	expected=$(api_hostnames)
	touch "$seen"
	wait_until 60 every_api_answered "$seen" "$expected" || true
	echo "answers per container after $(wc -l <"$seen") requests:" >&2
	sort "$seen" | uniq -c >&2
	[[ $(sort -u "$seen") == "$expected" ]] ||
		fail "answered by: $(sort -u "$seen" | tr '\n' ' '); api containers: $(tr '\n' ' ' <<<"$expected")"
}

@test "app.app.dev serves the HTML page titled My stuffs" {
	local body=$BATS_TEST_TMPDIR/page code
	code=$(get app.app.dev "$body")
	[[ $code == 200 ]] || fail "status $code"
	[[ $(header_of "$body" Content-Type) == text/html* ]] || fail "Content-Type '$(header_of "$body" Content-Type)'"
	grep -q '<title>My stuffs</title>' "$body" || fail "no title in: $(cat "$body")"
	grep -q 'Hello' "$body" || fail "no Hello in: $(cat "$body")"
}

@test "https://app.app.dev/: TLS terminated by the lb with the demo's certificate; /api/ on the same origin" {
	local ca=$XLB_CERTS_DIR/ca.pem out
	[[ -s $ca ]] || fail "no demo CA at $ca"
	out=$(curl -sS -m 5 --cacert "$ca" --resolve app.app.dev:443:127.0.0.1 https://app.app.dev/)
	[[ $out == *"<title>My stuffs</title>"* ]] || fail "page over https: $out"
	out=$(curl -sS -m 5 --cacert "$ca" --resolve app.app.dev:443:127.0.0.1 https://app.app.dev/api/)
	api_hostnames | grep -qx "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["hostname"])' <<<"$out")" ||
		fail "/api/ over https not from an api container: $out"
	# the certificate is the demo's, for the page's name
	out=$(openssl s_client -connect 127.0.0.1:443 -servername app.app.dev -CAfile "$ca" </dev/null 2>&1)
	[[ $out == *"subject=CN = app.app.dev"* && $out == *"Verify return code: 0 (ok)"* ]] ||
		fail "certificate: $out"
}

# A browser cannot load http://app.app.dev/: every *.dev name is on
# Chromium's HSTS preload list, so it is fetched as https://. The stack also
# answers to *.app.localhost, which browsers resolve to this host by
# themselves, and the page asks its sibling api.* name.
@test "the lb serves Prometheus metrics on 127.0.0.1:9120: Docker connected, and each proxied request counted" {
	local before after i
	metric_value() {
		curl -sS -m 5 http://127.0.0.1:9120/metrics |
			awk -v m="$1" '$1 == m { print $2; found = 1 } END { if (!found) print "absent" }'
	}
	[[ $(metric_value xlb_docker_connected) == 1 ]] || fail "xlb_docker_connected: $(metric_value xlb_docker_connected)"
	before=$(metric_value "xlb_proxy_connections_total{service=\"${COMPOSE_PROJECT}_api\",outcome=\"routed\"}")
	for i in 1 2 3 4 5; do
		[[ $(get api.app.dev "$BATS_TEST_TMPDIR/body") == 200 ]] || fail "request $i"
	done
	after=$(metric_value "xlb_proxy_connections_total{service=\"${COMPOSE_PROJECT}_api\",outcome=\"routed\"}")
	[[ $before =~ ^[0-9]+$ && $after =~ ^[0-9]+$ ]] || fail "routed: before '$before' after '$after'; scrape: $(curl -sS -m 5 http://127.0.0.1:9120/metrics | grep -E 'xlb_proxy_connections_total')"
	[[ $((after - before)) -eq 5 ]] || fail "routed grew by $((after - before)), not 5"
}

@test "app.app.dev/api/ is the api under the page's name: one keep-alive connection gets the page, then an api container" {
	local out expected
	expected=$(api_hostnames)
	out=$(curl -s -m 5 -H 'Host: app.app.dev' -w '\nconnects=%{num_connects}\n' \
		"$LB_URL" "${LB_URL%/}/api/")
	grep -q '<title>My stuffs</title>' <<<"$out" || fail "no page in: $out"
	# the second transfer reused the first one's connection
	[[ $(grep -c '^connects=0$' <<<"$out") -eq 1 ]] || fail "not one connection: $out"
	grep -o '"hostname": "[^"]*"' <<<"$out" | cut -d'"' -f4 | grep -qxF -f <(echo "$expected") ||
		fail "no api container answered /api/: $out"
}

# The page fetches /api/ from its own origin: the path route above.
@test "in a headless Chromium the page shows the hostname of the api container that answered its fetch" {
	local expected got
	expected=$(api_hostnames)
	browser_shows_api() {
		got=$(page_api_hostname http://app.app.localhost/) || return 1
		grep -qxF -- "$got" <<<"$expected"
	}
	if ! wait_until 60 browser_shows_api; then
		tail -n 20 "$BATS_TEST_TMPDIR/chromium.log" >&2 || true
		fail "#api-hostname shows '$got', not one of: $(tr '\n' ' ' <<<"$expected")"
	fi
	echo "the page shows $got" >&2
}

lb_synced_twice() {
	(($(docker logs "$(lb_container)" 2>&1 | grep -c 'event=docker_synced') >= 2))
}

@test "after dockerd restarts, every api container still answers and the lb resyncs with the new dockerd" {
	[[ $(cat "$DK_STATE.dockerd") == dockerd=started ]] ||
		skip "dockerd was running before this file: not restarting it under its other users"
	local expected seen=$BATS_TEST_TMPDIR/seen
	expected=$(api_hostnames)
	"$REPO/scripts/dockerd.sh" restart >&2
	# live-restore keeps the containers running; the lb serves meanwhile
	# and reconnects to the new dockerd (the scale test below relies on it)
	touch "$seen"
	wait_until 60 every_api_answered "$seen" "$expected" ||
		fail "answered by: $(sort -u "$seen" | tr '\n' ' '); api containers: $(tr '\n' ' ' <<<"$expected")"
	wait_until 60 lb_synced_twice || fail "the lb did not resync with the restarted dockerd"
}

only_from() {
	local body=$BATS_TEST_TMPDIR/body
	[[ $(get api.app.dev "$body") == 200 ]] && grep -qxF -- "$(api_hostname_of "$body")" <<<"$1"
}

# only_from_for N EXPECTED: N requests in a row answered by EXPECTED only.
only_from_for() {
	local i
	for ((i = 0; i < $1; i++)); do only_from "$2" || return 1; done
}

@test "scaling api down to 2 leaves exactly those 2 containers answering" {
	local expected seen=$BATS_TEST_TMPDIR/seen
	compose up -d --no-build --scale api=2 >&2
	expected=$(api_hostnames)
	(($(wc -l <<<"$expected") == 2)) || fail "expected 2 api containers, have: $expected"
	# xlbd follows Docker's events: poll until the removed ones are gone.
	wait_until 30 only_from_for 10 "$expected" || fail "still answered by removed containers"
	touch "$seen"
	wait_until 30 every_api_answered "$seen" "$expected" ||
		fail "answered by: $(sort -u "$seen" | tr '\n' ' '); api containers: $(tr '\n' ' ' <<<"$expected")"
	assert_all_match "$seen" "$(paste -sd '|' <<<"$expected")"
}

# lb_caps PID FIELD: a capability set from /proc/PID/status (on the host:
# no capsh in the image), as capsh names it.
lb_caps() {
	local out
	out=$(capsh --decode="$(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status")")
	echo "${out#*=}"
}

# Before the stack goes down (the last test): the lb as it ran all along.
@test "the lb container is not privileged, has only SYS_ADMIN and NET_BIND_SERVICE, and xlbd keeps only cap_sys_admin" {
	local c pid got
	c=$(lb_container)
	[[ -n $c ]] || fail "no lb container"
	[[ $(docker inspect -f '{{.HostConfig.Privileged}}' "$c") == false ]] || fail "the lb container is privileged"
	got=$(docker inspect -f '{{json .HostConfig.CapDrop}}' "$c")
	[[ $got == '["ALL"]' ]] || fail "CapDrop is $got"
	# compose v1 passes the names as written, Docker may add CAP_
	got=$(docker inspect -f '{{range .HostConfig.CapAdd}}{{println .}}{{end}}' "$c" | sed 's/^CAP_//' | grep . | sort | paste -sd,)
	[[ $got == NET_BIND_SERVICE,SYS_ADMIN ]] || fail "CapAdd is $got"
	# the container's first process is xlbd (the image's entrypoint)
	pid=$(docker inspect -f '{{.State.Pid}}' "$c")
	[[ $(cat "/proc/$pid/comm") == xlbd ]] || fail "pid $pid is $(cat "/proc/$pid/comm"), not xlbd"
	# SYS_ADMIN for the BPF work: this Docker (20.10) knows no CAP_BPF
	[[ $(lb_caps "$pid" CapEff) == cap_sys_admin ]] || fail "xlbd's CapEff: $(lb_caps "$pid" CapEff)"
	[[ $(lb_caps "$pid" CapPrm) == cap_sys_admin ]] || fail "xlbd's CapPrm: $(lb_caps "$pid" CapPrm)"
	[[ $(awk '$1 == "NoNewPrivs:" { print $2 }' "/proc/$pid/status") == 1 ]] || fail "no_new_privs not set"
	docker logs "$c" 2>&1 | grep -q 'event=caps_dropped kept=cap_sys_admin ' || fail "no caps_dropped line in the lb's log"
}

@test "docker-compose down leaves no XDP program, tc filter, pin or network link behind" {
	local stack
	stack=$(stack_links)
	(($(wc -l <<<"$stack") > 1)) || fail "no bridge ports found for the stack: $stack"
	compose down >&2
	[[ ! -e $LB_PIN_DIR ]] || fail "pins left: $(ls "$LB_PIN_DIR")"
	local left
	left=$(new_attachments)
	if [[ -n $left ]]; then
		echo "xlbd processes running now: $(pgrep -a -x xlbd || echo none)" >&2
		fail "attached after down, not before up:"$'\n'"$left"
	fi
	left=$(comm -12 <(sort <<<"$stack") <(host_links))
	[[ -z $left ]] || fail "links of the stack left after down: $left"
	[[ -z $(compose ps -q) ]] || fail "containers left: $(compose ps)"
}
