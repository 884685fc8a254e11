#!/usr/bin/env bash
# The side-by-side benchmark in one command: sets up the engine and the images, then replays
# each project's commit history with pycache and with its best-practice Dockerfile.
#   bench/run.sh [--runs N] [--projects uv-web,pip-app] [--out FILE]
# Warning: it prunes the engine's build cache (a cold build needs it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../scripts/lib.sh"
"$here/../scripts/setup.sh"
exec python3 "$here/bench.py" "$@"
