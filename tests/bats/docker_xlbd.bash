# SPDX-License-Identifier: GPL-2.0
# What the tests of xlbd --docker against a real dockerd share: the
# backend image they run, and a stop that fails on an unclean exit.

# build_who_image IMAGE: a tiny image, an HTTP/1.1 (keep-alive) file server
# over /srv, which holds "who" (the container's hostname, written at
# start) and "ok" (a health check path). Built FROM $XLB_PYTHON_IMAGE.
build_who_image() {
	local dir=$BATS_FILE_TMPDIR/img
	mkdir -p "$dir"
	cat >"$dir/serve.py" <<-'PY'
		import http.server, socket
		open("/srv/who", "w").write(socket.gethostname() + "\n")
		open("/srv/ok", "w").close()
		class H(http.server.SimpleHTTPRequestHandler):
		    protocol_version = "HTTP/1.1"
		    def log_message(self, *a):
		        pass
		http.server.ThreadingHTTPServer(("", 8000), lambda *a: H(*a, directory="/srv")).serve_forever()
	PY
	cat >"$dir/Dockerfile" <<-'DF'
		ARG BASE=python:3.12-slim
		FROM ${BASE}
		RUN mkdir -p /srv
		COPY serve.py /serve.py
		CMD ["python3", "/serve.py"]
		EXPOSE 8000
	DF
	docker build -q --build-arg "BASE=$XLB_PYTHON_IMAGE" -t "$1" "$dir" >/dev/null
}

# stop_docker_xlbd PID LOG: SIGTERM, and xlbd must exit 0 (with the
# sanitizer build a leak or a memory error makes it exit non-zero); the
# log's tail goes to stderr when it does not.
stop_docker_xlbd() {
	local pid=$1 log=$2 status=0
	kill "$pid" 2>/dev/null || true
	wait_until 10 pid_gone "$pid" || kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || status=$?
	if ((status != 0)); then
		echo "xlbd exited with status $status; log tail:" >&2
		grep -v libbpf "$log" | tail -n 40 >&2
		return 1
	fi
}
