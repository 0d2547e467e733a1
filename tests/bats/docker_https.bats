#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Certificates from the environment with a real dockerd, the way
# dockercloud-haproxy took them: SSL_CERT on the application containers
# (key first, then the certificate, on one line with "\n" escaped) and
# DEFAULT_SSL_CERT in the balancer's own environment. The containers
# carry nothing but dockercloud-haproxy's variables. xlbd (this build, on
# the host) terminates TLS on 127.0.0.1:$TLS_PORT; every answer is
# checked at the client (curl --cacert against a CA made here, and the
# serial of the certificate served) and at the backend (the container's
# hostname in its answer). Everything is made under the name prefix
# "xlbdh" and removed again.

load helpers
load docker_xlbd
load pebble

HTTP_PORT=18082
TLS_PORT=18444
DH_PIN=/sys/fs/bpf/xlb-dhttps
DH_SOCK=/run/xlb/dhttps.sock
PROJECT=xlbdh
IMAGE=xlbdh/www:latest

# --- set-up ------------------------------------------------------------------------

# make_ca DIR: a CA, DIR/ca.pem and DIR/ca.key.
make_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=xlb docker test CA" -keyout "$1/ca.key" -out "$1/ca.pem" 2>/dev/null
}

# issue DIR FILE SERIAL NAME...: DIR/FILE.pem, the private key then the
# certificate for the NAMEs (signed by DIR's CA), as dockercloud-haproxy
# documents SSL_CERT's PEM.
issue() {
	local dir=$1 file=$2 serial=$3 t san
	shift 3
	t=$(mktemp -d)
	san=$(printf 'DNS:%s,' "$@")
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$1" \
		-keyout "$t/key" -out "$t/csr" 2>/dev/null
	printf 'subjectAltName=%s\n' "${san%,}" >"$t/ext"
	openssl x509 -req -in "$t/csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -set_serial "$serial" \
		-days 1 -extfile "$t/ext" -out "$t/crt" 2>/dev/null
	cat "$t/key" "$t/crt" >"$dir/$file.pem"
	rm -rf "$t"
}

# one_line FILE: the PEM as an environment variable holds it ("\n" as two
# characters), as dockercloud-haproxy's README makes it with awk.
one_line() { awk 1 ORS='\\n' "$1"; }

setup_file() {
	require_built
	# a dockerd that runs already (the machine's, or another suite's) stays
	export DH_OWN_DOCKERD=0
	if ! curl -sf -m 2 --unix-socket /var/run/docker.sock http://d/_ping >/dev/null; then
		"$REPO/scripts/dockerd.sh" start >&2
		DH_OWN_DOCKERD=1
	fi
	eval "$("$REPO/scripts/images.sh" | grep '^XLB_[A-Z_]*=')"
	export XLB_PYTHON_IMAGE
	build_who_image "$IMAGE"
	export PKI=$BATS_FILE_TMPDIR/pki
	mkdir -p "$PKI"
	make_ca "$PKI"
	issue "$PKI" a 0xA1 a.dh.test
	issue "$PKI" b 0xB2 b.dh.test
	# claims a's name: served nowhere while a holds it
	issue "$PKI" z 0xEE a.dh.test
	# a container's DEFAULT_SSL_CERT, also naming e's host
	issue "$PKI" d 0xD4 d.dh.test e.dh.test
	# xlbd's own DEFAULT_SSL_CERT
	issue "$PKI" default 0xDF default.dh.test
	dh_cleanup
}

teardown_file() {
	dh_cleanup
	docker image rm -f "$IMAGE" >/dev/null 2>&1 || true
	if ((DH_OWN_DOCKERD)); then "$REPO/scripts/dockerd.sh" stop >&2 || true; fi
}

dh_cleanup() {
	local ids
	ids=$(docker ps -aq --filter "name=^xlbdh_" 2>/dev/null || true)
	[[ -z $ids ]] || docker rm -f $ids >/dev/null 2>&1 || true
	"$XLBCTL" --pin-dir "$DH_PIN" teardown >/dev/null 2>&1 || true
}

setup() {
	DH_LOG=$BATS_TEST_TMPDIR/xlbd.log
}

teardown() {
	local stopped=0
	stop_dh_xlbd || stopped=$?
	stop_bg
	dh_cleanup
	return "$stopped"
}

