#!/usr/bin/env bash
# The real-browser test of the chat example (tests/browser/chat_test.mjs): Debian's Chromium
# (/usr/bin/chromium, from scripts/deps.sh) driven by puppeteer-core, which `npm ci` installs from
# tests/browser/package-lock.json (never a browser download). A missing Chromium, node or npm is
# a failure, not a skip. The one skip: a machine from which the npm registry cannot be reached or
# trusted (the test cannot get puppeteer-core); it says so.
#     scripts/browser_test.sh <chat binary> <output folder> [test script, default chat_test.mjs]
# (the web view's test: scripts/browser_test.sh <observed_shop binary> <folder> observe_test.mjs)
set -euo pipefail
chat_bin=$(realpath "$1")
out_dir=$(realpath -m "$2")
test_script=${3:-chat_test.mjs}
cd "$(dirname "${BASH_SOURCE[0]}")/../tests/browser"
chromium=${CHROMIUM:-/usr/bin/chromium}
for tool in "$chromium" node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "browser: FAILED: $tool is missing (scripts/deps.sh installs it)" >&2
    exit 1
  fi
done
export PUPPETEER_SKIP_DOWNLOAD=1
# Trust the system's certificate store too (a proxy's CA installed there, as on some CI hosts);
# Node.js otherwise trusts only the roots it was built with.
if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -r /etc/ssl/certs/ca-certificates.crt ]; then
  export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi
if [ ! -d node_modules/puppeteer-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  if ! npm_log=$(npm ci --ignore-scripts --no-audit --no-fund --loglevel=error 2>&1); then
    printf '%s\n' "$npm_log" >&2
    # The one thing outside the project: the npm registry cannot be reached or trusted from this
    # machine (no network, or a proxy whose certificate it does not trust). Say so and skip
    # (exit 77, CTest's SKIP_RETURN_CODE), rather than fail on the network; anything else fails.
    if printf '%s' "$npm_log" | grep -qE 'SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER|CERT_|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ENETUNREACH'; then
      echo "browser: SKIPPED: npm cannot fetch puppeteer-core from the registry here (network or TLS trust); Chromium was present" >&2
      exit 77
    fi
    exit 1
  fi
fi
exec node "$test_script" "$chat_bin" "$out_dir"
