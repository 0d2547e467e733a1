#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A backend that expects a PROXY protocol v2 header before each HTTP
request and answers with what the header said: "src=ADDR:PORT dst=ADDR:PORT",
or "no-proxy-header" when the connection did not start with one.

usage: ppv2server.py --port PORT [--host ADDR]
"""
import argparse
import ipaddress
import socket
import struct
import threading

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def parse_header(conn):
    head = recv_exact(conn, 16)
    if head[:12] != SIG or head[12] != 0x21:
        return "no-proxy-header", head
    fam, length = head[13], struct.unpack(">H", head[14:16])[0]
    body = recv_exact(conn, length)
    if fam == 0x11:
        src, dst = socket.inet_ntop(socket.AF_INET, body[0:4]), socket.inet_ntop(socket.AF_INET, body[4:8])
        sport, dport = struct.unpack(">HH", body[8:12])
    elif fam == 0x21:
        src, dst = str(ipaddress.IPv6Address(body[0:16])), str(ipaddress.IPv6Address(body[16:32]))
        sport, dport = struct.unpack(">HH", body[32:36])
    else:
        return "unknown-family", b""
    return f"src={src}:{sport} dst={dst}:{dport}", b""


def serve(conn):
    with conn:
        try:
            said, rest = parse_header(conn)
            data = rest
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            body = (said + "\n").encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                         b"Connection: close\r\n\r\n" % len(body) + body)
        except (ConnectionError, OSError):
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="0.0.0.0")
    args = ap.parse_args()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.host, args.port))
    s.listen(64)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
