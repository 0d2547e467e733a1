#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# xlbctl trace: why packets were forwarded, passed or dropped, from the
# data path's ring buffer, with real traffic through the lab's uplink.
# Tracing is off unless a trace runs, and off again when it ends.

load helpers

setup_file() {
	lab_setup 2
	serve api 1 2
}

teardown_file() {
	lab_teardown
}

teardown() {
	xlb_test_teardown
}

trace_config() {
	echo "[service api]"
	echo "listen = $VIP4:80/tcp"
	echo "backend = 10.200.1.2:8000"
	echo "backend = 10.200.2.2:8000"
}

# trace_knob: the "enabled" field of the pinned knob, as bpftool reads it.
trace_knob() {
	bpftool -j map dump pinned "$PIN_DIR/xlb_trace_cfg" | "$PYTHON" -c '
import json, sys
print(json.load(sys.stdin)[0]["formatted"]["value"]["enabled"])'
}

knob_on() {
	[[ $(trace_knob) == 1 ]]
}

# trace_status FIELD: .trace.FIELD of `xlbctl --json status`.
trace_status() {
	xlbctl --json status | "$PYTHON" -c '
import json, sys
print(json.load(sys.stdin)["trace"][sys.argv[1]])' "$1"
}

# trace_start ARGS...: `xlbctl trace ARGS` in the lb netns in the
# background (stdout in TRACE_OUT, stderr in TRACE_OUT.err); returns once
# tracing is on. The per-test teardown stops it (SIGTERM) if still running.
trace_start() {
	TRACE_OUT=$BATS_TEST_TMPDIR/trace.out
	nsenter --net=/run/netns/xlb-lb "$XLBCTL" --pin-dir "$PIN_DIR" --socket "$CTL_SOCK" \
		trace "$@" </dev/null >"$TRACE_OUT" 2>"$TRACE_OUT.err" 3>&- &
	TRACE_PID=$!
	BG_PIDS+=("$TRACE_PID")
	wait_until 10 knob_on || {
		fail "tracing did not switch on; stderr: $(cat "$TRACE_OUT.err")"
	}
}

# trace_wait_exit: waits for the trace to end by itself; TRACE_STATUS is
# its exit status.
trace_wait_exit() {
	wait_until 20 pid_gone "$TRACE_PID" || { fail "xlbctl trace still running"; return 1; }
	TRACE_STATUS=0
	wait "$TRACE_PID" 2>/dev/null || TRACE_STATUS=$?
	echo "--- trace output" >&2
	cat "$TRACE_OUT" "$TRACE_OUT.err" >&2
}

# A forwarded client packet: before => after, the backend as destination
# (grep -E with back references: the client's port is kept, the backend
# column is the new destination).
FWD_LINE='^[0-9:.]+ u0 xdp fwd_(redirect|stack) api (10\.200\.[12]\.2:8000) tcp 10\.200\.0\.2:([0-9]+) -> 10\.200\.0\.100:80 => 10\.200\.0\.2:\3 -> \2 len=[0-9]+( new_flow)?$'
# A backend's reply: the VIP written in as its source.
RNAT_LINE='^[0-9:.]+ b[12] tc rnat_(redirect|stack) api (10\.200\.[12]\.2:8000) tcp \2 -> 10\.200\.0\.2:([0-9]+) => 10\.200\.0\.100:80 -> 10\.200\.0\.2:\3 len=[0-9]+$'

