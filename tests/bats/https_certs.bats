#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The certificates of terminated TLS over their life: renewed in the
# directory while connections are open, replaced by a broken file, and
# listed by `xlbctl certs`. Checked at the client (the serial it gets,
# the answers on an open connection) and in xlbd's log.

load helpers
load https_helpers

setup_file() {
	lab_setup 1
	serve http 1 1
	make_ca "$BATS_FILE_TMPDIR/pki"
}

teardown_file() {
	lab_teardown
}

teardown() {
	xlb_test_teardown
}

CA() { echo "$BATS_FILE_TMPDIR/pki/ca.pem"; }

# certs_config DIR: one https service, a.certs.test, certificates from DIR.
certs_config() {
	cat <<-EOF
		[tls]
		listen = $LB4:443
		certs = $1
		[service a]
		proto = https
		host = a.certs.test
		host = *.w.certs.test
		backend = 10.200.1.2:8080
	EOF
}

# A test's own certificate directory (the tests change it): a.certs.test
# with serial A1, and the wildcard *.w.certs.test in w.certs.test.pem.
test_certs_dir() {
	local pki=$BATS_FILE_TMPDIR/pki
	issue "$pki" a.certs.test a.certs.test 0xa1 crt
	issue "$pki" w.certs.test '*.w.certs.test' 0xc3 pem
	mkdir -p "$BATS_TEST_TMPDIR/certs"
	cp -p "$pki/certs/"* "$BATS_TEST_TMPDIR/certs/"
	echo "$BATS_TEST_TMPDIR/certs"
}

serial_is() { [[ $(served_serial "$1") == "serial=$2" ]]; }

@test "a renewed certificate serves new connections within a second; an open connection keeps working; a broken one is refused once and the old one stays" {
	local dir
	dir=$(test_certs_dir)
	start_xlbd "$(write_config "$(certs_config "$dir")")"
	serial_is a.certs.test A1 || fail "first: $(served_serial a.certs.test)"

	# a keep-alive client: one request, then another once told to go on
	cat >"$BATS_TEST_TMPDIR/keep.py" <<-'PY'
		import os, socket, ssl, sys, time
		lb, ca, go = sys.argv[1], sys.argv[2], sys.argv[3]
		ctx = ssl.create_default_context(cafile=ca)
		s = ctx.wrap_socket(socket.create_connection((lb, 443), timeout=10),
		                    server_hostname="a.certs.test")
		def get():
		    s.sendall(b"GET /who HTTP/1.1\r\nHost: a.certs.test\r\n\r\n")
		    data = b""
		    while not data.endswith(b"be1\n"):
		        chunk = s.recv(4096)
		        if not chunk:
		            raise SystemExit("closed: %r" % data)
		        data += chunk
		serial = lambda: "%X" % int(s.getpeercert()["serialNumber"], 16)
		get()
		print("first serial=%s" % serial(), flush=True)
		deadline = time.monotonic() + 30
		while not os.path.exists(go):
		    if time.monotonic() > deadline:
		        raise SystemExit("never told to go on")
		    time.sleep(0.05)
		get()
		print("second serial=%s" % serial(), flush=True)
	PY
	bg_start xlb-client "$BATS_TEST_TMPDIR/keep.log" "$PYTHON" "$BATS_TEST_TMPDIR/keep.py" \
		"$LB4" "$(CA)" "$BATS_TEST_TMPDIR/go"
	local keep=$BG_PID
	wait_until 10 grep -q 'first serial=A1' "$BATS_TEST_TMPDIR/keep.log" ||
		fail "keep-alive client: $(cat "$BATS_TEST_TMPDIR/keep.log")"

	# renewed in place, as a renewal tool writes it: .crt, then .key
	local pki=$BATS_FILE_TMPDIR/pki
	issue "$pki" a.certs.test a.certs.test 0xa9 crt
	cp "$pki/certs/a.certs.test.crt" "$dir/a.certs.test.crt"
	cp "$pki/certs/a.certs.test.key" "$dir/a.certs.test.key"
	wait_until 3 serial_is a.certs.test A9 || fail "renewal not served: $(served_serial a.certs.test)"
	# the pair was read once both were written: no refusal on the way
	! log_has 'event=cert_refused' || fail "$(grep cert_refused "$XLBD_LOG")"
	run https_get_ca "$(CA)" a.certs.test /who
	[[ $output == be1 ]] || fail "after renewal: $output"

	# the open connection goes on with its own certificate
	touch "$BATS_TEST_TMPDIR/go"
	wait_until 10 pid_gone "$keep" || fail "keep-alive client hangs"
	wait "$keep" || fail "keep-alive client failed: $(cat "$BATS_TEST_TMPDIR/keep.log")"
	grep -q 'second serial=A1' "$BATS_TEST_TMPDIR/keep.log" ||
		fail "open connection: $(cat "$BATS_TEST_TMPDIR/keep.log")"

	# a broken replacement: one error line, the renewed one stays in service
	echo "not a certificate" >"$dir/a.certs.test.crt"
	wait_log 'event=cert_refused file=[^ ]*a\.certs\.test\.crt .*kept=previous'
	serial_is a.certs.test A9 || fail "after the broken file: $(served_serial a.certs.test)"
	touch "$dir/w.certs.test.pem" # another event: the broken file is not reported again
	wait_log 'event=cert_loaded source=[^ ]*w\.certs\.test\.pem'
	[[ $(grep -c 'event=cert_refused' "$XLBD_LOG") == 1 ]] ||
		fail "refusals: $(grep cert_refused "$XLBD_LOG")"
	run https_get_ca "$(CA)" a.certs.test /who
	[[ $output == be1 ]] || fail "after the broken file: $output"
	! grep -q 'PRIVATE KEY' "$XLBD_LOG" || fail "a key in the log"
}

