#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# --http-mode request: the error paths of the per-request engine
# (userspace/proxy/exchange.c): 431, 504, a malformed response head, the
# retry after a pooled connection died as it was reused, the pool's
# bounds and idle expiry, CONNECT, PROXY v2 per backend connection, a
# removed backend's pooled connections, an early response. Checked at the
# client and at tests/lab/badserver.py, which records every connection and
# request it saw in a state file.

load helpers

BADSERVER=$REPO/tests/lab/badserver.py

setup_file() {
	lab_setup 2
	write_client
}

teardown_file() {
	lab_teardown
}

setup() {
	BS_STATE=$BATS_TEST_TMPDIR/bad-be1.json
	start_bad xlb-be1 "$BS_STATE" --port 8080 --port 8081
}

teardown() {
	xlb_test_teardown
}

# start_bad NS STATE ARGS...: tests/lab/badserver.py in NS, until it listens
# on each of its ports.
start_bad() {
	local ns=$1 state=$2 port ports
	shift 2
	bg_start "$ns" "$state.log" "$PYTHON" "$BADSERVER" --state "$state" "$@"
	mapfile -t ports < <(grep -oE '[0-9]{4,5}' <<<"$*")
	for port in "${ports[@]}"; do
		wait_until 10 in_ns "$ns" bash -c "ss -Hltn 'sport = :$port' | grep -q ." ||
			{ fail "badserver in $ns did not listen on $port"; cat "$state.log" >&2; return 1; }
	done
}

# bq EXPR [STATE]: a python expression over badserver's state `s` (conns,
# requests), printed.
bq() {
	"$PYTHON" -c '
import json, sys
s = json.load(open(sys.argv[2]))
conns, reqs = s["conns"], s["requests"]
print(eval(sys.argv[1]))' "$1" "${2:-$BS_STATE}"
}

# bq_true EXPR [STATE]: succeeds when EXPR is true (for wait_until).
bq_true() {
	[[ $(bq "$@") == True ]]
}

# wait_bq EXPR [STATE]: polls until EXPR holds; fails showing the state.
wait_bq() {
	wait_until 10 bq_true "$@" || {
		fail "badserver state never had: $1"
		cat "${2:-$BS_STATE}" >&2
		echo >&2
		return 1
	}
}

config() {
	cat <<-CFG
		[http]
		listen = $LB4:80
		[service bad]
		host = bad.test
		backend = 10.200.1.2:8080
		[service gone]
		host = gone.test
		backend = 10.200.1.2:8081
		[service pp]
		host = pp.test
		proxy_protocol = v2
		backend = 10.200.2.2:8090
	CFG
}

start() {
	start_xlbd "$(write_config "$(config)")" --http-mode request "$@"
}

# The client, written once per file (python in the client netns).
write_client() {
	cat >"$BATS_FILE_TMPDIR/ec.py" <<'PY'
#!/usr/bin/env python3
"""Raw HTTP/1.1 client for proxy_errors.bats. Prints one line per answer:
"STATUS BODY" (the body's first line), "closed" (EOF) or "reset"."""
import socket
import sys
import threading

LB = "10.200.0.1"


def conn():
    s = socket.create_connection((LB, 80), timeout=20)
    return s, s.makefile("rb")


def req(host, path, method="GET", body=None, extra=()):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: " + host] + list(extra)
    if body is not None:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def read_resp(f):
    """(status, headers, body), or None at EOF before a status line."""
    line = f.readline()
    if not line:
        return None
    status = int(line.split()[1])
    hdrs = {}
    while True:
        h = f.readline()
        if h in (b"\r\n", b""):
            break
        k, v = h.decode().split(":", 1)
        hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs.get("content-length", "0"))
    return status, hdrs, f.read(n)


def show(r):
    if r is None:
        return "closed"
    body = r[2].decode(errors="replace").splitlines()
    return ("%d %s" % (r[0], body[0] if body else "")).strip()


def one(s, f, host, item):
    """item: "GET /path" or "POST /path" (a 5-byte body)."""
    method, path = item.split(" ", 1)
    try:
        s.sendall(req(host, path, method, b"hello" if method == "POST" else None))
        return show(read_resp(f))
    except ConnectionResetError:
        return "reset"


