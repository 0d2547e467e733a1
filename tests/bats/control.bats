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

@test "a client that is not root is refused, even when the socket's mode lets it connect" {
	start_xlbd "$(write_config "$(control_config)")"
	local before after dir=/run/xlb
	before=$(xlbctl --json services)
	# as installed: the directory and socket are root's; nobody cannot connect
	run setpriv --reuid=nobody --regid=nogroup --clear-groups \
		socat -t 5 - "UNIX-CONNECT:$CTL_SOCK" <<<"service del web"
	[[ $status -ne 0 && $output == *"Permission denied"* ]] || fail "nobody connected: $output"
	# an operator's mistake opens both: xlbd still asks the kernel who it is
	chmod 0755 "$dir"
	chmod 0666 "$CTL_SOCK"
	# (xlbd answers at accept, before the line: the client's write may
	# then fail, its read does not)
	run setpriv --reuid=nobody --regid=nogroup --clear-groups "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
try:
    s.sendall(b"service del web\n")
except OSError:
    pass
print(s.recv(512).decode().strip())' "$CTL_SOCK"
	chmod 0700 "$dir"
	chmod 0600 "$CTL_SOCK"
	[[ $output == "error: permission denied" ]] || fail "nobody got: $output"
	after=$(xlbctl --json services)
	[[ $before == "$after" ]] || fail "services changed: $before -> $after"
	control_ok ping || fail "root refused after it"
}

@test "routes: service add --host H/P --strip-path and config host = H/P are listed as routes" {
	start_xlbd "$(write_config "$(control_config)
[service cfgapp]
host = a.test/x
backend = 10.200.1.2:8001")"
	local out
	xlbctl service add web2 --host app.test/api --strip-path ||
		{ fail "service add failed"; return 1; }
	out=$(xlbctl services)
	[[ $out == *"app.test/api[strip]"* ]] || { fail "no route in table: $out"; return 1; }
	[[ $out == *"a.test/x"* && $out != *"a.test/x[strip]"* ]] || { fail "no config route: $out"; return 1; }
	out=$(xlbctl --json services)
	jq -e '.services[] | select(.name == "web2") | .routes == [{"host": "app.test", "path": "/api", "strip_path": true, "scheme": "http"}] and .hosts == ["app.test"]' <<<"$out" >/dev/null ||
		{ fail "json: $out"; return 1; }
	jq -e '.services[] | select(.name == "cfgapp") | .routes[0].path == "/x"' <<<"$out" >/dev/null ||
		{ fail "json config route: $out"; return 1; }
	# same host, other path: fine; same host and path: refused
	xlbctl service add web3 --host app.test --path /v2 || { fail "other path refused"; return 1; }
	run xlbctl service add web4 --host app.test/api
	[[ $status -ne 0 && $output == *"route app.test/api already used by service web2"* ]] ||
		{ fail "conflict: $status $output"; return 1; }
}
