#!/usr/bin/env bash
# ci/browser.sh: what the pictures need, cached. Idempotent.
#
# - Debian's chromium (headless; for mermaid-cli and the screenshot test),
#   installed with apt when missing (root only; otherwise it says how);
# - mermaid-cli, pinned by ci/mermaid/package-lock.json, installed with
#   `npm ci` into target/mermaid/ (reinstalled when the lock changes),
#   with PUPPETEER_SKIP_DOWNLOAD: puppeteer drives Debian's chromium and
#   downloads no browser of its own.
#
# Prints nothing on success but what it installed. Exit 1 with the reason
# when something cannot be installed here.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'browser: %s\n' "$*" >&2; }
die() { printf 'browser: error: %s\n' "$*" >&2; exit 1; }

if ! command -v chromium >/dev/null; then
  [ "$(id -u)" = 0 ] || die "chromium not found: apt-get install chromium (as root)"
  say "installing Debian's chromium"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

command -v npm >/dev/null || die "npm not found: mermaid-cli comes from the npm registry (apt-get install npm)"
dest=target/mermaid
if ! cmp -s ci/mermaid/package-lock.json "$dest/package-lock.json" \
   || [ ! -x "$dest/node_modules/.bin/mmdc" ]; then
  say "installing mermaid-cli into $dest (npm ci, pinned)"
  rm -rf "$dest"
  mkdir -p "$dest"
  cp ci/mermaid/package.json ci/mermaid/package-lock.json "$dest/"
  (cd "$dest" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null) \
    || die "npm ci failed in $dest"
fi
