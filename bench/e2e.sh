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
#   xlb-https-ecdsa, haproxy-https-ecdsa, nginx-https-ecdsa
#   xlb-https-rsa, haproxy-https-rsa, nginx-https-rsa
#                  HTTPS: each ends TLS on $LB:443 with the same
#                  certificate (ECDSA P-256 or RSA-2048, made by this run
#                  with openssl in its work dir and removed with it) and
#                  proxies plain HTTP to the same 4 backends as xlb-host,
#                  haproxy-http and nginx-http, with their configs: xlbd
#                  `proto = https` services ([tls] certs = DIR of NAME.crt +
#                  NAME.key), HAProxy `bind ... ssl crt` (dockercloud-
#                  haproxy's port_443 frontend), nginx `listen 443 ssl`
#                  (nginx-proxy's server blocks); same threads and workers
#                  as the HTTP rows. The same TLS settings for all three:
#                  TLS 1.3 only (ssl-min-ver, ssl_protocols; xlbd allows
#                  1.2 too, the client offers 1.3 only), OpenSSL's default
#                  suites and groups, ALPN http/1.1, stateless session
#                  tickets and no server-side session cache (xlbd's only
#                  way; so HAProxy gets tune.ssl.cachesize 0 and nginx
#                  keeps tickets on, where nginx-proxy turns them off for a
#                  shared cache), no HSTS.
#   xlb-https-ecdsa-w0, xlb-https-rsa-w0
#                  with E2E_TLS_W0=1, when `xlbd --help` lists
#                  --tls-workers: xlbd with --tls-workers 0 (the other
#                  xlb-https rows run at its default), for comparison
# Loads: wrk -t2 -c64 with keep-alive and with `Connection: close`; UDP
# packets per second (trafgen on one core) delivered to the backends. Over
# https: new TLS connections (`Connection: close`, one request and one full
# handshake each) with both certificates, keep-alive with the ECDSA one.
# wrk's own TLS client resumes sessions (it keeps the last session across
# SSL_clear; a server's log showed ~all handshakes resumed), so wrk and
# curl run with a preload (tls_shim_src below, built into the work dir)
# that drops the session before every handshake, sets SNI $HOST, ALPN
# http/1.1 and TLS 1.3, and counts handshakes and resumed ones
# (e2e_tls.tsv); the hellos on the client's veth are counted during each
# TLS row's warm-up (tls_probe_src: PSKs offered and accepted, hello
# retries, groups, suites; e2e_tls_wire.tsv).
# Part 3: one large download through each Host-routing proxy (CPU seconds
# per GB of the balancer and of the whole system), then a 1 MB/s reader
# (peak kernel memory; plain HTTP only); over https through xlb, HAProxy
# and nginx with the ECDSA certificate (curl, TLS 1.3, ALPN http/1.1).
#
# usage: bench/e2e.sh [--quick]
# env:   BUILD (default /work/main/build), BENCH_OUT (default: a temp dir),
#        E2E_LAB_WAIT (s to wait for another user's lab to go, default 600)
#        E2E_ROWS: groups of rows, default "l4 host path tls": l4 (direct,
#          xlb-l4, iptables, haproxy-tcp, with UDP), host (xlb-host,
#          xlb-sockmap, haproxy-http, nginx-http, and part 3's downloads
#          through xlb-splice, xlb-sockmap, haproxy-http, nginx-http), path
#          (the -path rows), tls (the -https- rows and their downloads).
#          Only the TLS rows: E2E_ROWS=tls bench/e2e.sh; through bench.sh:
#          XLB_BENCH_PARTS=e2e E2E_ROWS=tls XLB_BENCH_RESULTS=DIR make bench
#          (give a DIR: else a partial report replaces bench/results/).
#        E2E_TLS_W0=1: the xlb-https-*-w0 rows too (see above)
#        E2E_BALANCERS, E2E_EFF_BALANCERS: balancers by name instead
#          (development; E2E_EFF_BALANCERS="" measures no download)
#        E2E_KEEP=1: keep the work dir (its keys too)
# out:   $BENCH_OUT/e2e_tcp.tsv, e2e_udp.tsv, proxy_efficiency.tsv (one row
#        per round, with the exact commands), e2e_tls.tsv, e2e_tls_wire.tsv
#        (the TLS checks), e2e.md (the tables, also on stdout).
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
PROBE_PID=
TLS_DIR=	# $WORK/tls: the CA, and per certificate its files (tls_issue)
XLBD_TLS_WORKERS=0	# 1: xlbd --help lists --tls-workers
TCP_BALANCERS=()
EFF_BALANCERS=()

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

