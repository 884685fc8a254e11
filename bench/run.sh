#!/usr/bin/env bash
# The side-by-side benchmark in one command: sets up the benchmark's engine and its images, then
# replays each project's commit history with pycache and with its best-practice Dockerfile.
#   bench/run.sh [--runs N] [--projects uv-web,pip-app] [--scenarios cold,fresh-ci-bump-dep-local] [--out FILE]
# It prunes build caches (a cold build needs it), so it runs on an engine of its own
# ($PYCACHE_BENCH_DOCKER_HOST, `scripts/engine.sh bench`), never on the developer's engine nor on
# the tests' engines (so tests running meanwhile neither lose their cache nor skew the timings;
# they still share the CPU). The fresh-ci-*-registry scenarios push cache exports to the local
# registry on 127.0.0.1:5000 (scripts/registry.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../scripts/lib.sh"
"$here/../scripts/engine.sh" bench
"$here/../scripts/registry.sh"
"$here/../scripts/base-image.sh" --engine bench
"$here/../scripts/frontend-image.sh" --engine bench
"$here/../scripts/uv-image.sh" --engine bench
use_engine bench
DOCKER_HOST="$PYCACHE_BENCH_DOCKER_HOST" PYCACHE_BENCH_DOCKER_HOST="$PYCACHE_BENCH_DOCKER_HOST" exec python3 "$here/bench.py" "$@"
