#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The bench report (part 6) from what the parts left in BENCH_OUT.

  report.py [--out DIR] [--quick] [BENCH_OUT]      (BENCH_OUT also from the env)

Writes to DIR (default <repo>/bench/results):
  <UTC date>-<host>.md, latest.md   the machine, the exact commands, the
                                    headline figures, the chart, every
                                    part's own markdown and every TSV
  summary.md                        the headline table alone (for the README;
                                    also printed on stdout)
  throughput.png                    e2e_tcp.tsv's req/s per balancer,
                                    keep-alive and new connections, median
                                    with min-max bars (gnuplot)
With --quick every name gets a "-quick" suffix (latest-quick.md, ...), so a
quick run never replaces the figures of a full one.

What it reads, generically (a changed column never breaks it):
  *.tsv        one header line; `#` lines are notes. A column named
               `command`, `cmd`, `commands` or `*_cmd` goes to the commands
               list rather than the table. A TSV with a `round` column holds
               one row per round: its rows are grouped by the other text
               columns and every numeric column becomes "median (min-max)".
  *.commands   the commands a part ran, one per line
  *.md         a part's own tables (e2e.md, ...), included as they are
Known parts come first in the order of the bench; the rest follow by name.
"""
import argparse
import datetime
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

PARTS = [
    ("xdp_cost", "XDP cost per packet"),
    ("e2e_tcp", "End to end: TCP (wrk)"),
    ("e2e_udp", "End to end: UDP"),
    ("e2e_tls", "End to end: TLS handshakes at the client"),
    ("e2e_tls_wire", "End to end: TLS hellos on the wire"),
    ("e2e", "End to end"),
    ("proxy_efficiency", "Proxy efficiency"),
    ("control", "Control plane"),
    ("memory", "Memory"),
]
TITLES = dict(PARTS, memory_maps="Memory: every map of xlbd at default sizes",
              memory_flowcap="Memory: flow-table probes")
CMD_COL = re.compile(r"^(command|commands|cmd)$|_cmd$", re.I)


# --- reading ---------------------------------------------------------------------------

class Table:
    def __init__(self, name, header, rows, notes):
        self.name, self.header, self.rows, self.notes = name, header, rows, notes

    def col(self, *names):
        """Index of the first column whose name is one of names (case-
        insensitive), or None."""
        low = [h.lower() for h in self.header]
        for n in names:
            if n.lower() in low:
                return low.index(n.lower())
        return None


def read_tsv(path):
    name = os.path.splitext(os.path.basename(path))[0]
    header, rows, notes = None, [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            if line.startswith("#"):
                notes.append(line.lstrip("#").strip())
                continue
            cells = line.split("\t")
            if header is None:
                header = cells
            else:
                rows.append(cells + [""] * (len(header) - len(cells)))
    return Table(name, header or [], rows, notes)


def num(s):
    try:
        v = float(s)
    except (TypeError, ValueError):
        return None
    return v if v == v else None  # NaN is no number


def numeric_col(t, i):
    vals = [r[i] for r in t.rows if r[i] not in ("", "-")]
    return bool(vals) and all(num(v) is not None for v in vals)


def split_commands(t):
    """Moves command columns out of the table; returns their values."""
    keep = [i for i, h in enumerate(t.header) if not CMD_COL.search(h)]
    cmds = []
    for r in t.rows:
        for i, h in enumerate(t.header):
            if CMD_COL.search(h) and r[i] and r[i] not in cmds:
                cmds.append(r[i])
    t.header = [t.header[i] for i in keep]
    t.rows = [[r[i] for i in keep] for r in t.rows]
    return cmds


def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def stat3(vals):
    v = [x for x in vals if x is not None]
    if not v:
        return None
    return statistics.median(v), min(v), max(v)


def fmt_stat(s):
    if s is None:
        return "-"
    med, lo, hi = s
    return fmt(med) if lo == hi else f"{fmt(med)} ({fmt(lo)}–{fmt(hi)})"


def aggregate_rounds(t):
    """Per-round rows -> one row per group: median (min-max) of each
    numeric column, the number of rounds."""
    ri = t.col("round")
    cols = [i for i in range(len(t.header)) if i != ri]
    nums = [i for i in cols if numeric_col(t, i)]
    keys = [i for i in cols if i not in nums]
    groups = {}
    for r in t.rows:
        groups.setdefault(tuple(r[i] for i in keys), []).append(r)
    header = [t.header[i] for i in keys] + ["rounds"] + [t.header[i] for i in nums]
    rows = []
    for k, rs in groups.items():
        rows.append(list(k) + [str(len(rs))] +
                    [fmt_stat(stat3([num(r[i]) for r in rs])) for i in nums])
    return Table(t.name, header, rows, t.notes)


def read_out(d):
    """Everything in BENCH_OUT: {name: {"table", "commands", "md"}}."""
    parts = {}
    for f in sorted(os.listdir(d)):
        path = os.path.join(d, f)
        stem, ext = os.path.splitext(f)
        if not os.path.isfile(path):
            continue
        p = parts.setdefault(stem, {"table": None, "commands": [], "md": None})
        if ext == ".tsv":
            t = read_tsv(path)
            p["raw"] = Table(t.name, list(t.header), [list(r) for r in t.rows], t.notes)
            for c in split_commands(t):
                if c not in p["commands"]:
                    p["commands"].append(c)
            p["table"] = aggregate_rounds(t) if t.col("round") is not None else t
        elif ext == ".commands":
            with open(path, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    if line.strip() and line.strip() not in p["commands"]:
                        p["commands"].append(line.strip())
        elif ext == ".md":
            with open(path, encoding="utf-8", errors="replace") as fh:
                p["md"] = fh.read().strip()
    return {k: v for k, v in parts.items() if v["table"] or v["md"] or v["commands"]}


def part_order(names):
    known = [n for n, _ in PARTS]

    def key(n):
        for i, k in enumerate(known):
            if n == k:
                return (i, 0, n)
            if n.startswith(k + "_") and n not in known:
                return (i, 1, n)
        return (len(known), 0, n)
    return sorted(names, key=key)


# --- the machine -----------------------------------------------------------------------

def run(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (r.stdout + r.stderr).strip()


def first_line(s, pattern=None):
    for line in s.splitlines():
        if line.strip() and (pattern is None or re.search(pattern, line)):
            return line.strip()
    return ""


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return first_line(run(["lscpu"]), r"Model name").split(":", 1)[-1].strip() or "?"


def mem_total():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1048576:.1f} GiB"
    except OSError:
        pass
    return "?"


def os_release():
    name = ""
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    name = line.split("=", 1)[1].strip().strip('"')
        with open("/etc/debian_version") as f:
            name += f" (debian_version {f.read().strip()})"
    except OSError:
        pass
    return name or "?"


def dpkg_version(pkg):
    return run(["dpkg-query", "-W", "-f=${Version}", pkg]) if shutil.which("dpkg-query") else ""


# (label, command, pattern picking the line that holds the version)
TOOLS = [
    ("clang", ["clang", "--version"], r"version"),
    ("gcc", ["gcc", "--version"], None),
    ("bpftool", ["bpftool", "version"], r"bpftool"),
    ("haproxy", ["haproxy", "-v"], r"version"),
    ("nginx", ["nginx", "-v"], r"version"),
    ("wrk", ["wrk", "-v"], r"wrk"),
    ("trafgen", ["trafgen", "-v"], r"trafgen"),
    ("iptables", ["iptables", "--version"], r"iptables"),
    ("docker", ["docker", "--version"], r"version"),
    ("python3", ["python3", "--version"], r"Python"),
    ("gnuplot", ["gnuplot", "--version"], r"gnuplot"),
]


def machine():
    rows = [
        ("CPU", cpu_model()),
        ("cores", f"{os.cpu_count()} online"),
        ("memory", mem_total()),
        ("kernel", run(["uname", "-r"]) or "?"),
        ("OS", os_release()),
    ]
    lib = dpkg_version("libbpf1") or dpkg_version("libbpf-dev")
    if lib:
        rows.append(("libbpf", lib))
    for label, cmd, pat in TOOLS:
        if shutil.which(cmd[0]):
            v = first_line(run(cmd), pat)
            if v:
                rows.append((label, v))
    rev = run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"])
    if rev and not rev.startswith("fatal"):
        dirty = run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"])
        rows.append(("xlb", rev + (" with local changes" if dirty else "")))
    return rows


# --- markdown --------------------------------------------------------------------------

def cell(s):
    return str(s).replace("|", "\\|")


def md_table(t):
    if not t.header:
        return ""
    right = [numeric_col(t, i) or all(re.match(r"^[-\d.]+( \(.*\))?$", r[i] or "-")
                                      for r in t.rows)
             for i in range(len(t.header))]
    out = ["| " + " | ".join(cell(h) for h in t.header) + " |",
           "|" + "|".join("---:" if r else "---" for r in right) + "|"]
    for r in t.rows:
        out.append("| " + " | ".join(cell(c) for c in r) + " |")
    return "\n".join(out)


def md_kv(rows, head=("", "")):
    out = [f"| {head[0]} | {head[1]} |", "|---|---|"]
    out += [f"| {cell(k)} | {cell(v)} |" for k, v in rows]
    return "\n".join(out)


# --- headline figures ------------------------------------------------------------------

def rows_where(t, **want):
    """Rows of raw table t whose named columns contain the wanted text
    (case-insensitive substring; "^text": starts with it; "=text": is it,
    as for balancer names: haproxy-http is in haproxy-https-rsa); a missing
    column matches nothing."""
    idx = {}
    for k in want:
        i = t.col(k)
        if i is None:
            return []
        idx[k] = i
    def match(have, w):
        have, w = have.lower(), w.lower()
        if w.startswith("="):
            return have == w[1:]
        return have.startswith(w[1:]) if w.startswith("^") else w in have
    return [r for r in t.rows if all(match(r[idx[k]], want[k]) for k in want)]


def median_of(t, value_cols, **want):
    """Median over matching rows of the first value column that exists."""
    if t is None:
        return None
    for c in value_cols:
        i = t.col(c)
        if i is None:
            continue
        v = [num(r[i]) for r in rows_where(t, **want)]
        v = [x for x in v if x is not None]
        if v:
            return statistics.median(v)
    return None


def ratio(a, b):
    return a / b if a is not None and b else None


def verdict(ok):
    return "" if ok is None else ("met" if ok else "**missed**")


def summary_rows(parts):
    """(figure, xlb, compared with, target, verdict) for what was measured."""
    raw = {k: v.get("raw") for k, v in parts.items()}
    out = []

    def add(fig, val, ref, target, ok):
        if val is not None:
            out.append((fig, val, ref, target, verdict(ok)))

    x = raw.get("xdp_cost")
    est = median_of(x, ["median_ns"], case="^established", family="4")
    # Katran's figure is a new flow in a full 1M table: compared with the
    # row whose table is full too, every insert evicting
    new = median_of(x, ["median_ns"], case="^new flow", family="4",
                    flow_table="^1M of 1M")
    add("XDP established flow, IPv4", est and f"{est:.1f} ns/packet", "Katran ~66 ns", "≤ 50 ns",
        est is not None and est <= 50)
    add("XDP new flow, full 1M-entry table (evicts), IPv4", new and f"{new:.1f} ns/packet",
        "Katran ~740 ns (full table)",
        "≤ 400 ns", new is not None and new <= 400)

    t = raw.get("e2e_tcp")
    for load, label, need in (("keepalive", "keep-alive", 1.05), ("close", "new connections", 1.2)):
        xlb = median_of(t, ["req_s"], balancer="=xlb-l4", load=load)
        ipt = median_of(t, ["req_s"], balancer="=iptables", load=load)
        r = ratio(xlb, ipt)
        add(f"L4 {label}: xlb XDP", xlb and f"{xlb / 1000:.1f}k req/s",
            ipt and f"iptables DNAT {ipt / 1000:.1f}k ({r:.3f}×)", f"≥ {need}× iptables",
            r is not None and r >= need)
    # routing per request (the default): the targets are against HAProxy
    # HTTP and, for new connections, nginx with upstream keep-alive too
    for load, label, need in (("keepalive", "keep-alive", 1.5), ("close", "new connections", 2.0)):
        xlb = median_of(t, ["req_s"], balancer="=xlb-host", load=load)
        hap = median_of(t, ["req_s"], balancer="=haproxy-http", load=load)
        r = ratio(xlb, hap)
        add(f"Host routing {label}: xlb proxy", xlb and f"{xlb / 1000:.1f}k req/s",
            hap and f"HAProxy HTTP {hap / 1000:.1f}k ({r:.3f}×)", f"≥ {need:g}× HAProxy HTTP",
            r is not None and r >= need)
    xlb = median_of(t, ["req_s"], balancer="=xlb-host", load="close")
    ngx = median_of(t, ["req_s"], balancer="=nginx-http", load="close")
    r = ratio(xlb, ngx)
    add("Host routing new connections: xlb proxy", xlb and f"{xlb / 1000:.1f}k req/s",
        ngx and f"nginx, upstream keep-alive {ngx / 1000:.1f}k ({r:.3f}×)", "≥ 1× nginx",
        r is not None and r >= 1.0)

    # HTTPS, TLS ended by each proxy (bench/e2e.sh's -https- rows): new TLS
    # connections against the better of HAProxy and nginx, per certificate;
    # keep-alive against HAProxy
    def k(v):
        return f"{v / 1000:.1f}k" if v >= 10000 else f"{v / 1000:.2f}k"

    for kind, cert in (("ecdsa", "ECDSA P-256"), ("rsa", "RSA-2048")):
        xlb = median_of(t, ["req_s"], balancer=f"=xlb-https-{kind}", load="close")
        peers = [(median_of(t, ["req_s"], balancer=f"={p}-https-{kind}", load="close"), n)
                 for p, n in (("haproxy", "HAProxy"), ("nginx", "nginx"))]
        peers = [x for x in peers if x[0] is not None]
        r = ratio(xlb, max(peers)[0]) if xlb is not None and peers else None
        add(f"HTTPS new TLS connections, {cert}: xlb", xlb and f"{k(xlb)} conn/s",
            ", ".join(f"{n} {k(v)}" for v, n in peers) + (f" ({r:.3f}× the better)" if r is not None else ""),
            "≥ 1× the better of HAProxy and nginx", r is not None and r >= 1.0)
    xlb = median_of(t, ["req_s"], balancer="=xlb-https-ecdsa", load="keepalive")
    hap = median_of(t, ["req_s"], balancer="=haproxy-https-ecdsa", load="keepalive")
    r = ratio(xlb, hap)
    add("HTTPS keep-alive, ECDSA P-256: xlb", xlb and f"{k(xlb)} req/s",
        hap and f"HAProxy HTTPS {k(hap)}" + (f" ({r:.3f}×)" if r is not None else ""), "≥ 1.2× HAProxy HTTPS",
        r is not None and r >= 1.2)

    u = raw.get("e2e_udp")
    xlb = median_of(u, ["delivered_pps"], balancer="=xlb-l4")
    ipt = median_of(u, ["delivered_pps"], balancer="=iptables")
    r = ratio(xlb, ipt)
    add("UDP delivered: xlb XDP", xlb and f"{xlb / 1000:.0f}k pps",
        ipt and f"iptables DNAT {ipt / 1000:.0f}k ({r:.3f}×)", "≥ 1.15× iptables",
        r is not None and r >= 1.15)

    e = raw.get("proxy_efficiency")
    hap = median_of(e, ["system_cpu_s_per_GB"], balancer="=haproxy-http", measure="download")
    for b in ("xlb-splice", "xlb-sockmap"):
        v = median_of(e, ["system_cpu_s_per_GB"], balancer="=" + b, measure="download")
        if v is None:
            continue  # not measured in this run (E2E_EFF_BALANCERS)
        r = ratio(v, hap)
        add(f"whole-system CPU per GB: {b}", v and f"{v:.2f} s",
            hap and f"HAProxy HTTP {hap:.2f} s ({r:.3f}×)", "≤ 0.5× HAProxy",
            r is not None and r <= 0.5)
    v = median_of(e, ["system_cpu_s_per_GB"], balancer="=xlb-https-ecdsa", measure="download")
    hap = median_of(e, ["system_cpu_s_per_GB"], balancer="=haproxy-https-ecdsa", measure="download")
    r = ratio(v, hap)
    add("whole-system CPU per GB over HTTPS: xlb", v and f"{v:.2f} s",
        hap and f"HAProxy HTTPS {hap:.2f} s" + (f" ({r:.3f}×)" if r is not None else ""), "≤ 0.8× HAProxy HTTPS",
        r is not None and r <= 0.8)

    c = raw.get("control")

    def ctl(case):
        """(median, p99) of a control.tsv case, or None."""
        rs = rows_where(c, case="^" + case) if c else []
        rs = [r for r in rs if r[c.col("case")] == case]
        if not rs or c.col("median_ms") is None or num(rs[0][c.col("median_ms")]) is None:
            return None
        p99 = num(rs[0][c.col("p99_ms")]) if c.col("p99_ms") is not None else None
        return num(rs[0][c.col("median_ms")]), p99

    def p50_p99(v):
        return f"p50 {fmt(v[0])} ms" + (f", p99 {fmt(v[1])} ms" if v[1] is not None else "")

    add_ = ctl("backend_add_first_flow")
    ret = ctl("backend_add_xlbctl_return")
    if add_:
        add("`xlbctl backend add` → first flow at the new backend", p50_p99(add_),
            ret and f"xlbctl itself returns: p50 {fmt(ret[0])} ms", "", None)
    served, alone = ctl("docker_start_served_via_xlb"), ctl("docker_start_container_answers")
    if served:
        ref = (f"the container itself: p50 {fmt(alone[0])} ms; " if alone else "") + \
            "dockercloud-haproxy ~1 s, Traefik 2 s throttle"
        add("Docker start → first request served through xlb", p50_p99(served), ref,
            "p50 ≤ 100 ms", served[0] <= 100)
    died = ctl("docker_die_removed")
    if died:
        add("Docker die → backend removed from xlb", p50_p99(died), "", "", None)
    builds = [(n, ctl(f"maglev_build_{n}")) for n in (1000, 10000)]
    builds = [(n, b) for n, b in builds if b]
    if builds:
        add("Maglev table build (65537 slots), " + " / ".join(f"{n:,}" for n, _ in builds) +
            " backends", " / ".join(f"{fmt(b[0])}" for _, b in builds) + " ms", "", "", None)

    m = raw.get("memory")
    if m and m.col("item") is not None and m.col("value") is not None:
        vals = {r[m.col("item")]: r[m.col("value")] for r in m.rows}
        if num(vals.get("xlbd_rss_idle")) is not None:
            add("xlbd RSS idle / with 100k flows",
                f"{num(vals['xlbd_rss_idle']) / 1024:.1f} / "
                f"{(num(vals.get('xlbd_rss_100k_flows')) or 0) / 1024:.1f} MiB", "", "", None)
        if num(vals.get("flow_bytes_per_entry")) is not None:
            add("kernel memory per flow (one xlb_flows entry)",
                f"{num(vals['flow_bytes_per_entry']):.0f} bytes", "", "", None)
        if num(vals.get("flow_table_largest_created")) is not None:
            n = num(vals["flow_table_largest_created"])
            b = num(vals.get("flow_table_largest_bytes")) or 0
            add("largest flow table created", f"{n / 1048576:.0f}M flows ({b / 2**30:.1f} GiB)",
                "", "", None)
    return out


def summary_md(rows):
    if not rows:
        return "No headline figures: no part left results."
    out = ["| figure | xlb | compared with | target | |", "|---|---|---|---|---|"]
    out += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


# --- the chart ---------------------------------------------------------------------------

def chart_data(t):
    """Rows (balancer, ka med, min, max, close med, min, max) from a raw
    e2e_tcp table, balancers in the order they first appear."""
    bi, li, vi = t.col("balancer"), t.col("load"), t.col("req_s", "rps", "requests_per_s")
    if None in (bi, li, vi):
        return []
    order, by = [], {}
    for r in t.rows:
        b = r[bi]
        if "-https-" in b:
            continue  # the chart is of the L4 and Host rows (the TLS ones are in e2e.md)
        if b not in order:
            order.append(b)
        kind = "close" if "close" in r[li].lower() or "new" in r[li].lower() else "ka"
        by.setdefault((b, kind), []).append(num(r[vi]))
    out = []
    for b in order:
        ka, cl = stat3(by.get((b, "ka"), [])), stat3(by.get((b, "close"), []))
        out.append((b,) + (ka or (0, 0, 0)) + (cl or (0, 0, 0)))
    return out


def make_chart(t, png, work, title):
    data = chart_data(t)
    if not data or not shutil.which("gnuplot"):
        return "no L4 or Host rows in e2e_tcp.tsv (balancer/load/req_s)" if not data else "no gnuplot"
    dat = os.path.join(work, "throughput.dat")
    with open(dat, "w") as f:
        for row in data:
            f.write('"' + row[0] + '" ' + " ".join(f"{v:.0f}" for v in row[1:]) + "\n")
    gp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "throughput.gp")
    r = subprocess.run(["gnuplot", "-e", f"datafile='{dat}'; outfile='{png}'; "
                        f"charttitle='{title}'; nbars={len(data)}", gp], capture_output=True, text=True)
    if r.returncode:
        return f"gnuplot failed: {r.stderr.strip()[:300]}"
    return None


# --- the report --------------------------------------------------------------------------

def report(parts, args, now, host, png_name, summary):
    p = []
    kind = "quick run (`make bench-quick`: fewer, shorter rounds)" if args.quick else \
        "full run (`make bench`)"
    p.append(f"# xlb bench: {now:%Y-%m-%d %H:%M} UTC on {host}")
    p.append("")
    p.append(f"A {kind}. Every figure below comes from the run itself; the "
             "targets are xlb's goals, never asserted by a test.")
    p.append("")
    p.append("## Summary")
    p.append("")
    p.append(summary)
    p.append("")
    if png_name:
        p.append(f"![L4 and Host-routing throughput, req/s]({png_name})")
        p.append("")
    p.append("## Machine")
    p.append("")
    p.append(md_kv(machine(), ("", "")))
    p.append("")
    p.append("## Commands")
    p.append("")
    p.append("The whole run, as root from the repository root:")
    p.append("")
    p.append("```sh")
    p.append("make bench-quick   # bench/bench.sh --quick" if args.quick else
             "make bench         # bench/bench.sh")
    p.append("```")
    for name in part_order(parts):
        cmds = parts[name]["commands"]
        if not cmds:
            continue
        p.append("")
        p.append(f"{TITLES.get(name, name)} (`{name}`):")
        p.append("")
        p.append("```sh")
        p.extend(cmds)
        p.append("```")
    p.append("")
    for name in part_order(parts):
        part = parts[name]
        if part["md"]:
            p.append(f"## {TITLES.get(name, name)}")
            p.append("")
            # a part's own headings sit below this one
            p.append(re.sub(r"^(#+) ", lambda m: "#" * max(3, len(m.group(1))) + " ",
                            part["md"], flags=re.M))
            p.append("")
    p.append("## Data")
    p.append("")
    p.append("Each TSV the parts wrote; per-round TSVs as the median (min–max) of their "
             "rounds.")
    for name in part_order(parts):
        t = parts[name]["table"]
        if not t:
            continue
        p.append("")
        p.append(f"### {TITLES.get(name, name)} (`{name}.tsv`)")
        p.append("")
        for n in t.notes:
            p.append(f"- {n}")
        if t.notes:
            p.append("")
        p.append(md_table(t) if t.rows else "(no rows)")
    p.append("")
    return "\n".join(p)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench_out", nargs="?", default=os.environ.get("BENCH_OUT"))
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "results"))
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if not args.bench_out or not os.path.isdir(args.bench_out):
        ap.error("BENCH_OUT (a directory of the parts' TSVs) is required")
    parts = read_out(args.bench_out)
    os.makedirs(args.out, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    host = socket.gethostname().split(".")[0]
    sfx = "-quick" if args.quick else ""
    png_name = f"throughput{sfx}.png"
    tcp = parts.get("e2e_tcp", {}).get("raw")
    why = make_chart(tcp, os.path.join(args.out, png_name), args.bench_out,
                     "Requests per second through each balancer: median, bars from min to max") \
        if tcp else "no e2e_tcp.tsv"
    if why:
        print(f"report.py: no chart: {why}", file=sys.stderr)
        png_name = None
    summary = summary_md(summary_rows(parts))
    text = report(parts, args, now, host, png_name, summary)
    dated = os.path.join(args.out, f"{now:%Y-%m-%d}-{host}{sfx}.md")
    for path in (dated, os.path.join(args.out, f"latest{sfx}.md")):
        with open(path, "w") as f:
            f.write(text)
    with open(os.path.join(args.out, f"summary{sfx}.md"), "w") as f:
        f.write(summary + "\n")
    print(summary)
    print(f"\nreport.py: wrote {dated}, latest{sfx}.md, summary{sfx}.md"
          + (f", {png_name}" if png_name else "") + f" in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
