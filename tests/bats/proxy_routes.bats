#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Routes: a host and a path prefix, matched per request by the HTTP engine
# (userspace/proxy/exchange.c, routes in userspace/xlbd/state.c). Checked
# at the lab's backends (tests/lab/httpserver.py): which backend answered
# (X-Backend) and, for /echo, the request line it received.

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

# The client: every HOST/PATH argument is one request, all on ONE
# keep-alive connection; prints per request "PATH STATUS BACKEND LINE"
# (LINE: the request line /echo saw, else "-").
write_client() {
	cat >"$BATS_FILE_TMPDIR/routes.py" <<'PY'
import json
import socket
import sys

s = socket.create_connection(("10.200.0.1", 80), timeout=10)
f = s.makefile("rb")
for arg in sys.argv[1:]:
    host, _, path = arg.partition("/")
    s.sendall(("GET /%s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, host)).encode())
    status = int(f.readline().split()[1])
    hdrs = {}
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        k, _, v = line.decode().partition(":")
        hdrs[k.strip().lower()] = v.strip()
    body = f.read(int(hdrs.get("content-length", "0")))
    seen = "-"
    if hdrs.get("content-type") == "application/json":
        echo = json.loads(body)
        seen = echo["line"].split()[1]
        prefix = [v for k, v in echo["headers"] if k.lower() == "x-forwarded-prefix"]
        if prefix:
            seen += " prefix=" + prefix[0]
    print("/%s %d %s %s" % (path, status, hdrs.get("x-backend", "-"), seen))
PY
}

routes() {
	in_client "$PYTHON" "$BATS_FILE_TMPDIR/routes.py" "$@"
}

# app.test/ -> web (be3); app.test/api -> api (be1), prefix stripped;
# app.test/api/v2 -> v2 (be2), kept; api.test -> api as well.
config() {
	cat <<-CFG
		[http]
		listen = $LB4:80
		[service web]
		host = app.test
		backend = 10.200.3.2:8080
		[service api]
		host = api.test
		host = app.test/api
		strip_path = yes
		backend = 10.200.1.2:8080
		[service v2]
		host = app.test/api/v2
		backend = 10.200.2.2:8080
	CFG
}

start() {
	start_xlbd "$(write_config "$(config)")" --http-mode request "$@"
}

@test "one keep-alive connection alternating hosts and paths reaches the right service every time" {
	start
	run routes app.test/echo app.test/api/echo api.test/echo app.test/echo?x=1 \
		app.test/api/echo?y=2 app.test/echo
	[ "$status" -eq 0 ]
	local want
	want=$(
		cat <<-OUT
			/echo 200 be3 /echo
			/api/echo 200 be1 /echo prefix=/api
			/echo 200 be1 /echo
			/echo?x=1 200 be3 /echo?x=1
			/api/echo?y=2 200 be1 /echo?y=2 prefix=/api
			/echo 200 be3 /echo
		OUT
	)
	[[ $output == "$want" ]] || fail "$output"
}

@test "the longest prefix on segment boundaries wins; strip_path only where set" {
	start
	run routes app.test/apix app.test/api app.test/api/ app.test/api/v2/echo \
		app.test/api/v2x/echo app.test/api/v2
	[ "$status" -eq 0 ]
	# /apix is not under /api; /api/v2x is under /api, not /api/v2; v2
	# keeps its prefix, so its backend sees the whole path (its 404),
	# while /api and /api/ reach api's backend as / (which it answers)
	local want
	want=$(
		cat <<-OUT
			/apix 404 be3 -
			/api 200 be1 -
			/api/ 200 be1 -
			/api/v2/echo 404 be2 -
			/api/v2x/echo 404 be1 -
			/api/v2 404 be2 -
		OUT
	)
	[[ $output == "$want" ]] || fail "$output"
}

@test "xlbctl service add with a path routes that path, and xlbctl services shows it" {
	start
	xlbctl service add files --host app.test/files --strip-path
	xlbctl backend add files 10.200.2.2:8080
	run routes app.test/files/echo app.test/echo
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "/files/echo 200 be2 /echo prefix=/files" ]] || fail "$output"
	[[ ${lines[1]} == "/echo 200 be3 /echo" ]] || fail "$output"
	run xlbctl services
	[[ $output == *"app.test/files"* ]] || fail "$output"
}
