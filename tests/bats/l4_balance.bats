#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# L4 balancing with real traffic: TCP over IPv4 and IPv6, and UDP, through
# XDP on the lab's uplink.

load helpers

setup_file() {
	lab_setup 4
	serve api 1 4
	serve name 1 4
	head -c $((8 * 1024 * 1024)) /dev/urandom >"$BATS_FILE_TMPDIR/bulk.bin"
	"$LAB" serve-http 1 8080 "$BATS_FILE_TMPDIR/bulk.bin" >&2
}

teardown_file() {
	lab_teardown
}

teardown() {
	xlb_test_teardown
}

@test "lab sanity: backends answer directly and the VIP does not answer without xlbd" {
	run in_client curl -sS -m 3 http://10.200.1.2:8000/
	[[ $status -eq 0 && $output == *'"hostname": "be1"'* ]] || fail "direct: $output"
	run in_client curl -sS -m 1 "http://$VIP4/"
	[[ $status -ne 0 ]] || fail "VIP answered without xlbd: $output"
}

@test "200 TCP connections to an IPv4 VIP: each of 4 backends gets at least 10%" {
	start_xlbd "$(write_config "$(l4_services_config)")"
	curl_hostnames 200 "http://$VIP4/" >"$BATS_TEST_TMPDIR/answers"
	assert_balanced "$BATS_TEST_TMPDIR/answers" 10 be1 be2 be3 be4
	[[ $(wc -l <"$BATS_TEST_TMPDIR/answers") -eq 200 ]]
}

@test "a UDP service answers, from the VIP, spread over the backends" {
	start_xlbd "$(write_config "$(l4_services_config)")"
	# Each datagram from a new socket (new source port), on a connected
	# socket, so an answer not from the VIP counts as lost.
	udp_ask "$VIP4" 53 100 >"$BATS_TEST_TMPDIR/answers" || true
	assert_balanced "$BATS_TEST_TMPDIR/answers" 10 be1 be2 be3 be4
}

# A backend's TCP stack hands its veth segments of up to 64 KB (GSO). The
# return program must send those toward the client itself: the kernel
# would only do the same, at the cost of a trip through its stack.
@test "an 8 MB download through the VIP arrives whole, every reply sent on by tc, none handed to the kernel" {
	local red stack want
	start_xlbd "$(write_config "$(printf '[service bulk]\nlisten = %s:8080/tcp\nbackend = 10.200.1.2:8080\n' "$VIP4")")"
	red=$(reason_packets rnat_redirect)
	stack=$(reason_packets rnat_stack)
	want=$(sha256sum <"$BATS_FILE_TMPDIR/bulk.bin")
	run in_client bash -c "curl -sS -m 30 http://$VIP4:8080/file | sha256sum"
	[[ $status -eq 0 && $output == "$want" ]] || { fail "download: $output"; return 1; }
	red=$(($(reason_packets rnat_redirect) - red))
	stack=$(($(reason_packets rnat_stack) - stack))
	echo "# 8 MB download: rnat_redirect +$red rnat_stack +$stack" >&3
	((stack == 0)) || { fail "$stack replies went through the kernel (rnat_stack)"; return 1; }
	((red > 0)) || { fail "no reply was redirected"; return 1; }
}

@test "an IPv6 TCP service answers on [fd00:200::100]:80" {
	start_xlbd "$(write_config "$(l4_services_config)")"
	curl_hostnames 40 "http://[$VIP6]/" >"$BATS_TEST_TMPDIR/answers"
	assert_balanced "$BATS_TEST_TMPDIR/answers" 5 be1 be2 be3 be4
}

@test "a VIP port without a service is not answered" {
	start_xlbd "$(write_config "$(l4_services_config)")"
	run in_client curl -sS -m 1 "http://$VIP4:81/"
	[[ $status -ne 0 ]] || fail "VIP:81 answered: $output"
	# and the service next to it still does
	run in_client curl -sS -m 3 "http://$VIP4/"
	[[ $status -eq 0 && $output == *'"hostname": "be'* ]] || fail "VIP:80: $output"
}

