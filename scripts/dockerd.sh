#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A dockerd for the compose tests, started only when none is running and
# undone only when this script started it.
#
# usage: dockerd.sh start | stop | restart | status
#   start    uses a dockerd that already answers on /var/run/docker.sock;
#            otherwise starts Debian's dockerd with its default paths
#            (socket /var/run/docker.sock, data /var/lib/docker, exec-root
#            /var/run/docker), logs to /run/xlb-dockerd/dockerd.log, and
#            waits until /_ping answers. Prints `dockerd=started` or
#            `dockerd=reused` on stdout: a caller stops only what it started.
#   stop     only if `start` started it: stops dockerd and the containerd it
#            spawned, then removes what dockerd left in the host (its
#            iptables chains and rules, the chain policies it changed, the
#            docker0 and br-* links, the shared mount below). Images and
#            volumes in /var/lib/docker stay: they are the tests' build cache.
#   restart  the daemon only (a test restarts dockerd under a running xlbd):
#            dockerd runs with --live-restore, so containers keep running.
#   status   prints whether a dockerd answers and whether we started it.
# Every command is safe to run twice.
#
# The lb container follows containers' netns through a bind mount of
# /run/docker/netns with rslave propagation, which Docker refuses unless the
# mount holding that directory is shared. systemd makes / shared; where / is
# private (no systemd), `start` makes /run/docker/netns a shared mount of its
# own before dockerd starts, as `ip netns` does for /run/netns.
set -euo pipefail

SOCK=/var/run/docker.sock
STATE=/run/xlb-dockerd
LOG=$STATE/dockerd.log
# Written only by `start` when it started dockerd: its presence is what
# makes `stop` act.
PIDFILE=$STATE/dockerd.pid
CONTAINERD_PIDFILE=$STATE/containerd.pid
NETNS_DIR=/run/docker/netns
# Present when `start` made NETNS_DIR a shared mount.
NETNS_MARK=$STATE/netns-mount
START_TIMEOUT=${START_TIMEOUT:-60}
# dockerd gives running containers 10 s (their stop timeout) and itself 15 s
# to shut down.
STOP_TIMEOUT=${STOP_TIMEOUT:-60}

die() {
	echo "dockerd.sh: $*" >&2
	exit 1
}

say() {
	echo "dockerd.sh: $*" >&2
}