@test "trace --count K during 40 connections: K lines, fwd ones name the service and its backends" {
	start_xlbd "$(write_config "$(trace_config)")"
	trace_start --count 150
	curl_hostnames 40 "http://$VIP4/" >"$BATS_TEST_TMPDIR/answers"
	trace_wait_exit
	[[ $TRACE_STATUS -eq 0 ]] || fail "xlbctl trace exited with $TRACE_STATUS"
	[[ $(wc -l <"$TRACE_OUT") -eq 150 ]] || fail "$(wc -l <"$TRACE_OUT") lines, expected 150"
	[[ ! -s $TRACE_OUT.err ]] || fail "xlbctl trace wrote to stderr"
	local fwd rnat fwd_ok rnat_ok backends
	fwd=$(grep -c ' xdp fwd_' "$TRACE_OUT" || true)
	fwd_ok=$(grep -cE "$FWD_LINE" "$TRACE_OUT" || true)
	rnat=$(grep -c ' tc rnat_' "$TRACE_OUT" || true)
	rnat_ok=$(grep -cE "$RNAT_LINE" "$TRACE_OUT" || true)
	((fwd > 0 && fwd == fwd_ok)) || fail "$fwd_ok of $fwd fwd lines as expected"
	((rnat > 0 && rnat == rnat_ok)) || fail "$rnat_ok of $rnat rnat lines as expected"
	# both backends: 150 events are more than a dozen connections
	backends=$(grep -E "$FWD_LINE" "$TRACE_OUT" | awk '{print $6}' | sort -u | wc -l)
	((backends == 2)) || fail "fwd lines name $backends backends, expected both"
	grep -qE "$FWD_LINE" <(grep ' new_flow$' "$TRACE_OUT") || fail "no new_flow line"
}

@test "a packet to a VIP port without a service shows pass_not_service; SIGTERM ends the trace" {
	start_xlbd "$(write_config "$(trace_config)")"
	trace_start
	run in_client curl -sS -m 1 "http://$VIP4:81/"
	wait_until 10 grep -qE \
		'^[0-9:.]+ u0 xdp pass_not_service - - tcp 10\.200\.0\.2:[0-9]+ -> 10\.200\.0\.100:81 len=[0-9]+$' \
		"$TRACE_OUT" || { fail "no pass_not_service line"; cat "$TRACE_OUT" >&2; return 1; }
	kill -TERM "$TRACE_PID"
	trace_wait_exit
	[[ $TRACE_STATUS -eq 0 ]] || fail "xlbctl trace exited with $TRACE_STATUS after SIGTERM"
	[[ $(trace_knob) == 0 ]] || fail "tracing still on after SIGTERM"
}

@test "after a trace ends the knob is off and the data path writes no events" {
	local events
	start_xlbd "$(write_config "$(trace_config)")"
	trace_start --count 5
	curl_hostnames 3 "http://$VIP4/" >/dev/null
	trace_wait_exit
	[[ $TRACE_STATUS -eq 0 ]] || fail "xlbctl trace exited with $TRACE_STATUS"
	[[ $(trace_knob) == 0 ]] || fail "bpftool: tracing still on"
	[[ $(trace_status enabled) == False ]] || fail "xlbctl status: tracing still on"
	xlbctl status | grep -q '^trace: *off, ' || fail "xlbctl status does not say off"
	events=$(trace_status events)
	((events >= 5)) || fail "xlb_trace_stats counted $events events, expected 5 or more"
	curl_hostnames 5 "http://$VIP4/" >"$BATS_TEST_TMPDIR/answers"
	[[ $(grep -c '^be[12]$' "$BATS_TEST_TMPDIR/answers") -eq 5 ]] || fail "traffic failed"
	[[ $(trace_status events) == "$events" ]] || fail "events written while off"
}

