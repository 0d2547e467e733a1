# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
# Shared by the netns integration tests: the lab (scripts/lab.sh), xlbd and
# xlbctl with a test-only pin dir and control socket, traffic helpers and a
# few assertions. Every wait polls with a deadline; nothing sleeps and hopes.

# Debian's tools first, as make test has them (Makefile: PATH)
PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
BUILD=${BUILD:-$REPO/build}
XLBD=${XLBD:-$BUILD/xlbd}
XLBCTL=${XLBCTL:-$BUILD/xlbctl}
LAB=$REPO/scripts/lab.sh
# lab.sh keeps its servers' logs under $LAB_STATE/logs/<server>.log.
# shellcheck disable=SC2034 # used by the .bats files
LAB_STATE=/run/xlb-lab
NAMECLIENT=$REPO/tests/lab/nameclient.py
HTTPCLIENT=$REPO/tests/lab/httpclient.py
PYTHON=${PYTHON:-python3}
PIN_DIR=/sys/fs/bpf/xlb-test
CTL_SOCK=/run/xlb/test.sock
# The uplink xlbd attaches to; backend-facing links are found by xlbd.
XLB_IFACES=${XLB_IFACES:-u0}
# shellcheck disable=SC2034 # used by the .bats files
VIP4=10.200.0.100
# shellcheck disable=SC2034
VIP6=fd00:200::100
# The lb's own addresses on the uplink, where the proxy's listeners are.
# shellcheck disable=SC2034
LB4=10.200.0.1
# shellcheck disable=SC2034
LB6=fd00:200::1

# --- generic -------------------------------------------------------------------

# wait_until TIMEOUT CMD...: runs CMD every 0.1 s until it succeeds; fails
# with a message after TIMEOUT seconds.
wait_until() {
	local timeout=$1
	shift
	local deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			echo "wait_until: timed out after ${timeout}s: $*" >&2
			return 1
		fi
		sleep 0.1
	done
}

# True while pid $1 runs (a zombie child does not count).
pid_running() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

pid_gone() { ! pid_running "$1"; }

fail() {
	echo "FAIL: $*" >&2
	return 1
}

# --- namespaces ----------------------------------------------------------------

in_ns() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" "$@"
}
in_client() { in_ns xlb-client "$@"; }
in_lb() { in_ns xlb-lb "$@"; }

# lab_setup N: a fresh lab with N backends (setup_file).
lab_setup() {
	require_built
	"$LAB" up "${1:-4}" >&2
}

lab_teardown() {
	"$LAB" down >&2 || true
}

# serve KIND FIRST LAST: starts lab server KIND (api|web|name) in backends
# FIRST..LAST; lab.sh waits until each listens.
serve() {
	local kind=$1 i
	for ((i = $2; i <= $3; i++)); do
		"$LAB" "serve-$kind" "$i" >&2
	done
}

require_built() {
	local f
	for f in "$XLBD" "$XLBCTL"; do
		[[ -x $f ]] || {
			echo "missing $f: run make first" >&2
			return 1
		}
	done
}

# --- xlbd and xlbctl --------------------------------------------------------------

xlbctl() {
	in_lb "$XLBCTL" --pin-dir "$PIN_DIR" --socket "$CTL_SOCK" "$@"
}

# control LINE...: one request on xlbd's control socket; prints the answer.
control() {
	printf '%s\n' "$*" | socat -t 5 - "UNIX-CONNECT:$CTL_SOCK"
}

control_ok() {
	[[ $(control "$@" | tail -n 1) == ok ]]
}

# write_config TEXT: the test's config file; prints its path.
write_config() {
	local cfg=$BATS_TEST_TMPDIR/xlb.ini
	printf '%s\n' "$1" >"$cfg"
	echo "$cfg"
}

# iface_args: --iface for each of XLB_IFACES.
iface_args() {
	local i
	for i in $XLB_IFACES; do printf -- '--iface\n%s\n' "$i"; done
}

