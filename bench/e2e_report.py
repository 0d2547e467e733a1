#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Tables for bench/e2e.sh: medians and min-max over the rounds of
e2e_tcp.tsv, e2e_udp.tsv and proxy_efficiency.tsv, the ratios to HAProxy
and to direct, and xlb's targets with whether each is met. The HTTPS rows
(balancers named *-https-ecdsa|rsa[-w0]) get their own section, with the
handshakes as the client (e2e_tls.tsv) and the wire (e2e_tls_wire.tsv) saw
them; a section with no rows in the run is left out.

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

# HTTPS: TLS ended by each proxy, per certificate; -w0: xlbd --tls-workers 0
CERTS = [("ecdsa", "ECDSA P-256"), ("rsa", "RSA-2048")]
TLS_PROXIES = [("xlb", "xlb, proto = https"), ("xlb", "xlb, --tls-workers 0"),
               ("haproxy", "HAProxy, bind ssl crt"), ("nginx", "nginx, listen ssl")]
# the same proxy over plain HTTP: keep-alive rows, and download rows
PLAIN = {"xlb": "xlb-host", "haproxy": "haproxy-http", "nginx": "nginx-http"}
PLAIN_DL = {"xlb": "xlb-splice", "haproxy": "haproxy-http", "nginx": "nginx-http"}


def tls_rows(kind):
    """[(balancer, proxy, label)] for a certificate, in the report's order."""
    out = []
    for i, (proxy, label) in enumerate(TLS_PROXIES):
        b = f"{proxy}-https-{kind}" + ("-w0" if i == 1 else "")
        out.append((b, proxy, label))
    return out


for _kind, _cert in CERTS:
    for _b, _p, _label in tls_rows(_kind):
        LABELS[_b] = f"{_label} ({_cert})"

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


# --- HTTPS ----------------------------------------------------------------------------

