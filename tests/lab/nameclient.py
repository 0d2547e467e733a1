#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Lab client for tests/lab/nameserver.py: which backend answers?

  hold HOST PORT CTL      open ONE TCP connection and keep it; answer
                          "probe" requests on the unix socket CTL by asking
                          over that same connection (never reconnects)
  probe CTL               ask a holder; prints the backend name
  burst HOST PORT N       N fresh TCP connections, one name per line
  udp HOST PORT N         N datagrams from fresh sockets, one name per line

Exit status 1 when any exchange failed (its line reads "error: ...").
The unix socket is a path in the file system, so a holder running in the
client netns can be probed from any netns.
"""
import os
import socket
import sys
import time

TIMEOUT = 3.0


def ask_line(sock, rfile):
    sock.sendall(b"who\n")
    line = rfile.readline()
    if not line:
        raise ConnectionError("connection closed by peer")
    return line.decode().strip()


def one_tcp_exchange(host, port):
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        with sock.makefile("rb") as rfile:
            return ask_line(sock, rfile)


def one_udp_exchange(host, port):
    family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    with socket.socket(family, kind, proto) as sock:
        sock.settimeout(TIMEOUT)
        # Connected: the kernel drops answers whose source is not addr, so an
        # answer that escaped reverse NAT counts as no answer.
        sock.connect(addr)
        sock.send(b"who")
        data = sock.recv(512)
        return data.decode().strip()


def repeat(exchange, host, port, count):
    failed = 0
    for _ in range(count):
        try:
            print(exchange(host, int(port)), flush=True)
        except (OSError, ConnectionError) as e:
            print("error: %s" % e, flush=True)
            failed += 1
    return 1 if failed else 0


def serve_probes(sock, rfile, ctl_path, max_seconds):
    """Answers probes on ctl_path until "quit" or max_seconds."""
    broken = None
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(ctl_path):
        os.unlink(ctl_path)
    srv.bind(ctl_path)
    srv.listen(8)
    srv.settimeout(1.0)
    deadline = time.monotonic() + max_seconds
    try:
        while time.monotonic() < deadline:
            try:
                conn, _ = srv.accept()
            except socket.timeout:
                continue
            with conn:
                conn.settimeout(TIMEOUT)
                request = conn.makefile("rb").readline().decode().strip()
                if request == "quit":
                    conn.sendall(b"ok\n")
                    return 0
                if request == "local":
                    conn.sendall(("%s\n" % (sock.getsockname(),)).encode())
                    continue
                if broken is None:
                    try:
                        conn.sendall((ask_line(sock, rfile) + "\n").encode())
                        continue
                    except (OSError, ConnectionError) as e:
                        broken = "error: held connection broke: %s" % e
                conn.sendall((broken + "\n").encode())
    finally:
        srv.close()
        os.unlink(ctl_path)
    return 0


def hold(host, port, ctl_path, max_seconds=900):
    sock = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    rfile = sock.makefile("rb")
    first = ask_line(sock, rfile)
    print("held local=%s backend=%s" % (sock.getsockname(), first), flush=True)
    return serve_probes(sock, rfile, ctl_path, max_seconds)


def probe(ctl_path):
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(TIMEOUT + 2)
            s.connect(ctl_path)
            s.sendall(b"probe\n")
            answer = s.makefile("rb").readline().decode().strip()
    except OSError as e:
        answer = "error: holder unreachable: %s" % e
    print(answer or "error: holder gave no answer")
    return 1 if not answer or answer.startswith("error") else 0


def main(argv):
    cmds = {
        "hold": (3, lambda a: hold(*a)),
        "probe": (1, lambda a: probe(*a)),
        "burst": (3, lambda a: repeat(one_tcp_exchange, a[0], a[1], int(a[2]))),
        "udp": (3, lambda a: repeat(one_udp_exchange, a[0], a[1], int(a[2]))),
    }
    if len(argv) < 2 or argv[1] not in cmds or len(argv) - 2 != cmds[argv[1]][0]:
        sys.stderr.write(__doc__)
        return 2
    return cmds[argv[1]][1](argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
