#!/usr/bin/env bash
# Starts a local container registry on 127.0.0.1:5000 for the tests and benchmarks that need one
# (type=registry cache export/import, a frontend image named by `# syntax=127.0.0.1:5000/...`):
# Debian's docker-registry (distribution 2.8), no auth, storage of its own under
# $PYCACHE_ENGINE_LIB/registry. Both private engines reach it: BuildKit treats 127.0.0.1 as an
# insecure (plain http) registry by default. Idempotent: a registry already answering is reused.
#   scripts/registry.sh           start it (installs docker-registry with apt-get if missing)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ADDR=127.0.0.1:5000
ROOT="$PYCACHE_ENGINE_LIB/registry"
CONF="$PYCACHE_ENGINE_ETC/registry.yml"
LOG="$PYCACHE_ENGINE_LOG/registry.log"

answers() { curl -fsS -m 2 "http://$ADDR/v2/" >/dev/null 2>&1; }

if answers; then
  log "registry: reusing the one answering at http://$ADDR"
  exit 0
fi
[ "$(uname -s)" = Linux ] && [ "$(id -u)" = 0 ] || die "starting the local registry needs Linux and root"
if ! command -v docker-registry >/dev/null; then
  log "registry: installing Debian's docker-registry"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq docker-registry >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq docker-registry >/dev/null; }
  # The package starts its own service with htpasswd auth on :5000: not ours, stop it.
  systemctl stop docker-registry >/dev/null 2>&1 || service docker-registry stop >/dev/null 2>&1 || true
  pkill -x docker-registry 2>/dev/null || true
fi
mkdir -p "$ROOT" "$(dirname "$CONF")" "$(dirname "$LOG")"
cat > "$CONF" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $ROOT
  delete:
    enabled: true
http:
  addr: $ADDR
YML
nohup docker-registry serve "$CONF" >"$LOG" 2>&1 &
for _ in $(seq 1 50); do
  answers && { log "registry: $(docker-registry --version 2>/dev/null | awk '{print $NF}') at http://$ADDR, storage $ROOT"; exit 0; }
  sleep 0.2
done
tail -n 20 "$LOG" >&2 || true
die "the registry did not answer at http://$ADDR"
