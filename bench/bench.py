#!/usr/bin/env python3
"""Side-by-side benchmark: pycache's recipe against the best-practice Dockerfile of the same
project, on the same engine, in the same run.

For each project in bench/projects/ and each kind (pycache, dockerfile), a "commit history" is
replayed on a scratch copy of the project, building after every commit:

  cold          build cache and cache mounts pruned (a new machine)
  no-change     the same commit again
  source-edit   a line appended to a source file
  version-bump  the project's own version changed (pyproject.toml, uv.lock)
  add-dep       one dependency added (steps/add-dep)
  bump-dep      one dependency's version changed (steps/bump-dep)
  add-apt       one apt package added (steps/add-apt)
  fresh-ci      a source edit built on a pruned builder with only --cache-from type=local of
                a mode=max export of the previous commit (a fresh CI runner)

Every build is timed, its steps counted as executed or cached from --progress=rawjson, its
changed layers measured, and its image run for the project's smoke line. The whole history is
repeated RUNS times; the report gives medians and pycache/Dockerfile ratios.

Usage: bench/run.sh [--runs N] [--projects a,b] [--out FILE]
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECTS = ROOT / "bench" / "projects"
FRONTEND = os.environ.get("PYCACHE_FRONTEND_IMAGE", "local/pycache-frontend:dev")
SCENARIOS = ["cold", "no-change", "source-edit", "version-bump", "add-dep", "bump-dep", "add-apt", "fresh-ci"]
KINDS = ["pycache", "dockerfile"]

# Our steps (pycache) and the Dockerfile's instructions: the build work, not the frontend's
# own bookkeeping (loading definitions, metadata, contexts, exporting).
STEP = re.compile(r"^\[(base|builder|runtime)\] |^\[(\S+ )?\d+/\d+\] (RUN|COPY|ADD)\b")


# pycache's private containerd engine (scripts/engine.sh; paths in scripts/lib.sh). Every docker
# command here runs on it, never on the developer's engine: the benchmark prunes build caches.
PRIVATE_ENGINE = "unix:///run/pycache-engines/containerd/docker.sock"
PRIVATE_ROOT = "/var/lib/pycache-engines/containerd"


def sh(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def use_private_engine():
    """Points every docker command of this process at the private engine, or exits saying why."""
    host = os.environ.get("PYCACHE_DOCKER_HOST", PRIVATE_ENGINE)
    if host != PRIVATE_ENGINE:
        sys.exit(f"bench: PYCACHE_DOCKER_HOST={host} is not pycache's private engine ({PRIVATE_ENGINE})")
    os.environ["DOCKER_HOST"] = host
    # A context or a selected buildx builder would send commands elsewhere.
    os.environ.pop("DOCKER_CONTEXT", None)
    os.environ.pop("BUILDX_BUILDER", None)
    problem = private_engine_problem()
    if problem:
        sys.exit(f"bench: {problem}; run scripts/engine.sh containerd (bench/run.sh does)")


def private_engine_problem():
    """Why DOCKER_HOST is not our private engine, or None."""
    host = os.environ.get("DOCKER_HOST")
    if host != PRIVATE_ENGINE:
        return f"DOCKER_HOST={host} is not pycache's private engine ({PRIVATE_ENGINE})"
    info = subprocess.run(["docker", "info", "--format", "{{json .Labels}}|{{.DockerRootDir}}"],
                          capture_output=True, text=True)
    if info.returncode != 0:
        return f"no engine answers at {host}: {info.stderr.strip()[:300]}"
    labels, _, root = info.stdout.strip().rpartition("|")
    if '"io.pycache.engine=containerd"' not in labels or root != PRIVATE_ROOT:
        return f"the engine at {host} is not pycache's containerd engine ({info.stdout.strip()})"
    return None


def prune():
    """A new machine: no build cache, no cache mounts (images stay: they are the base).
    Only ever on the private engine."""
    problem = private_engine_problem()
    if problem:
        raise RuntimeError(f"refusing to prune: {problem}")
    sh(["docker", "buildx", "prune", "--all", "--force"])


# Engine faults seen right after `buildx prune --all` with the containerd store; not a build
# failure of either kind, so such a build is retried once.
TRANSIENT = ("parent snapshot", "does not exist: not found")


def build(kind, workdir, tag, extra=()):
    try:
        return build_once(kind, workdir, tag, extra)
    except RuntimeError as e:
        if not any(t in str(e) for t in TRANSIENT):
            raise
        print(f"  (retrying after an engine fault: {str(e).splitlines()[0][:200]})", flush=True)
        return build_once(kind, workdir, tag, extra)


def build_once(kind, workdir, tag, extra=()):
    recipe = "pycache.toml" if kind == "pycache" else "Dockerfile"
    args = ["docker", "buildx", "build", "--progress=rawjson", "--provenance=false",
            "-f", str(workdir / recipe), "-t", tag, *extra, str(workdir)]
    if kind == "pycache":
        args[3:3] = ["--build-arg", f"BUILDKIT_SYNTAX={FRONTEND}"]
    start = time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True)
    wall = time.monotonic() - start
    vertices = {}
    for line in proc.stderr.splitlines():
        try:
            status = json.loads(line)
        except ValueError:
            continue
        for v in status.get("vertexes") or []:
            entry = vertices.setdefault(v["digest"], {"name": v.get("name", ""), "cached": False})
            entry["cached"] |= bool(v.get("cached"))
    steps = [v for v in vertices.values() if STEP.match(v["name"])]
    if proc.returncode != 0:
        tail = "\n".join(l for l in proc.stderr.splitlines() if not l.startswith("{"))[-3000:]
        errors = [v.get("error") for s in map(safe_json, proc.stderr.splitlines()) if s
                  for v in s.get("vertexes") or [] if v.get("error")]
        raise RuntimeError(f"{kind} build of {workdir} failed: {errors[-3:]}\n{tail}")
    return {
        "wall": wall,
        "executed": sum(1 for s in steps if not s["cached"]),
        "cached": sum(1 for s in steps if s["cached"]),
        "executed_names": sorted(s["name"] for s in steps if not s["cached"]),
    }


def safe_json(line):
    try:
        return json.loads(line)
    except ValueError:
        return None


HUMAN = {"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9}


def layer_sizes(tag):
    """(diff_id, bytes) of the image's layers, bottom first."""
    diff_ids = json.loads(sh(["docker", "image", "inspect", tag, "--format", "{{json .RootFS.Layers}}"]).stdout)
    rows = sh(["docker", "history", "--no-trunc", "--format", "{{.Size}}", tag]).stdout.split()
    sizes = []
    for r in reversed(rows):
        m = re.match(r"([\d.]+)([a-zA-Z]+)", r)
        sizes.append(float(m.group(1)) * HUMAN.get(m.group(2), 1) if m else 0.0)
    nonempty = [s for s in sizes if s > 0]
    # History rows with size 0 are metadata-only; align the rest with the layers.
    if len(nonempty) != len(diff_ids):
        nonempty = (nonempty + [0.0] * len(diff_ids))[: len(diff_ids)]
    return list(zip(diff_ids, nonempty))


