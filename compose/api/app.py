#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The demo stack's API: answers every GET with who answered.

Stdlib only, so the image is just python plus this file. The hostname is
the container id under Docker (socket.gethostname()) unless API_HOSTNAME
names it, which the netns lab does so that tests can tell backends apart.
"""
import json
import os
import signal
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOSTNAME = os.environ.get("API_HOSTNAME") or socket.gethostname()
BODY = json.dumps({"hostname": HOSTNAME, "message": "Hi there fella"}).encode() + b"\n"


class Handler(BaseHTTPRequestHandler):
    server_version = "xlb-demo-api"

    def _headers(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()

    def do_GET(self):
        self._headers()
        self.wfile.write(BODY)

    def do_HEAD(self):
        self._headers()

    def log_message(self, fmt, *args):
        if os.environ.get("API_QUIET"):
            return
        sys.stderr.write("api: client=%s %s\n" % (self.client_address[0], fmt % args))


class DualStackServer(ThreadingHTTPServer):
    """One IPv6 socket that also takes IPv4 (V6ONLY off)."""

    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def make_server(port):
    # Containers without IPv6 (Docker's default bridge) cannot open an
    # AF_INET6 socket: fall back to IPv4 only.
    try:
        return DualStackServer(("::", port), Handler)
    except OSError:
        ThreadingHTTPServer.daemon_threads = True
        return ThreadingHTTPServer(("0.0.0.0", port), Handler)


def main():
    # As PID 1 in a container, python has no default SIGTERM action.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    port = int(os.environ.get("PORT", "8000"))
    server = make_server(port)
    sys.stderr.write("api: listening port=%d hostname=%s\n" % (port, HOSTNAME))
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