# --- TLS ----------------------------------------------------------------------------

is_tls() { [[ $1 == *-https-* ]]; }

# ecdsa or rsa: the certificate of a TLS balancer
tls_kind() {
	case $1 in
	*-https-ecdsa*) echo ecdsa ;;
	*-https-rsa*) echo rsa ;;
	*) die "no certificate for $1" ;;
	esac
}

# A CA and, per kind, a certificate for $HOST and app.bench signed by it:
# $TLS_DIR/KIND/certs/$HOST.crt + .key (xlbd's and nginx-proxy's layout;
# nginx reads the same files), $TLS_DIR/KIND/haproxy.pem (the same two in
# one file, for HAProxy's crt). Then the client's preload and the probe.
make_tls() {
	TLS_DIR=$WORK/tls
	mkdir -p "$TLS_DIR"
	chmod 0700 "$TLS_DIR"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=xlb bench CA" -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.pem" 2>/dev/null ||
		die "openssl: no CA"
	tls_issue ecdsa 0xec -newkey ec -pkeyopt ec_paramgen_curve:prime256v1
	tls_issue rsa 0x5a -newkey rsa:2048
	tls_shim_src >"$CONF/wrk_tls.c"
	cc -O2 -Wall -shared -fPIC -o "$WORK/wrk_tls.so" "$CONF/wrk_tls.c" -lssl -lcrypto ||
		die "the TLS client preload did not build (libssl-dev?)"
	tls_probe_src >"$CONF/tls_hellos.py"
}

# tls_issue KIND SERIAL OPENSSL-KEY-ARGS...
tls_issue() {
	local kind=$1 serial=$2 d=$TLS_DIR/$1
	shift 2
	mkdir -p "$d/certs"
	printf 'subjectAltName=DNS:%s,DNS:app.bench\n' "$HOST" >"$d/ext"
	if ! openssl req "$@" -nodes -subj "/CN=$HOST" -keyout "$d/key" -out "$d/csr" 2>/dev/null ||
		! openssl x509 -req -in "$d/csr" -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca.key" \
			-set_serial "$serial" -days 2 -extfile "$d/ext" -out "$d/certs/$HOST.crt" 2>/dev/null; then
		die "openssl: no $kind certificate"
	fi
	install -m 0600 "$d/key" "$d/certs/$HOST.key"
	(umask 077 && cat "$d/certs/$HOST.crt" "$d/key" >"$d/haproxy.pem")
	rm -f "$d/key" "$d/csr" "$d/ext"
}

