#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Least privilege: once set up, xlbd (started as root) keeps only the
# capabilities its runtime work needs, in every set, bounding set included,
# with no_new_privs; and that work still gets done after the drop: services
# and backends added later (control socket, SIGHUP) on links set up then,
# with XDP redirecting into them; the Host proxy, its sockmap path, health
# checks and metrics; and --teardown-on-exit, which takes it all off again.
# After the drop, a seccomp filter holds xlbd to the system calls of its
# runtime: the kernel says it is on, the work above is done under it, and
# a probe with the same filter shows that it kills on execve and refuses
# what is not on its list.
# With --user, xlbd goes on as that user once set up (its groups, its
# uid and gid in all four places) with the same runtime capabilities and
# CAP_DAC_READ_SEARCH, and the work above is still done; the systemd unit
# that runs it so passes systemd-analyze verify.

load helpers
load https_helpers

# What xlbd keeps (capsh's names, in bit order), with XDP on an uplink...
# (with a config file, whose reload may open a listener on a low port)
RUNTIME_LINKS=cap_net_bind_service,cap_net_admin,cap_sys_admin,cap_bpf
# ... and as the proxy alone (no --iface).
RUNTIME_PROXY=cap_net_bind_service,cap_bpf
METRICS=127.0.0.1:9120
# xlbd's own filter in a program of its own (tests/seccomp/seccomp_probe.c)
SECCOMP_PROBE=$BUILD/seccomp_probe

setup_file() {
	lab_setup 3
	serve name 1 3
	serve http 1 3
}

teardown_file() {
	lab_teardown
}

teardown() {
	xlb_test_teardown
	remove_test_user
}

# The user --user tests run as, with a supplementary group, made per test.
TEST_USER=xlbtest
TEST_GROUP=xlbtestg

add_test_user() {
	remove_test_user
	groupadd --system "$TEST_GROUP" &&
		useradd --system --no-create-home --shell /usr/sbin/nologin \
			--groups "$TEST_GROUP" "$TEST_USER"
}

# What xlbd handed to the test user goes back to root before it is gone.
remove_test_user() {
	[[ -d /run/xlb ]] && chown root:root /run/xlb
	if id -u "$TEST_USER" >/dev/null 2>&1; then userdel "$TEST_USER"; fi
	if getent group "$TEST_GROUP" >/dev/null; then groupdel "$TEST_GROUP"; fi
	return 0
}

# status_ids FIELD: the Uid: or Gid: line of xlbd's status (real,
# effective, saved, filesystem), one space apart.
status_ids() {
	awk -v f="$1:" '$1 == f { print $2, $3, $4, $5 }' "/proc/$XLBD_PID/status"
}

# An L4 service on be1..be$1 (name servers), the Host proxy on be1 with a
# health check, and a second Host service whose backend does not listen
# (also on be1: the links to be2 and be3 are set up only when a test adds
# a backend there).
lab_config() {
	local i
	echo "[service names]"
	echo "listen = $VIP4:9000/tcp"
	for ((i = 1; i <= $1; i++)); do echo "backend = 10.200.$i.2:9000"; done
	cat <<-EOF
		[http]
		listen = $LB4:80
		[service web]
		host = web.lab
		backend = 10.200.1.2:8080
		check = http:/who
		check_interval = 300ms
		check_timeout = 200ms
		[service dead]
		host = dead.lab
		backend = 10.200.1.2:8099
		check = tcp
		check_interval = 300ms
		check_timeout = 200ms
		check_fall = 2
	EOF
}

# status_caps FIELD: a capability set of xlbd's (CapEff, CapPrm, CapInh,
# CapBnd, CapAmb) as capsh names it: "cap_bpf,cap_net_admin", or "".
status_caps() {
	local mask out
	mask=$(awk -v f="$1:" '$1 == f { print $2 }' "/proc/$XLBD_PID/status")
	[[ -n $mask ]] || { fail "no $1 in /proc/$XLBD_PID/status"; return 1; }
	out=$(capsh --decode="$mask")
	echo "${out#*=}"
}