def main():
    mode, host, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if mode == "seq":  # seq ITEM...: on one keep-alive connection
        s, f = conn()
        print("local=%s:%d" % s.getsockname())
        for item in args:
            got = one(s, f, host, item)
            print(got)
            if got in ("closed", "reset"):
                break
        if got not in ("closed", "reset"):
            s.shutdown(socket.SHUT_WR)
            try:
                print("then", "closed" if f.read() == b"" else "bytes")
            except ConnectionResetError:
                print("then reset")
    elif mode == "many":  # many N PATH: N connections at once, one GET each
        n, path = int(args[0]), args[1]
        out = [None] * n

        def run(i):
            try:
                s, f = conn()
                out[i] = one(s, f, host, "GET " + path)
                s.close()
            except OSError as e:
                out[i] = "error %s" % e

        ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        print("\n".join(out))
    elif mode == "raw":  # raw TEXT (\r\n escaped): the status line, or closed
        s, f = conn()
        s.sendall(args[0].encode().decode("unicode_escape").encode("latin-1"))
        try:
            line = f.readline().decode().strip()
            print(line or "closed")
        except ConnectionResetError:
            print("reset")
    elif mode == "early":  # a POST promising 1 MB, 64 KiB sent, then read
        s, f = conn()
        s.sendall(req(host, "/early", "POST", extra=["Content-Length: 1000000"]) + b"x" * 65536)
        try:
            print(show(read_resp(f)))
            print("then", "closed" if f.read() == b"" else "bytes")
        except ConnectionResetError:
            print("reset")
    elif mode == "connect":  # CONNECT, then bytes both ways
        s, f = conn()
        s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (host.encode(), host.encode()))
        r = read_resp(f)
        print("status %s" % (r[0] if r else "closed"))
        for msg in (b"ping", b"z" * 300000):
            s.sendall(msg)
            got = f.read(len(msg))
            print("echo %s" % ("ok" if got == msg else "bad len=%d" % len(got)))
        s.shutdown(socket.SHUT_WR)
        print("eof %s" % (f.read() == b""))


if __name__ == "__main__":
    main()
PY
}

ec() {
	in_client "$PYTHON" "$BATS_FILE_TMPDIR/ec.py" "$@"
}

@test "431: a request head over --max-head, or with too many header fields; nothing reaches the backend" {
	start --max-head 1024
	local big fields
	big=$(printf 'x%.0s' {1..2000})
	run ec raw bad.test "GET /ok HTTP/1.1\\r\\nHost: bad.test\\r\\nX-Big: $big\\r\\n\\r\\n"
	[[ $output == "HTTP/1.1 431 Request Header Fields Too Large" ]] || fail "$output"
	# 130 fields (over 128), short enough to stay under --max-head
	fields=$(for i in {1..130}; do printf 'a:%d\\r\\n' $((i % 10)); done)
	run ec raw bad.test "GET /ok HTTP/1.1\\r\\nHost: bad.test\\r\\n${fields}\\r\\n"
	[[ $output == "HTTP/1.1 431 Request Header Fields Too Large" ]] || fail "$output"
	[[ $(grep -c 'code=431' "$XLBD_LOG") -eq 2 ]] || fail "$(grep code= "$XLBD_LOG")"
	# the listener still serves, and the backend saw only this request
	run ec seq bad.test "GET /ok"
	[[ ${lines[1]} == "200 conn=1 req=1 port=8080" ]] || fail "$output"
	[[ $(bq 'len(reqs)') == 1 ]]
}

@test "504: a backend that never answers within --response-timeout-ms; its connection is closed" {
	start --response-timeout-ms 300
	run ec seq bad.test "GET /hang"
	[[ ${lines[1]} == "504 no response in time" ]] || fail "$output"
	[[ ${lines[2]} == "then closed" ]] || fail "$output"
	wait_bq 'conns[0]["closed"] in ("peer", "reset")'
	[[ $(bq 'len(conns)') == 1 ]]
	wait_log 'event=proxy_timeout .*state=response'
}

@test "502: a malformed response head; that backend connection is closed, not pooled" {
	start
	run ec seq bad.test "GET /ok" "GET /malformed"
	[[ ${lines[1]} == "200 conn=1 req=1 port=8080" ]] || fail "$output"
	[[ ${lines[2]} == "502 Bad Gateway" ]] || fail "$output"
	[[ ${lines[3]} == "then closed" ]] || fail "$output"
	wait_log 'event=proxy_bad_response'
	# the proxy closed the connection the bad head came on...
	wait_bq 'conns[0]["closed"] in ("peer", "reset")'
	# ...so the next request opens a fresh one
	run ec seq bad.test "GET /ok"
	[[ ${lines[1]} == "200 conn=2 req=1 port=8080" ]] || fail "$output"
}

