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

echo "setup: running the demo, build/release/examples/hello/hello"
build/release/examples/hello/hello
echo "setup: done"
