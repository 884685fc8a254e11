#!/usr/bin/env python3
"""Side-by-side benchmark: pycache's recipe against the best-practice Dockerfile of the same
project, on the same engine, in the same run.

For each project in bench/projects/ and each kind (pycache, dockerfile), a "commit history" is
replayed on a scratch copy of the project, building after every commit:

  cold          build cache and cache mounts pruned, the previous image removed (a new machine)
  no-change     the same commit again
  source-edit   a line appended to a source file
  version-bump  the project's own version changed (pyproject.toml, uv.lock)
  add-dep       one dependency added (steps/add-dep)
  bump-dep      one locked dependency's version changed, nothing else: only uv.lock or one pin
                of requirements.txt (steps/bump-dep)
  add-apt       one apt package added (steps/add-apt)

and then on a fresh CI runner: the previous commit's build exported its cache (mode=max, not
timed), the builder is pruned and the previous commit's image removed, and the next commit is
built with only --cache-from that export:

  fresh-ci                    a source edit; a type=local export
  fresh-ci-add-dep-local      steps/add-dep on the project without it; a type=local export
  fresh-ci-add-dep-registry   the same commit; a type=registry export (a registry on
                              127.0.0.1:5000, scripts/registry.sh)
  fresh-ci-bump-dep-local     steps/bump-dep on steps/add-dep; type=local
  fresh-ci-bump-dep-registry  the same; type=registry
  fresh-ci-add-dep-push,      as -registry, and the runner pushes the image instead of loading
  fresh-ci-bump-dep-push      it (`--output type=image,push=true,store=false`: what
                              build-push-action's `push: true` does on the docker-container
                              driver CI sets up), to the repository the previous commit's image
                              was pushed to; the image is pulled afterwards, untimed, to be
                              measured and run

Every build is timed, its steps counted as executed or cached from --progress=rawjson, its image's
layers counted and the layers not in the previous commit's image measured, and its image run for
the project's smoke line. The whole history is repeated RUNS times; the report gives medians and
pycache/Dockerfile ratios.

Usage: bench/run.sh [--runs N] [--projects a,b] [--scenarios a,b] [--out FILE] [--logs DIR]
       bench/bench.py --report FILE[,FILE…]   the table again from saved results (no builds); the
                                              runs of several files are numbered on
With --scenarios, the commits of the scenarios left out are still made (the history stays the
same), and the previous commit is built, untimed, where a chosen scenario needs a warm builder.
"""

import argparse
import base64
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
import urllib.request
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECTS = ROOT / "bench" / "projects"
FRONTEND = os.environ.get("PYCACHE_FRONTEND_IMAGE", "local/pycache-frontend:dev")
REGISTRY = "127.0.0.1:5000"
SCENARIOS = [
    "cold", "no-change", "source-edit", "version-bump", "add-dep", "bump-dep", "add-apt",
    "fresh-ci",
    # Each change's scenarios together: its timed builds run on its commit, before the next
    # change is laid over the work tree (an add-dep build after the bump-dep overlay built both).
    "fresh-ci-add-dep-local", "fresh-ci-add-dep-registry", "fresh-ci-add-dep-push",
    "fresh-ci-bump-dep-local", "fresh-ci-bump-dep-registry", "fresh-ci-bump-dep-push",
]
# Built on the builder as the previous commit's build left it.
INCREMENTAL = {"no-change", "source-edit", "version-bump", "add-dep", "bump-dep", "add-apt"}
# fresh-ci-<change>-<backend>: the same two commits for both backends; the previous one is
# exported to each.
FRESH_DEP = re.compile(r"^fresh-ci-(add-dep|bump-dep)-(local|registry|push)$")
BACKENDS = ("local", "registry", "push")
KINDS = ["pycache", "dockerfile"]
# --logs DIR: every build's --progress=rawjson output is kept there.
LOGS = None

