#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs libFuzzer targets, side by side, for a bounded time and prints one
# line per target. The committed corpus (tests/fuzz/corpus/NAME/) is a read-only
# seed: libFuzzer writes what it finds into a temporary directory, which
# is removed afterwards. A crash leaves its input and the log in the
# target's build directory. Exit 1 when any target failed.
# usage: tests/fuzz/run.sh SECONDS BUILD/fuzz/fuzz_NAME...
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SECS=${1:?usage: tests/fuzz/run.sh SECONDS FUZZER...}
shift

# stat NAME LOG: one of libFuzzer's -print_final_stats numbers.
stat() {
	sed -n "s/^stat::$1: *\([0-9]*\)$/\1/p" "$2" | tail -n 1
}

# run_target BIN: runs one target; prints its line; returns its status.
run_target() {
	local bin=$1 name dir work log rc runs new cov
	name=${bin##*/fuzz_}
	dir=$(dirname "$bin")
	log=$dir/$name.log
	work=$(mktemp -d)
	local -a args=(-max_total_time="$SECS" -timeout=10 -print_final_stats=1
		-artifact_prefix="$dir/$name-")
	[[ -f $HERE/$name.dict ]] && args+=(-dict="$HERE/$name.dict")
	"$bin" "${args[@]}" "$work" "$HERE/corpus/$name" >"$log" 2>&1
	rc=$?
	new=$(find "$work" -type f | wc -l)
	rm -rf "$work"
	runs=$(stat number_of_executed_units "$log")
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
	if ((rc != 0)); then
		echo "fuzz $name: FAILED (exit $rc) after ${runs:-?} runs; log $log"
		grep -m 3 -E 'ERROR|SUMMARY|Test unit written' "$log" | sed 's/^/  /'
		return 1
	fi
	echo "fuzz $name: ok, ${runs:-?} runs in ${SECS}s, ${cov:-cov: ?}, $new new inputs (discarded)"
}

# The targets run side by side, each for SECS of wall time: the bounded
# run in make test then takes SECS, not SECS per target. Their lines come
# in the order given.
main() {
	local bin i failed=0 out
	local -a pids=()
	out=$(mktemp -d)
	for i in $(seq 1 $#); do
		bin=${!i}
		run_target "$bin" >"$out/$i" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || failed=1
		cat "$out/$((i + 1))"
	done
	rm -rf "$out"
	return "$failed"
}

main "$@"
