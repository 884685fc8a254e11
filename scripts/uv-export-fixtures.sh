#!/usr/bin/env bash
# Regenerates testdata/uv-export/*.txt: what the real `uv export` says each lock installs, for
# the differential test of pycache's own lock walk (src/lock/uv.rs, tests in tests/uv_export.rs).
# Needs network access to PyPI once (uv is installed into $PYCACHE_CACHE/uv-export).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
UV_VERSION=0.13.9   # the default uv of recipes (src/recipe/mod.rs DEFAULT_UV_VERSION)
venv="$PYCACHE_CACHE/uv-export"
[ -x "$venv/bin/uv" ] && [ "$("$venv/bin/uv" --version | awk '{print $2}')" = "$UV_VERSION" ] || {
  python3 -m venv "$venv" && "$venv/bin/pip" install --quiet "uv==$UV_VERSION"; }
out="$PYCACHE_ROOT/testdata/uv-export"
mkdir -p "$out"
# case name, project directory, uv export selection flags
cases=(
  "large-lock|bench/large-lock|--no-dev"
  "large-lock-all-extras|bench/large-lock|--all-extras"
  "uv-web|bench/projects/uv-web/project|--no-dev"
  "uv-data|bench/projects/uv-data/project|--no-dev"
  "uv-fastapi|bench/projects/uv-fastapi/project|--no-dev"
  "uv-groups-extras|testdata/uv-groups-extras|--no-dev"
  "uv-groups-extras-all|testdata/uv-groups-extras|--all-extras --group=lint"
  "uv-groups-extras-dev|testdata/uv-groups-extras|--extra=cli"
  "uv-workspace|testdata/uv-workspace|--no-dev"
)
for c in "${cases[@]}"; do
  IFS='|' read -r name dir flags <<<"$c"
  # shellcheck disable=SC2086
  { echo "# flags: $flags"
    (cd "$PYCACHE_ROOT/$dir" && "$venv/bin/uv" export --frozen --format=requirements-txt --no-header \
       --no-annotate --no-emit-project --no-emit-workspace --no-hashes $flags); } > "$out/$name.txt"
  log "$name: $(grep -vc '^#' "$out/$name.txt") packages"
done
