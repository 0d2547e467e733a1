#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A UDP client of a service, and someone else on a backend's bridge who
sends datagrams from that backend's address and port (what a container
with NET_RAW, which Docker grants, can do).

  udpforge.py listen HOST PORT LOG [--local-port P] [--every S]
  udpforge.py forge SRC SPORT DST DPORT TEXT [--count N]

listen: one UDP socket bound to --local-port (40053), not connected, so
that it sees whatever reaches it from anyone; sends "who" to HOST:PORT
every --every seconds (0.5) and appends a line per datagram received to
LOG, "from ADDR:PORT TEXT", until SIGTERM.

forge: N (5) IPv4 UDP datagrams SRC:SPORT -> DST:DPORT carrying TEXT,
built whole (IP header included) on a raw socket, 50 ms apart; the
kernel adds only the Ethernet header, as for any packet it routes.
Exit status 0; 1 if a send failed; 2 on bad usage.
"""
import argparse
import signal
import socket
import struct
import sys
import time


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp4(src, sport, dst, dport, payload):
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    length = 8 + len(payload)
    pseudo = s + d + struct.pack("!BBH", 0, socket.IPPROTO_UDP, length)
    udp = struct.pack("!HHHH", sport, dport, length, 0) + payload
    c = csum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + length, 0x4242, 0, 64,
                     socket.IPPROTO_UDP, 0, s, d)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + udp


def forge(args):
    pkt = udp4(args.src, args.sport, args.dst, args.dport, args.text.encode())
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as sock:
        for i in range(args.count):
            if i:
                time.sleep(0.05)
            try:
                sock.sendto(pkt, (args.dst, 0))
            except OSError as e:
                print("forge: send: %s" % e, file=sys.stderr)
                return 1
    return 0


def listen(args):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    family = socket.getaddrinfo(args.host, args.port, type=socket.SOCK_DGRAM)[0][0]
    with socket.socket(family, socket.SOCK_DGRAM) as sock, open(args.log, "a") as log:
        sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", args.local_port))
        next_ask = 0.0
        while not stop:
            now = time.monotonic()
            if now >= next_ask:
                sock.sendto(b"who", (args.host, args.port))
                next_ask = now + args.every
            sock.settimeout(max(0.01, next_ask - now))
            try:
                data, addr = sock.recvfrom(2048)
            except socket.timeout:
                continue
            except InterruptedError:
                continue
            log.write("from %s:%d %s\n" % (addr[0], addr[1], data.decode(errors="replace")))
            log.flush()
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    lp = sub.add_parser("listen")
    lp.add_argument("host")
    lp.add_argument("port", type=int)
    lp.add_argument("log")
    lp.add_argument("--local-port", type=int, default=40053)
    lp.add_argument("--every", type=float, default=0.5)
    fp = sub.add_parser("forge")
    fp.add_argument("src")
    fp.add_argument("sport", type=int)
    fp.add_argument("dst")
    fp.add_argument("dport", type=int)
    fp.add_argument("text")
    fp.add_argument("--count", type=int, default=5)
    args = ap.parse_args()
    return forge(args) if args.cmd == "forge" else listen(args)


if __name__ == "__main__":
    sys.exit(main())