@test "502: a response head over --max-head; that backend connection is closed" {
	start --max-head 1024
	run ec seq bad.test "GET /bighead"
	[[ ${lines[1]} == "502 Bad Gateway" ]] || fail "$output"
	wait_log 'event=proxy_bad_response .*reason="response head too large"'
	wait_bq 'conns[0]["closed"] in ("peer", "reset")'
}

@test "502: a backend that closes in the middle of its response head" {
	start
	run ec seq bad.test "GET /partial"
	[[ ${lines[1]} == "502 Bad Gateway" ]] || fail "$output"
	[[ $(bq 'len(reqs)') == 1 ]] || fail "$(bq reqs)"
}

@test "a pooled connection that dies as it is reused: a GET is retried on a fresh one, a POST gets 502" {
	start
	# conn 1 answers /ok and goes to the pool; reused for /die-on-reuse,
	# it closes without answering: the GET goes again on conn 2
	run ec seq bad.test "GET /ok" "GET /die-on-reuse" "GET /ok"
	[[ ${lines[1]} == "200 conn=1 req=1 port=8080" ]] || fail "$output"
	[[ ${lines[2]} == "200 conn=2 req=1 port=8080" ]] || fail "$output"
	[[ ${lines[3]} == "200 conn=2 req=2 port=8080" ]] || fail "$output"
	[[ ${lines[4]} == "then closed" ]] || fail "$output"
	[[ $(bq 'conns[0]["closed"]') == self ]]
	log_has 'event=proxy_reuse_retry' || fail "no retry logged"
	[[ $(bq '[(r["conn"], r["n"]) for r in reqs if r["path"] == "/die-on-reuse"]') == "[(1, 2), (2, 1)]" ]] ||
		fail "$(bq reqs)"
	# a POST on a pooled connection that dies: not retried (not idempotent)
	run ec seq bad.test "GET /ok" "POST /die-on-reuse"
	[[ ${lines[1]} == "200 conn=2 req=3 port=8080" ]] || fail "$output"
	[[ ${lines[2]} == "502 Bad Gateway" ]] || fail "$output"
	[[ $(bq '[(r["conn"], r["n"]) for r in reqs if r["method"] == "POST"]') == "[(2, 4)]" ]] || fail "$(bq reqs)"
	[[ $(bq 'conns[1]["closed"]') == self ]] || fail "$(bq conns)"
	[[ $(bq 'len(conns)') == 2 ]] || fail "$(bq conns)"
}

@test "a backend that closes a keep-alive connection right after answering: the next request is served" {
	start
	run ec seq bad.test "GET /close-after" "GET /close-after" "GET /ok"
	[[ ${lines[1]} == "200 conn=1 req=1 port=8080" ]] || fail "$output"
	[[ ${lines[2]} == "200 conn=2 req=1 port=8080" ]] || fail "$output"
	[[ ${lines[3]} == "200 conn=3 req=1 port=8080" ]] || fail "$output"
	# each request was its connection's first: none went on a closed one
	[[ $(bq 'max(c["reqs"] for c in conns)') == 1 ]] || fail "$(bq conns)"
}

@test "the pool keeps at most 32 idle connections per backend, and closes them when idle" {
	start
	local i
	# 40 requests at once: 40 backend connections, answered together
	run ec many bad.test 40 "/barrier?g=1&n=40"
	[[ $(grep -cE '^200 conn=[0-9]+ req=1 ' <<<"$output") == 40 ]] || fail "$output"
	# 8 of them do not fit in the pool and are closed at once
	wait_bq 'sum(c["closed"] is not None for c in conns) >= 8'
	# 40 more at once: 32 reuse pooled connections, 8 are fresh
	run ec many bad.test 40 "/barrier?g=2&n=40"
	[[ $(grep -c '^200 ' <<<"$output") == 40 ]] || fail "$output"
	[[ $(grep -cE '^200 conn=[0-9]+ req=2 ' <<<"$output") == 32 ]] || fail "reused: $output"
	[[ $(bq 'len(conns)') == 48 ]] || fail "$(bq conns)"
	# no more requests: the pool's idle expiry closes them all, from the proxy
	wait_bq 'all(c["closed"] in ("peer", "reset") for c in conns)'
	[[ $(bq 'len(conns)') == 48 ]]
	# the next request opens a fresh connection
	run ec seq bad.test "GET /ok"
	[[ ${lines[1]} == "200 conn=49 req=1 port=8080" ]] || fail "$output"
}