# The TLS client's preload (LD_PRELOAD into wrk and curl; both call
# SSL_connect through the PLT). Before each handshake: drop the session that
# wrk's SSL_clear kept (else it resumes: XLB_TLS_RESUME=1 lets it, to see
# that), SNI $XLB_TLS_SNI (wrk would send the URL's address), TLS 1.3 only,
# ALPN http/1.1 (wrk offers none). At exit it appends to $XLB_TLS_STATS:
# handshakes, resumed ones, and the first one's version, suite, group,
# ALPN and the server's signature.
tls_shim_src() {
	cat <<-'EOF'
		/* bench/e2e.sh's TLS client preload (generated: see tls_shim_src there) */
		#define _GNU_SOURCE
		#include <dlfcn.h>
		#include <stdio.h>
		#include <stdlib.h>
		#include <openssl/objects.h>
		#include <openssl/ssl.h>

		static int (*real_connect)(SSL *);
		static unsigned long handshakes, resumed;
		static int noted;
		static char params[512];

		static const char *nid_name(int nid)
		{
			const char *s = nid ? OBJ_nid2sn(nid) : NULL;

			return s ? s : "-";
		}

		static void note(SSL *ssl)
		{
			const unsigned char *alpn;
			unsigned int alpn_len;
			int sig = 0, md = 0;

			SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
			SSL_get_peer_signature_type_nid(ssl, &sig);
			SSL_get_peer_signature_nid(ssl, &md);
			snprintf(params, sizeof(params), "%s\t%s\t%s\t%.*s\t%s+%s", SSL_get_version(ssl),
				 SSL_get_cipher_name(ssl), nid_name(SSL_get_negotiated_group(ssl)),
				 alpn_len ? (int)alpn_len : 1, alpn_len ? (const char *)alpn : "-",
				 nid_name(sig), nid_name(md));
		}

		int SSL_connect(SSL *ssl)
		{
			int r;

			if (!real_connect)
				real_connect = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_connect");
			if (SSL_in_before(ssl)) { /* not on the retries of a non-blocking one */
				const char *sni = getenv("XLB_TLS_SNI");

				if (!getenv("XLB_TLS_RESUME"))
					SSL_set_session(ssl, NULL);
				if (sni && *sni)
					SSL_set_tlsext_host_name(ssl, sni);
				SSL_set_min_proto_version(ssl, TLS1_3_VERSION);
				SSL_set_alpn_protos(ssl, (const unsigned char *)"\x08http/1.1", 9);
			}
			r = real_connect(ssl);
			if (r == 1) {
				__atomic_add_fetch(&handshakes, 1, __ATOMIC_RELAXED);
				if (SSL_session_reused(ssl))
					__atomic_add_fetch(&resumed, 1, __ATOMIC_RELAXED);
				if (!__atomic_exchange_n(&noted, 1, __ATOMIC_ACQ_REL))
					note(ssl);
			}
			return r;
		}

		__attribute__((destructor)) static void report(void)
		{
			const char *path = getenv("XLB_TLS_STATS");
			FILE *f;

			if (!path || !*path || !(f = fopen(path, "a")))
				return;
			fprintf(f, "%lu\t%lu\t%s\n", handshakes, resumed, noted ? params : "-\t-\t-\t-\t-");
			fclose(f);
		}
	EOF
}

