#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The BPF maps of one running xlbd and their memory, as a TSV on stdout.

  mapsizes.py PID PIN_DIR

Maps: those xlbd holds open (/proc/PID/fdinfo: map_id), those pinned in
PIN_DIR, and the Maglev inner tables found through xlb_maglev (xlbd closes
its own fd of each after the swap). For each: `bpftool map show`'s
bytes_memlock (the kernel's accounting of the map's memory: since Linux
6.4 its map_mem_usage(), preallocated elements and per-CPU copies
included) and, for comparison, the raw key+value bytes
(key + value x CPUs for per-CPU maps) x max_entries.
"""
import glob
import json
import os
import subprocess
import sys

PERCPU = {"percpu_array", "percpu_hash", "lru_percpu_hash"}


def bpftool(*args):
    r = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"bpftool {' '.join(args)}: {r.stderr.strip()}")
    return json.loads(r.stdout) if r.stdout.strip() else None


def held_map_ids(pid):
    ids = set()
    for f in glob.glob(f"/proc/{pid}/fdinfo/*"):
        try:
            with open(f) as fh:
                for line in fh:
                    if line.startswith("map_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    return ids


def pinned_map_ids(pin_dir):
    ids = {}
    for path in sorted(glob.glob(os.path.join(pin_dir, "*"))):
        try:
            m = bpftool("map", "show", "pinned", path)
        except RuntimeError:
            continue  # a pinned link or program
        ids[m["id"]] = os.path.basename(path)
    return ids


def inner_map_ids(pin_dir):
    outer = os.path.join(pin_dir, "xlb_maglev")
    if not os.path.exists(outer):
        return {}
    ids = {}
    for e in bpftool("map", "dump", "pinned", outer) or []:
        key = int.from_bytes(bytes(int(b, 16) for b in e["key"]), "little")
        val = e.get("value")
        if isinstance(val, list):
            ids[int.from_bytes(bytes(int(b, 16) for b in val), "little")] = key
        elif isinstance(val, int):
            ids[val] = key
    return ids


def main():
    pid, pin_dir = int(sys.argv[1]), sys.argv[2]
    ncpu = os.cpu_count()
    held, pinned, inner = held_map_ids(pid), pinned_map_ids(pin_dir), inner_map_ids(pin_dir)
    print("map\ttype\tkey_bytes\tvalue_bytes\tmax_entries\tmemlock_bytes\tkv_bytes\tnote")
    rows = []
    for mid in sorted(held | set(pinned) | set(inner)):
        m = bpftool("map", "show", "id", str(mid))
        name = pinned.get(mid, m.get("name", f"id{mid}"))
        where = ("pinned" if mid in pinned else "held by xlbd" if mid in held
                 else f"Maglev table of service id {inner[mid]}")
        per = m["bytes_value"] * (ncpu if m["type"] in PERCPU else 1)
        kv = (m["bytes_key"] + per) * m["max_entries"]
        rows.append((name, m["type"], m["bytes_key"], m["bytes_value"], m["max_entries"],
                     m.get("bytes_memlock", 0), kv, where))
    for r in rows:
        print("\t".join(str(x) for x in r))


if __name__ == "__main__":
    main()
