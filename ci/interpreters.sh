#!/usr/bin/env bash
# make interpreters: bring the newest Python interpreters Debian's archive
# carries onto this machine, for the canary. Cached under
# target/interpreters/; idempotent (seconds when cached); never touches the
# host's packages.
#
#   ci/interpreters.sh            every root below, and the free-threaded build
#   ci/interpreters.sh --no-build the roots only (skip the ~5 min source build)
#   ci/interpreters.sh --host-tools  install what it needs on the host
#                                 (mmdebstrap) and stop: CI runs this first,
#                                 then the roots in the background, so that
#                                 no other apt-get meets one of its own
#
# What it makes (see README "New interpreters"):
#   roots/sid/        a Debian sid root (mmdebstrap): every python3.N with
#                     N >= 14 the archive carries, its -dev and -venv, PyPy
#                     (sid's), and gcc (to build the embedded runtime there)
#   roots/bookworm/   a Debian bookworm root: bookworm's PyPy
#   roots/sid/opt/python3.XXt/  a free-threaded CPython (--disable-gil)
#                     built from the newest CPython source the archive serves
#   roots/<root>.enter  runs a command inside that root: a private mount
#                     namespace (nothing is left mounted), /proc /sys /dev
#                     /tmp and this checkout bound at their own paths, chroot
#   bin/<name>        one wrapper per interpreter (python3.14, pypy3.11,
#                     python3.13t, ...): runs that interpreter's virtual
#                     environment (with pyrepro/requirements.txt) inside its
#                     root; what `repro canary` and `repro run --python
#                     NAME` use
#   status.tsv        name, ok|missing, and what or why; read by the canary
#
# A root is built under a temporary name and renamed when complete: an
# interrupted run leaves nothing that looks usable.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'interpreters: %s\n' "$*" >&2; }
die() { printf 'interpreters: error: %s\n' "$*" >&2; exit 1; }

build=1
tools_only=0
for a in "$@"; do
  case "$a" in
    --no-build) build=0 ;;
    --host-tools) tools_only=1 ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) die "unknown option $a (valid: --no-build, --host-tools)" ;;
  esac
done

[ "$(id -u)" = 0 ] || die "needs root (mmdebstrap --mode=root, chroot): run as root; \
a non-root user can then run what was provisioned (see README)"
command -v unshare >/dev/null || die "unshare not found (Debian: apt-get install util-linux)"
if ! command -v mmdebstrap >/dev/null; then
  say "installing mmdebstrap (Debian package)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null \
    || die "mmdebstrap is missing and could not be installed (apt-get install mmdebstrap)"
fi
if [ "$tools_only" = 1 ]; then
  say "host tools: $(command -v mmdebstrap unshare | tr '\n' ' ')"
  exit 0
fi

cache=target/interpreters
mkdir -p "$cache/roots" "$cache/bin"
cache="$(cd "$cache" && pwd)"

# The Debian mirror: REPRO_DEBIAN_MIRROR, else the one this machine's apt
# already uses (on a Debian host).
mirror="${REPRO_DEBIAN_MIRROR:-$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' \
  'Created-By: Packages' 2>/dev/null | awk '$2 !~ /-security$/ {print $1; exit}')}"
[ -n "$mirror" ] || die "no Debian mirror: this machine's apt sources name none; set REPRO_DEBIAN_MIRROR"

trap 'say "interrupted: what was complete is kept, the rest is redone next time"; exit 130' INT TERM
status="$cache/status.tsv.new"
: >"$status"
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$status"; }

# roots/<name>.enter: run a command inside the root (ci/enter.sh).
write_enter() {
  install -m 755 ci/enter.sh "$cache/roots/$1.enter"
}

