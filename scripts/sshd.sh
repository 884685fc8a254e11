#!/usr/bin/env bash
# A private git server over SSH for the `--ssh` E2E test (tests/ssh.rs): Debian's sshd, run
# unprivileged as a user `git` on a high port, serving bare repositories as
# ssh://git@ADDR:PORT/<dir>/<name>.git to one throwaway key.
#
#   scripts/sshd.sh install                      sshd under $PYCACHE_CACHE/sshd, and the system user `git`
#   scripts/sshd.sh repo DIR                     DIR/sshpkg.git: a bare repo of a tiny package; prints its commit
#   scripts/sshd.sh serve WORK ADDR PORT PUBKEY  sshd on ADDR:PORT, login as git with PUBKEY's key only;
#                                                its host key is WORK/host_ed25519.pub (made if absent)
#
# Nothing is installed as a service: openssh-server is downloaded and unpacked (dpkg -x), never
# configured, so no sshd starts on port 22. sshd runs as `git` itself, so it needs no privilege
# separation user and can log in only `git`, with `restrict` (no shell, pty or forwarding beyond
# the git command). `serve` execs sshd in the foreground: the caller's child is the server and
# stops with it. Build steps reach the host at 10.213.1.1, the containerd engine's bridge
# (scripts/engine.sh), so the test serves there.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
dir="$PYCACHE_CACHE/sshd"
sshd="$dir/usr/sbin/sshd"

ensure_user() {
  if ! getent passwd git >/dev/null; then
    log "creating the system user git (no password, no home) for the test's git server"
    # `*`, not useradd's `!`: sshd refuses keys of locked accounts.
    useradd --system --no-create-home --home-dir /nonexistent --shell /bin/sh --password '*' git
  fi
}

install_sshd() {
  ensure_user
  if [ -x "$sshd" ] && with_libs "$sshd" -V 2>/dev/null; then
    return
  fi
  log "downloading Debian's openssh-server into $dir (unpacked, not installed)"
  command -v ssh-keygen >/dev/null || apt-get install -y -qq openssh-client >&2
  local tmp; tmp="$(mktemp -d)"
  (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root openssh-server >&2)
  # libwrap0 is a dependency of Debian's sshd that bookworm's minimal systems lack.
  if ! ldconfig -p | grep -q 'libwrap\.so\.0'; then
    (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root libwrap0 >&2)
  fi
  mkdir -p "$dir"
  for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$dir"; done
  rm -rf "$tmp"
  with_libs "$sshd" -V 2>&1 | head -n 1 >&2
  with_libs "$sshd" -V 2>/dev/null || die "$sshd does not run: $(with_libs ldd "$sshd" | grep 'not found')"
}

# A command with the libraries unpacked beside sshd, if any.
with_libs() {
  LD_LIBRARY_PATH="$dir/lib/x86_64-linux-gnu:$dir/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$@"
}

cmd="${1:-}"; shift || true
case "$cmd" in
  install)
    install_sshd
    ;;
  repo)
    [ $# -eq 1 ] || die "usage: $0 repo DIR"
    out="$1"; mkdir -p "$out"
    src="$(mktemp -d)"
    mkdir -p "$src/src/sshpkg"
    cat > "$src/pyproject.toml" <<'EOF'
[project]
name = "sshpkg"
version = "0.1.0"
requires-python = ">=3.9"

[build-system]
requires = ["uv_build>=0.9,<0.10"]
build-backend = "uv_build"
EOF
    cat > "$src/src/sshpkg/__init__.py" <<'EOF'
def hello():
    return "sshpkg says hello, fetched over SSH"
EOF
    git -C "$src" init -q -b main
    git -C "$src" add -A
    GIT_AUTHOR_DATE="1700000000 +0000" GIT_COMMITTER_DATE="1700000000 +0000" git -C "$src" -c user.name=pycache -c user.email=e2e@pycache.invalid commit -q -m "sshpkg 0.1.0"
    rm -rf "$out/sshpkg.git"
    git clone -q --bare "$src" "$out/sshpkg.git"
    commit="$(git -C "$src" rev-parse HEAD)"
    rm -rf "$src"
    # Owned by the server's user: git refuses repositories of another owner.
    ensure_user
    chown -R git: "$out/sshpkg.git"
    echo "$commit"
    ;;
  serve)
    [ $# -eq 4 ] || die "usage: $0 serve WORK ADDR PORT PUBKEY"
    work="$1" addr="$2" port="$3" pubkey="$4"
    install_sshd >/dev/null
    mkdir -p "$work"
    [ -f "$work/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C pycache-e2e-host -f "$work/host_ed25519"
    # Only the git commands, nothing else of a shell session.
    printf 'restrict %s\n' "$(cat "$pubkey")" > "$work/authorized_keys"
    cat > "$work/sshd_config" <<EOF
ListenAddress $addr
Port $port
HostKey $work/host_ed25519
PidFile none
AuthorizedKeysFile $work/authorized_keys
AllowUsers git
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
UsePAM no
StrictModes no
PermitUserEnvironment no
AcceptEnv GIT_PROTOCOL
LogLevel VERBOSE
EOF
    chown -R git: "$work"
    chmod 600 "$work/host_ed25519"
    with_libs exec setpriv --reuid=git --regid="$(id -g git)" --clear-groups \
      "$sshd" -D -e -f "$work/sshd_config"
    ;;
  *) die "usage: $0 install|repo|serve …" ;;
esac
