#!/usr/bin/env bash
# Starts pycache's own Docker engines, never touching the developer's one: tests and the benchmark
# prune build caches, which must only ever happen to a dockerd of our own.
#   scripts/engine.sh                       both engines
#   scripts/engine.sh                       the tests' engines (containerd, classic)
#   scripts/engine.sh containerd            the containerd image store (every E2E test)
#   scripts/engine.sh classic               the classic store, overlay2 (no MergeOp in its BuildKit)
#   scripts/engine.sh bench                 a containerd-store engine for bench/run.sh alone
# Each engine is a dockerd from Debian sid (installed under $ENGINE_PREFIX without touching the
# host's apt sources) with its own data root, exec root, pid file, socket, bridge and subnet, and
# a label io.pycache.engine=<name>; the paths are in scripts/lib.sh. Idempotent: an engine already
# running (started by any clone) is reused; a changed daemon.json restarts it. Prints versions and
# paths. Needs Linux and root (a dockerd, a bridge, NAT rules); it never falls back to another engine.
#
# Networking, and why by hand: the developer's dockerd may own docker0 and the DOCKER-* iptables
# chains. A second dockerd that manages iptables rewrites those chains (the first engine's builds
# lose DNS), and one with "bridge": "none" deletes docker0. So ours run with "iptables": false on a
# bridge of their own, and this script adds the few rules they need, each only if missing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

NAMES=()
for a in "$@"; do
  case "$a" in
    -h|--help) sed -n '4,8p' "$0"; exit 0 ;;
    *) is_engine_name "$a" || die "unknown engine '$a' (one of: ${PYCACHE_ALL_ENGINES[*]})"; NAMES+=("$a") ;;
  esac
done
[ "${#NAMES[@]}" -gt 0 ] || NAMES=("${PYCACHE_ENGINES[@]}")

bridge_of() { case "$1" in containerd) echo pcb-ctd ;; classic) echo pcb-classic ;; bench) echo pcb-bench ;; esac; }
subnet_of() { case "$1" in containerd) echo 10.213.1.0/24 ;; classic) echo 10.213.2.0/24 ;; bench) echo 10.213.3.0/24 ;; esac; }
gateway_of() { case "$1" in containerd) echo 10.213.1.1/24 ;; classic) echo 10.213.2.1/24 ;; bench) echo 10.213.3.1/24 ;; esac; }
# For networks someone creates on our engine: never from Docker's default pools.
pool_of() { case "$1" in containerd) echo 10.213.64.0/20 ;; classic) echo 10.213.80.0/20 ;; bench) echo 10.213.96.0/20 ;; esac; }
snapshotter_of() { case "$1" in containerd | bench) echo true ;; classic) echo false ;; esac; }

need_root() {
  [ "$(uname -s)" = Linux ] || die "the private engines need Linux (dockerd, a bridge, iptables); this is $(uname -s)"
  [ "$(id -u)" = 0 ] || die "starting the private '$1' engine needs root (its own dockerd, bridge $(bridge_of "$1") and NAT rules): run scripts/engine.sh $1 as root once; later runs as any user that can open $(engine_socket "$1") reuse it"
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
  if ! command -v runc >/dev/null || ! command -v iptables >/dev/null || ! command -v ip >/dev/null; then
    log "installing runc, iptables and iproute2 from the host's apt"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runc iptables iproute2 >/dev/null
  fi
  mkdir -p "$HOME/.docker/cli-plugins"
  ln -sf "$ENGINE_PREFIX/usr/libexec/docker/cli-plugins/docker-buildx" "$HOME/.docker/cli-plugins/docker-buildx"
}

# iptables rule $2… in table $1, appended unless it is there already. Appended, not inserted: in
# FORWARD the developer's engine's chains come first and keep docker0 isolated from our bridges.
ensure_rule() {
  local table="$1"; shift
  iptables -t "$table" -C "$@" 2>/dev/null && return 0
  iptables -t "$table" -A "$@"
  log "iptables -t $table -A $*"
}

ensure_network() {
  local br subnet gw
  br=$(bridge_of "$1"); subnet=$(subnet_of "$1"); gw=$(gateway_of "$1")
  if ! ip link show "$br" >/dev/null 2>&1; then
    ip link add "$br" type bridge
    log "created bridge $br"
  fi
  ip -4 addr show dev "$br" | grep -qF "inet $gw " || { ip addr add "$gw" dev "$br"; log "bridge $br: $gw"; }
  ip link set "$br" up
  # Routing for the builds' RUN steps (Docker does the same for docker0).
  if [ "$(cat /proc/sys/net/ipv4/ip_forward)" != 1 ]; then
    echo 1 > /proc/sys/net/ipv4/ip_forward
    log "enabled net.ipv4.ip_forward"
  fi
  ensure_rule nat POSTROUTING -s "$subnet" ! -o "$br" -j MASQUERADE
  ensure_rule filter FORWARD -i "$br" -j ACCEPT
  ensure_rule filter FORWARD -o "$br" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
}