# lab_service NAME LISTEN PORT [6]: a config section, service NAME on
# LISTEN over the lab's four backends at PORT (their IPv6 addresses with 6).
lab_service() {
	local i be
	echo "[service $1]"
	echo "listen = $2"
	for i in 1 2 3 4; do
		be=10.200.$i.2
		[[ ${4-} == 6 ]] && be=[fd00:20$i::2]
		echo "backend = $be:$3"
	done
}

# l4_services_config: a TCP API service on the IPv4 and the IPv6 VIP, and
# a UDP name service, each over the lab's four backends.
l4_services_config() {
	lab_service api "$VIP4:80/tcp" 8000
	lab_service api6 "[$VIP6]:80/tcp" 8000 6
	lab_service dns "$VIP4:53/udp" 5353
}

# xlbd_mode_args: the data path modes of a lab test's xlbd, one per line.
# The lab's client namespace stands for a remote host, whose packets the
# uplink program must see: a test that means to exercise another path
# chooses it (XLBD_SOCKET_LB, XLBD_ATTACH).
xlbd_mode_args() {
	[[ ${XLBD_SOCKET_LB-} == 1 ]] || echo --no-socket-lb
	printf -- '--attach\n%s\n' "${XLBD_ATTACH:-xdp}"
}

# start_xlbd CONFIG_FILE [EXTRA ARGS...]: runs xlbd in the lb netns in the
# background and waits until its control socket answers `ping`. A caller
# may run it under a launcher: the array XLBD_LAUNCHER (e.g. valgrind and
# its options) goes before xlbd, XLBD_START_S (15) bounds the start,
# XLBD_EXE_GLOB (xlbd's own path) is what the pid to signal must run, and
# XLBD_START_LOGS are printed with xlbd's log when the start fails.
start_xlbd() {
	local cfg=$1
	shift
	local -a ifaces modes
	mapfile -t ifaces < <(iface_args)
	mapfile -t modes < <(xlbd_mode_args)
	XLBD_LOG=$BATS_TEST_TMPDIR/xlbd.log
	echo "--- xlbd start $(date +%T.%N)" >>"$XLBD_LOG"
	# nsenter itself, not a shell function, goes in the background: $! is
	# then the pid nsenter execs xlbd (or its launcher) in, the one to signal.
	nsenter --net=/run/netns/xlb-lb "${XLBD_LAUNCHER[@]}" "$XLBD" --config "$cfg" \
		"${ifaces[@]}" "${modes[@]}" --pin-dir "$PIN_DIR" --control "$CTL_SOCK" \
		--log-level debug "$@" \
		</dev/null >>"$XLBD_LOG" 2>&1 3>&- &
	XLBD_PID=$!
	local deadline=$((SECONDS + ${XLBD_START_S:-15})) exe
	until control_ok ping 2>/dev/null; do
		if ! pid_running "$XLBD_PID"; then
			wait "$XLBD_PID" || true
			fail "xlbd exited during start-up; log:" || true
			cat "$XLBD_LOG" ${XLBD_START_LOGS:+"$XLBD_START_LOGS"} >&2
			return 1
		fi
		if ((SECONDS >= deadline)); then
			fail "xlbd not ready after ${XLBD_START_S:-15}s; log:" || true
			cat "$XLBD_LOG" ${XLBD_START_LOGS:+"$XLBD_START_LOGS"} >&2
			return 1
		fi
		sleep 0.1
	done
	# The pid we will signal must be xlbd itself (or its launcher's).
	exe=$(readlink "/proc/$XLBD_PID/exe")
	# shellcheck disable=SC2053 # a glob, when the caller gives one
	[[ $exe == ${XLBD_EXE_GLOB:-"$(readlink -f "$XLBD")"} ]] ||
		{ fail "pid $XLBD_PID is $exe, not ${XLBD_EXE_GLOB:-$XLBD}"; return 1; }
}

# The stops with SIGTERM or SIGINT of this test that did not exit 0, for
# xlb_test_teardown to fail on. A clean stop must exit 0: the ASan build's
# LeakSanitizer reports leaks when xlbd returns from main and then makes
# the exit status 1, and UBSan aborts; only the status tells.
XLBD_UNCLEAN=()

