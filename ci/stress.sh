#!/usr/bin/env bash
# make stress: every case N times (N=100 by default) while every core is
# busy, then the per-case counts and median/p95 time to verdict. The load
# (one `yes` per core) is stopped on exit, whatever happens. Exits with
# repro's code: non-zero if any run was not as expected.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-100}"
SCENARIO="${SCENARIO:-all}"

cargo build --release --quiet
load=()
stop_load() { [ ${#load[@]} -eq 0 ] || kill "${load[@]}" 2>/dev/null || true; }
trap stop_load EXIT
for _ in $(seq "$(nproc)"); do
  yes >/dev/null &
  load+=($!)
done
echo "stress: $SCENARIO x $N runs per case, $(nproc) core(s) loaded by pids ${load[*]}" >&2
./target/release/repro run "$SCENARIO" --repeat "$N"
