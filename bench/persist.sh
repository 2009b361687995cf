#!/usr/bin/env bash
# The persistence benchmark of issue 14, medians of REPS (default 5) runs, interleaved:
#   ceiling:   ../shared/peers/persistence/sqlitefloor (a plain C++ loop, batched transactions,
#              same settings: WAL, synchronous=FULL) and pgfloor (libpq COPY), the machine's ceilings;
#              troupe-persist-floor, the same plain loop inserting the journal's own rows into its
#              table and unique index (bench/persist.md, "A same-rows ceiling")
#   troupe:    troupe-persist-bench persist / pipelined (ACTORS x EVENTS of 100 bytes) and replay
# on SQLite and on a throwaway PostgreSQL (scripts/pg-test-cluster.sh). Needs a release build of
# troupe-persist-bench. Prints one RESULT line per run, then the medians.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
reps=${REPS:-5}
actors=${ACTORS:-100}
events=${EVENTS:-10000}
replay=${REPLAY:-1000000}
peers=${PEERS:-../shared/peers/persistence}
bin=${BIN:-build/release/bench/troupe-persist-bench}
floor=${FLOOR:-build/release/bench/troupe-persist-floor}
out=$(mktemp -d "${TMPDIR:-/tmp}/troupe-persist-bench.XXXXXX")
chmod 755 "$out"  # the test server runs as nobody when we are root
trap 'scripts/pg-test-cluster.sh stop "$out/pg" >/dev/null 2>&1 || true; rm -rf "$out"' EXIT
[ -x "$bin" ] && [ -x "$floor" ] || { echo "persist.sh: build $bin and $floor first (cmake --preset release -DTROUPE_BUILD_BENCH=ON; cmake --build --preset release)" >&2; exit 1; }
g++ -O2 -o "$out/sqlitefloor" "$peers/sqlitefloor.cpp" -lsqlite3
g++ -O2 -I/usr/include/postgresql -o "$out/pgfloor" "$peers/pgfloor.cpp" -lpq
conninfo=$(scripts/pg-test-cluster.sh start "$out/pg")
total=$((actors * events))
for rep in $(seq "$reps"); do
  echo "== rep $rep"
  (cd "$out" && ./sqlitefloor "$total" 1000 FULL append && ./sqlitefloor "$total" 1000 FULL pk) | sed 's/^/sqlitefloor: /'
  TMPDIR=$out "$floor" "$total" 1000 FULL | sed 's/^/persist-floor: /'
  # the journal's own 64-row statements, where the row count allows them
  [ $((total % 64)) != 0 ] || TMPDIR=$out "$floor" "$total" 1024 FULL 64 | sed 's/^/persist-floor: /'
  "$bin" persist --actors="$actors" --events="$events"
  "$bin" pipelined --actors="$actors" --events="$events"
  "$bin" replay --events="$replay"
  "$out/pgfloor" "$conninfo" "$total" 1000 | sed 's/^/pgfloor: /'
  TROUPE_PG_CONNINFO=$conninfo "$bin" persist --actors="$actors" --events="$events"
  TROUPE_PG_CONNINFO=$conninfo "$bin" pipelined --actors="$actors" --events="$events"
  TROUPE_PG_CONNINFO=$conninfo "$bin" replay --events="$replay"
done | tee "$out/log"
echo "== medians of events_per_s"
grep '^RESULT' "$out/log" | sed 's/.*workload=\([^ ]*\).*events_per_s:\([0-9]*\).*/\1 \2/' | sort -k1,1 -k2,2n |
  awk '{v[$1]=v[$1] " " $2; n[$1]++} END {for (k in v) {split(substr(v[k],2), a, " "); print k, a[int((n[k]+1)/2)]}}' | sort