def image_size(tag):
    return int(sh(["docker", "image", "inspect", tag, "--format", "{{.Size}}"]).stdout.strip())


def smoke(tag, expected):
    out = subprocess.run(["docker", "run", "--rm", tag], capture_output=True, text=True, timeout=120)
    return out.returncode == 0 and expected in out.stdout


def overlay(src, dst):
    for path in src.rglob("*"):
        if path.is_file():
            target = dst / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


def bump_version(workdir, files, nonce):
    """A release: the project's own version, in pyproject.toml and in its uv.lock entry."""
    name = tomllib.loads((workdir / "pyproject.toml").read_text())["project"]["name"]
    normalized = re.sub(r"[-_.]+", "-", name).lower()
    for file in files:
        p = workdir / file
        text = p.read_text()
        if file.endswith("uv.lock"):
            pattern = r'(\[\[package\]\]\nname = "' + re.escape(normalized) + r'"\nversion = ")([^"]+)'
        else:
            pattern = r'(\[project\][^\[]*?\nversion = ")([^"]+)'
        new, n = re.subn(pattern, lambda m: f"{m.group(1)}{m.group(2)}.post{nonce}", text, count=1)
        assert n == 1, f"no version of {name} in {p}"
        p.write_text(new)


def history(project, kind, run_no, results, cache_root):
    meta = tomllib.loads((project / "meta.toml").read_text())
    expected = (project / "smoke.txt").read_text().strip()
    name = meta["name"]
    work = Path(tempfile.mkdtemp(prefix=f"bench-{name}-{kind}-"))
    shutil.copytree(project / "project", work, dirs_exist_ok=True)
    tag = f"pycache-bench/{name}-{kind}:latest"
    # A nonce per history: edits and bumps are new content, never already in the engine.
    nonce = f"{int(time.time())}{run_no}"
    previous_layers = None
    for scenario in SCENARIOS:
        extra = []
        if scenario == "cold":
            prune()
        elif scenario == "source-edit":
            with open(work / meta["source_file"], "a") as f:
                f.write(f"\n# edit {nonce}\n")
        elif scenario == "version-bump":
            bump_version(work, meta["version_files"], nonce)
        elif scenario in ("add-dep", "bump-dep", "add-apt"):
            overlay(project / "steps" / scenario, work)
        elif scenario == "fresh-ci":
            cache_dir = cache_root / f"{name}-{kind}-{run_no}"
            shutil.rmtree(cache_dir, ignore_errors=True)
            # The previous commit's CI build exported its cache (not timed) ...
            build(kind, work, tag, ["--cache-to", f"type=local,dest={cache_dir},mode=max"])
            # ... the next commit lands on a runner that has only that export.
            with open(work / meta["source_file"], "a") as f:
                f.write(f"\n# ci edit {nonce}\n")
            prune()
            extra = ["--cache-from", f"type=local,src={cache_dir}"]
        r = build(kind, work, tag, extra)
        layers = layer_sizes(tag)
        old = set(d for d, _ in previous_layers or [])
        r.update(
            project=name, kind=kind, run=run_no, scenario=scenario,
            changed_bytes=sum(s for d, s in layers if d not in old),
            image_bytes=image_size(tag),
            smoke=smoke(tag, expected),
        )
        previous_layers = layers
        results.append(r)
        print(f"  {name:8} {kind:10} run {run_no} {scenario:12} {r['wall']:7.1f}s "
              f"executed {r['executed']:2}/{r['executed'] + r['cached']:2} "
              f"changed {r['changed_bytes'] / 1e6:8.2f} MB  image {r['image_bytes'] / 1e6:7.1f} MB  "
              f"smoke {'ok' if r['smoke'] else 'FAILED'}", flush=True)
    shutil.rmtree(work, ignore_errors=True)


