#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Lab client for xlb's socket-level balancing (tests/bats/socket_lb.bats):
which backend answers, and which peer the socket says it talks to.

  tcp HOST PORT N          N fresh TCP connections to nameserver.py's
                           line service: "<name> <getpeername address>"
  udp HOST PORT N          N datagrams, each from a fresh unconnected
                           socket (sendto/recvfrom): "<name> <source>"
  udp-one HOST PORT N      N datagrams from one unconnected socket

Addresses print as ADDR:PORT ([ADDR]:PORT for IPv6). Exit status 1 when
any exchange failed (its line reads "error: ...")."""
import socket
import sys

TIMEOUT = 3.0


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def show(addr):
    host, port = addr[0], addr[1]
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def tcp_once(host, port):
    with socket.socket(family_of(host), socket.SOCK_STREAM) as s:
        s.settimeout(TIMEOUT)
        s.connect((host, port))
        peer = s.getpeername()
        s.sendall(b"who\n")
        name = s.makefile("rb").readline().decode().strip()
        if not name:
            raise ConnectionError("closed without an answer")
        return "%s %s" % (name, show(peer))


def udp_ask(s, host, port):
    s.sendto(b"who", (host, port))
    data, src = s.recvfrom(512)
    return "%s %s" % (data.decode().strip(), show(src))


def udp_once(host, port):
    with socket.socket(family_of(host), socket.SOCK_DGRAM) as s:
        s.settimeout(TIMEOUT)
        return udp_ask(s, host, port)


def run(count, fn):
    failed = 0
    for _ in range(count):
        try:
            print(fn(), flush=True)
        except (OSError, ConnectionError) as e:
            print("error: %s" % e, flush=True)
            failed += 1
    return 1 if failed else 0


def main(argv):
    if len(argv) != 5 or argv[1] not in ("tcp", "udp", "udp-one"):
        sys.stderr.write(__doc__)
        return 2
    host, port, n = argv[2], int(argv[3]), int(argv[4])
    if argv[1] == "tcp":
        return run(n, lambda: tcp_once(host, port))
    if argv[1] == "udp":
        return run(n, lambda: udp_once(host, port))
    with socket.socket(family_of(host), socket.SOCK_DGRAM) as s:
        s.settimeout(TIMEOUT)
        return run(n, lambda: udp_ask(s, host, port))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
