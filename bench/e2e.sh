#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Bench parts 2 and 3: end to end in the netns lab, and proxy efficiency.
#
#   client (wrk, curl, trafgen) -> lb (the balancer under test) -> 4 backends
#   (nginx-light: a small JSON on /, a large sparse file on /big)
#
# Balancers, one at a time on the same lab, each started and stopped in
# every round (rounds interleave them: A B C ..., A B C ...):
#   direct         no balancer: the client asks backend 1 (routed by the lb)
#   xlb-l4         xlbd, an XDP L4 service on the VIP (and a UDP one)
#   iptables       DNAT in the lb's PREROUTING, statistic random over the 4
#   haproxy-tcp    HAProxy in TCP mode, round robin
#   xlb-host       xlbd's HTTP proxy routing each request (--http-mode
#                  request, the default; bodies by splice)
#   xlb-sockmap    connection mode on the sockmap path (routed once per
#                  connection; for reference)
#   haproxy-http   HAProxy in HTTP mode with Host ACLs (dockercloud-haproxy)
#   nginx-http     nginx routing by server_name to an upstream with keepalive
#   xlb-path, haproxy-path, nginx-path
#                  the same three routing by path: $HOST/ to one backend,
#                  $HOST/api/ to the four with the prefix stripped (a
#                  page's API on its own origin); the client asks /api/
# Loads: wrk -t2 -c64 with keep-alive and with `Connection: close`; UDP
# packets per second (trafgen on one core) delivered to the backends.
# Part 3: one large download through each Host-routing proxy (CPU seconds
# per GB of the balancer and of the whole system), then a 1 MB/s reader
# (peak kernel memory).
#
# usage: bench/e2e.sh [--quick]
# env:   BUILD (default /work/main/build), BENCH_OUT (default: a temp dir),
#        E2E_LAB_WAIT (s to wait for another user's lab to go, default 600)
# out:   $BENCH_OUT/e2e_tcp.tsv, e2e_udp.tsv, proxy_efficiency.tsv (one row
#        per round, with the exact commands), e2e.md (the tables, also on
#        stdout).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BUILD=${BUILD:-/work/main/build}
XLBD=$BUILD/xlbd
XLBCTL=$BUILD/xlbctl
LAB=$REPO/scripts/lab.sh
# shellcheck source=scripts/procs.bash
source "$REPO/scripts/procs.bash"
PIN_DIR=/sys/fs/bpf/xlb-bench-e2e
CTL_SOCK=/run/xlb/bench-e2e.sock
LAB_WAIT=${E2E_LAB_WAIT:-600}

BACKENDS=4
VIP=10.200.0.100
LB=10.200.0.1
HOST=api.bench
UDP_PORT=9
UDP_FLOWS=64

QUICK=0
ROUNDS=5	# interleaved: these VMs swing by 30% between rounds
DUR=5		# s per wrk run
WARM=1		# s of wrk before the measured runs
UDP_DUR=4	# s of UDP measured
BIG_MB=1024	# MiB per download in part 3
SLOW_S=10	# s of the 1 MB/s reader

WORK=
OUT=
CONF=		# $OUT/e2e_conf: every config the commands in the TSVs name
LAB_MADE=0
BAL=		# the balancer running now
BAL_PIDS=()
BAL_CMD=
BE_PIDS=()
SINK_PIDS=()
NAT_SET=0
TRAFGEN_PGID=

log() { printf 'e2e: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

# The words of a command as a shell would read them back.
quote() {
	local q
	printf -v q '%q ' "$@"
	echo "${q% }"
}

in_ns() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" "$@"
}

# --- processes ----------------------------------------------------------------

# bg NS LOG CMD...: CMD in netns NS in the background (nsenter execs CMD,
# so $! is CMD itself); sets BG_PID.
bg() {
	local ns=$1 log=$2
	shift 2
	nsenter --net="/run/netns/$ns" "$@" </dev/null >"$log" 2>&1 &
	BG_PID=$!
}

# wait_for SECONDS WHAT CMD...: polls CMD every 50 ms until it succeeds.
wait_for() {
	local deadline=$((SECONDS + $1)) what=$2
	shift 2
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || { log "timed out waiting for $what"; return 1; }
		sleep 0.05
	done
}

# --- the lab --------------------------------------------------------------------

lab_in_use() {
	ip netns list | awk '{print $1}' | grep -qE '^xlb-(client|lb|be[0-9]+)$'
}

