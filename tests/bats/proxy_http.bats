#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# shellcheck disable=SC2030,SC2031 # bats' run sets status and output in each test
# The proxy's HTTP side: services told apart by the Host header on one
# shared port of the lb (10.200.0.1:80 and [fd00:200::1]:80), with real
# traffic from the client netns to the lab's HTTP servers.

load helpers

setup_file() {
	lab_setup 5
	# /who answers "be<i>" on :8080 and "be<i>-8081" on :8081, so that one
	# backend netns can stand for two services.
	serve http 1 5
	local i
	for i in 1 2 3 5; do "$LAB" serve-http "$i" 8081 >&2; done
}

teardown_file() {
	lab_teardown
}

teardown() {
	xlb_test_teardown
}

# api.app.dev on be1-be3, app.app.dev on be4-be5; x.wild.dev exactly, and
# two nested wildcards, each on one backend's :8081; trailing wildcards
# (nginx's "name.*") on be5's :8081 and be4's :8080, regular expressions
# (nginx's "~regex") on be1's :8080.
proxy_config() {
	cat <<-EOF
		[http]
		listen = $LB4:80
		listen = [$LB6]:80
		[service api]
		host = api.app.dev
		backend = 10.200.1.2:8080
		backend = 10.200.2.2:8080
		backend = 10.200.3.2:8080
		[service app]
		host = app.app.dev
		backend = 10.200.4.2:8080
		backend = 10.200.5.2:8080
		[service exact]
		host = x.wild.dev
		backend = 10.200.1.2:8081
		[service short]
		host = *.wild.dev
		backend = 10.200.2.2:8081
		[service long]
		host = *.deep.wild.dev
		backend = 10.200.3.2:8081
		[service tail]
		host = tail.*
		backend = 10.200.5.2:8081
		[service tailx]
		host = x.tail.*
		host = y.wild.*
		backend = 10.200.4.2:8080
		[service re]
		host = ~^re\d+\.app\.dev$
		host = ~\.wild\.
		backend = 10.200.1.2:8080
	EOF
}

@test "two pools on one port: 40 requests per Host reach only that Host's backends, all of them" {
	start_xlbd "$(write_config "$(proxy_config)")"
	host_answers 40 api.app.dev >"$BATS_TEST_TMPDIR/api"
	host_answers 40 app.app.dev >"$BATS_TEST_TMPDIR/app"
	assert_only_from "$BATS_TEST_TMPDIR/api" be1 be2 be3
	assert_only_from "$BATS_TEST_TMPDIR/app" be4 be5
	[[ $(wc -l <"$BATS_TEST_TMPDIR/api") -eq 40 && $(wc -l <"$BATS_TEST_TMPDIR/app") -eq 40 ]]
	wait_counter routed 80
}

@test "host match: exact beats wildcard, the longest wildcard wins, case and trailing dot ignored" {
	start_xlbd "$(write_config "$(proxy_config)")"
	assert_answer x.wild.dev be1-8081
	assert_answer X.Wild.DEV be1-8081
	assert_answer x.wild.dev. be1-8081
	assert_answer y.wild.dev be2-8081
	assert_answer deep.wild.dev be2-8081
	assert_answer a.deep.wild.dev be3-8081
	assert_answer b.a.deep.wild.dev be3-8081
	# a wildcard never matches its own suffix
	assert_answer wild.dev status=404
}

@test "trailing wildcards (name.*) come after exact names and leading wildcards; the longest wins" {
	start_xlbd "$(write_config "$(proxy_config)")"
	assert_answer tail.example be5-8081
	assert_answer TAIL.co.uk be5-8081
	assert_answer x.tail.example be4
	assert_answer y.wild.example be4
	# the leading wildcard *.wild.dev before the trailing y.wild.*
	assert_answer y.wild.dev be2-8081
	# and the exact name before both
	assert_answer x.wild.dev be1-8081
	# a trailing wildcard never matches its own prefix
	assert_answer tail status=404
	assert_answer a.tail.example status=404
}

@test "regular expressions (~regex) come last, on the host lowercased" {
	start_xlbd "$(write_config "$(proxy_config)")"
	assert_answer re12.app.dev be1
	assert_answer RE7.App.Dev be1
	assert_answer z.wild.org be1
	# every other form first: leading wildcard, trailing wildcard, exact
	assert_answer y.wild.dev be2-8081
	assert_answer y.wild.org be4
	assert_answer x.wild.dev be1-8081
	assert_answer re.app.dev status=404
}

@test "a port in Host is ignored: Host: api.app.dev:80 reaches the api pool" {
	start_xlbd "$(write_config "$(proxy_config)")"
	host_answers 10 api.app.dev:80 >"$BATS_TEST_TMPDIR/api"
	host_answers 10 APP.app.dev:8080 >"$BATS_TEST_TMPDIR/app"
	assert_all_match "$BATS_TEST_TMPDIR/api" 'be[123]'
	assert_all_match "$BATS_TEST_TMPDIR/app" 'be[45]'
}

