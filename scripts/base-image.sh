#!/usr/bin/env bash
# Builds the local Python base image $PYCACHE_BASE_IMAGE (default local/python:3.11-slim) that the
# E2E tests use in place of Docker Hub's python:3.11-slim, which cannot be pulled here.
#
#   scripts/base-image.sh            build the image unless the engine already has this recipe's image
#   scripts/base-image.sh --verify   then also run a real `docker buildx build` on it (pip, uv, apt)
#   scripts/base-image.sh --engine classic   into that private engine (default: containerd; see lib.sh)
#   scripts/base-image.sh --multiarch        instead, $PYCACHE_MULTIARCH_BASE_IMAGE (default
#       local/python:3.11-slim-multiarch): the same recipe for linux/amd64 and linux/arm64 under one
#       tag (an image index), for multi-platform builds. The arm64 rootfs is made by mmdebstrap
#       --arch=arm64 through QEMU (scripts/binfmt.sh must have run); the two are joined by a
#       `docker buildx build --platform linux/amd64,linux/arm64 --load` of a FROM scratch image
#       that ADDs each platform's rootfs. Slow the first time (mmdebstrap under emulation).
#
# The image is Debian bookworm (python3 3.11) made by mmdebstrap, imported with `docker import`, and
# made to behave like the official python images where tests may notice:
#   - `python` resolves (/usr/local/bin/python -> /usr/bin/python3), `pip` too;
#   - no PEP 668 EXTERNALLY-MANAGED marker, so `pip install X` as root works as it does there;
#   - PATH and LANG=C.UTF-8 as there, CMD ["python3"];
#   - /etc/apt/sources.list = `deb http://deb.debian.org/debian bookworm main`, so apt-get works in RUN;
#   - useradd/groupadd (passwd) present.
# Test-environment only: the host's CA bundle (which trusts the TLS-intercepting proxy) is copied to
# /etc/ssl/certs/host-ca.crt, named by SSL_CERT_FILE/PIP_CERT/REQUESTS_CA_BUNDLE/UV_NATIVE_TLS=1, and
# also added to the image's system trust store so curl/git/wget in RUN steps work too.
# Labels io.pycache.test-base=true and io.pycache.base.recipe=<key> tell tests the image is ours.
#
# Idempotent: the recipe (this script's settings, the hook below and the host CA bundle) is hashed
# into a key; an image carrying that key is reused in well under a second. The rootfs tarball and
# the downloaded .debs are kept under $PYCACHE_CACHE/base, so re-importing after `docker rmi` is quick.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

parse_engine_args 13 --verify=VERIFY --multiarch=MULTIARCH -- "$@"

SUITE=bookworm
MIRROR=http://deb.debian.org/debian
VARIANT=minbase
INCLUDE=python3,python3-venv,python3-pip,ca-certificates,passwd
HOST_CA=/etc/ssl/certs/ca-certificates.crt
IMG_CA=/etc/ssl/certs/host-ca.crt
RECIPE_REV=1   # bump to force a rebuild when something outside the hashed text changes
UV_VERSION=0.13.9   # what --verify installs

