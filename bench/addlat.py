#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Time from `xlbctl backend add` to the first flow that reaches the new
backend (bench/control.sh runs it on namespaces of its own).

  addlat.py send --vip 10.211.0.100 --port 9000 --src-net 10.211.128.0/17
      (in the client's netns) a stream of UDP datagrams to VIP:PORT, each
      from a random source address and port of SRC_NET: every datagram is
      a new flow, so each is balanced afresh by the Maglev table; sent in
      bursts of --burst every --gap-us microseconds (raw socket, checksums
      computed here: nothing is left to offloads).
  addlat.py recv --port 9000
      (in a backend's netns) a UDP sink. On "arm" (stdin) it drops what is
      queued and answers "armed"; the next datagram then prints
      "hit <CLOCK_MONOTONIC ns>".
  addlat.py run --xlbctl CMD --service S --backend EP --client-ns NS
                --backend-ns NS [--sink-ns NS] ... --trials 20
      starts the sender and the receiver(s) with `ip netns exec`, then per
      trial: arm, check that nothing arrives, t0, `xlbctl backend add`,
      wait for the hit, `xlbctl backend del`. CLOCK_MONOTONIC is one clock
      for every netns, so the receiver's stamp and t0 compare directly.
      Prints one line per trial and the p50/p99; --tsv appends rows.
"""
import argparse
import ipaddress
import os
import random
import select
import shlex
import socket
import statistics
import struct
import subprocess
import sys
import time


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def datagram(src, sport, dst, dport, payload):
    """IPv4 header (the kernel fills in id and checksum) + UDP with a
    complete checksum."""
    ulen = 8 + len(payload)
    pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_UDP, ulen)
    udp = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
    c = csum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 0, 0, 64, socket.IPPROTO_UDP, 0,
                     src, dst)
    return ip + udp


def cmd_send(a):
    net = ipaddress.ip_network(a.src_net)
    base, span = int(net.network_address), net.num_addresses - 2
    dst = socket.inet_aton(a.vip)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    rnd = random.Random()
    gap = a.gap_us / 1e6
    nxt = time.monotonic()
    while True:
        for _ in range(a.burst):
            src = struct.pack("!I", base + 1 + rnd.randrange(span))
            sport = 1024 + rnd.randrange(64000)
            try:
                s.sendto(datagram(src, sport, dst, a.port, b"xlb-addlat"), (a.vip, 0))
            except OSError:
                pass  # no neighbour yet, or a full queue: the next one goes
        nxt += gap
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            nxt = time.monotonic()


def drain(sock):
    while True:
        try:
            sock.recv(2048, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return


def cmd_recv(a):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", a.port))
    armed, cmds = False, b""
    while True:
        r, _, _ = select.select([sock, 0], [], [])
        if sock in r:
            sock.recv(2048)
            if armed:
                os.write(1, f"hit {time.monotonic_ns()}\n".encode())
                armed = False
        if 0 in r:
            chunk = os.read(0, 4096)
            if not chunk:
                return
            cmds += chunk
            while b"\n" in cmds:
                cmd, cmds = cmds.split(b"\n", 1)
                if cmd.strip() == b"quit":
                    return
                if cmd.strip() == b"arm":
                    drain(sock)
                    armed = True
                    os.write(1, b"armed\n")


class Receiver:
    """A recv subprocess, read line by line from its raw pipe: select() on a
    buffered reader could miss a line already in the buffer."""

    def __init__(self, ns, port, me):
        self.p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, me, "recv",
                                   "--port", str(port)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self.buf = b""

    def arm(self):
        self.p.stdin.write(b"arm\n")
        if self.line(5) != "armed":
            raise RuntimeError("receiver did not arm")

    def line(self, timeout):
        """The receiver's next line, or None after timeout seconds."""
        deadline = time.monotonic() + timeout
        fd = self.p.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError("receiver exited")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode().strip()

    def stop(self):
        try:
            self.p.stdin.write(b"quit\n")
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def xlbctl(a, *words):
    r = subprocess.run(shlex.split(a.xlbctl) + list(words), capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"xlbctl {' '.join(words)}: {r.stdout}{r.stderr}".strip())


def quiet_then_add(a, rx):
    """Arms the receiver, checks that no datagram reaches the backend while
    it is out of the service (a hit there would be a stale flow), then adds
    it. Returns (t0, t_ok) in ns."""
    for _ in range(10):
        rx.arm()
        if rx.line(a.quiet_ms / 1000) is None:
            break
    else:
        raise RuntimeError("the backend keeps receiving while it is out of the service")
    t0 = time.monotonic_ns()
    xlbctl(a, "backend", "add", a.service, a.backend)
    return t0, time.monotonic_ns()


def one_trial(a, rx):
    t0, t_ok = quiet_then_add(a, rx)
    line = rx.line(a.timeout)
    xlbctl(a, "backend", "del", a.service, a.backend)
    if not line or not line.startswith("hit "):
        raise RuntimeError(f"no flow reached {a.backend} within {a.timeout} s")
    return (int(line.split()[1]) - t0) / 1e6, (t_ok - t0) / 1e6


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def summary_row(name, v, note):
    return (f"{name}\t{len(v)}\t{statistics.median(v):.2f}\t{pct(v, 99):.2f}\t"
            f"{min(v):.2f}\t{max(v):.2f}\t{note}")


def cmd_run(a):
    me = os.path.abspath(__file__)
    sender = subprocess.Popen(["ip", "netns", "exec", a.client_ns, sys.executable, me, "send",
                               "--vip", a.vip, "--port", str(a.port), "--src-net", a.src_net,
                               "--burst", str(a.burst), "--gap-us", str(a.gap_us)],
                              stdin=subprocess.DEVNULL)
    rx = Receiver(a.backend_ns, a.port, me)
    sinks = [Receiver(ns, a.port, me) for ns in a.sink_ns]
    firsts, oks = [], []
    try:
        for n in range(a.trials):
            first, ok = one_trial(a, rx)
            firsts.append(first)
            oks.append(ok)
            print(f"trial {n + 1:2d}: first flow at the new backend {first:7.2f} ms, "
                  f"xlbctl returned {ok:7.2f} ms after the add", flush=True)
    finally:
        sender.terminate()
        sender.wait()
        for r in [rx] + sinks:
            r.stop()
    rate = a.burst * 1e6 / a.gap_us
    rows = [summary_row("backend_add_first_flow", firsts,
                        f"xlbctl backend add -> first new UDP flow at the backend "
                        f"({rate:.0f} new flows/s offered)"),
            summary_row("backend_add_xlbctl_return", oks,
                        "xlbctl backend add -> xlbctl exits (answer ok)")]
    for label, v in (("first flow", firsts), ("xlbctl returned", oks)):
        print(f"{label:16s} p50 {statistics.median(v):7.2f} ms  p99 {pct(v, 99):7.2f} ms  "
              f"min {min(v):7.2f} ms  max {max(v):7.2f} ms  (n={len(v)})")
    if a.tsv:
        with open(a.tsv, "a") as f:
            f.write("\n".join(rows) + "\n")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("--vip", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--src-net", required=True)
    s.add_argument("--burst", type=int, default=5)
    s.add_argument("--gap-us", type=int, default=1000)
    r = sub.add_parser("recv")
    r.add_argument("--port", type=int, required=True)
    u = sub.add_parser("run")
    u.add_argument("--xlbctl", required=True, help="the xlbctl command, with its options")
    u.add_argument("--service", required=True)
    u.add_argument("--backend", required=True, help="ADDR:PORT of the backend to add")
    u.add_argument("--vip", required=True)
    u.add_argument("--port", type=int, required=True)
    u.add_argument("--src-net", required=True)
    u.add_argument("--client-ns", required=True)
    u.add_argument("--backend-ns", required=True)
    u.add_argument("--sink-ns", action="append", default=[],
                   help="netns of a backend already in the service (a sink)")
    u.add_argument("--trials", type=int, default=20)
    u.add_argument("--burst", type=int, default=5)
    u.add_argument("--gap-us", type=int, default=1000)
    u.add_argument("--quiet-ms", type=int, default=100)
    u.add_argument("--timeout", type=float, default=5)
    u.add_argument("--tsv", help="append the summary rows to this TSV")
    a = ap.parse_args()
    {"send": cmd_send, "recv": cmd_recv, "run": cmd_run}[a.cmd](a)


if __name__ == "__main__":
    main()
