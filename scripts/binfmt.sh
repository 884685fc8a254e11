#!/usr/bin/env bash
# Lets this x86_64 machine run arm64 (aarch64) programs through QEMU user-mode emulation, for
# multi-platform builds (--platform linux/amd64,linux/arm64) and the arm64 base image: Debian's
# qemu-user-static and binfmt-support, binfmt_misc mounted, the qemu-aarch64 handler enabled.
# The handler is registered with flag F (the interpreter is opened once, at registration), so
# it works inside containers and build steps, which do not have /usr/bin/qemu-aarch64-static.
# Idempotent: an enabled handler with flag F is reused. Machine-wide (the kernel's binfmt_misc
# table), as BuildKit expects; nothing of any engine changes.
#   scripts/binfmt.sh           register it (installs the packages with apt-get if missing)
#   scripts/binfmt.sh --check   only say whether arm64 programs can run (exit 1 if not)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CHECK=0
for a in "$@"; do
  case "$a" in
    --check) CHECK=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) die "unknown argument: $a (use --check)" ;;
  esac
done

BINFMT=/proc/sys/fs/binfmt_misc
HANDLER="$BINFMT/qemu-aarch64"

registered() {
  [ -r "$HANDLER" ] && grep -qx enabled "$HANDLER" && grep -q '^flags: .*F' "$HANDLER"
}

describe() {
  local interp flags
  interp=$(sed -n 's/^interpreter //p' "$HANDLER")
  flags=$(sed -n 's/^flags: //p' "$HANDLER")
  log "binfmt: qemu-aarch64 enabled, interpreter $interp, flags $flags; $(/usr/bin/qemu-aarch64-static --version 2>/dev/null | head -n1 || echo 'qemu version unknown')"
}

if registered; then
  describe
  exit 0
fi
if [ "$CHECK" = 1 ]; then
  log "binfmt: no enabled qemu-aarch64 handler with flag F in $BINFMT; run scripts/binfmt.sh"
  exit 1
fi
[ "$(uname -s)" = Linux ] && [ "$(id -u)" = 0 ] || die "registering binfmt handlers needs Linux and root"
case "$(uname -m)" in
  x86_64) ;;
  aarch64) log "binfmt: the host is arm64 already"; exit 0 ;;
  *) die "binfmt: only x86_64 hosts are set up here (this is $(uname -m))" ;;
esac

if ! command -v update-binfmts >/dev/null || [ ! -x /usr/bin/qemu-aarch64-static ]; then
  log "binfmt: installing qemu-user-static and binfmt-support with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq qemu-user-static binfmt-support >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq qemu-user-static binfmt-support >/dev/null; }
fi
if ! mountpoint -q "$BINFMT"; then
  mount -t binfmt_misc binfmt_misc "$BINFMT" || die "cannot mount binfmt_misc at $BINFMT"
fi
# The package's postinst may already have imported the handler (then only --enable is needed);
# a handler registered earlier without F cannot serve containers: re-register it.
if [ -r "$HANDLER" ] && ! grep -q '^flags: .*F' "$HANDLER"; then
  update-binfmts --disable qemu-aarch64 >/dev/null 2>&1 || true
  echo -1 > "$HANDLER"
fi
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || update-binfmts --import qemu-aarch64 >/dev/null
registered || die "binfmt: qemu-aarch64 is not enabled with flag F: $(cat "$HANDLER" 2>/dev/null | tr '\n' ' ')"
describe
