#!/usr/bin/env bash
# What CI runs: installs what is missing, then builds and runs every test in release, the core
# tests under ThreadSanitizer and under AddressSanitizer+UBSan, and checks that an installed
# troupe works through find_package(troupe). Stops at the first failure. Works from any directory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
jobs=$(nproc)

scripts/deps.sh

# The presets make ctest fail when it finds no tests. Until tests/ holds a test there is nothing
# to find, so allow that case only, loudly; once a *_test.cpp exists, zero tests is an error.
no_tests=()
if [ -z "$(find tests -name '*_test.cpp' -print -quit 2>/dev/null)" ]; then
  echo "test: WARNING: tests/ holds no *_test.cpp yet; an empty test run is allowed" >&2
  no_tests=(--no-tests=ignore)
fi

# release: all tests (examples included); tsan/asan: the `core`-labelled tests (see the presets).
for preset in release tsan asan; do
  echo "test: === $preset: configure, build ($jobs jobs), test ==="
  cmake --preset "$preset"
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset" -j "$jobs" "${no_tests[@]}"
done

# Packaging: install the release build into a scratch prefix and build a separate project that
# only knows find_package(troupe), as a user would.
prefix=$(mktemp -d "${TMPDIR:-/tmp}/troupe-install.XXXXXX")
trap 'rm -rf "$prefix"' EXIT
echo "test: === consumer: install to $prefix, build cmake/consumer against it ==="
cmake --install build/release --prefix "$prefix"
cmake -S cmake/consumer -B "$prefix/consumer-build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix"
cmake --build "$prefix/consumer-build" -j "$jobs"
ctest --test-dir "$prefix/consumer-build" --output-on-failure --no-tests=error

echo "test: all passed"