config_of() {
  local run="$PYCACHE_ENGINE_RUN/$1"
  cat <<EOF
{
  "data-root": "$PYCACHE_ENGINE_LIB/$1",
  "exec-root": "$run/exec",
  "pidfile": "$run/docker.pid",
  "hosts": ["unix://$run/docker.sock"],
  "bridge": "$(bridge_of "$1")",
  "iptables": false,
  "ip6tables": false,
  "ip-masq": false,
  "default-address-pools": [{"base": "$(pool_of "$1")", "size": 24}],
  "labels": ["io.pycache.engine=$1"],
  "features": {"containerd-snapshotter": $(snapshotter_of "$1")}
}
EOF
}

stop_engine() {
  local pidfile="$PYCACHE_ENGINE_RUN/$1/docker.pid" pid
  pid=$(cat "$pidfile" 2>/dev/null) || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  log "stopping the '$1' engine (pid $pid) to apply its new daemon.json"
  kill "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  die "dockerd $pid did not stop within 30 s"
}

start_engine() {
  local conf="$PYCACHE_ENGINE_ETC/$1.json" logf="$PYCACHE_ENGINE_LOG/$1.log"
  log "starting the '$1' engine: dockerd --config-file $conf (log: $logf)"
  # Its own session: the engine is machine-wide and must outlive the script that started it.
  # Not the lock (fd 8): dockerd would hold it for its whole life. DOCKER_HOST is the clients'.
  env -u DOCKER_HOST setsid nohup "$ENGINE_PREFIX/usr/sbin/dockerd" --config-file "$conf" >>"$logf" 2>&1 </dev/null 8>&- &
  for _ in $(seq 1 60); do
    engine_is_ours "$1" && return 0
    sleep 1
  done
  tail -n 30 "$logf" >&2 || true
  die "the '$1' engine did not come up within 60 s"
}

# Sets VERSIONS to a line for the log; dies unless Engine >= 25 and buildx >= 0.13.
check_versions() {
  local v server bx ctd client
  v=$(docker version --format '{{.Server.Version}}|{{range .Server.Components}}{{if eq .Name "containerd"}}{{.Version}}{{end}}{{end}}|{{.Client.Version}}')
  server=${v%%|*}
  bx=$(docker buildx version | awk '{print $2}')
  [ "$(major "$server")" -ge 25 ] || die "engine $server is older than 25"
  if [ "$(major "$bx")" -eq 0 ] && [ "$(minor "$bx")" -lt 13 ]; then die "buildx $bx is older than 0.13"; fi
  IFS='|' read -r server ctd client <<<"$v"
  VERSIONS="Docker $server, containerd $ctd, client $client, buildx $bx"
}

ensure_engine() {
  local name="$1" conf="$PYCACHE_ENGINE_ETC/$1.json" want
  want=$(config_of "$name")
  if [ "$(id -u)" != 0 ] && engine_is_ours "$name" && [ "$(cat "$conf" 2>/dev/null)" = "$want" ]; then
    log "'$name' engine: running; not root, so its bridge and NAT rules are not re-checked"
  else
    need_root "$name"
    mkdir -p "$PYCACHE_ENGINE_LIB/$name" "$PYCACHE_ENGINE_RUN/$name" "$PYCACHE_ENGINE_ETC" "$PYCACHE_ENGINE_LOG"
    # One starter at a time: tests and clones may set up concurrently.
    exec 8>"$PYCACHE_ENGINE_RUN/$name.lock"
    flock 8
    ensure_network "$name"
    if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
      engine_is_ours "$name" && stop_engine "$name"
      printf '%s\n' "$want" > "$conf"
    fi
    if engine_is_ours "$name"; then log "'$name' engine: reusing the running dockerd"; else start_engine "$name"; fi
    exec 8>&-
  fi
  use_engine "$name"
  check_versions
  local info store
  info=$(docker info --format '{{.Driver}}{{range .DriverStatus}} {{index . 0}}={{index . 1}}{{end}}')
  case "$(snapshotter_of "$name"):$info" in
    true:*io.containerd.snapshotter*) store="containerd image store (${info%% *})" ;;
    false:overlay2*) store="classic image store (overlay2)" ;;
    *) die "the '$name' engine has the wrong image store: $info" ;;
  esac
  log "'$name' engine: $VERSIONS; $store"
  log "'$name' engine: DOCKER_HOST=$DOCKER_HOST, data root $PYCACHE_ENGINE_LIB/$name, exec root $PYCACHE_ENGINE_RUN/$name/exec, pid $(cat "$PYCACHE_ENGINE_RUN/$name/docker.pid" 2>/dev/null || echo ?), bridge $(bridge_of "$name") $(subnet_of "$name"), config $conf, log $PYCACHE_ENGINE_LOG/$name.log"
}

[ "$(uname -s)" = Linux ] || die "the private engines need Linux (dockerd, a bridge, iptables); this is $(uname -s)"
if [ ! -x "$ENGINE_PREFIX/usr/sbin/dockerd" ] || [ ! -x "$HOME/.docker/cli-plugins/docker-buildx" ] \
   || ! command -v runc >/dev/null || ! command -v iptables >/dev/null || ! command -v ip >/dev/null; then
  need_root "${NAMES[0]}"
  install_engine
fi
for name in "${NAMES[@]}"; do ensure_engine "$name"; done