# start_dh_xlbd [ARGS...]: xlbd --docker with DEFAULT_SSL_CERT in its
# environment, its HTTP and TLS listeners on 127.0.0.1; waits for its
# first sync.
start_dh_xlbd() {
	DEFAULT_SSL_CERT=$(one_line "$PKI/default.pem") "$XLBD" --docker \
		--http-listen "127.0.0.1:$HTTP_PORT" --tls-listen "127.0.0.1:$TLS_PORT" \
		--pin-dir "$DH_PIN" --control "$DH_SOCK" --log-level debug "$@" \
		</dev/null >>"$DH_LOG" 2>&1 3>&- &
	DH_PID=$!
	wait_until 20 grep -q 'event=docker_synced' "$DH_LOG" ||
		{ cat "$DH_LOG" >&2; return 1; }
}

# stop_dh_xlbd: SIGTERM, and xlbd must exit 0 (the sanitizer build exits
# non-zero on a leak or a memory error).
stop_dh_xlbd() {
	[[ -n ${DH_PID-} ]] || return 0
	local pid=$DH_PID
	DH_PID=
	stop_docker_xlbd "$pid" "$DH_LOG"
}

# app SERVICE N [docker run args...]: container xlbdh_SERVICE_N of compose
# project xlbdh, service SERVICE (so that replicas are one service).
app() {
	local svc=$1 n=$2
	shift 2
	docker run -d --name "${PROJECT}_${svc}_$n" \
		-l "com.docker.compose.project=$PROJECT" -l "com.docker.compose.service=$svc" \
		"$@" "$IMAGE" >/dev/null
}

hostname_of() { docker inspect -f '{{.Config.Hostname}}' "$1"; }

# who_tls NAME: the hostname of the container that answered GET /who for
# NAME over TLS, the certificate checked against the test's CA for NAME.
who_tls() {
	curl -sS -m 5 --cacert "$PKI/ca.pem" --resolve "$1:$TLS_PORT:127.0.0.1" \
		"https://$1:$TLS_PORT/who"
}

who_http() { curl -sS -m 5 -H "Host: $1" "http://127.0.0.1:$HTTP_PORT/who"; }

# serial_of NAME: the serial of the certificate a client asking for NAME
# gets ("serial=A1").
serial_of() {
	openssl s_client -connect "127.0.0.1:$TLS_PORT" -servername "$1" </dev/null 2>/dev/null |
		openssl x509 -noout -serial
}

serial_is() { [[ $(serial_of "$1") == "serial=$2" ]]; }

# answered_by NAME CONTAINER...: over TLS, every answer for NAME (of 10)
# comes from one of the CONTAINERs, and each of them answers.
answered_by() {
	local name=$1 seen want i
	shift
	seen=$(for ((i = 0; i < 10; i++)); do who_tls "$name" || echo FAILED; done | sort -u)
	want=$(for c in "$@"; do hostname_of "$c"; done | sort -u)
	[[ $seen == "$want" ]] || { echo "for $name: got [$seen], want [$want]" >&2; return 1; }
}

# --- tests ---------------------------------------------------------------------

