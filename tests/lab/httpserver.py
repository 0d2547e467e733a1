#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Lab HTTP/1.1 backend for the proxy tests: keep-alive, big bodies both ways.

  GET  /who          "<name>\\n"; headers X-Backend: <name> and X-Host: the
                     Host header it got (absolute-form targets work too)
  GET  /file         the file given with --file (sendfile), Content-Length set
  PUT|POST /upload   reads the body (Content-Length, or chunked), answers
                     "sha256=<hex> bytes=<n>\\n" and logs the same line to
                     stderr, with the query's tag= (so a client that closed
                     without reading the answer can still be checked)

One dual-stack socket on [::]:PORT, one thread per connection, a listen
backlog deep enough for thousands of concurrent connections.
"""
import argparse
import hashlib
import os
import signal
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CHUNK = 1 << 20


def make_handler(name, path):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "xlb-lab-http"

        def _send(self, code, body, extra=()):
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Backend", name)
            for k, v in extra:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _target(self):
            return urlsplit(self.path)

        def do_GET(self):
            target = self._target()
            if target.path == "/file" and path:
                self._send_file()
            elif target.path in ("/", "/who"):
                self._send(200, (name + "\n").encode(), [("X-Host", self.headers.get("Host", ""))])
            else:
                self._send(404, b"no such path\n")

        def _send_file(self):
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(size))
                self.send_header("X-Backend", name)
                self.end_headers()
                self.wfile.flush()
                self.connection.sendfile(f)

        def _read_body(self, h):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                return self._read_chunked(h)
            left = int(self.headers.get("Content-Length", "0"))
            total = 0
            while left:
                data = self.rfile.read(min(left, CHUNK))
                if not data:
                    break
                h.update(data)
                left -= len(data)
                total += len(data)
            return total

        def _read_chunked(self, h):
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return total
                while size:
                    data = self.rfile.read(min(size, CHUNK))
                    if not data:
                        return total
                    h.update(data)
                    size -= len(data)
                    total += len(data)
                self.rfile.readline()

        def do_PUT(self):
            if self._target().path != "/upload":
                self._send(404, b"no such path\n")
                return
            h = hashlib.sha256()
            n = self._read_body(h)
            tag = parse_qs(self._target().query).get("tag", ["-"])[0]
            line = "sha256=%s bytes=%d" % (h.hexdigest(), n)
            sys.stderr.write("upload tag=%s %s\n" % (tag, line))
            sys.stderr.flush()
            self._send(200, (line + "\n").encode())

        do_POST = do_PUT

        def log_message(self, fmt, *args):
            pass

    return Handler


class DualStackServer(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 4096

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True, help="what /who answers, e.g. be1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--file", help="served as GET /file")
    args = ap.parse_args()
    srv = DualStackServer(("::", args.port), make_handler(args.name, args.file))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.stderr.write("httpserver: name=%s port=%d file=%s\n" % (args.name, args.port, args.file))
    sys.stderr.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
