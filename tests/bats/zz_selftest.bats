load helpers
setup_file() { lab_setup 3; serve api 1 3; serve name 1 3; }
teardown_file() { lab_teardown; }
teardown() { xlb_test_teardown; }
@test "curl_hostnames + assert_balanced" {
	curl_hostnames 5 http://10.200.1.2:8000/ > $BATS_TEST_TMPDIR/a
	curl_hostnames 5 "http://[fd00:202::2]:8000/" >> $BATS_TEST_TMPDIR/a
	curl_hostnames 5 http://10.200.3.2:8000/ >> $BATS_TEST_TMPDIR/a
	assert_balanced $BATS_TEST_TMPDIR/a 30 be1 be2 be3
	run assert_balanced $BATS_TEST_TMPDIR/a 40 be1 be2 be3
	[ $status -ne 0 ]
	curl_hostnames 2 http://10.200.0.100/ > $BATS_TEST_TMPDIR/b
	cat $BATS_TEST_TMPDIR/b
	[ "$(cat $BATS_TEST_TMPDIR/b)" = "error
error" ]
}
@test "hold / probe / burst / udp" {
	hold_start a 10.200.2.2 9000
	hold_start b fd00:203::2 9000
	[ "$(hold_probe a)" = be2 ]
	assert_held b be3
	run assert_held b be2
	[ $status -ne 0 ]
	burst 10.200.1.2 9000 3 | grep -c be1
	[ "$(udp_ask fd00:201::2 5353 2)" = "be1
be1" ]
	run udp_ask 10.200.0.100 53 1
	[ $status -eq 1 ]
	# kill the server of be2 -> the held connection breaks
	kill $(cat /run/xlb-lab/pids/name-be2.pid)
	run hold_probe a
	echo "$output"
	[ $status -eq 1 ]
	[[ $output == error* ]]
}
@test "assert_no_bpf_attached detects xdp and tc" {
	assert_no_bpf_attached
	ip -n xlb-be1 link set dev eth0 xdp obj /tmp/xp.o sec xdp
	run assert_no_bpf_attached
	echo "$output"
	[ $status -ne 0 ]
	ip -n xlb-be1 link set dev eth0 xdp off
	tc -n xlb-lb qdisc add dev b2 clsact
	tc -n xlb-lb filter add dev b2 egress bpf da obj /tmp/xp.o sec tc
	run assert_no_bpf_attached
	echo "$output"
	[ $status -ne 0 ]
	tc -n xlb-lb qdisc del dev b2 clsact
	assert_no_bpf_attached
}
@test "wait_until times out" {
	run wait_until 1 false
	[ $status -eq 1 ]
	[[ $output == *"timed out"* ]]
	wait_until 2 true
}
@test "stop_xlbd reaps and reports status" {
	bash -c 'sleep 30' 3>&- &
	XLBD_PID=$!
	stop_xlbd TERM; [ "$XLBD_STATUS" = 143 ]
	bash -c 'trap "exit 0" TERM; while :; do sleep 0.1; done' 3>&- &
	XLBD_PID=$!
	sleep 0.3
	stop_xlbd TERM; [ "$XLBD_STATUS" = 0 ]
}