def report(results, runs):
    def med(kind, project, scenario, key):
        vals = [r[key] for r in results if r["kind"] == kind and r["project"] == project and r["scenario"] == scenario]
        return statistics.median(vals) if vals else float("nan")

    lines = [
        f"| project | scenario | pycache s | Dockerfile s | ratio | steps run (pycache / Dockerfile) | changed MB (pycache / Dockerfile) | image MB (pycache / Dockerfile) |",
        "|---|---|---:|---:|---:|---|---|---|",
    ]
    for project in sorted({r["project"] for r in results}):
        for scenario in SCENARIOS:
            p, d = med("pycache", project, scenario, "wall"), med("dockerfile", project, scenario, "wall")
            steps = lambda k: f"{med(k, project, scenario, 'executed'):.0f}/{med(k, project, scenario, 'executed') + med(k, project, scenario, 'cached'):.0f}"
            mb = lambda k, key: f"{med(k, project, scenario, key) / 1e6:.1f}"
            lines.append(
                f"| {project} | {scenario} | {p:.1f} | {d:.1f} | {p / d:.2f} | {steps('pycache')} / {steps('dockerfile')} "
                f"| {mb('pycache', 'changed_bytes')} / {mb('dockerfile', 'changed_bytes')} "
                f"| {mb('pycache', 'image_bytes')} / {mb('dockerfile', 'image_bytes')} |"
            )
    failed = [r for r in results if not r["smoke"]]
    lines.append("")
    lines.append(f"Medians of {runs} run(s). Smoke checks: {len(results) - len(failed)}/{len(results)} passed.")
    for r in failed:
        lines.append(f"- smoke FAILED: {r['project']} {r['kind']} run {r['run']} {r['scenario']}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--projects", default="")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "latest.jsonl"))
    args = ap.parse_args()
    use_private_engine()
    wanted = [p for p in args.projects.split(",") if p]
    projects = sorted(p for p in PROJECTS.iterdir() if (p / "meta.toml").exists() and (not wanted or p.name in wanted))
    engine = sh(["docker", "version", "--format", "{{.Server.Version}}"]).stdout.strip()
    buildx = sh(["docker", "buildx", "version"]).stdout.strip()
    print(f"engine {engine} at {os.environ['DOCKER_HOST']}, {buildx}, frontend {FRONTEND}, {args.runs} run(s), projects {[p.name for p in projects]}", flush=True)
    results = []
    cache_root = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    for run_no in range(1, args.runs + 1):
        for project in projects:
            for kind in KINDS:
                history(project, kind, run_no, results, cache_root)
    shutil.rmtree(cache_root, ignore_errors=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r) + "\n" for r in results))
    table = report(results, args.runs)
    print()
    print(f"{time.strftime('%Y-%m-%d')}, engine {engine}, {buildx}")
    print(table)
    sys.exit(1 if any(not r["smoke"] for r in results) else 0)


if __name__ == "__main__":
    main()
