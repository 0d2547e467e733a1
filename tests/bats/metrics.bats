#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# xlbd --metrics: the Prometheus endpoint, scraped with curl from the lb
# netns after real traffic through an L4 VIP (XDP) and the Host proxy.
# Every scrape reads the maps (and the proxy's counters) as they are at
# that moment, so nothing here waits for a flush.
# shellcheck disable=SC2154 # stderr, stderr_lines: set by run --separate-stderr

load helpers

bats_require_minimum_version 1.5.0

METRICS=127.0.0.1:9120
N=20

setup_file() {
	lab_setup 2
	serve api 1 2
	serve http 1 2
}

teardown_file() {
	lab_teardown
}

teardown() {
	xlb_test_teardown
}

# An L4 service on the VIP and a Host-routed one on the lb's port 80, on
# the same two backends.
metrics_config() {
	cat <<-EOF
		[service api]
		listen = $VIP4:80/tcp
		backend = 10.200.1.2:8000
		backend = 10.200.2.2:8000
		[http]
		listen = $LB4:80
		[service web]
		host = web.test
		backend = 10.200.1.2:8080
		backend = 10.200.2.2:8080
	EOF
}

start_with_metrics() {
	start_xlbd "$(write_config "$(metrics_config)")" --metrics "$METRICS"
}

# scrape: GET /metrics from the lb netns into $BATS_TEST_TMPDIR/metrics.
scrape() {
	in_lb curl -sS -f -m 5 "http://$METRICS/metrics" >"$BATS_TEST_TMPDIR/metrics"
}

# metric SERIES: the value of SERIES (name{labels}, as printed) in the
# last scrape; fails when the scrape has no such series.
metric() {
	awk -v s="$1" '$1 == s { print $2; found = 1 } END { exit !found }' \
		"$BATS_TEST_TMPDIR/metrics"
}

# assert_metric SERIES OP N: the series exists and its value OP N (-eq, -ge, ...).
assert_metric() {
	local v
	v=$(metric "$1") || { fail "no series $1 in the scrape"; return 1; }
	test "$v" "$2" "$3" || { fail "$1 is $v, expected $2 $3"; return 1; }
}

# sum_metric PREFIX: the sum of all series starting with PREFIX.
sum_metric() {
	awk -v p="$1" 'index($1, p) == 1 { sum += $2 } END { print sum + 0 }' \
		"$BATS_TEST_TMPDIR/metrics"
}

# http_code [CURL ARGS...] URL: the status code of one request from the lb netns.
http_code() {
	in_lb curl -sS -m 5 -o /dev/null -w '%{http_code}' "$@"
}

@test "L4: $N connections to the VIP count $N new flows, and every backend has its series" {
	local be
	start_with_metrics
	curl_hostnames "$N" "http://$VIP4/" >"$BATS_TEST_TMPDIR/answers"
	assert_only_from "$BATS_TEST_TMPDIR/answers" be1 be2
	[[ $(wc -l <"$BATS_TEST_TMPDIR/answers") -eq $N ]]
	scrape
	# one new flow per connection; each sends at least SYN, request and FIN
	assert_metric 'xlb_service_new_flows_total{service="api"}' -eq "$N"
	assert_metric 'xlb_service_packets_total{service="api"}' -ge $((3 * N))
	assert_metric 'xlb_service_bytes_total{service="api"}' -gt 0
	for be in 10.200.1.2:8000 10.200.2.2:8000; do
		assert_metric "xlb_backend_new_flows_total{service=\"api\",backend=\"$be\"}" -ge 1
		assert_metric "xlb_backend_packets_total{service=\"api\",backend=\"$be\"}" -ge 3
		assert_metric "xlb_backend_up{service=\"api\",backend=\"$be\"}" -eq 1
		assert_metric "xlb_backend_state{service=\"api\",backend=\"$be\",state=\"active\"}" -eq 1
		assert_metric "xlb_backend_weight{service=\"api\",backend=\"$be\"}" -eq 1
	done
	# the backends' shares add up to the service's
	[[ $(sum_metric 'xlb_backend_new_flows_total{service="api",') -eq $N ]] ||
		fail "backends' new flows add up to $(sum_metric 'xlb_backend_new_flows_total{service="api",')"
	# flows stay in the table after the connection closes (LRU eviction only)
	[[ $(sum_metric 'xlb_backend_active_flows{service="api",') -eq $N ]] ||
		fail "active flows: $(sum_metric 'xlb_backend_active_flows{service="api",'), want $N"
	assert_metric xlb_flow_table_entries -eq "$N"
	# forwarded by redirect or through the kernel stack, depending on the neighbour
	(($(sum_metric 'xlb_packets_total{reason="fwd_') >= 3 * N)) ||
		fail "forwarded packets: $(sum_metric 'xlb_packets_total{reason="fwd_')"
}

