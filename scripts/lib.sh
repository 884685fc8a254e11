# shellcheck shell=bash
# Shared helpers for the engine and E2E scripts: PATH to the engine we install, logging, version checks.
# Sourced, never run.
PYCACHE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYCACHE_CACHE="${PYCACHE_CACHE:-$PYCACHE_ROOT/.cache}"
ENGINE_PREFIX="${ENGINE_PREFIX:-/opt/dsid}"
export PATH="$ENGINE_PREFIX/usr/bin:$ENGINE_PREFIX/usr/sbin:$PATH"
# Images the tests use; both are built locally because no registry is reachable.
PYCACHE_BASE_IMAGE="${PYCACHE_BASE_IMAGE:-local/python:3.11-slim}"
PYCACHE_FRONTEND_IMAGE="${PYCACHE_FRONTEND_IMAGE:-local/pycache-frontend:dev}"

log() { printf '[pycache %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# major version number of a "x.y.z" string
major() { printf '%s' "${1#v}" | cut -d. -f1; }
minor() { printf '%s' "${1#v}" | cut -d. -f2; }
