#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The proxy's limits: clients that never finish their head are closed at
# the peek deadline, thousands of concurrent connections are served and
# released, a backend that refuses is retried around (then 502), and a slow
# reader does not make the kernel queue the whole download.

load helpers

SIZE=$((200 * 1024 * 1024))

setup_file() {
	lab_setup 3
	serve http 1 2
	# be3 serves a generated 200 MB file as /file, for the slow reader
	export BLOB=$BATS_FILE_TMPDIR/blob
	head -c "$SIZE" /dev/urandom >"$BLOB"
	"$LAB" serve-http 3 8080 "$BLOB" >&2
}

teardown_file() {
	lab_teardown
	rm -f "$BLOB"
}

teardown() {
	ip -n xlb-client addr del 10.200.0.3/24 dev c0 2>/dev/null || true
	xlb_test_teardown
}

# api.app.dev on be1 and be2; half.app.dev on be1 and on be2's port 8099,
# where nothing listens; dead.app.dev only there; data.app.dev on be3.
limits_config() {
	cat <<-EOF
		[http]
		listen = $LB4:80
		[service api]
		host = api.app.dev
		backend = 10.200.1.2:8080
		backend = 10.200.2.2:8080
		[service half]
		host = half.app.dev
		backend = 10.200.1.2:8080
		backend = 10.200.2.2:8099
		[service dead]
		host = dead.app.dev
		backend = 10.200.2.2:8099
		[service data]
		host = data.app.dev
		backend = 10.200.3.2:8080
	EOF
}

# bg_client NAME CMD ARGS...: httpclient.py CMD in the client netns, in the
# background, output in $BATS_TEST_TMPDIR/NAME.out; its pid in BG_PID.
bg_client() {
	local name=$1
	shift
	bg_start xlb-client "$BATS_TEST_TMPDIR/$name.out" "$PYTHON" "$HTTPCLIENT" "$@"
}

out_has() {
	grep -q -- "$2" "$BATS_TEST_TMPDIR/$1.out"
}

# assert_closed_at_deadline NAME: the client NAME saw the proxy close its
# connection (FIN or RST), and not before the 2 s peek deadline.
assert_closed_at_deadline() {
	local out after
	out=$(cat "$BATS_TEST_TMPDIR/$1.out")
	echo "$1: $out" >&2
	[[ $out =~ closed=(eof|reset)\ after=([0-9.]+) ]] || { fail "$1 was not closed: $out"; return 1; }
	after=${BASH_REMATCH[2]}
	# the deadline counts from accept, which follows connect
	awk -v a="$after" 'BEGIN { exit !(a >= 1.9) }' || { fail "$1 closed after ${after}s, before the 2 s deadline"; return 1; }
}

@test "a silent and a slow-header client are closed at the peek deadline while a normal client is served" {
	start_xlbd "$(write_config "$(limits_config)")" --peek-timeout-ms 2000
	local silent slow
	bg_client silent silent "$LB4" 80
	silent=$BG_PID
	bg_client slow slowhead "$LB4" 80
	slow=$BG_PID
	wait_until 10 out_has silent connected || fail "silent client did not connect"
	wait_until 10 out_has slow connected || fail "slow client did not connect"
	# meanwhile: normal requests are answered while both are still held
	host_answers 10 api.app.dev >"$BATS_TEST_TMPDIR/answers"
	pid_running "$silent" && pid_running "$slow" ||
		fail "a slow client was closed before the normal requests were answered"
	assert_all_match "$BATS_TEST_TMPDIR/answers" 'be[12]'
	# then both are closed at the deadline
	wait_until 15 pid_gone "$silent" || fail "silent client still connected after 15s"
	wait_until 15 pid_gone "$slow" || fail "slow client still connected after 15s"
	assert_closed_at_deadline silent
	assert_closed_at_deadline slow
	# the slow one sent a byte a second: it was cut off well before its head ended
	[[ $(cat "$BATS_TEST_TMPDIR/slow.out") =~ sent=([0-9]+) ]] && ((BASH_REMATCH[1] < 20)) ||
		fail "slow client: $(cat "$BATS_TEST_TMPDIR/slow.out")"
	wait_counter timeouts 2
	[[ $(grep -c 'event=proxy_timeout .*state=peek' "$XLBD_LOG") -ge 2 ]] || fail "timeouts not logged"
	# and the proxy still serves
	assert_answer_like api.app.dev 'be[12]'
}

