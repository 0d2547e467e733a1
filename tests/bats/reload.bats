#!/usr/bin/env bats
# SIGHUP: xlbd reads its config again and applies the difference; a bad
# config is refused with one error line and the running state is kept.

load helpers

setup_file() {
	lab_setup 2
	serve name 1 2
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
