#!/usr/bin/env bash
# First run on a new machine: installs what is missing, builds the release preset and runs the
# hello example. Safe to re-run; works from any directory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
jobs=$(nproc)

scripts/deps.sh

echo "setup: building the release preset with $jobs jobs"
cmake --preset release
cmake --build --preset release -j "$jobs"

# The demo; until examples/hello has a CMakeLists.txt there is nothing to run, and we say so.
hello=build/release/examples/hello/hello
if [ -f examples/hello/CMakeLists.txt ]; then
  echo "setup: running $hello"
  "$hello"
else
  echo "setup: WARNING: examples/hello is not written yet; no demo to run" >&2
fi
echo "setup: done"
