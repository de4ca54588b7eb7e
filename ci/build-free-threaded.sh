#!/usr/bin/env bash
# ci/build-free-threaded.sh ROOT MIRROR: a free-threaded CPython
# (./configure --disable-gil) built inside the Debian root ROOT from the
# newest CPython source package the archive serves (sid, then trixie), and
# installed there as /opt/python3.Nt with a virtual environment
# /opt/repro/venv-python3.Nt. Called by ci/interpreters.sh.
#
# Cached: a build whose /opt/python3.Nt/.repro-complete exists is kept. A
# failed or interrupted build leaves no stamp and is redone from scratch.
set -euo pipefail
root=$1 mirror=$2
enter="$root.enter"
say() { printf 'interpreters: %s\n' "$*" >&2; }

for done in "$root"/opt/python3.*t/.repro-complete; do
  if [ -f "$done" ]; then
    say "free-threaded: cached ($(cat "$done"))"
    exit 0
  fi
done

log=/opt/free-threaded.log
say "free-threaded: looking for the newest CPython source in Debian sid and trixie"
cat >"$root/etc/apt/sources.list.d/repro-src.list" <<EOF
deb-src $mirror sid main
deb-src $mirror trixie main
EOF
# Build dependencies: what CPython's stdlib extensions link against.
"$enter" /bin/sh -ec "
  exec >$log 2>&1
  apt-get -o Acquire::Check-Valid-Until=false update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q make pkg-config xz-utils dpkg-dev \
    libffi-dev zlib1g-dev libssl-dev libbz2-dev liblzma-dev libsqlite3-dev \
    libexpat1-dev libncurses-dev libreadline-dev uuid-dev libgdbm-dev
" || { say "free-threaded: installing the build dependencies failed (see $root$log)"; exit 1; }

# Newest first: the first source package that downloads wins (sid's answer
# 404 on this archive today; trixie's python3.13 downloads).
found=
for minor in 16 15 14 13; do
  for suite in sid trixie; do
    if "$enter" /bin/sh -c "rm -rf /opt/src && mkdir -p /opt/src && cd /opt/src \
        && apt-get source --download-only python3.$minor/$suite >>$log 2>&1"; then
      found=$minor
      break 2
    fi
  done
done
[ -n "$found" ] || { say "free-threaded: no CPython source package downloads from sid or trixie (see $root$log)"; exit 1; }

tarball=$(cd "$root/opt/src" && ls python3."$found"_*.orig.tar.* | head -n 1)
version=${tarball#python3."$found"_}
version=${version%%.orig.tar.*}
prefix=/opt/python3.${found}t
say "free-threaded: building CPython $version --disable-gil into $prefix (about 5 minutes on 2 cores; log: $root$log)"
"$enter" /bin/sh -ec "
  exec >>$log 2>&1
  rm -rf $prefix /opt/repro/venv-python3.${found}t /opt/build
  mkdir -p /opt/build && cd /opt/build
  tar -xf /opt/src/$tarball --strip-components=1
  ./configure --disable-gil --enable-shared --prefix=$prefix LDFLAGS=-Wl,-rpath,$prefix/lib
  make -j\$(nproc)
  make install
  $prefix/bin/python3.${found}t -c 'import sys; assert not sys._is_gil_enabled()'
  $prefix/bin/python3.${found}t -m venv /opt/repro/venv-python3.${found}t
  cd / && rm -rf /opt/build /opt/src
" || { say "free-threaded: the build failed (see $root$log)"; exit 1; }
printf 'CPython %s --disable-gil from Debian python3.%s source\n' "$version" "$found" \
  >"$root$prefix/.repro-complete"
say "free-threaded: CPython ${version}t ready"