# Our steps (pycache) and the Dockerfile's instructions: the build work, not the frontend's
# own bookkeeping (loading definitions, metadata, contexts, exporting).
STEP = re.compile(r"^\[(base|builder|runtime)\] |^\[(\S+ )?\d+/\d+\] (RUN|COPY|ADD)\b")
# The steps that install locked dependencies: pycache's one per layer, the Dockerfile's one.
DEP_STEP = re.compile(r"^\[builder\] deps: |uv sync .*--no-install-project|pip install --require-hashes|poetry install .*--no-root")
# pycache's writes of a layer's requirements file: BuildKit runs them again (in no time) on every
# build, since the install's cache key is the file's content; bookkeeping, not build work.
HELPER = re.compile(r": write /pycache/")


# The benchmark's own engine (`scripts/engine.sh bench`, containerd store; paths in scripts/lib.sh).
# Every docker command here runs on it, never on the developer's engine nor on the tests' engines:
# the benchmark prunes build caches, and no other client's builds disturb its timings.
PRIVATE_ENGINE = "unix:///run/pycache-engines/bench/docker.sock"
PRIVATE_ROOT = "/var/lib/pycache-engines/bench"


def sh(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def use_private_engine():
    """Points every docker command of this process at the private engine, or exits saying why."""
    host = os.environ.get("PYCACHE_BENCH_DOCKER_HOST", PRIVATE_ENGINE)
    if host != PRIVATE_ENGINE:
        sys.exit(f"bench: PYCACHE_BENCH_DOCKER_HOST={host} is not the benchmark's private engine ({PRIVATE_ENGINE})")
    os.environ["DOCKER_HOST"] = host
    # A context or a selected buildx builder would send commands elsewhere.
    os.environ.pop("DOCKER_CONTEXT", None)
    os.environ.pop("BUILDX_BUILDER", None)
    problem = private_engine_problem()
    if problem:
        sys.exit(f"bench: {problem}; run scripts/engine.sh bench (bench/run.sh does)")


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
    if '"io.pycache.engine=bench"' not in labels or root != PRIVATE_ROOT:
        return f"the engine at {host} is not the benchmark's engine ({info.stdout.strip()})"
    return None


def prune():
    """A new machine: no build cache, no cache mounts (images stay: they are the base).
    Only ever on the private engine."""
    problem = private_engine_problem()
    if problem:
        raise RuntimeError(f"refusing to prune: {problem}")
    sh(["docker", "buildx", "prune", "--all", "--force"])


def fresh_runner(tag):
    """A CI runner that has only what --cache-from brings: no build cache, and not the previous
    commit's image either (its layers would otherwise be at hand without being imported)."""
    prune()
    subprocess.run(["docker", "image", "rm", "--force", tag], capture_output=True, text=True)


def foreign_builds(since):
    """Builds of other clients that started on the engine since `since` (seconds since the epoch):
    the engine is machine-wide, and another client's tests prune its cache."""
    out = subprocess.run(["docker", "buildx", "history", "ls", "--format", "{{json .}}"],
                         capture_output=True, text=True)
    names = []
    for entry in map(safe_json, out.stdout.splitlines()):
        if entry and not entry.get("name", "").startswith("bench-") \
                and timestamp(entry.get("created_at", "1970-01-01T00:00:00Z")) >= since:
            names.append(entry.get("name", "?"))
    return names


def registry_problem():
    """Why the local registry cannot take cache exports, or None."""
    try:
        with urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=3) as answer:
            return None if answer.status == 200 else f"http://{REGISTRY}/v2/ answered {answer.status}"
    except OSError as e:
        return f"no registry answers at http://{REGISTRY}/v2/ ({e})"


# Engine faults seen right after `buildx prune --all` with the containerd store, and downloads
# this machine's resolver and network refuse under a burst (pycache's layers download in
# parallel): not a build failure of either kind, so such a build is tried up to three times, the
# attempts' times added and the retries recorded.
TRANSIENT = ("parent snapshot", "does not exist: not found",
             "Temporary failure in name resolution", "failed to lookup address", "operation timed out",
             "network timeout", "Temporary failure resolving")
ATTEMPTS = 3


