#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Flow affinity: an established connection keeps its backend while the
# backend set changes; a drained backend takes no new flows.

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
}

# names_config N: the line service on VIP:9000 with backends 1..N.
names_config() {
	local i
	echo "[service names]"
	echo "listen = $VIP4:9000/tcp"
	for ((i = 1; i <= $1; i++)); do echo "backend = 10.200.$i.2:9000"; done
}

backend_ep() { echo "10.200.${1#be}.2:9000"; }

# new_flows_avoid N BACKEND...: N new connections, all answered, none by
# any of BACKENDs.
new_flows_avoid() {
	local n=$1 be f=$BATS_TEST_TMPDIR/burst
	shift
	burst "$VIP4" 9000 "$n" >"$f" || { cat "$f" >&2; fail "new connections failed"; return 1; }
	sort "$f" | uniq -c >&2
	for be; do
		if grep -qx "$be" "$f"; then
			fail "$be got new flows: $(grep -cx "$be" "$f") of $n"
			return 1
		fi
	done
}

@test "a long-lived connection keeps its backend across add, drain and del of other backends" {
	start_xlbd "$(write_config "$(names_config 3)")"
	hold_start a "$VIP4" 9000
	held=$(hold_probe a)
	[[ $held == be[123] ]] || { fail "held connection answered '$held'"; return 1; }

	xlbctl backend add names "$(backend_ep be4)"
	assert_held a "$held"
	# the new backend takes new flows
	burst "$VIP4" 9000 50 >"$BATS_TEST_TMPDIR/after_add"
	grep -qx be4 "$BATS_TEST_TMPDIR/after_add" || { fail "be4 got no new flows after backend add"; return 1; }

	others=()
	for be in be1 be2 be3 be4; do [[ $be == "$held" ]] || others+=("$be"); done
	drained=${others[0]} deleted=${others[1]}

	xlbctl backend drain names "$(backend_ep "$drained")"
	assert_held a "$held"
	new_flows_avoid 50 "$drained"

	xlbctl backend del names "$(backend_ep "$deleted")"
	assert_held a "$held"
	new_flows_avoid 50 "$drained" "$deleted"
	assert_held a "$held"
}

@test "a drained backend gets no new flows while its existing connection continues" {
	start_xlbd "$(write_config "$(names_config 4)")"
	hold_start a "$VIP4" 9000
	drained=$(hold_probe a)
	[[ $drained == be[1234] ]] || { fail "held connection answered '$drained'"; return 1; }

	xlbctl backend drain names "$(backend_ep "$drained")"
	assert_held a "$drained"
	new_flows_avoid 50 "$drained"
	assert_held a "$drained"
	# a second held connection opened after the drain avoids it too
	hold_start b "$VIP4" 9000
	second=$(hold_probe b)
	[[ $second != "$drained" ]] || { fail "new long-lived connection went to drained $drained"; return 1; }
	assert_held a "$drained"
}
