#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# `xlbctl teardown` takes everything off: XDP, tc filters, prepared veth
# peers, pins. Checked with ip, tc and bpftool in every lab namespace.

load helpers

setup_file() {
	lab_setup 3
	serve api 1 3
}

teardown_file() {
	lab_teardown
}

teardown() {
	xlb_test_teardown
}

teardown_config() {
	local i
	echo "[service api]"
	echo "listen = $VIP4:80/tcp"
	for i in 1 2 3; do echo "backend = 10.200.$i.2:8000"; done
	echo "[service api6]"
	echo "listen = [$VIP6]:80/tcp"
	for i in 1 2 3; do echo "backend = [fd00:20$i::2]:8000"; done
}

# run_then_teardown SIGNAL: traffic through xlb, stop xlbd, tear down, check.
run_then_teardown() {
	start_xlbd "$(write_config "$(teardown_config)")"
	curl_hostnames 10 "http://$VIP4/" >"$BATS_TEST_TMPDIR/answers"
	assert_balanced "$BATS_TEST_TMPDIR/answers" 0 be1 be2 be3
	stop_xlbd "$1"

	run xlbctl teardown
	[[ $status -eq 0 ]] || { fail "xlbctl teardown: status $status: $output"; return 1; }
	[[ ! -e $PIN_DIR ]] || { fail "pin dir left: $(ls -la "$PIN_DIR")"; return 1; }
	assert_no_bpf_attached
	# the lab routes plainly again; the VIP is gone
	run in_client curl -sS -m 3 http://10.200.1.2:8000/
	[[ $status -eq 0 && $output == *'"hostname": "be1"'* ]] || { fail "direct after teardown: $output"; return 1; }
	run in_client curl -sS -m 1 "http://$VIP4/"
	[[ $status -ne 0 ]] || { fail "VIP still answers after teardown: $output"; return 1; }
}

@test "before xlbd: nothing of xlb is attached in the lab" {
	assert_no_bpf_attached
}

@test "teardown after SIGTERM leaves no XDP, no tc filter, no pins" {
	run_then_teardown TERM
}

@test "teardown after SIGKILL leaves no XDP, no tc filter, no pins" {
	run_then_teardown KILL
}

@test "teardown with nothing attached succeeds and changes nothing" {
	[[ ! -e $PIN_DIR ]]
	run xlbctl teardown
	[[ $status -eq 0 ]] || { fail "status $status: $output"; return 1; }
	assert_no_bpf_attached
}
