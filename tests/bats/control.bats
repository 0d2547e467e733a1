#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The control socket: root only, one line per request, and a client that
# stalls or sends garbage never holds up the others or changes anything.

load helpers

setup_file() {
	lab_setup 1
}

teardown_file() {
	lab_teardown
}

teardown() {
	xlb_test_teardown
}

control_config() {
	cat <<-EOF
		[service web]
		listen = $VIP4:80/tcp
		backend = 10.200.1.2:8000
	EOF
}

@test "a silent client does not hold up others, and is dropped with an error after a second" {
	start_xlbd "$(write_config "$(control_config)")"
	local silent=$BATS_TEST_TMPDIR/silent.out
	(sleep 4 | socat -t 6 - "UNIX-CONNECT:$CTL_SOCK" >"$silent" 2>&1) &
	BG_PIDS+=("$!")
	# the silent client is connected (its socat runs) while ping is answered
	control_ok ping || { fail "ping not answered while a client is silent"; return 1; }
	wait_until 5 grep -q "error: request not sent in time" "$silent" ||
		{ fail "silent client got: $(cat "$silent")"; return 1; }
}

@test "the socket is mode 0600, and malformed requests get an error and change nothing" {
	start_xlbd "$(write_config "$(control_config)")"
	local before after out
	[[ $(stat -c %a "$CTL_SOCK") == 600 ]] || { fail "mode $(stat -c %a "$CTL_SOCK")"; return 1; }
	before=$(xlbctl --json services)
	for req in "bogus" "service add" "service add x listen=1.2.3.4:80" "backend add web 10.200.1.9" \
		"backend add web 10.200.1.9:80 weight=0" "service del nosuch" "$(head -c 600 /dev/zero | tr '\0' a)"; do
		out=$(control "$req" | tail -n 1)
		[[ $out == error:* ]] || { fail "'${req:0:40}' answered '$out'"; return 1; }
	done
	after=$(xlbctl --json services)
	[[ $before == "$after" ]] || { fail "services changed: $before -> $after"; return 1; }
}
