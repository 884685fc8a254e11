#!/usr/bin/env bash
# Proves that the tests leave the developer's own engine alone ($PYCACHE_USER_DOCKER_HOST: the
# DOCKER_HOST the scripts were started with, else /var/run/docker.sock). The tests and the
# benchmark prune build caches, and may do so only on the private engines (scripts/engine.sh).
#   scripts/user-cache.sh record DIR   before the tests: a marker build, and the engine's cache records
#   scripts/user-cache.sh verify DIR   after them: the marker must still be cached, no record gone
# The marker is a FROM scratch + COPY build exported to nowhere (--output type=cacheonly): a few
# bytes of cache, from a fixed context, so repeated runs reuse one record. With no engine there,
# both steps say so and succeed: there is no cache to lose.
set -euo pipefail
export LC_ALL=C   # one collation for sort and join
source "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || die "usage: scripts/user-cache.sh record|verify DIR"
MODE="$1" STATE="$2"
case "$PYCACHE_USER_DOCKER_HOST" in
  "$PYCACHE_DOCKER_HOST" | "$PYCACHE_CLASSIC_DOCKER_HOST") die "PYCACHE_USER_DOCKER_HOST names a private engine" ;;
esac
export DOCKER_HOST="$PYCACHE_USER_DOCKER_HOST"
mkdir -p "$STATE"

if [ "$MODE" = verify ] && [ "$(cat "$STATE/skipped" 2>/dev/null)" != "" ]; then
  log "developer's build cache: check SKIPPED: $(cat "$STATE/skipped")"
  exit 0
fi
skip() {
  printf '%s\n' "$*" > "$STATE/skipped"
  log "developer's build cache: check SKIPPED: $*"
  exit 0
}

if [ "$MODE" = record ]; then
  rm -f "$STATE/skipped"
  docker info >/dev/null 2>&1 || skip "no engine answers at $DOCKER_HOST"
  docker buildx version >/dev/null 2>&1 || skip "no docker buildx for the engine at $DOCKER_HOST"
fi

ctx="$PYCACHE_CACHE/user-cache-marker"
mkdir -p "$ctx"
printf 'pycache: this build cache record must survive scripts/test.sh\n' > "$ctx/marker"
printf 'FROM scratch\nCOPY marker /pycache-marker\n' > "$ctx/Dockerfile"
marker_build() {
  docker buildx build --progress=rawjson --output type=cacheonly "$ctx" 2>"$STATE/marker-$MODE.log" \
    || { tail -n 20 "$STATE/marker-$MODE.log" >&2; die "the marker build on $DOCKER_HOST failed"; }
}
# One line per record: id|type|mutable|reclaimable|"description".
records() { docker buildx du --format '{{.ID}}|{{.Type}}|{{.Mutable}}|{{.Reclaimable}}|{{json .Description}}' | sort -u; }
# Records that only a prune or the engine's GC removes. Not: the mutable scratch of a step that
# another build is running (committing it replaces the record), nor records in use right now.
settled() { awk -F'|' '!($2 == "regular" && $3 == "true") && $4 == "true"' "$1"; }
total() { docker buildx du | awk '/^Total:/ { print $2 }'; }

case "$MODE" in
  record)
    marker_build
    records > "$STATE/records.before"
    log "developer's build cache at $DOCKER_HOST: $(wc -l < "$STATE/records.before") records, $(total) (recorded before the tests)"
    ;;
  verify)
    # The marker first: its rebuild must be a cache hit, which it cannot be after a prune.
    marker_build
    grep -F '"name":"[1/1] COPY marker /pycache-marker"' "$STATE/marker-verify.log" | grep -qF '"cached":true' \
      || die "the developer's build cache at $DOCKER_HOST lost the marker record: something pruned it during the tests"
    records > "$STATE/records.after"
    cut -d'|' -f1 "$STATE/records.after" | sort > "$STATE/ids.after"
    settled "$STATE/records.before" | sort -t'|' -k1,1 > "$STATE/settled.before"
    missing=$(join -t'|' -v1 "$STATE/settled.before" "$STATE/ids.after")
    if [ -n "$missing" ]; then
      die "the developer's build cache at $DOCKER_HOST lost $(wc -l <<<"$missing") record(s) during the tests (a prune, or that engine's own GC): $(cut -d'|' -f1,2,5 <<<"$missing" | tr '\n' ' ')"
    fi
    log "developer's build cache at $DOCKER_HOST: marker cached, all $(wc -l < "$STATE/settled.before") settled records of $(wc -l < "$STATE/records.before") kept; now $(wc -l < "$STATE/records.after") records, $(total)"
    ;;
  *) die "usage: scripts/user-cache.sh record|verify DIR" ;;
esac
