#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# The short soak (scripts/soak.sh; `make soak` runs it for 10 minutes):
# 60 s of L4 and Host-routed client loops through xlbd with a scaling event
# every 10 s. No request may fail, xlbd's descriptors must be back to their
# count before the load, and its RSS may grow by less than 1 MiB over the
# second half: a bound on memory, not on time.

load helpers

@test "soak 60 s, events every 10 s: no failed request, descriptors back to their start, RSS flat" {
	run env BUILD="$BUILD" "$REPO/scripts/soak.sh" 60 --events-every 10
	echo "$output"
	local line
	while IFS= read -r line; do echo "# $line" >&3; done < <(grep -E '^(\||soak )' <<<"$output")
	[[ $status -eq 0 ]] || { fail "soak.sh exited $status"; return 1; }
	local req failed events fd0 fd1 growth
	req=$(sed -n 's/^soak requests=\([0-9]*\) .*/\1/p' <<<"$output")
	failed=$(sed -n 's/^soak requests=[0-9]* failed=\([0-9]*\) .*/\1/p' <<<"$output")
	events=$(sed -n 's/^soak .* events=\([0-9]*\) .*/\1/p' <<<"$output")
	fd0=$(sed -n 's/^soak fds start=\([0-9]*\) .*/\1/p' <<<"$output")
	fd1=$(sed -n 's/^soak fds start=[0-9]* end=\([0-9]*\) .*/\1/p' <<<"$output")
	growth=$(sed -n 's/^soak rss_kib .* second_half_growth_kib=\(-\{0,1\}[0-9]*\) .*/\1/p' <<<"$output")
	echo "requests=$req failed=$failed events=$events fds=$fd0->$fd1 rss_growth_second_half_kib=$growth" >&2
	((req > 1000)) || { fail "only $req requests"; return 1; }
	((failed == 0)) || { fail "$failed requests failed"; return 1; }
	((events >= 5)) || { fail "only $events scaling events"; return 1; }
	((fd1 <= fd0)) || { fail "xlbd holds $fd1 descriptors after the load, $fd0 before"; return 1; }
	((growth < 1024)) || { fail "xlbd's RSS grew by $growth KiB over the second half"; return 1; }
}
