#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# backend_tls = yes: the proxy speaks TLS to the service's backends
# (nginx-proxy's VIRTUAL_PROTO=https), without checking their certificates.
# The backend here is a small HTTPS server (made below) with a self-signed
# certificate; each answer says which of its TLS connections carried the
# request and what that connection's handshake said (SNI, ALPN).

load helpers
load https_helpers

setup_file() {
	lab_setup 1
	serve http 1 1 # plain HTTP on be1's :8080, for the 502 case
	local dir=$BATS_FILE_TMPDIR/be
	mkdir -p "$dir"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
		-subj "/CN=self-signed.backend" -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
	make_ca "$BATS_FILE_TMPDIR/pki"
	issue "$BATS_FILE_TMPDIR/pki" both.btls.test both.btls.test 0xb7 crt
}

teardown_file() {
	lab_teardown
}

teardown() {
	xlb_test_teardown
}

btls_config() {
	cat <<-EOF
		[http]
		listen = $LB4:80
		[tls]
		listen = $LB4:443
		certs = $BATS_FILE_TMPDIR/pki/certs
		[service tlsbe]
		host = tlsbe.btls.test
		backend_tls = yes
		backend = 10.200.1.2:8443
		[service plainbe]
		host = plainbe.btls.test
		backend_tls = yes
		backend = 10.200.1.2:8080
		[service both]
		proto = https
		host = both.btls.test
		backend_tls = yes
		backend = 10.200.1.2:8443
	EOF
}

# start_tls_backend: the HTTPS server on be1's :8443. GET /who answers
# "tls-be conn=N sni=NAME alpn=P proto=X-Forwarded-Proto" (N counts its
# handshakes from 1), POST /sha the body's sha256, GET /count the number
# of handshakes so far, GET /big 4 MB (2 MiB of bytes 0..255 in hex);
# keep-alive, Content-Length or chunked bodies.
start_tls_backend() {
	local py=$BATS_TEST_TMPDIR/tlsbe.py dir=$BATS_FILE_TMPDIR/be
	cat >"$py" <<-'EOF'
		import hashlib, socket, ssl, sys, threading

		ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
		ctx.load_cert_chain(sys.argv[1], sys.argv[2])
		ctx.set_alpn_protocols(["http/1.1"])
		ctx.sni_callback = lambda s, name, c: setattr(s, "sni", name)
		lock = threading.Lock()
		handshakes = [0]

		def read_body(f, h):
		    if "content-length" in h:
		        return f.read(int(h["content-length"]))
		    body = b""
		    if h.get("transfer-encoding", "").lower() == "chunked":
		        while True:
		            size = int(f.readline().split(b";")[0], 16)
		            if size == 0:
		                while f.readline() not in (b"\r\n", b""):
		                    pass
		                return body
		            body += f.read(size)
		            f.readline()
		    return body

		def answer(conn, n, path, h, body):
		    if path == "/big":
		        return (bytes(range(256)) * 8192).hex()
		    if path == "/sha":
		        return hashlib.sha256(body).hexdigest()
		    if path == "/count":
		        return str(handshakes[0])
		    return "tls-be conn=%d sni=%s alpn=%s proto=%s" % (
		        n, getattr(conn, "sni", None), conn.selected_alpn_protocol(),
		        h.get("x-forwarded-proto"))

		def serve(raw):
		    try:
		        conn = ctx.wrap_socket(raw, server_side=True)
		    except (ssl.SSLError, OSError) as e:
		        print("handshake failed:", e, flush=True)
		        raw.close()
		        return
		    with lock:
		        handshakes[0] += 1
		        n = handshakes[0]
		    print("handshake", n, conn.version(), flush=True)
		    f = conn.makefile("rb")
		    with conn:
		        while True:
		            line = f.readline()
		            if not line:
		                return
		            path = line.split(b" ")[1].decode()
		            h = {}
		            while True:
		                l = f.readline()
		                if l in (b"\r\n", b"\n", b""):
		                    break
		                k, v = l.decode().split(":", 1)
		                h[k.strip().lower()] = v.strip()
		            out = (answer(conn, n, path, h, read_body(f, h)) + "\n").encode()
		            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(out) + out)

		s = socket.socket()
		s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		s.bind(("0.0.0.0", 8443))
		s.listen(64)
		while True:
		    c, _ = s.accept()
		    threading.Thread(target=serve, args=(c,), daemon=True).start()
	EOF
	bg_start xlb-be1 "$BATS_TEST_TMPDIR/tlsbe.log" "$PYTHON" "$py" "$dir/cert.pem" "$dir/key.pem"
	wait_until 10 in_ns xlb-be1 bash -c 'ss -ltn | grep -q ":8443 "' ||
		{ fail "TLS backend did not listen"; return 1; }
}

# btls_get HOST PATH [CURL ARGS...]: plain HTTP to the proxy for HOST.
btls_get() {
	local host=$1 path=$2
	shift 2
	in_client curl -sS -m 5 -H "Host: $host" "$@" "http://$LB4$path"
}

@test "backend_tls: a plain-HTTP request reaches the TLS backend (SNI, ALPN) and gets its answer" {
	start_tls_backend
	start_xlbd "$(write_config "$(btls_config)")"
	run btls_get tlsbe.btls.test /who
	[[ $status -eq 0 && $output == "tls-be conn=1 sni=tlsbe.btls.test alpn=http/1.1 proto=http" ]] ||
		fail "answer: $output"
	grep -q 'handshake 1 TLSv1.3' "$BATS_TEST_TMPDIR/tlsbe.log" || fail "backend log: $(cat "$BATS_TEST_TMPDIR/tlsbe.log")"
	run xlbctl services
	[[ $output == *"http+backend-tls"*"tlsbe.btls.test"* ]] || fail "xlbctl services: $output"
	run xlbctl --json services
	jq -e '.services[] | select(.name == "tlsbe") | .backend_tls == true' <<<"$output" >/dev/null ||
		fail "xlbctl --json services: $output"
}