# The lab namespaces are shared with the tests of other users of this
# machine: never take them from under someone.
lab_wait_free() {
	local deadline=$((SECONDS + LAB_WAIT))
	if lab_in_use; then
		log "lab namespaces in use (someone else's lab): waiting up to ${LAB_WAIT}s"
	fi
	while lab_in_use; do
		((SECONDS < deadline)) || die "the lab namespaces were still in use after ${LAB_WAIT}s"
		sleep 2
	done
}

tune_netns() {
	local ns
	# wrk's new connections: a wide port range; TIME_WAIT reuse on the
	# proxies' backend side
	for ns in xlb-client xlb-lb; do
		in_ns "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1
	done
}

lab_start() {
	lab_wait_free
	LAB_MADE=1
	"$LAB" up "$BACKENDS" >&2
	tune_netns
	# a sparse file: what it holds does not matter to TCP, and it takes no disk
	truncate -s "${BIG_MB}M" "$WORK/big"
	chmod 0644 "$WORK/big"
	# into the page cache now: the first reader would pay for it otherwise
	# (measured: a cold first download took 3x as long)
	cat "$WORK/big" >/dev/null
	local i
	for ((i = 1; i <= BACKENDS; i++)); do start_backend "$i"; done
	for ((i = 1; i <= BACKENDS; i++)); do start_udp_sink "$i"; done
}

# nginx in backend I, everything in its own directory.
write_backend_conf() {
	local i=$1 dir=$2 conf=$3
	cat >"$conf" <<-EOF
		worker_processes 1;
		pid $dir/nginx.pid;
		error_log $dir/error.log;
		events { worker_connections 4096; }
		http {
		    access_log off;
		    keepalive_requests 1000000;
		    keepalive_timeout 120s;
		    sendfile on;
		    client_body_temp_path $dir/tmp/body;
		    proxy_temp_path $dir/tmp/proxy;
		    fastcgi_temp_path $dir/tmp/fastcgi;
		    uwsgi_temp_path $dir/tmp/uwsgi;
		    scgi_temp_path $dir/tmp/scgi;
		    server {
		        listen 80 backlog=4096;
		        location = / {
		            default_type application/json;
		            return 200 '{"hostname": "be$i", "message": "Hi there fella"}\n';
		        }
		        location = /big {
		            default_type application/octet-stream;
		            alias $WORK/big;
		        }
		    }
		}
	EOF
}

start_backend() {
	local i=$1 dir=$WORK/be$1
	mkdir -p "$dir/tmp"
	write_backend_conf "$i" "$dir" "$CONF/backend-be$i.conf"
	bg "xlb-be$i" "$dir/stderr.log" nginx -e "$dir/error.log" -c "$CONF/backend-be$i.conf" -g 'daemon off;'
	BE_PIDS+=("$BG_PID")
	wait_for 10 "nginx in be$i" in_ns "xlb-be$i" curl -sf -o /dev/null "http://10.200.$i.2/" ||
		{ cat "$dir/error.log" "$dir/stderr.log" >&2; die "backend nginx be$i did not start"; }
}

# A bound UDP socket that is never read: every datagram reaching it counts
# in the backend's /proc/net/snmp (InDatagrams or RcvbufErrors) at the least
# cost, so the sender, not a reader, sets the rate.
start_udp_sink() {
	local i=$1
	bg "xlb-be$i" "$WORK/sink-be$i.log" python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
while True:
    time.sleep(3600)' "$UDP_PORT"
	SINK_PIDS+=("$BG_PID")
	wait_for 10 "udp sink in be$i" udp_bound "xlb-be$i"
}

udp_bound() {
	[[ -n $(in_ns "$1" ss -Hlnu "sport = :$UDP_PORT") ]]
}

# --- balancers -------------------------------------------------------------------

# Where the client sends its requests, per balancer.
target_url() {
	case $1 in
	direct) echo "http://10.200.1.2/" ;;
	xlb-l4 | iptables) echo "http://$VIP/" ;;
	*-path) echo "http://$LB/api/" ;;
	*) echo "http://$LB/" ;;
	esac
}

xlb_l4_conf() {
	local i
	echo "[service web]"
	echo "listen = $VIP:80/tcp"
	for ((i = 1; i <= BACKENDS; i++)); do echo "backend = 10.200.$i.2:80"; done
	echo "[service udp]"
	echo "listen = $VIP:$UDP_PORT/udp"
	for ((i = 1; i <= BACKENDS; i++)); do echo "backend = 10.200.$i.2:$UDP_PORT"; done
}

