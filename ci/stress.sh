#!/usr/bin/env bash
# make stress: N full rounds of every case (N=50 by default) while every
# core is busy, counting flips, hangs, crashes, errors and leaks (`repro
# stress`). Progress on stderr, one line per round; the summary and
# target/stress/report.json at the end. The load (one `yes` per core) is
# stopped on exit, whatever happens. Exit: repro's (0 nothing went wrong,
# 1 something did, 2 usage).
#
#   make stress              N=50, every scenario
#   N=5 SCENARIO=shared-epoll make stress
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-50}"
SCENARIO="${SCENARIO:-all}"

cargo build --release --quiet
load=()
stop_load() { [ ${#load[@]} -eq 0 ] || kill "${load[@]}" 2>/dev/null || true; }
trap stop_load EXIT
for _ in $(seq "$(nproc)"); do
  yes >/dev/null &
  load+=($!)
done
echo "stress: $(nproc) core(s) loaded by pids ${load[*]}" >&2
./target/release/repro stress "$SCENARIO" --rounds "$N"
