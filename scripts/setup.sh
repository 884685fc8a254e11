#!/usr/bin/env bash
# One entry point for tests, CI and the README: pycache's own Docker engines (scripts/engine.sh:
# containerd and classic image stores, never the developer's engine), a local registry on
# 127.0.0.1:5000 (scripts/registry.sh), arm64 emulation for multi-platform builds
# (scripts/binfmt.sh), then in each engine the
# local Python base image $PYCACHE_BASE_IMAGE (scripts/base-image.sh; in the containerd engine also
# $PYCACHE_MULTIARCH_BASE_IMAGE for amd64 and arm64) and the frontend image
# $PYCACHE_FRONTEND_IMAGE built from the current sources (scripts/frontend-image.sh).
# Idempotent; a second run takes a few seconds.
#   scripts/setup.sh            set everything up
#   scripts/setup.sh --verify   also run base-image.sh's real verification build (containerd engine)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"

VERIFY=()
for a in "$@"; do
  case "$a" in
    --verify) VERIFY=(--verify) ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
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
step "$here/engine.sh" "${PYCACHE_ENGINES[@]}"
step "$here/registry.sh"
step "$here/binfmt.sh"
step "$here/base-image.sh" --engine containerd "${VERIFY[@]}"
step "$here/base-image.sh" --engine classic
# linux/amd64 + linux/arm64 under one tag, for the multi-platform E2E test. The first run makes an
# arm64 rootfs under QEMU (10-25 min on two cores); later runs reuse it in a second.
step "$here/base-image.sh" --engine containerd --multiarch
step "$here/frontend-image.sh" --engine containerd
step "$here/frontend-image.sh" --engine classic
log "setup done in $(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }'): base $PYCACHE_BASE_IMAGE, frontend $PYCACHE_FRONTEND_IMAGE, in the engines at $PYCACHE_DOCKER_HOST and $PYCACHE_CLASSIC_DOCKER_HOST"
