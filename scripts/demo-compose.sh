#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make demo`, part two: the compose example as a user runs it. The compose stack
# (compose/docker-compose.yml: app, api scaled to 5, lb = xlbd discovering
# them through the Docker Engine API) on a real dockerd; 20 requests with
# Host: api.app.dev on the host's port 80, the frontend page, the lb's view;
# then everything is taken down again (and dockerd stopped if this started
# it).
#
# No registry is reachable on the project's machines: the base images are
# local stand-ins from scripts/images.sh unless XLB_PUBLIC_IMAGES=1.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROJECT=xlbdemo
COMPOSE_FILE=$REPO/compose/docker-compose.yml
REPLICAS=5
REQUESTS=20
STARTED_DOCKERD=0
STACK_UP=0

section() { printf '\n=== %s\n' "$*"; }

compose() { docker-compose -p "$PROJECT" -f "$COMPOSE_FILE" "$@"; }

cleanup() {
	local rc=$?
	if ((STACK_UP)); then
		section "docker-compose down"
		compose down -v --remove-orphans 2>&1 | tail -n 3 || true
	fi
	if ((STARTED_DOCKERD)); then "$REPO/scripts/dockerd.sh" stop || true; fi
	[[ -n ${XLB_CERTS_DIR:-} && $XLB_CERTS_DIR == /tmp/xlb-demo-certs.* ]] && rm -rf "$XLB_CERTS_DIR"
	exit "$rc"
}

# Polls CMD until it succeeds, for at most SECONDS.
wait_for() {
	local secs=$1 deadline
	shift
	deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}

lb() { docker exec "$(compose ps -q lb)" "$@"; }

api_backends_active() {
	lb xlbctl --json backends | python3 -c '
import json, sys
n = sum(b["service"].endswith("_api") and b["state"] == "active"
        for b in json.load(sys.stdin)["backends"])
sys.exit(n != int(sys.argv[1]))' "$REPLICAS"
}

show_api_answers() {
	local i out
	section "$REQUESTS x curl -s -H 'Host: api.app.dev' http://localhost/"
	out=$(for ((i = 1; i <= REQUESTS; i++)); do
		curl -s -m 5 -H 'Host: api.app.dev' http://localhost/
		echo
	done | grep -v '^$')
	printf '%s\n' "$out"
	section "answers per container"
	python3 -c '
import collections, json, sys
c = collections.Counter(json.loads(l)["hostname"] for l in sys.stdin)
for h, n in sorted(c.items()):
    print(f"  {n:3d}  {h}")
print(f"{len(c)} distinct api containers answered")' <<<"$out"
}

# The API also answers under the page's own name at /api (a path route,
# prefix stripped): one keep-alive connection asks the page, then the API.
show_path_route() {
	section "curl -s -H 'Host: app.app.dev' http://localhost/ http://localhost/api/ (one connection)"
	curl -s -m 5 -H 'Host: app.app.dev' http://localhost/ http://localhost/api/ |
		grep -E '<title>|hostname' | sed 's/^ *//'
}

# The page's name over HTTPS: TLS terminated by xlb with the demo's
# certificate (scripts/demo-certs.sh), the API under /api/ on the same
# origin.
show_https() {
	section "curl --cacert ca.pem https://app.app.dev/ https://app.app.dev/api/"
	curl -s -m 5 --cacert "$XLB_CERTS_DIR/ca.pem" --resolve app.app.dev:443:127.0.0.1 \
		https://app.app.dev/ https://app.app.dev/api/ | grep -E '<title>|hostname' | sed 's/^ *//'
}

# What a browser shows: the page fetches /api/ from its own origin
# (app.app.localhost: browsers resolve *.localhost to this host).
show_page_in_browser() {
	local dir
	command -v chromium >/dev/null || return 0
	section "headless Chromium: http://app.app.localhost/ after its script ran"
	dir=$(mktemp -d)
	timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run \
		--disable-background-networking --disable-component-update \
		--user-data-dir="$dir" --virtual-time-budget=5000 \
		--dump-dom http://app.app.localhost/ 2>/dev/null |
		sed -n 's/.*\(API answered from: <span id="api-hostname">[^<]*<\/span>\).*/\1/p' || true
	rm -rf "$dir"
}

main() {
	[[ $(id -u) -eq 0 ]] || { echo "demo-compose.sh: must run as root" >&2; exit 1; }
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	section "dockerd"
	[[ $("$REPO/scripts/dockerd.sh" start) == dockerd=started ]] && STARTED_DOCKERD=1
	if [[ ${XLB_PUBLIC_IMAGES:-0} != 1 ]]; then
		section "local stand-ins for the public base images (scripts/images.sh)"
		eval "$("$REPO/scripts/images.sh")"
		export XLB_PYTHON_IMAGE XLB_NGINX_IMAGE XLB_BUILD_IMAGE XLB_RUN_IMAGE
		env | grep '^XLB_.*_IMAGE=' | sort
	fi
	section "a local CA and a certificate for app.app.dev (scripts/demo-certs.sh)"
	XLB_CERTS_DIR=$(mktemp -d /tmp/xlb-demo-certs.XXXXXX)
	export XLB_CERTS_DIR
	"$REPO/scripts/demo-certs.sh" "$XLB_CERTS_DIR"
	ls "$XLB_CERTS_DIR"
	section "docker-compose -f compose/docker-compose.yml up --build --scale api=$REPLICAS"
	STACK_UP=1
	compose up -d --build --scale "api=$REPLICAS" 2>&1 | grep -v '^Step\|^ ---> \|^Removing intermediate' | tail -n 12
	wait_for 60 api_backends_active || { compose logs lb | tail -n 30; exit 1; }
	show_api_answers
	section "curl -s -H 'Host: app.app.dev' http://localhost/"
	curl -s -m 5 -H 'Host: app.app.dev' http://localhost/ | grep -E '<title>|Hello' | sed 's/^ *//'
	show_path_route
	show_https
	show_page_in_browser
	section "xlbctl backends (in the lb container)"
	lb xlbctl backends
	section "xlbctl services"
	lb xlbctl services
}

main "$@"
