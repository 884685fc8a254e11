#!/usr/bin/env bash
# Supply chain: `cargo deny check` of licences, bans and sources (deny.toml), and of
# advisories when the RustSec database can be fetched. It is a git repository outside the
# package registries, which may be unreachable (this project's machines reach crates.io
# only): then this says so loudly, on its own line, instead of passing them silently. Installs cargo-deny from
# crates.io when it is missing.
#   scripts/deny.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
cd "$PYCACHE_ROOT"

DENY_VERSION=0.20.2
if ! cargo deny --version >/dev/null 2>&1; then
  log "installing cargo-deny $DENY_VERSION from crates.io"
  cargo install --locked --quiet cargo-deny --version "$DENY_VERSION"
fi
log "$(cargo deny --version): licences, bans, sources"
cargo deny --log-level error check licenses bans sources

if cargo deny --log-level error fetch db >/dev/null 2>&1; then
  log "advisories (RustSec database fetched)"
  cargo deny --log-level error check --disable-fetch advisories
else
  echo "pycache: ADVISORIES NOT CHECKED: the RustSec advisory database cannot be fetched from this machine; licences, bans and sources were checked" >&2
fi
