#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The network-namespace lab shared by the bats tests, the demo and the bench.
#
#   xlb-client  c0 10.200.0.2/24 fd00:200::2/64 ---- u0 10.200.0.1/24 fd00:200::1/64  xlb-lb
#   xlb-lb      b<i> 10.200.<i>.1/24 fd00:2<ii>::1/64 ---- eth0 10.200.<i>.2/24 fd00:2<ii>::2/64  xlb-be<i>
#
# The client routes the VIPs 10.200.0.100/30 and fd00:200::100/126 to the
# lb, which has no address and no route for them: only xlb's uplink program
# (XDP or tc) delivers them.
#
# The client's c0 has tx checksum offload off by default, so that it sends
# complete checksums as a remote host's NIC would and XDP on u0 can serve
# it. --client-offload (or XLB_LAB_CLIENT_OFFLOAD=1) keeps the veth's
# default offloads: partial checksums, as a local stack sends them (nested
# containers, kind, CI runners), which only the tc uplink program can
# carry; `lab.sh client-offload on|off` switches them on a running lab.
#
# usage: lab.sh up [N] [--client-offload] | down | status | client-offload on|off
#        lab.sh serve-api I | serve-web I | serve-name I
#        lab.sh serve-http I [PORT [FILE]] | serve-tls I CN
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/procs.bash
source "$REPO/scripts/procs.bash"
STATE=/run/xlb-lab
PYTHON=${PYTHON:-python3}
READY_TIMEOUT=${READY_TIMEOUT:-10}

die() {
	echo "lab.sh: $*" >&2
	exit 1
}

# ii: the backend index as two digits, for fd00:2<ii>::/64.
two_digits() { printf '%02d' "$1"; }

in_ns() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" "$@"
}

# Every namespace that looks like the lab's, whoever made it.
lab_namespaces() {
	ip netns list | awk '{print $1}' | grep -E '^xlb-(client|lb|be[0-9]+)$' || true
}

# --- building ----------------------------------------------------------------

make_ns() {
	ip netns add "$1"
	ip -n "$1" link set lo up
}

setup_client() {
	make_ns xlb-client
	make_ns xlb-lb
	ip -n xlb-client link add c0 type veth peer name u0 netns xlb-lb
	ip -n xlb-client addr add 10.200.0.2/24 dev c0
	ip -n xlb-client addr add fd00:200::2/64 dev c0 nodad
	ip -n xlb-lb addr add 10.200.0.1/24 dev u0
	ip -n xlb-lb addr add fd00:200::1/64 dev u0 nodad
	ip -n xlb-client link set c0 up
	ip -n xlb-lb link set u0 up
	# XDP must see complete checksums, as from a real NIC (see the top)
	[[ ${XLB_LAB_CLIENT_OFFLOAD:-0} == 1 ]] || client_offload off
	ip -n xlb-client route add 10.200.0.100/30 via 10.200.0.1
	ip -n xlb-client route add fd00:200::100/126 via fd00:200::1
	# The backends' subnets, for plain routed traffic (and tests of it).
	ip -n xlb-client route add 10.200.0.0/16 via 10.200.0.1
	ip -n xlb-client route add fd00:200::/23 via fd00:200::1
	in_ns xlb-lb sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
}

setup_backend() {
	local i=$1 ii ns=xlb-be$1
	ii=$(two_digits "$i")
	make_ns "$ns"
	ip -n xlb-lb link add "b$i" type veth peer name eth0 netns "$ns"
	ip -n xlb-lb addr add "10.200.$i.1/24" dev "b$i"
	ip -n xlb-lb addr add "fd00:2$ii::1/64" dev "b$i" nodad
	ip -n "$ns" addr add "10.200.$i.2/24" dev eth0
	ip -n "$ns" addr add "fd00:2$ii::2/64" dev eth0 nodad
	ip -n xlb-lb link set "b$i" up
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add default via "10.200.$i.1"
	ip -n "$ns" route add default via "fd00:2$ii::1"
}

# A veth reports carrier a moment after "up": wait for every lab link to be
# operationally up so that the first packet of a test is not lost.
links_up() {
	local n=$1 i
	[[ $(ip -n xlb-client -br link show c0) == *" UP "* ]] || return 1
	[[ $(ip -n xlb-lb -br link show u0) == *" UP "* ]] || return 1
	for ((i = 1; i <= n; i++)); do
		[[ $(ip -n xlb-lb -br link show "b$i") == *" UP "* ]] || return 1
		[[ $(ip -n "xlb-be$i" -br link show eth0) == *" UP "* ]] || return 1
	done
}

wait_links_up() {
	local deadline=$((SECONDS + READY_TIMEOUT))
	until links_up "$1"; do
		((SECONDS < deadline)) || die "lab links did not come up"
		sleep 0.05
	done
}