# Runs on the host after the packages are installed, with the rootfs as $1 (mmdebstrap --mode=root).
# Environment: HOST_CA IMG_CA MIRROR SUITE VERSIONS_OUT.
HOOK=$(cat <<'EOF'
set -eu
root="$1"
# Like the official python images: `python` and `pip` resolve, and pip may install as root.
[ -e "$root/usr/local/bin/python" ] || ln -s /usr/bin/python3 "$root/usr/local/bin/python"
[ -e "$root/usr/bin/pip" ] || ln -s pip3 "$root/usr/bin/pip"
rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
# The host's CA bundle: a file named by the env vars, and part of the system trust store.
install -D -m 0644 "$HOST_CA" "$root$IMG_CA"
install -D -m 0644 "$HOST_CA" "$root/usr/local/share/ca-certificates/host-ca.crt"
chroot "$root" update-ca-certificates >/dev/null 2>&1
# apt inside builds
printf 'deb %s %s main\n' "$MIRROR" "$SUITE" > "$root/etc/apt/sources.list"
rm -f "$root"/etc/apt/sources.list.d/*.list "$root"/etc/apt/sources.list.d/*.sources
# checks
for b in useradd groupadd python python3 pip update-ca-certificates; do
  chroot "$root" /bin/sh -c "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin command -v $b" >/dev/null \
    || { echo "base image hook: $b is missing" >&2; exit 1; }
done
chroot "$root" /usr/bin/python3 -c 'import ssl, venv, ensurepip, sqlite3'
{
  printf 'python=%s\n' "$(chroot "$root" /usr/bin/python3 -c 'import platform; print(platform.python_version())')"
  printf 'pip=%s\n' "$(chroot "$root" /usr/bin/python3 -m pip --version | awk '{print $2}')"
  printf 'debian=%s\n' "$(cat "$root/etc/debian_version")"
  printf 'openssl=%s\n' "$(chroot "$root" dpkg-query -W -f '${Version}' openssl)"
  printf 'packages=%s\n' "$(chroot "$root" dpkg-query -W -f '.\n' | wc -l)"
} > "$VERSIONS_OUT"
EOF
)

[ -r "$HOST_CA" ] || die "no host CA bundle at $HOST_CA"
KEY=$( { printf '%s\n' "$RECIPE_REV" "$SUITE" "$MIRROR" "$VARIANT" "$INCLUDE" "$IMG_CA" "$HOOK"; cat "$HOST_CA"; } \
       | sha256sum | cut -c1-16)
DIR="$PYCACHE_CACHE/base"
ARCH=amd64   # the rootfs build_rootfs makes: $TAR and $VERSIONS
TAR="$DIR/rootfs-$KEY.tar"
VERSIONS="$DIR/versions-$KEY.txt"
# The arm64 rootfs of the same recipe (the amd64 key and file names are unchanged).
KEY_ARM64=$(printf '%s arm64\n' "$KEY" | sha256sum | cut -c1-16)
PYCACHE_MULTIARCH_BASE_IMAGE="${PYCACHE_MULTIARCH_BASE_IMAGE:-$PYCACHE_BASE_IMAGE-multiarch}"
case "$DIR" in *[[:space:]]*) die "PYCACHE_CACHE must not contain whitespace: $DIR" ;; esac
mkdir -p "$DIR/debs"

# One builder at a time (tests may run setup concurrently).
exec 9>"$DIR/.lock"
flock 9

use_engine "$ENGINE"

T0=$(date +%s.%N)
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }'; }

image_key() { docker image inspect "$PYCACHE_BASE_IMAGE" --format '{{with .Config.Labels}}{{index . "io.pycache.base.recipe"}}{{end}}' 2>/dev/null || true; }

# Another private engine that already has this recipe's image, if any: copying it from there is
# quicker than mmdebstrap when this clone has no rootfs tarball (a clean clone, a second engine).
engine_with_image() {
  local other
  for other in "${PYCACHE_ENGINES[@]}"; do
    if [ "$other" = "$ENGINE" ] || ! engine_is_ours "$other"; then continue; fi
    [ "$(DOCKER_HOST="$(engine_host "$other")" image_key)" = "$KEY" ] && { echo "$other"; return 0; }
  done
  return 1
}

build_rootfs() {
  if ! command -v mmdebstrap >/dev/null; then
    log "installing mmdebstrap with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq mmdebstrap >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq mmdebstrap >/dev/null; }
  fi
  log "mmdebstrap $(mmdebstrap --version | awk '{print $2}'): $VARIANT $SUITE $ARCH with $INCLUDE (debs cached in $DIR/debs)"
  local t hook
  t=$(date +%s.%N)
  hook=$(mktemp "$DIR/hook.XXXXXX.sh")
  printf '%s\n' "$HOOK" > "$hook"
  rm -f "$TAR.tmp"
  # The .debs are kept between runs: sync-in before apt downloads, sync-out before mmdebstrap's
  # cleanup empties the apt cache (--skip=essential/unlink keeps the essential set there too).
  export HOST_CA IMG_CA MIRROR SUITE   # for the hook
  VERSIONS_OUT="$VERSIONS.tmp" mmdebstrap --quiet --mode=root --format=tar --arch="$ARCH" --variant="$VARIANT" --include="$INCLUDE" \
    --skip=essential/unlink \
    --setup-hook='mkdir -p "$1"/var/cache/apt/archives' \
    --setup-hook="sync-in $DIR/debs /var/cache/apt/archives" \
    --customize-hook="sync-out /var/cache/apt/archives $DIR/debs" \
    --customize-hook="sh $hook \"\$1\"" \
    "$SUITE" "$TAR.tmp" "$MIRROR" \
    || { rm -f "$hook" "$TAR.tmp"; die "mmdebstrap failed"; }
  rm -f "$hook" "$DIR"/debs/lock
  rm -rf "$DIR"/debs/partial
  mv "$VERSIONS.tmp" "$VERSIONS"
  mv "$TAR.tmp" "$TAR"
  # keep only this recipe's rootfs of each architecture (amd64: rootfs-KEY.tar; arm64: rootfs-arm64-KEY.tar)
  local k=${TAR##*/rootfs-}; k=${k%.tar}
  if [ "$ARCH" = amd64 ]; then
    find "$DIR" -maxdepth 1 \( -name 'rootfs-????????????????.tar' -o -name 'versions-????????????????.txt' \) ! -name "rootfs-$k.tar" ! -name "versions-$k.txt" -delete
  else
    find "$DIR" -maxdepth 1 \( -name "rootfs-$ARCH-*.tar" -o -name "versions-$ARCH-*.txt" \) ! -name "rootfs-$k.tar" ! -name "versions-$k.txt" -delete
  fi
  log "rootfs $(du -h "$TAR" | cut -f1) in $(elapsed "$t")"
}

