#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The `make test` driver: runs every suite, shows its TAP output as it goes,
# and ends with one line "test: N passed, M failed[, K skipped]".
#
# usage: [ASAN_BUILD=DIR] [FUZZ_BUILD=DIR] tests/run.sh BUILD_DIR
#   ASAN_BUILD/unit/test_*   cmocka unit tests, ASan+UBSan (CMOCKA_MESSAGE_OUTPUT=TAP)
#   tests/layout.sh          what each source folder includes and each program links
#   BUILD_DIR/bpf_test       BPF packet tests, via tests/bpf/run.sh
#   BUILD_DIR/xdp_fuzz       XDP fuzz loop (bounded), via tests/bpf/run.sh
#   FUZZ_BUILD/fuzz/fuzz_*   libFuzzer targets, a quick run each
#   tests/bats/*.bats        netns integration tests (bats --tap), then again
#                            with ASAN_BUILD's xlbd and xlbctl
# Exit status 1 when a test failed or a suite crashed (non-zero exit
# without a failed test, or fewer results than its plan announced).
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:?usage: tests/run.sh BUILD_DIR}
[[ $BUILD == /* ]] || BUILD=$PWD/$BUILD
ASAN_BUILD=${ASAN_BUILD:-$BUILD-asan}
[[ $ASAN_BUILD == /* ]] || ASAN_BUILD=$PWD/$ASAN_BUILD
FUZZ_BUILD=${FUZZ_BUILD:-$BUILD-fuzz}
[[ $FUZZ_BUILD == /* ]] || FUZZ_BUILD=$PWD/$FUZZ_BUILD

PASSED=0
FAILED=0
SKIPPED=0
CRASHED=()

# run_suite NAME CMD...: runs one TAP producer, echoing and counting.
run_suite() {
	local name=$1 line rc=255 plan=0 ok=0 notok=0 skip=0 t0=$SECONDS
	shift
	echo "== $name"
	while IFS= read -r line; do
		if [[ $line == "__suite_exit__ "* ]]; then
			rc=${line#__suite_exit__ }
			continue
		fi
		printf '%s\n' "$line"
		case $line in
		# cmocka reports a skipped test as "not ok N # SKIP name"
		"ok"* | "not ok"*) if [[ ${line,,} == *"# skip"* ]]; then
			skip=$((skip + 1))
		elif [[ $line == ok* ]]; then
			ok=$((ok + 1))
		else
			notok=$((notok + 1))
		fi ;;
		1..*) [[ ${line#1..} =~ ^[0-9]+ ]] && plan=$((plan + BASH_REMATCH[0])) ;;
		esac
	done < <("$@" 2>&1 </dev/null; echo "__suite_exit__ $?")
	# CI's budget is 40 minutes: each suite's share is in the log
	echo "== $name: $ok passed, $notok failed in $((SECONDS - t0)) s"
	PASSED=$((PASSED + ok))
	FAILED=$((FAILED + notok))
	SKIPPED=$((SKIPPED + skip))
	if { ((rc != 0)) && ((notok == 0)); } || ((ok + notok + skip < plan)); then
		echo "== $name: CRASHED (exit $rc, $((ok + notok + skip)) of plan $plan results)"
		CRASHED+=("$name")
	fi
}

# fuzz_tap: the quick libFuzzer runs (tests/fuzz/run.sh), one TAP line
# per target.
fuzz_tap() {
	local bins=("$FUZZ_BUILD"/fuzz/fuzz_*) n=0 line
	echo "1..${#bins[@]}"
	while IFS= read -r line; do
		[[ $line == "fuzz "* ]] || { echo "# $line"; continue; }
		n=$((n + 1))
		if [[ $line == *": ok,"* ]]; then
			echo "ok $n - $line"
		else
			echo "not ok $n - $line"
		fi
	done < <(tests/fuzz/run.sh "${FUZZ_QUICK_SECS:-30}" "${bins[@]}")
}

# xdp_fuzz_tap: the XDP fuzz loop (tests/bpf/xdp_fuzz.c), a bounded
# run as one TAP line; its other output becomes "# " lines.
xdp_fuzz_tap() {
	local line summary="" rc=255
	echo "1..1"
	while IFS= read -r line; do
		if [[ $line == "__rc__ "* ]]; then
			rc=${line#__rc__ }
		elif [[ $line == "xdp_fuzz: "*" packets (seed "* ]]; then
			summary=${line#xdp_fuzz: }
		else
			echo "# $line"
		fi
	done < <(tests/bpf/run.sh "$BUILD/xdp_fuzz" --iterations "${XDP_FUZZ_ITERATIONS:-200000}" 2>&1
		echo "__rc__ $?")
	if [[ $rc == 0 && -n $summary ]]; then
		echo "ok 1 - xdp fuzz: $summary"
	else
		echo "not ok 1 - xdp fuzz: ${summary:-no summary} (exit $rc)"
	fi
}

main() {
	cd "$REPO" || exit 1
	local t
	for t in "$ASAN_BUILD"/unit/test_*; do
		[[ -x $t && -f $t ]] || continue
		CMOCKA_MESSAGE_OUTPUT=TAP run_suite "unit $(basename "$t")" "$t"
	done
	run_suite "layout" tests/layout.sh "$BUILD" "$FUZZ_BUILD"
	if [[ -x $BUILD/bpf_test && -x tests/bpf/run.sh ]]; then
		run_suite "bpf" tests/bpf/run.sh "$BUILD/bpf_test"
	fi
	if [[ -x $BUILD/xdp_fuzz ]]; then
		run_suite "xdp fuzz" xdp_fuzz_tap
	fi
	if compgen -G "$FUZZ_BUILD/fuzz/fuzz_*" >/dev/null; then
		run_suite "fuzz" fuzz_tap
	fi
	if compgen -G "tests/bats/*.bats" >/dev/null; then
		BUILD=$BUILD run_suite "bats" bats --tap tests/bats
	fi
	# the same suite against the sanitizer build of the daemon and CLI;
	# not the compose suite, whose xlbd is the one built into the lb image,
	# nor the bench harness, which measures the optimised build, nor
	# leaks.bats, which runs the normal build under valgrind, nor the soak,
	# whose RSS bound ASan's quarantine would break, nor the Docker
	# discovery suites, whose part of xlbd (the inspect answers' model) the
	# sanitizer build of fuzz_dmodel runs on far more inputs, and whose
	# minutes of dockerd round trips would push CI past its time budget
	# (docker_https stays: the environment's private keys pass there)
	if [[ -x $ASAN_BUILD/xlbd && -x $ASAN_BUILD/xlbctl ]]; then
		local -a files
		mapfile -t files < <(compgen -G "tests/bats/*.bats" |
			grep -Ev '/(docker_compose|docker_discovery|docker_nginx_proxy|bench_harness|leaks|soak)\.bats$')
		XLBD=$ASAN_BUILD/xlbd XLBCTL=$ASAN_BUILD/xlbctl \
			run_suite "bats (ASan+UBSan xlbd, xlbctl)" bats --tap "${files[@]}"
	fi

	local summary="test: $PASSED passed, $((FAILED + ${#CRASHED[@]})) failed"
	echo "== all suites: $SECONDS s"
	((SKIPPED)) && summary+=", $SKIPPED skipped"
	((${#CRASHED[@]})) && echo "crashed suites: ${CRASHED[*]}"
	echo "$summary"
	((FAILED == 0 && ${#CRASHED[@]} == 0))
}

main "$@"
