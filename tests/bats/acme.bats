#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# xlbd gets its https names' certificates from an ACME CA by itself:
# Debian's Pebble in the client netns, with real validation (its VA
# resolves every name to xlb's address through pebble-challtestsrv and
# fetches the HTTP-01 answer from xlb's port 80, or makes the TLS-ALPN-01
# handshake with its port 443). Checked with curl against Pebble's root,
# and in Pebble's own log.

load helpers
load https_helpers
load pebble

CLIENT4=10.200.0.2

setup_file() {
	command -v pebble >/dev/null || {
		echo "pebble is not installed (scripts/deps.sh)" >&2
		return 1
	}
	lab_setup 1
	serve http 1 1
}

teardown_file() {
	lab_teardown
}

teardown() {
	xlb_test_teardown
}

# start_pebble DIR [VALIDITY_S]: Pebble and its DNS in the client netns,
# validating at xlb's address (pebble.bash).
start_pebble() {
	pebble_start "$1" xlb-client "$CLIENT4" "$LB4" 80 443 "${2:-0}"
}

acme_config() {
	cat <<-EOF
		[http]
		listen = $LB4:80
		[tls]
		listen = $LB4:443
		[service a]
		proto = https
		acme = yes
		host = a.acme.test
		backend = 10.200.1.2:8080
	EOF
	[[ ${1:-} == b ]] && printf '[service b]\nproto = https\nacme = yes\nhost = b.acme.test\nbackend = 10.200.1.2:8080\n'
	return 0
}

# https_get NAME: GET /who over TLS, the certificate checked against
# Pebble's root of this run.
https_get() {
	in_client curl -sf -m 5 --cacert "$BATS_TEST_TMPDIR/root.pem" \
		--resolve "$1:443:$LB4" "https://$1/who"
}

answers() {
	[[ $(https_get "$1" 2>/dev/null) == be1 ]]
}

start_acme_xlbd() {
	local pki=$BATS_TEST_TMPDIR/pebble
	start_xlbd "$(write_config "$(acme_config "${2:-}")")" --acme-state "$BATS_TEST_TMPDIR/state" \
		--acme-directory "https://$CLIENT4:14000/dir" --acme-ca "$pki/ca.pem" \
		--acme-email ops@xlb.test --acme-challenge "$1"
}

@test "ACME: xlbd gets a certificate by HTTP-01, another by TLS-ALPN-01, serves both, and keeps them across a restart" {
	local pki=$BATS_TEST_TMPDIR/pebble
	start_pebble "$pki"
	in_client curl -sf --cacert "$pki/ca.pem" "https://$CLIENT4:15000/roots/0" \
		>"$BATS_TEST_TMPDIR/root.pem" || fail "no pebble root"

	start_acme_xlbd http-01
	wait_until 60 answers a.acme.test || fail "a.acme.test not served: $(https_get a.acme.test 2>&1)"
	log_has 'event=acme_http01_answered' || fail "no HTTP-01 validation reached xlbd"
	grep -q 'Issued certificate' "$pki/pebble.log" || fail "pebble issued nothing"
	stop_xlbd

	# a restart: a.acme.test from the state dir, b.acme.test by TLS-ALPN-01
	start_acme_xlbd tls-alpn-01 b
	wait_until 60 answers b.acme.test || fail "b.acme.test not served: $(https_get b.acme.test 2>&1)"
	log_has 'event=acme_tlsalpn01_answered' || fail "no TLS-ALPN-01 validation reached xlbd"
	log_has 'event=acme_cert_installed name=a.acme.test serial=[0-9A-Fa-f]+ from=state' ||
		fail "a.acme.test not from the state dir"
	answers a.acme.test || fail "a.acme.test not served after the restart"
	# two orders in all: the restart made none for a.acme.test
	[[ $(grep -c 'Issued certificate' "$pki/pebble.log") == 2 ]] ||
		fail "pebble issued: $(grep 'Issued certificate' "$pki/pebble.log")"
	[[ $(stat -c %a "$BATS_TEST_TMPDIR/state") == 700 ]] || fail "state dir mode"
}

# Until the serial of NAME differs from OLD, every request is answered
# (the old certificate serves until its successor is in).
served_until_renewed() {
	local name=$1 old=$2 deadline=$((SECONDS + $3)) now
	while ((SECONDS < deadline)); do
		answers "$name" || { echo "a request failed during the renewal" >&2; return 1; }
		now=$(served_serial "$name")
		[[ -n $now && $now != "$old" ]] && return 0
		sleep 0.2
	done
	echo "not renewed within $3 s" >&2
	return 1
}

@test "ACME: xlbd renews a certificate two thirds into its life, serving the old one until the new one is in" {
	local pki=$BATS_TEST_TMPDIR/pebble
	start_pebble "$pki" 30
	in_client curl -sf --cacert "$pki/ca.pem" "https://$CLIENT4:15000/roots/0" \
		>"$BATS_TEST_TMPDIR/root.pem" || fail "no pebble root"
	start_acme_xlbd http-01
	wait_until 60 answers a.acme.test || fail "a.acme.test not served: $(https_get a.acme.test 2>&1)"
	local first
	first=$(served_serial a.acme.test)
	[[ $first == serial=* ]] || fail "no serial: $first"
	# a 30 s certificate is due at 20 s: wait past that, not for expiry
	served_until_renewed a.acme.test "$first" 40 || fail "$(grep -E 'acme' "$XLBD_LOG" | tail -5)"
	[[ $(grep -c 'event=acme_cert_installed name=a.acme.test .*from=issued' "$XLBD_LOG") == 2 ]] ||
		fail "installs: $(grep acme_cert_installed "$XLBD_LOG")"
	[[ $(grep -c 'Issued certificate' "$pki/pebble.log") == 2 ]] || fail "pebble issued: $(grep 'Issued certificate' "$pki/pebble.log")"
	answers a.acme.test || fail "not served after the renewal"
}