import_image() {
  local t old v py pip deb
  t=$(date +%s.%N)
  # shellcheck disable=SC1090
  v=$(cat "$VERSIONS"); py=$(sed -n 's/^python=//p' <<<"$v"); pip=$(sed -n 's/^pip=//p' <<<"$v"); deb=$(sed -n 's/^debian=//p' <<<"$v")
  old=$(docker image inspect "$PYCACHE_BASE_IMAGE" --format '{{.Id}}' 2>/dev/null || true)
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "ENV PYTHON_VERSION=$py" \
    --change "ENV SSL_CERT_FILE=$IMG_CA PIP_CERT=$IMG_CA REQUESTS_CA_BUNDLE=$IMG_CA UV_NATIVE_TLS=1" \
    --change "LABEL io.pycache.test-base=true io.pycache.base.recipe=$KEY io.pycache.base.python=$py io.pycache.base.pip=$pip io.pycache.base.debian=$deb" \
    --change 'CMD ["python3"]' \
    --message "pycache test base: mmdebstrap $VARIANT $SUITE + $INCLUDE" \
    "$TAR" "$PYCACHE_BASE_IMAGE" >/dev/null
  if [ -n "$old" ] && [ "$old" != "$(docker image inspect "$PYCACHE_BASE_IMAGE" --format '{{.Id}}')" ]; then
    if docker rmi "$old" >/dev/null 2>&1; then log "removed the previous image ${old:7:12}"; fi
  fi
  log "imported in $(elapsed "$t")"
}

# --multiarch: both rootfs tarballs, joined under one tag by a multi-platform build.
if [ "$MULTIARCH" = 1 ]; then
  MKEY="$KEY+$KEY_ARM64"
  multi_key() { docker image inspect "$PYCACHE_MULTIARCH_BASE_IMAGE" --format '{{with .Config.Labels}}{{index . "io.pycache.base.recipe"}}{{end}}' 2>/dev/null || true; }
  if [ "$(multi_key)" = "$MKEY" ]; then
    log "reusing $PYCACHE_MULTIARCH_BASE_IMAGE (recipe $MKEY)"
    exit 0
  fi
  "$(dirname "$0")/binfmt.sh" --check || die "arm64 programs cannot run here: run scripts/binfmt.sh first"
  for ARCH in amd64 arm64; do
    if [ "$ARCH" = amd64 ]; then
      TAR="$DIR/rootfs-$KEY.tar"; VERSIONS="$DIR/versions-$KEY.txt"
    else
      TAR="$DIR/rootfs-arm64-$KEY_ARM64.tar"; VERSIONS="$DIR/versions-arm64-$KEY_ARM64.txt"
    fi
    if [ -s "$TAR" ] && [ -s "$VERSIONS" ]; then log "reusing the $ARCH rootfs tarball $TAR"; else build_rootfs; fi
  done
  v=$(cat "$DIR/versions-$KEY.txt"); py=$(sed -n 's/^python=//p' <<<"$v"); pip=$(sed -n 's/^pip=//p' <<<"$v"); deb=$(sed -n 's/^debian=//p' <<<"$v")
  py_arm=$(sed -n 's/^python=//p' "$DIR/versions-arm64-$KEY_ARM64.txt")
  [ "$py" = "$py_arm" ] || die "amd64 has Python $py but arm64 $py_arm: one PYTHON_VERSION cannot describe both"
  ctx=$(mktemp -d "$DIR/multiarch.XXXXXX")
  trap 'rm -rf "$ctx"' EXIT
  ln "$DIR/rootfs-$KEY.tar" "$ctx/rootfs-amd64.tar"
  ln "$DIR/rootfs-arm64-$KEY_ARM64.tar" "$ctx/rootfs-arm64.tar"
  # The same config as import_image's `docker import --change`s.
  cat > "$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