@test "one backend behind two VIP listeners answers each from its VIP; direct replies stay untouched" {
	local i out
	start_xlbd "$(write_config "$(l4_services_config)
[service api-alt]
listen = $VIP4:8080/tcp
backend = 10.200.1.2:8000")"
	# replies find their VIP through the client's flow: port 80 and 8080
	# share backend be1's endpoint and must not be mixed up
	for i in 1 2 3 4 5; do
		run in_client curl -sS -m 3 "http://$VIP4:8080/"
		[[ $status -eq 0 && $output == *'"hostname": "be1"'* ]] || fail "VIP:8080: $output"
	done
	curl_hostnames 40 "http://$VIP4/" >"$BATS_TEST_TMPDIR/answers"
	assert_balanced "$BATS_TEST_TMPDIR/answers" 5 be1 be2 be3 be4
	# a client talking to be1 itself is no balanced flow: its replies
	# keep be1's address (curl would fail on a rewritten source)
	run in_client curl -sS -m 3 http://10.200.1.2:8000/
	[[ $status -eq 0 && $output == *'"hostname": "be1"'* ]] || fail "direct: $output"
}

@test "a backend already in 4 L4 services is refused for a fifth, in one line; the others keep serving" {
	local i
	start_xlbd "$(write_config "$(l4_services_config)
[service alt1]
listen = $VIP4:8081/tcp
backend = 10.200.1.2:8000
[service alt2]
listen = $VIP4:8082/tcp
backend = 10.200.1.2:8000
[service alt3]
listen = $VIP4:8083/tcp
backend = 10.200.1.2:8000")"
	xlbctl service add alt4 --listen "$VIP4:8084/tcp"
	run xlbctl backend add alt4 10.200.1.2:8000
	[[ $status -ne 0 ]] || fail "a fifth listener was accepted"
	[[ ${#lines[@]} -eq 1 && $output == *"10.200.1.2:8000 already serves 4 L4 services"* ]] ||
		fail "error: $output"
	for i in 8081 8082 8083; do
		run in_client curl -sS -m 3 "http://$VIP4:$i/"
		[[ $status -eq 0 && $output == *'"hostname": "be1"'* ]] || fail "VIP:$i: $output"
	done
}

# field F of service S in one line of `stats --watch --json`
watch_rate() {
	python3 -c 'import json, sys
j = json.loads(sys.argv[1])
print(next(s[sys.argv[3]] for s in j["services"] if s["service"] == sys.argv[2]))' "$@"
}

@test "xlbctl stats --watch: per-second rates while a client loops, zero once it stopped" {
	local loop pps flows
	start_xlbd "$(write_config "$(l4_services_config)")"
	# shellcheck disable=SC2016 # expanded by the inner bash
	in_client bash -c 'end=$((SECONDS + 4)); while ((SECONDS < end)); do
		curl -s -o /dev/null -m 2 "http://$1/"; done' _ "$VIP4" &
	loop=$!
	run xlbctl stats --watch --json --interval 1 --count 2
	wait "$loop"
	[[ $status -eq 0 && ${#lines[@]} -eq 2 ]] || fail "status $status: $output"
	pps=$(watch_rate "${lines[1]}" api packets_per_s)
	flows=$(watch_rate "${lines[1]}" api new_flows_per_s)
	[[ $pps -gt 0 && $flows -gt 0 ]] || fail "under load: packets/s $pps, new flows/s $flows"
	[[ $(watch_rate "${lines[1]}" dns packets_per_s) -eq 0 ]] || fail "dns moved: ${lines[1]}"
	run xlbctl stats --watch --json --interval 0.5 --count 1
	[[ $status -eq 0 && $(watch_rate "$output" api packets_per_s) -eq 0 ]] ||
		fail "idle: $output"
	run xlbctl stats --watch --interval 0.2 --count 1
	[[ $status -eq 0 && $output == *"rates over the last"* && $output == *"PKTS/S"* ]] ||
		fail "text: $output"
	run xlbctl stats --watch --interval 0
	[[ $status -eq 2 && ${#lines[@]} -eq 1 && $output == *"--interval '0': seconds from 0.1 to 3600"* ]] ||
		fail "bad interval: status $status: $output"
}