ping_ok() {
	[[ $(curl -s -m 2 --unix-socket "$SOCK" http://localhost/_ping 2>/dev/null) == OK ]]
}

# pid_is PID NAME: PID runs the executable NAME (a zombie does not count).
pid_is() {
	local exe stat
	exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
	[[ ${exe##*/} == "$2" ]] || return 1
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# wait_gone PID NAME TIMEOUT: polls until PID no longer runs NAME.
wait_gone() {
	local deadline=$((SECONDS + $3))
	while pid_is "$1" "$2"; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

# Links dockerd makes for its networks.
docker_links() {
	ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' |
		grep -E '^(docker0|br-[0-9a-f]{12})$' || true
}

# --- the host state before start ---------------------------------------------------

record_host_state() {
	iptables-save >"$STATE/iptables.before"
	ip6tables-save >"$STATE/ip6tables.before"
	docker_links >"$STATE/links.before"
	sysctl -n net.ipv4.ip_forward >"$STATE/ip_forward.before"
}

# --- start -------------------------------------------------------------------------

share_netns_dir() {
	local prop
	mkdir -p "$NETNS_DIR"
	prop=$(findmnt -n -o PROPAGATION --target "$NETNS_DIR")
	[[ $prop == shared* ]] && return 0
	mount --bind "$NETNS_DIR" "$NETNS_DIR"
	mount --make-shared "$NETNS_DIR"
	touch "$NETNS_MARK"
}

start() {
	if ping_ok; then
		if [[ -s $PIDFILE ]]; then say "dockerd (pid $(cat "$PIDFILE")) answers"; else say "using the running dockerd"; fi
		echo dockerd=reused
		return 0
	fi
	local other
	for other in $(pgrep -x dockerd || true); do
		pid_is "$other" dockerd || continue
		die "dockerd pid $other runs but $SOCK does not answer; not starting another"
	done
	command -v dockerd >/dev/null || die "dockerd not installed: run scripts/deps.sh"
	mkdir -p "$STATE"
	# A state from a start whose dockerd died keeps its pre-start record:
	# that is the host as it was before us.
	[[ -s $STATE/iptables.before ]] || record_host_state
	share_netns_dir
	echo "--- dockerd start $(date '+%F %T')" >>"$LOG"
	# Its own session: not killed with the shell or the test that started it.
	# --live-restore: containers outlive a dockerd restart, as on hosts
	# where it is on (the restart test checks traffic goes on meanwhile)
	setsid dockerd --live-restore </dev/null >>"$LOG" 2>&1 3>&- &
	local pid=$! t0=$SECONDS deadline=$((SECONDS + START_TIMEOUT))
	echo "$pid" >"$PIDFILE"
	until ping_ok; do
		# Alive, not its name: setsid may not have exec'd dockerd yet.
		if ! kill -0 "$pid" 2>/dev/null || [[ $(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) == Z ]]; then
			tail -n 30 "$LOG" >&2
			stop
			die "dockerd exited during start-up (log above, $LOG)"
		fi
		if ((SECONDS >= deadline)); then
			tail -n 30 "$LOG" >&2
			stop
			die "dockerd did not answer $SOCK within ${START_TIMEOUT}s (log above)"
		fi
		sleep 0.1
	done
	# dockerd runs its own containerd unless a system one is there.
	if [[ -s /var/run/docker/containerd/containerd.pid ]]; then
		cp /var/run/docker/containerd/containerd.pid "$CONTAINERD_PIDFILE"
	fi
	say "started dockerd pid $pid (ready in $((SECONDS - t0))s), log $LOG"
	echo dockerd=started
}

# --- stop --------------------------------------------------------------------------

stop_process() {
	local pid=$1 name=$2
	pid_is "$pid" "$name" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	if ! wait_gone "$pid" "$name" "$STOP_TIMEOUT"; then
		say "$name pid $pid still there after ${STOP_TIMEOUT}s; killing it"
		kill -KILL "$pid" 2>/dev/null || true
		wait_gone "$pid" "$name" 10 || die "$name pid $pid survives SIGKILL"
	fi
}

# filter_rules BEFORE: the current ruleset (iptables-save format on stdin)
# without dockerd's chains, the rules that jump to them and the rules for
# its bridges, with every built-in chain's policy as it was in BEFORE.
# Rules anyone else added while dockerd ran are kept.
filter_rules() {
	awk -v before="$1" '
		BEGIN {
			while ((getline line < before) > 0) {
				if (line ~ /^\*/) table = substr(line, 2)
				else if (line ~ /^:/) { split(line, f, " "); policy[table, f[1]] = f[2] }
			}
		}
		/^\*/ { table = substr($0, 2) }
		/^:DOCKER/ { next }
		/^:/ && ((table, $1) in policy) { $2 = policy[table, $1]; print; next }
		/^-A DOCKER/ { next }
		/ -j DOCKER/ || / -g DOCKER/ { next }
		/ (-i|-o) (docker0|br-[0-9a-f]+)( |$)/ { next }
		{ print }
	'
}

# restore_iptables CMD: removes dockerd's part of CMD's (iptables or
# ip6tables) ruleset, in one atomic restore per table.
restore_iptables() {
	local cmd=$1 before=$STATE/$1.before now
	[[ -s $before ]] || return 0
	now=$("$cmd-save")
	grep -q DOCKER <<<"$now" || grep -qE -- '-[io] (docker0|br-)' <<<"$now" || return 0
	filter_rules "$before" <<<"$now" | "$cmd-restore"
	if "$cmd-save" | grep -E 'DOCKER|-[io] (docker0|br-)' >&2; then
		die "$cmd: dockerd's rules are still there (above)"
	fi
	# What remains different from before start is someone else's change.
	if ! diff <(grep -v '^#' "$before" | sed 's/\[[0-9:]*\]$//') \
		<("$cmd-save" | grep -v '^#' | sed 's/\[[0-9:]*\]$//') >/dev/null; then
		say "$cmd: ruleset differs from the pre-start one in rules that are not dockerd's:"
		diff <(grep -v '^#' "$before" | sed 's/\[[0-9:]*\]$//') \
			<("$cmd-save" | grep -v '^#' | sed 's/\[[0-9:]*\]$//') >&2 || true
	fi
}

remove_links() {
	local link
	for link in $(docker_links); do
		grep -qx "$link" "$STATE/links.before" 2>/dev/null && continue
		ip link del "$link" 2>/dev/null || say "could not delete link $link"
	done
}

# Mounts dockerd makes under its data and exec roots; a clean shutdown
# leaves none, a killed one may.
unmount_leftovers() {
	local m
	awk -v keep="$NETNS_DIR" '$2 ~ "^(/var/lib/docker|/run/docker|/var/run/docker)/" && $2 != keep { print $2 }' /proc/self/mounts |
		sort -r | while read -r m; do
		say "unmounting leftover $m"
		umount -l "$m" || say "could not unmount $m"
	done
}

stop() {
	if ! [[ -s $PIDFILE ]]; then
		say "dockerd was not started by dockerd.sh: leaving it alone"
		return 0
	fi
	local pid ids
	pid=$(cat "$PIDFILE")
	# with --live-restore they would outlive dockerd; on our dockerd they
	# are what tests left behind
	ids=$(docker ps -q 2>/dev/null || true)
	# shellcheck disable=SC2086 # one id per word
	[[ -z $ids ]] || docker stop -t 5 $ids >/dev/null 2>&1 || true
	stop_process "$pid" dockerd
	if [[ -s $CONTAINERD_PIDFILE ]]; then
		stop_process "$(cat "$CONTAINERD_PIDFILE")" containerd
	fi
	unmount_leftovers
	if [[ -e $NETNS_MARK ]]; then
		umount "$NETNS_DIR" 2>/dev/null || umount -l "$NETNS_DIR" || say "could not unmount $NETNS_DIR"
		rm -f "$NETNS_MARK"
	fi
	restore_iptables iptables
	restore_iptables ip6tables
	remove_links
	if [[ -s $STATE/ip_forward.before ]]; then
		sysctl -qw "net.ipv4.ip_forward=$(cat "$STATE/ip_forward.before")"
	fi
	# A dead dockerd's socket would make `docker` wait for nothing.
	ping_ok || rm -f "$SOCK"
	rm -f "$PIDFILE" "$CONTAINERD_PIDFILE" "$STATE"/*.before
	say "stopped dockerd pid $pid and removed its host state"
}

# The daemon only: its containers (live-restore), their containerd, links
# and rules stay, and the new dockerd takes them over.
restart() {
	if ! [[ -s $PIDFILE ]]; then
		die "the running dockerd was not started by dockerd.sh: not restarting it"
	fi
	stop_process "$(cat "$PIDFILE")" dockerd
	rm -f "$PIDFILE"
	start >/dev/null
	say "restarted dockerd; containers kept running"
}

status() {
	if ping_ok; then echo "dockerd: answers on $SOCK"; else echo "dockerd: no answer on $SOCK"; fi
	if [[ -s $PIDFILE ]]; then echo "started by dockerd.sh: pid $(cat "$PIDFILE")"; fi
}

main() {
	[[ $(id -u) -eq 0 ]] || die "must run as root"
	case ${1-} in
	start) start ;;
	stop) stop ;;
	restart) restart ;;
	status) status ;;
	*) die "usage: dockerd.sh start | stop | restart | status" ;;
	esac
}

main "$@"
