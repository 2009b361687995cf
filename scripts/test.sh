#!/usr/bin/env bash
# What CI runs: installs what is missing, then builds and runs every test in release, the core
# tests, examples and header tests built by clang 14 with warnings as errors, the tests of every
# layer under ThreadSanitizer and under AddressSanitizer+UBSan, fuzzes the serial decoder and the
# remote wire for 55 s, and checks that an installed troupe works through find_package(troupe) and pkg-config.
# Stops at the first failure. Works from any directory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
jobs=$(nproc)

scripts/deps.sh

# release: all tests (examples and doc checks included); clang: the library, the core tests and
# the examples built by clang 14 with -Werror, and their tests and the header tests (labels core,
# example, headers); tsan/asan: the tests of every layer (labels core, otp, io, testkit, serial,
# remote, persistence). The build presets say which targets each builds; see CMakePresets.json. The
# persistence tests labelled postgres start a throwaway PostgreSQL 15 themselves
# (scripts/pg-test-cluster.sh).
for preset in release clang tsan asan; do
  echo "test: === $preset: configure, build ($jobs jobs), test ==="
  cmake --preset "$preset"
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset" -j "$jobs"
done

# --- fuzz: the serial decoder and the remote wire -----------------------------------------------
# Their libFuzzer targets built by clang 14 with ASan+UBSan (the `fuzz` preset), run from the
# committed seeds (tests/serial/fuzz/corpus, tests/remote/fuzz/corpus): 40 s and 15 s, the step
# under a minute in all. What they find goes to build/fuzz/corpus*, never into the source
# tree; a crash stops CI with the input in crash-*.
echo "test: === fuzz: serial decoder 40 s, remote wire 15 s ==="
cmake --preset fuzz
cmake --build --preset fuzz -j "$jobs"
mkdir -p build/fuzz/corpus build/fuzz/corpus-remote
build/fuzz/tests/serial/fuzz/troupe_serial_fuzzer -max_total_time=40 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix=build/fuzz/ build/fuzz/corpus tests/serial/fuzz/corpus
build/fuzz/tests/remote/fuzz/troupe_remote_fuzzer -max_total_time=15 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix=build/fuzz/remote- build/fuzz/corpus-remote tests/remote/fuzz/corpus
# The plain ws framing (tests/io/fuzz): a small parser: 5 s (some 300,000 inputs here).
echo "test: === fuzz: ws framing 5 s ==="
mkdir -p build/fuzz/corpus-ws
build/fuzz/tests/io/fuzz/troupe_ws_frame_fuzzer -max_total_time=5 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix=build/fuzz/ws- build/fuzz/corpus-ws tests/io/fuzz/corpus

# Packaging: install the release build into a scratch prefix and build, as a user would, the
# separate projects in cmake/consumer: all layers through find_package(troupe COMPONENTS ...);
# the core alone with Boost's and OpenSSL's packages out of reach; the core with pkg-config.
prefix=$(mktemp -d "${TMPDIR:-/tmp}/troupe-install.XXXXXX")
trap 'rm -rf "$prefix"' EXIT
echo "test: === consumer: install to $prefix, build cmake/consumer and cmake/consumer/core against it ==="
cmake --install build/release --prefix "$prefix"
consumer() {  # <project dir> <build dir under the prefix> [cmake options]
  cmake -S "$1" -B "$prefix/$2" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" "${@:3}"
  cmake --build "$prefix/$2" -j "$jobs"
  ctest --test-dir "$prefix/$2" --output-on-failure --no-tests=error
}
consumer cmake/consumer consumer-build
consumer cmake/consumer/core core-build -DCMAKE_DISABLE_FIND_PACKAGE_Boost=ON -DCMAKE_DISABLE_FIND_PACKAGE_OpenSSL=ON
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' build/release/CMakeCache.txt)
g++ -std=c++20 cmake/consumer/core/main.cpp -o "$prefix/pkg-config-consumer" \
  $(PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig" pkg-config --cflags --libs troupe-core)
"$prefix/pkg-config-consumer"

echo "test: all passed"
