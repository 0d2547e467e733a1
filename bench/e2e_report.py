#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Tables for bench/e2e.sh: medians and min-max over the rounds of
e2e_tcp.tsv, e2e_udp.tsv and proxy_efficiency.tsv, the ratios to HAProxy
and to direct, and xlb's targets with whether each is met.

usage: e2e_report.py [--quick 0|1] [--rounds N] BENCH_OUT  (markdown on stdout)
"""
import argparse
import csv
import os
import statistics
import sys

LABELS = {
    "direct": "direct (no balancer)",
    "xlb-l4": "xlb XDP L4",
    "iptables": "iptables DNAT (statistic random)",
    "haproxy-tcp": "HAProxy TCP",
    "xlb-host": "xlb HTTP proxy, per request (default)",
    "haproxy-http": "HAProxy HTTP, Host ACLs",
    "nginx-http": "nginx HTTP, server_name",
    "xlb-splice": "xlb HTTP proxy, per request",
    "xlb-sockmap": "xlb, connection mode, sockmap",
    "xlb-path": "xlb HTTP proxy, by path (/api/, stripped)",
    "haproxy-path": "HAProxy HTTP, path ACL, replace-path",
    "nginx-path": "nginx HTTP, location /api/",
}
L4 = ["direct", "xlb-l4", "iptables", "haproxy-tcp"]
HOSTR = ["xlb-host", "xlb-sockmap", "haproxy-http", "nginx-http"]
PATHR = ["xlb-path", "haproxy-path", "nginx-path"]

# Reference figures, measured earlier on this machine by the same kind of
# harness: (keep-alive req/s, new connections/s), UDP pps.
REF_TCP = {
    "direct": (201000, 49000),
    "iptables": (148000, 32700),
    "haproxy-tcp": (90000, 21700),
    "haproxy-http": (66000, 19100),
    "nginx-http": (70000, 37600),
}
REF_UDP = {"direct": 894000, "iptables": 749000}


def read_tsv(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def stats(values):
    """(median, min, max) or None."""
    v = [x for x in values if x is not None]
    if not v:
        return None
    return statistics.median(v), min(v), max(v)


def fmt_n(x, unit=""):
    if x is None:
        return "-"
    if abs(x) >= 100000:
        return f"{x / 1000:.0f}k{unit}"
    if abs(x) >= 10000:
        return f"{x / 1000:.1f}k{unit}"
    return f"{x:.0f}{unit}"


def fmt_stat(s, f=fmt_n):
    if s is None:
        return "-"
    med, lo, hi = s
    if lo == hi:
        return f(med)
    return f"{f(med)} ({f(lo)}–{f(hi)})"


def fmt_us(x):
    if x is None:
        return "-"
    return f"{x / 1000:.2f} ms" if x >= 1000 else f"{x:.0f} µs"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}×"


def tcp_table(rows, load):
    """Markdown rows for one load; returns (lines, medians by balancer)."""
    by = {}
    for r in rows:
        if r["load"] != load:
            continue
        by.setdefault(r["balancer"], []).append(r)
    med = {b: stats([float(r["req_s"]) for r in rs])[0] for b, rs in by.items()}
    idx = 0 if load == "keepalive" else 1
    out = [
        "| balancer | req/s median (min–max) | p50 | p99 | errors | × HAProxy | × direct | reference (earlier run) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for b in L4 + HOSTR + PATHR:
        rs = by.get(b)
        if not rs:
            continue
        peer = "haproxy-tcp" if b in L4 else "haproxy-path" if b in PATHR else "haproxy-http"
        rps = stats([float(r["req_s"]) for r in rs])
        p50 = stats([float(r["p50_us"]) for r in rs])
        p99 = stats([float(r["p99_us"]) for r in rs])
        errs = sum(int(r["errors"]) for r in rs)
        ref = REF_TCP.get(b)
        out.append(
            f"| {LABELS[b]} | {fmt_stat(rps)} | {fmt_us(p50[0])} | {fmt_us(p99[0])} | {errs} "
            f"| {fmt_ratio(ratio(med[b], med.get(peer)))} "
            f"| {fmt_ratio(ratio(med[b], med.get('direct')))} "
            f"| {fmt_n(ref[idx]) if ref else '-'} |"
        )
    return out, med


def udp_table(rows):
    by = {}
    for r in rows:
        by.setdefault(r["balancer"], []).append(r)
    med = {b: stats([float(r["delivered_pps"]) for r in rs])[0] for b, rs in by.items()}
    out = [
        "| balancer | delivered pps median (min–max) | sent pps (median) | × iptables | × direct | reference (earlier run) |",
        "|---|---|---|---|---|---|",
    ]
    for b in ["direct", "xlb-l4", "iptables"]:
        rs = by.get(b)
        if not rs:
            continue
        pps = stats([float(r["delivered_pps"]) for r in rs])
        sent = stats([float(r["sent_pps"]) for r in rs])
        out.append(
            f"| {LABELS[b]} | {fmt_stat(pps)} | {fmt_n(sent[0])} "
            f"| {fmt_ratio(ratio(med[b], med.get('iptables')))} "
            f"| {fmt_ratio(ratio(med[b], med.get('direct')))} "
            f"| {fmt_n(REF_UDP[b]) if b in REF_UDP else '-'} |"
        )
    return out, med


def mib(x):
    return None if x is None else f"{x / 1048576:.1f} MiB"


def efficiency_table(rows):
    dl, slow = {}, {}
    for r in rows:
        (dl if r["measure"] == "download" else slow).setdefault(r["balancer"], []).append(r)
    med = {}
    for b, rs in dl.items():
        med[b] = {
            "MB_s": stats([float(r["MB_s"]) for r in rs]),
            "balancer": stats([float(r["balancer_cpu_s_per_GB"]) for r in rs]),
            "system": stats([float(r["system_cpu_s_per_GB"]) for r in rs]),
        }
        s = (slow.get(b) or [None])[0]
        for k in ("peak_tcp_mem_bytes", "peak_lab_sock_bytes", "peak_rss_growth_bytes", "peak_spool_bytes"):
            med[b][k] = float(s[k]) if s and s[k] != "" else None
    hap = (med.get("haproxy-http") or {}).get("system")
    out = [
        "| balancer | MB/s | balancer CPU s/GB | whole-system CPU s/GB | system × HAProxy "
        "| peak TCP mem (slow reader) | peak lab socket mem | balancer RSS growth | spooled to disk |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    f2 = lambda x: f"{x:.2f}"  # noqa: E731
    for b in ["xlb-splice", "xlb-sockmap", "haproxy-http", "nginx-http"]:
        m = med.get(b)
        if not m:
            continue
        out.append(
            f"| {LABELS.get(b, b)} | {fmt_stat(m['MB_s'])} "
            f"| {fmt_stat(m['balancer'], f2)} | {fmt_stat(m['system'], f2)} "
            f"| {fmt_ratio(ratio(m['system'][0], hap[0] if hap else None))} "
            f"| {mib(m['peak_tcp_mem_bytes']) or '-'} | {mib(m['peak_lab_sock_bytes']) or '-'} "
            f"| {mib(m['peak_rss_growth_bytes']) or '-'} | {mib(m['peak_spool_bytes']) or '-'} |"
        )
    # the goals compare medians
    flat = {b: dict(m, system=m["system"][0]) for b, m in med.items()}
    return out, flat


def fmt_ratio3(r):
    return "-" if r is None else f"{r:.3f}×"


def goal_line(name, goal, measured, met):
    verdict = "-" if met is None else ("met" if met else "**missed**")
    return f"| {name} | {goal} | {measured} | {verdict} |"


def goals(ka, cl, udp, eff):
    out = ["| target | goal | measured | |", "|---|---|---|---|"]

    def vs(a, b, need, name, what):
        r = ratio(a, b)
        out.append(goal_line(name, f"≥ {need:g}× {what}", fmt_ratio3(r), None if r is None else r >= need))

    vs(ka.get("xlb-l4"), ka.get("iptables"), 1.05, "L4 keep-alive: xlb XDP", "iptables DNAT")
    vs(cl.get("xlb-l4"), cl.get("iptables"), 1.2, "L4 new connections: xlb XDP", "iptables DNAT")
    vs(udp.get("xlb-l4"), udp.get("iptables"), 1.15, "UDP pps: xlb XDP", "iptables DNAT")
    vs(ka.get("xlb-host"), ka.get("haproxy-http"), 1.5, "Host keep-alive: xlb proxy", "HAProxy HTTP")
    vs(cl.get("xlb-host"), cl.get("haproxy-http"), 2.0, "Host new connections: xlb proxy", "HAProxy HTTP")
    vs(cl.get("xlb-host"), cl.get("nginx-http"), 1.0, "Host new connections: xlb proxy", "nginx, upstream keep-alive")
    vs(ka.get("xlb-sockmap"), ka.get("haproxy-http"), 2.0, "(reference) Host keep-alive: xlb proxy, sockmap", "HAProxy HTTP")
    vs(cl.get("xlb-sockmap"), cl.get("haproxy-http"), 1.0, "(reference) Host new connections: xlb proxy, sockmap", "HAProxy HTTP")
    hap = (eff.get("haproxy-http") or {}).get("system")
    for b in ("xlb-splice", "xlb-sockmap"):
        r = ratio((eff.get(b) or {}).get("system"), hap)
        out.append(goal_line(f"whole-system CPU per GB: {LABELS[b]}", "≤ 0.5× HAProxy HTTP",
                             fmt_ratio3(r), None if r is None else r <= 0.5))
    limit = 32 * 1048576
    for b in ("xlb-splice", "xlb-sockmap"):
        lab = (eff.get(b) or {}).get("peak_lab_sock_bytes")
        out.append(goal_line(f"memory behind a 1 MB/s reader: {LABELS[b]}",
                             "bounded (lab sockets < 32 MiB)", mib(lab) or "-",
                             None if lab is None else lab < limit))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", default="0")
    ap.add_argument("--rounds", default="?")
    ap.add_argument("out")
    a = ap.parse_args()
    tcp = read_tsv(os.path.join(a.out, "e2e_tcp.tsv"))
    udp = read_tsv(os.path.join(a.out, "e2e_udp.tsv"))
    eff = read_tsv(os.path.join(a.out, "proxy_efficiency.tsv"))
    p = print
    p(f"### End to end in the lab ({a.rounds} interleaved round(s){', --quick' if a.quick == '1' else ''})")
    p()
    p("Client → lb netns → 4 nginx backends over veth; wrk -t2 -c64; 2 CPUs shared by all.")
    p("Ratios use medians; × HAProxy is to HAProxy TCP for the L4 rows, HAProxy HTTP for the Host rows.")
    p()
    p("**Keep-alive** (`wrk -t2 -c64 --latency`)")
    p()
    lines, ka = tcp_table(tcp, "keepalive")
    p("\n".join(lines))
    p()
    p("**New connections** (`wrk -t2 -c64 --latency -H 'Connection: close'`)")
    p()
    lines, cl = tcp_table(tcp, "close")
    p("\n".join(lines))
    p()
    p("**UDP** (trafgen on one core, 64-byte frames over 64 flows; counted in the backends' UDP MIB)")
    p()
    lines, um = udp_table(udp)
    p("\n".join(lines))
    p()
    p("### Proxy efficiency (one Host-routed download; a 1 MB/s reader for memory)")
    p()
    lines, em = efficiency_table(eff)
    p("\n".join(lines))
    p()
    p("### Targets")
    p()
    p("\n".join(goals(ka, cl, um, em)))
    p()
    p("Raw rows with the exact commands: e2e_tcp.tsv, e2e_udp.tsv, proxy_efficiency.tsv; the configs they name: e2e_conf/.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
