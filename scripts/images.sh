#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Local stand-ins for the public base images the compose stack builds from,
# for machines that reach no image registry but do reach a Debian mirror.
#
# usage: images.sh          (needs a running dockerd: scripts/dockerd.sh start)
#
# Each stand-in is a Debian bookworm root made by debootstrap (minbase) with
# the packages it needs, imported with `docker import` and the CMD, ENV and
# STOPSIGNAL of the image it stands in for:
#   xlb-local/python:3.12-slim       python:3.12-slim (Debian's python3, 3.11)
#   xlb-local/nginx:stable           nginx:stable (nginx-light set up like the
#                                    official image: /etc/nginx/conf.d/default.conf
#                                    serves /usr/share/nginx/html, logs to
#                                    stdout/stderr, `nginx -g 'daemon off;'`)
#   xlb-local/debian:bookworm        debian:bookworm (the lb image's build stage)
#   xlb-local/debian:bookworm-slim   debian:bookworm-slim (its runtime stage)
# The two debian stand-ins are plain when containers can reach the mirror
# during `docker build` (compose/lb/Dockerfile then apt-gets as usual), and
# carry the lb image's build and runtime packages when they cannot (its
# install steps then find everything installed and do nothing).
#
# XLB_BUILD_NETWORK=no skips the check and makes the debian stand-ins with
# the packages (yes: without them); the default, auto, checks.
#
# Root tarballs are cached under /var/cache/xlb/images, keyed by everything
# that makes them (suite, packages, the set-up steps); an image whose label
# carries the same key is not imported again.
#
# Prints, on stdout, one KEY=VALUE line per image for the compose file's
# build arguments (eval or export them); progress and the time each step
# took go to stderr.
set -euo pipefail

SUITE=bookworm
MIRROR=${XLB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${XLB_IMAGE_CACHE:-/var/cache/xlb/images}
PREFIX=${XLB_IMAGE_PREFIX:-xlb-local}
# Bumped when a change to this script should rebuild every root.
RECIPE=1

# The lb image's packages (compose/lb/Dockerfile installs the same lists):
# baked into the debian stand-ins only when builds have no network.
LB_BUILD_PKGS=(clang make gcc libc6-dev pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev
	libmnl-dev libinih-dev libjansson-dev libcurl4-openssl-dev libmicrohttpd-dev libcap-dev libssl-dev
	libseccomp-dev libpcre2-dev libyaml-dev)
LB_RUN_PKGS=(libbpf1 libelf1 libmnl0 libinih1 libjansson4 libcurl4 libmicrohttpd12 libcap2 zlib1g libssl3
	libseccomp2 libpcre2-8-0 libyaml-0-2)

say() {
	echo "images.sh: $*" >&2
}

die() {
	say "$*"
	exit 1
}

# --- root file systems ------------------------------------------------------------

# What every stand-in shares with the official Debian-based images: the
# three suites in deb822 form, no package lists or caches, and no docs,
# man pages or translations (as the -slim images).
setup_common() {
	local root=$1
	rm -f "$root/etc/apt/sources.list"
	cat >"$root/etc/apt/sources.list.d/debian.sources" <<-EOF
		Types: deb
		URIs: http://deb.debian.org/debian
		Suites: $SUITE $SUITE-updates
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

		Types: deb
		URIs: http://deb.debian.org/debian-security
		Suites: $SUITE-security
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<-EOF
		path-exclude /usr/share/doc/*
		path-include /usr/share/doc/*/copyright
		path-exclude /usr/share/man/*
		path-exclude /usr/share/info/*
		path-exclude /usr/share/locale/*
	EOF
	find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete 2>/dev/null || true
	rm -rf "$root"/usr/share/{man,info,locale}/* "$root"/var/lib/apt/lists/* \
		"$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log
}

setup_python() { :; }

# As the official nginx image: one server in conf.d on port 80 serving
# /usr/share/nginx/html, Debian's sites-enabled default gone, logs to the
# container's stdout and stderr. IPv4 only, as Docker's default networks.
setup_nginx() {
	local root=$1
	rm -f "$root/etc/nginx/sites-enabled/default"
	cat >"$root/etc/nginx/conf.d/default.conf" <<-'EOF'
		server {
		    listen       80;
		    server_name  localhost;

		    location / {
		        root   /usr/share/nginx/html;
		        index  index.html index.htm;
		    }

		    error_page   500 502 503 504  /50x.html;
		    location = /50x.html {
		        root   /usr/share/nginx/html;
		    }
		}
	EOF
	ln -sf /dev/stdout "$root/var/log/nginx/access.log"
	ln -sf /dev/stderr "$root/var/log/nginx/error.log"
}

setup_debian() { :; }

# root_key NAME SETUP PKGS...: the cache key of a root, from everything
# that goes into it.
root_key() {
	local name=$1 setup=$2
	shift 2
	{
		echo "$RECIPE $SUITE $MIRROR $name $*"
		declare -f setup_common "$setup"
	} | sha256sum | cut -c1-16
}

# make_root NAME SETUP KEY PKGS...: the cached tarball of a root with PKGS,
# made by debootstrap when missing; prints its path.
make_root() {
	local name=$1 setup=$2 key=$3
	shift 3
	local tar=$CACHE/$name-$key.tar
	if [[ -s $tar ]]; then
		echo "$tar"
		return 0
	fi
	local dir t0=$SECONDS include=()
	dir=$(mktemp -d "$CACHE/tmp.$name.XXXXXX")
	(($#)) && include=("--include=$(
		IFS=,
		echo "$*"
	)")
	say "debootstrap $name ($SUITE minbase${*:+ + $*})"
	mkdir -p "$CACHE/debs/$name"
	if ! debootstrap --variant=minbase --cache-dir="$CACHE/debs/$name" "${include[@]}" \
		"$SUITE" "$dir/root" "$MIRROR" >"$dir/debootstrap.log" 2>&1; then
		tail -n 20 "$dir/debootstrap.log" >&2
		rm -rf "$dir"
		die "debootstrap $name failed (log above)"
	fi
	say "step=debootstrap root=$name secs=$((SECONDS - t0))"
	setup_common "$dir/root"
	"$setup" "$dir/root"
	tar --numeric-owner -C "$dir/root" -cf "$dir/root.tar" .
	mv "$dir/root.tar" "$tar"
	rm -rf "$dir"
	# Older roots of this name are out of date.
	find "$CACHE" -maxdepth 1 -name "$name-*.tar" ! -name "${tar##*/}" -delete
	echo "$tar"
}

