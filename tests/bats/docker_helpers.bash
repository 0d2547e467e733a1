# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
# For the compose tests (docker_compose.bats): a dockerd (scripts/dockerd.sh),
# the local stand-in base images (scripts/images.sh), the demo stack of
# compose/docker-compose.yml under its own project name, and what a user
# sees of it: curl through the balancer on the host's port 80, a headless
# Chromium, and what is attached to the host's links.
# Load after helpers.bash (REPO, wait_until, fail).

COMPOSE_FILE=$REPO/compose/docker-compose.yml
COMPOSE_PROJECT=${COMPOSE_PROJECT:-xlbtest}
# The balancer's default pin directory: what `--teardown-on-exit` must empty.
# shellcheck disable=SC2034 # used by the .bats file
LB_PIN_DIR=/sys/fs/bpf/xlb
API_REPLICAS=5
# Where the proxy listens (the lb service has network_mode host).
LB_URL=http://127.0.0.1/
# Test state kept across the file's tests (setup_file exports nothing that
# the tests could lose).
DK_STATE=${BATS_FILE_TMPDIR:-/tmp}/docker-compose-state

# compose ARGS...: docker-compose (1.29, Debian's) or `docker compose` (v2)
# on the test project.
compose() {
	if command -v docker-compose >/dev/null; then
		docker-compose -p "$COMPOSE_PROJECT" -f "$COMPOSE_FILE" "$@"
	else
		docker compose -p "$COMPOSE_PROJECT" -f "$COMPOSE_FILE" "$@"
	fi
}

# --- dockerd and images ---------------------------------------------------------------

# Starts a dockerd unless one answers; remembers whether this file started
# it, so that teardown stops only its own.
dockerd_up() {
	local out
	out=$("$REPO/scripts/dockerd.sh" start) || return 1
	echo "$out" >"$DK_STATE.dockerd"
}

dockerd_down_if_ours() {
	if [[ $(cat "$DK_STATE.dockerd" 2>/dev/null) == dockerd=started ]]; then
		"$REPO/scripts/dockerd.sh" stop >&2 || echo "dockerd.sh stop failed" >&2
	fi
	rm -f "$DK_STATE.dockerd"
}

# Exports the stand-in image names scripts/images.sh prints, so that the
# stack builds without a registry.
standin_images() {
	local out
	out=$("$REPO/scripts/images.sh") || return 1
	eval "$(grep -E '^XLB_[A-Z_]+=[A-Za-z0-9_./:-]+$' <<<"$out")"
	export XLB_PYTHON_IMAGE XLB_NGINX_IMAGE XLB_BUILD_IMAGE XLB_RUN_IMAGE
}

# --- what is attached to the host ------------------------------------------------------

# host_attachments: one line per XDP program or tc filter on the host's
# links (bpftool net, ip -d link, tc filter), each starting with the link's
# name, in a form that can be compared before and after. (Not `bpftool
# link`: it lists the links of every netns, other tests' included; those on
# the host's links are in `bpftool net`.)
host_attachments() {
	bpftool -j net show | python3 -c '
import json, sys
for part in json.load(sys.stdin):
    for kind in ("xdp", "tc"):
        for e in part.get(kind, []):
            print(e.get("devname"), "bpftool-net", kind, json.dumps(e, sort_keys=True))'
	ip -d -o link show | awk '/prog\/xdp/ { sub(/:$/, "", $2); sub(/@.*/, "", $2); print $2, "ip-link xdp" }'
	local dev dir
	for dev in $(host_links); do
		for dir in ingress egress; do
			if tc filter show dev "$dev" "$dir" 2>/dev/null | grep -q .; then echo "$dev tc-filter $dir"; fi
		done
	done
}

# new_attachments: attachments on links that existed before the stack came
# up and that were not there then. Links made since (other tests' on a
# shared machine) are not looked at; this stack's own went with it.
new_attachments() {
	comm -13 "$DK_STATE.attachments" <(host_attachments | sort) |
		awk 'NR == FNR { before[$1] = 1; next } $1 in before' "$DK_STATE.links" -
}

