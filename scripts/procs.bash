# SPDX-License-Identifier: GPL-2.0
# Process helpers shared by scripts/lab.sh and bench/e2e.sh (sourced).

# True while pid $1 runs. A zombie counts as gone: servers reparented to
# PID 1 may be reaped late.
pid_alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# stop_pids PID...: TERM, up to 5 s, then KILL; reaps the caller's own
# children among them (wait fails harmlessly for the others).
stop_pids() {
	local pid deadline=$((SECONDS + 5)) left
	(($#)) || return 0
	kill "$@" 2>/dev/null || true
	while ((SECONDS < deadline)); do
		left=0
		for pid; do pid_alive "$pid" && left=1; done
		((left)) || break
		sleep 0.05
	done
	kill -9 "$@" 2>/dev/null || true
	for pid; do wait "$pid" 2>/dev/null || true; done
}