# assert_runtime_caps NAMES: xlbd's effective, permitted and bounding sets
# are exactly NAMES, it passes nothing on (inheritable, ambient), and it
# can gain nothing by execve (no_new_privs).
assert_runtime_caps() {
	local set got
	for set in CapEff CapPrm CapBnd; do
		got=$(status_caps "$set") || return 1
		[[ $got == "$1" ]] || { fail "$set is '$got', expected '$1'"; return 1; }
	done
	for set in CapInh CapAmb; do
		got=$(status_caps "$set") || return 1
		[[ -z $got ]] || { fail "$set is '$got', expected none"; return 1; }
	done
	got=$(awk '$1 == "NoNewPrivs:" { print $2 }' "/proc/$XLBD_PID/status")
	[[ $got == 1 ]] || { fail "NoNewPrivs is '$got', expected 1"; return 1; }
	log_has "event=caps_dropped kept=$1 bounding=$1 no_new_privs=1" ||
		{ fail "no caps_dropped line for $1"; return 1; }
}

# seccomp_mode: the Seccomp field of xlbd's /proc status (0: none, 2: filter).
seccomp_mode() {
	awk '$1 == "Seccomp:" { print $2 }' "/proc/$XLBD_PID/status"
}

# refused_calls PID: the kernel's log lines (type=1326) on system calls the
# filter refused PID or one of its threads: a path its list missed. Prints
# nothing when the kernel log cannot be read.
refused_calls() {
	local tid tids=()
	for tid in /proc/"$1"/task/*; do tids+=("${tid##*/}"); done
	dmesg 2>/dev/null | grep 'type=1326' |
		grep -E " pid=($(IFS='|'; echo "${tids[*]}")) " || true
}

# run_probe MODE: the seccomp probe, its status in $status, its line in $output.
run_probe() {
	[[ -x $SECCOMP_PROBE ]] || { fail "missing $SECCOMP_PROBE: make $SECCOMP_PROBE"; return 1; }
	run "$SECCOMP_PROBE" "$1"
}

# only_from PORT BACKEND...: 30 new connections to the VIP's PORT are all
# answered by BACKENDs, each of them at least once.
only_from() {
	local port=$1 out=$BATS_TEST_TMPDIR/burst want
	shift
	burst "$VIP4" "$port" 30 >"$out" || true
	for want in "$@"; do
		grep -qx "$want" "$out" || return 1
	done
	! grep -qvxE "$(IFS='|'; echo "$*")" "$out"
}

# assert_redirects LINK...: xlbd set each LINK up (return program, XDP on
# its peer inside the backend's netns) and redirects into it, which needs
# the privileges it kept; the kernel's forwarding would serve as well, so
# the traffic alone would not tell.
assert_redirects() {
	local link
	for link; do
		wait_log "event=backend_link link=$link .*redirect=yes" || return 1
	done
	! log_has 'event=(peer_prepare_failed|backend_link_failed)' ||
		{ fail "a link was not set up:"; grep -E 'peer_prepare_failed|backend_link_failed' "$XLBD_LOG" >&2; return 1; }
}

scrape() {
	in_lb curl -sS -f -m 5 "http://$METRICS/metrics" >"$BATS_TEST_TMPDIR/metrics"
}

# metric_is SERIES VALUE: a fresh scrape has SERIES (as printed) at VALUE.
metric_is() {
	scrape && awk -v s="$1" -v v="$2" '$1 == s && $2 == v { found = 1 } END { exit !found }' \
		"$BATS_TEST_TMPDIR/metrics"
}

@test "after set-up xlbd runs under its seccomp filter, and still proxies, answers xlbctl and reloads" {
	local cfg
	cfg=$(write_config "$(lab_config 1)")
	start_xlbd "$cfg"
	[[ $(seccomp_mode) == 2 ]] || { fail "Seccomp is '$(seccomp_mode)', expected 2 (filter)"; return 1; }
	log_has 'event=seccomp mode=filter syscalls=[0-9]+' || { fail "no event=seccomp line"; return 1; }
	assert_answer web.lab be1
	xlbctl service add late --host late.lab || { fail "xlbctl service add"; return 1; }
	xlbctl backend add late 10.200.3.2:8080 || { fail "xlbctl backend add"; return 1; }
	assert_answer late.lab be3
	xlbctl --json services | grep -q '"late"' || { fail "xlbctl lists no service late"; return 1; }
	lab_config 2 >"$cfg"
	kill -HUP "$XLBD_PID"
	wait_until 10 only_from 9000 be1 be2 || { fail "after reload: $(sort "$BATS_TEST_TMPDIR/burst" | uniq -c)"; return 1; }
	[[ -z $(refused_calls "$XLBD_PID") ]] ||
		{ fail "the filter refused calls of xlbd's: $(refused_calls "$XLBD_PID")"; return 1; }
	stop_xlbd TERM
	[[ $XLBD_STATUS -eq 0 ]] || fail "xlbd exited with status $XLBD_STATUS under the filter"
}

