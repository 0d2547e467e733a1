#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Bytes through the proxy: big bodies both ways arrive whole (sha256), and
# a FIN in one direction (half-close) neither loses nor truncates anything.

load helpers

SIZE=$((200 * 1024 * 1024))

setup_file() {
	lab_setup 1
	# a generated 200 MB file, served by be1 as /file
	export BLOB=$BATS_FILE_TMPDIR/blob
	head -c "$SIZE" /dev/urandom >"$BLOB"
	BLOB_SHA=$(sha256sum "$BLOB" | awk '{print $1}')
	export BLOB_SHA
	"$LAB" serve-http 1 8080 "$BLOB" >&2
}

teardown_file() {
	lab_teardown
	rm -f "$BLOB"
}

teardown() {
	xlb_test_teardown
}

data_config() {
	cat <<-EOF
		[http]
		listen = $LB4:80
		[service data]
		host = data.app.dev
		backend = 10.200.1.2:8080
	EOF
}

# The lab server's log, where it records every upload it received.
BACKEND_LOG=$LAB_STATE/logs/http-be1.log

# start_data_xlbd PATH: xlbd moving bytes by PATH (splice, sockmap, copy).
# splice alone is the default request mode (its engine splices bodies);
# sockmap and copy move an HTTP connection's bytes in connection mode only,
# and connection-splice is splice in connection mode.
start_data_xlbd() {
	case $1 in
	splice) start_xlbd "$(write_config "$(data_config)")" ;;
	connection-splice) start_xlbd "$(write_config "$(data_config)")" --http-mode connection --proxy-path splice ;;
	*) start_xlbd "$(write_config "$(data_config)")" --http-mode connection --proxy-path "$1" ;;
	esac
}

# assert_path_counted PATH: the stats say the connections took PATH.
assert_path_counted() {
	wait_counter "${1#connection-}_conns" 1
}

download_200mb() {
	start_data_xlbd "$1"
	run in_client bash -c "curl -sS -m 120 -H 'Host: data.app.dev' http://$LB4/file | sha256sum"
	[[ $status -eq 0 ]] || fail "curl: $output"
	[[ ${output%% *} == "$BLOB_SHA" ]] || fail "sha256 $output, expected $BLOB_SHA"
	assert_path_counted "$1"
}

upload_200mb() {
	start_data_xlbd "$1"
	run in_client curl -sS -m 120 -T "$BLOB" -H 'Host: data.app.dev' "http://$LB4/upload?tag=put-$1"
	[[ $status -eq 0 ]] || fail "curl: $output"
	[[ $output == "sha256=$BLOB_SHA bytes=$SIZE" ]] || fail "server got: $output, sent sha256=$BLOB_SHA bytes=$SIZE"
	assert_path_counted "$1"
}

# The client sends its request, then shutdown(SHUT_WR): the FIN reaches
# the backend while the answer is still to come.
halfclose_download() {
	start_data_xlbd "$1"
	run httpc halfclose-get "$LB4" 80 data.app.dev /file
	[[ $status -eq 0 ]] || fail "client: $output"
	[[ $output == "status=200 bytes=$SIZE sha256=$BLOB_SHA" ]] || fail "got: $output"
	# and a small answer, where the FIN reaches the backend before it answers
	run httpc halfclose-get "$LB4" 80 data.app.dev /who
	[[ $output == "status=200 bytes=4 "* ]] || fail "got: $output"
}

# PUT 64 MB, then close() at once without reading the answer: the backend
# must still get every byte (it logs the sha256 of what it read).
upload_then_close() {
	start_data_xlbd "$1"
	local tag=close-$1-$$ sent
	run httpc upload-close "$LB4" 80 data.app.dev $((64 * 1024 * 1024)) "$tag"
	[[ $status -eq 0 ]] || fail "client: $output"
	sent=$output
	wait_until 60 grep -qF "upload tag=$tag $sent" "$BACKEND_LOG" || {
		fail "backend did not report '$sent' for tag $tag; its uploads:"
		grep "upload tag=$tag" "$BACKEND_LOG" >&2
		return 1
	}
}

@test "a 200 MB download through the proxy arrives whole (sha256), and the kernel moved it" {
	download_200mb splice
	wait_counter spliced_bytes "$SIZE"
}

@test "a 200 MB upload through the proxy arrives whole (the server's sha256)" {
	upload_200mb splice
}

@test "half-close: a client that sends its request and shuts down writing still gets the whole response" {
	halfclose_download splice
}

@test "half-close: an upload followed by close arrives complete at the backend" {
	upload_then_close splice
}

# The same in connection mode: routed once, then the whole connection moved
# by each of the three byte-moving paths (--proxy-path).

@test "connection mode, splice path: a 200 MB download arrives whole" {
	download_200mb connection-splice
	wait_counter spliced_bytes "$SIZE"
}

@test "connection mode, splice path: half-close download gets the whole response" {
	halfclose_download connection-splice
}


@test "connection mode, sockmap path: a 200 MB download arrives whole" {
	download_200mb sockmap
}

@test "connection mode, sockmap path: a 200 MB upload arrives whole" {
	upload_200mb sockmap
}

@test "connection mode, sockmap path: half-close download gets the whole response" {
	halfclose_download sockmap
}

@test "connection mode, sockmap path: an upload followed by close arrives complete" {
	upload_then_close sockmap
}

@test "connection mode, copy path: a 200 MB download arrives whole" {
	download_200mb copy
}

@test "connection mode, copy path: a 200 MB upload arrives whole" {
	upload_200mb copy
}

@test "connection mode, copy path: half-close download gets the whole response" {
	halfclose_download copy
}

@test "connection mode, copy path: an upload followed by close arrives complete" {
	upload_then_close copy
}

no_close_wait_in_lb() { [[ -z $(in_lb ss -Htan state close-wait) ]]; }

@test "connection mode, sockmap path: connections the client closed are closed by xlbd too (none left in CLOSE-WAIT)" {
	start_data_xlbd sockmap
	local i
	for i in 1 2 3 4 5; do
		in_client curl -sf -m 5 -H 'Host: data.app.dev' "http://$LB4/who" -o /dev/null
	done
	assert_path_counted sockmap
	wait_until 10 no_close_wait_in_lb || fail "left in CLOSE-WAIT: $(in_lb ss -Htan state close-wait)"
}