@test "2000 concurrent connections are all answered, and xlbd's descriptors return to what they were" {
	# all from the one client address: no per-source limit
	start_xlbd "$(write_config "$(limits_config)")" --max-conns-per-source 0
	local before during release=$BATS_TEST_TMPDIR/release client
	before=$(xlbd_fds)
	echo "xlbd fds before: $before" >&2
	# one connection first: its descriptors are released too
	assert_answer_like api.app.dev 'be[12]'
	wait_until 10 fds_at_most "$before" || fail "xlbd holds $(xlbd_fds) fds after one request, $before before"
	bg_client many concurrent "$LB4" 80 api.app.dev 2000 "$release"
	client=$BG_PID
	wait_until 120 out_has many answered= || fail "no result from the client: $(cat "$BATS_TEST_TMPDIR/many.out")"
	grep -qx 'answered=2000 of 2000' "$BATS_TEST_TMPDIR/many.out" ||
		{ head -n 20 "$BATS_TEST_TMPDIR/many.out" >&2; fail "not all answered"; }
	# all 2000 are open at once: the proxy holds at least one descriptor each
	during=$(xlbd_fds)
	echo "xlbd fds with 2000 connections open: $during" >&2
	((during >= before + 2000)) || fail "only $during fds with 2000 connections open (before: $before)"
	# one more request on each of the 2000, then they close
	touch "$release"
	wait_until 60 pid_gone "$client" || fail "client did not finish"
	wait "$client" || fail "client failed: $(tail -n 5 "$BATS_TEST_TMPDIR/many.out")"
	grep -qx 'again=2000 of 2000' "$BATS_TEST_TMPDIR/many.out" || fail "second requests failed"
	wait_until 30 fds_at_most "$before" || fail "xlbd holds $(xlbd_fds) fds, $before before"
	wait_counter routed 2001
}

@test "at --max-conns new connections are refused while the old ones keep working" {
	start_xlbd "$(write_config "$(limits_config)")" --max-conns 2
	local release=$BATS_TEST_TMPDIR/release client got
	# two keep-alive connections, each answered once, held open
	bg_client held concurrent "$LB4" 80 api.app.dev 2 "$release"
	client=$BG_PID
	wait_until 20 out_has held answered= || fail "no result from the client"
	grep -qx 'answered=2 of 2' "$BATS_TEST_TMPDIR/held.out" || fail "$(cat "$BATS_TEST_TMPDIR/held.out")"
	# a third is refused
	got=$(host_answer api.app.dev 2>/dev/null)
	[[ $got == error ]] || fail "a third connection was served: $got"
	wait_counter refused 1
	# the old ones still answer a second request
	touch "$release"
	wait_until 30 pid_gone "$client" || fail "client did not finish"
	wait "$client" || fail "client failed: $(cat "$BATS_TEST_TMPDIR/held.out")"
	grep -qx 'again=2 of 2' "$BATS_TEST_TMPDIR/held.out" || fail "$(cat "$BATS_TEST_TMPDIR/held.out")"
	# and once they are closed, new connections are served again
	wait_until 10 assert_answer_like api.app.dev 'be[12]' || fail "not served after the old ones closed"
}

# per_source_check [XLBD ARGS...]: with --max-conns-per-source 3, the
# client's address holds 3 keep-alive connections and a fourth is
# refused, while a second address of the client is served; once the 3
# close, the first address is served again.
per_source_check() {
	start_xlbd "$(write_config "$(limits_config)")" --max-conns-per-source 3 "$@"
	local release=$BATS_TEST_TMPDIR/release client
	bg_client held concurrent "$LB4" 80 api.app.dev 3 "$release"
	client=$BG_PID
	wait_until 20 out_has held answered= || fail "no result from the client"
	grep -qx 'answered=3 of 3' "$BATS_TEST_TMPDIR/held.out" || fail "$(cat "$BATS_TEST_TMPDIR/held.out")"
	run in_client curl -sS -m 5 -H 'Host: api.app.dev' "http://$LB4/who"
	[[ $status -ne 0 && $output != *be[12]* ]] || fail "a fourth connection was served: $output"
	wait_counter refused 1
	wait_log 'event=proxy_refuse_conn client=10\.200\.0\.2:[0-9]+ reason=max_conns_per_source limit=3'
	# another source is not held back by the first
	run in_client curl -sS -m 5 --interface 10.200.0.3 -H 'Host: api.app.dev' "http://$LB4/who"
	[[ $status -eq 0 && $output == be[12] ]] || fail "the second address: $output"
	# the held ones still work, and once they close the first is served
	touch "$release"
	wait_until 30 pid_gone "$client" || fail "client did not finish"
	wait "$client" || fail "client failed: $(cat "$BATS_TEST_TMPDIR/held.out")"
	wait_until 10 assert_answer_like api.app.dev 'be[12]' || fail "not served after the old ones closed"
}

