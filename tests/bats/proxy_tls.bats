#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The proxy's TLS side: connections to one shared TLS port told apart by
# the ClientHello's server name (SNI) and passed through, never terminated,
# to two openssl s_server backends with their own self-signed certificates.

load helpers

setup_file() {
	lab_setup 2
	# s_server on :8443 with a fresh certificate (openssl req) for the CN,
	# serving /who = "be<i>" (-WWW)
	"$LAB" serve-tls 1 a.app.dev >&2
	"$LAB" serve-tls 2 b.app.dev >&2
}

teardown_file() {
	lab_teardown
}

teardown() {
	xlb_test_teardown
}

tls_config() {
	cat <<-EOF
		[tls]
		listen = $LB4:443
		[service a]
		proto = tls
		host = a.app.dev
		backend = 10.200.1.2:8443
		[service b]
		proto = tls
		host = *.b.app.dev
		host = b.app.dev
		backend = 10.200.2.2:8443
	EOF
}

# s_client ARGS...: one TLS handshake with the shared port from the client;
# the certificate's subject and the handshake's outcome end up in $output.
s_client() {
	in_client openssl s_client -connect "$LB4:443" "$@" </dev/null 2>&1
}

# tls_get NAME: GET /who over TLS with SNI NAME (curl, certificate not
# checked: it is self-signed); prints the body.
tls_get() {
	in_client curl -sS -m 5 -k --resolve "$1:443:$LB4" "https://$1/who"
}

@test "SNI routing: openssl s_client reaches the backend whose certificate matches the name" {
	start_xlbd "$(write_config "$(tls_config)")"
	run s_client -servername a.app.dev
	[[ $output == *"subject=CN = a.app.dev"* ]] || fail "a.app.dev: $output"
	run s_client -servername b.app.dev
	[[ $output == *"subject=CN = b.app.dev"* ]] || fail "b.app.dev: $output"
	run s_client -servername www.b.app.dev
	[[ $output == *"subject=CN = b.app.dev"* ]] || fail "www.b.app.dev (wildcard): $output"
}

@test "SNI routing: curl over TLS through the shared port gets each name's backend" {
	start_xlbd "$(write_config "$(tls_config)")"
	for _ in 1 2 3 4 5; do
		run tls_get a.app.dev
		[[ $status -eq 0 && $output == be1 ]] || fail "a.app.dev: $output"
		run tls_get b.app.dev
		[[ $status -eq 0 && $output == be2 ]] || fail "b.app.dev: $output"
	done
	wait_counter routed 10
}

@test "an unknown SNI is closed with unrecognized_name and counted as no route" {
	start_xlbd "$(write_config "$(tls_config)")"
	run s_client -servername nope.app.dev
	[[ $status -ne 0 ]] || fail "handshake with an unknown name succeeded: $output"
	[[ $output != *"subject="* ]] || fail "a backend answered: $output"
	[[ $output == *"unrecognized name"* ]] || fail "no unrecognized_name alert: $output"
	run tls_get nope.app.dev
	[[ $status -ne 0 ]] || fail "curl with an unknown name succeeded: $output"
	wait_counter no_route 2
	wait_log 'event=proxy_refuse .*host=nope\.app\.dev'
	# the port still serves known names
	run tls_get a.app.dev
	[[ $output == be1 ]] || fail "a.app.dev after refusals: $output"
}

@test "a ClientHello without SNI is closed and counted as no route" {
	start_xlbd "$(write_config "$(tls_config)")"
	run s_client -noservername
	[[ $status -ne 0 ]] || fail "handshake without SNI succeeded: $output"
	[[ $output != *"subject="* ]] || fail "a backend answered: $output"
	wait_counter no_route 1
	wait_log 'event=proxy_refuse .*host=-'
}
