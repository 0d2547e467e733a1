#!/usr/bin/env python3
"""Time from a container's Docker `start` event to its first request served
through xlb, and (for comparison) to the first answer straight from the
container.

  startlat.py --image IMG --proxy 127.0.0.1:18081 --host lat.dt.test --trials 20

Each trial: `POST /containers/create` (labels xlb.host=HOST), start it, read
the start event's timeNano from /events, and poll both the proxy (with
Host: HOST, until the answer names this container) and the container's own
address every millisecond. Prints one line per trial and the p50/p99/max.
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


def watch_start(sock, cid_box, out):
    """Reads /events until the start event of the container in cid_box."""
    c = UnixHTTP(sock, timeout=60)
    flt = json.dumps({"type": ["container"], "event": ["start"]})
    c.request("GET", API + "/events?filters=" + urllib.parse.quote(flt))
    r = c.getresponse()
    buf = b""
    while "t" not in out:
        chunk = r.read1(65536)
        if not chunk:
            return
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            ev = json.loads(line)
            if cid_box and ev.get("id") == cid_box[0]:
                out["t"] = ev["timeNano"] / 1e9
                c.close()
                return


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


def wall_now():
    return time.time()


def trial(args, n):
    name = f"xlbdt_lat_{n}"
    cid_box, ev = [], {}
    w = threading.Thread(target=watch_start, args=(args.socket, cid_box, ev), daemon=True)
    w.start()
    time.sleep(0.05)  # the stream is open before the start
    cfg = {
        "Image": args.image,
        "Labels": {"xlb.host": args.host, "xlb.port": "8000"},
    }
    created = docker(args.socket, "POST", f"/containers/create?name={name}", cfg)
    cid_box.append(created["Id"])
    docker(args.socket, "POST", f"/containers/{created['Id']}/start")
    info = docker(args.socket, "GET", f"/containers/{created['Id']}/json")
    ip = next(iter(info["NetworkSettings"]["Networks"].values()))["IPAddress"]
    hostname = info["Config"]["Hostname"]
    paddr, pport = args.proxy.rsplit(":", 1)
    direct = via = None
    deadline = time.time() + 30
    while (direct is None or via is None) and time.time() < deadline:
        if direct is None and get(ip, 8000, args.host)[0] == 200:
            direct = wall_now()
        if via is None:
            st, body = get(paddr, int(pport), args.host)
            if st == 200 and body == hostname:
                via = wall_now()
        time.sleep(0.001)
    w.join(timeout=5)
    docker(args.socket, "DELETE", f"/containers/{created['Id']}?force=true")
    if "t" not in ev or direct is None or via is None:
        raise RuntimeError(f"trial {n}: no start event or no answer")
    return (direct - ev["t"]) * 1000, (via - ev["t"]) * 1000


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", default="/var/run/docker.sock")
    ap.add_argument("--image", required=True)
    ap.add_argument("--proxy", required=True, help="xlbd's http listener ADDR:PORT")
    ap.add_argument("--host", default="lat.dt.test")
    ap.add_argument("--trials", type=int, default=20)
    args = ap.parse_args()
    directs, vias = [], []
    for n in range(args.trials):
        d, v = trial(args, n)
        directs.append(d)
        vias.append(v)
        print(f"trial {n + 1:2d}: container answers {d:7.1f} ms, through xlb {v:7.1f} ms "
              f"after the start event", flush=True)
    extra = [v - d for d, v in zip(directs, vias)]
    for label, v in (("container answers", directs), ("through xlb", vias),
                     ("xlb's part", extra)):
        print(f"{label:18s} p50 {statistics.median(v):7.1f} ms  p99 {pct(v, 99):7.1f} ms  "
              f"max {max(v):7.1f} ms  (n={len(v)})")


if __name__ == "__main__":
    main()
