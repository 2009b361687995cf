#!/usr/bin/env bash
# The cluster's chaos run at full size (issue 15): three nodes on one store, two of them
# killed (kill -9, then started again) or frozen (SIGSTOP, SIGCONT) at seeded random times for
# SECONDS (default 60) under RATE (2,000) durable adds per second to GRAINS (100,000) grains;
# prints the faults, the calls, the acknowledged adds lost (must be 0) and the time calls kept
# failing after each fault. STORE=sqlite (default: a file) or postgres (a throwaway server from
# scripts/pg-test-cluster.sh, started and removed here). Not a CTest test (it runs for
# minutes): tests/cluster/chaos_main.cpp.
# Needs a release build: cmake --build --preset release --target troupe_cluster_chaos.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=build/release/tests/troupe_cluster_chaos
[ -x "$bin" ] || { echo "cluster-chaos: build $bin first (cmake --build --preset release --target troupe_cluster_chaos)" >&2; exit 1; }
args=(--seconds="${SECONDS_OF_CHAOS:-60}" --grains="${GRAINS:-100000}" --rate="${RATE:-2000}" --seed="${SEED:-1}")
case "${STORE:-sqlite}" in
  sqlite) exec "$bin" "${args[@]}" ;;
  postgres)
    # A throwaway server (scripts/pg-test-cluster.sh), removed when the run ends.
    pg=$(mktemp -d /tmp/troupe-chaos-pg.XXXXXX)
    chmod o+x "$pg"
    trap 'scripts/pg-test-cluster.sh stop "$pg/server" >/dev/null 2>&1 || true; rm -rf "$pg"' EXIT
    scripts/pg-test-cluster.sh start "$pg/server" >/dev/null
    "$bin" "${args[@]}" --store="pgfile:$pg/server/conninfo"
    ;;
  *) echo "cluster-chaos: STORE is sqlite or postgres, not '$STORE'" >&2; exit 2 ;;
esac
