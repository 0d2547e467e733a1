#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Time from a container's Docker `start` event to its first request served
through xlb (and, for comparison, to the first answer straight from the
container), and from its `die` event to its removal from xlb.

  startlat.py --image IMG --proxy 127.0.0.1:18081 --host lat.dt.test --trials 20
              [--xlbd-log FILE] [--name-prefix xlbdt_lat] [--tsv FILE]

Each trial: `POST /containers/create` (labels xlb.host=HOST), start it, read
the start event's timeNano from /events, and poll both the proxy (with
Host: HOST, until the answer names this container) and the container's own
address every millisecond. With --xlbd-log (the file xlbd's stderr goes
to), the trial then kills the container and times from its `die` event to
xlbd's `event=backend_del ... backend=<its address>:8000` line, as read
from the log (followed every millisecond; xlbd's log lines carry no time
of their own). Prints one line per trial and the p50/p99/max; --tsv
appends the summary rows (case, n, median, p99, min, max in ms, note).
Talks to dockerd through its socket with the Engine API, like xlbd does.
"""
import argparse
import http.client
import json
import socket
import statistics
import threading
import urllib.parse
import time

API = "/v1.41"


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("docker", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def docker(sock, method, url, body=None):
    c = UnixHTTP(sock)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    c.request(method, API + url, json.dumps(body) if body is not None else None, headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status >= 300:
        raise RuntimeError(f"{method} {url}: {r.status} {data[:200]!r}")
    return json.loads(data) if data else None


class EventWatch(threading.Thread):
    """Reads /events for one action (start, die) until the event of the
    container whose id is put in self.cid; its timeNano lands in self.t
    (seconds, wall clock). The stream is open once self.ready is set."""

    def __init__(self, sock, action):
        super().__init__(daemon=True)
        self.sock, self.action = sock, action
        self.cid, self.t = None, None
        self.ready = threading.Event()

    def run(self):
        c = UnixHTTP(self.sock, timeout=60)
        flt = json.dumps({"type": ["container"], "event": [self.action]})
        c.request("GET", API + "/events?filters=" + urllib.parse.quote(flt))
        r = c.getresponse()
        self.ready.set()
        buf = b""
        while self.t is None:
            chunk = r.read1(65536)
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                ev = json.loads(line)
                if self.cid and ev.get("id") == self.cid:
                    self.t = ev["timeNano"] / 1e9
                    c.close()
                    return


class LogFollower(threading.Thread):
    """Follows xlbd's log from its current end, stamping every line with
    the wall-clock time it was read (polled every millisecond)."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.f = open(path, encoding="utf-8", errors="replace")
        self.f.seek(0, 2)
        self.lines = []  # (time, line)
        self.lock = threading.Lock()
        self.stop = False

    def run(self):
        part = ""
        while not self.stop:
            chunk = self.f.readline()
            if not chunk:
                time.sleep(0.001)
                continue
            part += chunk
            if part.endswith("\n"):
                with self.lock:
                    self.lines.append((time.time(), part.rstrip("\n")))
                part = ""

    def mark(self):
        with self.lock:
            return len(self.lines)

    def wait_for(self, start, words, timeout):
        """The stamp of the first line since mark `start` holding every one
        of words, or None after timeout seconds."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                for t, line in self.lines[start:]:
                    if all(w in line.split() for w in words):
                        return t
            time.sleep(0.001)
        return None


def get(addr, port, host, timeout=0.5):
    try:
        c = http.client.HTTPConnection(addr, port, timeout=timeout)
        c.request("GET", "/who", headers={"Host": host})
        r = c.getresponse()
        body = r.read().decode(errors="replace").strip()
        c.close()
        return r.status, body
    except OSError:
        return 0, ""


def start_container(args, name):
    """Creates and starts one container; returns (id, its start event time,
    inspect answer)."""
    w = EventWatch(args.socket, "start")
    w.start()
    w.ready.wait(5)
    cfg = {
        "Image": args.image,
        "Labels": {"xlb.host": args.host, "xlb.port": "8000"},
    }
    created = docker(args.socket, "POST", f"/containers/create?name={name}", cfg)
    w.cid = created["Id"]
    docker(args.socket, "POST", f"/containers/{created['Id']}/start")
    info = docker(args.socket, "GET", f"/containers/{created['Id']}/json")
    return created["Id"], w, info


def time_to_served(args, ip, hostname):
    """Polls the container and the proxy every millisecond; returns the
    wall-clock times of their first good answers."""
    paddr, pport = args.proxy.rsplit(":", 1)
    direct = via = None
    deadline = time.time() + 30
    while (direct is None or via is None) and time.time() < deadline:
        if direct is None and get(ip, 8000, args.host)[0] == 200:
            direct = time.time()
        if via is None:
            st, body = get(paddr, int(pport), args.host)
            if st == 200 and body == hostname:
                via = time.time()
        time.sleep(0.001)
    return direct, via


def time_to_removal(args, cid, ip, log):
    """Kills the container; returns (die event time, time xlbd logged the
    backend's removal)."""
    w = EventWatch(args.socket, "die")
    w.cid = cid
    w.start()
    w.ready.wait(5)
    mark = log.mark()
    docker(args.socket, "POST", f"/containers/{cid}/kill")
    removed = log.wait_for(mark, ["event=backend_del", f"backend={ip}:8000"], 30)
    w.join(timeout=5)
    return w.t, removed


def trial(args, n, log):
    cid, w, info = None, None, None
    try:
        cid, w, info = start_container(args, f"{args.name_prefix}_{n}")
        ip = next(iter(info["NetworkSettings"]["Networks"].values()))["IPAddress"]
        direct, via = time_to_served(args, ip, info["Config"]["Hostname"])
        w.join(timeout=5)
        if w.t is None or direct is None or via is None:
            raise RuntimeError(f"trial {n}: no start event or no answer")
        res = {"direct": (direct - w.t) * 1000, "via": (via - w.t) * 1000}
        if log:
            died, removed = time_to_removal(args, cid, ip, log)
            if died is None or removed is None:
                raise RuntimeError(f"trial {n}: no die event or no backend_del in xlbd's log")
            res["removed"] = (removed - died) * 1000
        return res
    finally:
        if cid:
            docker(args.socket, "DELETE", f"/containers/{cid}?force=true")


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


CASES = (
    ("direct", "container answers", "docker_start_container_answers",
     "start event -> first answer straight from the container"),
    ("via", "through xlb", "docker_start_served_via_xlb",
     "start event -> first answer through xlb's Host proxy"),
    ("extra", "xlb's part", "docker_start_xlb_part",
     "through xlb minus container answers, per trial (two polls in turn: +-2 ms)"),
    ("removed", "die -> removed", "docker_die_removed",
     "die event -> xlbd logs backend_del"),
)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", default="/var/run/docker.sock")
    ap.add_argument("--image", required=True)
    ap.add_argument("--proxy", required=True, help="xlbd's http listener ADDR:PORT")
    ap.add_argument("--host", default="lat.dt.test")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--name-prefix", default="xlbdt_lat", help="container names PREFIX_N")
    ap.add_argument("--xlbd-log", help="xlbd's log file: also time die -> removal")
    ap.add_argument("--tsv", help="append summary rows to this TSV")
    args = ap.parse_args()
    log = None
    if args.xlbd_log:
        log = LogFollower(args.xlbd_log)
        log.start()
    got = {k: [] for k, *_ in CASES}
    for n in range(args.trials):
        r = trial(args, n, log)
        r["extra"] = r["via"] - r["direct"]
        for k in r:
            got[k].append(r[k])
        msg = (f"trial {n + 1:2d}: container answers {r['direct']:7.1f} ms, through xlb "
               f"{r['via']:7.1f} ms after the start event")
        if "removed" in r:
            msg += f"; removed {r['removed']:7.1f} ms after the die event"
        print(msg, flush=True)
    if log:
        log.stop = True
    rows = []
    for key, label, case, note in CASES:
        v = got[key]
        if not v:
            continue
        print(f"{label:18s} p50 {statistics.median(v):7.1f} ms  p99 {pct(v, 99):7.1f} ms  "
              f"max {max(v):7.1f} ms  (n={len(v)})")
        rows.append(f"{case}\t{len(v)}\t{statistics.median(v):.1f}\t{pct(v, 99):.1f}\t"
                    f"{min(v):.1f}\t{max(v):.1f}\t{note}")
    if args.tsv:
        with open(args.tsv, "a") as f:
            f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
