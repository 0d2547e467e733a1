#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Client loops for the fault tests and the soak: one new connection per
request, for as long as it runs, every request logged with the time it
started, so a window (--since/--until) counts the requests begun in it: one
that began before a fault and failed after it belongs to the fault.

  tcp HOST PORT OUT [--conns N]         the lab's name service (nameserver.py):
                                        "who\\n" -> its backend's name
  http HOST PORT VHOST OUT [--conns N]  GET /who with Host: VHOST and
                                        Connection: close (httpserver.py
                                        answers its name)
  summary OUT [--since MS] [--until MS] requests=N failed=M, then per backend
                                        and each failure's reason

OUT gets one line per request, when it ends: "<start unix ms> ok <backend>
<latency ms>" or "<start unix ms> fail <reason>"; a failure's client port
goes to stderr. SIGTERM or SIGINT ends the loops (a request in
flight then goes unlogged). --conns runs N loops in threads.
"""
import argparse
import collections
import signal
import socket
import sys
import threading
import time

TIMEOUT = 5.0


def now_ms():
    return int(time.time() * 1000)


def connect(host, port, where):
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    where["port"] = sock.getsockname()[1]
    return sock


def ask_name(host, port, _vhost, where):
    with connect(host, port, where) as sock:
        sock.sendall(b"who\n")
        line = sock.makefile("rb").readline()
    if not line:
        raise ConnectionError("closed without an answer")
    return line.decode().strip()


def ask_http(host, port, vhost, where):
    request = ("GET /who HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % vhost).encode()
    with connect(host, port, where) as sock:
        sock.sendall(request)
        data = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    if not status.startswith("HTTP/1.1 200"):
        raise ConnectionError("status %r" % status)
    return body.decode(errors="replace").strip().split("\n")[0]


class Log:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)
        self.lock = threading.Lock()

    def write(self, line):
        with self.lock:
            self.f.write(line + "\n")


def loop(ask, args, log, stop):
    while not stop.is_set():
        started = now_ms()
        t0 = time.monotonic()
        where = {}
        try:
            name = ask(args.host, args.port, getattr(args, "vhost", None), where)
            log.write("%d ok %s %.1f" % (started, name, (time.monotonic() - t0) * 1000))
        except (OSError, ConnectionError) as e:
            reason = str(e).replace("\n", " ") or type(e).__name__
            log.write("%d fail %s" % (started, reason))
            # the client port, to find the connection in a capture or
            # xlbctl flows; kept out of OUT, whose reasons are counted
            print("%d fail port=%s after_ms=%.1f %s" % (started, where.get("port", "-"),
                  (time.monotonic() - t0) * 1000, reason), file=sys.stderr, flush=True)


def run(ask, args):
    stop = threading.Event()
    log = Log(args.out)

    def on_signal(*_):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threads = [threading.Thread(target=loop, args=(ask, args, log, stop), daemon=True)
               for _ in range(args.conns)]
    for t in threads:
        t.start()
    while not stop.is_set():
        stop.wait(0.2)
    # requests in flight end within TIMEOUT; they are not logged after this
    return 0


def summary(args):
    requests = failed = 0
    by_backend = collections.Counter()
    reasons = collections.Counter()
    with open(args.out) as f:
        for line in f:
            parts = line.split(None, 2)
            if len(parts) < 3 or not parts[0].isdigit():
                continue
            t = int(parts[0])
            if (args.since is not None and t < args.since) or (args.until is not None and t >= args.until):
                continue
            requests += 1
            if parts[1] == "ok":
                by_backend[parts[2].split()[0]] += 1
            else:
                failed += 1
                reasons[parts[2].strip()] += 1
    print("requests=%d failed=%d" % (requests, failed))
    for name, n in sorted(by_backend.items()):
        print("backend %s %d" % (name, n))
    for reason, n in reasons.most_common():
        print("reason %d %s" % (n, reason))
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    tcp = sub.add_parser("tcp")
    tcp.add_argument("host")
    tcp.add_argument("port", type=int)
    tcp.add_argument("out")
    tcp.add_argument("--conns", type=int, default=1)
    http = sub.add_parser("http")
    http.add_argument("host")
    http.add_argument("port", type=int)
    http.add_argument("vhost")
    http.add_argument("out")
    http.add_argument("--conns", type=int, default=1)
    summ = sub.add_parser("summary")
    summ.add_argument("out")
    summ.add_argument("--since", type=int)
    summ.add_argument("--until", type=int)
    args = ap.parse_args(argv[1:])
    if args.cmd == "tcp":
        return run(ask_name, args)
    if args.cmd == "http":
        return run(ask_http, args)
    return summary(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
