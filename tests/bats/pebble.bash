# SPDX-License-Identifier: GPL-2.0
# Debian's Pebble, an ACME CA for tests, and its DNS (pebble-challtestsrv)
# for the tests of xlbd's own ACME client: Pebble's VA validates for real,
# at xlbd's listeners.

# pebble_start DIR NETNS ADDR VA_ADDR HTTP_PORT TLS_PORT [VALIDITY_S]:
# Pebble at https://ADDR:14000/dir (its certificate from a CA of DIR,
# DIR/ca.pem; its management API on ADDR:15000) and its DNS, which
# answers every name with VA_ADDR, both in NETNS ("" for this host's); the
# VA validates HTTP-01 at VA_ADDR:HTTP_PORT and TLS-ALPN-01 at TLS_PORT;
# the certificates it issues live VALIDITY_S seconds (default: its own,
# five years). Both go with stop_bg.
pebble_start() {
	local dir=$1 ns=$2 addr=$3 va=$4 http=$5 tls=$6 validity=${7:-0}
	local -a run=()
	[[ -z $ns ]] || run=(nsenter --net="/run/netns/$ns")
	mkdir -p "$dir"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=xlb-acme-test-ca -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=pebble \
		-keyout "$dir/wfe.key" -out "$dir/wfe.csr" 2>/dev/null
	printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n' "$addr" >"$dir/wfe.ext"
	openssl x509 -req -in "$dir/wfe.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
		-CAcreateserial -days 2 -extfile "$dir/wfe.ext" -out "$dir/wfe.pem" 2>/dev/null
	cat >"$dir/pebble.json" <<-JSON
		{ "pebble": { "listenAddress": "$addr:14000",
		              "managementListenAddress": "$addr:15000",
		              "certificate": "$dir/wfe.pem", "privateKey": "$dir/wfe.key",
		              "httpPort": $http, "tlsPort": $tls, "ocspResponderURL": "",
		              "externalAccountBindingRequired": false
		              $( ((validity)) && echo ", \"certificateValidityPeriod\": $validity") } }
	JSON
	"${run[@]}" pebble-challtestsrv -defaultIPv4 "$va" -defaultIPv6 "" -dns01 127.0.0.1:8053 \
		-management 127.0.0.1:8055 -http01 "" -https01 "" -tlsalpn01 "" \
		</dev/null >"$dir/challtestsrv.log" 2>&1 3>&- &
	BG_PIDS+=("$!")
	# NOSLEEP: validate at once; AUTHZREUSE=0: every order is validated
	"${run[@]}" env PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0 \
		pebble -config "$dir/pebble.json" -dnsserver 127.0.0.1:8053 \
		</dev/null >"$dir/pebble.log" 2>&1 3>&- &
	BG_PIDS+=("$!")
	wait_until 15 "${run[@]}" curl -sf --cacert "$dir/ca.pem" -o /dev/null \
		"https://$addr:14000/dir" || {
		echo "pebble did not start" >&2
		cat "$dir/pebble.log" >&2
		return 1
	}
}
