#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The data path lives in pinned maps and links: stopping or killing xlbd
# keeps established and new flows working, and a restarted xlbd adopts it.

load helpers

setup_file() {
	lab_setup 4
	serve name 1 4
}

teardown_file() {
	lab_teardown
}

teardown() {
	xlb_test_teardown
	# a server a test killed comes back for the next one
	if [[ -n ${KILLED_BE-} ]]; then serve name "$KILLED_BE" "$KILLED_BE"; fi
}

restart_config() {
	local i
	echo "[service names]"
	echo "listen = $VIP4:9000/tcp"
	for i in 1 2 3 4; do echo "backend = 10.200.$i.2:9000"; done
	echo "[service names6]"
	echo "listen = [$VIP6]:9000/tcp"
	for i in 1 2 3 4; do echo "backend = [fd00:20$i::2]:9000"; done
}

# new_flows_balanced: 100 new connections, each backend >= 10%.
new_flows_balanced() {
	burst "$VIP4" 9000 100 >"$BATS_TEST_TMPDIR/burst" || true
	assert_balanced "$BATS_TEST_TMPDIR/burst" 10 be1 be2 be3 be4
}

assert_services_listed() {
	run xlbctl services
	[[ $status -eq 0 ]] || { fail "xlbctl services: status $status: $output"; return 1; }
	[[ $output == *names* && $output == *"$VIP4:9000"* ]] || { fail "xlbctl services: $output"; return 1; }
	[[ $output == *names6* ]] || { fail "xlbctl services lacks names6: $output"; return 1; }
}

# stop_and_restart SIGNAL EXPECTED_STATUS: the whole scenario.
stop_and_restart() {
	local sig=$1 want=$2 cfg
	cfg=$(write_config "$(restart_config)")
	start_xlbd "$cfg"
	hold_start a "$VIP4" 9000
	hold_start b "$VIP6" 9000
	held_a=$(hold_probe a)
	held_b=$(hold_probe b)

	stop_xlbd "$sig"
	[[ $XLBD_STATUS == "$want" ]] || { fail "xlbd exit status after SIG$sig: $XLBD_STATUS, want $want"; return 1; }
	! control_ok ping || { fail "something still answers on $CTL_SOCK"; return 1; }
	[[ -d $PIN_DIR ]] || { fail "pin dir $PIN_DIR gone after SIG$sig"; return 1; }
	assert_held a "$held_a"
	assert_held b "$held_b"
	new_flows_balanced
	# read-only commands work from the pins without xlbd
	assert_services_listed

	start_xlbd "$cfg"
	assert_held a "$held_a"
	assert_held b "$held_b"
	assert_services_listed
	new_flows_balanced
	assert_held a "$held_a"
}

@test "SIGTERM: flows survive xlbd stopping, new flows balance while it is down, restart adopts" {
	stop_and_restart TERM 0
}

@test "SIGKILL: flows survive xlbd dying, new flows balance while it is down, restart adopts" {
	stop_and_restart KILL 137
}

# Earlier versions pinned a reverse-NAT table that this one replaced; left
# pinned, it would hold its memory for nothing until a teardown.
@test "a pin of a map earlier versions made (xlb_rnat) is removed at start, the rest adopted" {
	start_xlbd "$(write_config "$(restart_config)")"
	stop_xlbd TERM
	bpftool map create "$PIN_DIR/xlb_rnat" type hash key 40 value 24 entries 16 name xlb_rnat
	[[ -e $PIN_DIR/xlb_rnat ]] || { fail "could not make the old pin"; return 1; }
	start_xlbd "$(write_config "$(restart_config)")"
	[[ ! -e $PIN_DIR/xlb_rnat ]] || { fail "the obsolete pin is still there"; return 1; }
	log_has "event=obsolete_pins_removed pin_dir=$PIN_DIR count=1" ||
		{ fail "no obsolete_pins_removed line"; return 1; }
	assert_services_listed
	new_flows_balanced
}

# names with a TCP check: a fall time of 2 x 200 ms.
checked_config() {
	local i
	echo "[service names]"
	echo "listen = $VIP4:9000/tcp"
	for i in 1 2 3 4; do echo "backend = 10.200.$i.2:9000"; done
	printf 'check = tcp\ncheck_interval = 200ms\ncheck_timeout = 100ms\ncheck_fall = 2\ncheck_rise = 2\n'
}

# Both a drain and a failing check write "draining" into a backend's slot;
# a restarted xlbd must tell them apart, or the operator's drain is lost
# once the backend passes its check again.
@test "a drained backend that was also down is still drained after a restart, once its check passes again" {
	local cfg ep=10.200.2.2:9000
	cfg=$(write_config "$(checked_config)")
	start_xlbd "$cfg"
	wait_until 10 backend_state_is names "$ep" active
	xlbctl backend drain names "$ep"
	KILLED_BE=2
	kill -KILL "$(cat "$LAB_STATE/pids/name-be2.pid")"
	wait_until 10 backend_state_is names "$ep" down
	stop_xlbd TERM
	start_xlbd "$cfg"
	serve name 2 2
	KILLED_BE=
	wait_log "event=health_change service=names backend=10\\.200\\.2\\.2:9000 state=up"
	# the log line comes first; the slot is written once the table is
	# swapped (shown "down" until then)
	wait_until 10 backend_state_is names "$ep" draining ||
		{ fail "be2 is $(backend_field names "$ep" state) after the restart, not draining"; return 1; }
	burst "$VIP4" 9000 60 >"$BATS_TEST_TMPDIR/burst" || true
	! grep -qx be2 "$BATS_TEST_TMPDIR/burst" || { fail "the drained be2 got new flows"; return 1; }
	grep -qx be1 "$BATS_TEST_TMPDIR/burst" || { fail "no answers: $(head -3 "$BATS_TEST_TMPDIR/burst")"; return 1; }
}
