#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# No leak and no memory error in a whole life of xlbd: the normal build
# under valgrind's memcheck, started on the lab, serving an L4 service
# (XDP), Host-routed HTTP and SNI-routed TLS through its proxy, health
# checks, /metrics scrapes, control socket requests and a SIGHUP reload,
# then stopped with SIGTERM. Once per proxy path that moves the bytes in
# the kernel (splice, sockmap). Not in the ASan pass of tests/run.sh:
# valgrind cannot run an ASan binary.

load helpers

METRICS=127.0.0.1:9120
VALGRIND_SUPP=$REPO/tests/valgrind.supp
# valgrind's own start-up and the leak scan at exit take seconds, not the
# milliseconds of a plain xlbd
VALGRIND_START_S=90
VALGRIND_STOP_S=90

setup_file() {
	command -v valgrind >/dev/null || {
		echo "valgrind is not installed (scripts/deps.sh installs it)" >&2
		return 1
	}
	if ldd "$XLBD" | grep -q libasan; then
		skip "$XLBD is an ASan build, which valgrind cannot run"
	fi
	lab_setup 3
	serve api 1 3
	serve http 1 2
	"$LAB" serve-tls 3 a.app.dev >&2
	# a certificate for the name xlbd terminates TLS for
	mkdir -p "$BATS_FILE_TMPDIR/certs"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
		-subj /CN=s.app.dev -addext subjectAltName=DNS:s.app.dev \
		-keyout "$BATS_FILE_TMPDIR/certs/s.app.dev.key" \
		-out "$BATS_FILE_TMPDIR/certs/s.app.dev.crt" 2>/dev/null
}

teardown_file() {
	lab_teardown
}

teardown() {
	xlb_test_teardown
}

# An L4 service on the VIP (BACKENDS: the backend numbers), a Host-routed
# HTTP service with health checks and an SNI-routed TLS service.
leaks_config() {
	local i
	echo "[service api]"
	echo "listen = $VIP4:80/tcp"
	for i in "$@"; do echo "backend = 10.200.$i.2:8000"; done
	cat <<-EOF
		[http]
		listen = $LB4:80
		[tls]
		listen = $LB4:443
		certs = $BATS_FILE_TMPDIR/certs
		[service web]
		host = web.test
		check = http:/who
		check_interval = 500ms
		check_timeout = 400ms
		backend = 10.200.1.2:8080
		backend = 10.200.2.2:8080
		[service secure]
		proto = tls
		host = a.app.dev
		backend = 10.200.3.2:8443
		[service terminated]
		proto = https
		hsts = 600
		host = s.app.dev
		backend = 10.200.1.2:8080
	EOF
}

# start_xlbd_valgrind CONFIG_FILE [EXTRA ARGS...]: start_xlbd, with xlbd
# run by valgrind (its report in $VALGRIND_LOG). XLBD_PID is valgrind's,
# which is the process xlbd runs in: signals reach xlbd.
start_xlbd_valgrind() {
	VALGRIND_LOG=$BATS_TEST_TMPDIR/valgrind.log
	# The undefined-value check is on: valgrind 3.19 does not know bpf()'s
	# batch commands (it warns "unhandled eBPF command 24") nor per-CPU
	# value sizes, and xlbd marks what the kernel writes through them
	# (userspace/lib/vg.h); everything else it reads is checked.
	# shellcheck disable=SC2034,SC2054 # read by start_xlbd; commas in options
	local -a XLBD_LAUNCHER=(valgrind --leak-check=full
		--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect
		--error-exitcode=99 --track-origins=yes --num-callers=30
		--suppressions="$VALGRIND_SUPP" --log-file="$VALGRIND_LOG")
	XLBD_START_S=$VALGRIND_START_S XLBD_EXE_GLOB='*/valgrind/memcheck-*' \
		XLBD_START_LOGS=$VALGRIND_LOG start_xlbd "$@"
}

# stop_valgrind: SIGTERM, then waits for valgrind's report; XLBD_STATUS.
stop_valgrind() {
	kill -TERM "$XLBD_PID"
	wait_until "$VALGRIND_STOP_S" pid_gone "$XLBD_PID" ||
		{ fail "xlbd under valgrind still running ${VALGRIND_STOP_S}s after SIGTERM"; return 1; }
	XLBD_STATUS=0
	wait "$XLBD_PID" || XLBD_STATUS=$?
	XLBD_PID=
}

# assert_valgrind_clean: memcheck saw xlbd run and exit, found no error and
# nothing definitely or indirectly lost.
assert_valgrind_clean() {
	local log=$VALGRIND_LOG
	echo "--- valgrind: $(grep -cF 'unhandled eBPF command' "$log") bpf() calls it does not model" >&2
	grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|All heap blocks' "$log" >&2 || true
	grep -qF "Command: $XLBD " "$log" || { fail "valgrind did not run $XLBD"; return 1; }
	log_has 'event=stop signal=Terminated' || { fail "xlbd never logged its stop"; return 1; }
	if [[ $XLBD_STATUS != 0 ]] || ! grep -qE '== ERROR SUMMARY: 0 errors from 0 contexts' "$log"; then
		fail "xlbd under valgrind: exit status $XLBD_STATUS; report:" || true
		cat "$log" >&2
		return 1
	fi
	grep -qF 'All heap blocks were freed -- no leaks are possible' "$log" && return 0
	if ! grep -qE '== +definitely lost: 0 bytes in 0 blocks' "$log" ||
		! grep -qE '== +indirectly lost: 0 bytes in 0 blocks' "$log"; then
		fail "bytes lost:" || true
		cat "$log" >&2
		return 1
	fi
}

