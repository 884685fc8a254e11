#!/usr/bin/env bash
# One entry point for tests, CI and the README: a running Docker Engine with BuildKit and buildx
# (scripts/engine.sh), the local Python base image $PYCACHE_BASE_IMAGE (scripts/base-image.sh) and
# the frontend image $PYCACHE_FRONTEND_IMAGE built from the current sources
# (scripts/frontend-image.sh), in that order. Idempotent; a second run takes a few seconds.
#   scripts/setup.sh            set everything up
#   scripts/setup.sh --verify   also run base-image.sh's real verification build
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"

BASE_ARGS=()
for a in "$@"; do
  case "$a" in
    --verify) BASE_ARGS+=(--verify) ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) die "unknown argument: $a (use --verify)" ;;
  esac
done

T0=$(date +%s.%N)
step() {
  local t; t=$(date +%s.%N)
  log "== $*"
  "$@"
  log "== $(basename "$1") done in $(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }')"
}
step "$here/engine.sh"
step "$here/base-image.sh" "${BASE_ARGS[@]}"
step "$here/frontend-image.sh"
log "setup done in $(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }'): base $PYCACHE_BASE_IMAGE, frontend $PYCACHE_FRONTEND_IMAGE"