@test "--no-seccomp runs without a filter, and says so once" {
	start_xlbd "$(write_config "$(lab_config 1)")" --no-seccomp
	[[ $(seccomp_mode) == 0 ]] || { fail "Seccomp is '$(seccomp_mode)', expected 0"; return 1; }
	[[ $(grep -c 'event=seccomp ' "$XLBD_LOG") == 1 ]] && log_has 'event=seccomp mode=off' ||
		{ fail "expected one event=seccomp mode=off line: $(grep 'event=seccomp' "$XLBD_LOG")"; return 1; }
	assert_answer web.lab be1
}

@test "the filter is live: execve kills with SIGSYS, a call not on the list gets EPERM, sockets work" {
	run_probe exec
	# 128 + SIGSYS (31); the probe's own line says it got that far
	[[ $status -eq 159 ]] || { fail "execve under the filter: status $status, output: $output"; return 1; }
	[[ $output == *"probe=install syscalls="* && $output != *"result=returned"* ]] ||
		{ fail "probe output: $output"; return 1; }
	run_probe unlisted
	[[ $status -eq 0 && $output == *'err="Operation not permitted"'* ]] ||
		{ fail "getpgid under the filter: status $status, output: $output"; return 1; }
	run_probe socket
	[[ $status -eq 0 && $output == *'err="none"'* ]] ||
		{ fail "socket and bind under the filter: status $status, output: $output"; return 1; }
}

@test "with XDP on an uplink, xlbd keeps exactly $RUNTIME_LINKS, and no_new_privs" {
	start_xlbd "$(write_config "$(lab_config 1)")"
	assert_runtime_caps "$RUNTIME_LINKS"
}

# thread_caps: "TID NAME CapEff CapPrm" for each of xlbd's threads.
thread_caps() {
	local t
	for t in /proc/"$XLBD_PID"/task/*; do
		printf '%s %s %s %s\n' "${t##*/}" "$(cat "$t/comm")" \
			"$(awk '$1 == "CapEff:" { print $2 }' "$t/status")" \
			"$(awk '$1 == "CapPrm:" { print $2 }' "$t/status")"
	done
}