@test "CONNECT: a 2xx turns the connection into a byte stream both ways" {
	start
	run ec connect bad.test:443
	[[ $output == $'status 200\necho ok\necho ok\neof True' ]] || fail "$output"
	[[ $(bq '[(r["conn"], r["method"]) for r in reqs]') == "[(1, 'CONNECT')]" ]] || fail "$(bq reqs)"
}

@test "PROXY v2 in request mode: every request on a connection of its own, whose header names its client" {
	local pps=$BATS_TEST_TMPDIR/bad-be2.json c1 c2
	start_bad xlb-be2 "$pps" --ppv2-port 8090
	start
	# a header names one client, so such a connection is never pooled:
	# each request gets a fresh one, with its own header
	run ec seq pp.test "GET /ok" "GET /ok" "GET /ok"
	c1=$(sed -n 's/^local=//p' <<<"$output")
	[[ ${lines[1]} == "200 conn=1 req=1 port=8090 pp=1 src=$c1" ]] || fail "$output"
	[[ ${lines[2]} == "200 conn=2 req=1 port=8090 pp=1 src=$c1" ]] || fail "$output"
	[[ ${lines[3]} == "200 conn=3 req=1 port=8090 pp=1 src=$c1" ]] || fail "$output"
	# another client's request never rides a connection that names c1
	run ec seq pp.test "GET /ok"
	c2=$(sed -n 's/^local=//p' <<<"$output")
	[[ $c2 != "$c1" ]]
	[[ ${lines[1]} == "200 conn=4 req=1 port=8090 pp=1 src=$c2" ]] || fail "$output"
	[[ $(bq '[c["pp"] for c in conns]' "$pps") == "[1, 1, 1, 1]" ]]
}

@test "xlbctl backend del closes that backend's pooled connections and resets its requests" {
	start
	run ec seq bad.test "GET /ok"
	[[ ${lines[1]} == "200 conn=1 req=1 port=8080" ]] || fail "$output"
	# a request in flight to gone.test's backend...
	bg_start xlb-client "$BATS_TEST_TMPDIR/inflight.out" "$PYTHON" "$BATS_FILE_TMPDIR/ec.py" seq gone.test "GET /hang"
	wait_bq 'any(r["path"] == "/hang" for r in reqs)'
	# ...and one of its connections pooled, after bad.test's: the pool's
	# idle expiry would close it last
	run ec seq gone.test "GET /ok"
	[[ ${lines[1]} == "200 conn=3 req=1 port=8081" ]] || fail "$output"
	[[ $(bq '[c["closed"] for c in conns]') == "[None, None, None]" ]] || fail "$(bq conns)"
	xlbctl backend del gone 10.200.1.2:8081
	wait_bq 'conns[1]["closed"] is not None and conns[2]["closed"] is not None'
	# bad.test's connection, older in the pool, is still open: not expiry
	[[ $(bq 'conns[0]["closed"]') == None ]] || fail "$(bq conns)"
	wait_until 10 grep -qE '^(closed|reset)$' "$BATS_TEST_TMPDIR/inflight.out" ||
		fail "in-flight client: $(cat "$BATS_TEST_TMPDIR/inflight.out")"
	run ec seq gone.test "GET /ok"
	[[ ${lines[1]} == "503"* || ${lines[1]} == "404"* ]] || fail "$output"
	[[ $(bq 'len(conns)') == 3 ]]
}

@test "a response before the request body is finished (an early 413): passed on, both connections closed" {
	start
	run ec early bad.test
	[[ ${lines[0]} == "413 too large" ]] || fail "$output"
	# then the end of the connection: a FIN, or a RST when body bytes were
	# still coming as the proxy closed
	[[ ${lines[1]} == "then closed" || ${lines[1]} == reset ]] || fail "$output"
	# the backend connection is closed, not pooled with a body half sent
	wait_bq 'conns[0]["closed"] in ("peer", "reset")'
	(($(bq 'conns[0]["body_bytes"]') < 1000000))
	run ec seq bad.test "GET /ok"
	[[ ${lines[1]} == "200 conn=2 req=1 port=8080" ]] || fail "$output"
}
