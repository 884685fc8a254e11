#!/usr/bin/env bash
# Builds the pycache frontend image, then the demo uv project (testdata/uv-minimal, a console
# script that uses six) through it with `docker buildx build -f examples/demo/pycache.toml`: the
# recipe's `# syntax=pycache-frontend:demo` line selects the frontend. Then runs the image.
#
# Two paths, chosen by what this machine can reach (`--plan` says which and why, runs nothing):
#   registry  Docker answers and Docker Hub is reachable (Docker Desktop, Docker Engine on any
#             Linux): the official python:3.12-slim base, and the frontend image built from
#             frontend.Dockerfile on a builder of its own (`pycache-demo`, docker-container
#             driver; `docker buildx rm pycache-demo` removes it and its Rust build cache), loaded
#             into your engine. The demo is built by your engine's own builder (the docker driver
#             resolves `# syntax=` from the image store): a few MB of build cache; nothing is pruned.
#   local     no registry, Debian and root (this project's CI): pycache's own engines and a
#             python base image made with mmdebstrap and the host's CA bundle (scripts/setup.sh);
#             your Docker engine, if any, is not used.
#
#   scripts/demo.sh                     choose, build, run
#   scripts/demo.sh --plan              print the choice, the reason and the commands
#   scripts/demo.sh --path registry|local   skip the choice
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

# The user's Docker, as their shell sees it, before lib.sh points DOCKER_HOST at pycache's own
# engines: the registry path talks to it, the local path never does.
user_docker_host="${DOCKER_HOST:-}"
user_docker_context="${DOCKER_CONTEXT:-}"
user_buildx_builder="${BUILDX_BUILDER:-}"
user_docker() {
  local env=(${DEMO_TIMEOUT:+timeout "$DEMO_TIMEOUT"} env -u DOCKER_HOST -u DOCKER_CONTEXT -u BUILDX_BUILDER)
  [ -n "$user_docker_host" ] && env+=("DOCKER_HOST=$user_docker_host")
  [ -n "$user_docker_context" ] && env+=("DOCKER_CONTEXT=$user_docker_context")
  [ -n "$user_buildx_builder" ] && env+=("BUILDX_BUILDER=$user_buildx_builder")
  "${env[@]}" docker "$@"
}

source "$here/lib.sh"

DEMO_RECIPE="$root/examples/demo/pycache.toml"
DEMO_CONTEXT="$root/testdata/uv-minimal"
DEMO_FRONTEND="pycache-frontend:demo"   # the recipe's `# syntax=` line
DEMO_TAG="pycache-demo"
DEMO_BUILDER="pycache-demo"
REGISTRY_BASE="python:3.12-slim"

PLAN=0
FORCED=""
while [ $# -gt 0 ]; do
  case "$1" in
    --plan) PLAN=1 ;;
    --path) shift; FORCED="${1:-}"
            case "$FORCED" in registry|local) ;; *) die "--path takes registry or local, not '${FORCED}'" ;; esac ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done

# The probes, each yes or no. PYCACHE_DEMO_PROBES="docker=yes hub=no local=yes" replaces them
# (tests/demo.rs checks the choice for every combination without the machines it stands for).
probe_docker() { user_docker info --format '{{.ServerVersion}}' >/dev/null 2>&1; }
probe_hub() { DEMO_TIMEOUT=30 user_docker buildx imagetools inspect "$REGISTRY_BASE" >/dev/null 2>&1; }
probe_local() { [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ] && command -v apt-get >/dev/null; }
probe() {
  local name="$1" fake="${PYCACHE_DEMO_PROBES:-}"
  if [ -n "$fake" ]; then
    local v; v=$(tr ' ' '\n' <<<"$fake" | sed -n "s/^$name=//p")
    case "$v" in yes|no) echo "$v"; return ;; *) die "PYCACHE_DEMO_PROBES lacks $name=yes|no: '$fake'" ;; esac
  fi
  if "probe_$name"; then echo yes; else echo no; fi
}