# stop_xlbd [SIGNAL]: signals xlbd (TERM by default), waits for it to exit
# and reaps it; leaves its exit status in XLBD_STATUS (and notes an unclean
# stop, see XLBD_UNCLEAN). Not in $(...): only this shell can reap its child.
stop_xlbd() {
	local sig=${1:-TERM}
	XLBD_STATUS=
	[[ -n ${XLBD_PID-} ]] || return 0
	kill "-$sig" "$XLBD_PID" 2>/dev/null || true
	if ! wait_until 10 pid_gone "$XLBD_PID"; then
		echo "xlbd ignored SIG$sig for 10s; killing it" >&2
		kill -KILL "$XLBD_PID" 2>/dev/null || true
	fi
	local status=0
	wait "$XLBD_PID" 2>/dev/null || status=$?
	# 127: not this shell's child (started through a launcher such as
	# unshare --fork), whose status this shell cannot see
	if [[ $status != 0 && $status != 127 && ($sig == TERM || $sig == INT) ]]; then
		XLBD_UNCLEAN+=("pid $XLBD_PID exited with status $status after SIG$sig")
	fi
	# shellcheck disable=SC2034 # read by the tests
	XLBD_STATUS=$status
	XLBD_PID=
}

# assert_clean_stops: every SIGTERM/SIGINT stop of the test exited 0;
# otherwise fails, showing the sanitizers' reports from xlbd's log.
assert_clean_stops() {
	((${#XLBD_UNCLEAN[@]} == 0)) && return 0
	fail "unclean stop of xlbd: $(printf '%s; ' "${XLBD_UNCLEAN[@]}")" || true
	if [[ -s ${XLBD_LOG-} ]]; then
		echo "--- sanitizer reports in $XLBD_LOG (or its end):" >&2
		sed -n '/^==[0-9]*==ERROR/,/^SUMMARY: /p; /runtime error:/p' "$XLBD_LOG" | head -n 300 >&2
		grep -qE '^==[0-9]+==ERROR|runtime error:' "$XLBD_LOG" || tail -n 30 "$XLBD_LOG" >&2
	fi
	return 1
}

# --- background processes and long-lived connections ------------------------------

BG_PIDS=()

# bg_start NS LOG CMD...: CMD in netns NS in the background, detached from
# bats' fd 3; killed by the per-test teardown. Sets BG_PID.
bg_start() {
	local ns=$1 log=$2
	shift 2
	nsenter --net="/run/netns/$ns" "$@" </dev/null >"$log" 2>&1 3>&- &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
}

stop_bg() {
	local pid
	for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${BG_PIDS[@]}"; do
		wait_until 5 pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	BG_PIDS=()
}

# hold_start NAME HOST PORT: one TCP connection from the client netns, kept
# open by a holder that can be probed with hold_probe NAME.
hold_start() {
	local name=$1 sock=$BATS_TEST_TMPDIR/h-$1.sock log=$BATS_TEST_TMPDIR/h-$1.log
	bg_start xlb-client "$log" "$PYTHON" "$NAMECLIENT" hold "$2" "$3" "$sock"
	local deadline=$((SECONDS + 10))
	until [[ -S $sock ]]; do
		if ! pid_running "$BG_PID" || ((SECONDS >= deadline)); then
			fail "holder $name did not connect to $2:$3:" || true
			cat "$log" >&2
			return 1
		fi
		sleep 0.05
	done
}

# hold_probe NAME: prints the backend answering over the held connection.
hold_probe() {
	"$PYTHON" "$NAMECLIENT" probe "$BATS_TEST_TMPDIR/h-$1.sock"
}

# assert_held NAME BACKEND: the held connection is alive and still on BACKEND.
assert_held() {
	local got
	got=$(hold_probe "$1") || { fail "held connection $1: $got"; return 1; }
	[[ $got == "$2" ]] || { fail "held connection $1 moved from $2 to $got"; return 1; }
}

# --- traffic ----------------------------------------------------------------------

# burst HOST PORT N: N new TCP connections to the name service; one backend
# name (or "error: ...") per line.
burst() {
	in_client "$PYTHON" "$NAMECLIENT" burst "$@"
}

udp_ask() {
	in_client "$PYTHON" "$NAMECLIENT" udp "$@"
}

# curl_hostnames N URL: N curl runs (each a new TCP connection) from the
# client; the API's "hostname" of each answer, one per line ("error" when a
# request failed).
curl_hostnames() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	in_client bash -c '
		for ((i = 0; i < $1; i++)); do
			out=$(curl -sS -g -m 3 "$2") || { echo error; continue; }
			out=${out#*\"hostname\": \"}
			echo "${out%%\"*}"
		done' _ "$1" "$2"
}

# assert_balanced FILE MIN_SHARE_PERCENT BACKEND...: every line of FILE names
# one of BACKENDs and each BACKEND has at least MIN_SHARE percent of lines.
assert_balanced() {
	local file=$1 share=$2 be n total
	shift 2
	total=$(wc -l <"$file")
	((total > 0)) || { fail "no answers at all"; return 1; }
	echo "answers per backend:" >&2
	sort "$file" | uniq -c >&2
	for be; do
		n=$(grep -cx -- "$be" "$file" || true)
		((n * 100 >= total * share)) || { fail "$be got $n of $total (< $share%)"; return 1; }
	done
	n=$(grep -cvxF -f <(printf '%s\n' "$@") "$file" || true)
	((n == 0)) || { fail "$n answers from elsewhere (errors?)"; return 1; }
}

# --- the Host/SNI proxy ------------------------------------------------------------

# httpc CMD ARGS...: tests/lab/httpclient.py in the client netns.
httpc() {
	in_client "$PYTHON" "$HTTPCLIENT" "$@"
}

# host_answers N HOST [URL]: N curl requests (each a new TCP connection)
# from the client with "Host: HOST", to URL (default http://$LB4/who). One
# line per request: the lab server's name for a 200 (tests/lab/httpserver.py
# answers /who with it), "status=CODE" for another answer, "error" when
# curl failed.
host_answers() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	in_client bash -c '
		body=$(mktemp)
		trap "rm -f $body" EXIT
		for ((i = 0; i < $1; i++)); do
			code=$(curl -sS -g -m 5 -H "Host: $2" -o "$body" -w "%{http_code}" "$3") ||
				{ echo error; continue; }
			if [[ $code == 200 ]]; then head -n 1 "$body"; else echo "status=$code"; fi
		done' _ "$1" "$2" "${3:-http://$LB4/who}"
}

# host_answer HOST [URL]: one request, as host_answers prints it.
host_answer() {
	host_answers 1 "$@"
}

# assert_answer HOST EXPECTED [URL]: one request with Host: HOST gets EXPECTED
# (a backend name or status=CODE).
assert_answer() {
	local got
	got=$(host_answer "$1" "${3:-}") || true
	[[ $got == "$2" ]] || { fail "Host: $1 answered '$got', expected '$2'"; return 1; }
}

# assert_answer_like HOST ERE [URL]: one request with Host: HOST gets an
# answer matching ERE (e.g. 'be[12]' for a pool).
assert_answer_like() {
	local got
	got=$(host_answer "$1" "${3:-}") || true
	[[ $got =~ ^($2)$ ]] || { fail "Host: $1 answered '$got', expected /$2/"; return 1; }
}

# assert_only_from FILE BACKEND...: every line of FILE names one of BACKENDs
# and every BACKEND answered at least once.
assert_only_from() {
	local file=$1 be n
	shift
	[[ -s $file ]] || { fail "no answers at all"; return 1; }
	echo "answers per backend:" >&2
	sort "$file" | uniq -c >&2
	n=$(grep -cvxF -f <(printf '%s\n' "$@") "$file" || true)
	((n == 0)) || { fail "$n answers not from $*"; return 1; }
	for be; do
		grep -qx -- "$be" "$file" || { fail "$be never answered"; return 1; }
	done
}

# assert_all_match FILE ERE: FILE has lines, and every one matches ERE.
assert_all_match() {
	local n
	[[ -s $1 ]] || { fail "no answers at all"; return 1; }
	n=$(grep -cvxE -- "$2" "$1" || true)
	((n == 0)) || { fail "$n of $(wc -l <"$1") answers do not match /$2/:"; cat "$1" >&2; return 1; }
}

# proxy_counter FIELD: FIELD (accepted, routed, no_route, bad_request,
# timeouts, refused, connect_failed, spliced_bytes, splice_conns, ...)
# summed over the proxy's listeners, as `xlbctl --json stats` shows them
# (xlbd writes the counters about once a second).
proxy_counter() {
	xlbctl --json stats | "$PYTHON" -c '
import json, sys
field = sys.argv[1]
print(sum(l[field] for l in json.load(sys.stdin)["listeners"]))' "$1"
}

counter_at_least() {
	local n
	n=$(proxy_counter "$1") || return 1
	((n >= $2))
}

# wait_counter FIELD MIN: polls until proxy counter FIELD reaches MIN.
wait_counter() {
	wait_until 10 counter_at_least "$1" "$2" ||
		{ fail "proxy counter $1 is $(proxy_counter "$1"), expected at least $2"; return 1; }
}

# reason_packets REASON: packets counted under REASON (xlbctl stats).
reason_packets() {
	xlbctl --json stats | "$PYTHON" -c '
import json, sys
print(json.load(sys.stdin)["reasons"][sys.argv[1]]["packets"])' "$1"
}

# log_has ERE: xlbd's log has a line matching ERE.
log_has() {
	grep -qE -- "$1" "$XLBD_LOG"
}

# wait_log ERE: polls until xlbd logs a line matching ERE.
wait_log() {
	wait_until 10 log_has "$1" || { fail "xlbd never logged /$1/"; return 1; }
}

# xlbd_fds: how many file descriptors xlbd holds now.
xlbd_fds() {
	local fds=("/proc/$XLBD_PID/fd"/*)
	echo "${#fds[@]}"
}

fds_at_most() {
	(($(xlbd_fds) <= $1))
}

# tcp_mem_bytes: memory held by all TCP sockets (the kernel counts it
# machine-wide, in pages, whatever netns reads /proc/net/sockstat).
tcp_mem_bytes() {
	local pages
	pages=$(awk '$1 == "TCP:" { for (i = 2; i < NF; i++) if ($i == "mem") print $(i + 1) }' /proc/net/sockstat)
	echo $((pages * $(getconf PAGESIZE)))
}

# lab_sockets: every TCP socket of the lab, one per line, with its netns,
# addresses and memory (ss skmem: r receive queue, rb its limit, w send
# queue, tb its limit, f forward allocation).
lab_sockets() {
	local ns
	for ns in $(lab_namespaces); do
		in_ns "$ns" ss -Htanm | awk -v ns="$ns" '
			/skmem:/ { match($0, /skmem:\([^)]*\)/); print ns, sock, substr($0, RSTART, RLENGTH); next }
			{ sock = $4 " " $5 }'
	done
}

# lab_socket_mem_bytes [FILE]: the sum of r + w + f over lab_sockets, i.e.
# the lab's share of tcp_mem_bytes; FILE gets the sockets it summed.
lab_socket_mem_bytes() {
	lab_sockets | tee "${1:-/dev/null}" | grep -o 'skmem:([^)]*)' | awk -F'[(,)]' '{
		for (i = 2; i <= NF; i++) {
			if ($i ~ /^r[0-9]/ || $i ~ /^w[0-9]/ || $i ~ /^f[0-9]/) sum += substr($i, 2)
		}
	} END { print sum + 0 }'
}

# --- per-test cleanup ----------------------------------------------------------------

# Kills what the test started, takes xlb off the lab and removes the test
# pins, also when the test failed. Dumps xlbd's log on failure. Fails the
# test when xlbd did not exit 0 on a SIGTERM or SIGINT (a leak under ASan).
xlb_test_teardown() {
	stop_bg
	if [[ -n ${XLBD_PID-} ]]; then
		stop_xlbd TERM
	fi
	if [[ -z ${BATS_TEST_COMPLETED-} && -s ${XLBD_LOG-} ]]; then
		echo "--- xlbd log" >&2
		cat "$XLBD_LOG" >&2
	fi
	if [[ -x $XLBCTL ]]; then
		xlbctl teardown >&2 || echo "xlbctl teardown failed" >&2
	fi
	# Last resort, so that one broken test does not break the next ones.
	if [[ -e $PIN_DIR ]]; then
		echo "teardown: $PIN_DIR still there after xlbctl teardown; removing" >&2
		rm -rf "$PIN_DIR"
	fi
	rm -f "$CTL_SOCK"
	assert_clean_stops
}

# --- what is attached ------------------------------------------------------------

# Lab namespaces as they exist now.
lab_namespaces() {
	ip netns list | awk '{print $1}' | grep -E '^xlb-(client|lb|be[0-9]+)$' || true
}

# assert_no_bpf_attached: no XDP program and no tc filter on any interface
# of the lab, as ip, tc and bpftool see them.
assert_no_bpf_attached() {
	local ns dev found=0
	for ns in $(lab_namespaces); do
		if ip -n "$ns" -d link show | grep -E 'prog/xdp|[[:space:]]xdp(generic|drv|offload)?[[:space:]]' >&2; then
			echo "XDP still attached in $ns (above)" >&2
			found=1
		fi
		for dev in $(ip -n "$ns" -br link show | awk '{sub(/@.*/, "", $1); if ($1 != "lo") print $1}'); do
			for dir in ingress egress; do
				if [[ -n $(tc -n "$ns" filter show dev "$dev" "$dir" 2>/dev/null) ]]; then
					echo "tc filter left on $ns/$dev $dir:" >&2
					tc -n "$ns" filter show dev "$dev" "$dir" >&2
					found=1
				fi
			done
		done
		if ! in_ns "$ns" bpftool -j net show | "$PYTHON" -c '
import json, sys
left = [e for part in json.load(sys.stdin) for kind in ("xdp", "tc") for e in part.get(kind, [])]
print("\n".join(map(str, left)))
sys.exit(1 if left else 0)' >&2; then
			echo "bpftool net show in $ns still lists programs (above)" >&2
			found=1
		fi
	done
	assert_no_sock_lb_attached || found=1
	((found == 0))
}

# The cgroup v2 mount, where xlbd's socket hooks go by default.
cgroup2_mount() {
	# the type is the field after "-", past the optional ones
	awk '{ for (i = 7; i < NF; i++) if ($i == "-") break }
		$(i + 1) == "cgroup2" { print $5; exit }' /proc/self/mountinfo
}

# assert_no_sock_lb_attached: no xlb socket hook (xlb_sock_*) on any cgroup
# below the cgroup v2 mount: xlbd's links go with it, crashed or not.
assert_no_sock_lb_attached() {
	local left
	left=$(bpftool cgroup tree "$(cgroup2_mount)" 2>/dev/null | grep -E '[[:space:]]xlb_sock_' || true)
	[[ -z $left ]] && return 0
	echo "xlb socket hooks still attached to a cgroup:" >&2
	echo "$left" >&2
	return 1
}

# --- client loops (tests/lab/loadclient.py) ----------------------------------------

LOADCLIENT=$REPO/tests/lab/loadclient.py

# now_ms: the wall clock in ms, as loadclient.py stamps its lines.
now_ms() {
	date +%s%3N
}

# load_start NAME tcp HOST PORT | NAME http HOST PORT VHOST [--conns N]: a
# client loop of new connections from the client netns, logging to
# $BATS_TEST_TMPDIR/load-NAME.log until load_stop; stopped by the
# per-test teardown too.
load_start() {
	local name=$1
	shift
	local out=$BATS_TEST_TMPDIR/load-$name.log
	: >"$out"
	bg_start xlb-client "$BATS_TEST_TMPDIR/load-$name.err" "$PYTHON" "$LOADCLIENT" "$@" "$out"
	eval "LOAD_PID_$name=\$BG_PID"
}

# load_lines NAME: requests logged so far.
load_lines() {
	wc -l <"$BATS_TEST_TMPDIR/load-$1.log"
}

load_more_than() {
	(($(load_lines "$1") > $2))
}

# load_wait NAME N: polls until N more requests than now were logged.
load_wait() {
	local target=$(($(load_lines "$1") + $2))
	wait_until "${3:-30}" load_more_than "$1" "$target" ||
		{ fail "client loop $1 stalled at $(load_lines "$1") requests"; return 1; }
}

# load_stop NAME: ends the loop and waits for it.
load_stop() {
	local var=LOAD_PID_$1
	local pid=${!var-}
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	wait_until 10 pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# load_summary NAME [SINCE_MS [UNTIL_MS]]: "requests=N failed=M", then
# "backend NAME N" and "reason N TEXT" lines.
load_summary() {
	"$PYTHON" "$LOADCLIENT" summary "$BATS_TEST_TMPDIR/load-$1.log" \
		${2:+--since "$2"} ${3:+--until "$3"}
}

# load_failures NAME: the failed requests with their client ports, and
# the health changes xlbd logged, for a failing test's output.
load_failures() {
	echo "--- failed requests of $1 (start ms, client port):"
	grep ' fail ' "$BATS_TEST_TMPDIR/load-$1.err" || true
	echo "--- health changes:"
	grep 'event=health_change' "${XLBD_LOG:-/dev/null}" || true
}

# load_field SUMMARY_TEXT KEY: the number after KEY= in a summary's first line.
load_field() {
	local line=${1%%$'\n'*} v
	v=${line#*"$2"=}
	echo "${v%% *}"
}

# load_backends SUMMARY_TEXT: the backends that answered, one per line.
load_backends() {
	awk '$1 == "backend" { print $2 }' <<<"$1"
}

# load_max_latency_ms NAME: the slowest answered request's latency, rounded up.
load_max_latency_ms() {
	awk '$2 == "ok" && $4 > m { m = $4 } END { printf "%d\n", m + 0.999 }' \
		"$BATS_TEST_TMPDIR/load-$1.log"
}

# assert_load_balanced SUMMARY_TEXT MIN_SHARE_PERCENT BACKEND...: no failed
# request and every BACKEND answered at least MIN_SHARE percent.
assert_load_balanced() {
	local s=$1 share=$2 be n total failed
	shift 2
	total=$(load_field "$s" requests)
	failed=$(load_field "$s" failed)
	((total > 0)) || { fail "no requests in this window"; return 1; }
	((failed == 0)) || { fail "$failed of $total requests failed: $s"; return 1; }
	for be; do
		n=$(awk -v b="$be" '$1 == "backend" && $2 == b { print $3 }' <<<"$s")
		((${n:-0} * 100 >= total * share)) || { fail "$be answered ${n:-0} of $total (< $share%)"; return 1; }
	done
}

# --- metrics and backend state --------------------------------------------------------

# metrics_sample NAME_AND_LABELS: the value of one sample from xlbd's --metrics at
# $METRICS_ADDR (in the lb netns); empty when absent.
metrics_sample() {
	in_lb curl -sf -m 5 "http://$METRICS_ADDR/metrics" |
		awk -v k="$1" '$1 == k { print $2; exit }'
}

# backend_field SERVICE ADDR:PORT FIELD: FIELD (state, flows, packets, ...)
# of one backend, as `xlbctl --json backends` shows it.
backend_field() {
	xlbctl --json backends | "$PYTHON" -c '
import json, sys
svc, addr, field = sys.argv[1:]
for b in json.load(sys.stdin)["backends"]:
    if b["service"] == svc and b["address"] == addr:
        print(b[field])' "$1" "$2" "$3"
}

backend_state_is() {
	[[ $(backend_field "$1" "$2" state) == "$3" ]]
}