# stack_links: the host's links of the stack: its network's bridge and
# the containers' veths on it.
stack_links() {
	local net bridge
	net=$(docker network inspect -f '{{ .Id }}' "${COMPOSE_PROJECT}_default") || return 1
	bridge=br-${net:0:12}
	echo "$bridge"
	ip -o link show master "$bridge" | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'
}

host_links() {
	ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort
}

# Remembers the host's links and attachments before the stack comes up.
record_host_before() {
	host_links >"$DK_STATE.links"
	host_attachments | sort >"$DK_STATE.attachments"
}

# --- the stack ---------------------------------------------------------------------------

# The lb's certificates: the demo's (a local CA, app.app.dev), made once
# per file run.
stack_up() {
	XLB_CERTS_DIR=$BATS_FILE_TMPDIR/certs
	export XLB_CERTS_DIR
	"$REPO/scripts/demo-certs.sh" "$XLB_CERTS_DIR"
	compose up -d --build --scale "api=$API_REPLICAS" >&2
}

# Removes the stack's containers, networks and volumes, also after a
# failure. The images stay: they are the next run's build cache.
stack_down() {
	compose down -v --remove-orphans >&2 || echo "compose down failed" >&2
}

# The api containers' hostnames, as Docker knows them, one per line.
api_hostnames() {
	local ids
	ids=$(compose ps -q api)
	[[ -n $ids ]] || return 1
	# shellcheck disable=SC2086 # one id per word
	docker inspect -f '{{ .Config.Hostname }}' $ids | sort
}

lb_container() {
	compose ps -q lb
}

# Dumps the balancer's log (on a failure).
dump_lb_log() {
	local id
	id=$(lb_container 2>/dev/null) || true
	[[ -n $id ]] || return 0
	echo "--- lb log (last 60 lines)" >&2
	docker logs --tail 60 "$id" >&2 2>&1 || true
}

# --- what a user sees -------------------------------------------------------------------

# get HOST FILE: one request through the balancer with Host: HOST; the body
# goes to FILE, the response headers to FILE.headers; prints the status.
get() {
	curl -s -m 5 -H "Host: $1" -D "$2.headers" -o "$2" -w '%{http_code}' "$LB_URL"
}

# api_hostname_of FILE: the "hostname" of an API answer, if FILE is the
# JSON the compose example's api answers (message "Hi there fella").
api_hostname_of() {
	python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["message"] == "Hi there fella", j
print(j["hostname"])' "$1"
}

# header_of FILE NAME: the value of response header NAME (case-insensitive).
header_of() {
	awk -v name="$2" '{
		sub(/\r$/, "")
		i = index($0, ":")
		if (i && tolower(substr($0, 1, i - 1)) == tolower(name)) { v = substr($0, i + 1); sub(/^[ \t]+/, "", v); print v }
	}' "$1.headers"
}

# The lb has every api replica as an active backend (xlbctl in the lb).
api_backends_ready() {
	docker exec "$(lb_container)" xlbctl --json backends | python3 -c '
import json, sys
bes = json.load(sys.stdin)["backends"]
n = sum(1 for b in bes if b["service"].endswith("_api") and b["state"] == "active")
sys.exit(n != int(sys.argv[1]))' "$API_REPLICAS"
}

# The balancer answers for both names.
stack_answers() {
	local f=$BATS_FILE_TMPDIR/probe
	[[ $(get api.app.dev "$f") == 200 ]] && api_hostname_of "$f" >/dev/null &&
		[[ $(get app.app.dev "$f") == 200 ]] && grep -q '<title>My stuffs</title>' "$f"
}

# page_api_hostname URL: what a headless Chromium shows in #api-hostname
# after running URL's script.
page_api_hostname() {
	local dom=$BATS_TEST_TMPDIR/dom.html
	timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run \
		--disable-background-networking --disable-component-update \
		--user-data-dir="$BATS_TEST_TMPDIR/chromium" --virtual-time-budget=5000 \
		--dump-dom "$1" >"$dom" 2>>"$BATS_TEST_TMPDIR/chromium.log" || return 1
	sed -n 's/.*<span id="api-hostname">\([^<]*\)<\/span>.*/\1/p' "$dom"
}