scrape() {
	in_lb curl -sS -f -m 10 "http://$METRICS/metrics" >"$BATS_TEST_TMPDIR/metrics"
}

# scraped_metric SERIES: its value in the last scrape; fails when it is not there.
scraped_metric() {
	awk -v s="$1" '$1 == s { print $2; found = 1 } END { exit !found }' "$BATS_TEST_TMPDIR/metrics"
}

web_backends_up() {
	scrape &&
		[[ $(scraped_metric 'xlb_backend_up{service="web",backend="10.200.1.2:8080"}') == 1 ]] &&
		[[ $(scraped_metric 'xlb_backend_up{service="web",backend="10.200.2.2:8080"}') == 1 ]]
}

tls_get() {
	in_client curl -sS -m 10 -k --resolve "$1:443:$LB4" "https://$1/who"
}

l4_reaches_be3() {
	curl_hostnames 10 "http://$VIP4/" | grep -qx be3
}

# leak_cycle PATH: the whole life of xlbd moving proxied bytes by PATH.
leak_cycle() {
	local cfg
	cfg=$(write_config "$(leaks_config 1 2)")
	local mode=()
	# sockmap moves HTTP connections in connection mode only (request
	# mode, the default, splices the bodies it frames)
	[[ $1 == splice ]] || mode=(--http-mode connection)
	start_xlbd_valgrind "$cfg" --metrics "$METRICS" --proxy-path "$1" "${mode[@]}"

	# L4 through XDP
	curl_hostnames 20 "http://$VIP4/" >"$BATS_TEST_TMPDIR/l4"
	assert_only_from "$BATS_TEST_TMPDIR/l4" be1 be2
	# health checks pass, then Host routing, a 404 and a 400
	wait_until 60 web_backends_up || { fail "web backends never up: $(cat "$BATS_TEST_TMPDIR/metrics")"; return 1; }
	host_answers 10 web.test >"$BATS_TEST_TMPDIR/web"
	assert_only_from "$BATS_TEST_TMPDIR/web" be1 be2
	assert_answer nope.test status=404
	run httpc raw "$LB4" 80 < <(printf 'GET /who HTTP/1.1\r\nHost: web.test\r\nHost: x\r\n\r\n')
	[[ $output == "HTTP/1.1 400 "* ]] || { fail "two Host headers: $output"; return 1; }
	# SNI routing, and an unknown name refused
	run tls_get a.app.dev
	[[ $status -eq 0 && $output == be3 ]] || { fail "TLS a.app.dev: $output"; return 1; }
	run tls_get nope.app.dev
	[[ $status -ne 0 ]] || { fail "TLS with an unknown name answered: $output"; return 1; }
	# TLS terminated by xlbd: keep-alive requests and an upload
	run in_client curl -sS -m 10 -k --resolve "s.app.dev:443:$LB4" https://s.app.dev/who \
		https://s.app.dev/who --next -sS -m 10 -k --resolve "s.app.dev:443:$LB4" \
		--data-binary @/etc/services https://s.app.dev/upload
	[[ $status -eq 0 && $output == be1*be1*sha256=* ]] ||
		{ fail "TLS terminated: $output"; return 1; }
	# what was served shows in /metrics
	scrape
	[[ $(scraped_metric 'xlb_proxy_connections_total{service="web",outcome="routed"}') == 10 ]] ||
		{ fail "web routed: $(grep 'service="web"' "$BATS_TEST_TMPDIR/metrics")"; return 1; }
	[[ $(scraped_metric "xlb_proxy_path_connections_total{service=\"web\",path=\"$1\"}") == 10 ]] ||
		{ fail "web on path $1: $(grep 'path=' "$BATS_TEST_TMPDIR/metrics")"; return 1; }

	# the control socket: a service made, served, drained, removed; junk
	control_ok service add extra host=extra.test
	control_ok backend add extra 10.200.1.2:8080
	assert_answer extra.test be1
	control_ok backend drain extra 10.200.1.2:8080
	control_ok backend del extra 10.200.1.2:8080
	control_ok service del extra
	assert_answer extra.test status=404
	[[ $(control bogus request | tail -n 1) == error:* ]] || { fail "junk request accepted"; return 1; }

	# SIGHUP: a third L4 backend from the config file
	leaks_config 1 2 3 >"$cfg"
	kill -HUP "$XLBD_PID"
	wait_log 'event=reload config='
	wait_until 30 l4_reaches_be3 || { fail "be3 not reached after the reload"; return 1; }

	stop_valgrind
	assert_valgrind_clean
}

@test "valgrind: start, serve (L4, HTTP, TLS; splice), metrics, control, reload, stop: no error, nothing lost" {
	leak_cycle splice
}

@test "valgrind: the same with the proxy on the sockmap path (connection mode): no error, nothing lost" {
	leak_cycle sockmap
}
