#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Bad configuration and usage: exit status 2, exactly one line on stderr
# naming the problem (file:line for config errors), and nothing left behind.

load helpers

bats_require_minimum_version 1.5.0

setup_file() {
	lab_setup 1
}

teardown_file() {
	lab_teardown
}

teardown() {
	xlb_test_teardown
}

# xlbd_rejects CONFIG_TEXT [ARGS...]: runs xlbd on CONFIG_TEXT (default
# log level, so only the error may be printed) and checks status 2, no
# stdout, one stderr line, no pins. Leaves the line in $err.
xlbd_rejects() {
	cfg=$(write_config "$1")
	shift
	[[ $# -gt 0 ]] || set -- --iface u0
	run --separate-stderr timeout 10 nsenter --net=/run/netns/xlb-lb "$XLBD" --config "$cfg" \
		--pin-dir "$PIN_DIR" --control "$CTL_SOCK" "$@"
	echo "status=$status stdout=[$output] stderr=[$stderr]" >&2
	[[ $status -eq 2 ]] || { fail "exit status $status, want 2"; return 1; }
	[[ ${#stderr_lines[@]} -eq 1 ]] || { fail "${#stderr_lines[@]} stderr lines, want 1"; return 1; }
	[[ -z $output ]] || { fail "unexpected stdout"; return 1; }
	[[ ! -e $PIN_DIR ]] || { fail "a rejected start left $PIN_DIR behind"; return 1; }
	err=${stderr_lines[0]}
}

# err_has TEXT...: the error line contains every TEXT.
err_has() {
	local t
	for t; do [[ $err == *"$t"* ]] || { fail "error line lacks '$t': $err"; return 1; }; done
}

@test "unknown key: file:line and the key" {
	xlbd_rejects "[service api]
backend = 10.200.1.2:8000
lisen = $VIP4:80/tcp"
	err_has "$cfg:3:" "unknown key 'lisen'"
}

@test "bad address: file:line and why" {
	xlbd_rejects "[service api]
listen = 10.200.0.300:80/tcp
backend = 10.200.1.2:8000"
	err_has "$cfg:2:" "invalid IPv4 address"
}

@test "bad backend address: file:line and why" {
	xlbd_rejects "[service api]
listen = $VIP4:80/tcp
backend = [fd00:201::zz]:8000"
	err_has "$cfg:3:" "invalid IPv6 address"
}

@test "bad port: file:line and why" {
	xlbd_rejects "[service api]
listen = $VIP4:99999/tcp
backend = 10.200.1.2:8000"
	err_has "$cfg:2:" "port out of range"
}

@test "duplicate VIP: file:line of the second listener" {
	xlbd_rejects "[service a]
listen = $VIP4:80/tcp
backend = 10.200.1.2:8000
[service b]
listen = $VIP4:80/tcp
backend = 10.200.1.2:8001"
	err_has "$cfg:5:" "$VIP4:80/tcp"
	[[ $err =~ [Dd]uplicate|already ]] || { fail "error line does not say duplicate: $err"; return 1; }
}

@test "bad health check: file:line of the key and why" {
	xlbd_rejects "[service api]
listen = $VIP4:80/tcp
backend = 10.200.1.2:8000
check = tcp
check_interval = 1.5s"
	err_has "$cfg:5:" 'check_interval "1.5s" is not a duration'
}

@test "unknown interface: --iface nosuch0 is named" {
	xlbd_rejects "[service api]
listen = $VIP4:80/tcp
backend = 10.200.1.2:8000" --iface nosuch0
	err_has nosuch0
}

@test "missing --config is a usage error" {
	run --separate-stderr timeout 10 nsenter --net=/run/netns/xlb-lb "$XLBD" --iface u0 \
		--pin-dir "$PIN_DIR" --control "$CTL_SOCK"
	echo "status=$status stderr=[$stderr]" >&2
	[[ $status -eq 2 ]] || { fail "exit status $status, want 2"; return 1; }
	[[ ${#stderr_lines[@]} -ge 1 ]]
	[[ ! -e $PIN_DIR ]]
}

@test "--flow-table-size sizes the flow table; another size over a pinned one is refused in one line" {
	local cfg
	cfg=$(write_config "[service api]
listen = $VIP4:80/tcp
backend = 10.200.1.2:8000")
	start_xlbd "$cfg" --flow-table-size 100000
	[[ $(bpftool map show pinned "$PIN_DIR/xlb_flows") == *"max_entries 100000 "* ]]
	stop_xlbd
	run --separate-stderr timeout 10 nsenter --net=/run/netns/xlb-lb "$XLBD" --config "$cfg" \
		--iface u0 --pin-dir "$PIN_DIR" --control "$CTL_SOCK" --flow-table-size 200000
	echo "status=$status stderr=[$stderr]" >&2
	[[ $status -ne 0 ]]
	[[ ${#stderr_lines[@]} -eq 1 ]]
	[[ ${stderr_lines[0]} == *"--flow-table-size 200000: the pinned xlb_flows has 100000 entries"* ]]
	# the pinned tables, and the flows in them, are untouched
	[[ $(bpftool map show pinned "$PIN_DIR/xlb_flows") == *"max_entries 100000 "* ]]
}
