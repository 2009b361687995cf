#!/usr/bin/env bash
# The real-browser test of the chat example (tests/browser/chat_test.mjs): Debian's Chromium
# (/usr/bin/chromium, from scripts/deps.sh) driven by puppeteer-core, which `npm ci` installs from
# tests/browser/package-lock.json (never a browser download). A missing Chromium, node or npm is
# a failure, not a skip: CI must not pass without the browser having run.
#     scripts/browser_test.sh <chat binary> <output folder>
set -euo pipefail
chat_bin=$(realpath "$1")
out_dir=$(realpath -m "$2")
cd "$(dirname "${BASH_SOURCE[0]}")/../tests/browser"
chromium=${CHROMIUM:-/usr/bin/chromium}
for tool in "$chromium" node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "browser: FAILED: $tool is missing (scripts/deps.sh installs it)" >&2
    exit 1
  fi
done
export PUPPETEER_SKIP_DOWNLOAD=1
if [ ! -d node_modules/puppeteer-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi
exec node chat_test.mjs "$chat_bin" "$out_dir"
