#!/usr/bin/env bash
# ci/canary.sh: the canary as CI runs it, and as you run it locally.
#
#   ci/canary.sh                       every interpreter found here
#   ci/canary.sh --python /opt/py3.14/bin/python3   ... plus this one
#   REPRO_PYTHONS=/a/python:/b/python ci/canary.sh  ... plus these
#   CANARY_EMBED="/usr/bin/python3.12 /opt/py3.14/bin/python3" ci/canary.sh
#       the embedded runtime built against each of these (one build per
#       interpreter, each in its own target dir under target/embed/); by
#       default every embeddable interpreter found here (`repro interpreters
#       --embeddable`); CANARY_EMBED= (empty) for none
#
# Reports: target/canary/ (and target/canary/embed-<version>/ per extra
# embedded build). Exit: 0 no drift, 1 drift, 2 usage, 3 nothing ran.
set -euo pipefail
cd "$(dirname "$0")/.."

make --no-print-directory setup
cargo build --release --quiet
status=0
./target/release/repro canary "$@" || status=$?

embed="${CANARY_EMBED-$(./target/release/repro interpreters --embeddable)}"
for py in $embed; do
  version="$("$py" -c 'import platform; print(platform.python_version())')"
  dir="target/embed/$version"
  echo "canary: embedded runtime built against $py ($version) in $dir" >&2
  PYO3_PYTHON="$py" CARGO_TARGET_DIR="$dir" cargo build --release --quiet
  # Only the embedded column is new here; the rest is the run above.
  "$dir/release/repro" canary --no-discover --no-envs --out "target/canary/embed-$version" \
    || { s=$?; [ "$s" -gt "$status" ] && status=$s; }
done
exit "$status"