@test "docker https: each container's SSL_CERT is served for its own names, the balancer's DEFAULT_SSL_CERT for the rest" {
	local a b z d
	a=$(one_line "$PKI/a.pem") b=$(one_line "$PKI/b.pem") z=$(one_line "$PKI/z.pem")
	d=$(one_line "$PKI/d.pem")
	# VIRTUAL_HOST without a scheme: with a certificate, TLS is terminated
	app a 1 -e VIRTUAL_HOST=a.dh.test -e "SSL_CERT=$a"
	app a 2 -e VIRTUAL_HOST=a.dh.test -e "SSL_CERT=$a"
	app b 1 -e VIRTUAL_HOST=https://b.dh.test -e "SSL_CERT=$b"
	app b 2 -e VIRTUAL_HOST=https://b.dh.test
	# claims a.dh.test with a certificate for it: service a keeps the name
	app z 1 -e VIRTUAL_HOST=a.dh.test -e "SSL_CERT=$z"
	# a container's DEFAULT_SSL_CERT: its own names only, never the default
	app d 1 -e VIRTUAL_HOST=d.dh.test -e "DEFAULT_SSL_CERT=$d"
	app e 1 -e VIRTUAL_HOST=https://e.dh.test
	# a broken certificate: refused, the routes stay
	app f 1 -e VIRTUAL_HOST=f.dh.test -e 'SSL_CERT=-----BEGIN CERTIFICATE-----\nnot a cert\n'
	# resyncs every 300 ms, to show that nothing is logged twice
	start_dh_xlbd --docker-resync-ms 300
	wait_until 10 serial_is a.dh.test A1
	# at the client: each name's own certificate, valid for the CA made
	# here; at the backend: the container of that name
	answered_by a.dh.test xlbdh_a_1 xlbdh_a_2
	answered_by b.dh.test xlbdh_b_1 xlbdh_b_2
	answered_by d.dh.test xlbdh_d_1
	serial_is b.dh.test B2
	serial_is d.dh.test D4
	# e's host: the balancer's default (not valid for e.dh.test, so
	# curl refuses it), not d's certificate that names it
	serial_is e.dh.test DF
	run who_tls e.dh.test
	[[ $status -ne 0 && $output == *"e.dh.test"* ]] || fail "e.dh.test over TLS: $output"
	[[ $(curl -sS -m 5 -k --resolve "e.dh.test:$TLS_PORT:127.0.0.1" \
		"https://e.dh.test:$TLS_PORT/who") == "$(hostname_of xlbdh_e_1)" ]]
	# f: its certificate refused, its routes in place
	[[ $(who_http f.dh.test) == "$(hostname_of xlbdh_f_1)" ]]
	serial_is f.dh.test DF
	# one line each, naming the container; never a key
	[[ $(grep -c 'event=env_cert_refused container=xlbdh_z_1 ' "$DH_LOG") -eq 1 ]] ||
		fail "$(grep env_cert "$DH_LOG")"
	grep 'event=env_cert_refused container=xlbdh_z_1 .*names=a.dh.test' "$DH_LOG"
	[[ $(grep -c 'event=env_cert_refused container=xlbdh_f_1 .*reason="no certificate in PEM"' \
		"$DH_LOG") -eq 1 ]]
	[[ $(grep -c 'event=env_cert_not_default container=xlbdh_d_1 ' "$DH_LOG") -eq 1 ]]
	grep 'event=cert_loaded source=env names=default.dh.test .*default=1' "$DH_LOG"
	! grep -q 'PRIVATE KEY' "$DH_LOG"
	! grep -qF "$(sed -n 2p "$PKI/a.pem")" "$DH_LOG"
}

@test "docker https: a container's certificate goes with it, unless a replica brought the same" {
	local a b z
	a=$(one_line "$PKI/a.pem") b=$(one_line "$PKI/b.pem") z=$(one_line "$PKI/z.pem")
	app a 1 -e VIRTUAL_HOST=a.dh.test -e "SSL_CERT=$a"
	app a 2 -e VIRTUAL_HOST=a.dh.test -e "SSL_CERT=$a"
	app b 1 -e VIRTUAL_HOST=https://b.dh.test -e "SSL_CERT=$b"
	app b 2 -e VIRTUAL_HOST=https://b.dh.test
	app z 1 -e VIRTUAL_HOST=a.dh.test -e "SSL_CERT=$z"
	start_dh_xlbd
	wait_until 10 serial_is a.dh.test A1
	serial_is b.dh.test B2
	# b_1 brought b's certificate: it goes, b_2 still answers, with the default
	docker rm -f xlbdh_b_1 >/dev/null
	wait_until 10 serial_is b.dh.test DF
	grep 'event=cert_removed source=env:xlbdh_b_1' "$DH_LOG"
	[[ $(curl -sS -m 5 -k --resolve "b.dh.test:$TLS_PORT:127.0.0.1" \
		"https://b.dh.test:$TLS_PORT/who") == "$(hostname_of xlbdh_b_2)" ]]
	# a_2 brought the same certificate as a_1: it is still served
	docker rm -f xlbdh_a_1 >/dev/null
	wait_until 10 grep -q 'event=cert_removed source=env:xlbdh_a_1' "$DH_LOG"
	serial_is a.dh.test A1
	answered_by a.dh.test xlbdh_a_2
	# with service a gone, z holds a.dh.test in routing, and its own
	# certificate serves it
	docker rm -f xlbdh_a_2 >/dev/null
	wait_until 10 serial_is a.dh.test EE
	[[ $(curl -sS -m 5 -k --resolve "a.dh.test:$TLS_PORT:127.0.0.1" \
		"https://a.dh.test:$TLS_PORT/who") == "$(hostname_of xlbdh_z_1)" ]]
}