def build(kind, workdir, tag, extra=(), label="build"):
    start = time.monotonic()
    faults = []
    while True:
        try:
            r = build_once(kind, workdir, tag, extra, label + "-retry" * len(faults))
            break
        except RuntimeError as e:
            # Not in BuildKit's echo of a failed step's script: pycache's install steps name
            # these faults themselves, to retry on them.
            said = "\n".join(l for l in str(e).splitlines() if 'process "/bin/sh -c ' not in l)
            fault = next((t for t in TRANSIENT if t in said), None)
            if not fault or len(faults) + 1 == ATTEMPTS:
                raise
            faults.append(fault)
            print(f"  (retrying after a transient fault: {fault}; {str(e).splitlines()[1][:160]})", flush=True)
    if faults:
        r.update(wall=time.monotonic() - start, retried=faults)
    return r


def build_once(kind, workdir, tag, extra=(), label="build"):
    recipe = "pycache.toml" if kind == "pycache" else "Dockerfile"
    # Loaded into the engine's image store as `tag`, unless `extra` names another output.
    load = [] if "--output" in extra else ["-t", tag]
    args = ["docker", "buildx", "build", "--progress=rawjson", "--provenance=false",
            "-f", str(workdir / recipe), *load, *extra, str(workdir)]
    if kind == "pycache":
        args[3:3] = ["--build-arg", f"BUILDKIT_SYNTAX={FRONTEND}"]
    start, launched, cpu = time.monotonic(), time.time(), cpu_seconds()
    proc = subprocess.run(args, capture_output=True, text=True)
    wall = time.monotonic() - start
    cpu = cpu_seconds() - cpu
    vertices, logs = parse_progress(proc.stderr)
    if LOGS:
        LOGS.mkdir(parents=True, exist_ok=True)
        outcome = "" if proc.returncode == 0 else "-failed"
        (LOGS / f"{time.strftime('%H%M%S')}-{workdir.name.split('-', 1)[1]}-{label}{outcome}.json").write_text(proc.stderr)
    if proc.returncode != 0:
        tail = "\n".join(l for l in proc.stderr.splitlines() if not l.startswith("{"))[-3000:]
        # The output of the steps that failed (a canceled sibling says nothing).
        failed = [f"--- {v['name'][:200]}: {v['error'][:300]}\n"
                  + b"".join(logs.get(d, [])).decode(errors="replace")[-2000:]
                  for d, v in vertices.items() if v.get("error") and "context canceled" not in v["error"]]
        raise RuntimeError(f"{kind} build of {workdir} failed:\n" + "\n".join(failed[-3:]) + f"\n{tail}")
    ours = own_vertices(vertices)
    steps = [v for d, v in vertices.items() if d in ours and STEP.match(v["name"]) and not HELPER.search(v["name"])]
    foreign = sorted({v["name"][:80] for d, v in vertices.items() if d not in ours and STEP.match(v["name"])})
    executed = sorted(s["name"] for s in steps if not s["cached"])
    # A vertex cached from an imported cache can carry the times of the build that made it.
    timed_vertices = [v for v in vertices.values()
                      if "started" in v and "completed" in v and v["started"] >= launched - 1]
    # Where the time went: the longest vertices, and the time no vertex was running (the client,
    # the session, the frontend's start and its reads before its first solve).
    slowest = sorted(timed_vertices, key=lambda v: v["started"] - v["completed"])[:3]
    mark = lambda v: " (cached)" if v["cached"] else ""
    active = (max(v["completed"] for v in timed_vertices) - min(v["started"] for v in timed_vertices)
              if timed_vertices else 0.0)
    # BuildKit goes on without a cache it cannot import: a fresh-ci build would then just be cold.
    import_errors = [v["error"][:300] for v in vertices.values()
                     if v["name"].startswith("importing cache") and v.get("error")]
    return {
        "wall": wall,
        "cpu": round(cpu, 2),
        "cache_import_errors": import_errors,
        "foreign_vertices": foreign,
        "outside_vertices": round(wall - active, 2),
        "slowest": [[v["name"][:120] + mark(v), round(v["completed"] - v["started"], 2)] for v in slowest],
        "executed": len(executed),
        "cached": sum(1 for s in steps if s["cached"]),
        "executed_names": executed,
        "deps_executed": sum(1 for n in executed if DEP_STEP.search(n)),
        "deps_total": sum(1 for s in steps if DEP_STEP.search(s["name"])),
    }