# The hello probe: on one interface, until SIGTERM, the ClientHellos and
# those offering a session (pre_shared_key), the ServerHellos and those
# accepting one, HelloRetryRequests, TLS 1.3 chosen, the groups and suites
# chosen; a socket filter passes only the hellos. Then one line of those.
tls_probe_src() {
	cat <<-'EOF'
		"""bench/e2e.sh's TLS hello probe (generated: see tls_probe_src there).
		usage: tls_hellos.py IFACE PORT READY_FILE; prints, after SIGTERM:
		client_hellos psk_offered server_hellos psk_accepted hello_retries tls13 groups suites"""
		import ctypes
		import signal
		import socket
		import struct
		import sys

		ETH_P_ALL = 3  # ETH_P_IP would miss what the interface sends
		ETH_P_IP = 0x0800
		SO_ATTACH_FILTER = 26
		HRR = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
		GROUPS = {0x17: "P-256", 0x18: "P-384", 0x19: "P-521", 0x1d: "X25519", 0x1e: "X448"}
		SUITES = {0x1301: "TLS_AES_128_GCM_SHA256", 0x1302: "TLS_AES_256_GCM_SHA384",
		          0x1303: "TLS_CHACHA20_POLY1305_SHA256"}


		def bpf(port):
		    """IPv4 TCP from or to PORT, unfragmented, whose payload starts with a
		    handshake record holding a ClientHello (1) or a ServerHello (2)."""
		    ins = [
		        (0x28, 0, 0, 12),         # 0 ldh [12]
		        (0x15, 0, 20, ETH_P_IP),  # 1 jeq IPv4, else drop
		        (0x30, 0, 0, 23),         # 2 ldb [23]
		        (0x15, 0, 18, 6),         # 3 jeq TCP, else drop
		        (0x28, 0, 0, 20),         # 4 ldh [20]
		        (0x45, 16, 0, 0x1fff),    # 5 jset fragment offset: drop
		        (0xb1, 0, 0, 14),         # 6 ldxb 4*([14]&0xf)
		        (0x48, 0, 0, 14),         # 7 ldh [x+14]: source port
		        (0x15, 2, 0, port),       # 8 jeq port: to 11
		        (0x48, 0, 0, 16),         # 9 ldh [x+16]: destination port
		        (0x15, 0, 11, port),      # 10 jeq port, else drop
		        (0x50, 0, 0, 26),         # 11 ldb [x+26]: TCP data offset
		        (0x54, 0, 0, 0xf0),       # 12 and #0xf0
		        (0x74, 0, 0, 2),          # 13 rsh #2
		        (0x0c, 0, 0, 0),          # 14 add x
		        (0x07, 0, 0, 0),          # 15 tax
		        (0x50, 0, 0, 14),         # 16 ldb [x+14]: record type
		        (0x15, 0, 4, 0x16),       # 17 jeq handshake, else drop
		        (0x50, 0, 0, 19),         # 18 ldb [x+19]: handshake type
		        (0x15, 1, 0, 1),          # 19 jeq ClientHello: accept
		        (0x15, 0, 1, 2),          # 20 jeq ServerHello: accept, else drop
		        (0x06, 0, 0, 0xffff),     # 21 accept
		        (0x06, 0, 0, 0),          # 22 drop
		    ]
		    return b"".join(struct.pack("HBBI", *i) for i in ins)


		def extensions(body, i):
		    (n,) = struct.unpack_from(">H", body, i)
		    i += 2
		    end, ext = min(len(body), i + n), {}
		    while i + 4 <= end:
		        t, ln = struct.unpack_from(">HH", body, i)
		        ext[t] = body[i + 4:i + 4 + ln]
		        i += 4 + ln
		    return ext


		class Count:
		    def __init__(self):
		        self.ch = self.psk_offered = self.sh = self.psk_accepted = self.hrr = self.tls13 = 0
		        self.groups, self.suites = {}, {}

		    def frame(self, f):
		        t = 14 + (f[14] & 0xf) * 4
		        p = f[t + (f[t + 12] >> 4) * 4:]
		        kind, body = p[5], p[9:]
		        i = 35 + body[34]  # version, random, session id
		        if kind == 1:
		            (n,) = struct.unpack_from(">H", body, i)
		            i += 2 + n
		            i += 1 + body[i]
		            ext = extensions(body, i)
		            self.ch += 1
		            self.psk_offered += 41 in ext
		            return
		        (suite,) = struct.unpack_from(">H", body, i)
		        ext = extensions(body, i + 3)
		        self.sh += 1
		        if body[2:34] == HRR:
		            self.hrr += 1
		            return
		        self.psk_accepted += 41 in ext
		        self.tls13 += ext.get(43) == b"\x03\x04"
		        if len(ext.get(51, b"")) >= 2:
		            g = GROUPS.get(struct.unpack_from(">H", ext[51])[0], "other")
		            self.groups[g] = self.groups.get(g, 0) + 1
		        s = SUITES.get(suite, f"0x{suite:04x}")
		        self.suites[s] = self.suites.get(s, 0) + 1


		def top(d):
		    return ",".join(f"{k}:{v}" for k, v in sorted(d.items(), key=lambda kv: -kv[1])) or "-"


		def main():
		    iface, port, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
		    # no protocol until the filter is on: nothing unfiltered queues up
		    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
		    prog = ctypes.create_string_buffer(bpf(port))
		    s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER,
		                 struct.pack("HL", len(prog.raw) // 8, ctypes.addressof(prog)))
		    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
		    s.bind((iface, ETH_P_ALL))
		    stop = []
		    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
		    open(ready, "w").close()
		    c = Count()
		    s.settimeout(0.1)
		    while not stop:
		        try:
		            f = s.recv(65535)
		        except (socket.timeout, InterruptedError):
		            continue
		        try:
		            c.frame(f)
		        except (IndexError, struct.error):
		            pass  # a hello cut short: not counted
		    print(f"{c.ch}\t{c.psk_offered}\t{c.sh}\t{c.psk_accepted}\t{c.hrr}\t{c.tls13}"
		          f"\t{top(c.groups)}\t{top(c.suites)}", flush=True)


		if __name__ == "__main__":
		    main()
	EOF
}

# --- balancers -------------------------------------------------------------------

# Where the client sends its requests, per balancer.
target_url() {
	case $1 in
	direct) echo "http://10.200.1.2/" ;;
	xlb-l4 | iptables) echo "http://$VIP/" ;;
	*-path) echo "http://$LB/api/" ;;
	*-https-*) echo "https://$LB/" ;; # SNI and Host: $HOST
	*) echo "http://$LB/" ;;
	esac
}

# curl's arguments to reach a TLS balancer as $HOST (none for the others),
# in CURL_TLS: TLS 1.3, ALPN http/1.1, the certificate checked
tls_curl_args() {
	CURL_TLS=()
	if is_tls "$1"; then
		CURL_TLS=(--resolve "$HOST:443:$LB" --cacert "$TLS_DIR/ca.pem" --tlsv1.3 --http1.1)
	fi
}

