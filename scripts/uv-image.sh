#!/usr/bin/env bash
# Builds local/uv:VERSION (VERSION = the recipes' default uv, src/recipe/mod.rs) in an engine:
# what ghcr.io/astral-sh/uv:VERSION is, /uv and /uvx on scratch, from the very wheel the
# frontend installs (its URL and sha256 in src/plan/uv.rs, checked by ADD --checksum). The
# benchmark's Dockerfiles copy uv from it as uv's Docker guide does
# (`COPY --from=ghcr.io/astral-sh/uv:VERSION /uv /uvx /bin/`): ghcr.io is not reachable here,
# and installing uv with pip instead would cost the Dockerfile seconds its users do not pay.
#   scripts/uv-image.sh [--engine NAME]   (default: the private containerd engine)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

parse_engine_args 8 -- "$@"

VERSION=$(sed -n 's/^pub const DEFAULT_UV_VERSION: &str = "\(.*\)";$/\1/p' "$PYCACHE_ROOT/src/recipe/mod.rs")
[ -n "$VERSION" ] || die "no DEFAULT_UV_VERSION in src/recipe/mod.rs"
# The url and sha256 of the amd64 entry of DEFAULT_UV_WHEELS.
read -r URL SHA256 < <(awk '/^const DEFAULT_UV_WHEELS/ { table = 1 }
  table && /"amd64",/ { arch = 1 }
  arch && /url:/ { gsub(/.*url: "|",$/, ""); url = $0 }
  arch && /sha256:/ { gsub(/.*sha256: "|",$/, ""); print url, $0; exit }' "$PYCACHE_ROOT/src/plan/uv.rs") || true
[[ "${URL:-}" == https://*/uv-"$VERSION"-*.whl && "${SHA256:-}" =~ ^[0-9a-f]{64}$ ]] \
  || die "no amd64 wheel of uv $VERSION in DEFAULT_UV_WHEELS (src/plan/uv.rs): '${URL:-}' '${SHA256:-}'"
IMAGE="local/uv:$VERSION"
use_engine "$ENGINE"
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE: in the '$ENGINE' engine already"
  exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/Dockerfile" <<DOCKERFILE
FROM $PYCACHE_BASE_IMAGE AS unpack
ADD --checksum=sha256:$SHA256 $URL /uv.whl
RUN python3 - <<'PY'
import os, zipfile
os.makedirs("/out")
with zipfile.ZipFile("/uv.whl") as z:
    for name in z.namelist():
        if "/scripts/" in name:
            target = os.path.join("/out", os.path.basename(name))
            with z.open(name) as src, open(target, "wb") as dst:
                dst.write(src.read())
            os.chmod(target, 0o755)
PY
FROM scratch
COPY --from=unpack /out/uv /out/uvx /
DOCKERFILE
docker build --quiet -t "$IMAGE" "$dir" >/dev/null
log "$IMAGE: built in the '$ENGINE' engine from $(basename "$URL")"