# make_root NAME SUITE INCLUDE HOOK: a Debian root, unless complete already.
make_root() {
  local name=$1 suite=$2 include=$3 hook=$4
  local dir="$cache/roots/$name"
  if [ -f "$dir/.repro-root" ]; then
    say "root $name: cached ($(cat "$dir/.repro-root"))"
    write_enter "$name"
    return 0
  fi
  local tmp="$dir.partial"
  # --one-file-system: never into a mount, should a build from before
  # mmdebstrap had a mount namespace of its own (below) have left one.
  rm -rf --one-file-system "$tmp" "$dir"
  say "root $name: building from Debian $suite (about a minute)..."
  local log="$cache/roots/$name.log"
  # mmdebstrap mounts /proc, /sys and /dev into the root while it builds
  # and unmounts them at the end; killed (Ctrl-C, or CI stopping early) it
  # left them mounted. In a private mount namespace they go with it,
  # however it ends.
  if ! unshare --mount --propagation private mmdebstrap --mode=root --variant=apt \
      --aptopt='Acquire::Check-Valid-Until "false"' \
      --include="$include" --customize-hook="$hook" \
      "$suite" "$tmp" "$mirror" >"$log" 2>&1; then
    rm -rf --one-file-system "$tmp"
    say "root $name: mmdebstrap failed; the end of $log:"
    tail -n 5 "$log" | sed 's/^/    /' >&2
    return 1
  fi
  printf 'Debian %s, made %s\n' "$suite" "$(date -u +%Y-%m-%d)" >"$tmp/.repro-root"
  mv "$tmp" "$dir"
  write_enter "$name"
  say "root $name: ready ($(du -sh "$dir" | cut -f1))"
}

# In each root: the interpreters and their virtual environments.
hook="chroot \"\$1\" /bin/sh -e < $(pwd)/ci/root-setup.sh"

# wrapper ROOT NAME VENV: bin/NAME runs VENV/bin/python inside ROOT.
wrapper() {
  local root=$1 name=$2 venv=$3
  cat >"$cache/bin/$name" <<SH
#!/bin/sh
# Made by ci/interpreters.sh: $name, inside the Debian root $root.
exec "\$(dirname "\$0")/../roots/$root.enter" $venv/bin/python "\$@"
SH
  chmod +x "$cache/bin/$name"
  local seen
  if seen="$("$cache/bin/$name" -c 'import sys, platform; print(platform.python_implementation(), platform.python_version())' 2>&1)"; then
    say "  $name: $seen; pyrepro/requirements.txt into its environment"
    # The pinned libraries (a stamp makes this quick when nothing changed);
    # a line without a wheel there costs only the variants that need it.
    local report missing
    report="$("$cache/bin/$name" pyrepro/requirements.py 2>/dev/null | tail -n 1)" || report=
    case "$report" in
      '{"missing": []}') missing= ;;
      '') missing="; pyrepro/requirements.py failed" ;;
      *) missing="; not installed: $report"; say "    not installed: $report" ;;
    esac
    record "$name" ok "$seen in Debian $root ($venv)$missing"
  else
    rm -f "$cache/bin/$name"
    record "$name" missing "does not run in root $root: ${seen##*$'\n'}"
    say "  $name: does not run: ${seen##*$'\n'}"
  fi
}

# The roots' interpreters, by what each venv holds.
wrap_root() {
  local root=$1 dir="$cache/roots/$1"
  local v
  for v in "$dir"/opt/repro/venv-*; do
    [ -d "$v" ] || continue
    local base=${v##*/venv-}
    local name=$base
    if [ "$base" = pypy3 ]; then
      # PyPy by the language version it implements: pypy3.9, pypy3.11.
      name="pypy$("$cache/roots/$root.enter" "${v#"$dir"}/bin/python" -c \
        'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo 3)"
    fi
    wrapper "$root" "$name" "${v#"$dir"}"
  done
}

rm -f "$cache"/bin/*
# What repro remembers of each interpreter (harness::python::keep_checks_in):
# the wrappers are new files anyway, but what runs behind them may change.
rm -rf target/checks
if make_root sid sid "pypy3,pypy3-venv,gcc,libc6-dev,ca-certificates" "$hook"; then
  # A free-threaded CPython, from the newest CPython source the archive serves.
  if [ "$build" = 0 ]; then
    compgen -G "$cache/roots/sid/opt/repro/venv-python3.*t" >/dev/null \
      || record python3.XXt missing "not built (make interpreters builds it; --no-build skipped it)"
  elif ! ci/build-free-threaded.sh "$cache/roots/sid" "$mirror"; then
    record python3.XXt missing "the free-threaded build failed (see $cache/roots/sid/opt/free-threaded.log)"
  fi
  wrap_root sid
else
  record python3.14+ missing "the sid root could not be made (see $cache/roots/sid.log)"
  record pypy3-sid missing "the sid root could not be made"
fi
if make_root bookworm bookworm "pypy3,pypy3-venv,ca-certificates" "$hook"; then
  wrap_root bookworm
else
  record pypy3-bookworm missing "the bookworm root could not be made (see $cache/roots/bookworm.log)"
fi

mv "$status" "$cache/status.tsv"
say "done: $(grep -c "	ok	" "$cache/status.tsv") interpreter(s) in $cache/bin; $cache/status.tsv says what is missing and why"
