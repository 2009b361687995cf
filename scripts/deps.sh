#!/usr/bin/env bash
# Installs the Debian 12 packages troupe needs to build and test, only those missing; with
# arguments, those packages instead (bench/compare.sh installs the peers' this way).
# Idempotent: when everything is present it touches nothing (no apt-get update, no root needed).
# Works as root on a bare minimal Debian; otherwise it uses sudo, or says what to install.
set -euo pipefail

# What each package is for (README.md "Dependencies" names the libraries and why):
packages=(
  g++             # g++ 12, the reference compiler (C++20)
  clang-14        # the second compiler: the asan preset, and the header tests compile with both
  cmake           # >= 3.25, for CMakePresets.json version 6
  ninja-build     # the generator every preset uses
  libgtest-dev    # GoogleTest, for tests/
  libboost1.81-dev  # Boost.Asio (sockets, timers, TLS) for the io layer; 1.81, not the default 1.74
  libssl-dev      # OpenSSL, for TLS in the io layer
  pkgconf         # pkg-config, for test.sh's check of the installed troupe-<layer>.pc files
  clang-14        # the asan preset's ASan/UBSan runtimes and libFuzzer (the decoders' fuzz targets)
  libclang-rt-14-dev  # libFuzzer and clang's sanitizer runtimes
  libsqlite3-dev  # SQLite, the persistence layer's embedded journal
  libpq-dev       # libpq, the persistence layer's PostgreSQL journal
  libfmt-dev      # fmt, formats log records in core (header-only, private: users need no fmt)
  postgresql-15   # a throwaway PostgreSQL server for the persistence tests (scripts/pg-test-cluster.sh)
  chromium        # the headless browser of the browser test (tests/browser, label browser)
  nodejs          # runs puppeteer-core, which drives Chromium in the browser test
  # observe (web view and troupectl):
  nlohmann-json3-dev  # JSON of the web view's API and WebSocket pushes, parsed by troupectl
  libcli11-dev    # troupectl's command line
)
# npm (for `npm ci` of tests/browser) is its own Debian package, but a nodejs from elsewhere
# (NodeSource) bundles it and conflicts with Debian's: ask for it only when no npm is there.
if [ $# -eq 0 ] && ! command -v npm >/dev/null; then packages+=(npm); fi
[ $# -eq 0 ] || packages=("$@")

missing=()
for p in "${packages[@]}"; do
  # dpkg-query, not `command -v`: a package can be half-removed ("deinstall") and still leave files.
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all present (${packages[*]})"
  exit 0
fi

echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null; then
  as_root=(sudo)
else
  echo "deps: not root and no sudo; as root, run: apt-get install ${missing[*]}" >&2
  exit 1
fi
# A fresh machine has no package lists yet; update only now that something must be installed.
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "deps: installed ${missing[*]}"
