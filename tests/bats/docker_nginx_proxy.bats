#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Containers that carry only nginx-proxy's variables (no xlb.* label), as
# an nginx-proxy user's compose file has them, against a real dockerd:
# xlbd (from this build, on the host) must read them as nginx-proxy does.
# Everything here is named "xlbnp..." and removed again.

load helpers
load docker_xlbd

PORT=18083
NP_PIN=/sys/fs/bpf/xlb-nptest
NP_SOCK=/run/xlb/nptest.sock
IMAGE=xlbnp/www:latest

setup_file() {
	require_built
	export NP_OWN_DOCKERD=0
	if ! curl -sf -m 2 --unix-socket /var/run/docker.sock http://d/_ping >/dev/null; then
		"$REPO/scripts/dockerd.sh" start >&2
		NP_OWN_DOCKERD=1
	fi
	eval "$("$REPO/scripts/images.sh" | grep '^XLB_[A-Z_]*=')"
	export XLB_PYTHON_IMAGE
	build_who_image "$IMAGE"
	np_cleanup
}

teardown_file() {
	np_cleanup
	docker image rm -f "$IMAGE" >/dev/null 2>&1 || true
	if ((NP_OWN_DOCKERD)); then "$REPO/scripts/dockerd.sh" stop >&2 || true; fi
}

np_cleanup() {
	local ids
	ids=$(docker ps -aq --filter "name=^xlbnp" 2>/dev/null || true)
	[[ -z $ids ]] || docker rm -f $ids >/dev/null 2>&1 || true
	docker network rm xlbnp_front xlbnp_back >/dev/null 2>&1 || true
	pkill -f -- "--pin-dir $NP_PIN" 2>/dev/null || true
	"$XLBCTL" --pin-dir "$NP_PIN" teardown >/dev/null 2>&1 || true
}

setup() {
	NP_LOG=$BATS_TEST_TMPDIR/xlbd.log
}

teardown() {
	local stopped=0
	if [[ -n ${NP_PID-} ]]; then
		stop_docker_xlbd "$NP_PID" "$NP_LOG" || stopped=$?
		NP_PID=
	fi
	np_cleanup
	return "$stopped"
}

start_np_xlbd() {
	"$XLBD" --docker --http-listen "127.0.0.1:$PORT" --pin-dir "$NP_PIN" \
		--control "$NP_SOCK" --log-level debug "$@" </dev/null >>"$NP_LOG" 2>&1 3>&- &
	NP_PID=$!
	wait_until 20 grep -q 'event=docker_synced' "$NP_LOG" ||
		{ cat "$NP_LOG" >&2; return 1; }
}

# web NAME VIRTUAL_HOST: a container with nginx-proxy's variable only.
web() {
	docker run -d --name "xlbnp_$1" -e "VIRTUAL_HOST=$2" "$IMAGE" >/dev/null
}

hostname_of() { docker inspect -f '{{.Config.Hostname}}' "$1"; }

who() { curl -sf -m 5 -H "Host: $1" "http://127.0.0.1:$PORT/who"; }

