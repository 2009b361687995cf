#!/usr/bin/env bash
# What CI runs: installs what is missing, then builds and runs every test in release, the tests
# of every layer under ThreadSanitizer and under AddressSanitizer+UBSan, fuzzes the serial
# decoder for 45 s, and checks that an installed
# troupe works through find_package(troupe). Stops at the first failure. Works from any directory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
jobs=$(nproc)

scripts/deps.sh

# release: all tests (examples and doc checks included); tsan/asan: the tests of every layer
# (labels core, otp, io, testkit; see the presets).
for preset in release tsan asan; do
  echo "test: === $preset: configure, build ($jobs jobs), test ==="
  cmake --preset "$preset"
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset" -j "$jobs"
done

# --- fuzz: the serial decoder ------------------------------------------------------------------
# Its libFuzzer target built by clang 14 with ASan+UBSan (the `fuzz` preset), run for 45 s from
# the committed seeds (tests/serial/fuzz/corpus). What it finds goes to build/fuzz/corpus, never
# into the source tree; a crash stops CI with the input in crash-*.
echo "test: === fuzz: serial decoder, 45 s ==="
cmake --preset fuzz
cmake --build --preset fuzz -j "$jobs"
mkdir -p build/fuzz/corpus
build/fuzz/tests/serial/fuzz/troupe_serial_fuzzer -max_total_time=45 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix=build/fuzz/ build/fuzz/corpus tests/serial/fuzz/corpus

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
