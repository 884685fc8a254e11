#!/usr/bin/env bash
# A password-protected package index for the private-index E2E test (tests/secrets.rs):
# pypiserver with an htpasswd file, installed from PyPI into a venv under $PYCACHE_CACHE.
#
#   scripts/pypiserver.sh download DIR REQ...             wheels of REQ... from PyPI into DIR (kept there)
#   scripts/pypiserver.sh htpasswd FILE USER              FILE with USER and the password read from stdin
#   scripts/pypiserver.sh serve DIR HTPASSWD ADDR PORT    serves DIR at http://ADDR:PORT/simple; every request needs the login
#
# `serve` execs the server, so the caller's child is the server and stops with it. Build steps
# run on the engine's bridge (scripts/engine.sh: pcb-ctd, 10.213.1.0/24): the host is 10.213.1.1
# there, not 127.0.0.1 (the build container's own loopback), so the test serves on 10.213.1.1,
# which only this host and the engine's containers reach.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
PYPISERVER_VERSION=2.4.2
PASSLIB_VERSION=1.7.4
venv="$PYCACHE_CACHE/pypiserver"

ensure_venv() {
  if [ -x "$venv/bin/pypi-server" ] && "$venv/bin/python" -c 'import passlib' 2>/dev/null \
     && [ "$("$venv/bin/python" -c 'import pypiserver; print(pypiserver.__version__)')" = "$PYPISERVER_VERSION" ]; then
    return
  fi
  log "installing pypiserver $PYPISERVER_VERSION and passlib $PASSLIB_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "pypiserver==$PYPISERVER_VERSION" "passlib==$PASSLIB_VERSION" >&2
}

cmd="${1:-}"; shift || true
case "$cmd" in
  download)
    [ $# -ge 2 ] || die "usage: $0 download DIR REQ..."
    dir="$1"; shift
    ensure_venv
    mkdir -p "$dir"
    "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: -d "$dir" "$@" >&2
    ;;
  htpasswd)
    [ $# -eq 2 ] || die "usage: $0 htpasswd FILE USER (password on stdin)"
    ensure_venv
    "$venv/bin/python" -c '
import sys
from passlib.apache import HtpasswdFile
password = sys.stdin.read().rstrip("\n")
ht = HtpasswdFile(sys.argv[1], new=True)
ht.set_password(sys.argv[2], password)
ht.save()
' "$1" "$2"
    ;;
  serve)
    [ $# -eq 4 ] || die "usage: $0 serve DIR HTPASSWD ADDR PORT"
    ensure_venv
    # -a: listing and downloading need the login too (pypiserver asks for it only on upload by default);
    # -v: log each request (the test checks that the wheels came from here).
    exec "$venv/bin/pypi-server" run -v -i "$3" -p "$4" -P "$2" -a list,download,update "$1"
    ;;
  *) die "usage: $0 download|htpasswd|serve …" ;;
esac
