#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# SIGHUP: xlbd reads its config again and applies the difference; a bad
# config is refused with one error line and the running state is kept.

load helpers

setup_file() {
	lab_setup 2
	serve name 1 2
	serve http 1 1
}

teardown_file() {
	lab_teardown
}

teardown() {
	xlb_test_teardown
}

names_config() {
	local i
	echo "[service names]"
	echo "listen = $VIP4:9000/tcp"
	for i in "$@"; do echo "backend = 10.200.$i.2:9000"; done
}

# only_from BACKEND...: 20 new connections are all answered by BACKENDs,
# and each of them answers at least once.
only_from() {
	local out=$BATS_TEST_TMPDIR/burst want
	burst "$VIP4" 9000 20 >"$out" || true
	for want in "$@"; do
		grep -qx "$want" "$out" || return 1
	done
	! grep -qvxE "$(IFS='|'; echo "$*")" "$out"
}

@test "SIGHUP applies an added and a removed backend" {
	local cfg
	cfg=$(write_config "$(names_config 1)")
	start_xlbd "$cfg"
	only_from be1 || { fail "before reload: $(cat "$BATS_TEST_TMPDIR/burst")"; return 1; }

	names_config 1 2 >"$cfg"
	kill -HUP "$XLBD_PID"
	wait_until 10 only_from be1 be2 || { fail "after adding be2: $(cat "$BATS_TEST_TMPDIR/burst")"; return 1; }

	names_config 2 >"$cfg"
	kill -HUP "$XLBD_PID"
	wait_until 10 only_from be2 || { fail "after removing be1: $(cat "$BATS_TEST_TMPDIR/burst")"; return 1; }
}

@test "SIGHUP with a broken config logs one error and keeps serving the old one" {
	local cfg
	cfg=$(write_config "$(names_config 1 2)")
	start_xlbd "$cfg"
	printf '[service names]\nlisten = %s:9000/tcp\nbackend = 10.200.1.2:9000\nbogus = 1\n' "$VIP4" >"$cfg"
	kill -HUP "$XLBD_PID"
	wait_log "event=reload_failed .*unknown key 'bogus'" || { fail "no reload_failed line"; return 1; }
	only_from be1 be2 || { fail "state changed: $(cat "$BATS_TEST_TMPDIR/burst")"; return 1; }
}

# http_config PORT: one Host-routed service behind the proxy on $LB4:PORT.
http_config() {
	printf '[http]\nlisten = %s:%s\n[service api]\nhost = api.app.dev\nbackend = 10.200.1.2:8080\n' \
		"$LB4" "$1"
}

@test "SIGHUP moves an [http] listener: the new port opens, the old closes, its connections go on" {
	local cfg
	cfg=$(write_config "$(http_config 80)")
	start_xlbd "$cfg"
	assert_answer api.app.dev be1
	bg_start xlb-client "$BATS_TEST_TMPDIR/held" "$PYTHON" "$HTTPCLIENT" \
		concurrent "$LB4" 80 api.app.dev 3 "$BATS_TEST_TMPDIR/release"
	wait_until 10 grep -q '^answered=3 of 3' "$BATS_TEST_TMPDIR/held"

	http_config 8088 >"$cfg"
	kill -HUP "$XLBD_PID"
	wait_log 'event=proxy_unlisten addr=10\.200\.0\.1:80 kind=http'
	assert_answer api.app.dev be1 "http://$LB4:8088/who"
	assert_answer api.app.dev error "http://$LB4:80/who"
	# connections accepted on the closed listener still work
	touch "$BATS_TEST_TMPDIR/release"
	wait_until 10 grep -q '^again=' "$BATS_TEST_TMPDIR/held"
	grep -q '^again=3 of 3' "$BATS_TEST_TMPDIR/held" || { fail "$(cat "$BATS_TEST_TMPDIR/held")"; return 1; }

	# and back: the old port opens again
	http_config 80 >"$cfg"
	kill -HUP "$XLBD_PID"
	wait_until 10 assert_answer api.app.dev be1 "http://$LB4:80/who"
	assert_answer api.app.dev error "http://$LB4:8088/who"
}