def cpu_seconds():
    """The machine's CPU time so far (user, system and interrupts of every core), from /proc/stat:
    a build's work is spread over the engine, its shims and the step containers, so the
    machine-wide difference is its cost (on a quiet machine), whatever the cores' contention."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = map(int, fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def parse_progress(rawjson):
    """The vertices of a --progress=rawjson stream by digest (name, cached, inputs, error, times),
    and the log output of each."""
    vertices, logs = {}, {}
    for status in map(safe_json, rawjson.splitlines()):
        for v in (status or {}).get("vertexes") or []:
            entry = vertices.setdefault(v["digest"], {"name": v.get("name", ""), "cached": False, "inputs": set()})
            entry["cached"] |= bool(v.get("cached"))
            entry["inputs"] |= set(v.get("inputs") or [])
            entry["error"] = v.get("error") or entry.get("error")
            for key in ("started", "completed"):
                if v.get(key):
                    entry[key] = timestamp(v[key])
        for log in (status or {}).get("logs") or []:
            logs.setdefault(log["vertex"], []).append(base64.b64decode(log.get("data") or ""))
    return vertices, logs


def own_vertices(vertices):
    """The digests of the vertices the build's result is made of.

    BuildKit shares identical vertices between concurrent builds, and a build's progress then also
    shows other builds' vertices that hang off the shared ones (another project's "deps: click" on
    the same uv install): only the result's ancestors are this build's. The result is the last
    step that nothing else uses (pycache's merge, the Dockerfile's last instruction)."""
    used = {i for v in vertices.values() for i in v["inputs"]}
    finals = [d for d, v in vertices.items() if d not in used and v["name"].startswith("[")
              and not v["name"].startswith(("[internal]", "[local]", "[image]"))]
    if not finals:
        return set(vertices)
    final = max(finals, key=lambda d: vertices[d].get("completed", 0.0))
    ours, todo = set(), [final]
    while todo:
        d = todo.pop()
        if d not in ours and d in vertices:
            ours.add(d)
            todo.extend(vertices[d]["inputs"])
    return ours


def timestamp(rfc3339):
    """Seconds since the epoch of BuildKit's RFC 3339 times (nanoseconds cut to microseconds)."""
    m = re.match(r"(.+T[\d:]+)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$", rfc3339)
    zone = "+00:00" if m[3] in (None, "Z") else m[3]
    return datetime.fromisoformat(m[1] + zone).timestamp() + float("0." + (m[2] or "0"))


def safe_json(line):
    try:
        return json.loads(line)
    except ValueError:
        return None


def image_layers(tag):
    """(diff_id, bytes) of the image's layers, bottom first, and whether the sizes are exact.

    The containerd store's history gives each row that adds a layer the size of that layer's
    snapshot, and 0 to the rows that only change the config; a layer of 0 bytes is told from those
    only when every row is a layer. When rows and layers cannot be matched, the sizes are
    estimates (and said to be)."""
    diff_ids = json.loads(sh(["docker", "image", "inspect", tag, "--format", "{{json .RootFS.Layers}}"]).stdout)
    rows = sh(["docker", "history", "--no-trunc", "--human=false", "--format", "{{.Size}}", tag]).stdout.split()
    sizes = [int(r) if r.isdigit() else 0 for r in reversed(rows)]
    if len(sizes) == len(diff_ids):
        return list(zip(diff_ids, sizes)), True
    nonempty = [s for s in sizes if s > 0]
    exact = len(nonempty) == len(diff_ids)
    nonempty = (nonempty + [0] * len(diff_ids))[: len(diff_ids)]
    return list(zip(diff_ids, nonempty)), exact


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


