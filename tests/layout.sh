#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The source tree's rooms and what each may include, checked on the
# sources and on the linked programs. TAP output, one line per rule.
#
# usage: tests/layout.sh BUILD_DIR [FUZZ_BUILD_DIR]
#
# Folders of userspace/ and what their files may include (besides their
# own folder, include/xlb and system headers):
#   lib/      nothing else: it is shared by every program and test
#   xlbd/     lib/; only main.c also proxy/, tls/ and acme/ (the proxy
#             routes through xlbd/state, so the daemon's modules never
#             include it)
#   proxy/    lib/, xlbd/ and acme/ (the HTTP-01 challenges it answers)
#   tls/      lib/: certificates and the TLS policy, for whoever terminates
#   acme/     lib/: the ACME client; what it gets goes to tls/ through main
#   xlbctl/   lib/
# and include/xlb/ includes only include/xlb/. Cross-folder includes name
# the folder ("lib/addr.h"), so a line says what it depends on. Every C
# file follows .clang-format.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:?usage: tests/layout.sh BUILD_DIR [FUZZ_BUILD_DIR]}
[[ $BUILD == /* ]] || BUILD=$PWD/$BUILD
FUZZ_BUILD=${2:-$BUILD-fuzz}
[[ $FUZZ_BUILD == /* ]] || FUZZ_BUILD=$PWD/$FUZZ_BUILD
N=0
FAILED=0

ok() {
	N=$((N + 1))
	echo "ok $N - $1"
}

not_ok() {
	N=$((N + 1))
	FAILED=$((FAILED + 1))
	echo "not ok $N - $1"
	sed 's/^/#   /'
}

# quoted_includes FILE...: "file:line:path" for each #include "path"
quoted_includes() {
	grep -HnoE '^#[[:space:]]*include[[:space:]]+"[^"]+"' "$@" |
		sed -E 's/#[[:space:]]*include[[:space:]]+"([^"]+)"/\1/'
}

# includes_only NAME ALLOWED_RE FILE...: every quoted include of FILEs is
# a file of its own folder (no slash) or matches ALLOWED_RE.
includes_only() {
	local name=$1 allowed=$2 bad
	shift 2
	bad=$(quoted_includes "$@" | awk -F: -v re="$allowed" '$3 ~ /\// && $3 !~ re')
	if [[ -z $bad ]]; then ok "$name"; else not_ok "$name" <<<"$bad"; fi
}

# links_none NAME BINARY SYMBOL_RE: BINARY defines no symbol matching RE
links_none() {
	local name=$1 bin=$2 re=$3 found
	if [[ ! -x $bin ]]; then
		not_ok "$name" <<<"$bin is not built"
		return
	fi
	found=$(nm --defined-only "$bin" | awk '{print $3}' | grep -E "$re")
	if [[ -z $found ]]; then ok "$name"; else not_ok "$name" <<<"$found"; fi
}

# formatted NAME: clang-format would change no line of a C file
formatted() {
	local out
	local -a c_files
	mapfile -t c_files < <(git ls-files -co --exclude-standard -- '*.c' '*.h')
	if ! out=$(clang-format --dry-run --Werror "${c_files[@]}" 2>&1); then
		not_ok "$1" <<<"$(grep -E 'warning:|error:' <<<"$out" | head -20)"
	else
		ok "$1"
	fi
}

# readme_summary NAME: the README's table between its markers is the
# summary bench.sh wrote (bench.sh refreshes it after a full run)
readme_summary() {
	local diff
	diff=$(diff <(sed -n '/^<!-- bench summary: begin/,/^<!-- bench summary: end/{/^<!--/!p}' \
		README.md) bench/results/summary.md)
	if [[ -z $diff ]] && grep -q '^<!-- bench summary: begin' README.md; then
		ok "$1"
	else
		not_ok "$1" <<<"${diff:-no bench summary markers in README.md}"
	fi
}

main() {
	cd "$REPO/userspace" || exit 1
	local -a xlbd_mods fuzzers
	mapfile -t xlbd_mods < <(ls xlbd/*.[ch] | grep -v '^xlbd/main\.c$')
	mapfile -t fuzzers < <(compgen -G "$FUZZ_BUILD/fuzz/fuzz_*")
	echo "1..$((13 + ${#fuzzers[@]}))"
	includes_only "lib/ includes only lib/ and include/xlb" '^xlb/' lib/*.[ch]
	includes_only "xlbd/ modules include only lib/ and include/xlb" '^(lib|xlb)/' \
		"${xlbd_mods[@]}"
	includes_only "xlbd/main.c includes lib/, proxy/, tls/, acme/ and include/xlb" \
		'^(lib|proxy|tls|acme|xlb)/' xlbd/main.c
	includes_only "proxy/ includes only lib/, xlbd/, acme/ and include/xlb" \
		'^(lib|xlbd|acme|xlb)/' proxy/*.[ch]
	includes_only "tls/ includes only lib/ and include/xlb" '^(lib|xlb)/' tls/*.[ch]
	includes_only "acme/ includes only lib/ and include/xlb" '^(lib|xlb)/' acme/*.[ch]
	includes_only "xlbctl/ includes only lib/ and include/xlb" '^(lib|xlb)/' xlbctl/*.[ch]
	cd "$REPO" || exit 1
	includes_only "include/xlb includes only include/xlb" '^$' include/xlb/*.h
	formatted "C sources follow .clang-format"
	readme_summary "README's headline table is bench/results/summary.md"
	# the CLI reads maps and talks to the control socket: no event loop,
	# no health checker, no proxy in it
	links_none "xlbctl links no event loop" "$BUILD/xlbctl" '^xlb_loop_'
	links_none "xlbctl links no health checker" "$BUILD/xlbctl" '^xlb_health_'
	links_none "xlbctl links no proxy" "$BUILD/xlbctl" '^xlb_proxy_'
	local f
	for f in "${fuzzers[@]}"; do
		links_none "$(basename "$f") links no event loop or health checker" "$f" \
			'^xlb_(loop|health)_'
	done
	((FAILED == 0))
}

main "$@"
