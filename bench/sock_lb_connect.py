#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The cost of socket-level balancing to a local client: the time of a TCP
connect() (and close) to an L4 VIP, which the cgroup hooks rewrite to a
backend, against a connect() to that backend directly. Rounds alternate
between the two targets so that drift on the machine hits both alike.

usage: sock_lb_connect.py VIP PORT BACKEND BACKEND_PORT [ROUNDS [PER_ROUND]]
Prints one line per target: median and 90th percentile of the per-round
medians, in microseconds, and connections a second over all rounds."""
import socket
import statistics
import sys
import time


def round_us(addr, n):
    """Median connect()+close() time of n fresh connections, in us."""
    family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
    times = []
    for _ in range(n):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        t0 = time.perf_counter_ns()
        s.connect(addr)
        s.close()  # linger 0: a reset, no TIME_WAIT to run out of ports
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / 1000, sum(times)


def main():
    vip, vport, be, bport = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 20
    per = int(sys.argv[6]) if len(sys.argv) > 6 else 500
    targets = {"vip (socket lb)": (vip, vport), "backend (direct)": (be, bport)}
    meds = {k: [] for k in targets}
    total = {k: 0 for k in targets}
    for r in range(rounds):
        order = list(targets) if r % 2 == 0 else list(reversed(targets))
        for k in order:
            med, ns = round_us(targets[k], per)
            meds[k].append(med)
            total[k] += ns
    for k in targets:
        m = sorted(meds[k])
        rate = rounds * per / (total[k] / 1e9)
        print(f"{k:18} median {statistics.median(m):6.1f} us  p90 {m[int(0.9 * (len(m) - 1))]:6.1f} us  "
              f"{rate:8.0f} connects/s  ({rounds} rounds x {per})")


if __name__ == "__main__":
    main()