# flows_counted N: a scrape counts N entries in the flow table.
flows_counted() {
	scrape && [[ $(metric xlb_flow_table_entries) == "$1" ]]
}

@test "scrapes in a loop walk the flow table at most once a second, and a new flow is counted within it" {
	local t0 t1 w0 w1 i
	start_with_metrics
	scrape
	w0=$(metric xlb_flow_table_walks_total)
	t0=$(date +%s.%N)
	for i in $(seq 40); do scrape; done
	t1=$(date +%s.%N)
	w1=$(metric xlb_flow_table_walks_total)
	# one walk a second at most: the whole span, rounded up, and the first
	(((w1 - w0) <= $(awk -v a="$t0" -v b="$t1" 'BEGIN { s = b - a; print int(s) + (s > int(s)) + 1 }'))) ||
		fail "$((w1 - w0)) walks for 40 scrapes in $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s"
	# the counts still follow the table: one more connection, one more flow
	local e0
	e0=$(metric xlb_flow_table_entries)
	curl_hostnames 1 "http://$VIP4/" >/dev/null
	wait_until 5 flows_counted $((e0 + 1)) || fail "flow table entries: $(metric xlb_flow_table_entries), $e0 before"
}

@test "L4: a drained backend shows state draining and stays up" {
	start_with_metrics
	xlbctl backend drain api 10.200.2.2:8000
	scrape
	assert_metric 'xlb_backend_state{service="api",backend="10.200.2.2:8000",state="draining"}' -eq 1
	assert_metric 'xlb_backend_state{service="api",backend="10.200.2.2:8000",state="active"}' -eq 0
	assert_metric 'xlb_backend_up{service="api",backend="10.200.2.2:8000"}' -eq 1
	assert_metric 'xlb_service_backends{service="api"}' -eq 1
}

@test "Host: $N requests count $N routed connections; an unknown Host counts as no_route" {
	start_with_metrics
	host_answers "$N" web.test >"$BATS_TEST_TMPDIR/answers"
	assert_only_from "$BATS_TEST_TMPDIR/answers" be1 be2
	[[ $(wc -l <"$BATS_TEST_TMPDIR/answers") -eq $N ]]
	assert_answer nope.test status=404
	scrape
	assert_metric 'xlb_proxy_connections_total{service="web",outcome="routed"}' -eq "$N"
	assert_metric 'xlb_proxy_connections_total{service="web",outcome="connect_failed"}' -eq 0
	assert_metric 'xlb_proxy_path_connections_total{service="web",path="splice"}' -eq "$N"
	assert_metric 'xlb_proxy_bytes_total{service="web"}' -gt 0
	local l="listener=\"$LB4:80\",proto=\"http\""
	assert_metric "xlb_proxy_listener_connections_total{$l,outcome=\"routed\"}" -eq "$N"
	assert_metric "xlb_proxy_listener_connections_total{$l,outcome=\"no_route\"}" -eq 1
	assert_metric "xlb_proxy_listener_accepted_total{$l}" -eq $((N + 1))
	# both backends of the Host service have their series too
	assert_metric 'xlb_backend_up{service="web",backend="10.200.1.2:8080"}' -eq 1
	assert_metric 'xlb_backend_up{service="web",backend="10.200.2.2:8080"}' -eq 1
	# and after serving scrapes xlbd stops cleanly (under ASan: nothing leaked)
	stop_xlbd TERM
	[[ $XLBD_STATUS -eq 0 ]] || fail "xlbd exited with status $XLBD_STATUS"
}