def revert(project, work, steps):
    """Undoes the overlays of `steps`: their files as the project has them (or gone)."""
    for step in steps:
        src = project / "steps" / step
        for path in src.rglob("*"):
            if not path.is_file():
                continue
            rel = path.relative_to(src)
            original = project / "project" / rel
            if original.is_file():
                shutil.copy2(original, work / rel)
            else:
                (work / rel).unlink(missing_ok=True)


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


def pull(ref):
    """Pulls `ref`, retried: the engine's pull right after a push was seen failing once."""
    for attempt in range(ATTEMPTS):
        out = subprocess.run(["docker", "pull", "--quiet", ref], capture_output=True, text=True)
        if out.returncode == 0:
            return
        print(f"  (pull of {ref} failed: {out.stderr.strip()[:300]})", flush=True)
        time.sleep(2 * (attempt + 1))
    raise RuntimeError(f"cannot pull {ref}")


def pushed(name, kind, label):
    """Where the push backend's runner pushes a commit's image."""
    return f"{REGISTRY}/pycache-bench/{name}-{kind}:{label}"


def cache_specs(backend, name, kind, label, cache_root):
    """(--cache-to, --cache-from) of one export of a history's commit."""
    if backend == "local":
        dest = cache_root / f"{name}-{kind}-{label}"
        shutil.rmtree(dest, ignore_errors=True)
        return f"type=local,dest={dest},mode=max", f"type=local,src={dest}"
    ref = f"{REGISTRY}/pycache-bench/{name}-{kind}-cache:{label}"
    # An OCI image manifest for the cache: what registries without BuildKit's cache index
    # format (ECR, most mirrors) need; distribution 2.8 takes either.
    return (f"type=registry,ref={ref},mode=max,image-manifest=true,oci-mediatypes=true",
            f"type=registry,ref={ref}")


