#!/usr/bin/env python3
"""Where a no-change pycache build spends its time, from the --progress=rawjson logs that
`bench/run.sh --logs DIR` keeps: the frontend's share against BuildKit's.

  bench/frontend-share.py DIR [GLOB]     (GLOB default: *pycache*no-change.json)

For each log, from its vertex times (medians over the logs printed):
  frontend image resolved → first read     BuildKit starts the frontend's container and process
  session reads                            the recipe, the project files, the base image's config:
                                           BuildKit's vertices, each a round trip to the client
  frontend's gaps between them             the frontend's own work between its requests
  first read → first vertex of the build   all of the above, until BuildKit starts the solve
  solve                                    the (cached) build graph, until the export
  export                                   exporting to image
"""
import glob
import json
import os
import statistics
import sys
from datetime import datetime


def ts(s):
    s = s.rstrip("Z")
    if "." in s:
        whole, frac = s.split(".")
        s = f"{whole}.{frac[:6]}"
    return datetime.fromisoformat(s).timestamp()


def vertices(path):
    seen = {}
    for line in open(path):
        try:
            status = json.loads(line)
        except ValueError:
            continue
        for v in status.get("vertexes") or []:
            seen.setdefault(v["digest"], {}).update(
                {k: v[k] for k in ("name", "started", "completed") if k in v})
    return [(v.get("name", ""), ts(v["started"]), ts(v.get("completed", v["started"])))
            for v in seen.values() if "started" in v]


def phases(rows):
    rows.sort(key=lambda r: r[1])
    frontend = [r for r in rows if r[0].startswith("resolve image config for") and "pycache-frontend" in r[0]]
    reads = [r for r in rows if r[0].startswith("[internal] load ")]
    ours = [r for r in rows if r[0].startswith("[") and not r[0].startswith("[internal]")]
    export = [r for r in rows if r[0].startswith("exporting")]
    if not (frontend and reads and ours):
        return None
    first_read, solve = reads[0][1], min(r[1] for r in ours)
    read_time = sum(e - s for _, s, e in reads)
    end = max(e for _, _, e in rows)
    export_start = export[0][1] if export else end
    return {
        "frontend image resolved → first read": first_read - frontend[0][2],
        "session reads (BuildKit)": read_time,
        "frontend's gaps between them": (max(e for _, _, e in reads) - first_read) - read_time,
        "last read → first vertex of the build": solve - max(e for _, _, e in reads),
        "solve": export_start - solve,
        "export": end - export_start,
        "whole build": end - rows[0][1],
    }


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    pattern = sys.argv[2] if len(sys.argv) > 2 else "*pycache*no-change.json"
    found = {}
    for path in sorted(glob.glob(os.path.join(sys.argv[1], pattern))):
        p = phases(vertices(path))
        if p:
            for k, v in p.items():
                found.setdefault(k, []).append(v)
    if not found:
        sys.exit(f"no logs matching {pattern} in {sys.argv[1]}")
    n = len(next(iter(found.values())))
    print(f"| phase (medians of {n} no-change builds) | ms | range |")
    print("|---|---:|---|")
    for k, v in found.items():
        print(f"| {k} | {statistics.median(v) * 1000:.0f} | {min(v) * 1000:.0f}–{max(v) * 1000:.0f} |")


if __name__ == "__main__":
    main()
