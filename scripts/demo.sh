#!/usr/bin/env bash
# Sets everything up (engine, base image, frontend image), then builds the demo uv project
# through the frontend with `docker buildx build -f pycache.toml` (the `# syntax=` line selects
# the frontend) and runs the image.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
"$here/setup.sh"
demo="$PYCACHE_ROOT/testdata/uv-minimal"
log "docker buildx build -f $demo/pycache.toml -t pycache-demo $demo"
docker buildx build --provenance=false -f "$demo/pycache.toml" -t pycache-demo "$demo"
log "docker run --rm pycache-demo"
docker run --rm pycache-demo