def history(project, kind, run_no, wanted, results, cache_root):
    meta = tomllib.loads((project / "meta.toml").read_text())
    expected = (project / "smoke.txt").read_text().strip()
    name = meta["name"]
    work = Path(tempfile.mkdtemp(prefix=f"bench-{name}-{kind}-"))
    shutil.copytree(project / "project", work, dirs_exist_ok=True)
    tag = f"pycache-bench/{name}-{kind}:latest"
    # A nonce per history: edits and bumps are new content, never already in the engine.
    nonce = f"{int(time.time())}{run_no}"
    last = max(SCENARIOS.index(s) for s in wanted)
    # The layers of the image of the commit the builder holds; None: that commit is not built.
    previous = None
    # Per fresh-ci change: the --cache-from of each backend exported, and the exported image's layers.
    exports = {}
    checked = time.time()

    def untimed(extra=(), label="setup"):
        nonlocal previous
        build(kind, work, tag, extra, label)
        previous, _ = image_layers(tag)

    def timed(scenario, extra=(), fetch=None):
        nonlocal previous, checked
        r = build(kind, work, tag, extra, scenario)
        if fetch:
            # Pushed, not loaded: pulled into the store (untimed) to be measured and run.
            pull(fetch)
            sh(["docker", "tag", fetch, tag])
        layers, exact = image_layers(tag)
        old = {d for d, _ in previous or []}
        # Since the previous result: this scenario's own set-up (an export, a warm-up) included.
        others, checked = foreign_builds(checked), time.time()
        r.update(
            foreign_builds=others,
            project=name, kind=kind, run=run_no, scenario=scenario,
            changed_bytes=sum(s for d, s in layers if d not in old),
            changed_layers=sum(1 for d, _ in layers if d not in old),
            layers=len(layers), sizes_exact=exact,
            image_bytes=image_size(tag),
            smoke=smoke(tag, expected),
        )
        previous = layers
        results.append(r)
        deps = f"deps {r['deps_executed']}/{r['deps_total']}"
        print(f"  {name:10} {kind:10} run {run_no} {scenario:26} {r['wall']:6.1f}s "
              f"steps {r['executed']:2}/{r['executed'] + r['cached']:2} {deps:10} "
              f"changed {r['changed_bytes'] / 1e6:7.2f} MB in {r['changed_layers']:2}/{r['layers']:2} layers"
              f"{'' if exact else ' (estimated)'}  image {r['image_bytes'] / 1e6:6.1f} MB  "
              f"smoke {'ok' if r['smoke'] else 'FAILED'}", flush=True)
        for error in r["cache_import_errors"]:
            print(f"    cache import failed: {error}", flush=True)
        if r["foreign_vertices"]:
            print(f"    not counted, other builds' steps in the progress: {'; '.join(r['foreign_vertices'][:4])}", flush=True)
        if others:
            print(f"    meanwhile {len(others)} build(s) of other clients on the engine: {', '.join(sorted(set(others))[:4])}", flush=True)

    for scenario in SCENARIOS[: last + 1]:
        chosen = scenario in wanted
        if scenario == "cold":
            if chosen:
                fresh_runner(tag)
                timed(scenario)
            continue
        if scenario in INCREMENTAL:
            if chosen and previous is None:
                untimed()
            if scenario == "source-edit":
                with open(work / meta["source_file"], "a") as f:
                    f.write(f"\n# edit {nonce}\n")
            elif scenario == "version-bump":
                bump_version(work, meta["version_files"], nonce)
            elif scenario in ("add-dep", "bump-dep", "add-apt"):
                overlay(project / "steps" / scenario, work)
            if chosen:
                timed(scenario)
            else:
                previous = None
            continue
        if scenario == "fresh-ci":
            if chosen:
                to, cache_from = cache_specs("local", name, kind, f"{nonce}-source-edit", cache_root)
                # The previous commit's CI build exported its cache ...
                untimed(["--cache-to", to], "export-source-edit")
            with open(work / meta["source_file"], "a") as f:
                f.write(f"\n# ci edit {nonce}\n")
            if chosen:
                # ... the next commit lands on a runner that has only that export.
                fresh_runner(tag)
                timed(scenario, ["--cache-from", cache_from])
            else:
                previous = None
            continue
        change, backend = FRESH_DEP.match(scenario).groups()
        if change not in exports:
            for old in cache_root.glob(f"{name}-{kind}-*"):
                shutil.rmtree(old, ignore_errors=True)
            if change == "add-dep":
                # The previous commit: the project as it was before add-dep and bump-dep.
                revert(project, work, ["add-dep", "bump-dep"])
            backends = [b for b in BACKENDS if f"fresh-ci-{change}-{b}" in wanted]
            specs = {b: cache_specs(b, name, kind, f"{nonce}-{change}-{b}", cache_root) for b in backends}
            # One export per build: with two --cache-to in one build, the local export's
            # index.json was seen naming the registry export's manifest (then not imported).
            for b, (to, _) in specs.items():
                untimed(["--cache-to", to], f"export-{change}-{b}")
                if b == "push":
                    # CI pushed the previous commit's image where the next one goes.
                    sh(["docker", "tag", tag, pushed(name, kind, f"{nonce}-{change}-previous")])
                    sh(["docker", "push", "--quiet", pushed(name, kind, f"{nonce}-{change}-previous")])
                    sh(["docker", "image", "rm", pushed(name, kind, f"{nonce}-{change}-previous")])
            exports[change] = ({b: cache_from for b, (_, cache_from) in specs.items()}, previous)
            overlay(project / "steps" / change, work)
        if chosen:
            cache_from, previous = exports[change]
            fresh_runner(tag)
            extra, fetch = ["--cache-from", cache_from[backend]], None
            if backend == "push":
                fetch = pushed(name, kind, f"{nonce}-{change}-next")
                extra += ["--output", f"type=image,name={fetch},push=true,store=false"]
            timed(scenario, extra, fetch)
            if fetch:
                sh(["docker", "image", "rm", fetch])
        else:
            previous = None
    for old in cache_root.glob(f"{name}-{kind}-*"):
        shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)