@test "backend_tls: a 1 MB request body arrives whole (Content-Length and chunked), a 4 MB answer too" {
	start_tls_backend
	start_xlbd "$(write_config "$(btls_config)")"
	head -c 1000000 /dev/urandom >"$BATS_TEST_TMPDIR/up"
	local want
	want=$(sha256sum <"$BATS_TEST_TMPDIR/up" | cut -d' ' -f1)
	run btls_get tlsbe.btls.test /sha --data-binary "@$BATS_TEST_TMPDIR/up"
	[[ $status -eq 0 && $output == "$want" ]] || fail "upload: want $want, got $output"
	run btls_get tlsbe.btls.test /sha -H 'Transfer-Encoding: chunked' \
		--data-binary "@$BATS_TEST_TMPDIR/up"
	[[ $status -eq 0 && $output == "$want" ]] || fail "chunked upload: want $want, got $output"
	btls_get tlsbe.btls.test /big -o "$BATS_TEST_TMPDIR/down" || fail "download"
	want=$("$PYTHON" -c 'import hashlib; print(hashlib.sha256(((bytes(range(256)) * 8192).hex() + "\n").encode()).hexdigest())')
	[[ $(sha256sum <"$BATS_TEST_TMPDIR/down" | cut -d' ' -f1) == "$want" ]] || fail "download differs"
}

@test "backend_tls: requests on one client connection reuse one backend TLS connection" {
	start_tls_backend
	start_xlbd "$(write_config "$(btls_config)")"
	run btls_get tlsbe.btls.test /who -w '%{num_connects}\n' "http://$LB4/who" "http://$LB4/who"
	[[ ${output//$'\n'/ } == "tls-be conn=1 sni=tlsbe.btls.test alpn=http/1.1 proto=http 1 "*" 0 "*" 0" ]] ||
		fail "keep-alive: $output"
	[[ $(grep -c 'conn=1 ' <<<"$output") -eq 3 ]] || fail "not one backend connection: $output"
	run btls_get tlsbe.btls.test /count
	[[ $output == 1 ]] || fail "handshakes: $output"
}

@test "backend_tls: a backend that speaks plain HTTP gets no request: 502, logged, the client connection stays usable" {
	start_tls_backend
	start_xlbd "$(write_config "$(btls_config)")"
	# the 502 and then, in the same curl, a request for a working service
	# (on the same connection, or on a new one when the 502 closed it)
	run in_client curl -sS -m 5 -H 'Host: plainbe.btls.test' -w '%{http_code}\n' -o /dev/null \
		"http://$LB4/who" --next -sS -m 5 -H 'Host: tlsbe.btls.test' \
		-w '%{http_code} %{num_connects}\n' -o /dev/null "http://$LB4/who"
	[[ $status -eq 0 ]] || fail "curl: $output"
	[[ ${output//$'\n'/ } == "502 200 "[01] ]] || fail "codes: $output"
	wait_log 'event=proxy_backend_tls_failed client=10\.200\.0\.2:[0-9]+ host=plainbe\.btls\.test backend_id=[0-9]+ reason='
}

@test "backend_tls with proto = https: TLS on both legs" {
	start_tls_backend
	start_xlbd "$(write_config "$(btls_config)")"
	run https_get_ca "$BATS_FILE_TMPDIR/pki/ca.pem" both.btls.test /who
	[[ $status -eq 0 && $output == "tls-be conn=1 sni=both.btls.test alpn=http/1.1 proto=https" ]] ||
		fail "answer: $output"
	head -c 1000000 /dev/urandom >"$BATS_TEST_TMPDIR/up"
	local want
	want=$(sha256sum <"$BATS_TEST_TMPDIR/up" | cut -d' ' -f1)
	run https_get_ca "$BATS_FILE_TMPDIR/pki/ca.pem" both.btls.test /sha --data-binary "@$BATS_TEST_TMPDIR/up"
	[[ $status -eq 0 && $output == "$want" ]] || fail "upload: want $want, got $output"
}

@test "backend_tls: xlbctl service add --backend-tls, kept across a restart; refused for --proto tls and without --host" {
	start_tls_backend
	start_xlbd "$(write_config "$(btls_config)")"
	xlbctl service add rt --host rt.btls.test --backend-tls
	xlbctl backend add rt 10.200.1.2:8443
	run btls_get rt.btls.test /who
	[[ $status -eq 0 && $output == "tls-be conn=1 sni=rt.btls.test alpn=http/1.1 proto=http" ]] ||
		fail "runtime service: $output"
	# a restart restores the runtime service from the pins, backend_tls too
	stop_xlbd TERM
	start_xlbd "$(write_config "$(btls_config)")"
	run btls_get rt.btls.test /who
	[[ $status -eq 0 && $output == "tls-be conn=2 sni=rt.btls.test alpn=http/1.1 proto=http" ]] ||
		fail "runtime service after a restart: $output"
	run xlbctl service add rt2 --host rt2.btls.test --proto tls --backend-tls
	[[ $status -ne 0 && $output == *"--backend-tls needs --host names"* ]] || fail "proto tls: $output"
	run xlbctl service add rt3 --listen 10.200.0.100:81/tcp --backend-tls
	[[ $status -ne 0 && $output == *"--backend-tls needs --host names"* ]] || fail "L4: $output"
	run control service add rt4 proto=tls host=rt4.btls.test backend_tls=yes
	[[ $output == *"backend_tls needs host names routed by HTTP"* ]] || fail "control: $output"
}