# hsts_of NAME: the Strict-Transport-Security value of NAME's answer over
# TLS (the balancer's default certificate serves it: -k).
hsts_of() {
	curl -sS -m 5 -k -D - -o /dev/null --resolve "$1:$TLS_PORT:127.0.0.1" \
		"https://$1:$TLS_PORT/who" | tr -d '\r' | sed -n 's/^[Ss]trict-[Tt]ransport-[Ss]ecurity: //p'
}

http_code_of() {
	curl -sS -m 5 -o /dev/null -w '%{http_code}' -H "Host: $1" "http://127.0.0.1:$HTTP_PORT/who"
}

@test "docker https: nginx-proxy's HTTPS_METHOD and HSTS on containers that carry only its variables" {
	app r 1 -e VIRTUAL_HOST=https://r.dh.test -e HTTPS_METHOD=redirect
	app n 1 -e VIRTUAL_HOST=https://n.dh.test -e HTTPS_METHOD=nohttp \
		-e "HSTS=max-age=60; includeSubDomains; preload"
	app o 1 -e VIRTUAL_HOST=https://o.dh.test -e HTTPS_METHOD=noredirect
	app p 1 -e VIRTUAL_HOST=https://p.dh.test -e HTTPS_METHOD=nohttps
	start_dh_xlbd
	wait_until 10 bash -c "[[ \$(curl -sS -m 5 -H 'Host: o.dh.test' http://127.0.0.1:$HTTP_PORT/who) == $(hostname_of xlbdh_o_1) ]]"
	# redirect: 308 to https, and a year of HSTS over TLS
	[[ $(http_code_of r.dh.test) == 308 ]]
	[[ $(hsts_of r.dh.test) == "max-age=31536000" ]]
	# nohttp: no plain HTTP site; the policy as given
	[[ $(http_code_of n.dh.test) == 404 ]]
	[[ $(hsts_of n.dh.test) == "max-age=60; includeSubDomains; preload" ]]
	[[ $(curl -sS -m 5 -k --resolve "n.dh.test:$TLS_PORT:127.0.0.1" \
		"https://n.dh.test:$TLS_PORT/who") == "$(hostname_of xlbdh_n_1)" ]]
	# noredirect: both sites, no HSTS
	[[ -z $(hsts_of o.dh.test) ]]
	# nohttps: plain HTTP only, TLS refused for the name
	[[ $(who_http p.dh.test) == "$(hostname_of xlbdh_p_1)" ]]
	! curl -sS -m 5 -k --resolve "p.dh.test:$TLS_PORT:127.0.0.1" "https://p.dh.test:$TLS_PORT/who"
}

# pair DIR NAME SERIAL HOST...: DIR/NAME.crt and DIR/NAME.key for the
# HOSTs, nginx-proxy's layout of /etc/nginx/certs.
pair() {
	local dir=$1 name=$2 pem=$PKI/pair_$2.pem
	issue "$PKI" "pair_$name" "${@:3}"
	openssl pkey -in "$pem" -out "$dir/.$name.key"
	openssl x509 -in "$pem" -out "$dir/.$name.crt"
	chmod 600 "$dir/.$name.key"
	# the key first: a watcher that sees the certificate finds its key
	mv "$dir/.$name.key" "$dir/$name.key"
	mv "$dir/.$name.crt" "$dir/$name.crt"
	rm -f "$pem"
}

