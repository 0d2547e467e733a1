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
	lab_service names "$VIP4:9000/tcp" 9000
	lab_service names6 "[$VIP6]:9000/tcp" 9000 6
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

# --- the flow hash's seed ----------------------------------------------------------

# The seed the hash started from before it was drawn per node: a client
# could aim flows at one backend of every xlb.
OLD_CONSTANT_SEED=6a09e667f3bcc909

# status_seed: the flow hash's seed as `xlbctl --json status` shows it.
status_seed() {
	xlbctl --json status | "$PYTHON" -c '
import json, sys
print(json.load(sys.stdin)["hash_seed"] or "none")'
}

assert_seed() {
	local got
	got=$(status_seed)
	[[ $got == "$1" ]] || { fail "hash seed is $got, expected $1"; return 1; }
}

# log_count ERE: lines of xlbd's log (every start of this test) matching ERE.
log_count() {
	grep -cE -- "$1" "$XLBD_LOG" || true
}

@test "the flow hash's seed is drawn at random for new maps, kept by a restart, new for fresh pins" {
	local cfg s1 s2
	cfg=$(write_config "$(restart_config)")
	start_xlbd "$cfg"
	s1=$(status_seed)
	[[ $s1 =~ ^[0-9a-f]{16}$ ]] || { fail "xlbctl status shows no hash seed: $s1"; return 1; }
	[[ $s1 != "$OLD_CONSTANT_SEED" ]] || { fail "the seed is the old constant"; return 1; }
	log_has "event=hash_seed source=random" || { fail "no event=hash_seed source=random"; return 1; }
	run xlbctl status
	[[ $output == *"hash seed:   $s1"* ]] || { fail "xlbctl status: $output"; return 1; }
	hold_start a "$VIP4" 9000
	held_a=$(hold_probe a)

	# a restart adopts the pinned seed: new flows land where they did
	stop_xlbd TERM
	start_xlbd "$cfg"
	assert_seed "$s1"
	log_has "event=hash_seed source=pinned" || { fail "no event=hash_seed source=pinned"; return 1; }
	assert_held a "$held_a"
	new_flows_balanced

	# fresh maps (the pins torn down) draw another
	stop_bg
	stop_xlbd TERM
	xlbctl teardown >&2
	start_xlbd "$cfg"
	s2=$(status_seed)
	[[ $s2 =~ ^[0-9a-f]{16}$ && $s2 != "$s1" && $s2 != "$OLD_CONSTANT_SEED" ]] ||
		{ fail "fresh pins got seed $s2 (the first ones $s1)"; return 1; }
	(($(log_count 'event=hash_seed source=random') == 2)) ||
		{ fail "expected two random draws in the log"; return 1; }
	new_flows_balanced
}

@test "--hash-seed and the config's hash_seed set the seed; a change is logged once and keeps tracked flows" {
	local cfg
	cfg=$(write_config "$(restart_config)")
	start_xlbd "$cfg" --hash-seed 0123456789ABCDEF
	assert_seed 0123456789abcdef
	log_has "event=hash_seed source=option" || { fail "no event=hash_seed source=option"; return 1; }
	hold_start a "$VIP4" 9000
	hold_start b "$VIP6" 9000
	held_a=$(hold_probe a)
	held_b=$(hold_probe b)

	# the same seed again: nothing changes, nothing is logged as a change
	stop_xlbd TERM
	start_xlbd "$cfg" --hash-seed 0x0123456789abcdef
	assert_seed 0123456789abcdef
	(($(log_count 'event=hash_seed_changed') == 0)) || { fail "an unchanged seed logged as changed"; return 1; }

	# the config's global hash_seed, another one: applied, logged once;
	# tracked flows keep their backends, new ones still spread
	stop_xlbd TERM
	cfg=$(write_config "hash_seed = fedcba9876543210
$(restart_config)")
	start_xlbd "$cfg"
	assert_seed fedcba9876543210
	(($(log_count 'event=hash_seed_changed source=config') == 1)) ||
		{ fail "expected one event=hash_seed_changed source=config"; return 1; }
	assert_held a "$held_a"
	assert_held b "$held_b"
	new_flows_balanced

	# --hash-seed wins over the config's
	stop_xlbd TERM
	start_xlbd "$cfg" --hash-seed 5eed
	assert_seed 0000000000005eed
	(($(log_count 'event=hash_seed_changed source=option') == 1)) ||
		{ fail "expected one event=hash_seed_changed source=option"; return 1; }
	assert_held a "$held_a"

	# a bad one is refused at start
	stop_xlbd TERM
	run nsenter --net=/run/netns/xlb-lb "$XLBD" --config "$cfg" --pin-dir "$PIN_DIR" \
		--control "$CTL_SOCK" --hash-seed 0x12345678123456789
	[[ $status -eq 2 && $output == *"bad --hash-seed"* ]] || { fail "status $status: $output"; return 1; }
}

# --- pins of an earlier version -------------------------------------------------

# xlb_reasons has an entry per reason: a version with a reason more finds
# the pinned map one short, which libbpf will not reuse as it is.
@test "a pinned xlb_reasons with fewer reasons (an earlier version's) is resized at start, its counts kept" {
	local cfg n ncpus got
	cfg=$(write_config "$(restart_config)")
	start_xlbd "$cfg"
	stop_xlbd TERM
	n=$(bpftool -j map show pinned "$PIN_DIR/xlb_reasons" | "$PYTHON" -c '
import json, sys
print(json.load(sys.stdin)["max_entries"])')
	rm "$PIN_DIR/xlb_reasons"
	bpftool map create "$PIN_DIR/xlb_reasons" type percpu_array key 4 value 16 \
		entries $((n - 1)) name xlb_reasons
	# 7 packets of pass_not_service (reason 5) on every CPU
	bpftool map update pinned "$PIN_DIR/xlb_reasons" key 5 0 0 0 \
		value 7 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
	start_xlbd "$cfg"
	log_has "event=reasons_resized entries=$n old_entries=$((n - 1)) counts=kept" ||
		{ fail "no event=reasons_resized line"; return 1; }
	ncpus=$(bpftool -j map lookup pinned "$PIN_DIR/xlb_reasons" key 5 0 0 0 | "$PYTHON" -c '
import json, sys
print(len(json.load(sys.stdin)["values"]))')
	got=$(reason_packets pass_not_service)
	((got >= 7 * ncpus)) || { fail "pass_not_service is $got, the old map held $((7 * ncpus))"; return 1; }
	new_flows_balanced
	[[ $(reason_packets fwd_redirect) -gt 0 ]] || { fail "nothing counted in the new map"; return 1; }
}
