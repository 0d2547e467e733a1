#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The ACME client against a real Pebble with real validation: Pebble's
# VA resolves every name through pebble-challtestsrv to the probe and
# fetches the HTTP-01 answer from its port 80 and makes a TLS-ALPN-01
# handshake with its port 443. All of it runs in a network namespace of
# its own (ports 80 and 443 and Pebble's own stay private), which is
# removed at exit with everything else made here, also on failure.
#   tests/acme/pebble.sh    root; the probe is $BUILD/acme_probe (BUILD:
#                           build/ by default; `make` builds it there)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
PROBE=$BUILD/acme_probe
NS=${ACME_NS:-xlb-acme}
HTTP_NAME=http01.xlb.test
ALPN_NAME=alpn01.xlb.test
PIDS=()

TMP=$(mktemp -d /tmp/xlb-acme.XXXXXX)

cleanup() {
	local rc=$?
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	# a process still in the namespace (a probe cut short) goes with it
	for p in $(ip netns pids "$NS" 2>/dev/null); do
		kill "$p" 2>/dev/null || true
	done
	ip netns del "$NS" 2>/dev/null || true
	if [ "$rc" -ne 0 ]; then
		echo "pebble.sh: failed (rc=$rc); the servers' last lines:" >&2
		tail -n 20 "$TMP"/pebble.log "$TMP"/challtestsrv.log 2>/dev/null >&2 || true
	fi
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

in_ns() { ip netns exec "$NS" "$@"; }


# Pebble's HTTPS: a CA of this run, and a certificate for 127.0.0.1 that
# the client trusts through --ca
make_pebble_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=xlb-acme-test-ca -keyout "$TMP/ca.key" -out "$TMP/ca.pem" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
		-keyout "$TMP/wfe.key" -out "$TMP/wfe.csr" 2>/dev/null
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' \
		>"$TMP/wfe.ext"
	openssl x509 -req -in "$TMP/wfe.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" \
		-CAcreateserial -days 2 -extfile "$TMP/wfe.ext" -out "$TMP/wfe.pem" 2>/dev/null
}

write_pebble_config() {
	cat >"$TMP/pebble.json" <<JSON
{
  "pebble": {
    "listenAddress": "127.0.0.1:14000",
    "managementListenAddress": "127.0.0.1:15000",
    "certificate": "$TMP/wfe.pem",
    "privateKey": "$TMP/wfe.key",
    "httpPort": 80,
    "tlsPort": 443,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false
  }
}
JSON
}

# Started by `ip netns exec` itself, not through in_ns: a function in
# the background is a subshell, and $! would be its pid, not the server's.
start_servers() {
	ip netns exec "$NS" pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" \
		-dns01 127.0.0.1:8053 -management 127.0.0.1:8055 \
		-http01 "" -https01 "" -tlsalpn01 "" >"$TMP/challtestsrv.log" 2>&1 &
	PIDS+=($!)
	# NOSLEEP: validate at once; AUTHZREUSE=0: every order is validated
	# again; NONCEREJECT: refuse a share of good nonces (badNonce retry)
	ip netns exec "$NS" env PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0 PEBBLE_WFE_NONCEREJECT=15 \
		pebble -config "$TMP/pebble.json" -dnsserver 127.0.0.1:8053 \
		>"$TMP/pebble.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 100); do
		if in_ns curl -sf --cacert "$TMP/ca.pem" -o /dev/null https://127.0.0.1:14000/dir; then
			return 0
		fi
		sleep 0.1
	done
	echo "pebble.sh: pebble did not start" >&2
	return 1
}

probe() {
	in_ns "$PROBE" --directory https://127.0.0.1:14000/dir --ca "$TMP/ca.pem" \
		--roots https://127.0.0.1:15000/roots/0 --state "$TMP/state" \
		--email ops@xlb.test --http-name "$HTTP_NAME" --alpn-name "$ALPN_NAME" \
		--http-port 80 --tls-port 443 --mode "$1"
}

[[ -x $PROBE ]] || { echo "pebble.sh: no $PROBE (make $PROBE)" >&2; exit 1; }
make_pebble_cert
write_pebble_config
ip netns add "$NS"
ip -n "$NS" link set lo up
start_servers
echo "== first run: issue by http-01 and tls-alpn-01, renew one"
probe issue
echo "== second run, same state dir: no new order"
probe again
echo "== state dir"
(cd "$TMP/state" && find . | sort | while read -r f; do
	printf '%s %s\n' "$(stat -c %a "$f")" "$f"
done)
echo "== pebble's own lines on this run"
grep -E 'Issued certificate|validation|Verified|authz' "$TMP/pebble.log" | sed 's/^/pebble: /' | head -40 || true
echo "pebble.sh: OK"