@test "docker https: nginx-proxy's certificate directory: a host with NAME.crt is https and redirected, CERT_NAME, a file added later" {
	local certs=$BATS_TEST_TMPDIR/certs
	mkdir -m 700 "$certs"
	pair "$certs" c.dh.test 0xC1 c.dh.test
	pair "$certs" shared 0x5A s1.dh.test s2.dh.test
	pair "$certs" default 0xDD default.dh.test
	app c 1 -e VIRTUAL_HOST=c.dh.test
	app s 1 -e VIRTUAL_HOST=s1.dh.test,s2.dh.test -e CERT_NAME=shared
	app q 1 -e VIRTUAL_HOST=q.dh.test
	start_dh_xlbd --tls-certs "$certs"
	wait_until 10 bash -c "[[ \$(curl -sS -m 5 -H 'Host: q.dh.test' http://127.0.0.1:$HTTP_PORT/who) == $(hostname_of xlbdh_q_1) ]]"
	# its own file serves c.dh.test (checked against the CA for the
	# name); plain HTTP is redirected, with nginx-proxy's year of HSTS
	[[ $(who_tls c.dh.test) == "$(hostname_of xlbdh_c_1)" ]]
	serial_is c.dh.test C1
	[[ $(http_code_of c.dh.test) == 308 ]]
	[[ $(hsts_of c.dh.test) == "max-age=31536000" ]]
	# CERT_NAME=shared: shared.crt serves both names
	[[ $(who_tls s1.dh.test) == "$(hostname_of xlbdh_s_1)" ]]
	[[ $(who_tls s2.dh.test) == "$(hostname_of xlbdh_s_1)" ]]
	serial_is s2.dh.test 5A
	# no file for q.dh.test but default.crt: plain HTTP is served, TLS is
	# not (the default certificate makes no name https)
	! curl -sS -m 5 -k --resolve "q.dh.test:$TLS_PORT:127.0.0.1" "https://q.dh.test:$TLS_PORT/who"
	# its file arrives: q.dh.test turns https
	local t0
	t0=$(date +%s%3N)
	pair "$certs" q.dh.test 0xF1 q.dh.test
	wait_until 10 bash -c "[[ \$(curl -sS -m 5 --cacert '$PKI/ca.pem' --resolve q.dh.test:$TLS_PORT:127.0.0.1 https://q.dh.test:$TLS_PORT/who) == $(hostname_of xlbdh_q_1) ]]"
	echo "# cert file added -> https served: $(($(date +%s%3N) - t0)) ms (polled)" >&3
	[[ $(http_code_of q.dh.test) == 308 ]]
	# c.dh.test's files go: it is plain HTTP again, not redirected
	rm "$certs/c.dh.test.crt" "$certs/c.dh.test.key"
	wait_until 10 bash -c "[[ \$(curl -sS -m 5 -H 'Host: c.dh.test' http://127.0.0.1:$HTTP_PORT/who) == $(hostname_of xlbdh_c_1) ]]"
}

# host_pebble DIR: Pebble on this host's loopback, validating at xlbd's
# listeners; DIR/root.pem is then the root of what it issues.
host_pebble() {
	pebble_start "$1" "" 127.0.0.1 127.0.0.1 "$HTTP_PORT" "$TLS_PORT" &&
		curl -sf --cacert "$1/ca.pem" https://127.0.0.1:15000/roots/0 >"$1/root.pem"
}

@test "docker https: acme-companion's LETSENCRYPT_HOST: xlbd gets the name's certificate from an ACME CA and serves it" {
	local pki=$BATS_TEST_TMPDIR/pebble
	host_pebble "$pki"
	app le 1 -e VIRTUAL_HOST=le.dh.test,plain.dh.test -e LETSENCRYPT_HOST=le.dh.test
	start_dh_xlbd --acme-state "$BATS_TEST_TMPDIR/acme" \
		--acme-directory https://127.0.0.1:14000/dir --acme-ca "$pki/ca.pem" \
		--acme-email ops@dh.test --acme-challenge http-01
	# validated by Pebble through xlbd's HTTP listener, then served
	wait_until 30 bash -c "[[ \$(curl -sS -m 5 --cacert '$pki/root.pem' --resolve le.dh.test:$TLS_PORT:127.0.0.1 https://le.dh.test:$TLS_PORT/who) == $(hostname_of xlbdh_le_1) ]]" ||
		{ cat "$pki/pebble.log" >&2; return 1; }
	grep -q 'Issued certificate' "$pki/pebble.log"
	# nginx-proxy's default for it: plain HTTP is redirected
	[[ $(http_code_of le.dh.test) == 308 ]]
	# the name not in LETSENCRYPT_HOST stays plain HTTP
	[[ $(who_http plain.dh.test) == "$(hostname_of xlbdh_le_1)" ]]
}