# client_offload on|off: the client's tx checksum offload (see the top).
client_offload() {
	case ${1:-} in
	on | off) in_ns xlb-client ethtool -K c0 tx "$1" >/dev/null ;;
	*) die "usage: lab.sh client-offload on|off" ;;
	esac
}

lab_up() {
	if [[ ${2:-} == --client-offload || ${1:-} == --client-offload ]]; then
		XLB_LAB_CLIENT_OFFLOAD=1
		[[ ${1:-} == --client-offload ]] && shift
	fi
	local n=${1:-4} i
	[[ $n == --client-offload ]] && n=4
	if ! [[ $n =~ ^[0-9]+$ ]] || ((n < 1 || n > 99)); then
		die "backend count must be 1..99, got '$n'"
	fi
	lab_down
	mkdir -p "$STATE/pids" "$STATE/logs"
	echo "$n" >"$STATE/backends"
	setup_client
	for ((i = 1; i <= n; i++)); do
		setup_backend "$i"
	done
	wait_links_up "$n"
	echo "lab: up with $n backends"
}

# --- tearing down ------------------------------------------------------------

lab_down() {
	local ns f pid
	local -a pids=()
	if [[ -d $STATE/pids ]]; then
		# Only pids still inside a lab netns: a recorded pid may have been
		# reused by an unrelated process since.
		for f in "$STATE"/pids/*.pid; do
			[[ -e $f ]] || continue
			pid=$(cat "$f")
			[[ $(ip netns identify "$pid" 2>/dev/null) == xlb-* ]] && pids+=("$pid")
		done
	fi
	for ns in $(lab_namespaces); do
		mapfile -t -O "${#pids[@]}" pids < <(ip netns pids "$ns")
	done
	stop_pids "${pids[@]}"
	for ns in $(lab_namespaces); do
		ip netns del "$ns"
	done
	rm -rf "$STATE"
}

# --- status ------------------------------------------------------------------

lab_status() {
	local ns f name
	local -a nss
	mapfile -t nss < <(lab_namespaces)
	if ((${#nss[@]} == 0)); then
		echo "lab: down"
		return 0
	fi
	for ns in "${nss[@]}"; do
		echo "== $ns"
		ip -n "$ns" -br addr show | grep -v '^lo ' || true
	done
	for f in "$STATE"/pids/*.pid; do
		[[ -e $f ]] || continue
		name=$(basename "$f" .pid)
		if pid_alive "$(cat "$f")"; then
			echo "server $name: running pid=$(cat "$f")"
		else
			echo "server $name: dead (log: $STATE/logs/$name.log)"
		fi
	done
}

# --- servers in backends -----------------------------------------------------

check_backend() {
	[[ $1 =~ ^[0-9]+$ ]] || die "backend index must be a number, got '$1'"
	[[ -e /run/netns/xlb-be$1 ]] || die "no backend $1 (lab up?)"
}

# True when something in netns $1 listens on $2 (tcp|udp) port $3.
listening() {
	local flag=-t
	[[ $2 == udp ]] && flag=-u
	[[ -n $(in_ns "$1" ss -Hln "$flag" "sport = :$3") ]]
}

# Starts "$@" in netns $ns in the background as server $name, detached from
# our stdio (bats waits for fd 3 to close), and records its pid.
start_server() {
	local ns=$1 name=$2
	shift 2
	local log=$STATE/logs/$name.log
	local pidfile=$STATE/pids/$name.pid
	if [[ -e $pidfile ]] && pid_alive "$(cat "$pidfile")"; then
		stop_pids "$(cat "$pidfile")"
	fi
	setsid nsenter --net="/run/netns/$ns" "$@" </dev/null >"$log" 2>&1 3>&- 4>&- 5>&- &
	echo $! >"$pidfile"
}

# Polls until netns $1 listens on every proto/port given, or fails with the
# server's log.
wait_listening() {
	local ns=$1 name=$2 deadline=$((SECONDS + READY_TIMEOUT)) spec ok
	shift 2
	while ((SECONDS < deadline)); do
		ok=1
		for spec; do listening "$ns" "${spec%/*}" "${spec#*/}" || ok=0; done
		((ok)) && return 0
		pid_alive "$(cat "$STATE/pids/$name.pid")" || break
		sleep 0.05
	done
	cat "$STATE/logs/$name.log" >&2 || true
	die "server $name in $ns is not listening on $*"
}

serve_api() {
	check_backend "$1"
	start_server "xlb-be$1" "api-be$1" env API_HOSTNAME="be$1" PORT=8000 API_QUIET=1 \
		"$PYTHON" "$REPO/compose/api/app.py"
	wait_listening "xlb-be$1" "api-be$1" tcp/8000
	echo "lab: api on be$1 [10.200.$1.2]:8000"
}

