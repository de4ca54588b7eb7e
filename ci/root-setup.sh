#!/bin/sh
# Run inside a new Debian root by ci/interpreters.sh (mmdebstrap's customize
# hook): every python3.N with N >= 14 the suite carries, with its -venv and
# -dev packages, and one virtual environment per interpreter (and PyPy's)
# under /opt/repro, where the wrappers in target/interpreters/bin point.
set -eu
want=$(apt-cache pkgnames python3. | grep -E '^python3\.[0-9]+$' \
  | awk -F. '$2 >= 14' | sort -t. -k2n)
pkgs=
for p in $want; do pkgs="$pkgs $p $p-venv lib$p-dev"; done
if [ -n "$pkgs" ]; then
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $pkgs
fi
mkdir -p /opt/repro
for p in $want; do "$p" -m venv "/opt/repro/venv-$p"; done
if command -v pypy3 >/dev/null; then pypy3 -m venv /opt/repro/venv-pypy3; fi