# --- images -------------------------------------------------------------------------

image_key() {
	docker image inspect -f '{{ index .Config.Labels "xlb-standin.key" }}' "$1" 2>/dev/null || true
}

# import_image IMAGE TAR KEY CHANGE...: docker import with the Dockerfile
# instructions CHANGE, labelled with KEY.
import_image() {
	local image=$1 tar=$2 key=$3 t0=$SECONDS
	shift 3
	local -a changes=(--change "LABEL xlb-standin.key=$key")
	local c
	for c; do changes+=(--change "$c"); done
	docker import "${changes[@]}" "$tar" "$image" >/dev/null
	say "step=import image=$image secs=$((SECONDS - t0))"
}

# standin IMAGE ROOTNAME SETUP CHANGES PKGS...: IMAGE exists with the
# current key (made from the root when not); CHANGES is one Dockerfile
# instruction per line. With ROOT_ONLY=1, only makes the root tarball an
# out-of-date IMAGE needs (the debootstraps run in parallel, see main).
standin() {
	local image=$1 name=$2 setup=$3 change_list=$4
	shift 4
	local key tar
	key=$(root_key "$name" "$setup" "$@")
	if [[ $(image_key "$image") == "$key" ]]; then
		return 0
	fi
	tar=$(make_root "$name" "$setup" "$key" "$@")
	[[ ${ROOT_ONLY-} == 1 ]] && return 0
	local -a changes
	mapfile -t changes <<<"$change_list"
	import_image "$image" "$tar" "$key" "${changes[@]}"
}

# image_is_one_of IMAGE KEY...: IMAGE exists and was made with one of KEYs.
image_is_one_of() {
	local have key
	have=$(image_key "$1")
	shift
	[[ -n $have ]] || return 1
	for key; do [[ $have == "$key" ]] && return 0; done
	return 1
}

DEBIAN_CHANGES='CMD ["bash"]'