# choose DOCKER HUB LOCAL: prints "<path> <reason>"; the path is registry, local or none.
choose() {
  local docker="$1" hub="$2" local_ok="$3"
  if [ "$docker" = yes ] && [ "$hub" = yes ]; then
    echo "registry Docker answers and Docker Hub is reachable: official $REGISTRY_BASE, frontend image from frontend.Dockerfile"
  elif [ "$local_ok" = yes ]; then
    if [ "$docker" = yes ]; then
      echo "local Docker Hub is not reachable; Debian and root: pycache's own engines and a local base image"
    else
      echo "local no Docker engine answers; Debian and root: pycache's own engines and a local base image"
    fi
  else
    local why=()
    [ "$docker" = yes ] || why+=("no Docker engine answers (start Docker Desktop or dockerd, or set DOCKER_HOST)")
    [ "$hub" = yes ] || why+=("Docker Hub is not reachable (docker buildx imagetools inspect $REGISTRY_BASE failed)")
    why+=("the local path needs Debian and root")
    local joined; joined=$(printf '%s; ' "${why[@]}")
    echo "none ${joined%; }"
  fi
}

if [ -n "$FORCED" ]; then
  path="$FORCED"; reason="--path $FORCED"
else
  read -r path reason <<<"$(choose "$(probe docker)" "$(probe hub)" "$(probe local)")"
fi

registry_commands() {
  cat <<EOF
docker buildx inspect $DEMO_BUILDER >/dev/null 2>&1 || docker buildx create --name $DEMO_BUILDER --driver docker-container
docker buildx build --builder $DEMO_BUILDER --load -f $root/frontend.Dockerfile -t $DEMO_FRONTEND $root
docker buildx build --builder \$(docker context show) --build-arg BASE=$REGISTRY_BASE -f $DEMO_RECIPE -t $DEMO_TAG $DEMO_CONTEXT
docker run --rm $DEMO_TAG
EOF
}
local_commands() {
  cat <<EOF
$here/setup.sh
DOCKER_HOST=$PYCACHE_DOCKER_HOST docker tag $PYCACHE_FRONTEND_IMAGE $DEMO_FRONTEND
DOCKER_HOST=$PYCACHE_DOCKER_HOST docker buildx build --build-arg BASE=$PYCACHE_BASE_IMAGE -f $DEMO_RECIPE -t $DEMO_TAG $DEMO_CONTEXT
DOCKER_HOST=$PYCACHE_DOCKER_HOST docker run --rm $DEMO_TAG
EOF
}

log "demo path: $path ($reason)"
if [ "$PLAN" = 1 ]; then
  case "$path" in
    registry) registry_commands ;;
    local) local_commands ;;
    *) die "this machine can run neither path of the demo: $reason" ;;
  esac
  exit 0
fi

case "$path" in
  registry)
    if ! user_docker buildx inspect "$DEMO_BUILDER" >/dev/null 2>&1; then
      log "docker buildx create --name $DEMO_BUILDER --driver docker-container"
      user_docker buildx create --name "$DEMO_BUILDER" --driver docker-container >/dev/null
    fi
    log "building the frontend image $DEMO_FRONTEND from frontend.Dockerfile (the first time compiles pycache: a few minutes)"
    user_docker buildx build --builder "$DEMO_BUILDER" --load -f "$root/frontend.Dockerfile" -t "$DEMO_FRONTEND" "$root"
    # The docker driver's builder is named after the context: it sees the image just loaded.
    builder=$(user_docker context show)
    log "docker buildx build --builder $builder --build-arg BASE=$REGISTRY_BASE -f examples/demo/pycache.toml -t $DEMO_TAG testdata/uv-minimal"
    user_docker buildx build --builder "$builder" --build-arg "BASE=$REGISTRY_BASE" \
      -f "$DEMO_RECIPE" -t "$DEMO_TAG" "$DEMO_CONTEXT"
    log "docker run --rm $DEMO_TAG"
    user_docker run --rm "$DEMO_TAG"
    ;;
  local)
    "$here/setup.sh"
    use_engine containerd
    docker tag "$PYCACHE_FRONTEND_IMAGE" "$DEMO_FRONTEND"
    log "DOCKER_HOST=$DOCKER_HOST docker buildx build --build-arg BASE=$PYCACHE_BASE_IMAGE -f examples/demo/pycache.toml -t $DEMO_TAG testdata/uv-minimal"
    docker buildx build --provenance=false --build-arg "BASE=$PYCACHE_BASE_IMAGE" \
      -f "$DEMO_RECIPE" -t "$DEMO_TAG" "$DEMO_CONTEXT"
    log "DOCKER_HOST=$DOCKER_HOST docker run --rm $DEMO_TAG"
    docker run --rm "$DEMO_TAG"
    ;;
  *)
    die "this machine can run neither path of the demo: $reason"
    ;;
esac
