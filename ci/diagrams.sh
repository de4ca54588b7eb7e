#!/usr/bin/env bash
# make diagrams: every ```mermaid block in the tree's Markdown (the lessons,
# the docs, the scaffold's template), rendered to SVG in target/diagrams/
# by mermaid-cli driving Debian's headless chromium (ci/browser.sh
# installs both). A block that does not parse fails the run, naming its
# file. Output: target/diagrams/<path, / as __>-<n>.svg, one per block.
#
#   ci/diagrams.sh [--out DIR] [FILE.md ...]   (default: every tracked .md)
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/diagrams
if [ "${1:-}" = "--out" ]; then
  out="$2"
  shift 2
fi
ci/browser.sh
rm -rf "$out"
mkdir -p "$out"
chromium_bin="$(command -v chromium)"
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
# As the machine notes say: no sandbox as root, and no background
# networking (this machine's network is closed).
cat > "$out/.puppeteer.json" <<JSON
{
  "executablePath": "$chromium_bin",
  "userDataDir": "$profile",
  "args": ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"]
}
JSON

mmdc=target/mermaid/node_modules/.bin/mmdc
if [ "$#" -gt 0 ]; then
  files="$*"
else
  files=$(git ls-files '*.md' 2>/dev/null || find . -name '*.md' -not -path './target/*')
fi
total=0
failed=0
for f in $files; do
  grep -q '^```mermaid' "$f" || continue
  name="${f#/}"
  name="${name//\//__}"
  name="${name%.md}"
  start=$EPOCHREALTIME
  if log=$("$mmdc" --quiet -p "$out/.puppeteer.json" -i "$f" -o "$out/$name.md" 2>&1); then
    n=$(ls "$out/$name"-*.svg 2>/dev/null | wc -l)
    blocks=$(grep -c '^```mermaid' "$f")
    if [ "$n" != "$blocks" ]; then
      printf 'diagrams: %s: %s block(s), %s SVG(s)\n' "$f" "$blocks" "$n" >&2
      failed=$((failed + 1))
    fi
    total=$((total + n))
    printf 'diagrams: %s: %s SVG(s) in %.1f s\n' "$f" "$n" "$(awk "BEGIN { print $EPOCHREALTIME - $start }")"
  else
    printf 'diagrams: %s does not render:\n%s\n' "$f" "$log" >&2
    failed=$((failed + 1))
  fi
  rm -f "$out/$name.md"
done
rm -f "$out/.puppeteer.json"
if [ "$failed" != 0 ]; then
  printf 'diagrams: %s file(s) failed\n' "$failed" >&2
  exit 1
fi
[ "$total" -gt 0 ] || { echo "diagrams: no mermaid block found" >&2; exit 1; }
echo "diagrams: $total SVG(s) in $out/"
