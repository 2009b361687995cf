#!/usr/bin/env bash
# What CI runs: installs what is missing, then builds and runs every test in release (but the
# header tests), the tests of the layers with threads under ThreadSanitizer, and, built by clang 14
# with warnings as errors, the tests of every layer but the cluster, the examples and the header
# tests under AddressSanitizer+UBSan; fuzzes the serial decoder, the remote wire and the ws
# framing for 60 s, and checks that an installed troupe works through find_package(troupe) and
# pkg-config.
# Stops at the first failure. Works from any directory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
jobs=$(nproc)

scripts/deps.sh

# release: every test but the header tests (examples, doc checks, PostgreSQL and the browser
# included); tsan: the tests of every layer with threads (core, otp, io, testkit, remote,
# persistence, cluster, observe); asan, built by clang 14 with -Werror (the second compiler, so
# one build serves both checks): every layer's tests but the cluster's (core, otp, io, testkit,
# serial, remote, persistence, observe), the examples and doc checks, and the header tests (with
# clang; the all-in-one-unit ones with g++ too). The build presets build only what their test presets run;
# see CMakePresets.json. The persistence tests labelled postgres start a throwaway PostgreSQL 15
# themselves (scripts/pg-test-cluster.sh). Each step prints how long it took: CI has 40 minutes
# on 2 cores for all of this.
step_started=0  # bash counts SECONDS from the script's start
took() { echo "test: --- $1 took $((SECONDS - step_started)) s (total $SECONDS s)"; step_started=$SECONDS; }
took "dependencies"
# The release pass leaves out the bench programs (no test runs them; about 100 s of CI's
# compile): scripts/setup.sh turns them back on, and so does -DTROUPE_BUILD_BENCH=ON.
for preset in release tsan asan; do
  echo "test: === $preset: configure, build ($jobs jobs), test ==="
  if [ "$preset" = release ]; then cmake --preset release -DTROUPE_BUILD_BENCH=OFF; else cmake --preset "$preset"; fi
  cmake --build --preset "$preset" -j "$jobs"
  took "$preset build"
  ctest --preset "$preset" -j "$jobs"
  took "$preset tests"
done

# --- fuzz: the serial decoder, the remote wire, the ws framing ------------------------------------
# Their libFuzzer targets, built by the asan pass (clang 14, ASan+UBSan), run from the committed
# seeds (tests/serial/fuzz/corpus, tests/remote/fuzz/corpus, tests/io/fuzz/corpus): 35 s, 20 s
# and 5 s (the ws framing is a small parser: some 300,000 inputs here). The remote fuzzer runs the
# node's code, which the asan pass builds at -O0: about half the runs per second it made at -O1,
# so it has 5 s more than it had then (serial 520,000 runs in 10 s at -O1, 470,000 now; remote
# 122,000 then, 60,000 now). What they find goes to build/asan/fuzz/corpus*, never into the source
# tree; a crash stops CI with the input in crash-*.
echo "test: === fuzz: serial decoder 35 s, remote wire 20 s, ws framing 5 s ==="
fuzz=build/asan/fuzz
mkdir -p $fuzz/corpus $fuzz/corpus-remote $fuzz/corpus-ws
build/asan/tests/serial/fuzz/troupe_serial_fuzzer -max_total_time=35 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix=$fuzz/ $fuzz/corpus tests/serial/fuzz/corpus
build/asan/tests/remote/fuzz/troupe_remote_fuzzer -max_total_time=20 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix=$fuzz/remote- $fuzz/corpus-remote tests/remote/fuzz/corpus
build/asan/tests/io/fuzz/troupe_ws_frame_fuzzer -max_total_time=5 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix=$fuzz/ws- $fuzz/corpus-ws tests/io/fuzz/corpus
took "fuzz"

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

took "consumer"
echo "test: all passed"
