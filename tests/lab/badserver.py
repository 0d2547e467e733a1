#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A lab HTTP/1.1 backend that misbehaves on purpose, for the error paths of
the per-request proxy (tests/bats/proxy_errors.bats). Keep-alive by
default; what it saw is kept in a JSON state file (--state), rewritten
atomically after every change, so a test reads it from any netns:

  {"conns": [{"id", "port", "peer", "reqs", "pp", "src", "closed",
              "body_bytes"}...],
   "requests": [{"conn", "n", "method", "path"}...]}

closed: null while open, "peer" (EOF from the proxy), "reset" (RST from
the proxy) or "self" (this server closed it). pp: PROXY v2 headers seen
on the connection (--ppv2-port only), src: the first one's source.

  GET  /ok            200, "conn=<id> req=<n> port=<port>[ pp=<n> src=<a:p>]"
  GET  /hang          reads the head, never answers, waits for the close
  GET  /malformed     a response head with a field line without a colon,
                      then waits for the close
  GET  /bighead       a 200 whose head has a 3000-byte field, then waits
                      for the close
  GET  /partial       the first bytes of a response head, then closes
  GET  /die-on-reuse  as /ok on a connection's first request; on a later
                      one, closes the connection without answering
  GET  /close-after   as /ok (keep-alive), then closes the connection
  POST /early         answers 413 right after the head, before reading the
                      body (keep-alive); then reads until the close
  GET  /barrier?g=G&n=N  answers as /ok once N requests of group G wait
  CONNECT any         200, then echoes bytes until EOF
Other paths answer as /ok. Request bodies (Content-Length) are read.

usage: badserver.py --state FILE [--port P]... [--ppv2-port P]...
"""
import argparse
import json
import os
import socket
import struct
import sys
import threading
from urllib.parse import parse_qs, urlsplit

SIG = b"\r\n\r\n\x00\r\nQUIT\n"
LOCK = threading.Condition()
STATE = {"conns": [], "requests": []}
BARRIERS = {}
STATE_FILE = None


def save():
    """Under LOCK: the state file, replaced atomically."""
    tmp = STATE_FILE + ".tmp"
    with open(tmp, "w") as f:
        json.dump(STATE, f)
    os.replace(tmp, STATE_FILE)


class Closed(Exception):
    def __init__(self, how):
        super().__init__(how)
        self.how = how


class Conn:
    def __init__(self, sock, port, peer, ppv2):
        self.sock = sock
        self.port = port
        self.ppv2 = ppv2
        self.buf = b""
        with LOCK:
            self.rec = {"id": len(STATE["conns"]) + 1, "port": port, "peer": peer, "reqs": 0,
                        "pp": 0, "src": None, "closed": None, "body_bytes": 0}
            STATE["conns"].append(self.rec)
            save()

    def more(self):
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            raise Closed("reset")
        if not data:
            raise Closed("peer")
        self.buf += data

    def need(self, n):
        while len(self.buf) < n:
            self.more()

    def take(self, n):
        self.need(n)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def proxy_header(self):
        self.need(12)
        if not self.buf.startswith(SIG[:12]):
            return
        head = self.take(16)
        body = self.take(struct.unpack(">H", head[14:16])[0])
        src = "?"
        if head[13] == 0x11:
            src = "%s:%d" % (socket.inet_ntop(socket.AF_INET, body[0:4]), struct.unpack(">H", body[8:10])[0])
        elif head[13] == 0x21:
            src = "[%s]:%d" % (socket.inet_ntop(socket.AF_INET6, body[0:16]), struct.unpack(">H", body[32:34])[0])
        with LOCK:
            self.rec["pp"] += 1
            if self.rec["src"] is None:
                self.rec["src"] = src
            save()

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            self.more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        hdrs = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
        return method, target, hdrs

    def drain(self):
        """Reads (counting body bytes) until the proxy closes."""
        while True:
            n = len(self.buf)
            self.buf = b""
            with LOCK:
                self.rec["body_bytes"] += n
                save()
            self.more()

    def ok(self, n):
        body = "conn=%d req=%d port=%d" % (self.rec["id"], n, self.port)
        if self.ppv2:
            body += " pp=%d src=%s" % (self.rec["pp"], self.rec["src"])
        self.answer(200, "OK", body + "\n")

    def answer(self, code, reason, body):
        body = body.encode()
        self.sock.sendall(b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
                          % (code, reason.encode(), len(body)) + body)

    def serve(self):
        while True:
            if self.ppv2:
                self.proxy_header()
            method, target, hdrs = self.head()
            url = urlsplit(target)
            with LOCK:
                self.rec["reqs"] += 1
                n = self.rec["reqs"]
                STATE["requests"].append({"conn": self.rec["id"], "n": n, "method": method,
                                          "path": url.path})
                save()
            length = int(hdrs.get("content-length", "0"))
            if method == "CONNECT":
                self.sock.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                if self.buf:
                    self.sock.sendall(self.buf)
                while True:
                    data = self.sock.recv(65536)
                    if not data:
                        break
                    self.sock.sendall(data)
                self.sock.shutdown(socket.SHUT_WR)
                raise Closed("peer")
            if url.path == "/hang":
                self.drain()
            if url.path == "/malformed":
                self.sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nthis line has no colon\r\n\r\nok")
                self.drain()
            if url.path == "/bighead":
                self.sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Big: %s\r\n\r\nok" % (b"b" * 3000))
                self.drain()
            if url.path == "/partial":
                self.sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Le")
                raise Closed("self")
            if url.path == "/die-on-reuse" and n > 1:
                raise Closed("self")
            if url.path == "/early":
                self.answer(413, "Content Too Large", "too large\n")
                self.drain()
            self.take(length)
            if url.path == "/barrier":
                q = parse_qs(url.query)
                g, want = q["g"][0], int(q["n"][0])
                with LOCK:
                    BARRIERS[g] = BARRIERS.get(g, 0) + 1
                    LOCK.notify_all()
                    LOCK.wait_for(lambda: BARRIERS[g] >= want, timeout=30)
            self.ok(n)
            if url.path == "/close-after":
                raise Closed("self")


def serve(sock, port, peer, ppv2):
    c = None
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = Conn(sock, port, peer, ppv2)
        c.serve()
    except Closed as e:
        how = e.how
    except (ConnectionError, OSError) as e:
        how = "reset" if isinstance(e, ConnectionResetError) else "error: %s" % e
    except Exception as e:  # a bug here: say so in the state
        how = "error: %r" % e
    finally:
        sock.close()
    if c is not None:
        with LOCK:
            c.rec["closed"] = how
            save()


def listen(port, ppv2):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(1024)
    while True:
        conn, peer = s.accept()
        threading.Thread(target=serve, args=(conn, port, "%s:%d" % peer, ppv2), daemon=True).start()


def main():
    global STATE_FILE
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--state", required=True)
    ap.add_argument("--port", type=int, action="append", default=[])
    ap.add_argument("--ppv2-port", type=int, action="append", default=[])
    args = ap.parse_args()
    STATE_FILE = args.state
    with LOCK:
        save()
    threads = [threading.Thread(target=listen, args=(p, False), daemon=True) for p in args.port]
    threads += [threading.Thread(target=listen, args=(p, True), daemon=True) for p in args.ppv2_port]
    for t in threads:
        t.start()
    sys.stderr.write("badserver: ports=%s ppv2=%s\n" % (args.port, args.ppv2_port))
    sys.stderr.flush()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
