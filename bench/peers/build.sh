#!/usr/bin/env bash
# The troupe adapter for the peer harness (../shared/peers/run.sh, "Adding an implementation").
#
#     build.sh <outdir>
#
# Builds troupe-bench in release into <outdir>/build, from the repository this script lives in,
# and writes <outdir>/run (a wrapper that execs troupe-bench, so /usr/bin/time measures the
# real process) and <outdir>/VERSION (one line for the report's header). Exits non-zero, with
# a message, when a tool is missing; run.sh then skips troupe and says so.
#
# run.sh names an implementation after the directory holding its build.sh, so give it
# bench/peers/troupe (whose build.sh execs this one) to have the rows say "troupe".
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: build.sh <outdir>" >&2; exit 2; }
out=$1
here=$(cd "$(dirname "$0")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)
[ -f "$root/CMakeLists.txt" ] && [ -d "$root/bench" ] || { echo "troupe: no repository at $root" >&2; exit 2; }

CXX=${CXX:-g++}
command -v cmake >/dev/null || { echo "troupe: 'cmake' not found (Debian: apt-get install cmake)" >&2; exit 2; }
command -v "$CXX" >/dev/null || { echo "troupe: '$CXX' not found (Debian: apt-get install g++)" >&2; exit 2; }
if command -v ninja >/dev/null; then
  generator=Ninja
elif command -v make >/dev/null; then
  generator="Unix Makefiles"
else
  echo "troupe: neither 'ninja' nor 'make' found (Debian: apt-get install ninja-build)" >&2
  exit 2
fi

mkdir -p "$out"
out=$(cd "$out" && pwd -P)
jobs=$(nproc)
cmake -S "$root" -B "$out/build" -G "$generator" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$(command -v "$CXX")" \
  -DTROUPE_BUILD_BENCH=ON -DTROUPE_BUILD_TESTS=OFF -DTROUPE_BUILD_EXAMPLES=OFF
cmake --build "$out/build" --target troupe-bench -j "$jobs"
bin="$out/build/bench/troupe-bench"
[ -x "$bin" ] || { echo "troupe: build produced no $bin" >&2; exit 1; }

cat > "$out/run" <<WRAP
#!/bin/sh
exec "$bin" "\$@"
WRAP
chmod +x "$out/run"

version=$(sed -n 's/^project(troupe VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && [ -n "$(git -C "$root" status --porcelain -- include src bench 2>/dev/null)" ]; then
  commit="$commit+dirty"
fi
echo "troupe ${version:-?} (git $commit), $("$CXX" --version | head -1), CMake Release (-O3), work-stealing scheduler, workers = nproc = $(nproc)" > "$out/VERSION"
