#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Restarting xlbd under Host-routed load. With --takeover the new xlbd
# takes the running one's listening sockets, so no connection attempt is
# refused, and the old one serves the connections it holds until they end.
# A plain stop and start is the bound it improves on: what the proxy holds
# then is closed, and attempts while no xlbd listens are refused.

load helpers

setup_file() {
	lab_setup 2
	serve http 1 2
}

teardown_file() {
	lab_teardown
}

teardown() {
	if [[ -n ${OLD_PID-} ]] && pid_running "$OLD_PID"; then
		kill -KILL "$OLD_PID" 2>/dev/null || true
		wait "$OLD_PID" 2>/dev/null || true
	fi
	xlb_test_teardown
}

takeover_config() {
	cat <<-EOF
		[http]
		listen = $LB4:80
		[service api]
		host = api.app.dev
		backend = 10.200.1.2:8080
		backend = 10.200.2.2:8080
	EOF
}

# loop_start: a client making one request per new connection, without
# pause, until loop_stop; its summary line lands in $BATS_TEST_TMPDIR/loop.
loop_start() {
	bg_start xlb-client "$BATS_TEST_TMPDIR/loop" \
		"$PYTHON" "$HTTPCLIENT" loop "$LB4" 80 api.app.dev "$BATS_TEST_TMPDIR/stop"
}

loop_stop() {
	touch "$BATS_TEST_TMPDIR/stop"
	wait_until 15 grep -q '^requests=' "$BATS_TEST_TMPDIR/loop" ||
		{ fail "the client loop did not finish"; return 1; }
	LOOP_SUMMARY=$(grep '^requests=' "$BATS_TEST_TMPDIR/loop")
	echo "client loop: $LOOP_SUMMARY" >&2
	grep '^failed:' "$BATS_TEST_TMPDIR/loop" | sort | uniq -c >&2 || true
}

loop_progress() {
	local last
	last=$(grep '^progress=' "$BATS_TEST_TMPDIR/loop" | tail -n 1)
	echo "${last#progress=}"
}

# loop_wait_more N: polls until the loop has made N more requests.
loop_wait_more() {
	local want=$(($(loop_progress) + $1))
	wait_until 30 loop_reached "$want" ||
		{ fail "client loop stuck at $(loop_progress) requests (wanted $want)"; return 1; }
}

loop_reached() {
	local n
	n=$(loop_progress)
	((${n:-0} >= $1))
}

