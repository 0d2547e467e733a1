#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Installs everything xlb's build and tests need on Debian 12 with apt-get.
# Idempotent and silent when all is present; never leaves a daemon running
# (nginx-light's postinst would otherwise start nginx on :80, docker.io's
# dockerd and containerd: tests start their own with scripts/dockerd.sh;
# prometheus its server on :9090).
set -euo pipefail

PACKAGES=(
	build-essential clang llvm pkg-config
	libbpf-dev libelf-dev zlib1g-dev libmnl-dev libinih-dev libjansson-dev
	libcurl4-openssl-dev libmicrohttpd-dev libcap-dev libcmocka-dev bpftool libclang-rt-14-dev openssl
	# xlbd's system call allow-list after set-up (userspace/xlbd/seccomp.c)
	libseccomp-dev
	# "~regex" host names, as nginx-proxy's users write them (userspace/lib/hostmap.c)
	libpcre2-dev
	# nginx-proxy's VIRTUAL_HOST_MULTIPORTS, YAML (userspace/xlbd/multiports.c)
	libyaml-dev
	# TLS termination and the ACME client; pebble, the ACME test server
	# (tests/bats/acme.bats)
	libssl-dev pebble
	# the C style check of tests/layout.sh (.clang-format)
	clang-format
	bats iproute2 ethtool iputils-ping python3 curl nginx-light socat
	# capsh, which names xlbd's capability sets (tests/bats/privilege.bats)
	libcap2-bin
	# a full xlbd life under memcheck (tests/bats/leaks.bats); trafgen, the
	# SYN flood of tests/bats/faults.bats
	valgrind netsniff-ng
	# what the proxy reads into userspace (tests/bats/proxy_requests.bats)
	strace
	# promtool, which checks xlbd's /metrics (tests/bats/metrics.bats); the
	# package's own server is stopped again like the daemons below
	prometheus
	# the compose stack and its tests (tests/bats/docker_compose.bats):
	# dockerd, compose v1, stand-in base images built from a Debian root
	# (scripts/images.sh), a real browser for the demo page
	docker.io docker-compose iptables debootstrap chromium
)

# `deps.sh --bench`, for make bench: the load generators, the peers xlb is
# measured against, and the chart.
BENCH_PACKAGES=(
	wrk haproxy netsniff-ng libnginx-mod-stream gnuplot-nox bpftool iptables nftables
)

# Daemons a package's postinst may start; stopped again unless they ran
# before the install.
DAEMONS=(nginx dockerd containerd haproxy prometheus)

# Prints the packages that are not fully installed.
missing_packages() {
	local p status
	for p in "${PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		[[ $status == installed ]] || echo "$p"
	done
}

# Makes invoke-rc.d refuse to start services for the duration of the
# install, unless the machine already has a policy (e.g. Docker images do).
POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=0
deny_service_starts() {
	[[ -e $POLICY ]] && return 0
	printf '#!/bin/sh\n# written by xlb scripts/deps.sh for the install only\nexit 101\n' >"$POLICY"
	chmod 0755 "$POLICY"
	OWN_POLICY=1
}

restore_policy() {
	if ((OWN_POLICY)); then rm -f "$POLICY"; fi
}

# Pids of the DAEMONS running now, one per line (exact process names;
# zombies do not count).
daemon_pids() {
	local d
	for d in "${DAEMONS[@]}"; do pgrep -r D,R,S,T -x "$d" || true; done
}

# The systemd units behind DAEMONS that are active now (none without systemd).
UNITS=(nginx.service docker.socket docker.service containerd.service haproxy.service
	prometheus.service)
active_units() {
	local unit
	command -v systemctl >/dev/null && [[ -d /run/systemd/system ]] || return 0
	for unit in "${UNITS[@]}"; do
		if systemctl is-active --quiet "$unit"; then echo "$unit"; fi
	done
}

# Lines of $2 that are not in $1.
new_lines() {
	comm -13 <(sort <<<"$1") <(sort <<<"$2") | grep -v '^$' || true
}

# A postinst may still start its daemon (e.g. when systemd is PID 1 and
# bypasses policy-rc.d): stop exactly the units and processes that appeared
# during the install (by pid), and wait for them to go.
stop_started_daemons() {
	local units_before=$1 pids_before=$2 unit pid i left
	for unit in $(new_lines "$units_before" "$(active_units)"); do
		systemctl stop "$unit" >/dev/null 2>&1 || true
		# nginx would take :80 at the next boot, where xlb listens;
		# prometheus is here for promtool only.
		if [[ $unit == nginx.service || $unit == haproxy.service || $unit == prometheus.service ]]; then
			systemctl disable "$unit" >/dev/null 2>&1 || true
		fi
	done
	for pid in $(new_lines "$pids_before" "$(daemon_pids)"); do
		kill "$pid" 2>/dev/null || true
	done
	for ((i = 0; i < 100; i++)); do
		left=$(new_lines "$pids_before" "$(daemon_pids)")
		[[ -z $left ]] && return 0
		sleep 0.1
	done
	echo "deps.sh: still running after the install: pids $(tr "\n" " " <<<"$left")" >&2
	return 1
}

main() {
	if [[ $(id -u) -ne 0 ]]; then
		echo "deps.sh: must run as root (apt-get install)" >&2
		exit 1
	fi
	if [[ ${1-} == --bench ]]; then
		PACKAGES+=("${BENCH_PACKAGES[@]}")
	elif [[ -n ${1-} ]]; then
		echo "usage: deps.sh [--bench]" >&2
		exit 2
	fi
	local -a missing
	mapfile -t missing < <(missing_packages)
	((${#missing[@]} == 0)) && return 0

	echo "deps.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	trap restore_policy EXIT
	deny_service_starts
	local units_before pids_before
	units_before=$(active_units)
	pids_before=$(daemon_pids)
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	stop_started_daemons "$units_before" "$pids_before"
	mapfile -t missing < <(missing_packages)
	if ((${#missing[@]})); then
		echo "deps.sh: still missing after install: ${missing[*]}" >&2
		exit 1
	fi
}

main "$@"
