#!/usr/bin/env bash
# Runs every test: formatting, lints, unit, golden, determinism, fake-bridge gateway tests, the
# generated GitHub Actions workflows through actionlint, and
# the end-to-end builds on pycache's own engines (set up by scripts/setup.sh), never on the
# developer's: around the tests, scripts/user-cache.sh proves the developer's build cache survived.
# The E2E tests are #[ignore]d, so a plain `cargo test` lists them as ignored; here they run with
# --include-ignored, and a missing engine or image fails them. Never skipped under CI=true.
#   scripts/test.sh            everything
#   scripts/test.sh --no-e2e   skip the engines (local iteration only; CI never passes this)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
cd "$PYCACHE_ROOT"

E2E=1
for a in "$@"; do
  case "$a" in
    --no-e2e) E2E=0 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) die "unknown argument: $a" ;;
  esac
done
if [ "$E2E" = 0 ] && [ "${CI:-}" = "true" ]; then die "--no-e2e is not allowed under CI=true"; fi

T0=$(date +%s)
log "cargo fmt --check"; cargo fmt --all -- --check
log "cargo clippy"; cargo clippy --quiet --all-targets -- -D warnings
log "cargo deny"; "$here/deny.sh"
if [ "$E2E" = 1 ]; then
  # The engines first: if they cannot start, this fails here, loudly.
  "$here/setup.sh"
  state=$(mktemp -d)
  trap 'rm -rf "$state"' EXIT
  "$here/user-cache.sh" record "$state"
  log "unit, golden, determinism, gateway and end-to-end tests (E2E on $PYCACHE_DOCKER_HOST and $PYCACHE_CLASSIC_DOCKER_HOST)"
  DOCKER_HOST="$PYCACHE_DOCKER_HOST" cargo test --quiet --no-fail-fast -- --include-ignored
  "$here/user-cache.sh" verify "$state"
else
  log "unit, golden, determinism and gateway tests (no engine; the E2E tests show as ignored)"
  cargo test --quiet
fi
# Every workflow `pycache ci github` writes, and the committed example, through actionlint
# (installed from PyPI into $PYCACHE_CACHE; a missing actionlint fails here, never skips).
log "actionlint"; "$here/actionlint.sh"
log "all tests passed in $(( $(date +%s) - T0 )) s"
