#!/usr/bin/env bash
# The persistence layer's kill -9 proof at full size: TRIALS (default 1,000) trials per journal
# (SQLite, then PostgreSQL on a throwaway server), each killing a writer process at a random
# moment and checking that no acknowledged event is lost, none is stored twice and recovery
# succeeds. CI runs 20 per journal through ctest; this runs the same test with more trials.
# Needs a release build of troupe_persistence_tests (cmake --build --preset release); BIN names
# another copy of it (troupe_persistence_crash_writer must lie beside it), so a long run is not
# disturbed by rebuilding.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
trials=${TRIALS:-1000}
bin=${BIN:-build/release/tests/troupe_persistence_tests}
[ -x "$bin" ] || { echo "crash-trials: build $bin first (cmake --build --preset release --target troupe_persistence_tests)" >&2; exit 1; }
pgdir=$(mktemp -d "${TMPDIR:-/tmp}/troupe-crash-pg.XXXXXX")
trap 'scripts/pg-test-cluster.sh stop "$pgdir"' EXIT
conninfo=$(scripts/pg-test-cluster.sh start "$pgdir")
TROUPE_CRASH_TRIALS=$trials "$bin" --gtest_filter='CrashRecovery.*' | grep -E 'crash trials|OK|FAILED'
TROUPE_CRASH_TRIALS=$trials TROUPE_PG_CONNINFO=$conninfo "$bin" --gtest_filter='PostgresCrashRecovery.*' |
  grep -E 'crash trials|OK|FAILED'