status_of() { curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Host: $1" "http://127.0.0.1:$PORT/who"; }

# answers HOST CONTAINER: HOST is answered by CONTAINER (polled: xlbd
# learns of containers through events).
answers() {
	[[ $(who "$1") == "$(hostname_of "$2")" ]]
}

@test "nginx-proxy: VIRTUAL_HOST wildcards and regular expressions route in nginx's order" {
	web lead '*.np.test'
	web tail 'shop.*'
	web re '~^api\d+\.re\.test$'
	web exact 'api7.re.test'
	start_np_xlbd
	wait_until 20 answers x.np.test xlbnp_lead
	answers a.b.np.test xlbnp_lead
	answers shop.example xlbnp_tail
	answers shop.co.uk xlbnp_tail
	answers api12.re.test xlbnp_re
	answers API3.Re.Test xlbnp_re
	# the exact name before the regex it also matches
	answers api7.re.test xlbnp_exact
	[[ $(status_of api.re.test) == 404 ]]
	[[ $(status_of shop) == 404 ]]
	! grep -q 'level=error' "$NP_LOG" || { grep 'level=error' "$NP_LOG"; false; }
}

@test "nginx-proxy: VIRTUAL_HOST=\"\" leaves a container out without an error" {
	web off ''
	web on 'on.np.test'
	start_np_xlbd
	wait_until 20 answers on.np.test xlbnp_on
	run "$XLBCTL" --pin-dir "$NP_PIN" backends
	echo "$output"
	[[ $output == *xlbnp_on* && $output != *xlbnp_off* ]]
	! grep -q 'level=error.*xlbnp_off' "$NP_LOG" || { grep 'xlbnp_off' "$NP_LOG"; false; }
}

@test "nginx-proxy: DEFAULT_HOST (xlbd --default-host) takes the names no container has" {
	web main 'main.np.test'
	web other 'other.np.test'
	start_np_xlbd --default-host main.np.test
	wait_until 20 answers main.np.test xlbnp_main
	answers unknown.np.test xlbnp_main
	answers other.np.test xlbnp_other
}

# ip_on CONTAINER NETWORK: its address there.
ip_on() { docker inspect -f "{{(index .NetworkSettings.Networks \"$2\").IPAddress}}" "$1"; }

@test "nginx-proxy: a container on a frontend and a backend network is served; --docker-network picks" {
	docker network create xlbnp_front >/dev/null
	docker network create --internal xlbnp_back >/dev/null
	docker run -d --name xlbnp_app --network xlbnp_front -e VIRTUAL_HOST=app.np.test \
		"$IMAGE" >/dev/null
	docker network connect xlbnp_back xlbnp_app
	start_np_xlbd
	wait_until 20 answers app.np.test xlbnp_app
	# nothing says which network xlbd shares with it (xlbd is on the
	# host, which reaches both): the first by name, and a warning
	run "$XLBCTL" --pin-dir "$NP_PIN" backends
	echo "$output"
	[[ $output == *"$(ip_on xlbnp_app xlbnp_back):8000"* ]]
	grep -q 'level=warn .*xlbnp_app is on several networks (xlbnp_back, xlbnp_front)' "$NP_LOG" ||
		grep -q 'level=warn .*xlbnp_app is on several networks (xlbnp_front, xlbnp_back)' "$NP_LOG"
	stop_docker_xlbd "$NP_PID" "$NP_LOG"
	NP_PID=
	start_np_xlbd --docker-network xlbnp_front
	wait_until 20 answers app.np.test xlbnp_app
	run "$XLBCTL" --pin-dir "$NP_PIN" backends
	echo "$output"
	[[ $output == *"$(ip_on xlbnp_app xlbnp_front):8000"* ]]
}

@test "nginx-proxy: a container on the host's network is reached on loopback at its VIRTUAL_PORT" {
	local token=hostnet-$RANDOM$RANDOM
	docker run -d --name xlbnp_hostnet --network host -e VIRTUAL_HOST=hostnet.np.test \
		-e VIRTUAL_PORT=18097 "$IMAGE" sh -c \
		"echo $token >/srv/who && exec python3 -m http.server 18097 --bind 127.0.0.1 --directory /srv" \
		>/dev/null
	start_np_xlbd
	wait_until 20 bash -c "[[ \$(curl -sf -m 5 -H 'Host: hostnet.np.test' http://127.0.0.1:$PORT/who) == $token ]]"
	run "$XLBCTL" --pin-dir "$NP_PIN" backends
	echo "$output"
	[[ $output == *"127.0.0.1:18097"* ]]
}

@test "nginx-proxy: several exposed ports and no VIRTUAL_PORT is port 80, as nginx-proxy has it" {
	docker run -d --name xlbnp_ports -e VIRTUAL_HOST=ports.np.test --expose 80 --expose 9000 \
		"$IMAGE" sh -c "hostname >/srv/who && exec python3 -m http.server 80 --directory /srv" \
		>/dev/null
	start_np_xlbd
	wait_until 20 answers ports.np.test xlbnp_ports
}

# multiports NAME YAML: a container serving "port80-TOKEN" at /who on port
# 80 and "port9000-TOKEN" at /who on port 9000 (nothing else), with
# VIRTUAL_HOST_MULTIPORTS=YAML only.
multiports() {
	docker run -d --name "xlbnp_$1" --expose 80 --expose 9000 -e "VIRTUAL_HOST_MULTIPORTS=$2" \
		"$IMAGE" sh -c "mkdir -p /p80 /p9000 && echo port80-$MP_TOKEN >/p80/who &&
			echo port9000-$MP_TOKEN >/p9000/who &&
			(python3 -m http.server 80 --directory /p80 &) &&
			exec python3 -m http.server 9000 --directory /p9000" >/dev/null
}

# body_is HOST PATH WANT: xlb answers HOST's PATH with WANT.
body_is() {
	[[ $(curl -sf -m 5 -H "Host: $1" "http://127.0.0.1:$PORT$2") == "$3" ]]
}

code_of() { curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Host: $1" "http://127.0.0.1:$PORT$2"; }

@test "nginx-proxy: VIRTUAL_HOST_MULTIPORTS routes to each port, one service per port, dest / strips" {
	MP_TOKEN=mp-$RANDOM$RANDOM
	multiports mp '
mp.np.test:
  "/":
  "/svc":
    port: 9000
    dest: "/"
mp9000.np.test:
  "/": { port: 9000 }'
	start_np_xlbd
	# the default port is 80 (several exposed ports, as nginx-proxy has it)
	wait_until 20 body_is mp.np.test /who "port80-$MP_TOKEN"
	# /svc goes to 9000, and the backend sees /who: the prefix is stripped
	wait_until 10 body_is mp.np.test /svc/who "port9000-$MP_TOKEN"
	body_is mp9000.np.test /who "port9000-$MP_TOKEN"
	# without dest, the path is passed as it came: 9000 has no /svc/who
	[[ $(code_of mp9000.np.test /svc/who) == 404 ]]
	run "$XLBCTL" --pin-dir "$NP_PIN" services
	echo "$output"
	[[ $output == *xlbnp_mp-80* && $output == *xlbnp_mp-9000* &&
		$output == *xlbnp_mp-9000-strip* ]]
	! grep -q 'level=error' "$NP_LOG" || { grep 'level=error' "$NP_LOG"; false; }
}

@test "nginx-proxy: a bad VIRTUAL_HOST_MULTIPORTS is one error line naming the container; the others are served" {
	MP_TOKEN=bad-$RANDOM$RANDOM
	multiports badmp 'bad.np.test: { "/x": { port: 0 } }'
	multiports goodmp 'good.np.test: { "/": { port: 9000 } }'
	web plain 'plain.np.test'
	start_np_xlbd
	wait_until 20 answers plain.np.test xlbnp_plain
	wait_until 20 body_is good.np.test /who "port9000-$MP_TOKEN"
	[[ $(code_of bad.np.test /x/who) == 404 ]]
	grep 'level=error' "$NP_LOG" >&2 || true
	[[ $(grep -c 'level=error' "$NP_LOG") == 1 ]]
	grep -q "level=error event=docker_bad_labels .*err=\"container xlbnp_badmp: env VIRTUAL_HOST_MULTIPORTS: host 'bad.np.test' path '/x': port '0': not a port number (1-65535)\"" "$NP_LOG"
}

# tls_who NAME PKI ENV...: container xlbnp_NAME answering /who with its
# hostname over TLS only, on port 8443, with PKI's self-signed key pair.
tls_who() {
	local name=$1 pki=$2
	shift 2
	docker run -d --name "xlbnp_$name" -e VIRTUAL_PORT=8443 "${@/#/-e}" -v "$pki:/pki:ro" \
		"$IMAGE" sh -c "hostname >/srv/who && cd /srv && exec python3 -c '
import http.server, ssl
s = http.server.HTTPServer((\"\", 8443), http.server.SimpleHTTPRequestHandler)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
c.load_cert_chain(\"/pki/crt\", \"/pki/key\")
s.socket = c.wrap_socket(s.socket, server_side=True)
s.serve_forever()'" >/dev/null
}

@test "nginx-proxy: VIRTUAL_PROTO=https: xlb speaks TLS to the container, which answers only TLS" {
	local pki=$BATS_TEST_TMPDIR/pki
	mkdir -p "$pki"
	# a self-signed certificate, as such backends have: not verified
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
		-subj /CN=backend -keyout "$pki/key" -out "$pki/crt" 2>/dev/null
	chmod 644 "$pki/key"
	tls_who tlsb "$pki" VIRTUAL_HOST=tlsb.np.test VIRTUAL_PROTO=https
	# the same server without VIRTUAL_PROTO: xlb's plain HTTP gets nothing
	tls_who tlsp "$pki" VIRTUAL_HOST=tlsp.np.test
	start_np_xlbd
	wait_until 20 answers tlsb.np.test xlbnp_tlsb
	# keep-alive: two requests on one client connection, both answered
	run curl -sf -m 5 -H "Host: tlsb.np.test" "http://127.0.0.1:$PORT/who" \
		"http://127.0.0.1:$PORT/who"
	[[ $status == 0 && $(grep -c "$(hostname_of xlbnp_tlsb)" <<<"$output") == 2 ]]
	[[ $(status_of tlsp.np.test) == 502 ]]
}
