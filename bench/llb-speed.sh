#!/usr/bin/env bash
# Times the whole `pycache llb` process on a project whose uv.lock has 300+ packages.
# Prints the median and p90 of N runs (default 51) in milliseconds. Goal: median < 5 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-51}"
cargo build --release --quiet --bin pycache
BIN=target/release/pycache
DIR=bench/large-lock
pkgs=$(grep -c '^\[\[package\]\]' "$DIR/uv.lock")
"$BIN" llb "$DIR" > /dev/null   # warm the page cache

# Median wall time (µs) of N runs of a command; spawning costs a few ms in some sandboxes,
# so /bin/true is timed the same way and reported beside it.
median_us() {
  local times=() s e
  for _ in $(seq "$N"); do
    s=$(date +%s%N); "$@" > /dev/null; e=$(date +%s%N)
    times+=($(( (e - s) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( N / 2 + 1 ))p"
}
ms() { printf '%d.%03d ms' $(($1 / 1000)) $(($1 % 1000)); }
base=$(median_us /bin/true)
llb=$(median_us "$BIN" llb "$DIR")
echo "pycache llb, $pkgs packages in uv.lock, $N runs (median wall time, same shell loop):"
echo "  /bin/true     $(ms "$base")   (process spawn floor here)"
echo "  pycache llb   $(ms "$llb")"
echo "  difference    $(ms $((llb - base)))"
if command -v perf >/dev/null && perf stat -e task-clock true >/dev/null 2>&1; then
  perf stat -r "$N" -e task-clock "$BIN" llb "$DIR" 2>&1 >/dev/null | grep -E 'task-clock|elapsed' | sed 's/^ */  perf: /'
fi