@test "an unknown Host gets the proxy's 404, counted and logged" {
	start_xlbd "$(write_config "$(proxy_config)")"
	run in_client curl -sS -m 5 -i -H "Host: nope.app.dev" "http://$LB4/who"
	[[ $status -eq 0 ]] || fail "curl: $output"
	[[ $output == "HTTP/1.1 404 "* ]] || fail "answer: $output"
	[[ $output != *X-Backend* ]] || fail "a backend answered: $output"
	wait_counter no_route 1
	wait_log 'event=proxy_refuse .*host=nope\.app\.dev code=404'
	# and the proxy still routes the next one
	assert_answer_like app.app.dev 'be[45]'
}

@test "default_host: a request for an unknown name goes to that host's routes; --default-host over the config" {
	start_xlbd "$(write_config "$(proxy_config | sed 's/^\[http\]$/&\ndefault_host = app.app.dev/')")"
	assert_answer_like nope.app.dev 'be[45]'
	assert_answer_like other.example 'be[45]'
	# a known name still goes to its own
	assert_answer_like api.app.dev 'be[123]'
	stop_xlbd
	start_xlbd "$(write_config "$(proxy_config | sed 's/^\[http\]$/&\ndefault_host = app.app.dev/')")" \
		--default-host API.app.dev
	assert_answer_like nope.app.dev 'be[123]'
}

@test "a malformed head gets 400: two Host headers, obs-fold" {
	start_xlbd "$(write_config "$(proxy_config)")"
	run httpc raw "$LB4" 80 < <(printf 'GET /who HTTP/1.1\r\nHost: api.app.dev\r\nHost: app.app.dev\r\n\r\n')
	[[ $output == "HTTP/1.1 400 "* ]] || fail "two Host headers: $output"
	[[ $output != *X-Backend* ]] || fail "a backend answered: $output"
	run httpc raw "$LB4" 80 < <(printf 'GET /who HTTP/1.1\r\nHost: api.app.dev\r\nX-Long: a\r\n  folded\r\n\r\n')
	[[ $output == "HTTP/1.1 400 "* ]] || fail "obs-fold: $output"
	wait_counter bad_request 2
	wait_log 'event=proxy_refuse .*code=400 reason="two Host headers"'
	wait_log 'event=proxy_refuse .*code=400 reason="obs-fold"'
}