def report(results, runs, scenarios):
    def med(kind, project, scenario, key):
        vals = [r[key] for r in results if r["kind"] == kind and r["project"] == project
                and r["scenario"] == scenario and key in r]
        return statistics.median(vals) if vals else float("nan")

    def both(project, scenario, fmt):
        return " / ".join(fmt(k, project, scenario) for k in KINDS)

    steps = lambda k, p, s: f"{med(k, p, s, 'executed'):.0f}/{med(k, p, s, 'executed') + med(k, p, s, 'cached'):.0f}"
    deps = lambda k, p, s: f"{med(k, p, s, 'deps_executed'):.0f}/{med(k, p, s, 'deps_total'):.0f}"
    mb = lambda key: lambda k, p, s: f"{med(k, p, s, key) / 1e6:.1f}"
    layers = lambda k, p, s: f"{med(k, p, s, 'changed_layers'):.0f}/{med(k, p, s, 'layers'):.0f}"
    cpu = lambda k, p, s: f"{med(k, p, s, 'cpu'):.1f}"
    lines = [
        "| project | scenario | pycache s | Dockerfile s | ratio | CPU s | steps run | dependency steps run "
        "| changed MB | changed ratio | changed layers / layers | image MB |",
        "|---|---|---:|---:|---:|---|---|---|---|---:|---|---|",
    ]
    for project in sorted({r["project"] for r in results}):
        for scenario in [s for s in SCENARIOS if s in scenarios]:
            p, d = med("pycache", project, scenario, "wall"), med("dockerfile", project, scenario, "wall")
            cp, cd = (med(k, project, scenario, "changed_bytes") for k in KINDS)
            changed_ratio = f"{cp / cd:.2f}" if cd else "–"
            lines.append(
                f"| {project} | {scenario} | {p:.1f} | {d:.1f} | {ratio(p, d)} | {both(project, scenario, cpu)} "
                f"| {both(project, scenario, steps)} "
                f"| {both(project, scenario, deps)} | {both(project, scenario, mb('changed_bytes'))} | {changed_ratio} "
                f"| {both(project, scenario, layers)} | {both(project, scenario, mb('image_bytes'))} |"
            )
    failed = [r for r in results if not r["smoke"]]
    estimated = [r for r in results if not r.get("sizes_exact", True)]
    lines.append("")
    lines.append("Pairs are pycache / Dockerfile. Ratio = pycache / Dockerfile (below 1: pycache faster or smaller).")
    lines.append("CPU s: the whole machine's CPU time during the build (user, system, interrupts; quiet machine).")
    lines.append(f"Medians of {runs} run(s). Smoke checks: {len(results) - len(failed)}/{len(results)} passed.")
    for r in failed:
        lines.append(f"- smoke FAILED: {r['project']} {r['kind']} run {r['run']} {r['scenario']}")
    for r in results:
        if r.get("retried"):
            lines.append(f"- retried ({'; '.join(r['retried'])}), every attempt timed: {r['project']} {r['kind']} run {r['run']} {r['scenario']}")
    for r in results:
        for error in r.get("cache_import_errors", []):
            lines.append(f"- cache import FAILED ({error}): {r['project']} {r['kind']} run {r['run']} {r['scenario']}")
    disturbed = [r for r in results if r.get("foreign_builds")]
    if disturbed:
        lines.append(f"- {len(disturbed)} result(s) with builds of other clients on the engine meanwhile "
                     "(their prunes and load can change what is cached and how long it takes): "
                     + ", ".join(f"{r['project']} {r['kind']} run {r['run']} {r['scenario']}" for r in disturbed[:12])
                     + (" …" if len(disturbed) > 12 else ""))
    for r in estimated:
        lines.append(f"- layer sizes estimated (history rows and layers did not match): {r['project']} {r['kind']} run {r['run']} {r['scenario']}")
    lines.append("")
    lines.append("pycache's dependency steps that ran (first run):")
    for project in sorted({r["project"] for r in results}):
        for scenario in [s for s in SCENARIOS if s in scenarios]:
            first = next((r for r in results if r["kind"] == "pycache" and r["project"] == project
                          and r["scenario"] == scenario), None)
            if first and first["deps_executed"]:
                names = [n.removeprefix("[builder] deps: ") for n in first["executed_names"] if DEP_STEP.search(n)]
                shown = f"all {len(names)}" if first["deps_executed"] == first["deps_total"] else "; ".join(names)
                lines.append(f"- {project} {scenario}: {shown}")
    return "\n".join(lines)