@test "xlbctl certs lists each certificate in service: names, source file, expiry, serial, issuer" {
	local dir
	dir=$(test_certs_dir)
	start_xlbd "$(write_config "$(certs_config "$dir")")"
	run "$XLBCTL" --socket "$CTL_SOCK" certs
	[[ $status -eq 0 ]] || fail "$output"
	[[ ${lines[0]} =~ ^NAMES\ +SOURCE\ +NOT_AFTER\ +SERIAL\ +DEFAULT\ +ISSUER$ ]] || fail "$output"
	local want_after
	want_after=$(openssl x509 -noout -enddate -in "$dir/a.certs.test.crt" | cut -d= -f2)
	want_after=$(date -u -d "$want_after" +%Y-%m-%dT%H:%M:%SZ)
	[[ $output =~ a\.certs\.test\ +$dir/a\.certs\.test\.crt\ +$want_after\ +A1\ +no\ +CN\ ?=\ ?xlb\ test\ CA ]] ||
		fail "a.certs.test row: $output"
	[[ $output =~ \*\.w\.certs\.test\ +$dir/w\.certs\.test\.pem\ +[-0-9T:Z]+\ +C3\ +no ]] ||
		fail "wildcard row: $output"
	[[ ${lines[-1]} == "2 certificates" ]] || fail "$output"

	# --json: the same, for scripts; a renewal shows at once
	issue "$BATS_FILE_TMPDIR/pki" a.certs.test a.certs.test 0xa7 crt
	cp "$BATS_FILE_TMPDIR/pki/certs/a.certs.test".{crt,key} "$dir/"
	wait_until 3 serial_is a.certs.test A7 || fail "renewal: $(served_serial a.certs.test)"
	run "$XLBCTL" --socket "$CTL_SOCK" --json certs
	[[ $status -eq 0 ]] || fail "$output"
	run "$PYTHON" -c '
import json, sys
certs = {c["names"][0]: c for c in json.loads(sys.argv[1])}
a = certs["a.certs.test"]
print(a["serial"], a["source"].endswith("/a.certs.test.crt"), a["default"], len(certs))' "$output"
	[[ $output == "A7 True False 2" ]] || fail "json: $output"

	# without xlbd: a clear error, not an empty list
	stop_xlbd
	run "$XLBCTL" --socket "$CTL_SOCK" certs
	[[ $status -eq 1 && $output == "xlbctl: cannot reach xlbd at $CTL_SOCK"* ]] || fail "$output"
}