@test "one address holds at most --max-conns-per-source connections; other clients are served" {
	ip -n xlb-client addr add 10.200.0.3/24 dev c0
	per_source_check
}

@test "connection mode: the per-source limit holds as well" {
	ip -n xlb-client addr add 10.200.0.3/24 dev c0
	per_source_check --http-mode connection
}

# pending_check [XLBD ARGS...]: with --max-pending 3, three silent
# connections fill the cap; a real client is served, and the oldest
# silent one (only it) is closed to make room, long before its peek
# deadline, counted and logged.
pending_check() {
	start_xlbd "$(write_config "$(limits_config)")" --max-pending 3 --peek-timeout-ms 60000 "$@"
	local i
	local -a pids
	for i in 1 2 3; do
		bg_client "silent$i" silent "$LB4" 80
		pids[i]=$BG_PID
		wait_until 10 out_has "silent$i" connected || fail "silent client $i did not connect"
	done
	assert_answer_like api.app.dev 'be[12]'
	wait_until 10 pid_gone "${pids[1]}" || fail "the oldest silent connection is still open"
	grep -q '^closed=eof' "$BATS_TEST_TMPDIR/silent1.out" || fail "$(cat "$BATS_TEST_TMPDIR/silent1.out")"
	pid_running "${pids[2]}" && pid_running "${pids[3]}" || fail "a newer silent connection was closed"
	wait_counter timeouts 1
	wait_log 'event=proxy_timeout client=10\.200\.0\.2:[0-9]+ state=peek reason=evicted'
}

@test "at --max-pending connections without a whole head, the oldest makes room for a new one" {
	pending_check
}

@test "connection mode: at --max-pending, the oldest peeking connection makes room" {
	pending_check --http-mode connection
}

# cpu_ticks PID: the user and system clock ticks the process has used.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

@test "out of descriptors, xlbd stops accepting until there are some again, says so once, and does not spin" {
	start_xlbd "$(write_config "$(limits_config)")"
	local soft hz=$(getconf CLK_TCK) before after
	soft=$(prlimit --pid "$XLBD_PID" --nofile --output SOFT --noheadings | tr -d ' ')
	# what an exhausted host looks like to xlbd: not one descriptor more
	# (a new descriptor takes the lowest free number, so the limit must be
	# below every free one: 3; the soft limit only, since raising a hard
	# limit again may not be allowed)
	prlimit --pid "$XLBD_PID" --nofile="3:"
	bg_start xlb-client "$BATS_TEST_TMPDIR/waiting.out" curl -sS -m 20 -H 'Host: api.app.dev' \
		"http://$LB4/who"
	local waiting=$BG_PID
	wait_log 'event=accept_paused listen=10\.200\.0\.1:80 err="Too many open files" resume=next_tick'
	# two seconds of a connection that cannot be accepted: the loop sleeps
	before=$(cpu_ticks "$XLBD_PID")
	sleep 2 # not a wait for an event: the span CPU use is measured over
	after=$(cpu_ticks "$XLBD_PID")
	((after - before < hz / 2)) || fail "xlbd used $((after - before)) ticks of $((2 * hz)) while paused"
	[[ $(grep -c 'event=accept_paused' "$XLBD_LOG") == 1 ]] || fail "$(grep accept_ "$XLBD_LOG")"
	! log_has 'event=accept_failed' || fail "$(grep accept_failed "$XLBD_LOG" | head -3)"
	# descriptors again: the waiting client is served, and that is said
	prlimit --pid "$XLBD_PID" --nofile="$soft:"
	wait_until 10 pid_gone "$waiting" || fail "the waiting client was never served"
	wait "$waiting" || fail "waiting client: $(cat "$BATS_TEST_TMPDIR/waiting.out")"
	[[ $(cat "$BATS_TEST_TMPDIR/waiting.out") == be[12] ]] || fail "$(cat "$BATS_TEST_TMPDIR/waiting.out")"
	wait_log 'event=accept_resumed'
}