# Can a container reach the mirror (as a RUN step of `docker build` does)?
builds_reach_mirror() {
	local image=$1 t0=$SECONDS rc=0
	case ${XLB_BUILD_NETWORK:-auto} in
	yes) return 0 ;;
	no) return 1 ;;
	esac
	docker run --rm "$image" apt-get update -qq -o Acquire::Retries=0 \
		-o Acquire::http::Timeout=10 >/dev/null 2>&1 || rc=$?
	say "step=network-probe reachable=$([[ $rc == 0 ]] && echo yes || echo no) secs=$((SECONDS - t0))"
	return "$rc"
}

python_standin() {
	standin "$PREFIX/python:3.12-slim" python setup_python \
		$'ENV LANG=C.UTF-8\nCMD ["python3"]' \
		python3 python-is-python3 ca-certificates netbase
}

# No STOPSIGNAL (the official image's SIGQUIT): docker import takes no
# such change; SIGTERM is nginx's fast shutdown.
nginx_standin() {
	standin "$PREFIX/nginx:stable" nginx setup_nginx \
		$'EXPOSE 80\nCMD ["nginx", "-g", "daemon off;"]' \
		nginx-light
}

minbase_standin() {
	standin "$PREFIX/debian:$SUITE-minbase" debian setup_debian "$DEBIAN_CHANGES"
}

# Both debian stand-ins are up to date: plain ones where builds reach the
# mirror, with the lb's packages where they do not (auto: either, as the
# last check found).
debian_standins_current() {
	local plain build_fat run_fat
	plain=$(root_key debian setup_debian)
	build_fat=$(root_key debian-build setup_debian "${LB_BUILD_PKGS[@]}")
	run_fat=$(root_key debian-run setup_debian "${LB_RUN_PKGS[@]}")
	local -a build_ok run_ok
	case ${XLB_BUILD_NETWORK:-auto} in
	yes) build_ok=("$plain") run_ok=("$plain") ;;
	no) build_ok=("$build_fat") run_ok=("$run_fat") ;;
	*) build_ok=("$plain" "$build_fat") run_ok=("$plain" "$run_fat") ;;
	esac
	image_is_one_of "$PREFIX/debian:$SUITE" "${build_ok[@]}" &&
		image_is_one_of "$PREFIX/debian:$SUITE-slim" "${run_ok[@]}"
}

debian_standins() {
	local build=$PREFIX/debian:$SUITE run=$PREFIX/debian:$SUITE-slim
	debian_standins_current && return 0
	minbase_standin
	if builds_reach_mirror "$PREFIX/debian:$SUITE-minbase"; then
		docker tag "$PREFIX/debian:$SUITE-minbase" "$build"
		docker tag "$PREFIX/debian:$SUITE-minbase" "$run"
	else
		say "containers cannot reach $MIRROR: the debian stand-ins carry the lb image's packages"
		standin "$build" debian-build setup_debian "$DEBIAN_CHANGES" "${LB_BUILD_PKGS[@]}"
		standin "$run" debian-run setup_debian "$DEBIAN_CHANGES" "${LB_RUN_PKGS[@]}"
	fi
}

main() {
	[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap, docker)"
	command -v debootstrap >/dev/null || die "debootstrap not installed: run scripts/deps.sh"
	docker version >/dev/null 2>&1 || die "no dockerd answers: run scripts/dockerd.sh start"
	mkdir -p "$CACHE/debs"
	local t0=$SECONDS pid
	# The missing roots first, in parallel (each debootstrap waits on the
	# mirror as much as on the CPU); then the imports, one by one.
	local -a pids=()
	ROOT_ONLY=1 python_standin >/dev/null &
	pids+=($!)
	ROOT_ONLY=1 nginx_standin >/dev/null &
	pids+=($!)
	if ! debian_standins_current; then
		ROOT_ONLY=1 minbase_standin >/dev/null &
		pids+=($!)
	fi
	for pid in "${pids[@]}"; do wait "$pid" || die "making a root failed (above)"; done
	python_standin
	nginx_standin
	debian_standins
	say "step=all secs=$((SECONDS - t0))"
	echo "XLB_PYTHON_IMAGE=$PREFIX/python:3.12-slim"
	echo "XLB_NGINX_IMAGE=$PREFIX/nginx:stable"
	echo "XLB_BUILD_IMAGE=$PREFIX/debian:$SUITE"
	echo "XLB_RUN_IMAGE=$PREFIX/debian:$SUITE-slim"
}

main "$@"
