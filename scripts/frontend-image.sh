#!/usr/bin/env bash
# Builds the pycache frontend image $PYCACHE_FRONTEND_IMAGE (default local/pycache-frontend:dev)
# without a registry: a static binary built on the host, copied into a FROM scratch image by
# scripts/frontend-local.Dockerfile. Tests then name it in `# syntax=local/pycache-frontend:dev`
# (or BUILDKIT_SYNTAX), which the docker driver resolves from the local image store.
# /frontend.Dockerfile is the same image built in a Rust container, for machines with a registry.
#
# Runs every time: cargo rebuilds only what changed and Docker's build cache turns an unchanged
# binary into the same image id, so a second run takes a couple of seconds.
#   scripts/frontend-image.sh                    into the private containerd engine (see lib.sh)
#   scripts/frontend-image.sh --engine classic   into that one
set -euo pipefail
source "$(dirname "$0")/lib.sh"

parse_engine_args 11 -- "$@"

# Frontend capabilities the image declares (label moby.buildkit.frontend.caps). Declare only what
# the binary implements: BuildKit refuses a build whose client asks for a cap the image lacks
# (buildx asks for .contexts with --build-context, .subrequests with --call/--check, .inputs when
# it passes frontend inputs) with a clear "unsupported frontend capability" error, whereas a cap
# declared but not implemented makes the frontend silently ignore what the user asked for.
# Keep in step with the default in /frontend.Dockerfile (checked below).
CAPS="moby.buildkit.frontend.contexts,moby.buildkit.frontend.subrequests"

TARGET=x86_64-unknown-linux-gnu
BIN="${CARGO_TARGET_DIR:-$PYCACHE_ROOT/target}/$TARGET/release/pycache"
DOCKERFILE="$PYCACHE_ROOT/scripts/frontend-local.Dockerfile"

T0=$(date +%s.%N)
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }'; }

command -v cargo >/dev/null || die "cargo is not on PATH"
use_engine "$ENGINE"

# 1. The static binary. --target keeps RUSTFLAGS off build scripts and proc macros (which must stay
#    dynamic) and puts the artefacts in their own directory, away from ordinary builds.
log "cargo build --release --target $TARGET --bin pycache (crt-static); $(rustc --version)"
t=$(date +%s.%N)
(cd "$PYCACHE_ROOT" && RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-C target-feature=+crt-static" \
  cargo build --quiet --release --target "$TARGET" --bin pycache) || die "cargo build failed"
log "cargo done in $(elapsed "$t")"
[ -x "$BIN" ] || die "no binary at $BIN"
if ldd_out=$(ldd "$BIN" 2>&1); then
  grep -qE 'statically linked|not a dynamic executable' <<<"$ldd_out" || die "$BIN is dynamically linked: $ldd_out"
fi
if command -v file >/dev/null; then
  file_out=$(file -b "$BIN")
  grep -q 'static' <<<"$file_out" || die "$BIN is not static: $file_out"
else
  file_out="(file(1) not installed)"
fi
log "binary $(du -h "$BIN" | cut -f1), sha256 $(sha256sum "$BIN" | cut -c1-12): ${file_out%%, BuildID*}; ldd: $(tr -d '\t' <<<"$ldd_out")"

# 2. The image, from a context holding only the binary.
pub_caps=$(sed -n 's/^ARG PYCACHE_FRONTEND_CAPS=//p' "$PYCACHE_ROOT/frontend.Dockerfile" 2>/dev/null | tr -d '"' || true)
[ -z "$pub_caps" ] || [ "$pub_caps" = "$CAPS" ] \
  || log "warning: frontend.Dockerfile declares caps '$pub_caps', this script '$CAPS'; keep them in step"
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp -p "$BIN" "$ctx/pycache"
old_id=$(docker image inspect "$PYCACHE_FRONTEND_IMAGE" --format '{{.Id}}' 2>/dev/null || true)
t=$(date +%s.%N)
# No provenance/SBOM attestations, and the binary's mtime as SOURCE_DATE_EPOCH: an unchanged binary
# gives the same image id on every run.
if ! docker buildx build --progress=plain --provenance=false --sbom=false \
       -f "$DOCKERFILE" \
       --build-arg PYCACHE_FRONTEND_CAPS="$CAPS" \
       --build-arg SOURCE_DATE_EPOCH="$(stat -c %Y "$BIN")" \
       -t "$PYCACHE_FRONTEND_IMAGE" "$ctx" >"$ctx/build.log" 2>&1; then
  tail -n 30 "$ctx/build.log" >&2
  die "docker buildx build of $PYCACHE_FRONTEND_IMAGE failed"
fi
new_id=$(docker image inspect "$PYCACHE_FRONTEND_IMAGE" --format '{{.Id}}')
if [ "$new_id" = "$old_id" ]; then what="unchanged (same binary, cached)"; else what="built"; fi
log "image $what in $(elapsed "$t")"

docker image inspect "$PYCACHE_FRONTEND_IMAGE" --format '{{.Id}} {{.Size}} {{json .Config.Entrypoint}} {{.Config.User}}' \
  | { read -r id size ep user
      log "$PYCACHE_FRONTEND_IMAGE on the '$ENGINE' engine: id $id, $(docker image ls --format '{{.Size}}' "$PYCACHE_FRONTEND_IMAGE") in the store ($((size / 1000)) kB compressed), entrypoint $ep, user $user"; }
log "caps: $(docker image inspect "$PYCACHE_FRONTEND_IMAGE" --format '{{index .Config.Labels "moby.buildkit.frontend.caps"}}'); network.none=$(docker image inspect "$PYCACHE_FRONTEND_IMAGE" --format '{{index .Config.Labels "moby.buildkit.frontend.network.none"}}')"
log "pycache $(sed -n 's/^version *= *"\(.*\)"/\1/p' "$PYCACHE_ROOT/Cargo.toml" | head -n1) frontend image ready ($(elapsed "$T0"))"
