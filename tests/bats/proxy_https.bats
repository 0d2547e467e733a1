#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# TLS terminated by xlb (proto = https): names picked by SNI on the shared
# TLS port, certificates from [tls] certs (made here by a local CA), the
# requests then served per request to plain-HTTP backends
# (tests/lab/httpserver.py); a passthrough (proto = tls) service on the
# same port keeps its own certificate. Checked with curl --cacert and
# openssl s_client at the client, and at the backends.

load helpers
load https_helpers

setup_file() {
	lab_setup 2
	serve http 1 2
	# the passthrough service's backend: s_server with its own certificate
	"$LAB" serve-tls 2 pass.https.test >&2
	make_certs "$BATS_FILE_TMPDIR/pki"
}

teardown_file() {
	lab_teardown
}

teardown() {
	xlb_test_teardown
}

# make_certs DIR: a CA (DIR/ca.pem) and, in DIR/certs, nginx-proxy's
# layout: a.https.test.crt/.key, b.https.test.pem (both in one file) and
# w.https.test.crt/.key holding *.w.https.test. Serials are fixed so that
# a test can tell which certificate the client got.
make_certs() {
	local dir=$1
	make_ca "$dir"
	issue "$dir" a.https.test a.https.test 0xa1 crt
	issue "$dir" b.https.test b.https.test 0xb2 pem
	issue "$dir" w.https.test '*.w.https.test' 0xc3 crt
}

https_config() {
	cat <<-EOF
		[tls]
		listen = $LB4:443
		certs = $BATS_FILE_TMPDIR/pki/certs
		[http]
		listen = $LB4:80
		[service a]
		proto = https
		host = a.https.test
		backend = 10.200.1.2:8080
		[service b]
		proto = https
		host = b.https.test
		host = *.w.https.test
		backend = 10.200.2.2:8080
		[service pass]
		proto = tls
		host = pass.https.test
		backend = 10.200.2.2:8443
	EOF
}

# https_get NAME PATH [CURL ARGS...]: a request to NAME over the shared
# TLS port, the certificate checked against the test's CA.
https_get() {
	https_get_ca "$BATS_FILE_TMPDIR/pki/ca.pem" "$@"
}

@test "https: each name gets its own certificate (exact, one file, wildcard) and its own service" {
	start_xlbd "$(write_config "$(https_config)")" --metrics 127.0.0.1:9121
	run served_serial a.https.test
	[[ $output == "serial=A1" ]] || fail "a.https.test: $output"
	run served_serial b.https.test
	[[ $output == "serial=B2" ]] || fail "b.https.test: $output"
	run served_serial x.w.https.test
	[[ $output == "serial=C3" ]] || fail "x.w.https.test (wildcard): $output"
	run https_get a.https.test /who
	[[ $status -eq 0 && $output == be1 ]] || fail "a.https.test: $output"
	run https_get b.https.test /who
	[[ $status -eq 0 && $output == be2 ]] || fail "b.https.test: $output"
	run https_get x.w.https.test /who
	[[ $status -eq 0 && $output == be2 ]] || fail "x.w.https.test: $output"
	# /metrics: when each certificate in service expires
	local end
	end=$(date -d "$(openssl x509 -noout -enddate -in "$BATS_FILE_TMPDIR/pki/certs/a.https.test.crt" |
		cut -d= -f2)" +%s)
	run in_lb curl -sS -m 5 http://127.0.0.1:9121/metrics
	[[ $output == *"xlb_tls_certificate_expiry_timestamp_seconds{name=\"a.https.test\",source=\"$BATS_FILE_TMPDIR/pki/certs/a.https.test.crt\",serial=\"A1\"} $end"* ]] ||
		fail "no expiry for a.https.test ($end): $(grep xlb_tls <<<"$output")"
	[[ $output == *'xlb_tls_certificate_expiry_timestamp_seconds{name="*.w.https.test"'* ]] ||
		fail "no expiry for the wildcard: $(grep xlb_tls <<<"$output")"
}