def fnum(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def collect(rows, col, load=None, per=None, scale=1.0):
    """{balancer: [values of col]} over the rows (of one load), each
    divided by the row's column `per` when given."""
    out = {}
    for r in rows:
        if load is not None and r.get("load") != load:
            continue
        v = fnum(r.get(col))
        if per is not None:
            d = fnum(r.get(per))
            v = None if v is None or not d else v / d
        if v is not None:
            out.setdefault(r["balancer"], []).append(v * scale)
    return out


def med(d, b):
    s = stats(d.get(b, []))
    return s[0] if s else None


def better_peer(m, kind):
    """(median, name) of the better of HAProxy and nginx for a certificate."""
    peers = [(m.get(f"{p}-https-{kind}"), n) for p, n in (("haproxy", "HAProxy"), ("nginx", "nginx"))]
    peers = [x for x in peers if x[0] is not None]
    return max(peers) if peers else (None, None)


def fmt_us_cpu(x):
    return "-" if x is None else f"{x:.0f} µs"


def tls_new_conns_table(tcp, tls, cl):
    rps = collect(tcp, "req_s", "close")
    p50, p99 = collect(tcp, "p50_us", "close"), collect(tcp, "p99_us", "close")
    errs = collect(tcp, "errors", "close")
    bcpu = collect(tls, "balancer_cpu_s", "close", per="handshakes", scale=1e6)
    scpu = collect(tls, "system_cpu_s", "close", per="handshakes", scale=1e6)
    out = [
        "| certificate | balancer | new TLS conn/s median (min–max) | p50 | p99 | errors "
        "| × HAProxy | × nginx | × the better of the two | balancer CPU per handshake "
        "| whole-system CPU per handshake |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, cert in CERTS:
        best, _ = better_peer(cl, kind)
        for b, proxy, label in tls_rows(kind):
            if b not in rps:
                continue
            out.append(
                f"| {cert} | {label} | {fmt_stat(stats(rps[b]))} | {fmt_us(med(p50, b))} "
                f"| {fmt_us(med(p99, b))} | {sum(errs.get(b, [])):.0f} "
                f"| {fmt_ratio(ratio(cl.get(b), cl.get(f'haproxy-https-{kind}')))} "
                f"| {fmt_ratio(ratio(cl.get(b), cl.get(f'nginx-https-{kind}')))} "
                f"| {fmt_ratio(ratio(cl.get(b), best)) if proxy == 'xlb' else '-'} "
                f"| {fmt_us_cpu(med(bcpu, b))} | {fmt_us_cpu(med(scpu, b))} |"
            )
    return out


def tls_keepalive_table(tcp, tls, ka):
    rps = collect(tcp, "req_s", "keepalive")
    p50, p99 = collect(tcp, "p50_us", "keepalive"), collect(tcp, "p99_us", "keepalive")
    errs = collect(tcp, "errors", "keepalive")
    bcpu = collect(tls, "balancer_cpu_s", "keepalive", per="requests", scale=1e6)
    out = [
        "| balancer | req/s median (min–max) | p50 | p99 | errors | × HAProxy | × nginx "
        "| × the same proxy over plain HTTP | balancer CPU per request |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, cert in CERTS:
        for b, proxy, label in tls_rows(kind):
            if b not in rps:
                continue
            out.append(
                f"| {LABELS[b]} | {fmt_stat(stats(rps[b]))} | {fmt_us(med(p50, b))} "
                f"| {fmt_us(med(p99, b))} | {sum(errs.get(b, [])):.0f} "
                f"| {fmt_ratio(ratio(ka.get(b), ka.get(f'haproxy-https-{kind}')))} "
                f"| {fmt_ratio(ratio(ka.get(b), ka.get(f'nginx-https-{kind}')))} "
                f"| {fmt_ratio(ratio(ka.get(b), ka.get(PLAIN[proxy])))} "
                f"| {fmt_us_cpu(med(bcpu, b))} |"
            )
    return out


def tls_efficiency_table(eff_rows):
    dl = [r for r in eff_rows if r.get("measure") == "download"]
    mbs, bal = collect(dl, "MB_s"), collect(dl, "balancer_cpu_s_per_GB")
    sysc = collect(dl, "system_cpu_s_per_GB")
    f2 = lambda x: f"{x:.2f}"  # noqa: E731
    out = [
        "| balancer | MB/s | balancer CPU s/GB | whole-system CPU s/GB | system × HAProxy HTTPS "
        "| system × the same proxy over plain HTTP |",
        "|---|---|---|---|---|---|",
    ]
    for kind, cert in CERTS:
        for b, proxy, label in tls_rows(kind):
            if b not in sysc:
                continue
            out.append(
                f"| {LABELS[b]} | {fmt_stat(stats(mbs.get(b, [])))} "
                f"| {fmt_stat(stats(bal.get(b, [])), f2)} | {fmt_stat(stats(sysc[b]), f2)} "
                f"| {fmt_ratio(ratio(med(sysc, b), med(sysc, f'haproxy-https-{kind}')))} "
                f"| {fmt_ratio(ratio(med(sysc, b), med(sysc, PLAIN_DL[proxy])))} |"
            )
    return out


def merge_counts(cells):
    """"X25519:10,P-256:2" cells summed into one such cell."""
    n = {}
    for c in cells:
        for part in (c or "").split(","):
            k, _, v = part.rpartition(":")
            if k and fnum(v) is not None:
                n[k] = n.get(k, 0) + int(float(v))
    return ", ".join(f"{k} {v}" for k, v in sorted(n.items(), key=lambda kv: -kv[1])) or "-"


def tls_checks(tls, wire):
    """The client's view and the wire's of every TLS balancer's handshakes
    (two tables), and a sentence on resumption."""
    order = [b for kind, _ in CERTS for b, _, _ in tls_rows(kind)]
    client = [
        "| balancer | runs | handshakes | resumed | protocol | suite | group | ALPN | server signature |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    onwire = [
        "| balancer | ClientHellos | offering a PSK | ServerHellos | accepting a PSK "
        "| HelloRetryRequests | TLS 1.3 | groups | suites |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    tot = {"hs": 0, "res": 0, "ch": 0, "psk": 0, "acc": 0, "hrr": 0}
    cell = lambda x: "-" if x is None else str(x)  # noqa: E731
    for b in order:
        rs = [r for r in tls if r["balancer"] == b]
        ws = [r for r in wire if r["balancer"] == b]
        if rs:
            def distinct(col):
                return " / ".join(sorted({r.get(col) or "-" for r in rs}))

            hs = int(sum(fnum(r.get("handshakes")) or 0 for r in rs))
            res = int(sum(fnum(r.get("resumed")) or 0 for r in rs))
            tot["hs"] += hs
            tot["res"] += res
            client.append(
                f"| {LABELS.get(b, b)} | {len(rs)} | {hs} | {res} | {distinct('protocol')} "
                f"| {distinct('cipher')} | {distinct('group')} | {distinct('alpn')} "
                f"| {distinct('peer_signature')} |"
            )
        if ws:
            def wsum(col):
                v = [fnum(r.get(col)) for r in ws]
                v = [x for x in v if x is not None]
                return int(sum(v)) if v else None

            w = {k: wsum(k) for k in ("client_hellos", "psk_offered", "server_hellos",
                                      "psk_accepted", "hello_retries", "tls13")}
            for k, c in (("ch", "client_hellos"), ("psk", "psk_offered"), ("acc", "psk_accepted"),
                         ("hrr", "hello_retries")):
                tot[k] += w[c] or 0
            onwire.append(
                f"| {LABELS.get(b, b)} | {cell(w['client_hellos'])} | {cell(w['psk_offered'])} "
                f"| {cell(w['server_hellos'])} | {cell(w['psk_accepted'])} "
                f"| {cell(w['hello_retries'])} | {cell(w['tls13'])} "
                f"| {merge_counts(r.get('groups') for r in ws)} "
                f"| {merge_counts(r.get('suites') for r in ws)} |"
            )
    if tot["res"] or tot["psk"] or tot["acc"]:
        verdict = (f"**Sessions were resumed** ({tot['res']} of {tot['hs']} handshakes at the client, "
                   f"{tot['psk']} of {tot['ch']} ClientHellos offered a PSK, {tot['acc']} accepted): "
                   "the new-connection rows are not all full handshakes.")
    else:
        verdict = (f"No session was resumed: 0 of {tot['hs']} handshakes at the client; on the wire "
                   f"0 of {tot['ch']} ClientHellos offered a PSK and no ServerHello accepted one; "
                   f"{tot['hrr']} HelloRetryRequests.")
    return client, onwire, verdict


def tls_goals(ka, cl, eff):
    """The HTTPS targets, for what was measured."""
    out = []

    def line(name, goal, r, ok):
        if r is not None:
            out.append(goal_line(name, goal, fmt_ratio3(r), ok(r)))

    for kind, cert in CERTS:
        best, who = better_peer(cl, kind)
        for sfx, ref in (("", ""), ("-w0", "(reference) ")):
            line(f"{ref}HTTPS new TLS connections, {cert}: xlb{', --tls-workers 0' if sfx else ''}",
                 f"≥ 1× the better of HAProxy and nginx ({who or '-'})",
                 ratio(cl.get(f"xlb-https-{kind}{sfx}"), best), lambda r: r >= 1.0)
    for sfx, ref in (("", ""), ("-w0", "(reference) ")):
        line(f"{ref}HTTPS keep-alive, ECDSA P-256: xlb{', --tls-workers 0' if sfx else ''}",
             "≥ 1.2× HAProxy HTTPS", ratio(ka.get(f"xlb-https-ecdsa{sfx}"), ka.get("haproxy-https-ecdsa")),
             lambda r: r >= 1.2)
    line("whole-system CPU per GB over HTTPS (ECDSA P-256): xlb", "≤ 0.8× HAProxy HTTPS",
         ratio((eff.get("xlb-https-ecdsa") or {}).get("system"),
               (eff.get("haproxy-https-ecdsa") or {}).get("system")), lambda r: r <= 0.8)
    return out


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
    tls = read_tsv(os.path.join(a.out, "e2e_tls.tsv"))
    wire = read_tsv(os.path.join(a.out, "e2e_tls_wire.tsv"))
    https = [r for r in tcp if "-https-" in r["balancer"]]
    plain = [r for r in tcp if "-https-" not in r["balancer"]]
    eff_plain = [r for r in eff if "-https-" not in r["balancer"]]
    p = print
    p(f"### End to end in the lab ({a.rounds} interleaved round(s){', --quick' if a.quick == '1' else ''})")
    p()
    p("Client → lb netns → 4 nginx backends over veth; wrk -t2 -c64; 2 CPUs shared by all.")
    p("Ratios use medians; × HAProxy is to HAProxy TCP for the L4 rows, HAProxy HTTP for the Host rows.")
    p()
    lines, ka = tcp_table(tcp, "keepalive")
    if plain:
        p("**Keep-alive** (`wrk -t2 -c64 --latency`)")
        p()
        p("\n".join(lines))
        p()
    lines, cl = tcp_table(tcp, "close")
    if plain:
        p("**New connections** (`wrk -t2 -c64 --latency -H 'Connection: close'`)")
        p()
        p("\n".join(lines))
        p()
    lines, um = udp_table(udp)
    if udp:
        p("**UDP** (trafgen on one core, 64-byte frames over 64 flows; counted in the backends' UDP MIB)")
        p()
        p("\n".join(lines))
        p()
    lines, em = efficiency_table(eff)
    if eff_plain:
        p("### Proxy efficiency (one Host-routed download; a 1 MB/s reader for memory)")
        p()
        p("\n".join(lines))
        p()
    if https or tls:
        p("### HTTPS: TLS ended by the balancer")
        p()
        p("Each proxy ends TLS on port 443 with the same certificate and settings (TLS 1.3 only, "
          "OpenSSL's default suites and groups, ALPN http/1.1, stateless tickets, no session cache) "
          "and proxies plain HTTP to the same 4 backends as the Host rows, with their configs. "
          "The certificates (ECDSA P-256 and RSA-2048, for api.bench and app.bench, from a P-256 "
          "CA) are made by openssl in the run's work dir. The client (wrk, curl) resumes no "
          "session and offers TLS 1.3 and ALPN http/1.1 only: an LD_PRELOAD that bench/e2e.sh "
          "builds (tls_shim_src there, written to e2e_conf/wrk_tls.c; "
          "`cc -O2 -shared -fPIC -o wrk_tls.so wrk_tls.c -lssl -lcrypto`), without which wrk "
          "resumes. Ratios use medians.")
        p()
        p("**New TLS connections** (one request and one full handshake each: "
          "`wrk -t2 -c64 --latency -H 'Connection: close' https://...`; CPU per handshake: the "
          "balancer's, and the whole machine's with the client and the backends)")
        p()
        p("\n".join(tls_new_conns_table(https, tls, cl)))
        p()
        p("**Keep-alive HTTPS** (`wrk -t2 -c64 --latency https://...`)")
        p()
        p("\n".join(tls_keepalive_table(https, tls, ka)))
        p()
        if any("-https-" in r["balancer"] for r in eff):
            p("**CPU per GB over HTTPS** (one download through each: `curl --tlsv1.3 --http1.1`)")
            p()
            p("\n".join(tls_efficiency_table(eff)))
            p()
        client, onwire, verdict = tls_checks(tls, wire)
        p("**The handshakes, at the client** (the preload's counts over every TLS run of the "
          "balancer, with the first handshake's parameters)")
        p()
        p("\n".join(client))
        p()
        p("**The handshakes, on the wire** (the hellos on the client's veth during each TLS row's "
          "warm-up, `Connection: close`)")
        p()
        p("\n".join(onwire))
        p()
        p(verdict)
        p()
    p("### Targets")
    p()
    # a target of balancers left out of the run has no line
    lines = goals(ka, cl, um, em)
    p("\n".join(lines[:2] + [ln for ln in lines[2:] if "| - | - |" not in ln] + tls_goals(ka, cl, em)))
    p()
    p("Raw rows with the exact commands: e2e_tcp.tsv, e2e_udp.tsv, proxy_efficiency.tsv"
      + (" (TLS: e2e_tls.tsv, e2e_tls_wire.tsv)" if tls or wire else "")
      + "; the configs they name: e2e_conf/.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