# xlb_host_conf [path]: with "path", the API is $HOST/api (stripped) and
# $HOST/ is the other service's
xlb_host_conf() {
	local i
	echo "[http]"
	echo "listen = $LB:80"
	echo "[service api]"
	if [[ ${1:-} == path ]]; then
		echo "host = $HOST/api"
		echo "strip_path = yes"
	else
		echo "host = $HOST"
	fi
	for ((i = 1; i <= BACKENDS; i++)); do echo "backend = 10.200.$i.2:80"; done
	# a second service, so that routing has a choice to make
	echo "[service app]"
	[[ ${1:-} == path ]] && echo "host = $HOST"
	echo "host = app.bench"
	echo "backend = 10.200.1.2:80"
}

ctl_ping() {
	[[ $(printf 'ping\n' | socat -t 2 - "UNIX-CONNECT:$CTL_SOCK" 2>/dev/null | tail -n 1) == ok ]]
}

# start_xlbd NAME CONF ARGS...
start_xlbd() {
	local name=$1 conf=$CONF/$1.ini
	printf '%s\n' "$2" >"$conf"
	shift 2
	local -a cmd=("$XLBD" --config "$conf" --pin-dir "$PIN_DIR" --control "$CTL_SOCK"
		--teardown-on-exit "$@")
	BAL_CMD="nsenter --net=/run/netns/xlb-lb $(quote "${cmd[@]}")"
	bg xlb-lb "$WORK/$name.log" "${cmd[@]}"
	BAL_PIDS=("$BG_PID")
	wait_for 15 "xlbd ready" ctl_ping || { cat "$WORK/$name.log" >&2; return 1; }
}

haproxy_tcp_conf() {
	local i
	cat <<-EOF
		global
		    maxconn 8000
		defaults
		    mode tcp
		    timeout connect 5s
		    timeout client 60s
		    timeout server 60s
		frontend fe_80
		    bind $LB:80
		    default_backend be_web
		backend be_web
		    balance roundrobin
	EOF
	for ((i = 1; i <= BACKENDS; i++)); do echo "    server be$i 10.200.$i.2:80"; done
}

# As dockercloud-haproxy writes it: one frontend per port, a Host ACL per
# service, a backend per service; with "path", a path ACL too, and the
# prefix stripped (as VIRTUAL_HOST=api.bench/api/* does there).
haproxy_http_conf() {
	local i api_if="host_rule_1 or host_rule_1_port" strip= app=app.bench app_port=app.bench:80
	if [[ ${1:-} == path ]]; then
		api_if="host_rule_1 path_rule_1 or host_rule_1_port path_rule_1"
		strip='http-request replace-path ^/api(/.*) \1'
		app+=" $HOST" app_port+=" $HOST:80"
	fi
	cat <<-EOF
		global
		    maxconn 8000
		defaults
		    mode http
		    option redispatch
		    option forwardfor
		    timeout connect 5s
		    timeout client 60s
		    timeout server 60s
		    timeout http-keep-alive 60s
		frontend port_80
		    bind $LB:80
		    acl host_rule_1 hdr(host) -i $HOST
		    acl host_rule_1_port hdr(host) -i $HOST:80
		    acl path_rule_1 path_beg /api/
		    use_backend SERVICE_api if $api_if
		    acl host_rule_2 hdr(host) -i $app
		    acl host_rule_2_port hdr(host) -i $app_port
		    use_backend SERVICE_app if host_rule_2 or host_rule_2_port
		backend SERVICE_app
		    server app_1 10.200.1.2:80
		backend SERVICE_api
		    balance roundrobin
		    $strip
	EOF
	for ((i = 1; i <= BACKENDS; i++)); do echo "    server api_$i 10.200.$i.2:80"; done
}

start_haproxy() {
	local name=$1 conf=$CONF/$1.cfg
	printf '%s\n' "$2" >"$conf"
	local -a cmd=(haproxy -db -f "$conf")
	BAL_CMD="nsenter --net=/run/netns/xlb-lb $(quote "${cmd[@]}")"
	bg xlb-lb "$WORK/$name.log" "${cmd[@]}"
	BAL_PIDS=("$BG_PID")
}

