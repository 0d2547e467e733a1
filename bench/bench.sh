#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make bench` / `make bench-quick`: every measurement of the bench, one after
# the other on a quiet machine, then the report (bench/results/).
#
# usage: bench/bench.sh [--quick]
#   parts (bench/*.sh, each also runnable alone with BENCH_OUT set):
#     xdp_cost   XDP ns/packet via BPF_PROG_TEST_RUN, against two baselines
#     e2e        the lab end to end: xlb against direct, iptables, HAProxy, nginx
#     control    Maglev builds, backend add -> first flow, Docker start/die
#     memory     map sizes, xlbd RSS, the largest flow table
#   XLB_BENCH_PARTS="xdp_cost e2e" runs a subset.
#   XLB_BENCH_RESULTS=DIR writes the report there (default bench/results).
#   BENCH_OUT=DIR keeps the parts' raw TSVs there (default: a temp dir,
#   removed after the report).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export BUILD=${BUILD:-$REPO/build}
PARTS=${XLB_BENCH_PARTS:-xdp_cost e2e control memory}
QUICK=()
[[ ${1-} == --quick ]] && QUICK=(--quick)

say() { printf '\n##### %s\n' "$*"; }

# Figures from a busy machine mislead: say so, loudly, in the output.
check_quiet() {
	local load
	load=$(cut -d' ' -f1 /proc/loadavg)
	if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
		echo "bench.sh: WARNING: load average $load before the run: figures may be noisy" >&2
	fi
}

# The README carries a copy of the headline table between two markers: a
# full run into the committed results replaces it, so the README never
# shows figures of another run than bench/results/summary.md.
refresh_readme_summary() {
	local readme=$REPO/README.md summary=$REPO/bench/results/summary.md
	[[ -f $summary ]] || return 0
	sed -i -e '/^<!-- bench summary: begin/,/^<!-- bench summary: end/{/^<!--/!d}' \
		-e "/^<!-- bench summary: begin/r $summary" "$readme"
	echo "bench.sh: README's headline table refreshed from bench/results/summary.md"
}

main() {
	[[ $(id -u) -eq 0 ]] || { echo "bench.sh: must run as root" >&2; exit 1; }
	"$REPO/scripts/deps.sh" --bench
	local keep_raw=${BENCH_OUT:+1}
	BENCH_OUT=${BENCH_OUT:-$(mktemp -d /tmp/xlb-bench.XXXXXX)}
	mkdir -p "$BENCH_OUT"
	export BENCH_OUT
	local part t0 failed=()
	check_quiet
	for part in $PARTS; do
		say "$part ${QUICK[*]}"
		t0=$SECONDS
		if ! "$REPO/bench/$part.sh" "${QUICK[@]}"; then
			failed+=("$part")
			echo "bench.sh: part $part failed" >&2
		fi
		echo "($part: $((SECONDS - t0)) s)"
	done
	say "report"
	python3 "$REPO/bench/report.py" --out "${XLB_BENCH_RESULTS:-$REPO/bench/results}" \
		"$BENCH_OUT" "${QUICK[@]}"
	[[ -n $keep_raw ]] || rm -rf "$BENCH_OUT"
	if [[ -z ${QUICK[*]} && -z ${XLB_BENCH_RESULTS:-} && -z ${XLB_BENCH_PARTS:-} ]]; then
		refresh_readme_summary
	fi
	if ((${#failed[@]})); then
		echo "bench.sh: failed parts: ${failed[*]}" >&2
		exit 1
	fi
}

main "$@"
