#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Bench part 5: memory.
#
#   maps        every BPF map of a running xlbd at the default sizes, with
#               the kernel's own figure (bpftool's bytes_memlock) and the
#               raw key+value bytes (bench/mapsizes.py)
#   xlbd RSS    idle, then with 100k flows in its flow table (xlb_flows,
#               one entry per flow, which the return path reads too;
#               written with batch map updates by build/bench/flowtab, not
#               by traffic: what 100k new flows through XDP leave behind),
#               and its peak (VmHWM) after `xlbctl backend del` prunes those
#               flows (timed too)
#   flow table  the largest: an LRU hash map shaped like xlb_flows, created
#               with 1M, 2M, 4M ... entries until the kernel refuses, the
#               next step would take more than XLB_MEM_HEADROOM_PCT (85) %
#               of MemAvailable, or 64M entries (quick: 4M). Never pinned:
#               each lives only as long as its probe process.
#
# xlbd runs on namespaces of its own (bench/cblab.bash, xlb-cb-m-*).
#
# usage: bench/memory.sh [--quick]
# env:   BUILD (default <repo>/build), BENCH_OUT ($BENCH_OUT/memory.tsv: the
#        headline figures; memory_maps.tsv, memory_flowcap.tsv: the detail;
#        memory.commands)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$REPO/build}
[[ $BUILD == /* ]] || BUILD=$REPO/$BUILD
PYTHON=${PYTHON:-python3}
QUICK=0
[[ ${1-} == --quick ]] && QUICK=1

# shellcheck source=bench/cblab.bash
. "$REPO/bench/cblab.bash"

MEM_PIN=/sys/fs/bpf/xlb-cb-mem
MEM_SOCK=/run/xlb/cb-mem.sock
FLOWS=100000
PROBE_FIRST=$((1 << 20))
PROBE_CAP=$((QUICK ? 1 << 22 : 1 << 26))
HEADROOM_PCT=${XLB_MEM_HEADROOM_PCT:-85}
FLOWTAB=$BUILD/bench/flowtab
WORK=$(mktemp -d /tmp/xlb-cb-memory.XXXXXX)

say() { echo "memory.sh: $*" >&2; }

setup_out() {
	if [[ -z ${BENCH_OUT-} ]]; then
		BENCH_OUT=$(mktemp -d /tmp/xlb-bench.XXXXXX)
		say "BENCH_OUT not set: writing to $BENCH_OUT"
	fi
	mkdir -p "$BENCH_OUT"
	TSV=$BENCH_OUT/memory.tsv
	MAPS_TSV=$BENCH_OUT/memory_maps.tsv
	CAP_TSV=$BENCH_OUT/memory_flowcap.tsv
	CMDS=$BENCH_OUT/memory.commands
	printf 'item\tvalue\tunit\tnote\n' >"$TSV"
	: >"$CMDS"
}

# (paths inside the repo are given relative to its root)
# and the run's own directories by name.
record() {
	local line="$*"
	line=${line//"$BENCH_OUT"/\$BENCH_OUT}
	line=${line//"$WORK"/<work dir>}
	echo "${line//"$REPO/"/}" >>"$CMDS"
}

# row ITEM VALUE UNIT NOTE
row() { printf '%s\t%s\t%s\t%s\n' "$@" >>"$TSV"; }

status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

mem_available_bytes() { awk '$1 == "MemAvailable:" { printf "%.0f\n", $2 * 1024 }' /proc/meminfo; }

# --- xlbd: maps and RSS ------------------------------------------------------------------

start_xlbd() {
	cblab_up xlb-cb-m 1
	cat >"$WORK/mem.ini" <<-EOF
		[http]
		listen = 10.211.0.1:18092
		[service cbmem]
		listen = $CBLAB_VIP:80/tcp
		backend = 10.211.1.2:80
		[service cbweb]
		host = web.cb.test
		backend = 10.211.1.2:8080
	EOF
	cblab_xlbd "$WORK/mem.ini" "$MEM_PIN" "$MEM_SOCK" "$WORK/xlbd.log"
	record "nsenter --net=/run/netns/xlb-cb-m-lb $BUILD/xlbd --config mem.ini --iface u0 --attach xdp --no-socket-lb" \
		"--pin-dir $MEM_PIN --control $MEM_SOCK --log-level info" \
		"(netns of bench/cblab.bash; mem.ini: [http] listen = 10.211.0.1:18092;" \
		"[service cbmem] listen = $CBLAB_VIP:80/tcp, backend = 10.211.1.2:80;" \
		"[service cbweb] host = web.cb.test, backend = 10.211.1.2:8080)"
}

bench_maps() {
	local cmd=("$PYTHON" "$REPO/bench/mapsizes.py" "$CBLAB_XLBD_PID" "$MEM_PIN")
	record "$PYTHON bench/mapsizes.py <xlbd's pid> $MEM_PIN"
	"${cmd[@]}" >"$MAPS_TSV"
	awk -F'\t' 'NR > 1 { m += $6; kv += $7; n++ }
		$1 == "xlb_flows" { fl = $6; fe = $5 }
		$8 ~ /^Maglev table/ { tb = $6; nt++ }
		END { printf "maps_total\t%d\tbytes\t%d maps of xlbd at default sizes, with %d services (bpftool bytes_memlock; raw key+value bytes: %d)\n", m, n, nt, kv
		      printf "flow_table\t%d\tbytes\txlb_flows, %d entries, preallocated\n", fl, fe
		      printf "flow_bytes_per_entry\t%.1f\tbytes\tone flow: its xlb_flows entry (both directions)\n", fl / fe
		      printf "maglev_table\t%d\tbytes\tone service'"'"'s Maglev table (65537 slots)\n", tb }' \
		"$MAPS_TSV" >>"$TSV"
}

# The ids of service cbmem and of its backend, from xlbctl --json.
backend_ids() {
	"$BUILD/xlbctl" --pin-dir "$MEM_PIN" --json backends | "$PYTHON" -c '
import json, sys
for b in json.load(sys.stdin)["backends"]:
    if b["service"] == "cbmem":
        print(b["id"])'
}

service_id() {
	"$BUILD/xlbctl" --pin-dir "$MEM_PIN" --json services | "$PYTHON" -c '
import json, sys
for s in json.load(sys.stdin)["services"]:
    if s["name"] == "cbmem":
        print(s["id"])'
}

flow_count() { "$FLOWTAB" count "$MEM_PIN"; }

bench_rss() {
	local pid=$CBLAB_XLBD_PID be svc t0 t1 n
	# idle: a second after ready, nothing asked of it
	sleep 1
	row xlbd_rss_idle "$(status_kib "$pid" VmRSS)" KiB "VmRSS, 2 services, 1 uplink, 1 HTTP listener"
	be=$(backend_ids)
	svc=$(service_id)
	record "$FLOWTAB fill $MEM_PIN $FLOWS $be $svc $CBLAB_VIP 80"
	"$FLOWTAB" fill "$MEM_PIN" "$FLOWS" "$be" "$svc" "$CBLAB_VIP" 80 >/dev/null
	n=$(flow_count)
	((n == FLOWS)) || { say "xlb_flows holds $n entries after the fill, want $FLOWS"; return 1; }
	sleep 1
	row xlbd_rss_100k_flows "$(status_kib "$pid" VmRSS)" KiB \
		"VmRSS with $n flows in xlb_flows (batch-written; xlbd keeps no copy of them)"
	record "$BUILD/xlbctl --pin-dir $MEM_PIN --socket $MEM_SOCK backend del cbmem 10.211.1.2:80"
	t0=$(date +%s%N)
	"$BUILD/xlbctl" --pin-dir "$MEM_PIN" --socket "$MEM_SOCK" backend del cbmem 10.211.1.2:80 >/dev/null
	t1=$(date +%s%N)
	n=$(flow_count)
	row backend_del_prune_100k "$(((t1 - t0) / 1000000))" ms \
		"xlbctl backend del of the backend that owns the $FLOWS flows (xlbd walks xlb_flows); $n flows left"
	row xlbd_hwm_after_prune "$(status_kib "$pid" VmHWM)" KiB "VmHWM (peak RSS) after that prune"
	row xlbd_rss_after_prune "$(status_kib "$pid" VmRSS)" KiB "VmRSS after that prune"
}

# --- the largest flow table ---------------------------------------------------------------

# The kernel frees a map's memory a moment after its last fd closes (a
# deferred work item): wait until MemAvailable is back near its value
# before the probes, so that each step sees the machine as it was.
mem_back() { (($(mem_available_bytes) >= $1 - (256 << 20))); }

bench_flowcap() {
	local n=$PROBE_FIRST out avail need per=0 best=0 best_bytes=0 bound="cap ($PROBE_CAP entries)"
	local avail0
	avail0=$(mem_available_bytes)
	printf 'entries\tflows_bytes\tcreate_ms\tmem_available_bytes\n' >"$CAP_TSV"
	record "$FLOWTAB probe N   (N = $PROBE_FIRST, doubling, to $PROBE_CAP; each step only while" \
		"it needs at most $HEADROOM_PCT % of MemAvailable)"
	while ((n <= PROBE_CAP)); do
		wait_for 30 mem_back "$avail0" || true
		avail=$(mem_available_bytes)
		need=$((per * n))
		if ((need > avail * HEADROOM_PCT / 100)); then
			bound="headroom: $n entries would take ~$((need >> 20)) MiB, over $HEADROOM_PCT % of $((avail >> 20)) MiB available"
			break
		fi
		if ! out=$("$FLOWTAB" probe "$n" 2>"$WORK/probe.err"); then
			bound="the kernel refused $n entries: $(cat "$WORK/probe.err")"
			break
		fi
		read -r _ fb ms <<<"$out"
		printf '%s\t%s\t%s\t%s\n' "$n" "$fb" "$ms" "$avail" >>"$CAP_TSV"
		best=$n
		best_bytes=$fb
		per=$(((fb + n - 1) / n))
		n=$((n * 2))
	done
	wait_for 30 mem_back "$avail0" || true
	row flow_table_largest_created "$best" entries "flow LRU map created; bound: $bound"
	row flow_table_largest_bytes "$best_bytes" bytes "memlock of that map"
	if ((per > 0)); then
		row flow_table_fits_available "$((avail0 / per))" entries \
			"MemAvailable before the probes ($((avail0 >> 20)) MiB) / $per bytes per flow"
	fi
}

cleanup() {
	cblab_down "$MEM_PIN"
	rm -rf "$WORK"
}

print_markdown() {
	local f
	for f in "$TSV" "$MAPS_TSV" "$CAP_TSV"; do
		[[ -s $f ]] || continue
		echo
		awk -F'\t' 'NR == 1 { h = "|"; s = "|"; for (i = 1; i <= NF; i++) { h = h " " $i " |"; s = s "---|" }
			print h; print s; next }
			{ l = "|"; for (i = 1; i <= NF; i++) l = l " " $i " |"; print l }' "$f"
	done
}

main() {
	[[ $(id -u) -eq 0 ]] || { say "must run as root"; exit 1; }
	[[ -x $BUILD/xlbd && -x $BUILD/xlbctl ]] || { say "no $BUILD/xlbd: run make first"; exit 1; }
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	make -s -C "$REPO" BUILD="$BUILD" bench-progs >&2
	setup_out
	start_xlbd
	bench_maps
	bench_rss
	cblab_down "$MEM_PIN"
	bench_flowcap
	print_markdown
}

main "$@"
