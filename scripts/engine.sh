#!/usr/bin/env bash
# Makes sure a Docker Engine with BuildKit and buildx is running, new enough for pycache:
# Engine >= 25 and buildx >= 0.13 (>= 0.29 recommended for `--call`). Uses a running engine when it
# qualifies; otherwise installs Docker + buildx + containerd from Debian sid into $ENGINE_PREFIX
# (without touching the host's apt sources) and starts dockerd with the containerd image store.
# Idempotent: a second run reuses what is installed and running. Prints the versions it got.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

engine_ok() {
  local v bx
  v=$(docker version --format '{{.Server.Version}}' 2>/dev/null) || return 1
  bx=$(docker buildx version 2>/dev/null | awk '{print $2}') || return 1
  [ -n "$v" ] && [ -n "$bx" ] || return 1
  [ "$(major "$v")" -ge 25 ] || { log "engine $v is older than 25"; return 1; }
  if [ "$(major "$bx")" -eq 0 ] && [ "$(minor "$bx")" -lt 13 ]; then log "buildx $bx is older than 0.13"; return 1; fi
  return 0
}

install_engine() {
  local debs="$PYCACHE_CACHE/engine-debs" lists="$PYCACHE_CACHE/sid-lists"
  mkdir -p "$debs" "$lists/partial"
  if ! ls "$debs"/docker.io_*.deb >/dev/null 2>&1 || ! ls "$debs"/docker-buildx_*.deb >/dev/null 2>&1; then
    log "downloading Docker, buildx and containerd from Debian sid"
    echo 'deb http://deb.debian.org/debian sid main' > "$PYCACHE_CACHE/sid.list"
    local A=(-o "Dir::Etc::sourcelist=$PYCACHE_CACHE/sid.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$lists")
    apt-get "${A[@]}" update -qq
    (cd "$debs" && apt-get "${A[@]}" download docker.io docker-cli docker-buildx containerd tini-static)
  fi
  for f in "$debs"/*.deb; do dpkg -x "$f" "$ENGINE_PREFIX"; done
  if ! command -v runc >/dev/null || ! command -v iptables >/dev/null; then
    log "installing runc and iptables from the host's apt"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runc iptables >/dev/null
  fi
  mkdir -p "$HOME/.docker/cli-plugins"
  ln -sf "$ENGINE_PREFIX/usr/libexec/docker/cli-plugins/docker-buildx" "$HOME/.docker/cli-plugins/docker-buildx"
}

start_engine() {
  local conf=/etc/docker-pycache.json
  echo '{"features":{"containerd-snapshotter":true}}' > "$conf"
  log "starting dockerd (log: /tmp/dockerd-pycache.log)"
  nohup "$ENGINE_PREFIX/usr/sbin/dockerd" --config-file "$conf" >/tmp/dockerd-pycache.log 2>&1 &
  echo $! > /tmp/dockerd-pycache.pid
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  tail -n 30 /tmp/dockerd-pycache.log >&2 || true
  die "dockerd did not come up within 60 s"
}

if engine_ok; then
  log "using the running engine"
else
  [ -x "$ENGINE_PREFIX/usr/sbin/dockerd" ] && [ -x "$HOME/.docker/cli-plugins/docker-buildx" ] || install_engine
  docker info >/dev/null 2>&1 || start_engine
  engine_ok || die "the engine is running but too old; see the versions above"
fi
log "engine $(docker version --format '{{.Server.Version}}'), client $(docker version --format '{{.Client.Version}}'), $(docker buildx version), containerd $(containerd --version 2>/dev/null | awk '{print $3}')"
docker info --format '{{.DriverStatus}}' | grep -q 'io.containerd.snapshotter' \
  || log "warning: the containerd image store is off; local/registry cache exports need it"
