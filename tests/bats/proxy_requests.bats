#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# --http-mode request (the default): the HTTP listeners route each request on its own
# (userspace/proxy/exchange.c). Checked at the lab's backends
# (tests/lab/httpserver.py: /who, /echo, /upload, /bytes, /stats, /ws)
# with a raw HTTP/1.1 client (keep-alive, pipelining, Expect, Upgrade).

load helpers

setup_file() {
	lab_setup 3
	serve http 1 3
	write_client
}

teardown_file() {
	lab_teardown
}

teardown() {
	xlb_test_teardown
}

# The client, written once per file (python in the client netns).
write_client() {
	cat >"$BATS_FILE_TMPDIR/rq.py" <<'PY'
#!/usr/bin/env python3
"""Raw HTTP/1.1 client for proxy_requests.bats: keep-alive, pipelining,
uploads and downloads checked by sha256, HEAD/304, Expect, Upgrade."""
import hashlib
import json
import socket
import sys
import time

LB = "10.200.0.1"
PATTERN = bytes(range(256)) * 4096


def conn():
    s = socket.create_connection((LB, 80), timeout=10)
    return s, s.makefile("rb")


def req(host, path="/who", method="GET", extra=(), body=None):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: " + host] + list(extra)
    if body is not None and not any(e.lower().startswith(("content-length", "transfer-encoding")) for e in extra):
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def read_resp(f, method="GET"):
    line = f.readline()
    if not line:
        raise EOFError("closed")
    status = int(line.split()[1])
    hdrs = {}
    while True:
        h = f.readline()
        if h in (b"\r\n", b""):
            break
        k, v = h.decode().split(":", 1)
        hdrs[k.strip().lower()] = v.strip()
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return status, hdrs, b""
    if hdrs.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            n = int(f.readline().split(b";")[0], 16)
            if n == 0:
                while f.readline() not in (b"\r\n", b""):
                    pass
                return status, hdrs, body
            body += f.read(n)
            f.readline()
    if "content-length" in hdrs:
        return status, hdrs, f.read(int(hdrs["content-length"]))
    return status, hdrs, f.read()


def main():
    mode, host, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if mode == "alt":  # alt HOST1 HOST2 N: one connection, hosts alternating
        s, f = conn()
        for i in range(int(args[1])):
            s.sendall(req(host if i % 2 == 0 else args[0]))
            st, h, b = read_resp(f)
            print("%s %s" % (host if i % 2 == 0 else args[0], b.decode().strip() if st == 200 else st))
    elif mode == "pipe":  # pipe N: N requests written at once
        s, f = conn()
        n = int(args[0])
        s.sendall(b"".join(req(host, "/echo?i=%d" % i) for i in range(n)))
        for i in range(n):
            st, h, b = read_resp(f)
            print(json.loads(b)["line"])
    elif mode == "echo":  # echo [HEADER]...: the backend's view, and ours
        s, f = conn()
        s.sendall(req(host, "/echo", extra=args))
        st, h, b = read_resp(f)
        d = json.loads(b)
        print("local=%s" % s.getsockname()[0])
        for k, v in d["headers"]:
            print("%s: %s" % (k, v))
    elif mode == "upload":  # upload BYTES chunked|length
        n, how = int(args[0]), args[1]
        data = (PATTERN * (n // len(PATTERN) + 1))[:n]
        s, f = conn()
        if how == "chunked":
            s.sendall(req(host, "/upload", "PUT", ["Transfer-Encoding: chunked"]))
            for i in range(0, n, 100000):
                part = data[i:i + 100000]
                s.sendall(b"%x;ext=1\r\n" % len(part) + part + b"\r\n")
            s.sendall(b"0\r\nX-Trailer: 1\r\n\r\n")
        else:
            s.sendall(req(host, "/upload", "PUT", body=data))
        st, h, b = read_resp(f)
        got = b.decode().strip()
        want = "sha256=%s bytes=%d" % (hashlib.sha256(data).hexdigest(), n)
        print("ok" if got == want else "bad got=%s want=%s" % (got, want))
        s.sendall(req(host))  # the connection goes on
        print(read_resp(f)[2].decode().strip())
    elif mode == "download":  # download BYTES 0|1(chunked)
        n = int(args[0])
        s, f = conn()
        s.sendall(req(host, "/bytes?n=%d&chunked=%s" % (n, args[1])))
        st, h, b = read_resp(f)
        want = (PATTERN * (n // len(PATTERN) + 1))[:n]
        print("ok" if b == want else "bad len=%d" % len(b))
        s.sendall(req(host))
        print(read_resp(f)[2].decode().strip())
    elif mode == "head":  # HEAD, 304, then a GET on the same connection
        s, f = conn()
        s.sendall(req(host, "/bytes?n=100000", "HEAD"))
        st, h, b = read_resp(f, "HEAD")
        print("head %d length=%s body=%d" % (st, h.get("content-length"), len(b)))
        s.sendall(req(host, "/notmod"))
        st, h, b = read_resp(f)
        print("notmod %d" % st)
        s.sendall(req(host))
        print(read_resp(f)[2].decode().strip())
    elif mode == "expect":  # Expect: 100-continue: the body after the 100
        data = b"y" * 200000
        s, f = conn()
        s.sendall(req(host, "/upload", "PUT", ["Expect: 100-continue", "Content-Length: %d" % len(data)]))
        st, h, b = read_resp(f)
        print("interim %d" % st)
        s.sendall(data)
        st, h, b = read_resp(f)
        ok = b.decode().strip() == "sha256=%s bytes=%d" % (hashlib.sha256(data).hexdigest(), len(data))
        print("final %d %s" % (st, "ok" if ok else "bad"))
    elif mode == "raw":  # raw TEXT (\r\n escaped as \\r\\n): the status line
        s, f = conn()
        s.sendall(args[0].encode().decode("unicode_escape").encode("latin-1"))
        print(f.readline().decode().strip())
    elif mode == "status":  # status PATH: one GET's status
        s, f = conn()
        s.sendall(req(host, args[0]))
        print(read_resp(f)[0])
    elif mode == "reset":  # a response cut by RST: closed, not hung
        s, f = conn()
        s.sendall(req(host, "/reset"))
        t0 = time.time()
        try:
            st, h, b = read_resp(f)
            print("closed got=%d after=%.1f" % (len(b), time.time() - t0))
        except socket.timeout:
            print("hung")
        except (OSError, EOFError) as e:
            print("closed err=%s after=%.1f" % (type(e).__name__, time.time() - t0))
    elif mode == "close":  # close N: N requests, each on its own connection
        ok = 0
        for _ in range(int(args[0])):
            s, f = conn()
            s.sendall(req(host, extra=["Connection: close"]))
            if read_resp(f)[0] == 200:
                ok += 1
            s.close()
        print("ok=%d" % ok)
    elif mode == "ws":  # an Upgrade, then bytes both ways
        s, f = conn()
        s.sendall(req(host, "/ws", extra=["Upgrade: websocket", "Connection: Upgrade"]))
        st, h, b = read_resp(f)
        print("status %d upgrade=%s" % (st, h.get("upgrade")))
        for msg in (b"hello", b"world" * 20000):
            s.sendall(msg)
            got = f.read(len(msg))
            print("echo %s" % ("ok" if got == msg else "bad"))
        s.shutdown(socket.SHUT_WR)
        print("eof %s" % (f.read() == b""))


if __name__ == "__main__":
    main()
PY
}

rq() {
	in_client "$PYTHON" "$BATS_FILE_TMPDIR/rq.py" "$@"
}

# api.test on be1 and be2, web.test on be3 alone.
config() {
	cat <<-CFG
		[http]
		listen = $LB4:80
		[service api]
		host = api.test
		backend = 10.200.1.2:8080
		backend = 10.200.2.2:8080
		[service web]
		host = web.test
		backend = 10.200.3.2:8080
	CFG
}

start() {
	start_xlbd "$(write_config "$(config)")" --http-mode request "$@"
}

@test "one keep-alive connection alternating two hosts reaches the right service every time" {
	start
	run rq alt api.test web.test 20
	[ "$status" -eq 0 ]
	[[ $(grep -c '^web.test be3$' <<<"$output") -eq 10 ]] || fail "$output"
	[[ $(grep -cE '^api.test be[12]$' <<<"$output") -eq 10 ]] || fail "$output"
	# both api backends served requests of the one connection
	grep -q '^api.test be1$' <<<"$output" && grep -q '^api.test be2$' <<<"$output"
}

@test "pipelined requests are answered in order" {
	start
	run rq pipe web.test 10
	[ "$status" -eq 0 ]
	local want i
	want=$(for ((i = 0; i < 10; i++)); do echo "GET /echo?i=$i HTTP/1.1"; done)
	[[ $output == "$want" ]] || fail "$output"
}

@test "forwarding headers: the client's address, proto, host, port; forged ones replaced" {
	start
	run rq echo web.test "X-Forwarded-For: 6.6.6.6" "X-Real-IP: 6.6.6.6" "Forwarded: for=6.6.6.6" \
		"Connection: keep-alive, X-Drop" "X-Drop: 1"
	[ "$status" -eq 0 ]
	local me
	me=$(sed -n 's/^local=//p' <<<"$output")
	[[ -n $me ]]
	grep -qx "X-Forwarded-For: $me" <<<"$output" || fail "$output"
	grep -qx "X-Real-IP: $me" <<<"$output" || fail "$output"
	grep -qx "X-Forwarded-Proto: http" <<<"$output" || fail "$output"
	grep -qx "X-Forwarded-Host: web.test" <<<"$output" || fail "$output"
	grep -qx "X-Forwarded-Port: 80" <<<"$output" || fail "$output"
	grep -qx "Connection: keep-alive" <<<"$output" || fail "$output"
	! grep -q "6.6.6.6" <<<"$output" || fail "$output"
	! grep -qi "^X-Drop:" <<<"$output" || fail "$output"
	[[ $(grep -ci '^X-Forwarded-For:' <<<"$output") -eq 1 ]]
}

@test "Content-Length and chunked uploads arrive intact, the connection goes on" {
	start
	run rq upload web.test 3000000 length
	[ "$status" -eq 0 ]
	[[ $output == $'ok\nbe3' ]] || fail "$output"
	run rq upload web.test 3000000 chunked
	[ "$status" -eq 0 ]
	[[ $output == $'ok\nbe3' ]] || fail "$output"
}

@test "large downloads, Content-Length and chunked, arrive intact" {
	start
	run rq download web.test 50000000 0
	[ "$status" -eq 0 ]
	[[ $output == $'ok\nbe3' ]] || fail "$output"
	run rq download web.test 20000000 1
	[ "$status" -eq 0 ]
	[[ $output == $'ok\nbe3' ]] || fail "$output"
}

@test "HEAD and 304 come without bodies and the connection goes on" {
	start
	run rq head web.test
	[ "$status" -eq 0 ]
	[[ $output == $'head 200 length=100000 body=0\nnotmod 304\nbe3' ]] || fail "$output"
}

@test "Expect: 100-continue: the interim 100 is passed on, then the body" {
	start
	run rq expect web.test
	[ "$status" -eq 0 ]
	[[ $output == $'interim 100\nfinal 200 ok' ]] || fail "$output"
}

@test "no service 404, no serving backend 503, a smuggling shape 400 (logged)" {
	start
	run rq status nosuch.test /who
	[[ $output == 404 ]] || fail "$output"
	run rq raw web.test 'POST /upload HTTP/1.1\r\nHost: web.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
	[[ $output == "HTTP/1.1 400 Bad Request" ]] || fail "$output"
	wait_log 'code=400 reason="Content-Length with Transfer-Encoding"'
	xlbctl backend drain web 10.200.3.2:8080
	run rq status web.test /who
	[[ $output == 503 ]] || fail "$output"
}

@test "a backend that resets mid-response: the client is closed, not hung; the next request is served" {
	start
	run rq reset web.test
	[ "$status" -eq 0 ]
	[[ $output == closed* ]] || fail "$output"
	run rq status web.test /who
	[[ $output == 200 ]] || fail "$output"
}

@test "1000 requests with Connection: close reuse pooled backend connections" {
	start
	local before after
	before=$(rq status web.test /stats >/dev/null; in_client curl -sS -m 5 -H "Host: web.test" "http://$LB4/stats")
	run rq close web.test 1000
	[ "$status" -eq 0 ]
	[[ $output == ok=1000 ]] || fail "$output"
	after=$(in_client curl -sS -m 5 -H "Host: web.test" "http://$LB4/stats")
	before=${before#conns=} after=${after#conns=}
	echo "backend connections: $before -> $after" >&2
	(((after - before) < 100)) || fail "1000 requests opened $((after - before)) backend connections"
}

@test "an Upgrade (websocket-style): 101, then bytes both ways until both close" {
	start
	run rq ws web.test
	[ "$status" -eq 0 ]
	[[ $output == $'status 101 upgrade=websocket\necho ok\necho ok\neof True' ]] || fail "$output"
}

@test "--http-mode connection: one route per connection, by its first request" {
	start_xlbd "$(write_config "$(config)")" --http-mode connection
	run rq alt web.test api.test 2
	[ "$status" -eq 0 ]
	[[ $output == $'web.test be3\napi.test be3' ]] || fail "$output"
}

# xlbd_read_bytes LOG: what xlbd's read-like syscalls returned, summed from
# an strace log (peeks included: they copy bytes into userspace too).
xlbd_read_bytes() {
	awk '/^[0-9]+ +(read|readv|recvfrom|recvmsg)\(/ && / = [0-9]+$/ { n += $NF } END { print n + 0 }' "$1"
}

@test "bodies move through the kernel: 100 MB down and 100 MB chunked up, xlbd reads a tiny fraction" {
	command -v strace >/dev/null || skip "strace is not installed (scripts/deps.sh installs it)"
	start
	local log=$BATS_TEST_TMPDIR/strace.log spid bytes
	strace -f -qq -s 0 -e trace=read,readv,recvfrom,recvmsg -o "$log" -p "$XLBD_PID" &
	spid=$!
	wait_until 10 grep -qE '^TracerPid:[[:space:]]+[1-9]' "/proc/$XLBD_PID/status" ||
		fail "strace did not attach"
	run rq download web.test 100000000 0
	[[ $output == $'ok\nbe3' ]] || { kill "$spid"; fail "download: $output"; }
	run rq upload web.test 100000000 chunked
	[[ $output == $'ok\nbe3' ]] || { kill "$spid"; fail "upload: $output"; }
	kill -INT "$spid"
	wait "$spid" || true
	bytes=$(xlbd_read_bytes "$log")
	echo "# xlbd's read-like syscalls returned $bytes bytes for 200 MB of bodies" >&3
	# heads, and the chunked upload's 1000 size lines (64 bytes peeked each)
	((bytes < 1000000)) || fail "xlbd read $bytes bytes: bodies went through userspace"
	((bytes > 0)) || fail "strace saw no read at all: $(head -5 "$log")"
}

# [http] trusted_proxies TRUSTED (may be empty); api.test with
# forward_headers = no, its first backend refusing (port 9: a connect
# retry), web.test with the forwarding headers.
forwarding_config() {
	cat <<-CFG
		[http]
		listen = $LB4:80
		${1:+trusted_proxies = $1}
		[service api]
		host = api.test
		forward_headers = no
		backend = 10.200.2.2:9
		backend = 10.200.1.2:8080
		[service web]
		host = web.test
		backend = 10.200.3.2:8080
	CFG
}

@test "trusted_proxies: a trusted client's X-Forwarded-For gets its address appended, its Proto/Host/Port are kept" {
	start_xlbd "$(write_config "$(forwarding_config "192.0.2.0/24, 10.200.0.0/30")")"
	run rq echo web.test "X-Forwarded-For: 1.2.3.4" "X-Forwarded-Proto: https" \
		"X-Forwarded-Host: shop.example" "X-Forwarded-Port: 443" "X-Real-IP: 6.6.6.6" \
		"Forwarded: for=6.6.6.6" "X-Forwarded-Prefix: /six"
	[ "$status" -eq 0 ]
	local me
	me=$(sed -n 's/^local=//p' <<<"$output")
	[[ $me == 10.200.0.2 ]] || fail "the lab client is $me, not in 10.200.0.0/30"
	grep -qx "X-Forwarded-For: 1.2.3.4, $me" <<<"$output" || fail "$output"
	grep -qx "X-Forwarded-Proto: https" <<<"$output" || fail "$output"
	grep -qx "X-Forwarded-Host: shop.example" <<<"$output" || fail "$output"
	grep -qx "X-Forwarded-Port: 443" <<<"$output" || fail "$output"
	# X-Real-IP: the right-most address of X-Forwarded-For that is not a trusted proxy
	grep -qx "X-Real-IP: 1.2.3.4" <<<"$output" || fail "$output"
	! grep -q "6.6.6.6\|/six" <<<"$output" || fail "$output"
	for h in For Proto Host Port; do
		[[ $(grep -ci "^X-Forwarded-$h:" <<<"$output") -eq 1 ]] || fail "X-Forwarded-$h: $output"
	done
	# a trusted proxy's own hop in the list is skipped for X-Real-IP; two fields join
	run rq echo web.test "X-Forwarded-For: 7.7.7.7, 1.2.3.4" "X-Forwarded-For: 192.0.2.9"
	grep -qx "X-Forwarded-For: 7.7.7.7, 1.2.3.4, 192.0.2.9, $me" <<<"$output" || fail "$output"
	grep -qx "X-Real-IP: 1.2.3.4" <<<"$output" || fail "$output"
	# nothing sent: the proxy's own, as for an untrusted client
	run rq echo web.test
	grep -qx "X-Forwarded-For: $me" <<<"$output" || fail "$output"
	grep -qx "X-Real-IP: $me" <<<"$output" || fail "$output"
	grep -qx "X-Forwarded-Proto: http" <<<"$output" || fail "$output"
	grep -qx "X-Forwarded-Port: 80" <<<"$output" || fail "$output"
	# a reload (SIGHUP) that no longer covers the client: forged headers replaced
	write_config "$(forwarding_config "192.0.2.0/24")" >/dev/null
	kill -HUP "$XLBD_PID"
	wait_log 'event=reload config='
	run rq echo web.test "X-Forwarded-For: 1.2.3.4" "X-Forwarded-Proto: https"
	grep -qx "X-Forwarded-For: $me" <<<"$output" || fail "$output"
	grep -qx "X-Forwarded-Proto: http" <<<"$output" || fail "$output"
}

@test "forward_headers = no: the service gets the client's headers as sent, another on the listener gets its own" {
	start_xlbd "$(write_config "$(forwarding_config "")")"
	local i me
	# twice: round robin sends one of them to the refusing backend first, and
	# the retry goes to the same service's other backend with the same head
	for i in 1 2; do
		run rq echo api.test "X-Forwarded-For: 1.2.3.4" "Connection: keep-alive, X-Drop" "X-Drop: 1"
		[ "$status" -eq 0 ] || fail "$output"
		grep -qx "X-Forwarded-For: 1.2.3.4" <<<"$output" || fail "$output"
		[[ $(grep -ci '^X-Forwarded-For:' <<<"$output") -eq 1 ]] || fail "$output"
		! grep -qi "^X-Real-IP:\|^X-Forwarded-Proto:\|^X-Forwarded-Host:\|^X-Forwarded-Port:" \
			<<<"$output" || fail "$output"
		! grep -qi "^X-Drop:" <<<"$output" || fail "$output" # hop-by-hop: still removed
	done
	wait_log 'event=proxy_connect_failed .*host=api.test.*retry=yes'
	run rq echo web.test "X-Forwarded-For: 1.2.3.4"
	me=$(sed -n 's/^local=//p' <<<"$output")
	grep -qx "X-Forwarded-For: $me" <<<"$output" || fail "$output"
	grep -qx "X-Real-IP: $me" <<<"$output" || fail "$output"
	grep -qx "X-Forwarded-Host: web.test" <<<"$output" || fail "$output"
}