loop_field() {
	local v=${LOOP_SUMMARY#*"$1"=}
	echo "${v%% *}"
}

# held_start N: N keep-alive connections through the proxy, each with one
# answered request; held_release asks once more on each and closes them.
held_start() {
	bg_start xlb-client "$BATS_TEST_TMPDIR/held" \
		"$PYTHON" "$HTTPCLIENT" concurrent "$LB4" 80 api.app.dev "$1" "$BATS_TEST_TMPDIR/release"
	HELD_PID=$BG_PID
	wait_until 15 grep -q "^answered=$1 of $1" "$BATS_TEST_TMPDIR/held" ||
		{ fail "held connections: $(cat "$BATS_TEST_TMPDIR/held")"; return 1; }
}

held_release() {
	touch "$BATS_TEST_TMPDIR/release"
	wait_until 30 grep -q '^again=' "$BATS_TEST_TMPDIR/held" ||
		{ fail "held connections never asked again: $(cat "$BATS_TEST_TMPDIR/held")"; return 1; }
	HELD_AGAIN=$(grep '^again=' "$BATS_TEST_TMPDIR/held")
}

# takeover_under_load PATH: the new xlbd takes over while a client loops
# and 20 keep-alive connections are held in the old one, whose proxy
# moves bytes by PATH (splice, in the default request mode, or sockmap, in
# connection mode, where it moves HTTP connections: the sockmap's verdict
# program and socket maps are each xlbd's own, so both must serve at once).
takeover_under_load() {
	local cfg status=0 path=$1 mode=()
	[[ $path == splice ]] || mode=(--http-mode connection)
	cfg=$(write_config "$(takeover_config)")
	start_xlbd "$cfg" --metrics 127.0.0.1:9120 --proxy-path "$path" "${mode[@]}"
	OLD_PID=$XLBD_PID
	loop_start
	held_start 20
	loop_wait_more 100

	# the same port for metrics: the old xlbd gives it up first
	start_xlbd "$cfg" --metrics 127.0.0.1:9120 --proxy-path "$path" "${mode[@]}" --takeover \
		--drain-timeout-ms 30000
	wait_log 'event=handover listeners=1 open_conns=2[0-9]'
	wait_log 'event=takeover listeners=1'
	wait_log 'event=proxy_listen addr=10\.200\.0\.1:80 kind=http socket=handed_over'
	# the old xlbd accepts no more: these are the new one's
	loop_wait_more 100
	pid_running "$OLD_PID" || { fail "the old xlbd exited with connections open"; return 1; }

	held_release
	[[ $HELD_AGAIN == "again=20 of 20" ]] || { fail "held connections: $HELD_AGAIN"; return 1; }
	# its connections done, the old xlbd exits by itself, cleanly
	wait_until 10 pid_gone "$OLD_PID" || { fail "old xlbd still running after its connections ended"; return 1; }
	wait "$OLD_PID" || status=$?
	[[ $status -eq 0 ]] || { fail "old xlbd exit status $status"; return 1; }
	log_has 'event=drained open_conns=0$' || { fail "old xlbd did not log a complete drain"; return 1; }

	loop_stop
	echo "# fault takeover_host_$path: requests=$(loop_field requests) failed=$(loop_field failed)" \
		"held=20 held_answered_again=20 max_request_ms=$(loop_field max_ms)" >&3
	(($(loop_field requests) > 150)) || { fail "too few requests to tell: $LOOP_SUMMARY"; return 1; }
	[[ $(loop_field failed) == 0 ]] || { fail "requests failed across the takeover: $LOOP_SUMMARY"; return 1; }
	# the new xlbd alone serves now, and answers on the control socket and
	# the metrics port
	assert_answer_like api.app.dev 'be[12]'
	control_ok ping
	in_lb curl -sf http://127.0.0.1:9120/metrics | grep -q '^xlb_build_info' ||
		{ fail "no metrics from the new xlbd"; return 1; }
	# and its connections took the path asked for
	wait_counter "${path}_conns" 1
}

@test "--takeover under a client loop: no request fails, held connections finish on the old xlbd" {
	takeover_under_load splice
}

@test "--takeover on the sockmap path (connection mode): the same, with both xlbds' sockmaps moving bytes at once" {
	takeover_under_load sockmap
}

@test "--takeover with no xlbd running starts normally" {
	start_xlbd "$(write_config "$(takeover_config)")" --takeover
	wait_log 'event=takeover_none'
	wait_log 'socket=new'
	assert_answer_like api.app.dev 'be[12]'
}

@test "a bad takeover request over the control socket gets an error and changes nothing" {
	start_xlbd "$(write_config "$(takeover_config)")"
	run control takeover
	[[ $output == "error: usage: takeover drain_ms=N" ]] || { fail "got: $output"; return 1; }
	run control takeover drain_ms=x
	[[ $output == "error: bad drain_ms 'x'" ]] || { fail "got: $output"; return 1; }
	control_ok ping
	assert_answer_like api.app.dev 'be[12]'
	! log_has 'event=handover' || { fail "a bad request handed over"; return 1; }
}

@test "stop and start without --takeover: the bound it improves on" {
	local cfg t0 failed
	cfg=$(write_config "$(takeover_config)")
	start_xlbd "$cfg"
	loop_start
	held_start 20
	loop_wait_more 100
	t0=$(now_ms)
	stop_xlbd TERM
	start_xlbd "$cfg"
	local gap=$(($(now_ms) - t0))
	loop_wait_more 100
	held_release
	loop_stop
	failed=$(loop_field failed)
	echo "# fault restart_host_plain: requests=$(loop_field requests) failed=$failed" \
		"held=20 $HELD_AGAIN max_request_ms=$(loop_field max_ms) listening_again_after_ms=$gap" >&3
	# the held connections were in the proxy: they are closed, not hung
	[[ $HELD_AGAIN == "again=0 of 20" ]] || { fail "held connections: $HELD_AGAIN"; return 1; }
	# every failure is a refused or closed connection, none waited for a
	# timeout, and requests succeed again afterwards
	! grep '^failed:' "$BATS_TEST_TMPDIR/loop" | grep -qiE 'timeout|timed out' ||
		{ fail "a request hung until a timeout"; return 1; }
	assert_answer_like api.app.dev 'be[12]'
}
