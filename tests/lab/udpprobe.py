#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""What a UDP client sees from one service: an answer, a refusal or nothing.

  udpprobe.py HOST PORT [--deadline S]

One connected UDP socket sends a datagram, and again each second (a lost
datagram is not the verdict), until the first answer or error or the
deadline (5 s by default). Prints one line:

  answer TEXT     the service answered TEXT
  refused         ICMP port unreachable reached the socket (ECONNREFUSED)
  error TEXT      another socket error
  timeout         nothing before the deadline

Connected, the socket takes only answers and errors about the address it
sent to: an answer, or an ICMP error, that still carries the backend's
address instead of the VIP is not seen, as by any connected UDP client.
Exit status 0 whatever the outcome; 2 on bad usage.
"""
import argparse
import socket
import sys
import time

RESEND_S = 1.0


def probe(host, port, deadline_s):
    family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    end = time.monotonic() + deadline_s
    with socket.socket(family, kind, proto) as sock:
        sock.connect(addr)
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return "timeout"
            sock.settimeout(min(RESEND_S, left))
            try:
                sock.send(b"who")
                return "answer %s" % sock.recv(512).decode(errors="replace").strip()
            except socket.timeout:
                continue
            except ConnectionRefusedError:
                return "refused"
            except OSError as e:
                return "error %s" % e


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--deadline", type=float, default=5.0, help="seconds (default 5)")
    args = ap.parse_args()
    print(probe(args.host, args.port, args.deadline), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