serve_name() {
	check_backend "$1"
	start_server "xlb-be$1" "name-be$1" "$PYTHON" "$REPO/tests/lab/nameserver.py" --name "be$1"
	wait_listening "xlb-be$1" "name-be$1" tcp/9000 udp/5353
	echo "lab: nameserver on be$1 tcp 9000 udp 5353"
}

# nginx with everything (conf, pid, logs, temp files) in a private dir, so
# it never touches the host's /etc/nginx or /var/log/nginx.
write_nginx_conf() {
	local dir=$1
	cat >"$dir/nginx.conf" <<-EOF
		worker_processes 1;
		pid $dir/nginx.pid;
		error_log $dir/error.log;
		events { worker_connections 256; }
		http {
		    access_log $dir/access.log;
		    client_body_temp_path $dir/tmp/body;
		    proxy_temp_path $dir/tmp/proxy;
		    fastcgi_temp_path $dir/tmp/fastcgi;
		    uwsgi_temp_path $dir/tmp/uwsgi;
		    scgi_temp_path $dir/tmp/scgi;
		    types { text/html html; }
		    default_type application/octet-stream;
		    server {
		        listen 80;
		        listen [::]:80;
		        root $dir/html;
		        index index.html;
		    }
		}
	EOF
}

serve_web() {
	check_backend "$1"
	local dir=$STATE/web-be$1
	rm -rf "$dir"
	mkdir -p "$dir/html" "$dir/tmp"
	# Workers run as nobody: give them a world-readable copy of the page.
	chmod 0755 "$STATE" "$dir" "$dir/html"
	install -m 0644 "$REPO/compose/app/index.html" "$dir/html/index.html"
	write_nginx_conf "$dir"
	start_server "xlb-be$1" "web-be$1" nginx -e "$dir/error.log" -c "$dir/nginx.conf" -g 'daemon off;'
	wait_listening "xlb-be$1" "web-be$1" tcp/80
	echo "lab: nginx on be$1 [10.200.$1.2]:80"
}

# The proxy tests' HTTP/1.1 server (tests/lab/httpserver.py): /who answers
# its name, be<I> on the default port 8080 and be<I>-<PORT> on another, so
# that one backend can stand for several services; FILE is served as /file.
serve_http() {
	check_backend "$1"
	local i=$1 port=${2:-8080} file=${3:-} name=be$1
	[[ $port =~ ^[0-9]+$ ]] || die "port must be a number, got '$port'"
	[[ $port == 8080 ]] || name=be$i-$port
	start_server "xlb-be$i" "http-$name" "$PYTHON" "$REPO/tests/lab/httpserver.py" \
		--name "$name" --port "$port" ${file:+--file "$file"}
	wait_listening "xlb-be$i" "http-$name" "tcp/$port"
	echo "lab: http server $name on be$i [10.200.$i.2]:$port${file:+ file=$file}"
}

# openssl s_server on :8443 with a fresh self-signed certificate for CN,
# serving files from its own directory (-WWW): GET /who gives "be<I>".
serve_tls() {
	check_backend "$1"
	local i=$1 cn=$2 dir=$STATE/tls-be$1
	[[ -n $cn ]] || die "serve-tls I CN"
	rm -rf "$dir"
	mkdir -p "$dir/www"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
		-subj "/CN=$cn" -addext "subjectAltName=DNS:$cn" \
		-keyout "$dir/key.pem" -out "$dir/cert.pem" 2>"$dir/req.log" ||
		{ cat "$dir/req.log" >&2; die "openssl req failed for CN=$cn"; }
	echo "be$i" >"$dir/www/who"
	(cd "$dir/www" && start_server "xlb-be$i" "tls-be$i" openssl s_server -quiet -accept 8443 \
		-cert "$dir/cert.pem" -key "$dir/key.pem" -WWW)
	wait_listening "xlb-be$i" "tls-be$i" tcp/8443
	echo "lab: openssl s_server CN=$cn on be$i [10.200.$i.2]:8443"
}

main() {
	[[ $(id -u) -eq 0 ]] || die "must run as root"
	local cmd=${1:-}
	shift || true
	case $cmd in
	up) lab_up "$@" ;;
	down) lab_down ;;
	status) lab_status ;;
	client-offload) client_offload "${1:-}" ;;
	serve-api) serve_api "${1:?serve-api I}" ;;
	serve-web) serve_web "${1:?serve-web I}" ;;
	serve-name) serve_name "${1:?serve-name I}" ;;
	serve-http) serve_http "${1:?serve-http I [PORT [FILE]]}" "${@:2}" ;;
	serve-tls) serve_tls "${1:?serve-tls I CN}" "${2:-}" ;;
	*) die "usage: lab.sh up [N] [--client-offload] | down | status | client-offload on|off |" \
		"serve-api I | serve-web I | serve-name I | serve-http I [PORT [FILE]] |" \
		"serve-tls I CN" ;;
	esac
}

main "$@"