# Request smuggling shapes, hosts that are no DNS name, a NUL and a head
# over --max-head (16 KiB): each is answered 400 by the proxy itself (the
# oversized head BIG_CODE: 400 in connection mode, 431 in request mode),
# and not one connection reaches a backend. The 12 refusals come within
# a second or two, more than the default --log-rate lets through, and
# each must be logged with its reason.
# refused_shapes BIG_CODE [XLBD ARGS...]
refused_shapes() {
	local big=$1
	shift
	start_xlbd "$(write_config "$(proxy_config)")" --log-rate 0 "$@"
	local -a shapes=(
		'POST /who HTTP/1.1\r\nHost: api.app.dev\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'
		'POST /who HTTP/1.1\r\nHost: api.app.dev\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
		'POST /who HTTP/1.1\r\nHost: api.app.dev\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n'
		'POST /who HTTP/1.1\r\nHost: api.app.dev\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n'
		'POST /who HTTP/1.0\r\nHost: api.app.dev\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
		'POST /who HTTP/1.1\r\nHost: api.app.dev\r\nContent-Length : 2\r\n\r\nab'
		'GET /who HTTP/1.1\r\nHost: user@api.app.dev\r\n\r\n'
		'GET /who HTTP/1.1\r\nHost: api.app.dev app.app.dev\r\n\r\n'
		'GET /who HTTP/1.1\r\nHost: api_app.dev\r\n\r\n'
		'GET /who HTTP/1.1\r\nHost: api.app.dev\xc3\r\n\r\n'
		'GET /who HTTP/1.1\r\nHost: api.app.dev\r\nX-A: a\0b\r\n\r\n'
	)
	local i n=$((${#shapes[@]} + 1))
	for i in "${!shapes[@]}"; do
		# shellcheck disable=SC2059 # each shape is a printf format
		run httpc raw "$LB4" 80 < <(printf "${shapes[i]}")
		[[ $output == "HTTP/1.1 400 "* && $output != *X-Backend* ]] ||
			{ fail "shape '${shapes[i]}' answered: $output"; return 1; }
	done
	run httpc raw "$LB4" 80 < <(printf 'GET /who HTTP/1.1\r\nHost: api.app.dev\r\nX-Big: '
		head -c 20000 /dev/zero | tr '\0' a
		printf '\r\n\r\n')
	[[ $output == "HTTP/1.1 $big "* && $output != *X-Backend* ]] || { fail "oversized head: $output"; return 1; }
	wait_counter bad_request "$n"
	[[ $(proxy_counter bad_request) == "$n" ]] || { fail "bad_request $(proxy_counter bad_request), want $n"; return 1; }
	[[ $(proxy_counter routed) == 0 ]] || { fail "$(proxy_counter routed) connections routed"; return 1; }
	local why
	for why in "two Content-Length headers" "Content-Length with Transfer-Encoding" \
		"bad Transfer-Encoding" "two Transfer-Encoding headers" "Transfer-Encoding in HTTP/1.0" \
		"whitespace before colon" "bad host" "NUL byte"; do
		log_has "event=proxy_refuse .*code=400 reason=\"$why\"" || { fail "no refusal logged for: $why"; return 1; }
	done
	log_has "event=proxy_refuse .*code=$big reason=\"head too large\"" ||
		{ fail "no refusal logged for: head too large"; return 1; }
	# and the proxy still routes a good request
	assert_answer_like api.app.dev 'be[123]'
}

@test "smuggling shapes, bad hosts, a NUL, an oversized head: all refused (400, 431), none routed" {
	refused_shapes 431
}

@test "connection mode: smuggling shapes, bad hosts, a NUL, an oversized head: all 400, none routed" {
	refused_shapes 400 --http-mode connection
}

@test "an absolute-form request target wins over the Host header" {
	start_xlbd "$(write_config "$(proxy_config)")"
	local i
	for i in 1 2 3 4 5; do
		in_client curl -sS -m 5 -H "Host: app.app.dev" --request-target "http://api.app.dev/who" \
			"http://$LB4/"
	done >"$BATS_TEST_TMPDIR/api"
	for i in 1 2 3 4 5; do
		in_client curl -sS -m 5 -H "Host: api.app.dev" --request-target "http://x.wild.dev:80/who" \
			"http://$LB4/"
	done >"$BATS_TEST_TMPDIR/exact"
	assert_all_match "$BATS_TEST_TMPDIR/api" 'be[123]'
	assert_all_match "$BATS_TEST_TMPDIR/exact" be1-8081
}

# keep_alive MODE: five requests on one connection are all answered by
# api backends, ten pipelined ones by app backends; in connection mode the
# connection is routed once, by its first request, so one backend answers
# all five (in request mode each request is routed on its own, so round
# robin spreads them: proxy_requests.bats).
keep_alive() {
	local url=http://$LB4/who mode=()
	[[ $1 == request ]] || mode=(--http-mode "$1") # request is the default
	start_xlbd "$(write_config "$(proxy_config)")" "${mode[@]}"
	# curl reuses its connection for the URLs after the first: the
	# write-out prints each transfer's new connections (1, then 0s).
	run in_client curl -sS -m 10 -H "Host: api.app.dev" -w ' connects=%{num_connects}\n' \
		"$url" "$url" "$url" "$url" "$url"
	[[ $status -eq 0 ]] || fail "curl: $output"
	echo "$output" >&2
	[[ $(grep -c 'connects=' <<<"$output") -eq 5 ]] || fail "not 5 answers"
	[[ $(grep -c 'connects=1' <<<"$output") -eq 1 ]] || fail "more than one connection"
	[[ $(awk '{print $1}' <<<"$output" | grep -cxE 'be[123]') -eq 5 ]] || fail "answers from wrong backends"
	if [[ $1 == connection ]]; then
		# one connection, one backend: the same api backend answers all five
		[[ $(awk '{print $1}' <<<"$output" | sort -u | grep -cxE 'be[123]') -eq 1 ]] ||
			fail "answers from several or wrong backends"
	fi
	# ten requests written at once (pipelined) on one connection
	run httpc pipeline "$LB4" 80 app.app.dev 10
	[[ $status -eq 0 ]] || fail "pipeline: $output"
	[[ $(grep -cxE 'be[45]' <<<"$output") -eq 10 ]] || fail "pipelined answers: $output"
}

@test "keep-alive: several requests on one connection are all answered" {
	keep_alive request
}

@test "connection mode keep-alive: one connection is routed once, one backend answers all its requests" {
	keep_alive connection
}

@test "the IPv6 listener routes by Host too" {
	start_xlbd "$(write_config "$(proxy_config)")"
	host_answers 20 api.app.dev "http://[$LB6]/who" >"$BATS_TEST_TMPDIR/api"
	host_answers 20 app.app.dev "http://[$LB6]:80/who" >"$BATS_TEST_TMPDIR/app"
	assert_only_from "$BATS_TEST_TMPDIR/app" be4 be5
	assert_all_match "$BATS_TEST_TMPDIR/api" 'be[123]'
	assert_answer nope.app.dev status=404 "http://[$LB6]/who"
}

@test "a host-routed service added over the control socket is routed; deleted, it is a 404" {
	start_xlbd "$(write_config "$(proxy_config)")" --http-listen "$LB4:8080"
	assert_answer rt.app.dev status=404 "http://$LB4:8080/who"
	control_ok service add rt host=rt.app.dev host=*.rt.app.dev || fail "service add: $(control service add rt host=rt.app.dev)"
	control_ok backend add rt 10.200.5.2:8081 weight=1 || fail "backend add"
	# --http-listen adds a listener next to the config's
	assert_answer rt.app.dev be5-8081 "http://$LB4:8080/who"
	assert_answer a.rt.app.dev be5-8081
	control_ok service del rt || fail "service del"
	assert_answer rt.app.dev status=404
}
