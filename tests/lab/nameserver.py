#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Lab backend that says who it is, for flow-affinity tests.

TCP :9000 answers every line with "<name>\\n" and keeps the connection open,
so one long-lived connection can be asked again and again which backend it
reaches. UDP :5353 answers every datagram with "<name>". Both on IPv4 and
IPv6 (dual-stack sockets).
"""
import argparse
import signal
import socket
import socketserver
import sys
import threading


def dual_stack(cls):
    """A socketserver class bound to [::] with V6ONLY off."""

    class DualStack(cls):
        address_family = socket.AF_INET6
        allow_reuse_address = True
        daemon_threads = True
        # socketserver's default backlog of 5 can overflow under the fault
        # tests' client loops; a dropped SYN can then fail a health check
        # and mark a live backend down.
        request_queue_size = 4096

        def server_bind(self):
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            super().server_bind()

    return DualStack


def make_handlers(name):
    answer = name.encode()

    class LineHandler(socketserver.StreamRequestHandler):
        def handle(self):
            for _ in self.rfile:
                self.wfile.write(answer + b"\n")
                self.wfile.flush()

    class DatagramHandler(socketserver.BaseRequestHandler):
        def handle(self):
            _, sock = self.request
            sock.sendto(answer, self.client_address)

    return LineHandler, DatagramHandler


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--name", required=True, help="what to answer, e.g. be1")
    ap.add_argument("--tcp-port", type=int, default=9000)
    ap.add_argument("--udp-port", type=int, default=5353)
    args = ap.parse_args()

    line_handler, dgram_handler = make_handlers(args.name)
    tcp = dual_stack(socketserver.ThreadingTCPServer)(("::", args.tcp_port), line_handler)
    udp = dual_stack(socketserver.UDPServer)(("::", args.udp_port), dgram_handler)
    threading.Thread(target=udp.serve_forever, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.stderr.write("nameserver: name=%s tcp=%d udp=%d\n" % (args.name, args.tcp_port, args.udp_port))
    sys.stderr.flush()
    try:
        tcp.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
