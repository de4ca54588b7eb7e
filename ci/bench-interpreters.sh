#!/usr/bin/env bash
# make bench-interpreters: the Python cases' bench (`repro bench <scenario>
# --runtime python`) on every interpreter found here, one after another,
# each in its canary environment (target/canary-envs, made by `make
# canary`: the packages the cases import), else the bare interpreter
# (whose package cases skip, with the reason). Per interpreter: each case's
# whole run over a bare start-up and over its floor, side by side (see
# `repro bench`). Reports: target/bench/interpreters/<version>/report.md
# and report.json (progress: <version>.log beside them), and a summary on
# stdout.
#
#   make bench-interpreters                     N=10 runs per case, every scenario
#   N=1 SCENARIO=fork-stdio-duplicate REPRO=target/debug/repro ci/bench-interpreters.sh
#                                             (CI's smoke run, with the binary it has built)
#
# Exit: 0 when every run on every interpreter was as expected (a missed
# speed target is reported, not an error), else the worst exit of a bench.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-10}"
SCENARIO="${SCENARIO:-all}"
out=target/bench/interpreters

make --no-print-directory setup
# REPRO: the repro to run; by default a release build, made here.
if [ -z "${REPRO:-}" ]; then
  cargo build --release --quiet
  REPRO=./target/release/repro
fi
rm -rf "$out"
mkdir -p "$out"

# "CPython 3.11.7 /path/to/its/python", one per interpreter found: its
# canary environment where there is one, else itself.
mapfile -t found < <("$REPRO" interpreters --environments)
if [ ${#found[@]} -eq 0 ]; then
  echo "bench-interpreters: no interpreter found (repro interpreters)" >&2
  exit 2
fi

status=0
summary=()
for line in "${found[@]}"; do
  read -r implementation version py <<<"$line"
  dir="$out/$version"
  echo "bench-interpreters: $implementation $version ($py), $N run(s) per case; progress in $dir.log" >&2
  code=0
  "$REPRO" bench "$SCENARIO" --runtime python --python "$py" --runs "$N" \
    --out "$dir" >/dev/null 2>"$dir.log" || code=$?
  [ "$code" -gt "$status" ] && status=$code
  if [ ! -f "$dir/report.md" ]; then
    summary+=("| $implementation $version | no report (exit $code): $dir.log | | | |")
    continue
  fi
  # The bench's own counts: "- at most 2 x a bare start-up: 9 of 48".
  count() { sed -n "s/^- at most 2 x $1: //p" "$dir/report.md"; }
  over="$(sed -n 's/^- over 2 x its floor: //p' "$dir/report.md")"
  as_expected="$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["cases"]; print("%d/%d" % (sum(x["as_expected"] for x in c), sum(x["runs"] for x in c)))' "$dir/report.json")"
  summary+=("| $implementation $version | $as_expected | $(count 'a bare start-up') | $(count 'its floor') | ${over:--} |")
done

echo "## Python cases on every interpreter ($N run(s) per case; reports in $out/)"
echo
echo "| interpreter | as expected | at most 2 x bare | at most 2 x floor | over 2 x floor |"
echo "|---|---|---|---|---|"
printf '%s\n' "${summary[@]}"
exit "$status"