@test "xlbd's helper threads (the log writer, TLS handshake workers) hold no capability" {
	local pki=$BATS_TEST_TMPDIR/pki cfg
	make_ca "$pki"
	issue "$pki" web.lab web.lab 7 crt
	cfg=$(write_config "$(lab_config 1)
[tls]
listen = $LB4:443
certs = $pki/certs
[service tlsweb]
host = tls.lab
proto = https
backend = 10.200.1.2:8080")
	start_xlbd "$cfg" --tls-workers 2
	assert_runtime_caps "$RUNTIME_LINKS"
	thread_caps >"$BATS_TEST_TMPDIR/threads"
	cat "$BATS_TEST_TMPDIR/threads" >&2
	# the main thread keeps the runtime set; two workers and the log
	# writer are there, and each holds nothing at all
	grep -q '^[0-9]* xlbd-tls0 ' "$BATS_TEST_TMPDIR/threads" || fail "no TLS worker thread"
	grep -q '^[0-9]* xlbd-log ' "$BATS_TEST_TMPDIR/threads" || fail "no log thread"
	awk -v main="$XLBD_PID" '$1 != main && ($3 != "0000000000000000" || $4 != "0000000000000000")' \
		"$BATS_TEST_TMPDIR/threads" >"$BATS_TEST_TMPDIR/holding"
	[[ ! -s $BATS_TEST_TMPDIR/holding ]] || fail "threads with capabilities: $(cat "$BATS_TEST_TMPDIR/holding")"
}

@test "after the drop, a service added over the control socket balances over backends on links set up then" {
	start_xlbd "$(write_config "$(lab_config 1)")"
	assert_runtime_caps "$RUNTIME_LINKS"
	control_ok service add late "listen=$VIP4:9001/tcp" || fail "service add: $(control service add late "listen=$VIP4:9001/tcp")"
	control_ok backend add late 10.200.2.2:9000 || fail "backend add be2"
	control_ok backend add late 10.200.3.2:9000 || fail "backend add be3"
	wait_until 10 only_from 9001 be2 be3 || { fail "answers: $(sort "$BATS_TEST_TMPDIR/burst" | uniq -c)"; return 1; }
	assert_redirects b2 b3
}

@test "after the drop, a backend added by SIGHUP gets traffic, with XDP redirecting into it" {
	local cfg
	cfg=$(write_config "$(lab_config 1)")
	start_xlbd "$cfg"
	only_from 9000 be1 || { fail "before reload: $(sort "$BATS_TEST_TMPDIR/burst" | uniq -c)"; return 1; }
	lab_config 2 >"$cfg"
	kill -HUP "$XLBD_PID"
	wait_until 10 only_from 9000 be1 be2 || { fail "after reload: $(sort "$BATS_TEST_TMPDIR/burst" | uniq -c)"; return 1; }
	assert_redirects b1 b2
	assert_runtime_caps "$RUNTIME_LINKS"
}

@test "after the drop, the Host proxy routes (also a service added then), health checks judge, metrics answer" {
	start_xlbd "$(write_config "$(lab_config 1)")" --metrics "$METRICS"
	assert_runtime_caps "$RUNTIME_LINKS"
	assert_answer web.lab be1
	control_ok service add late host=late.lab || fail "service add"
	control_ok backend add late 10.200.3.2:8080 || fail "backend add"
	assert_answer late.lab be3
	# the check that fails takes its backend out; the one that passes keeps it
	wait_until 10 metric_is 'xlb_backend_up{service="dead",backend="10.200.1.2:8099"}' 0 ||
		{ fail "the dead backend was never marked down"; return 1; }
	metric_is 'xlb_backend_up{service="web",backend="10.200.1.2:8080"}' 1 ||
		{ fail "the live backend is not up"; return 1; }
	assert_answer dead.lab status=503
}

@test "as the proxy alone (no uplink), xlbd keeps only $RUNTIME_PROXY, and the sockmap path still moves a service's bytes" {
	# shellcheck disable=SC2034 # read by start_xlbd (iface_args)
	local XLB_IFACES=
	# connection mode: the sockmap moves HTTP connections in it only
	start_xlbd "$(write_config "$(lab_config 1)")" --proxy-path sockmap --http-mode connection
	assert_runtime_caps "$RUNTIME_PROXY"
	control_ok service add late host=late.lab || fail "service add"
	control_ok backend add late 10.200.3.2:8080 || fail "backend add"
	assert_answer late.lab be3
	wait_counter sockmap_conns 1
}

@test "--teardown-on-exit, after the drop, takes off what was set up after it too and leaves no pins" {
	start_xlbd "$(write_config "$(lab_config 1)")" --teardown-on-exit
	control_ok backend add names 10.200.3.2:9000 || fail "backend add be3"
	wait_until 10 only_from 9000 be1 be3 || { fail "answers: $(sort "$BATS_TEST_TMPDIR/burst" | uniq -c)"; return 1; }
	assert_redirects b1 b3
	stop_xlbd TERM
	[[ $XLBD_STATUS -eq 0 ]] || fail "xlbd exited with status $XLBD_STATUS"
	log_has "event=teardown pin_dir=$PIN_DIR err=\"none\"" || { fail "no clean teardown line"; return 1; }
	[[ ! -e $PIN_DIR ]] || { fail "pins left: $(ls -la "$PIN_DIR")"; return 1; }
	assert_no_bpf_attached
}

@test "--user runs xlbd as that user after set-up, and it still proxies, answers xlbctl, reloads and tears down" {
	local cfg uid gid sgid t want=cap_dac_read_search,$RUNTIME_LINKS
	add_test_user || { fail "could not create $TEST_USER"; return 1; }
	uid=$(id -u "$TEST_USER") gid=$(id -g "$TEST_USER") sgid=$(getent group "$TEST_GROUP" | cut -d: -f3)
	cfg=$(write_config "$(lab_config 1)")
	start_xlbd "$cfg" --user "$TEST_USER" --teardown-on-exit
	[[ $(status_ids Uid) == "$uid $uid $uid $uid" ]] || { fail "Uid: $(status_ids Uid), expected $uid x4"; return 1; }
	[[ $(status_ids Gid) == "$gid $gid $gid $gid" ]] || { fail "Gid: $(status_ids Gid), expected $gid x4"; return 1; }
	awk '$1 == "Groups:"' "/proc/$XLBD_PID/status" | grep -qw "$sgid" ||
		{ fail "not in $TEST_GROUP ($sgid): $(grep Groups: "/proc/$XLBD_PID/status")"; return 1; }
	assert_runtime_caps "$want" || return 1
	log_has "event=user_switched user=$TEST_USER uid=$uid gid=$gid groups=[0-9]+ caps=$want" ||
		{ fail "no user_switched line"; return 1; }
	# the helper threads (the log writer, started before the switch) are
	# the user's too, and hold nothing
	thread_caps >"$BATS_TEST_TMPDIR/threads"
	awk -v main="$XLBD_PID" '$1 != main && ($3 != "0000000000000000" || $4 != "0000000000000000")' \
		"$BATS_TEST_TMPDIR/threads" >"$BATS_TEST_TMPDIR/holding"
	[[ ! -s $BATS_TEST_TMPDIR/holding ]] || { fail "threads with capabilities: $(cat "$BATS_TEST_TMPDIR/holding")"; return 1; }
	for t in /proc/"$XLBD_PID"/task/*; do
		[[ $(awk '$1 == "Uid:" { print $2 }' "$t/status") == "$uid" ]] ||
			{ fail "thread ${t##*/} is not $TEST_USER's"; return 1; }
	done
	assert_answer web.lab be1
	xlbctl service add late --host late.lab || { fail "xlbctl service add"; return 1; }
	xlbctl backend add late 10.200.3.2:8080 || { fail "xlbctl backend add"; return 1; }
	assert_answer late.lab be3
	lab_config 2 >"$cfg"
	kill -HUP "$XLBD_PID"
	wait_until 10 only_from 9000 be1 be2 || { fail "after reload: $(sort "$BATS_TEST_TMPDIR/burst" | uniq -c)"; return 1; }
	assert_redirects b1 b2
	[[ -z $(refused_calls "$XLBD_PID") ]] ||
		{ fail "the filter refused calls of xlbd's: $(refused_calls "$XLBD_PID")"; return 1; }
	stop_xlbd TERM
	[[ $XLBD_STATUS -eq 0 ]] || { fail "xlbd exited with status $XLBD_STATUS"; return 1; }
	log_has "event=teardown pin_dir=$PIN_DIR err=\"none\"" || { fail "no clean teardown line"; return 1; }
	# the user may not remove the pin directory from /sys/fs/bpf (root's,
	# mode 0700): an empty one stays, and holds no pins
	[[ ! -e $PIN_DIR || -z $(ls -A "$PIN_DIR") ]] || { fail "pins left: $(ls -la "$PIN_DIR")"; return 1; }
	assert_no_bpf_attached
}

