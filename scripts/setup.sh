#!/usr/bin/env bash
# First run on a new machine: installs what is missing, builds the release preset and runs the
# hello example. `scripts/setup.sh chat [port]` runs the chat server (examples/chat) instead, in
# the foreground, for `nc 127.0.0.1 <port>` (default 7000). Safe to re-run; works from any directory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
jobs=$(nproc)

scripts/deps.sh

echo "setup: building the release preset with $jobs jobs"
cmake --preset release -DTROUPE_BUILD_BENCH=ON  # scripts/test.sh builds release without them
cmake --build --preset release -j "$jobs"

if [ "${1:-}" = chat ]; then
  port=${2:-7000}
  echo "setup: starting the chat server on 127.0.0.1:$port (nc 127.0.0.1 $port; Ctrl-C stops it)"
  echo "setup: the chat in a browser: http://127.0.0.1:$((port + 1))/"
  exec build/release/examples/chat/chat "$port"
fi

echo "setup: running the demo, build/release/examples/hello/hello"
build/release/examples/hello/hello
echo "setup: done. The chat server: scripts/setup.sh chat 7000, then nc 127.0.0.1 7000 or http://127.0.0.1:7001/"
