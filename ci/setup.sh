#!/usr/bin/env bash
# make setup: install what a fresh machine lacks. Idempotent; safe to re-run.
#
# Needs: cargo (the machine's Rust toolchain), and a CPython 3.9+ with a
# shared libpython for the embedded runtime (pyo3 builds against the
# interpreter named by PYO3_PYTHON, else python3 on PATH). Debian's python3
# and python3-dev are installed when no such interpreter is found.
# Makes .venv, the project's Python environment (pyrepro/requirements.txt).
set -euo pipefail

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

command -v cargo >/dev/null || die "cargo not found: install the Rust toolchain (rustup) first"

# Can pyo3 embed this interpreter? (CPython >= 3.9 with a shared libpython)
embeddable() {
  "$1" - <<'PY' 2>/dev/null
import sys, sysconfig, platform
ok = (platform.python_implementation() == "CPython"
      and sys.version_info >= (3, 9)
      and bool(sysconfig.get_config_var("Py_ENABLE_SHARED")))
sys.exit(0 if ok else 1)
PY
}

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    die "need Debian packages $*; run as root or install them: apt-get install $*"
  fi
  say "installing Debian packages: $*"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

py="${PYO3_PYTHON:-$(command -v python3 || true)}"
if [ -z "$py" ] || ! embeddable "$py"; then
  say "${py:-python3}: not an embeddable CPython 3.9+ (shared libpython)"
  apt_install python3 python3-dev
  py=/usr/bin/python3
  embeddable "$py" || die "$py is still not embeddable"
  say "build with: PYO3_PYTHON=$py make test"
fi
# strace, for `repro run --strace` (optional: without it, --strace says so).
if ! command -v strace >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt_install strace || say "strace not installed: repro run --strace will say so"
  else
    say "strace not installed (apt-get install strace): repro run --strace will say so"
  fi
fi

say "embedding: $("$py" -c 'import sys, platform; print(platform.python_implementation(), platform.python_version(), sys.executable)')"

# The project's Python environment: .venv, from the embedding interpreter
# (so the embedded runtime can use its site-packages), with the pinned
# packages some scenarios need. Remade if it was made from another one.
venv=.venv
base="$("$py" -c 'import sys; print(sys.base_prefix)')"
if [ ! -x "$venv/bin/python" ] \
   || [ "$("$venv/bin/python" -c 'import sys; print(sys.base_prefix)' 2>/dev/null)" != "$base" ]; then
  say "creating $venv from $py"
  "$py" -m venv --clear "$venv" || die "cannot create $venv (Debian: apt-get install python3-venv)"
fi
# The pinned libraries (pyrepro/requirements.txt), each line on its own: one
# with no wheel for this interpreter costs only the variants that need it.
report="$("$venv/bin/python" pyrepro/requirements.py)" \
  || die "cannot install pyrepro/requirements.txt into $venv"
case "$report" in
  '{"missing": []}') ;;
  *) say "not installed (the variants that need them report skipped): $report" ;;
esac
say "project environment: $venv ($("$venv/bin/python" - <<'PY'
import platform
have = ["Python " + platform.python_version()]
for name in ("gevent", "tornado"):
    try:
        have.append("%s %s" % (name, __import__(name).version if name == "tornado"
                               else __import__(name).__version__))
    except ImportError:
        have.append("no " + name)
print(", ".join(have))
PY
))"
# Chromium and mermaid-cli, for the pictures (ci/browser.sh, cached in
# target/mermaid): the screenshot test of `repro report` and `--svg`, and
# every Mermaid diagram rendered (`make diagrams`).
if ! ci/browser.sh; then
  [ "${CI:-}" != true ] || die "ci/browser.sh failed under CI"
  say "no browser here: the screenshot and diagram tests will say they skipped"
fi
say "ok"