@test "a backend that refuses connections is retried around: every request succeeds" {
	start_xlbd "$(write_config "$(limits_config)")"
	host_answers 40 half.app.dev >"$BATS_TEST_TMPDIR/answers"
	assert_all_match "$BATS_TEST_TMPDIR/answers" be1
	[[ $(wc -l <"$BATS_TEST_TMPDIR/answers") -eq 40 ]]
	# round robin sent some connections to the refusing backend first: they were retried
	wait_log 'event=proxy_connect_failed .*host=half\.app\.dev .*retry=yes'
}

@test "a pool whose only backend refuses connections gives 502" {
	start_xlbd "$(write_config "$(limits_config)")"
	run in_client curl -sS -m 5 -i -H "Host: dead.app.dev" "http://$LB4/who"
	[[ $status -eq 0 ]] || fail "curl: $output"
	[[ $output == "HTTP/1.1 502 "* ]] || fail "answer: $output"
	wait_counter connect_failed 1
	wait_log 'event=proxy_refuse .*host=dead\.app\.dev code=502'
}

# sample_mem_while_reading SECONDS FILE MB: samples kernel TCP memory and
# the lab's socket memory every 0.2 s until FILE holds MB megabytes or
# SECONDS pass; prints "MAX_TCP_MEM MAX_LAB_MEM" in bytes, and leaves the
# lab's sockets at the lab maximum in $BATS_TEST_TMPDIR/sockets.max.
sample_mem_while_reading() {
	local deadline=$((SECONDS + $1)) file=$2 want=$(($3 * 1024 * 1024))
	local tcp lab max_tcp=0 max_lab=0 size snap=$BATS_TEST_TMPDIR/sockets.now
	while ((SECONDS < deadline)); do
		tcp=$(tcp_mem_bytes)
		lab=$(lab_socket_mem_bytes "$snap")
		((tcp > max_tcp)) && max_tcp=$tcp
		((lab > max_lab)) && max_lab=$lab && cp "$snap" "$BATS_TEST_TMPDIR/sockets.max"
		size=$(stat -c %s "$file" 2>/dev/null || echo 0)
		((size >= want)) && break
		sleep 0.2
	done
	echo "$max_tcp $max_lab"
}

@test "a slow reader (1 MB/s) of a 200 MB download does not make kernel memory grow by 32 MB" {
	start_xlbd "$(write_config "$(limits_config)")"
	local out=$BATS_TEST_TMPDIR/slow.body tcp0 lab0 rss0 max_tcp max_lab rss got limit=$((32 * 1024 * 1024))
	tcp0=$(tcp_mem_bytes)
	lab0=$(lab_socket_mem_bytes)
	rss0=$(awk '/^VmRSS/ {print $2 * 1024}' "/proc/$XLBD_PID/status")
	bg_start xlb-client "$BATS_TEST_TMPDIR/curl.log" curl -sS -m 60 --limit-rate 1M \
		-H "Host: data.app.dev" -o "$out" "http://$LB4/file"
	# read 20 MB at 1 MB/s, or for 25 s at most
	read -r max_tcp max_lab < <(sample_mem_while_reading 25 "$out" 20)
	rss=$(awk '/^VmRSS/ {print $2 * 1024}' "/proc/$XLBD_PID/status")
	got=$(stat -c %s "$out")
	stop_bg
	echo "read $got bytes; TCP memory $tcp0 -> max $max_tcp; lab sockets $lab0 -> max $max_lab;" \
		"xlbd RSS $rss0 -> $rss; the lab's sockets at the maximum:" >&2
	cat "$BATS_TEST_TMPDIR/sockets.max" >&2
	((got >= 5 * 1024 * 1024)) || fail "the slow reader got only $got bytes"
	((got < SIZE)) || fail "the whole file arrived: not a slow reader"
	((max_lab - lab0 < limit)) || fail "lab socket memory grew by $((max_lab - lab0)) bytes"
	((max_tcp - tcp0 < limit)) || fail "kernel TCP memory grew by $((max_tcp - tcp0)) bytes"
	((rss - rss0 < limit)) || fail "xlbd's RSS grew by $((rss - rss0)) bytes"
}