ARG TARGETARCH
ADD rootfs-\${TARGETARCH}.tar /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 PYTHON_VERSION=$py
ENV SSL_CERT_FILE=$IMG_CA PIP_CERT=$IMG_CA REQUESTS_CA_BUNDLE=$IMG_CA UV_NATIVE_TLS=1
LABEL io.pycache.test-base=true io.pycache.base.recipe=$MKEY io.pycache.base.python=$py io.pycache.base.pip=$pip io.pycache.base.debian=$deb
CMD ["python3"]
DOCKERFILE
  log "building $PYCACHE_MULTIARCH_BASE_IMAGE (linux/amd64, linux/arm64; recipe $MKEY)"
  t=$(date +%s.%N)
  docker buildx build --progress=plain --provenance=false --sbom=false --platform linux/amd64,linux/arm64 \
    -t "$PYCACHE_MULTIARCH_BASE_IMAGE" --load "$ctx" >"$ctx/build.log" 2>&1 \
    || { tail -n 30 "$ctx/build.log" >&2; die "building $PYCACHE_MULTIARCH_BASE_IMAGE failed"; }
  for p in linux/amd64 linux/arm64; do
    arch=$(docker image inspect --platform "$p" "$PYCACHE_MULTIARCH_BASE_IMAGE" --format '{{.Architecture}}') \
      || die "$PYCACHE_MULTIARCH_BASE_IMAGE has no $p image"
    [ "$arch" = "${p#linux/}" ] || die "$PYCACHE_MULTIARCH_BASE_IMAGE for $p is $arch"
  done
  log "$PYCACHE_MULTIARCH_BASE_IMAGE on the '$ENGINE' engine: linux/amd64 and linux/arm64, Debian $deb, Python $py, in $(elapsed "$t") ($(elapsed "$T0") in all)"
  exit 0
fi

ours=absent
if docker image inspect "$PYCACHE_BASE_IMAGE" >/dev/null 2>&1; then
  ours=$(docker image inspect "$PYCACHE_BASE_IMAGE" --format '{{with .Config.Labels}}{{index . "io.pycache.test-base"}}{{end}}')
fi
if [ "$ours" != absent ] && [ "$ours" != true ]; then
  # e.g. PYCACHE_BASE_IMAGE=python:3.11-slim pulled on a machine with a registry: never overwrite it
  log "$PYCACHE_BASE_IMAGE exists and was not made by this script; using it as it is"
elif [ "$(image_key)" = "$KEY" ]; then
  log "reusing $PYCACHE_BASE_IMAGE (recipe $KEY)"
elif [ ! -s "$TAR" ] && other=$(engine_with_image); then
  log "copying $PYCACHE_BASE_IMAGE (recipe $KEY) from the '$other' engine: docker save | docker load"
  t=$(date +%s.%N)
  DOCKER_HOST="$(engine_host "$other")" docker save "$PYCACHE_BASE_IMAGE" | docker load -q >/dev/null \
    || die "docker save | docker load from the '$other' engine failed"
  log "loaded in $(elapsed "$t")"