@test "the scrape passes promtool check metrics" {
	command -v promtool >/dev/null || skip "promtool not installed (Debian package prometheus)"
	start_with_metrics
	curl_hostnames 2 "http://$VIP4/" >/dev/null
	host_answers 2 web.test >/dev/null
	scrape
	run promtool check metrics <"$BATS_TEST_TMPDIR/metrics"
	[[ $status -eq 0 && -z $output ]] || fail "promtool: $output"
}

@test "only GET /metrics: another path is 404, another method 405" {
	start_with_metrics
	[[ $(http_code "http://$METRICS/metrics") == 200 ]]
	[[ $(http_code "http://$METRICS/other") == 404 ]]
	[[ $(http_code -X POST -d x=1 "http://$METRICS/metrics") == 405 ]]
	run in_lb curl -sS -m 5 -o /dev/null -w '%{content_type}' "http://$METRICS/metrics"
	[[ $output == "text/plain; version=0.0.4; charset=utf-8" ]] || fail "content type: $output"
}

@test "a bad --metrics value: one error line, exit status 2" {
	local cfg
	cfg=$(write_config "$(metrics_config)")
	run --separate-stderr timeout 10 nsenter --net=/run/netns/xlb-lb "$XLBD" --config "$cfg" \
		--pin-dir "$PIN_DIR" --control "$CTL_SOCK" --metrics 127.0.0.1
	echo "status=$status stderr=[$stderr]" >&2
	[[ $status -eq 2 ]]
	[[ ${#stderr_lines[@]} -eq 1 ]]
	[[ $stderr == *"bad --metrics '127.0.0.1': missing port"* ]]
	[[ ! -e $PIN_DIR ]]
}

@test "a --metrics port already taken: one precise error line, exit status 1" {
	local cfg
	cfg=$(write_config "$(metrics_config)")
	# SO_REUSEADDR: an earlier test's scrapes may have left TIME_WAIT there
	bg_start xlb-lb "$BATS_TEST_TMPDIR/holder.log" "$PYTHON" -c '
import socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 9120))
s.listen()
time.sleep(60)'
	wait_until 5 in_lb bash -c "ss -Htln 'sport = :9120' | grep -q ." ||
		{ cat "$BATS_TEST_TMPDIR/holder.log" >&2; fail "the port holder did not listen"; }
	run --separate-stderr timeout 20 nsenter --net=/run/netns/xlb-lb "$XLBD" --config "$cfg" \
		--pin-dir "$PIN_DIR" --control "$CTL_SOCK" --log-level error --metrics "$METRICS"
	echo "status=$status stderr=[$stderr]" >&2
	[[ $status -eq 1 ]]
	[[ ${#stderr_lines[@]} -eq 1 ]]
	[[ $stderr == "xlbd: level=error metrics: bind $METRICS: Address already in use" ]]
}

# status_backend: a keep-alive HTTP/1.1 backend in backend 1's netns on
# port 8093 that answers GET /status/CODE with that status.
status_backend() {
	bg_start xlb-be1 "$BATS_TEST_TMPDIR/status.log" "$PYTHON" -c '
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def do_GET(self):
        code = int(self.path.rsplit("/", 1)[-1])
        body = b"ok\n"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
ThreadingHTTPServer(("0.0.0.0", 8093), H).serve_forever()'
	wait_until 5 in_ns xlb-be1 bash -c "ss -Htln 'sport = :8093' | grep -q ." ||
		{ cat "$BATS_TEST_TMPDIR/status.log" >&2; fail "the status backend did not listen"; }
}

@test "HTTP requests: per service requests, responses by class, reuse and the first-byte histogram" {
	local codes='service="codes"' gone='service="gone"' n
	status_backend
	start_xlbd "$(write_config "$(metrics_config)
[service codes]
host = codes.test
backend = 10.200.1.2:8093
[service gone]
host = gone.test
backend = 10.200.2.2:8099")" --metrics "$METRICS"
	# two requests on one keep-alive connection to the one backend: the
	# second takes the backend connection the first left in the pool
	in_client curl -sS -f -m 5 -H 'Host: codes.test' -o /dev/null -o /dev/null \
		"http://$LB4/status/200" "http://$LB4/status/200"
	# then 3 more 200s, a 404 and a 503 from the backend, each on a new connection
	[[ $(host_answers 3 codes.test "http://$LB4/status/200") == $'ok\nok\nok' ]]
	assert_answer codes.test status=404 "http://$LB4/status/404"
	assert_answer codes.test status=503 "http://$LB4/status/503"
	# the proxy's own answers: a 502 for gone (nothing listens), a 404 for no service
	assert_answer gone.test status=502
	assert_answer nope.test status=404
	scrape
	assert_metric "xlb_http_requests_total{$codes}" -eq 7
	assert_metric "xlb_http_responses_total{$codes,class=\"2xx\"}" -eq 5
	assert_metric "xlb_http_responses_total{$codes,class=\"4xx\"}" -eq 1
	assert_metric "xlb_http_responses_total{$codes,class=\"5xx\"}" -eq 1
	assert_metric "xlb_http_responses_total{$codes,class=\"1xx\"}" -eq 0
	assert_metric "xlb_http_responses_total{$codes,class=\"3xx\"}" -eq 0
	# one first byte timed per backend response
	assert_metric "xlb_http_response_first_byte_seconds_count{$codes}" -eq 7
	assert_metric "xlb_http_response_first_byte_seconds_bucket{$codes,le=\"+Inf\"}" -eq 7
	assert_metric "xlb_http_response_first_byte_seconds_bucket{$codes,le=\"10\"}" -eq 7
	[[ $(metric "xlb_http_response_first_byte_seconds_sum{$codes}") =~ ^[0-9]+\.[0-9]{9}$ ]] ||
		fail "sum: $(metric "xlb_http_response_first_byte_seconds_sum{$codes}")"
	# every request went on a pooled connection or a fresh one, at least one each
	assert_metric "xlb_http_backend_connections_reused_total{$codes}" -ge 1
	assert_metric "xlb_http_backend_connections_opened_total{$codes}" -ge 1
	n=$(($(metric "xlb_http_backend_connections_reused_total{$codes}") +
		$(metric "xlb_http_backend_connections_opened_total{$codes}")))
	((n == 7)) || fail "reused + opened = $n, want 7"
	# the proxy's 502 is gone's, with no backend response to time
	assert_metric "xlb_http_requests_total{$gone}" -eq 1
	assert_metric "xlb_http_responses_total{$gone,class=\"5xx\"}" -eq 1
	assert_metric "xlb_http_response_first_byte_seconds_count{$gone}" -eq 0
	assert_metric "xlb_http_backend_connections_opened_total{$gone}" -eq 0
	# no service for nope.test: only the listener's no_route has it
	assert_metric "xlb_proxy_listener_connections_total{listener=\"$LB4:80\",proto=\"http\",outcome=\"no_route\"}" -eq 1
	# xlbctl stats shows the same (the scrape wrote the counters out)
	run xlbctl --json stats
	[[ $status -eq 0 ]] || fail "xlbctl stats: $output"
	[[ $(jq -c '.http_services[] | select(.name == "codes") |
		[.requests, .responses["2xx"], .responses["4xx"], .responses["5xx"], .first_byte.count,
		 .reused + .connects]' <<<"$output") == "[7,5,1,1,7,7]" ]] ||
		fail "xlbctl --json stats: $(jq -c .http_services <<<"$output")"
	run xlbctl stats
	[[ $status -eq 0 && $output == *"http services:"* ]] || fail "xlbctl stats: $output"
	[[ $output =~ codes\ +7\ +0\ +5\ +0\ +1\ +1 ]] || fail "xlbctl stats: $output"
	if command -v promtool >/dev/null; then
		run promtool check metrics <"$BATS_TEST_TMPDIR/metrics"
		[[ $status -eq 0 && -z $output ]] || fail "promtool: $output"
	fi
	stop_xlbd TERM
	[[ $XLBD_STATUS -eq 0 ]] || fail "xlbd exited with status $XLBD_STATUS"
}
