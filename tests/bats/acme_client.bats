#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# xlbd's ACME client (userspace/acme) against Debian's Pebble, with real
# validation (Pebble's VA fetches the HTTP-01 answer and makes the
# TLS-ALPN-01 handshake; PEBBLE_VA_ALWAYS_VALID is not set), driven by
# tests/acme/pebble.sh in a network namespace of its own. The driver
# (tests/acme/acme_probe.c) answers the challenges from the client's
# table and checks every certificate against Pebble's root.

load helpers

@test "ACME: a certificate by HTTP-01 and one by TLS-ALPN-01, verified; a renewal; the state dir survives a restart" {
	command -v pebble >/dev/null || fail "pebble is not installed (scripts/deps.sh)"
	run env BUILD="$BUILD" "$REPO/tests/acme/pebble.sh"
	[[ $status -eq 0 && $output == *"pebble.sh: OK"* ]] || fail "$output"
	# three orders in the first run: both names, then the renewal, each
	# with a new serial and a chain that verifies against Pebble's root
	local issued
	issued=$(grep -c 'source=issued chain=2 verified=yes' <<<"$output")
	[[ $issued == 3 ]] || fail "issued $issued, want 3: $output"
	[[ $output == *"event=acme_challenge name=http01.xlb.test type=http-01 status=valid"* ]] ||
		fail "no valid http-01: $output"
	[[ $output == *"event=acme_challenge name=alpn01.xlb.test type=tls-alpn-01 status=valid"* ]] ||
		fail "no valid tls-alpn-01: $output"
	[[ $(grep -oE 'serial=[0-9A-F]+ source=issued' <<<"$output" | sort -u | wc -l) == 3 ]] ||
		fail "serials repeat: $output"
	# the second run takes both from the state dir and orders nothing
	[[ $output == *"stats orders=0 issued=0 failures=0 loaded=2"* ]] || fail "$output"
	# Pebble itself issued the three
	[[ $(grep -c 'pebble: .*Issued certificate serial' <<<"$output") -ge 3 ]] || fail "$output"
	# the account key and certificates are the owner's only
	[[ $output == *"600 ./account.key"* ]] || fail "account key mode: $output"
	[[ $output =~ 700\ \.[[:space:]] || $output == *"700 ."* ]] || fail "state dir mode: $output"
}
