#!/usr/bin/env bash
# Sets everything up (pycache's own engines, base image, frontend image), then builds the demo uv
# project through the frontend with `docker buildx build -f pycache.toml` (the `# syntax=` line
# selects the frontend) and runs the image, on the private containerd engine: the images live
# there (DOCKER_HOST=$PYCACHE_DOCKER_HOST docker run --rm pycache-demo runs it again).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
"$here/setup.sh"
use_engine containerd
demo="$PYCACHE_ROOT/testdata/uv-minimal"
log "DOCKER_HOST=$DOCKER_HOST docker buildx build -f $demo/pycache.toml -t pycache-demo $demo"
docker buildx build --provenance=false -f "$demo/pycache.toml" -t pycache-demo "$demo"
log "DOCKER_HOST=$DOCKER_HOST docker run --rm pycache-demo"
docker run --rm pycache-demo