@test "an unknown --user is a usage error: one line, exit status 2, nothing set up" {
	run "$XLBD" --config "$(write_config "$(lab_config 1)")" --pin-dir "$PIN_DIR" \
		--control "$CTL_SOCK" --user xlb-no-such-user
	[[ $status -eq 2 ]] || { fail "status $status, output: $output"; return 1; }
	[[ ${#lines[@]} -eq 1 && $output == *'event=user_unknown user=xlb-no-such-user'* ]] ||
		{ fail "expected one user_unknown line, got: $output"; return 1; }
	[[ ! -e $PIN_DIR ]] || { fail "pins made: $(ls "$PIN_DIR")"; return 1; }
}

@test "the systemd unit passes systemd-analyze verify, and runs xlbd as the user xlb" {
	local unit=$BATS_TEST_TMPDIR/xlbd.service
	# the unit's ExecStart must exist: the built xlbd stands for the installed one
	sed "s|^ExecStart=/usr/local/sbin/xlbd |ExecStart=$(readlink -f "$XLBD") |" \
		"$REPO/scripts/systemd/xlbd.service" >"$unit"
	grep -q "^ExecStart=$(readlink -f "$XLBD") .*--user xlb\$" "$unit" || { fail "ExecStart: $(grep ExecStart "$unit")"; return 1; }
	run systemd-analyze verify "$unit"
	[[ $status -eq 0 && -z $output ]] || { fail "verify: status $status: $output"; return 1; }
}

# The release build's hardening (the Makefile's HARDEN_* flags): checked on
# the release binaries of $BUILD even in the sanitizer pass, whose own
# binaries leave FORTIFY out on purpose.
@test "xlbd and xlbctl are built hardened: PIE, full RELRO, stack protector, FORTIFY" {
	local prog
	for prog in "$BUILD/xlbd" "$BUILD/xlbctl"; do
		readelf -h "$prog" | grep -q 'DYN (Position-Independent Executable' || fail "$prog: not PIE"
		readelf -l "$prog" | grep -q GNU_RELRO || fail "$prog: no RELRO"
		readelf -d "$prog" | grep -q 'BIND_NOW' || fail "$prog: relocations not bound at start"
		nm -D "$prog" | grep -q ' __stack_chk_fail' || fail "$prog: no stack protector"
	done
	# FORTIFY: xlbd's copies into fixed buffers go through the checked calls
	nm -D "$BUILD/xlbd" | grep -qE ' __(memcpy|snprintf|vsnprintf|read)_chk' ||
		fail "xlbd: no FORTIFY checks"
}
