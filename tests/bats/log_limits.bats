#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# xlbd's log under pressure from clients: lines a client can cause are
# limited per call site with a count of what was held back, and a log
# that nobody reads does not stop the proxy or the control socket.

load helpers

setup_file() {
	lab_setup 1
	serve http 1 1
}

teardown_file() {
	lab_teardown
}

teardown() {
	xlb_test_teardown
}

log_config() {
	cat <<-EOF
		[http]
		listen = $LB4:80
		[service api]
		host = api.log.test
		backend = 10.200.1.2:8080
	EOF
}

# suppressed_total WHAT: the lines of WHAT that xlbd said it held back.
suppressed_total() {
	grep -oE "event=log_suppressed what=$1 lines=[0-9]+" "$XLBD_LOG" |
		awk -F'lines=' '{ n += $2 } END { print n + 0 }'
}

logged_and_suppressed() {
	local logged
	logged=$(grep -c "event=proxy_refuse .*host=nope.log.test" "$XLBD_LOG")
	(( logged + $(suppressed_total proxy_refuse) == $1 ))
}

@test "a flood of refused requests logs at most 10 lines a second and then how many it held back" {
	start_xlbd "$(write_config "$(log_config)")"
	# 300 requests for a name nobody serves, as fast as curl sends them
	run in_client curl -s -o /dev/null -w '%{http_code}\n' -H 'Host: nope.log.test' \
		"http://$LB4/[1-300]"
	[[ $(grep -c '^404$' <<<"$output") == 300 ]] || fail "not 300 404s: $(sort <<<"$output" | uniq -c)"
	# every request is either a line or counted in a summary, none lost
	wait_until 5 logged_and_suppressed 300 ||
		fail "logged $(grep -c 'event=proxy_refuse' "$XLBD_LOG"), suppressed $(suppressed_total proxy_refuse)"
	# and no second of the log holds more than the limit (lines carry no
	# time: count between the summaries, each of which closes a second)
	local logged
	logged=$(grep -c "event=proxy_refuse" "$XLBD_LOG")
	(( logged < 300 )) || fail "nothing was held back: $logged lines"
	(( $(suppressed_total proxy_refuse) > 0 )) || fail "no summary line"
	# the service itself is untouched
	run in_client curl -s -H 'Host: api.log.test' "http://$LB4/who"
	[[ $output == be1 ]] || fail "api: $output"
}

@test "--log-rate 0 logs every refused request, and --log-rate 2 at most 2 a second" {
	start_xlbd "$(write_config "$(log_config)")" --log-rate 0
	run in_client curl -s -o /dev/null -w '%{http_code}\n' -H 'Host: nope.log.test' \
		"http://$LB4/[1-100]"
	[[ $(grep -c '^404$' <<<"$output") == 100 ]] || fail "not 100 404s: $(sort <<<"$output" | uniq -c)"
	wait_until 5 log_count_is "event=proxy_refuse .*host=nope.log.test" 100 ||
		fail "logged $(grep -c 'event=proxy_refuse' "$XLBD_LOG") of 100"
	! grep -q "event=log_suppressed" "$XLBD_LOG" || fail "held back with --log-rate 0"
	stop_xlbd
	: >"$XLBD_LOG" # the counts below are of the second run alone
	start_xlbd "$(write_config "$(log_config)")" --log-rate 2
	run in_client curl -s -o /dev/null -w '%{http_code}\n' -H 'Host: nope.log.test' \
		"http://$LB4/[1-100]"
	wait_until 5 logged_and_suppressed 100 ||
		fail "logged $(grep -c 'event=proxy_refuse' "$XLBD_LOG"), suppressed $(suppressed_total proxy_refuse)"
	grep -q 'event=log_suppressed what=proxy_refuse .*reason="more than 2 a second"' "$XLBD_LOG" ||
		fail "no summary naming the limit"
}

log_count_is() {
	[[ $(grep -c "$1" "$XLBD_LOG") == "$2" ]]
}

pings_logged_at_least() {
	(($(grep -c 'event=control request="ping"' "$2") >= $1))
}

@test "a log that nobody reads does not stop the proxy or the control socket" {
	local fifo=$BATS_TEST_TMPDIR/log.fifo out=$BATS_TEST_TMPDIR/log.out
	mkfifo "$fifo"
	# the reader shrinks the pipe to one page, then stops reading until told
	cat >"$BATS_TEST_TMPDIR/reader.py" <<-'PY'
		import fcntl, os, sys, time
		fifo, out, go = sys.argv[1:4]
		fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
		fcntl.fcntl(fd, 1031, 4096)  # F_SETPIPE_SZ
		fcntl.fcntl(fd, fcntl.F_SETFL, 0)
		deadline = time.monotonic() + 60
		while not os.path.exists(go) and time.monotonic() < deadline:
		    time.sleep(0.05)
		with open(out, "wb") as f:
		    while True:
		        chunk = os.read(fd, 65536)
		        if not chunk:
		            break
		        f.write(chunk)
		        f.flush()
	PY
	"$PYTHON" "$BATS_TEST_TMPDIR/reader.py" "$fifo" "$out" "$BATS_TEST_TMPDIR/go" &
	BG_PIDS+=("$!")
	local reader=$!
	# xlbd's stderr is the pipe (start_xlbd's own log file stays empty)
	local -a XLBD_LAUNCHER=(bash -c 'exec "$@" 2>"$0"' "$fifo")
	local XLBD_START_LOGS=$out
	start_xlbd "$(write_config "$(log_config)")"
	# far more than a page of debug lines: a control request logs one each
	local i
	for ((i = 0; i < 200; i++)); do
		control_ok ping || fail "ping $i not answered: the loop is stuck on its log"
	done
	run in_client curl -s -m 5 -H 'Host: api.log.test' "http://$LB4/who"
	[[ $output == be1 ]] || fail "proxy stuck: $output"
	# once read, the log has it all, in order
	touch "$BATS_TEST_TMPDIR/go"
	wait_until 10 grep -q 'event=control request=\"ping\"' "$out" || fail "log never arrived"
	wait_until 10 pings_logged_at_least 200 "$out" ||
		fail "pings logged: $(grep -c 'event=control request=\"ping\"' "$out")"
	stop_xlbd
	wait_until 5 pid_gone "$reader" || fail "reader still running"
	grep -q 'event=ready' "$out" || fail "no ready line"
}
