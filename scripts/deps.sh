#!/usr/bin/env bash
# Installs everything xlb's build and tests need on Debian 12 with apt-get.
# Idempotent and silent when all is present; never leaves a daemon running
# (nginx-light's postinst would otherwise start nginx on :80).
set -euo pipefail

PACKAGES=(
	build-essential clang llvm pkg-config
	libbpf-dev libelf-dev zlib1g-dev libmnl-dev libinih-dev libjansson-dev
	libcurl4-openssl-dev libcmocka-dev bpftool libclang-rt-14-dev openssl
	bats iproute2 ethtool iputils-ping python3 curl nginx-light socat
)

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

# nginx-light's postinst may still start nginx (e.g. when systemd is PID 1
# and bypasses policy-rc.d): stop whatever the install started.
stop_started_nginx() {
	if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
		systemctl stop nginx.service >/dev/null 2>&1 || true
		systemctl disable nginx.service >/dev/null 2>&1 || true
	fi
	if [[ -s /run/nginx.pid ]]; then
		kill "$(cat /run/nginx.pid)" 2>/dev/null || true
	fi
}

main() {
	if [[ $(id -u) -ne 0 ]]; then
		echo "deps.sh: must run as root (apt-get install)" >&2
		exit 1
	fi
	local -a missing
	mapfile -t missing < <(missing_packages)
	((${#missing[@]} == 0)) && return 0

	echo "deps.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	trap restore_policy EXIT
	deny_service_starts
	local nginx_before=0
	[[ -s /run/nginx.pid ]] && nginx_before=1
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	((nginx_before)) || stop_started_nginx
	mapfile -t missing < <(missing_packages)
	if ((${#missing[@]})); then
		echo "deps.sh: still missing after install: ${missing[*]}" >&2
		exit 1
	fi
}

main "$@"
