#!/usr/bin/env bash
# make test-nonroot: the whole test suite as an unprivileged user.
#
# Run as a normal user, this is just the suite (you are unprivileged
# already). Run as root, it makes a throwaway system user, builds everything
# as root (the toolchain usually lives in root's home, out of that user's
# reach), and runs the compiled test binaries as that user, with:
#   - an interpreter the user can reach: Debian's /usr/bin/python3 (pyenv
#     under /root is not), embedded as well (PYO3_PYTHON), in its own
#     target dir (target/nonroot);
#   - its own Python environment (target/nonroot/venv, made by root from
#     that interpreter with pyrepro/requirements.txt);
#   - a HOME and TMPDIR of its own.
# The user is deleted on exit, whatever happens. Nothing in the suite needs
# privileges; a test that would (none today) must skip with its reason.
#
#   ci/test-nonroot.sh --build-only   as root: the environment and the build,
#                                     not the run (CI builds while it waits
#                                     for downloads)
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'test-nonroot: %s\n' "$*" >&2; }
die() { printf 'test-nonroot: error: %s\n' "$*" >&2; exit 1; }

build_only=0
for a in "$@"; do
  case "$a" in
    --build-only) build_only=1 ;;
    *) die "unknown option $a (valid: --build-only)" ;;
  esac
done

if [ "$(id -u)" != 0 ]; then
  if [ "$build_only" = 1 ]; then
    say "already unprivileged ($(id -un)): building the suite"
    exec cargo test --workspace --no-run
  fi
  say "already unprivileged ($(id -un)): running the suite"
  exec cargo test --workspace
fi

py=/usr/bin/python3
embeddable() {
  "$1" -c 'import sys, sysconfig; sys.exit(0 if sys.version_info >= (3, 9) and sysconfig.get_config_var("Py_ENABLE_SHARED") else 1)' 2>/dev/null
}
if ! embeddable "$py"; then
  say "installing python3 python3-dev python3-venv (an embeddable $py for the unprivileged user)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-dev python3-venv >/dev/null
  embeddable "$py" || die "$py is not an embeddable CPython 3.9+"
fi

target=target/nonroot
venv="$target/venv"
if [ ! -x "$venv/bin/python" ]; then
  say "making $venv from $py"
  "$py" -m venv "$venv" || die "cannot make $venv (Debian: apt-get install python3-venv)"
fi
"$venv/bin/python" pyrepro/requirements.py >/dev/null

say "building the suite with PYO3_PYTHON=$py in $target"
tests="$(PYO3_PYTHON="$py" CARGO_TARGET_DIR="$target" \
  cargo test --workspace --no-run --message-format=json 2>/dev/null \
  | "$py" -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("profile", {}).get("test") and m.get("executable"):
        # cargo runs a test binary in its package directory; so do we.
        print(m["manifest_path"].rsplit("/", 1)[0] + "\t" + m["executable"])
')"
[ -n "$tests" ] || die "no test binaries were built"
if [ "$build_only" = 1 ]; then
  say "built: $(echo "$tests" | wc -l) test binaries in $target"
  exit 0
fi

user="repro-nonroot-$$"
home="$(mktemp -d /tmp/repro-nonroot.XXXXXX)"
shared="$target/tmp/shared"
cleanup() {
  userdel "$user" 2>/dev/null || true
  rm -rf "$home" "$shared"
}
trap cleanup EXIT
useradd --system --no-create-home --home-dir "$home" --shell /usr/sbin/nologin "$user"
chown "$user" "$home"
# What one run's tests share (the book, the small canary: tests/util.rs
# run_dir) lives under the target's tmp dir, which root's build made: the
# user gets a directory of its own there, removed on exit like the user.
rm -rf "$shared"
install -d -o "$user" -g "$user" "$shared"
say "running $(echo "$tests" | wc -l) test binaries as $user (uid $(id -u "$user"))"

status=0
root="$PWD"
while IFS=$'\t' read -r dir exe; do
  (cd "$dir" && setpriv --reuid="$user" --regid="$user" --init-groups -- \
    env -i HOME="$home" TMPDIR="$home" PATH=/usr/local/bin:/usr/bin:/bin \
        REPRO_PYTHON="$root/$venv/bin/python" "$exe" --quiet) || status=1
done <<< "$tests"
[ "$status" = 0 ] && say "ok: the suite passes as $user" || say "FAILED as $user"
exit "$status"