@test "https: the backend sees plain HTTP with X-Forwarded-Proto https, the client's address and the port" {
	start_xlbd "$(write_config "$(https_config)")"
	run https_get a.https.test /echo
	[[ $status -eq 0 ]] || fail "$output"
	local h
	h=$("$PYTHON" -c '
import json, sys
h = {k.lower(): v for k, v in json.load(sys.stdin)["headers"]}
print(h.get("x-forwarded-proto"), h.get("x-forwarded-for"), h.get("x-real-ip"),
      h.get("x-forwarded-port"), h.get("x-forwarded-host"))' <<<"$output")
	[[ $h == "https 10.200.0.2 10.200.0.2 443 a.https.test" ]] || fail "headers: $h"
}

@test "https: TLS 1.3 and 1.2 with ALPN http/1.1; TLS 1.1 is refused" {
	start_xlbd "$(write_config "$(https_config)")"
	run in_client openssl s_client -connect "$LB4:443" -servername a.https.test -alpn http/1.1 \
		-tls1_3 </dev/null
	[[ $output == *"Protocol  : TLSv1.3"* || $output == *"TLSv1.3"* ]] || fail "1.3: $output"
	[[ $output == *"ALPN protocol: http/1.1"* ]] || fail "ALPN: $output"
	run in_client openssl s_client -connect "$LB4:443" -servername a.https.test -tls1_2 </dev/null
	[[ $output == *"TLSv1.2"* && $output == *"Verify return code"* ]] || fail "1.2: $output"
	run in_client openssl s_client -connect "$LB4:443" -servername a.https.test -tls1_1 \
		-cipher 'DEFAULT:@SECLEVEL=0' </dev/null
	[[ $output == *"alert protocol version"* && $output == *"Cipher is (NONE)"* ]] ||
		fail "TLS 1.1 not refused with protocol_version: $output"
}

@test "https: keep-alive requests, an upload and a 20 MB download arrive intact" {
	start_xlbd "$(write_config "$(https_config)")"
	# three requests on one connection: curl connects once
	run https_get a.https.test /who -w '%{num_connects}\n' "https://a.https.test/who" \
		"https://a.https.test/who"
	[[ $(echo $output) == "be1 1 be1 0 be1 0" ]] || fail "keep-alive: $output"
	head -c 3000000 /dev/urandom >"$BATS_TEST_TMPDIR/up"
	local want
	want=$(sha256sum <"$BATS_TEST_TMPDIR/up" | cut -d' ' -f1)
	run https_get a.https.test /upload --data-binary "@$BATS_TEST_TMPDIR/up"
	[[ $output == *"$want"* ]] || fail "upload: want $want, got $output"
	run https_get a.https.test /upload -H 'Transfer-Encoding: chunked' \
		--data-binary "@$BATS_TEST_TMPDIR/up"
	[[ $output == *"$want"* ]] || fail "chunked upload: want $want, got $output"
	run https_get a.https.test "/bytes?n=20000000" -o "$BATS_TEST_TMPDIR/down"
	[[ $status -eq 0 ]] || fail "$output"
	want=$("$PYTHON" -c 'import hashlib; print(hashlib.sha256((bytes(range(256)) * 78125)[:20000000]).hexdigest())')
	[[ $(sha256sum <"$BATS_TEST_TMPDIR/down" | cut -d' ' -f1) == "$want" ]] || fail "download differs"
}

@test "a passthrough service and terminated ones share the TLS port; an unknown name gets unrecognized_name" {
	start_xlbd "$(write_config "$(https_config)")"
	run in_client openssl s_client -connect "$LB4:443" -servername pass.https.test </dev/null
	[[ $output == *"subject=CN = pass.https.test"* ]] || fail "passthrough: $output"
	run in_client curl -sS -m 5 -k --resolve "pass.https.test:443:$LB4" https://pass.https.test/who
	[[ $status -eq 0 && $output == be2 ]] || fail "passthrough body: $output"
	run https_get a.https.test /who
	[[ $status -eq 0 && $output == be1 ]] || fail "terminated: $output"
	run in_client openssl s_client -connect "$LB4:443" -servername nope.https.test </dev/null
	[[ $output == *"unrecognized name"* ]] || fail "unknown name: $output"
	# the same names over plain HTTP are served as before
	run in_client curl -sS -m 5 -H "Host: a.https.test" "http://$LB4/who"
	[[ $status -eq 0 && $output == be1 ]] || fail "plain HTTP: $output"
}

@test "https_redirect sends plain HTTP to https with a 308; hsts adds Strict-Transport-Security over TLS" {
	local cfg
	cfg=$(https_config | sed 's/^host = a.https.test$/host = a.https.test\nhttps_redirect = yes\nhsts = 31536000/')
	start_xlbd "$(write_config "$cfg")"
	run in_client curl -sS -m 5 -o /dev/null -w '%{http_code} %{redirect_url}' \
		-H "Host: a.https.test" "http://$LB4/who?x=1"
	[[ $output == "308 https://a.https.test/who?x=1" ]] || fail "redirect: $output"
	# following it lands on the service over TLS, with HSTS
	run in_client curl -sS -m 5 -L --cacert "$BATS_FILE_TMPDIR/pki/ca.pem" \
		--resolve "a.https.test:80:$LB4" --resolve "a.https.test:443:$LB4" -D - \
		"http://a.https.test/who"
	[[ $output == *"strict-transport-security: max-age=31536000"* || \
		$output == *"Strict-Transport-Security: max-age=31536000"* ]] || fail "no HSTS: $output"
	[[ $output == *be1 ]] || fail "body: $output"
	# a service without them: plain HTTP served, no HSTS over TLS
	run in_client curl -sS -m 5 -H "Host: b.https.test" "http://$LB4/who"
	[[ $output == be2 ]] || fail "plain b: $output"
	run https_get b.https.test /who -D -
	[[ $output != *"Strict-Transport-Security"* && $output == *be2 ]] || fail "b over TLS: $output"
}

@test "https_only: plain HTTP for the service's names gets 404, TLS is served with HSTS directives" {
	local cfg
	cfg=$(https_config | sed 's/^host = a.https.test$/host = a.https.test\nhttps_only = yes\nhsts = max-age=600; includeSubDomains; preload/')
	start_xlbd "$(write_config "$cfg")"
	run in_client curl -sS -m 5 -o /dev/null -w '%{http_code}' -H "Host: a.https.test" "http://$LB4/who"
	[[ $output == 404 ]] || fail "plain HTTP: $output"
	run https_get a.https.test /who -D -
	[[ $output == *"Strict-Transport-Security: max-age=600; includeSubDomains; preload"* ]] ||
		fail "HSTS: $output"
	[[ $output == *be1 ]] || fail "body: $output"
	# the other services keep their plain HTTP site
	run in_client curl -sS -m 5 -H "Host: b.https.test" "http://$LB4/who"
	[[ $output == be2 ]] || fail "plain b: $output"
}

@test "a handshake flood does not stop an established HTTPS connection from being served" {
	# from one address, so without the per-source limit (tested on its own
	# in proxy_limits.bats), which would otherwise meet the flood first
	start_xlbd "$(write_config "$(https_config)")" --max-conns-per-source 0
	cat >"$BATS_TEST_TMPDIR/flood.py" <<-'PY'
		import socket, ssl, sys, time
		lb, ca = sys.argv[1], sys.argv[2]
		ctx = ssl.create_default_context(cafile=ca)
		def get(s):
		    s.sendall(b"GET /who HTTP/1.1\r\nHost: a.https.test\r\n\r\n")
		    data = b""
		    while not data.endswith(b"be1\n"):
		        chunk = s.recv(4096)
		        if not chunk:
		            raise SystemExit("closed: %r" % data)
		        data += chunk
		    return data
		est = ctx.wrap_socket(socket.create_connection((lb, 443), timeout=5),
		                      server_hostname="a.https.test")
		get(est)
		# 400 clients send a ClientHello and then nothing more
		flood = []
		for _ in range(400):
		    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
		    obj = ctx.wrap_bio(inc, out, server_hostname="a.https.test")
		    try:
		        obj.do_handshake()
		    except ssl.SSLWantReadError:
		        pass
		    s = socket.create_connection((lb, 443), timeout=5)
		    s.sendall(out.read())
		    flood.append(s)
		for i in range(20):
		    get(est)
		print("served 20 on the established connection during a flood of", len(flood))
	PY
	run in_client "$PYTHON" "$BATS_TEST_TMPDIR/flood.py" "$LB4" "$BATS_FILE_TMPDIR/pki/ca.pem"
	[[ $status -eq 0 && $output == "served 20"* ]] || fail "$output"
	# the flood met the cap: 256 handshakes at once, the rest refused
	wait_counter refused 100
}

# tls_counts_check [XLBD ARGS...]: 3 TLS 1.3 and 2 TLS 1.2 handshakes,
# one refused for TLS 1.1, one client gone after its ClientHello: exactly
# these counts for service a in /metrics and xlbctl stats.
tls_counts_check() {
	start_xlbd "$(write_config "$(https_config)")" --metrics 127.0.0.1:9121 "$@"
	local i
	for i in 1 2 3; do
		run https_get a.https.test /who --tlsv1.3 --tls13-ciphers TLS_AES_128_GCM_SHA256
		[[ $status -eq 0 && $output == be1 ]] || fail "TLS 1.3 request $i: $output"
	done
	for i in 1 2; do
		run https_get a.https.test /who --tlsv1.2 --tls-max 1.2 \
			--ciphers ECDHE-ECDSA-CHACHA20-POLY1305
		[[ $status -eq 0 && $output == be1 ]] || fail "TLS 1.2 request $i: $output"
	done
	# refused: a client that offers TLS 1.1 at most
	run in_client openssl s_client -connect "$LB4:443" -servername a.https.test -tls1_1 \
		-cipher 'DEFAULT:@SECLEVEL=0' </dev/null
	[[ $output == *"alert protocol version"* ]] || fail "TLS 1.1 not refused: $output"
	# a client that sends its ClientHello and closes
	run in_client "$PYTHON" -c '
import socket, ssl, sys
ctx = ssl.create_default_context()
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
obj = ctx.wrap_bio(inc, out, server_hostname="a.https.test")
try:
    obj.do_handshake()
except ssl.SSLWantReadError:
    pass
s = socket.create_connection((sys.argv[1], 443), timeout=5)
s.sendall(out.read())
s.close()' "$LB4"
	[[ $status -eq 0 ]] || fail "ClientHello and close: $output"
	# the nonzero TLS series of service a
	tls_lines() {
		in_lb curl -sS -m 5 http://127.0.0.1:9121/metrics |
			grep -E '^xlb_tls_handshake(s|_failures)_total\{service="a"' | grep -v ' 0$'
	}
	closed_counted() { tls_lines | grep -q client_closed; }
	wait_until 5 closed_counted || fail "no client_closed failure: $(tls_lines)"
	run tls_lines
	local want
	want='xlb_tls_handshakes_total{service="a",version="1.3",cipher="TLS_AES_128_GCM_SHA256"} 3
xlb_tls_handshakes_total{service="a",version="1.2",cipher="ECDHE-ECDSA-CHACHA20-POLY1305"} 2
xlb_tls_handshake_failures_total{service="a",reason="client_closed"} 1
xlb_tls_handshake_failures_total{service="a",reason="protocol_version"} 1'
	[[ $output == "$want" ]] || fail "/metrics, nonzero TLS series of a:"$'\n'"$output"
	# the other services, whose TLS no client reached, show none
	in_lb curl -sS -m 5 http://127.0.0.1:9121/metrics >"$BATS_TEST_TMPDIR/metrics"
	! grep -q 'xlb_tls_handshakes_total{service="b"' "$BATS_TEST_TMPDIR/metrics" ||
		fail "b has TLS series"
	if command -v promtool >/dev/null; then
		run promtool check metrics <"$BATS_TEST_TMPDIR/metrics"
		[[ $status -eq 0 && -z $output ]] || fail "promtool: $output"
	fi
	# xlbctl stats: service, handshakes, TLS 1.3, TLS 1.2, failures
	run xlbctl stats
	[[ $output =~ tls\ services:.*$'\n'a\ +5\ +3\ +2\ +2 ]] || fail "xlbctl stats: $output"
	run xlbctl --json stats
	[[ $(jq -c '.tls_services[] | select(.name == "a") |
		[.handshakes["1.3"].TLS_AES_128_GCM_SHA256, .failures.protocol_version]' <<<"$output") == "[3,1]" ]] ||
		fail "xlbctl --json stats: $output"
}

@test "per-service TLS counters: handshakes by version and cipher, failures by reason, in /metrics and xlbctl stats" {
	tls_counts_check
}

# hello_py: a client script, python3 hello.py LB N SECONDS: N clients
# send a ClientHello for a.https.test and nothing more; it prints how
# many of them xlbd closed within SECONDS.
hello_py() {
	cat >"$BATS_TEST_TMPDIR/hello.py" <<-'PY'
		import socket, ssl, sys, time
		lb, n, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
		ctx = ssl.create_default_context()
		def hello():
		    out = ssl.MemoryBIO()
		    obj = ctx.wrap_bio(ssl.MemoryBIO(), out, server_hostname="a.https.test")
		    try:
		        obj.do_handshake()
		    except ssl.SSLWantReadError:
		        pass
		    return out.read()
		def closed_by_server(s, end):
		    try:
		        while True:
		            left = end - time.monotonic()
		            if left <= 0:
		                return False
		            s.settimeout(left)
		            if not s.recv(65536):
		                return True
		    except socket.timeout:
		        return False
		    except OSError:
		        return True  # a reset
		socks = []
		for _ in range(n):
		    s = socket.create_connection((lb, 443), timeout=secs)
		    s.sendall(hello())
		    socks.append(s)
		print("sent", n, flush=True)
		end = time.monotonic() + secs
		print("closed", sum(closed_by_server(s, end) for s in socks))
	PY
	echo "$BATS_TEST_TMPDIR/hello.py"
}

# tls_worker_threads: xlbd's handshake workers, by their thread names.
tls_worker_threads() {
	cat /proc/"$XLBD_PID"/task/*/comm 2>/dev/null | grep -c '^xlbd-tls' || true
}

@test "the handshakes in the loop (--tls-workers 0) count the same" {
	tls_counts_check --tls-workers 0
	[[ $(tls_worker_threads) == 0 ]] || fail "handshake threads with --tls-workers 0"
}

@test "--tls-workers: a handshake past its deadline times out in its worker, counted as in the loop" {
	start_xlbd "$(write_config "$(https_config)")" --metrics 127.0.0.1:9121 \
		--tls-workers 2 --peek-timeout-ms 1000
	[[ $(tls_worker_threads) == 2 ]] || fail "want 2 handshake threads: $(tls_worker_threads)"
	log_has 'event=tls_workers workers=2' || fail "no tls_workers line"
	run in_client "$PYTHON" "$(hello_py)" "$LB4" 4 5
	[[ $output == *"closed 4" ]] || fail "held handshakes not closed at their deadline: $output"
	run in_lb curl -sS -m 5 http://127.0.0.1:9121/metrics
	[[ $output == *'xlb_tls_handshake_failures_total{service="a",reason="timeout"} 4'* ]] ||
		fail "no timeouts: $(grep xlb_tls_handshake_failures <<<"$output")"
	[[ $output == *'xlb_proxy_listener_connections_total{listener="10.200.0.1:443",proto="tls",outcome="timeout"} 4'* ]] ||
		fail "listener timeouts: $(grep listener_connections <<<"$output")"
	# served as before
	run https_get a.https.test /who
	[[ $status -eq 0 && $output == be1 ]] || fail "after the timeouts: $output"
}

@test "--tls-workers: a stop while workers hold handshakes closes them and exits clean" {
	start_xlbd "$(write_config "$(https_config)")" --metrics 127.0.0.1:9121 --tls-workers 2
	bg_start xlb-client "$BATS_TEST_TMPDIR/held.log" "$PYTHON" "$(hello_py)" "$LB4" 6 30
	held() {
		in_lb curl -sS -m 5 http://127.0.0.1:9121/metrics |
			grep -q 'xlb_proxy_listener_accepted_total{listener="10.200.0.1:443",proto="tls"} 6'
	}
	wait_until 10 held || fail "the 6 handshakes did not start: $(cat "$BATS_TEST_TMPDIR/held.log")"
	stop_xlbd TERM
	[[ $XLBD_STATUS == 0 ]] || fail "xlbd exited with $XLBD_STATUS while workers held handshakes"
	! log_has 'ERROR: (LeakSanitizer|AddressSanitizer)' || fail "sanitizer report in the log"
}
