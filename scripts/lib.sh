# shellcheck shell=bash disable=SC2034  # its variables are for the scripts that source it
# Shared helpers for the engine and E2E scripts: PATH to the engine we install, the private
# engines' locations, logging, version checks. Sourced, never run.
PYCACHE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYCACHE_CACHE="${PYCACHE_CACHE:-$PYCACHE_ROOT/.cache}"
ENGINE_PREFIX="${ENGINE_PREFIX:-/opt/dsid}"
export PATH="$ENGINE_PREFIX/usr/bin:$ENGINE_PREFIX/usr/sbin:$PATH"
# Images the tests use; both are built locally because no registry is reachable.
PYCACHE_BASE_IMAGE="${PYCACHE_BASE_IMAGE:-local/python:3.11-slim}"
PYCACHE_FRONTEND_IMAGE="${PYCACHE_FRONTEND_IMAGE:-local/pycache-frontend:dev}"

# The private engines (scripts/engine.sh starts them). Tests and the benchmark prune build caches,
# so they run only on dockerds of their own, never on the developer's: each has its own data root,
# exec root, socket, bridge and subnet. Fixed, machine-wide paths: every clone (a clean one in /tmp
# too) reuses an engine that is already running. Keep in step with tests/support/engine.rs and
# bench/bench.py, which refuse to prune anything else.
#   name        store                            bridge       subnet
#   containerd  containerd image store           pcb-ctd      10.213.1.0/24   (every E2E test, the benchmark)
#   classic     overlay2, no MergeOp in BuildKit pcb-classic  10.213.2.0/24
#   bench       containerd image store           pcb-bench    10.213.3.0/24   (bench/run.sh only: it prunes
#                                                                             its cache between builds)
# 10.213.0.0/16 is outside Docker's default address pools (172.17-31.0.0/16, 192.168.0.0/16),
# so it never collides with docker0 or the networks of a developer's engine.
PYCACHE_ENGINES=(containerd classic)         # the tests' engines, what scripts/setup.sh starts
PYCACHE_ALL_ENGINES=(containerd classic bench)
PYCACHE_ENGINE_LIB=/var/lib/pycache-engines   # data roots
PYCACHE_ENGINE_RUN=/run/pycache-engines       # exec roots, pid files, sockets
PYCACHE_ENGINE_ETC=/etc/pycache-engines       # daemon.json files
PYCACHE_ENGINE_LOG=/var/log/pycache-engines   # dockerd logs, with the frontend's stderr
engine_socket() { printf '%s/%s/docker.sock' "$PYCACHE_ENGINE_RUN" "$1"; }
engine_host() { printf 'unix://%s' "$(engine_socket "$1")"; }
export PYCACHE_DOCKER_HOST; PYCACHE_DOCKER_HOST="$(engine_host containerd)"
export PYCACHE_CLASSIC_DOCKER_HOST; PYCACHE_CLASSIC_DOCKER_HOST="$(engine_host classic)"
export PYCACHE_BENCH_DOCKER_HOST; PYCACHE_BENCH_DOCKER_HOST="$(engine_host bench)"

# The developer's own engine, recorded before anything here sets DOCKER_HOST; scripts/test.sh
# checks that its build cache survives the tests. Nothing else may talk to it.
if [ -z "${PYCACHE_USER_DOCKER_HOST:-}" ]; then
  case "${DOCKER_HOST:-}" in
    "$PYCACHE_DOCKER_HOST" | "$PYCACHE_CLASSIC_DOCKER_HOST" | "$PYCACHE_BENCH_DOCKER_HOST" | "") PYCACHE_USER_DOCKER_HOST=unix:///var/run/docker.sock ;;
    *) PYCACHE_USER_DOCKER_HOST="$DOCKER_HOST" ;;
  esac
  export PYCACHE_USER_DOCKER_HOST
fi
# Every docker command of these scripts goes to a private engine, even one that forgets use_engine:
# a context or a selected buildx builder could otherwise send it elsewhere.
export DOCKER_HOST="$PYCACHE_DOCKER_HOST"
unset DOCKER_CONTEXT BUILDX_BUILDER

log() { printf '[pycache %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# major version number of a "x.y.z" string
major() { printf '%s' "${1#v}" | cut -d. -f1; }
minor() { printf '%s' "${1#v}" | cut -d. -f2; }

is_engine_name() {
  local n
  for n in "${PYCACHE_ALL_ENGINES[@]}"; do [ "$n" = "$1" ] && return 0; done
  return 1
}

# Whether the dockerd answering at the private socket of engine $1 is that engine: it carries our
# label and the data root. A socket answering otherwise is never used.
engine_is_ours() {
  local info
  info=$(DOCKER_HOST="$(engine_host "$1")" docker info --format '{{json .Labels}}|{{.DockerRootDir}}' 2>/dev/null) || return 1
  [[ "$info" == *"\"io.pycache.engine=$1\""*"|$PYCACHE_ENGINE_LIB/$1" ]]
}

# The options of the scripts that work on one private engine:
#   parse_engine_args LAST_HELP_LINE [--flag=VAR ...] -- "$@"
# `--engine NAME` (or `--engine=NAME`) sets ENGINE (default: containerd); each `--flag` given sets
# its VAR to 1 (VAR starts at 0); -h/--help prints the script's comment lines 2..LAST_HELP_LINE.
parse_engine_args() {
  local help_to=$1 spec flags=() vars=() usage="--engine NAME" i known
  shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    spec=$1; flags+=("${spec%%=*}"); vars+=("${spec#*=}"); usage+=", ${spec%%=*}"
    printf -v "${spec#*=}" 0
    shift
  done
  [ $# -gt 0 ] && shift
  ENGINE=containerd
  while [ $# -gt 0 ]; do
    case "$1" in
      --engine) [ $# -ge 2 ] || die "--engine needs a name"; ENGINE="$2"; shift ;;
      --engine=*) ENGINE="${1#--engine=}" ;;
      -h|--help) sed -n "2,${help_to}p" "$0"; exit 0 ;;
      *)
        known=0
        for i in "${!flags[@]}"; do
          if [ "$1" = "${flags[$i]}" ]; then printf -v "${vars[$i]}" 1; known=1; fi
        done
        [ "$known" = 1 ] || die "unknown argument: $1 (use $usage)" ;;
    esac
    shift
  done
}

# Points DOCKER_HOST at private engine $1 (containerd, classic or bench) after checking it runs and is ours.
use_engine() {
  is_engine_name "$1" || die "unknown engine '$1' (one of: ${PYCACHE_ALL_ENGINES[*]})"
  if ! engine_is_ours "$1"; then
    local sock; sock=$(engine_socket "$1")
    if [ -S "$sock" ] && ! { [ -r "$sock" ] && [ -w "$sock" ]; }; then die "$(id -un) cannot open $sock (the private '$1' engine): run as root"; fi
    die "the private '$1' engine is not running at $sock; run scripts/engine.sh $1"
  fi
  export DOCKER_HOST; DOCKER_HOST="$(engine_host "$1")"
}