def ratio(p, d):
    return f"{p / d:.2f}" if d else "–"


def frontend_id():
    out = subprocess.run(["docker", "image", "inspect", FRONTEND, "--format", "{{.Id}}"], capture_output=True, text=True)
    return out.stdout.strip()[:19] if out.returncode == 0 else "missing"


def main():
    started = time.monotonic()
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--projects", default="", help="comma-separated names in bench/projects (default: all)")
    ap.add_argument("--scenarios", default="", help=f"comma-separated, of: {','.join(SCENARIOS)} (default: all)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "latest.jsonl"))
    ap.add_argument("--logs", default="", help="keep every build's rawjson progress in this directory")
    ap.add_argument("--report", default="", help="print the table of saved results (comma-separated .jsonl files) and exit")
    args = ap.parse_args()
    if args.report:
        results, offset = [], 0
        for f in args.report.split(","):
            saved = [json.loads(line) for line in Path(f).read_text().splitlines() if line.strip()]
            for r in saved:
                r["run"] += offset
            offset = max([offset] + [r["run"] for r in saved])
            results += saved
        shown = [s for s in SCENARIOS if any(r["scenario"] == s for r in results)]
        print(report(results, offset, shown))
        return
    global LOGS
    LOGS = Path(args.logs) if args.logs else None
    wanted = [s for s in args.scenarios.split(",") if s] or SCENARIOS
    unknown = [s for s in wanted if s not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    available = sorted(p.name for p in PROJECTS.iterdir() if (p / "meta.toml").exists())
    chosen = [p for p in args.projects.split(",") if p] or available
    unknown = [p for p in chosen if p not in available]
    if unknown:
        ap.error(f"unknown project(s) {', '.join(unknown)}; known: {', '.join(available)}")
    projects = [PROJECTS / p for p in sorted(chosen)]
    use_private_engine()
    if any(s.endswith("-registry") for s in wanted):
        problem = registry_problem()
        if problem:
            sys.exit(f"bench: {problem}; run scripts/registry.sh (bench/run.sh does, through scripts/setup.sh)")
    engine = sh(["docker", "version", "--format", "{{.Server.Version}}"]).stdout.strip()
    buildx = sh(["docker", "buildx", "version"]).stdout.strip()
    frontend = frontend_id()
    print(f"engine {engine} at {os.environ['DOCKER_HOST']}, {buildx}, frontend {FRONTEND} ({frontend}), "
          f"{args.runs} run(s), projects {[p.name for p in projects]}, scenarios {wanted}", flush=True)
    results = []
    cache_root = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    try:
        for run_no in range(1, args.runs + 1):
            for project in projects:
                for kind in KINDS:
                    history(project, kind, run_no, wanted, results, cache_root)
    finally:
        shutil.rmtree(cache_root, ignore_errors=True)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(json.dumps(r) + "\n" for r in results))
    table = report(results, args.runs, wanted)
    print()
    print(f"{time.strftime('%Y-%m-%d')}, engine {engine}, {buildx}")
    print(table)
    if frontend_id() != frontend:
        print(f"\nwarning: {FRONTEND} changed during the run (another checkout's scripts/setup.sh?): "
              f"{frontend} -> {frontend_id()}")
    total = time.monotonic() - started
    print(f"\nTotal time: {total / 60:.1f} min ({total:.0f} s)")
    sys.exit(1 if any(not r["smoke"] for r in results) else 0)


if __name__ == "__main__":
    main()
