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
#   make interpreters first, and the canary also covers CPython 3.14+, a
#   free-threaded build and PyPy (python runtime), and the embedded runtime
#   built inside the Debian root of each provisioned CPython (see below)
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
  # Built against the canary's environment for that interpreter (the run
  # above made it, with pyrepro/requirements.txt), so that the embedded
  # interpreter has the same packages as the python column; else bare.
  base="$("$py" -c 'import sys; print(sys.base_prefix)')"
  build_py="$py"
  for c in target/canary-envs/"$version"-*/bin/python; do
    if [ -x "$c" ] && [ "$("$c" -c 'import sys; print(sys.base_prefix)' 2>/dev/null)" = "$base" ]; then
      build_py="$PWD/$c"
      break
    fi
  done
  echo "canary: embedded runtime built against $build_py ($version) in $dir" >&2
  PYO3_PYTHON="$build_py" CARGO_TARGET_DIR="$dir" cargo build --release --quiet
  # Only the embedded column is new here; the rest is the run above.
  "$dir/release/repro" canary --runtime embedded --no-discover --no-envs --out "target/canary/embed-$version" \
    || { s=$?; [ "$s" -gt "$status" ] && status=$s; }
done
# The interpreters `make interpreters` provisioned (target/interpreters/):
# the embedded runtime built and run inside each one's Debian root (its
# glibc, its libpython), against its virtual environment (so the embedded
# interpreter sees the same site-packages), with this machine's Rust
# toolchain bound in. CANARY_EMBED_PROVISIONED= (empty) for none.
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
rustup_home="${RUSTUP_HOME:-$HOME/.rustup}"
for wrapper in ${CANARY_EMBED_PROVISIONED-target/interpreters/bin/*}; do
  [ -x "$wrapper" ] || continue
  name=$(basename "$wrapper")
  root=$(sed -n 's|.*roots/\([A-Za-z0-9_-]*\)\.enter.*|\1|p' "$wrapper" | head -n 1)
  # One line: "<verdict> <version><t> <the interpreter's path inside its root>".
  read -r verdict version inside < <("$wrapper" - <<'PY' || echo "error ? ?"
import platform, sys, sysconfig
ft = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
ok = (platform.python_implementation() == "CPython" and sys.version_info >= (3, 9)
      and bool(sysconfig.get_config_var("Py_ENABLE_SHARED")))
if ok and ft and sys.version_info < (3, 14):
    ok = "pyo3"
print("ok" if ok is True else ok or "no", platform.python_version() + ("t" if ft else ""),
      sys.executable)
PY
)
  case "$verdict" in
    ok) ;;
    pyo3)
      echo "canary: embedded $version: skipped: PyO3 does not support the free-threaded build of CPython versions below 3.14 (it lights up when a 3.14t or newer is provisioned)" >&2
      continue ;;
    *) continue ;;  # PyPy, or no shared libpython: nothing to embed
  esac
  dir="target/embed/$root-$name"
  echo "canary: embedded runtime built against $name ($version) inside the Debian root $root, in $dir" >&2
  enter="target/interpreters/roots/$root.enter"
  if ! REPRO_ENTER_BIND="$cargo_home:$rustup_home" "$enter" env PATH="$cargo_home/bin:/usr/bin:/bin" \
      CARGO_HOME="$cargo_home" RUSTUP_HOME="$rustup_home" \
      PYO3_PYTHON="$inside" CARGO_TARGET_DIR="$dir" cargo build --release --quiet; then
    echo "canary: embedded $version: the build inside $root failed" >&2
    [ "$status" -lt 2 ] && status=2
    continue
  fi
  "$enter" "$dir/release/repro" canary --runtime embedded --no-discover --no-envs --out "target/canary/embed-$version" \
    || { s=$?; [ "$s" -gt "$status" ] && status=$s; }
done
exit "$status"
