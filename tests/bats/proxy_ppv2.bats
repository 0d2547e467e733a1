#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# proxy_protocol = v2: the backend learns the client's address and the
# address it connected to, on every proxy path.

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

ppv2_config() {
	cat <<-EOF
		[http]
		listen = $LB4:80
		[service pp]
		host = pp.app.dev
		proxy_protocol = v2
		backend = 10.200.1.2:9090
		[service plain]
		host = plain.app.dev
		backend = 10.200.1.2:9090
	EOF
}

start_ppv2_backend() {
	bg_start xlb-be1 "$BATS_TEST_TMPDIR/ppv2.log" "$PYTHON" "$REPO/tests/lab/ppv2server.py" --port 9090
	wait_until 10 in_ns xlb-be1 bash -c 'ss -ltn | grep -q ":9090 "' || { fail "ppv2 server did not listen"; return 1; }
}

# ppv2_check PATH: a request through the proxy on PATH carries the header.
ppv2_check() {
	local got
	start_ppv2_backend
	start_xlbd "$(write_config "$(ppv2_config)")" --proxy-path "$1"
	got=$(in_client curl -sS -m 5 -H 'Host: pp.app.dev' "http://$LB4/")
	[[ $got =~ ^src=10\.200\.0\.2:[0-9]+\ dst=10\.200\.0\.1:80$ ]] ||
		{ fail "PROXY v2 header on $1: backend saw '$got'"; return 1; }
	got=$(in_client curl -sS -m 5 -H 'Host: plain.app.dev' "http://$LB4/")
	[[ $got == no-proxy-header ]] || { fail "a service without proxy_protocol sent a header: '$got'"; return 1; }
}

@test "proxy_protocol = v2 gives the backend the client's address (splice path)" {
	ppv2_check splice
}

@test "proxy_protocol = v2 gives the backend the client's address (sockmap path)" {
	ppv2_check sockmap
}
