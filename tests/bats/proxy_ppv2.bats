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
		[service ppkeep]
		host = ppkeep.app.dev
		proxy_protocol = v2
		backend = 10.200.1.2:9091
	EOF
}

start_ppv2_backend() {
	bg_start xlb-be1 "$BATS_TEST_TMPDIR/ppv2.log" "$PYTHON" "$REPO/tests/lab/ppv2server.py" --port 9090
	wait_until 10 in_ns xlb-be1 bash -c 'ss -ltn | grep -q ":9090 "' || { fail "ppv2 server did not listen"; return 1; }
}

# ppv2_check PATH: a request through the proxy on PATH carries the header
# (sockmap moves HTTP connections in connection mode only; splice is the
# default request mode's).
ppv2_check() {
	local got mode=()
	[[ $1 == splice ]] || mode=(--http-mode connection)
	start_ppv2_backend
	start_xlbd "$(write_config "$(ppv2_config)")" --proxy-path "$1" "${mode[@]}"
	got=$(in_client curl -sS -m 5 -H 'Host: pp.app.dev' "http://$LB4/")
	[[ $got =~ ^src=10\.200\.0\.2:[0-9]+\ dst=10\.200\.0\.1:80$ ]] ||
		{ fail "PROXY v2 header on $1: backend saw '$got'"; return 1; }
	got=$(in_client curl -sS -m 5 -H 'Host: plain.app.dev' "http://$LB4/")
	[[ $got == no-proxy-header ]] || { fail "a service without proxy_protocol sent a header: '$got'"; return 1; }
}

@test "proxy_protocol = v2 gives the backend the client's address (splice path)" {
	ppv2_check splice
}

@test "proxy_protocol = v2 gives the backend the client's address (sockmap path, connection mode)" {
	ppv2_check sockmap
}

# A keep-alive backend on be1's :9091: the PROXY v2 header once per
# connection, then any number of requests, each answered with what that
# header said ("src=ADDR:PORT dst=ADDR:PORT").
start_ppv2_keepalive_backend() {
	local py=$BATS_TEST_TMPDIR/ppkeep.py
	cat >"$py" <<-'EOF'
		import socket, struct, threading

		def serve(conn):
		    with conn:
		        buf = b""
		        while len(buf) < 16:
		            b = conn.recv(4096)
		            if not b:
		                return
		            buf += b
		        n = 16 + struct.unpack(">H", buf[14:16])[0]
		        while len(buf) < n:
		            buf += conn.recv(4096)
		        h, buf = buf[16:n], buf[n:]
		        said = "src=%s:%d" % (socket.inet_ntoa(h[0:4]), struct.unpack(">H", h[8:10])[0])
		        while True:
		            while b"\r\n\r\n" not in buf:
		                b = conn.recv(4096)
		                if not b:
		                    return
		                buf += b
		            buf = buf[buf.index(b"\r\n\r\n") + 4:]
		            body = (said + "\n").encode()
		            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

		s = socket.socket()
		s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		s.bind(("0.0.0.0", 9091))
		s.listen(64)
		while True:
		    c, _ = s.accept()
		    threading.Thread(target=serve, args=(c,), daemon=True).start()
	EOF
	bg_start xlb-be1 "$BATS_TEST_TMPDIR/ppkeep.log" "$PYTHON" "$py"
	wait_until 10 in_ns xlb-be1 bash -c 'ss -ltn | grep -q ":9091 "' || { fail "keep-alive ppv2 server did not listen"; return 1; }
}

# Request mode pools keep-alive backend connections; one that began with a
# PROXY v2 header names the client it was opened for, so it must never
# carry another client's request.
@test "proxy_protocol = v2 with a keep-alive backend: each client connection's requests carry its own address" {
	start_ppv2_keepalive_backend
	start_xlbd "$(write_config "$(ppv2_config)")"
	local i got re=$'^src=([0-9.:]+)\nclient=([0-9.:]+)$'
	for i in 1 2 3 4; do
		got=$(in_client curl -sS -m 5 -H 'Host: ppkeep.app.dev' -w 'client=%{local_ip}:%{local_port}\n' "http://$LB4/")
		echo "$got" >&2
		[[ $got =~ $re ]] || { fail "request $i: '$got'"; return 1; }
		[[ ${BASH_REMATCH[1]} == "${BASH_REMATCH[2]}" ]] ||
			{ fail "request $i from ${BASH_REMATCH[2]} reached the backend as ${BASH_REMATCH[1]}"; return 1; }
	done
}