# As nginx-proxy writes it: a server per name, an upstream per service with
# keepalive, HTTP/1.1 to the upstream; with "path" ($2), $HOST/ goes to
# app.bench's upstream and $HOST/api/ to the API's, prefix stripped.
nginx_http_conf() {
	local dir=$1 i locations="location / { proxy_pass http://$HOST; }"
	[[ ${2:-} == path ]] &&
		locations="location / { proxy_pass http://app.bench; } location /api/ { proxy_pass http://$HOST/; }"
	cat <<-EOF
		worker_processes auto;
		pid $dir/nginx.pid;
		error_log $dir/error.log;
		events { worker_connections 16384; }
		http {
		    access_log off;
		    keepalive_requests 1000000;
		    client_body_temp_path $dir/tmp/body;
		    proxy_temp_path $dir/tmp/proxy;
		    fastcgi_temp_path $dir/tmp/fastcgi;
		    uwsgi_temp_path $dir/tmp/uwsgi;
		    scgi_temp_path $dir/tmp/scgi;
		    map \$http_upgrade \$proxy_connection { default upgrade; '' ''; }
		    proxy_http_version 1.1;
		    proxy_set_header Host \$http_host;
		    proxy_set_header Upgrade \$http_upgrade;
		    proxy_set_header Connection \$proxy_connection;
		    proxy_set_header X-Real-IP \$remote_addr;
		    proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
		    server {
		        listen $LB:80 default_server backlog=4096;
		        server_name _;
		        return 503;
		    }
		    upstream app.bench { server 10.200.1.2:80; keepalive 32; }
		    server {
		        listen $LB:80;
		        server_name app.bench;
		        location / { proxy_pass http://app.bench; }
		    }
		    upstream $HOST {
	EOF
	for ((i = 1; i <= BACKENDS; i++)); do echo "        server 10.200.$i.2:80;"; done
	cat <<-EOF
		        keepalive 64;
		    }
		    server {
		        listen $LB:80;
		        server_name $HOST;
		        $locations
		    }
		}
	EOF
}

# start_nginx_lb [path]
start_nginx_lb() {
	local dir=$WORK/nginx-lb
	rm -rf "$dir"
	mkdir -p "$dir/tmp"
	chmod 0777 "$dir/tmp"
	nginx_http_conf "$dir" "${1:-}" >"$CONF/nginx-http.conf"
	local -a cmd=(nginx -e "$dir/error.log" -c "$CONF/nginx-http.conf" -g 'daemon off;')
	BAL_CMD="nsenter --net=/run/netns/xlb-lb $(quote "${cmd[@]}")"
	bg xlb-lb "$dir/stderr.log" "${cmd[@]}"
	BAL_PIDS=("$BG_PID")
}

# iptables DNAT as Docker's and kube-proxy's service rules spread: the i-th
# rule takes 1/(n-i+1) of what is left, the last takes the rest.
nat_rules() {
	local proto=$1 port=$2 i p
	for ((i = 1; i <= BACKENDS; i++)); do
		local -a match=()
		if ((i < BACKENDS)); then
			p=$(awk -v n=$((BACKENDS - i + 1)) 'BEGIN { printf "%.5f", 1 / n }')
			match=(-m statistic --mode random --probability "$p")
		fi
		echo "-t nat -A PREROUTING -d $VIP/32 -p $proto --dport $port ${match[*]}" \
			"-j DNAT --to-destination 10.200.$i.2:$port"
	done
}

start_iptables() {
	local rule
	BAL_CMD=
	NAT_SET=1
	while read -r rule; do
		# shellcheck disable=SC2086 # a rule is words
		in_ns xlb-lb iptables $rule
		BAL_CMD+="nsenter --net=/run/netns/xlb-lb iptables $rule; "
	done < <(nat_rules tcp 80; nat_rules udp "$UDP_PORT")
}

# Removes the nat table itself (not only its rules): while it exists,
# conntrack stays hooked in the lb netns and would tax the next balancer.
stop_iptables() {
	((NAT_SET)) || return 0
	in_ns xlb-lb nft delete table ip nat 2>/dev/null || in_ns xlb-lb iptables -t nat -F || true
	in_ns xlb-lb conntrack -F >/dev/null 2>&1 || true
	NAT_SET=0
}

start_balancer() {
	BAL=$1
	BAL_PIDS=()
	BAL_CMD="(none)"
	case $1 in
	direct) ;;
	xlb-l4) start_xlbd xlb-l4 "$(xlb_l4_conf)" --iface u0 ;;
	iptables) start_iptables ;;
	haproxy-tcp) start_haproxy haproxy-tcp "$(haproxy_tcp_conf)" ;;
	xlb-host | xlb-splice) start_xlbd "$1" "$(xlb_host_conf)" --http-mode request ;;
	xlb-sockmap) start_xlbd "$1" "$(xlb_host_conf)" --http-mode connection --proxy-path sockmap ;;
	xlb-copy) start_xlbd "$1" "$(xlb_host_conf)" --http-mode connection --proxy-path copy ;;
	haproxy-http) start_haproxy haproxy-http "$(haproxy_http_conf)" ;;
	nginx-http) start_nginx_lb ;;
	xlb-path) start_xlbd "$1" "$(xlb_host_conf path)" --http-mode request ;;
	haproxy-path) start_haproxy haproxy-path "$(haproxy_http_conf path)" ;;
	nginx-path) start_nginx_lb path ;;
	*) die "unknown balancer $1" ;;
	esac
	wait_for 15 "$1 to answer" answers "$(target_url "$1")" ||
		{ tail -n 20 "$WORK"/*.log >&2 || true; die "balancer $1 does not answer"; }
}

# answers URL: a request with our Host gets the JSON.
answers() {
	in_ns xlb-client curl -sf -m 2 -H "Host: $HOST" "$1" | grep -q hostname
}

stop_balancer() {
	stop_pids "${BAL_PIDS[@]}"
	BAL_PIDS=()
	stop_iptables
	if [[ -x $XLBCTL && -e $PIN_DIR ]]; then
		in_ns xlb-lb "$XLBCTL" --pin-dir "$PIN_DIR" --socket "$CTL_SOCK" teardown >/dev/null 2>&1 || true
	fi
	rm -f "$CTL_SOCK"
	BAL=
}

# The processes whose CPU and memory are the balancer's: the ones we
# started and their children (nginx's workers).
balancer_pids() {
	local pid
	for pid in "${BAL_PIDS[@]}"; do
		echo "$pid"
		cat "/proc/$pid/task/"*/children 2>/dev/null | tr ' ' '\n' | grep -v '^$' || true
	done
}