@test "with xlbd stopped, trace --json --duration reads the pins: one JSON object per event" {
	start_xlbd "$(write_config "$(trace_config)")"
	stop_xlbd TERM
	trace_start --json --duration 3
	curl_hostnames 5 "http://$VIP4/" >/dev/null
	trace_wait_exit
	[[ $TRACE_STATUS -eq 0 ]] || fail "xlbctl trace exited with $TRACE_STATUS"
	[[ $(trace_knob) == 0 ]] || fail "tracing still on after --duration"
	"$PYTHON" - "$TRACE_OUT" <<'EOF' || fail "JSON lines not as expected"
import json, sys
events = [json.loads(line) for line in open(sys.argv[1])]
fwd = [e for e in events if e["reason"] in ("fwd_redirect", "fwd_stack")]
assert fwd, "no forwarded packet"
for e in fwd:
    assert e["prog"] == "xdp" and e["iface"] == "u0" and e["service"] == "api", e
    assert e["dst"] == "10.200.0.100:80" and e["proto"] == "tcp", e
    assert e["after"]["dst"] == e["backend"] in ("10.200.1.2:8000", "10.200.2.2:8000"), e
    assert e["after"]["src"] == e["src"], e
EOF
}

@test "one trace at a time: a second one gives one error line, status 1" {
	start_xlbd "$(write_config "$(trace_config)")"
	trace_start
	run xlbctl trace --count 1
	[[ $status -eq 1 ]] || fail "status $status: $output"
	[[ ${#lines[@]} -eq 1 && $output == "xlbctl: a trace is already on (xlbctl pid $TRACE_PID); one at a time" ]] ||
		fail "output: $output"
	knob_on || fail "the second trace switched the first one's tracing off"
}

@test "bad trace options: one error line, status 2, tracing stays off" {
	local bad
	start_xlbd "$(write_config "$(trace_config)")"
	for bad in "--sample 0" "--sample x" "--count 0" "--duration -1" "--duration" "--bogus" \
		"--service bad/name" "extra"; do
		# shellcheck disable=SC2086 # one option and its value per word
		run xlbctl trace $bad
		[[ $status -eq 2 && ${#lines[@]} -eq 1 && $output == xlbctl:* ]] ||
			fail "trace $bad: status $status, output: $output"
	done
	run xlbctl trace --service nosuch
	[[ $status -eq 1 && $output == "xlbctl: no service named 'nosuch'" ]] ||
		fail "--service nosuch: status $status, output: $output"
	[[ $(trace_knob) == 0 ]] || fail "a refused trace left tracing on"
}

@test "a pin dir from before tracing: xlbctl trace says so; the next xlbd adds the maps" {
	start_xlbd "$(write_config "$(trace_config)")"
	stop_xlbd TERM
	rm "$PIN_DIR/xlb_trace_cfg" "$PIN_DIR/xlb_trace" "$PIN_DIR/xlb_trace_stats"
	run xlbctl trace --count 1
	[[ $status -eq 1 && ${#lines[@]} -eq 1 && $output == "xlbctl: no trace maps in $PIN_DIR"* ]] ||
		fail "status $status, output: $output"
	start_xlbd "$(write_config "$(trace_config)")"
	trace_start --count 10
	curl_hostnames 3 "http://$VIP4/" >/dev/null
	trace_wait_exit
	[[ $TRACE_STATUS -eq 0 ]] || fail "xlbctl trace exited with $TRACE_STATUS"
	grep -qE "$FWD_LINE" "$TRACE_OUT" || fail "no fwd event through the re-made maps"
}

@test "a trace killed with SIGKILL leaves tracing on; the next trace takes it over and ends it" {
	start_xlbd "$(write_config "$(trace_config)")"
	trace_start
	kill -KILL "$TRACE_PID"
	wait_until 5 pid_gone "$TRACE_PID" || { fail "xlbctl trace survived SIGKILL"; return 1; }
	wait "$TRACE_PID" 2>/dev/null || true
	knob_on || fail "tracing off without anyone switching it off"
	xlbctl status | grep -q "^trace: *on (xlbctl pid $TRACE_PID, one in 1, all services)" ||
		fail "xlbctl status: $(xlbctl status | grep '^trace:')"
	run xlbctl trace --duration 1
	[[ $status -eq 0 ]] || fail "the next trace: status $status: $output"
	[[ $(trace_knob) == 0 ]] || fail "tracing still on after the next trace ended"
}