else
  if [ -s "$TAR" ] && [ -s "$VERSIONS" ]; then
    log "reusing the rootfs tarball $TAR"
  else
    build_rootfs
  fi
  log "importing $PYCACHE_BASE_IMAGE (recipe $KEY)"
  import_image
fi

docker image inspect "$PYCACHE_BASE_IMAGE" --format \
  '{{.Id}}|{{.Size}}{{with .Config.Labels}}|{{index . "io.pycache.base.python"}}|{{index . "io.pycache.base.pip"}}|{{index . "io.pycache.base.debian"}}{{end}}' \
  | { IFS='|' read -r id size py pip deb
      log "$PYCACHE_BASE_IMAGE on the '$ENGINE' engine: id ${id:7:12}, $(docker image ls --format '{{.Size}}' "$PYCACHE_BASE_IMAGE") in the store ($((size / 1000000)) MB compressed); Debian ${deb:-?}, Python ${py:-?}, pip ${pip:-?} ($(elapsed "$T0"))"; }

[ "$VERIFY" = 1 ] || exit 0

# --- verification: a real build on the image through the engine's BuildKit (docker driver) ---
# Every step runs for real each time (a fresh VERIFY_NONCE build arg misses the layer cache), while
# the cache mounts (own ids, so other builds' caches are untouched) stay warm between runs. Not
# --no-cache: BuildKit then also hands RUN empty cache mounts, and what that build leaves replaces
# them (moby/buildkit#4250). PYCACHE_VERIFY_CACHE_ID=<a fresh name> measures a cold run.
# Here pip's cache mount saves nothing: the TLS-intercepting proxy strips Cache-Control, ETag and
# Last-Modified, so pip's HTTP cache stores no response. uv's cache (wheels by hash) does work.
CID="${PYCACHE_VERIFY_CACHE_ID:-pycache-verify}"
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cat > "$ctx/Dockerfile" <<EOF
ARG BASE
FROM \${BASE}
ARG VERIFY_NONCE
RUN python --version && pip --version && command -v useradd groupadd \\
 && grep -qx 'deb http://deb.debian.org/debian bookworm main' /etc/apt/sources.list
RUN --mount=type=cache,id=$CID-pip,target=/root/.cache/pip \\
    python3 -m venv /opt/uv && /opt/uv/bin/pip install uv==$UV_VERSION
RUN /opt/uv/bin/uv venv /tmp/v && VIRTUAL_ENV=/tmp/v /opt/uv/bin/uv pip install six && /tmp/v/bin/python -c 'import six'
RUN --mount=type=cache,id=$CID-pip,target=/root/.cache/pip pip install six && python -c 'import six'
RUN --mount=type=cache,id=$CID-apt-cache,target=/var/cache/apt,sharing=locked \\
    --mount=type=cache,id=$CID-apt-lib,target=/var/lib/apt,sharing=locked \\
    apt-get update && apt-get install -y --no-install-recommends curl
RUN curl -fsS -o /dev/null https://pypi.org/simple/six/ && useradd -m app && groupadd extra \\
 && echo "verified: \$(python --version), \$(/opt/uv/bin/uv --version), \$(curl --version | head -n1 | cut -d' ' -f1-2)"
EOF
log "verifying with docker buildx build (cache mounts $CID-*)"
t=$(date +%s.%N)
if ! docker buildx build --progress=plain --build-arg BASE="$PYCACHE_BASE_IMAGE" \
       --build-arg VERIFY_NONCE="$(date +%s%N)" --output type=cacheonly "$ctx" >"$ctx/build.log" 2>&1; then
  tail -n 40 "$ctx/build.log" >&2
  die "verification build failed"
fi
grep -o 'verified: .*' "$ctx/build.log" | tail -n1 | sed 's/^/  /' >&2 || true
# per-step durations from the plain progress log: "#7 [stage-0 4/8] RUN ..." ... "#7 DONE 3.2s"
awk '/^#[0-9]+ \[[^]]*[0-9]+\/[0-9]+\] RUN / { name[$1]=substr($0, index($0, "] RUN ") + 2, 72) }
     /^#[0-9]+ DONE / && ($1 in name) { printf "  %6s  %s\n", $3, name[$1] }' "$ctx/build.log" >&2
log "verification build passed in $(elapsed "$t")"