# --- wrk -------------------------------------------------------------------------

WRK_CMD=
WRK_RESULT=

# run_wrk LOAD SECONDS URL: sets WRK_RESULT to "req_s p50_us p99_us errors"
# and WRK_CMD to the command (not in a subshell: both are for the caller).
run_wrk() {
	local load=$1 secs=$2 url=$3 out
	local -a cmd=(wrk -t2 -c64 "-d${secs}s" --latency -H "Host: $HOST")
	[[ $load == close ]] && cmd+=(-H "Connection: close")
	cmd+=("$url")
	WRK_CMD="nsenter --net=/run/netns/xlb-client $(quote "${cmd[@]}")"
	WRK_RESULT="0 0 0 1"
	out=$(in_ns xlb-client "${cmd[@]}" 2>&1) || { log "wrk failed: $out"; return 0; }
	echo "$out" >>"$WORK/wrk.log"
	WRK_RESULT=$(awk '
		function us(v) {
			if (v ~ /us$/) return v + 0
			if (v ~ /ms$/) return v * 1000
			if (v ~ /s$/) return v * 1000000
			return v
		}
		/^ *50%/ { p50 = us($2) }
		/^ *99%/ { p99 = us($2) }
		/^Requests\/sec:/ { rps = $2 }
		/Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
		/Non-2xx or 3xx responses:/ { err += $5 }
		END { printf "%.0f %.0f %.0f %d\n", rps, p50, p99, err }' <<<"$out")
}

measure_tcp() {
	local round=$1 bal=$2 url load r
	url=$(target_url "$bal")
	run_wrk keepalive "$WARM" "$url"
	for load in keepalive close; do
		run_wrk "$load" "$DUR" "$url"
		r=$WRK_RESULT
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$bal" "$load" "${r// /$'\t'}" \
			"$BAL_CMD" "$WRK_CMD" >>"$OUT/e2e_tcp.tsv"
		log "round $round $bal $load: req/s p50_us p99_us errors = $r"
	done
}

# --- UDP -------------------------------------------------------------------------

# Datagrams that reached the UDP layer of every backend so far.
udp_delivered() {
	local i sum=0 n
	for ((i = 1; i <= BACKENDS; i++)); do
		# shellcheck disable=SC2016 # awk program
		n=$(in_ns "xlb-be$i" awk '
			$1 == "Udp:" && !h { for (k = 2; k <= NF; k++) col[$k] = k; h = 1; next }
			$1 == "Udp:" { print $col["InDatagrams"] + $col["RcvbufErrors"] }' /proc/net/snmp)
		sum=$((sum + n))
	done
	echo "$sum"
}

# Frames the client's veth has sent so far.
udp_sent() {
	# shellcheck disable=SC2016 # awk program
	in_ns xlb-client awk '{ sub(/:/, " ") } $1 == "c0" { print $11 }' /proc/net/dev
}

now_ns() { date +%s%N; }

# 64-byte frames from 64 source ports (64 flows), full checksums as from a
# NIC, straight onto the client's veth (trafgen's ring, qdisc bypassed).
trafgen_conf() {
	local dst=$1 umac cmac
	umac=$(ip -n xlb-lb -j link show u0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')
	cmac=$(ip -n xlb-client -j link show c0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')
	cat <<-EOF
		{
		  eth(da=$umac, sa=$cmac),
		  ipv4(saddr=10.200.0.2, daddr=$dst, ttl=64),
		  udp(sp=dinc(10000, $((10000 + UDP_FLOWS - 1))), dp=$UDP_PORT),
		  fill(0x41, 18)
		}
	EOF
}

measure_udp() {
	local round=$1 bal=$2 dst=$VIP conf=$CONF/trafgen-$2.cfg pid t0 t1 d0 d1 s0 s1 pps sent
	[[ $bal == direct ]] && dst=10.200.1.2
	trafgen_conf "$dst" >"$conf"
	local -a cmd=(trafgen -o c0 --cpus 1 --no-sock-mem -Q -n 0 -c "$conf")
	# its own process group: trafgen's sending worker is a child process
	# that a signal to the parent alone leaves running
	setsid nsenter --net=/run/netns/xlb-client "${cmd[@]}" </dev/null >"$WORK/trafgen.log" 2>&1 &
	pid=$!
	TRAFGEN_PGID=$pid
	# let the flows settle (conntrack entries, the flow table), then count
	sleep 0.5
	t0=$(now_ns) d0=$(udp_delivered) s0=$(udp_sent)
	sleep "$UDP_DUR"
	t1=$(now_ns) d1=$(udp_delivered) s1=$(udp_sent)
	kill -INT -- "-$pid" 2>/dev/null || true
	stop_pids "$pid"
	kill -KILL -- "-$pid" 2>/dev/null || true
	TRAFGEN_PGID=
	pps=$(((d1 - d0) * 1000000000 / (t1 - t0)))
	sent=$(((s1 - s0) * 1000000000 / (t1 - t0)))
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$bal" "$pps" "$sent" "$BAL_CMD" \
		"nsenter --net=/run/netns/xlb-client $(quote "${cmd[@]}") # $(tr -s ' \n' ' ' <"$conf")" >>"$OUT/e2e_udp.tsv"
	log "round $round $bal udp: delivered $pps pps (sent $sent pps)"
}

# --- part 3: proxy efficiency -----------------------------------------------------

# CPU ticks (utime + stime) of PIDs, every thread included.
proc_ticks() {
	local pid stat sum=0 f
	for pid; do
		stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		stat=${stat##*) }
		read -ra f <<<"$stat"
		sum=$((sum + f[11] + f[12]))
	done
	echo "$sum"
}

# Busy CPU ticks of the whole machine: everything but idle and iowait.
system_ticks() {
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

# TCP memory of every socket (the kernel counts it machine-wide, in pages).
tcp_mem_bytes() {
	awk -v pg="$(getconf PAGESIZE)" '$1 == "TCP:" {
		for (i = 2; i < NF; i++) if ($i == "mem") print $(i + 1) * pg }' /proc/net/sockstat
}

# The lab's TCP sockets: r + w + f of their skmem, summed.
lab_socket_bytes() {
	local ns
	for ns in xlb-client xlb-lb $(for ((i = 1; i <= BACKENDS; i++)); do echo "xlb-be$i"; done); do
		in_ns "$ns" ss -Htanm
	done | grep -o 'skmem:([^)]*)' | awk -F'[(,)]' '{
		for (i = 2; i <= NF; i++) if ($i ~ /^[rwf][0-9]/) sum += substr($i, 2)
	} END { print sum + 0 }'
}

rss_bytes() {
	local pid sum=0 kb
	for pid; do
		kb=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || continue
		sum=$((sum + ${kb:-0} * 1024))
	done
	echo "$sum"
}

spool_bytes() {
	du -sb "$WORK/nginx-lb/tmp/proxy" 2>/dev/null | awk '{ print $1 }' || echo 0
}

big_url() {
	if [[ $1 == direct ]]; then echo "http://10.200.1.2/big"; else echo "http://$LB/big"; fi
}

# One download of BIG_MB through the balancer: its CPU and the system's.
measure_download() {
	local round=$1 bal=$2 url hz pids p0 p1 s0 s1 res bytes secs
	url=$(big_url "$bal")
	hz=$(getconf CLK_TCK)
	mapfile -t pids < <(balancer_pids)
	local -a cmd=(curl -sS -o /dev/null -H "Host: $HOST" -w '%{size_download} %{time_total}' "$url")
	# back into the page cache, untimed: minutes of load after lab_start,
	# this VM's reclaim (kdamond) had dropped it, and nginx then zero-filled
	# the sparse file's pages on the way (memset was 31% of all CPU samples
	# and the first download of each round took 3x as long)
	cat "$WORK/big" >/dev/null
	p0=$(proc_ticks "${pids[@]}") s0=$(system_ticks)
	res=$(in_ns xlb-client "${cmd[@]}")
	p1=$(proc_ticks "${pids[@]}") s1=$(system_ticks)
	read -r bytes secs <<<"$res"
	((bytes > 0)) || die "download through $bal moved nothing"
	local figures
	figures=$(awk -v by="$bytes" -v t="$secs" -v hz="$hz" -v pc=$((p1 - p0)) -v sc=$((s1 - s0)) 'BEGIN {
		gb = by / 1e9
		printf "%.1f\t%.3f\t%.3f", by / t / 1e6, pc / hz / gb, sc / hz / gb
	}')
	printf '%s\t%s\tdownload\t%s\t%s\t\t\t\t\t%s\t%s\n' "$round" "$bal" "$bytes" "$figures" "$BAL_CMD" \
		"nsenter --net=/run/netns/xlb-client $(quote "${cmd[@]}")" >>"$OUT/proxy_efficiency.tsv"
	log "round $round $bal download: $bytes bytes in ${secs}s; balancer $((p1 - p0)) ticks, system $((s1 - s0)) ticks"
}

# A reader at 1 MB/s for SLOW_S seconds: the peak of the memory the kernel
# holds for the connection (sockstat's TCP pages, and the lab's sockets'
# own skmem), the balancer's RSS, and what nginx spools to disk.
measure_slow_reader() {
	local bal=$1 url pids tcp0 lab0 rss0 tcp lab rss spool max_tcp=0 max_lab=0 max_rss=0 max_spool=0
	local pid deadline got
	url=$(big_url "$bal")
	mapfile -t pids < <(balancer_pids)
	tcp0=$(tcp_mem_bytes) lab0=$(lab_socket_bytes) rss0=$(rss_bytes "${pids[@]}")
	local -a cmd=(curl -sS -m $((SLOW_S + 5)) --limit-rate 1M -o "$WORK/slow.body" -H "Host: $HOST" "$url")
	bg xlb-client "$WORK/slow.log" "${cmd[@]}"
	pid=$BG_PID
	deadline=$((SECONDS + SLOW_S))
	while ((SECONDS < deadline)) && pid_alive "$pid"; do
		tcp=$(tcp_mem_bytes) lab=$(lab_socket_bytes) rss=$(rss_bytes "${pids[@]}") spool=$(spool_bytes)
		((tcp - tcp0 > max_tcp)) && max_tcp=$((tcp - tcp0))
		((lab - lab0 > max_lab)) && max_lab=$((lab - lab0))
		((rss - rss0 > max_rss)) && max_rss=$((rss - rss0))
		((spool > max_spool)) && max_spool=$spool
		sleep 0.2
	done
	stop_pids "$pid"
	got=$(stat -c %s "$WORK/slow.body" 2>/dev/null || echo 0)
	rm -f "$WORK/slow.body"
	printf '%s\t%s\tslow_reader\t%s\t%s\t\t\t%s\t%s\t%s\t%s\t%s\t%s\n' "all" "$bal" "$got" \
		"$(awk -v g="$got" -v s="$SLOW_S" 'BEGIN { printf "%.1f", g / s / 1e6 }')" \
		"$max_tcp" "$max_lab" "$max_rss" "$max_spool" "$BAL_CMD" \
		"nsenter --net=/run/netns/xlb-client $(quote "${cmd[@]}")" >>"$OUT/proxy_efficiency.tsv"
	log "$bal slow reader: read $got bytes; peak TCP mem +$max_tcp, lab sockets +$max_lab, RSS +$max_rss, spool $max_spool"
}

# --- driving ------------------------------------------------------------------------

# E2E_BALANCERS and E2E_EFF_BALANCERS pick a subset (development).
read -ra TCP_BALANCERS <<<"${E2E_BALANCERS:-direct xlb-l4 iptables haproxy-tcp xlb-host xlb-sockmap haproxy-http nginx-http xlb-path haproxy-path nginx-path}"
read -ra EFF_BALANCERS <<<"${E2E_EFF_BALANCERS-xlb-splice xlb-sockmap haproxy-http nginx-http}"
UDP_BALANCERS=(direct xlb-l4 iptables)

is_udp_balancer() {
	local b
	for b in "${UDP_BALANCERS[@]}"; do [[ $b == "$1" ]] && return 0; done
	return 1
}

write_headers() {
	printf 'round\tbalancer\tload\treq_s\tp50_us\tp99_us\terrors\tbalancer_cmd\tload_cmd\n' >"$OUT/e2e_tcp.tsv"
	printf 'round\tbalancer\tdelivered_pps\tsent_pps\tbalancer_cmd\tload_cmd\n' >"$OUT/e2e_udp.tsv"
	printf 'round\tbalancer\tmeasure\tbytes\tMB_s\tbalancer_cpu_s_per_GB\tsystem_cpu_s_per_GB\tpeak_tcp_mem_bytes\tpeak_lab_sock_bytes\tpeak_rss_growth_bytes\tpeak_spool_bytes\tbalancer_cmd\tload_cmd\n' \
		>"$OUT/proxy_efficiency.tsv"
}

run_rounds() {
	local round bal
	for ((round = 1; round <= ROUNDS; round++)); do
		for bal in "${TCP_BALANCERS[@]}"; do
			start_balancer "$bal"
			measure_tcp "$round" "$bal"
			if is_udp_balancer "$bal"; then measure_udp "$round" "$bal"; fi
			stop_balancer
		done
		for bal in "${EFF_BALANCERS[@]}"; do
			start_balancer "$bal"
			measure_download "$round" "$bal"
			# the slow reader once per balancer, in the last round
			if ((round == ROUNDS)); then measure_slow_reader "$bal"; fi
			stop_balancer
		done
	done
}

cleanup() {
	local rc=$?
	set +e
	trap '' PIPE INT TERM
	[[ -n $TRAFGEN_PGID ]] && kill -KILL -- "-$TRAFGEN_PGID" 2>/dev/null
	[[ -n $BAL ]] && stop_balancer
	stop_pids "${SINK_PIDS[@]}" "${BE_PIDS[@]}"
	if ((LAB_MADE)); then "$LAB" down >&2; fi
	[[ -e $PIN_DIR ]] && rm -rf "$PIN_DIR"
	if [[ -n $WORK ]]; then
		if [[ -n ${E2E_KEEP-} ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
	fi
	exit "$rc"
}

parse_args() {
	case ${1-} in
	"") ;;
	--quick)
		QUICK=1 ROUNDS=1 DUR=2 WARM=1 UDP_DUR=2 BIG_MB=512 SLOW_S=5
		;;
	*) die "usage: e2e.sh [--quick]" ;;
	esac
}

check_tools() {
	local t
	for t in wrk haproxy nginx trafgen curl socat iptables nft ss python3; do
		command -v "$t" >/dev/null || die "missing $t: scripts/deps.sh --bench"
	done
	[[ -x $XLBD && -x $XLBCTL ]] || die "missing $XLBD or $XLBCTL: make first (BUILD=$BUILD)"
}

main() {
	[[ $(id -u) -eq 0 ]] || die "must run as root"
	parse_args "$@"
	check_tools
	OUT=${BENCH_OUT:-$(mktemp -d /tmp/xlb-bench-e2e-out.XXXXXX)}
	CONF=$OUT/e2e_conf
	mkdir -p "$OUT" "$CONF"
	WORK=$(mktemp -d /tmp/xlb-bench-e2e.XXXXXX)
	chmod 0755 "$WORK"
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	write_headers
	lab_start
	run_rounds
	python3 "$HERE/e2e_report.py" --quick "$QUICK" --rounds "$ROUNDS" "$OUT" | tee "$OUT/e2e.md"
	log "TSVs in $OUT"
}

# sourced (development): the functions only
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
