#!/usr/bin/env bash
# The side-by-side benchmark in one command: sets up the engine and the images, then replays
# each project's commit history with pycache and with its best-practice Dockerfile.
#   bench/run.sh [--runs N] [--projects uv-web,pip-app] [--scenarios cold,fresh-ci-bump-dep-local] [--out FILE]
# It prunes build caches (a cold build needs it), so it runs on pycache's private containerd
# engine ($PYCACHE_DOCKER_HOST, started by scripts/setup.sh), never on the developer's engine; the
# fresh-ci-*-registry scenarios push cache exports to the local registry scripts/setup.sh starts.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../scripts/lib.sh"
"$here/../scripts/setup.sh"
use_engine containerd
DOCKER_HOST="$PYCACHE_DOCKER_HOST" exec python3 "$here/bench.py" "$@"
