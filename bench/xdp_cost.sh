#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Bench part 1: the XDP data path's cost per packet, measured with
# BPF_PROG_TEST_RUN by $BUILD/xdp_cost (bench/xdp_cost.c, which says
# how). It runs in the private network namespace of tests/bpf/run.sh, whose
# topology makes the redirect step's fib lookup and devmap answer as on a
# balancer; the namespace and every BPF object vanish with the process, so
# nothing is left to clean up.
#
# Prints the markdown table; writes $BENCH_OUT/xdp_cost.tsv.
#
# usage: BUILD=build-dir BENCH_OUT=dir bench/xdp_cost.sh [--quick]
set -euo pipefail

die() {
	echo "xdp_cost.sh: $*" >&2
	exit 2
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$root/build}
case "$BUILD" in
/*) ;;
*) BUILD=$root/$BUILD ;;
esac
args=()
case "${1:-}" in
--quick) args=(--quick) ;;
"") ;;
*) die "usage: $0 [--quick]" ;;
esac
[ "$(id -u)" -eq 0 ] || die "needs root (BPF and a network namespace)"

if [ -z "${BENCH_OUT:-}" ]; then
	BENCH_OUT=$(mktemp -d /tmp/xlb-bench.XXXXXX)
	echo "xdp_cost.sh: BENCH_OUT not set, writing to $BENCH_OUT" >&2
fi
mkdir -p "$BENCH_OUT"

# up to date with bpf/ (a no-op when the driver has built it)
make --no-print-directory -C "$root" BUILD="$BUILD" "$BUILD/xdp_cost" >&2

cmd="BUILD=$BUILD bench/xdp_cost.sh ${args[*]:-}"
"$root/tests/bpf/run.sh" "$BUILD/xdp_cost" "${args[@]}" --tsv "$BENCH_OUT/xdp_cost.tsv" \
	--command "${cmd% }"
