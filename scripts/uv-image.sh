#!/usr/bin/env bash
# Builds local/uv:VERSION (VERSION = the recipes' default uv, src/recipe/mod.rs) in an engine:
# what ghcr.io/astral-sh/uv:VERSION is, /uv and /uvx on scratch, from uv's wheel on PyPI (pip
# checks its hash). The benchmark's Dockerfiles copy uv from it as uv's Docker guide does
# (`COPY --from=ghcr.io/astral-sh/uv:VERSION /uv /uvx /bin/`): ghcr.io is not reachable here,
# and installing uv with pip instead would cost the Dockerfile seconds its users do not pay.
#   scripts/uv-image.sh [--engine NAME]   (default: the private containerd engine)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

parse_engine_args 7 -- "$@"

VERSION=$(sed -n 's/^pub const DEFAULT_UV_VERSION: &str = "\(.*\)";$/\1/p' "$PYCACHE_ROOT/src/recipe/mod.rs")
[ -n "$VERSION" ] || die "no DEFAULT_UV_VERSION in src/recipe/mod.rs"
IMAGE="local/uv:$VERSION"
use_engine "$ENGINE"
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE: in the '$ENGINE' engine already"
  exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  --platform manylinux2014_x86_64 --python-version 3.11 -d "$dir" "uv==$VERSION"
python3 - "$dir" <<'PY'
import glob, os, sys, zipfile
d = sys.argv[1]
(wheel,) = glob.glob(os.path.join(d, "uv-*.whl"))
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if "/scripts/" in name:
            target = os.path.join(d, os.path.basename(name))
            with z.open(name) as src, open(target, "wb") as dst:
                dst.write(src.read())
            os.chmod(target, 0o755)
PY
printf 'FROM scratch\nCOPY uv uvx /\n' > "$dir/Dockerfile"
docker build --quiet -t "$IMAGE" "$dir" >/dev/null
log "$IMAGE: built in the '$ENGINE' engine"
