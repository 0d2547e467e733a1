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
  GET  /echo         JSON: the request line, the headers as received (in
                     order) and the peer's address
  GET  /stats        "conns=<accepted connections>\n"
  GET  /bytes?n=N    N bytes of bytes(range(256)) repeated; &chunked=1 sends
                     them chunked
  GET  /notmod       304 with an ETag, no body
  GET  /reset        a 200 that promises 1 MB, sends 1000 bytes, then RST
  GET  /ws           with "Upgrade: websocket": 101, then echoes raw bytes
  HEAD /who|/bytes   the GET's headers, no body
  "Expect: 100-continue" is answered by http.server itself (100 Continue).

One dual-stack socket on [::]:PORT, one thread per connection, a listen
backlog deep enough for thousands of concurrent connections.
"""
import argparse
import hashlib
import os
import json
import signal
import socket
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CHUNK = 1 << 20
PATTERN = bytes(range(256)) * 4096
CONNS = [0]
CONNS_LOCK = threading.Lock()


def make_handler(name, path):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "xlb-lab-http"
        # a head and a short body are two writes: without this, Nagle holds
        # the body until the peer's delayed ACK on a reused connection
        disable_nagle_algorithm = True

        def _send(self, code, body, extra=()):
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Backend", name)
            for k, v in extra:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def setup(self):
            with CONNS_LOCK:
                CONNS[0] += 1
            super().setup()

        def _target(self):
            return urlsplit(self.path)

        def do_GET(self, head=False):
            target = self._target()
            q = parse_qs(target.query)
            if target.path == "/file" and path:
                self._send_file()
            elif target.path in ("/", "/who"):
                self._send(200, b"" if head else (name + "\n").encode(),
                           [("X-Host", self.headers.get("Host", ""))])
            elif target.path == "/echo":
                body = json.dumps({"line": self.requestline, "headers": list(self.headers.items()),
                                   "peer": self.client_address[0], "backend": name}).encode() + b"\n"
                self._send(200, body, [("Content-Type", "application/json")])
            elif target.path == "/stats":
                self._send(200, ("conns=%d\n" % CONNS[0]).encode())
            elif target.path == "/bytes":
                self._send_bytes(int(q.get("n", ["0"])[0]), q.get("chunked", ["0"])[0] == "1", head)
            elif target.path == "/notmod":
                self.send_response(304)
                self.send_header("ETag", '"x"')
                self.send_header("X-Backend", name)
                self.end_headers()
            elif target.path == "/reset":
                self.send_response(200)
                self.send_header("Content-Length", str(1 << 20))
                self.end_headers()
                self.wfile.write(b"x" * 1000)
                self.wfile.flush()
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
            elif target.path == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
                self.send_response(101)
                self.send_header("Upgrade", "websocket")
                self.send_header("Connection", "Upgrade")
                self.end_headers()
                self.wfile.flush()
                self.close_connection = True
                while True:
                    data = self.connection.recv(65536)
                    if not data:
                        break
                    self.connection.sendall(data)
                self.connection.shutdown(socket.SHUT_WR)
            else:
                self._send(404, b"no such path\n")

        def do_HEAD(self):
            self.do_GET(head=True)

        def _send_bytes(self, n, chunked, head):
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("X-Backend", name)
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(n))
            self.end_headers()
            if head:
                return
            left = n
            while left:
                part = PATTERN[: min(left, len(PATTERN))]
                if chunked:
                    self.wfile.write(b"%x\r\n" % len(part) + part + b"\r\n")
                else:
                    self.wfile.write(part)
                left -= len(part)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")

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