# The preload's environment (tls_shim_src) for a TLS client writing its
# counts to $1.
tls_env() {
	echo "LD_PRELOAD=$WORK/wrk_tls.so"
	echo "XLB_TLS_SNI=$HOST"
	echo "XLB_TLS_STATS=$1"
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

# xlb_https_conf KIND: xlb_host_conf's two services over HTTPS, TLS ended
# by xlbd with the KIND certificate (proto = https, [tls] certs)
xlb_https_conf() {
	local i
	echo "[tls]"
	echo "listen = $LB:443"
	echo "certs = $TLS_DIR/$1/certs"
	echo "[service api]"
	echo "proto = https"
	echo "host = $HOST"
	for ((i = 1; i <= BACKENDS; i++)); do echo "backend = 10.200.$i.2:80"; done
	echo "[service app]"
	echo "proto = https"
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
	# --no-socket-lb: the bench's clients stand for remote ones (XDP, the proxy)
	local -a cmd=("$XLBD" --config "$conf" --pin-dir "$PIN_DIR" --control "$CTL_SOCK"
		--teardown-on-exit --no-socket-lb "$@")
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
# prefix stripped (as VIRTUAL_HOST=api.bench/api/* does there); with
# "https PEM", its port_443 frontend (bind ssl crt, X-Forwarded-Proto) with
# the bench's TLS settings (see the header).
haproxy_http_conf() {
	local i api_if="host_rule_1 or host_rule_1_port" strip='' port=80 bind=$LB:80 tune='' xfp=''
	local app=app.bench app_port=app.bench:80
	if [[ ${1:-} == path ]]; then
		api_if="host_rule_1 path_rule_1 or host_rule_1_port path_rule_1"
		strip='http-request replace-path ^/api(/.*) \1'
		app+=" $HOST" app_port+=" $HOST:80"
	elif [[ ${1:-} == https ]]; then
		port=443 app_port=app.bench:443
		bind="$LB:443 ssl crt $2 alpn http/1.1 ssl-min-ver TLSv1.3"
		tune="tune.ssl.cachesize 0"
		xfp="http-request set-header X-Forwarded-Proto https"
	fi
	cat <<-EOF
		global
		    maxconn 8000
		    $tune
		defaults
		    mode http
		    option redispatch
		    option forwardfor
		    timeout connect 5s
		    timeout client 60s
		    timeout server 60s
		    timeout http-keep-alive 60s
		frontend port_$port
		    bind $bind
		    $xfp
		    acl host_rule_1 hdr(host) -i $HOST
		    acl host_rule_1_port hdr(host) -i $HOST:$port
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
# app.bench's upstream and $HOST/api/ to the API's, prefix stripped; with
# "https KIND", the servers listen on 443 with ssl and the KIND certificate
# (nginx-proxy's SSL server blocks, with the bench's TLS settings: see the
# header; the default server refuses the handshake: ssl_reject_handshake).
nginx_http_conf() {
	local dir=$1 i locations="location / { proxy_pass http://$HOST; }"
	local listen=$LB:80 default="return 503;" tls='' certs=''
	[[ ${2:-} == path ]] &&
		locations="location / { proxy_pass http://app.bench; } location /api/ { proxy_pass http://$HOST/; }"
	if [[ ${2:-} == https ]]; then
		listen="$LB:443 ssl" default="ssl_reject_handshake on;"
		# in http{}: the handshake takes them from the default server
		tls="ssl_protocols TLSv1.3; ssl_prefer_server_ciphers off;"
		tls+=" ssl_session_cache none; ssl_session_tickets on;"
		tls+=" proxy_set_header X-Forwarded-Proto https;"
		certs="ssl_certificate $TLS_DIR/$3/certs/$HOST.crt; ssl_certificate_key $TLS_DIR/$3/certs/$HOST.key;"
	fi
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
		    $tls
		    server {
		        listen $listen default_server backlog=4096;
		        server_name _;
		        $default
		    }
		    upstream app.bench { server 10.200.1.2:80; keepalive 32; }
		    server {
		        listen $listen;
		        server_name app.bench;
		        $certs
		        location / { proxy_pass http://app.bench; }
		    }
		    upstream $HOST {
	EOF
	for ((i = 1; i <= BACKENDS; i++)); do echo "        server 10.200.$i.2:80;"; done
	cat <<-EOF
		        keepalive 64;
		    }
		    server {
		        listen $listen;
		        server_name $HOST;
		        $certs
		        $locations
		    }
		}
	EOF
}

# start_nginx_lb [path | https KIND]: the config is $CONF/$BAL.conf
start_nginx_lb() {
	local dir=$WORK/nginx-lb conf=$CONF/$BAL.conf
	rm -rf "$dir"
	mkdir -p "$dir/tmp"
	chmod 0777 "$dir/tmp"
	nginx_http_conf "$dir" "$@" >"$conf"
	local -a cmd=(nginx -e "$dir/error.log" -c "$conf" -g 'daemon off;')
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
	xlb-l4) start_xlbd xlb-l4 "$(xlb_l4_conf)" --iface u0 --attach xdp ;;
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
	xlb-https-ecdsa | xlb-https-rsa)
		start_xlbd "$1" "$(xlb_https_conf "$(tls_kind "$1")")" --http-mode request
		;;
	xlb-https-ecdsa-w0 | xlb-https-rsa-w0)
		start_xlbd "$1" "$(xlb_https_conf "$(tls_kind "$1")")" --http-mode request --tls-workers 0
		;;
	haproxy-https-ecdsa | haproxy-https-rsa)
		start_haproxy "$1" "$(haproxy_http_conf https "$TLS_DIR/$(tls_kind "$1")/haproxy.pem")"
		;;
	nginx-https-ecdsa | nginx-https-rsa) start_nginx_lb https "$(tls_kind "$1")" ;;
	*) die "unknown balancer $1" ;;
	esac
	wait_for 15 "$1 to answer" answers "$1" ||
		{ tail -n 20 "$WORK"/*.log "$WORK"/nginx-lb/*.log >&2 || true; die "balancer $1 does not answer"; }
}

# answers BAL: a request with our Host gets the JSON (over https as $HOST,
# the certificate checked, for a TLS balancer).
answers() {
	local url
	url=$(target_url "$1")
	tls_curl_args "$1"
	if is_tls "$1"; then url="https://$HOST/"; fi
	in_ns xlb-client curl -sf -m 2 "${CURL_TLS[@]}" -H "Host: $HOST" "$url" | grep -q hostname
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
WRK_REQUESTS=0
TLS_STATS=	# over https: the preload's line (tls_shim_src)

# run_wrk LOAD SECONDS URL: sets WRK_RESULT to "req_s p50_us p99_us errors",
# WRK_REQUESTS, WRK_CMD to the command and, over https, TLS_STATS (not in a
# subshell: all are for the caller).
run_wrk() {
	local load=$1 secs=$2 url=$3 out
	local -a cmd=(wrk -t2 -c64 "-d${secs}s" --latency -H "Host: $HOST") tenv
	[[ $load == close ]] && cmd+=(-H "Connection: close")
	cmd+=("$url")
	TLS_STATS=
	if [[ $url == https://* ]]; then
		rm -f "$WORK/tls.stats"
		mapfile -t tenv < <(tls_env "$WORK/tls.stats")
		cmd=(env "${tenv[@]}" "${cmd[@]}")
	fi
	WRK_CMD="nsenter --net=/run/netns/xlb-client $(quote "${cmd[@]}")"
	WRK_RESULT="0 0 0 1"
	WRK_REQUESTS=0
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
	WRK_REQUESTS=$(awk '/ requests in / { print $1; exit }' <<<"$out")
	WRK_REQUESTS=${WRK_REQUESTS:-0}
	if [[ $url == https://* ]]; then TLS_STATS=$(tail -n 1 "$WORK/tls.stats" 2>/dev/null || true); fi
}

# The loads of a balancer. With the RSA certificate only new connections:
# a request on an open connection does not touch the certificate.
loads_of() {
	if [[ $1 == *-https-rsa* ]]; then echo close; else echo keepalive close; fi
}

measure_tcp() {
	local round=$1 bal=$2 url load r hz pids p0 p1 s0 s1
	url=$(target_url "$bal")
	if is_tls "$bal"; then
		tls_warm_probe "$round" "$bal" "$url"
	else
		run_wrk keepalive "$WARM" "$url"
	fi
	hz=$(getconf CLK_TCK)
	mapfile -t pids < <(balancer_pids)
	for load in $(loads_of "$bal"); do
		p0=$(proc_ticks "${pids[@]}") s0=$(system_ticks)
		run_wrk "$load" "$DUR" "$url"
		p1=$(proc_ticks "${pids[@]}") s1=$(system_ticks)
		r=$WRK_RESULT
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$bal" "$load" "${r// /$'\t'}" \
			"$BAL_CMD" "$WRK_CMD" >>"$OUT/e2e_tcp.tsv"
		log "round $round $bal $load: req/s p50_us p99_us errors = $r"
		if is_tls "$bal"; then
			tls_row "$round" "$bal" "$load" "$DUR" "$WRK_REQUESTS" \
				"$(awk -v t=$((p1 - p0)) -v hz="$hz" 'BEGIN { printf "%.3f", t / hz }')" \
				"$(awk -v t=$((s1 - s0)) -v hz="$hz" 'BEGIN { printf "%.3f", t / hz }')"
		fi
	done
}

# tls_row ROUND BAL LOAD SECONDS REQUESTS BAL_CPU_S SYS_CPU_S: a row of
# e2e_tls.tsv from TLS_STATS, the preload's counts of the run just done.
tls_row() {
	local hs=0 res=0 proto=- suite=- group=- alpn=- sig=-
	if [[ -n $TLS_STATS ]]; then
		IFS=$'\t' read -r hs res proto suite group alpn sig <<<"$TLS_STATS"
	else
		log "$2 $3: no TLS counts from the client (its preload did not run?)"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" \
		"$hs" "$res" "$6" "$7" "$proto" "$suite" "$group" "$alpn" "$sig" >>"$OUT/e2e_tls.tsv"
	log "round $1 $2 $3: $hs TLS handshakes, $res resumed; $proto $suite $group $alpn $sig"
	if [[ $res != 0 ]]; then log "WARNING: $2 $3: the client resumed $res sessions"; fi
}

# The warm-up of a TLS balancer: new connections (the handshake is what it
# warms), with the hellos on the client's veth counted meanwhile
# (tls_probe_src) into e2e_tls_wire.tsv.
tls_warm_probe() {
	local round=$1 bal=$2 url=$3 res
	rm -f "$WORK/probe.ready"
	bg xlb-client "$WORK/probe.out" python3 "$CONF/tls_hellos.py" c0 443 "$WORK/probe.ready"
	PROBE_PID=$BG_PID
	wait_for 10 "the hello probe" test -e "$WORK/probe.ready" ||
		{ cat "$WORK/probe.out" >&2; die "the hello probe did not start"; }
	run_wrk close "$WARM" "$url"
	stop_pids "$PROBE_PID"
	PROBE_PID=
	res=$(tail -n 1 "$WORK/probe.out")
	if [[ ! $res =~ ^[0-9]+$'\t' ]]; then
		log "$bal: the hello probe said: $(cat "$WORK/probe.out")"
		res=$'-\t-\t-\t-\t-\t-\t-\t-'
	fi
	printf '%s\t%s\t%s\n' "$round" "$bal" "$res" >>"$OUT/e2e_tls_wire.tsv"
	log "round $round $bal warm-up on the wire: ClientHellos, with a PSK, ServerHellos, with a PSK, retries, TLS 1.3, groups, suites = ${res//$'\t'/ }"
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
	case $1 in
	direct) echo "http://10.200.1.2/big" ;;
	*-https-*) echo "https://$HOST/big" ;; # to $LB: tls_curl_args
	*) echo "http://$LB/big" ;;
	esac
}

# One download of BIG_MB through the balancer: its CPU and the system's.
# Over https with the client's preload, for its TLS counts (e2e_tls.tsv).
measure_download() {
	local round=$1 bal=$2 url hz pids p0 p1 s0 s1 res bytes secs
	url=$(big_url "$bal")
	hz=$(getconf CLK_TCK)
	mapfile -t pids < <(balancer_pids)
	tls_curl_args "$bal"
	local -a cmd=(curl -sS -o /dev/null "${CURL_TLS[@]}" -H "Host: $HOST"
		-w '%{size_download} %{time_total}' "$url") tenv
	if is_tls "$bal"; then
		rm -f "$WORK/tls.stats"
		mapfile -t tenv < <(tls_env "$WORK/tls.stats")
		cmd=(env "${tenv[@]}" "${cmd[@]}")
	fi
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
	if is_tls "$bal"; then
		TLS_STATS=$(tail -n 1 "$WORK/tls.stats" 2>/dev/null || true)
		tls_row "$round" "$bal" download "$secs" 1 "" ""
	fi
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

UDP_BALANCERS=(direct xlb-l4 iptables)

# TCP_BALANCERS and EFF_BALANCERS from E2E_ROWS (groups of rows, in the
# order of the bench), or E2E_BALANCERS and E2E_EFF_BALANCERS (names).
select_balancers() {
	local group w0=0
	local -a tcp=() eff=()
	if [[ -n ${E2E_TLS_W0-} && ${E2E_TLS_W0} != 0 ]]; then
		if ((XLBD_TLS_WORKERS)); then
			w0=1
		else
			log "E2E_TLS_W0: $XLBD --help has no --tls-workers: no -w0 rows"
		fi
	fi
	for group in ${E2E_ROWS:-l4 host path tls}; do
		case $group in
		l4) tcp+=(direct xlb-l4 iptables haproxy-tcp) ;;
		host)
			tcp+=(xlb-host xlb-sockmap haproxy-http nginx-http)
			eff+=(xlb-splice xlb-sockmap haproxy-http nginx-http)
			;;
		path) tcp+=(xlb-path haproxy-path nginx-path) ;;
		tls)
			tcp+=(xlb-https-ecdsa)
			((w0)) && tcp+=(xlb-https-ecdsa-w0)
			tcp+=(haproxy-https-ecdsa nginx-https-ecdsa xlb-https-rsa)
			((w0)) && tcp+=(xlb-https-rsa-w0)
			tcp+=(haproxy-https-rsa nginx-https-rsa)
			eff+=(xlb-https-ecdsa haproxy-https-ecdsa nginx-https-ecdsa)
			;;
		*) die "E2E_ROWS: no group '$group' (l4 host path tls)" ;;
		esac
	done
	read -ra TCP_BALANCERS <<<"${E2E_BALANCERS:-${tcp[*]}}"
	if [[ -v E2E_EFF_BALANCERS ]]; then
		read -ra EFF_BALANCERS <<<"$E2E_EFF_BALANCERS"
	else
		EFF_BALANCERS=("${eff[@]}")
	fi
}

# Any TLS balancer to run: then certificates, the preload and the probe.
wants_tls() {
	local b
	for b in "${TCP_BALANCERS[@]}" "${EFF_BALANCERS[@]}"; do is_tls "$b" && return 0; done
	return 1
}

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
	if wants_tls; then
		printf 'round\tbalancer\tload\tsecs\trequests\thandshakes\tresumed\tbalancer_cpu_s\tsystem_cpu_s\tprotocol\tcipher\tgroup\talpn\tpeer_signature\n' \
			>"$OUT/e2e_tls.tsv"
		printf 'round\tbalancer\tclient_hellos\tpsk_offered\tserver_hellos\tpsk_accepted\thello_retries\ttls13\tgroups\tsuites\n' \
			>"$OUT/e2e_tls_wire.tsv"
	fi
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
			# (plain HTTP: it is about the kernel's buffers)
			if ((round == ROUNDS)) && ! is_tls "$bal"; then measure_slow_reader "$bal"; fi
			stop_balancer
		done
	done
}

cleanup() {
	local rc=$?
	set +e
	trap '' PIPE INT TERM
	[[ -n $TRAFGEN_PGID ]] && kill -KILL -- "-$TRAFGEN_PGID" 2>/dev/null
	[[ -n $PROBE_PID ]] && stop_pids "$PROBE_PID"
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
	local help
	for t in wrk haproxy nginx trafgen curl socat iptables nft ss python3 openssl cc; do
		command -v "$t" >/dev/null || die "missing $t: scripts/deps.sh --bench"
	done
	[[ -x $XLBD && -x $XLBCTL ]] || die "missing $XLBD or $XLBCTL: make first (BUILD=$BUILD)"
	help=$("$XLBD" --help 2>&1 || true)
	if [[ $help == *--tls-workers* ]]; then XLBD_TLS_WORKERS=1; fi
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
	select_balancers
	write_headers
	if wants_tls; then make_tls; fi
	lab_start
	run_rounds
	python3 "$HERE/e2e_report.py" --quick "$QUICK" --rounds "$ROUNDS" "$OUT" | tee "$OUT/e2e.md"
	log "TSVs in $OUT"
}

# sourced (development): the functions only
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
