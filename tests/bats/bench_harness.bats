#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# `make bench-quick` as CI runs it: every part of the bench harness runs to
# the end on this machine and the report holds what a reader looks for.
# Only that the harness works is checked, never a figure's size: speed
# belongs in the bench report, and this machine is busy in CI.

load helpers

setup_file() {
	RESULTS=$BATS_FILE_TMPDIR/results
	RAW=$BATS_FILE_TMPDIR/raw
	export RESULTS RAW
	# one run for every test below; its output is kept for the asserts
	# (its status goes to the first test, which prints the log's tail:
	# bats' set -e would otherwise end setup_file with no word of why)
	local rc=0
	XLB_BENCH_RESULTS=$RESULTS BENCH_OUT=$RAW "$REPO/bench/bench.sh" --quick \
		>"$BATS_FILE_TMPDIR/bench.log" 2>&1 || rc=$?
	echo "$rc" >"$BATS_FILE_TMPDIR/bench.rc"
}

# Values of column $2 in TSV $1 for rows whose column $3 is $4.
tsv_col() {
	awk -F'\t' -v col="$2" -v kcol="$3" -v key="$4" '
		NR == 1 { for (i = 1; i <= NF; i++) idx[$i] = i; next }
		/^#/ { next }
		$idx[kcol] == key { print $idx[col] }' "$1"
}

@test "bench-quick: every part runs to the end" {
	run cat "$BATS_FILE_TMPDIR/bench.rc"
	if [[ $output != 0 ]]; then
		tail -n 40 "$BATS_FILE_TMPDIR/bench.log"
		false
	fi
	! grep -q "part .* failed" "$BATS_FILE_TMPDIR/bench.log"
}

@test "bench-quick: the report has every section, the commands and the machine" {
	local md=$RESULTS/latest-quick.md section
	[[ -s $md ]]
	for section in "XDP cost per packet" "End to end: TCP" "End to end: UDP" \
		"Proxy efficiency" "HTTPS: TLS ended by the balancer" "End to end: TLS handshakes" \
		"End to end: TLS hellos" "Control plane" "Memory"; do
		grep -q "^#.*$section" "$md" || { echo "no section: $section"; false; }
	done
	grep -q "bench/bench.sh --quick" "$md"
	grep -q "bench/xdp_cost.sh" "$md"
	grep -qi "model name\|cpu" "$md"
}

@test "bench-quick: the throughput chart is a PNG" {
	local png=$RESULTS/throughput-quick.png
	[[ -s $png ]]
	[[ $(head -c 8 "$png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]]
}

@test "bench-quick: every balancer served the wrk loads without errors" {
	local bal load n
	for bal in direct xlb-l4 iptables haproxy-tcp xlb-host xlb-sockmap haproxy-http nginx-http; do
		for load in keepalive close; do
			n=$(awk -F'\t' -v b="$bal" -v l="$load" \
				'$2 == b && $3 == l && $4 > 0 && $7 == 0' "$RAW/e2e_tcp.tsv" | wc -l)
			[[ $n -ge 1 ]] || {
				echo "$bal $load: no row with req/s > 0 and 0 errors"
				cat "$RAW/e2e_tcp.tsv"
				false
			}
		done
	done
}

@test "bench-quick: every TLS balancer served HTTPS without errors, in full handshakes" {
	local bal load loads tls=$RAW/e2e_tls.tsv wire=$RAW/e2e_tls_wire.tsv n
	for bal in xlb-https-ecdsa haproxy-https-ecdsa nginx-https-ecdsa \
		xlb-https-rsa haproxy-https-rsa nginx-https-rsa; do
		loads="keepalive close"
		[[ $bal == *-rsa ]] && loads=close
		for load in $loads; do
			n=$(awk -F'\t' -v b="$bal" -v l="$load" \
				'$2 == b && $3 == l && $4 > 0 && $7 == 0' "$RAW/e2e_tcp.tsv" | wc -l)
			[[ $n -ge 1 ]] || {
				echo "$bal $load: no row with req/s > 0 and 0 errors"
				cat "$RAW/e2e_tcp.tsv"
				false
			}
		done
		# the client: handshakes done, none resumed, TLS 1.3 with ALPN http/1.1
		n=$(tsv_col "$tls" handshakes balancer "$bal" | awk '$1 > 0' | wc -l)
		[[ $n -ge 1 ]] || { echo "$bal: no handshakes counted"; cat "$tls"; false; }
		[[ -z $(tsv_col "$tls" resumed balancer "$bal" | grep -v '^0$') ]] ||
			{ echo "$bal: sessions resumed"; cat "$tls"; false; }
		[[ $(tsv_col "$tls" protocol balancer "$bal" | sort -u) == TLSv1.3 ]] ||
			{ echo "$bal: not TLS 1.3 only"; cat "$tls"; false; }
		[[ $(tsv_col "$tls" alpn balancer "$bal" | sort -u) == http/1.1 ]] ||
			{ echo "$bal: ALPN"; cat "$tls"; false; }
		# the wire, during the warm-up: hellos seen both ways, no PSK
		n=$(tsv_col "$wire" client_hellos balancer "$bal" | head -n 1)
		[[ $n =~ ^[0-9]+$ && $n -gt 0 ]] || { echo "$bal: no ClientHello seen"; cat "$wire"; false; }
		n=$(tsv_col "$wire" server_hellos balancer "$bal" | head -n 1)
		[[ $n =~ ^[0-9]+$ && $n -gt 0 ]] || { echo "$bal: no ServerHello seen"; cat "$wire"; false; }
		[[ $(tsv_col "$wire" psk_offered balancer "$bal") == 0 &&
			$(tsv_col "$wire" psk_accepted balancer "$bal") == 0 ]] ||
			{ echo "$bal: a PSK on the wire"; cat "$wire"; false; }
	done
	# the downloads over https
	for bal in xlb-https-ecdsa haproxy-https-ecdsa nginx-https-ecdsa; do
		n=$(awk -F'\t' -v b="$bal" '$2 == b && $3 == "download" && $4 > 0' \
			"$RAW/proxy_efficiency.tsv" | wc -l)
		[[ $n -ge 1 ]] || { echo "$bal: no download"; cat "$RAW/proxy_efficiency.tsv"; false; }
	done
	grep -q "No session was resumed" "$RAW/e2e.md"
}

@test "bench-quick: UDP reached the backends through every balancer" {
	local bal pps
	for bal in direct xlb-l4 iptables; do
		pps=$(tsv_col "$RAW/e2e_udp.tsv" delivered_pps balancer "$bal" | head -n 1)
		[[ -n $pps ]] && awk -v p="$pps" 'BEGIN { exit !(p > 0) }' || {
			echo "$bal: delivered_pps '$pps'"
			false
		}
	done
}

@test "bench-quick: XDP cost has a figure for every case and both families" {
	local tsv=$RAW/xdp_cost.tsv
	[[ -s $tsv ]]
	grep -q "established" "$tsv"
	grep -q "new flow" "$tsv"
	grep -q "return" "$tsv"
	grep -qi "ipv6\|v6" "$tsv"
}
