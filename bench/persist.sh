#!/usr/bin/env bash
# The persistence benchmark of issue 14, medians of REPS (default 5) runs, interleaved:
#   ceiling:   ../shared/peers/persistence/sqlitefloor (a plain C++ loop, batched transactions,
#              same settings: WAL, synchronous=FULL) and pgfloor (libpq COPY), the machine's ceilings;
#              troupe-persist-floor, the same plain loop inserting the journal's own rows into its
#              table and unique index (bench/persist.md, "A same-rows ceiling")
#   troupe:    troupe-persist-bench persist / pipelined (ACTORS x EVENTS of 100 bytes) and replay
# on SQLite and on a throwaway PostgreSQL (scripts/pg-test-cluster.sh). Needs a release build of
# troupe-persist-bench. Prints one RESULT line per run, then the medians and, per rep, the ratios
# to the ceilings. JOURNALS="postgres" (or "sqlite") runs one journal only; BASE_BIN names another
# build of troupe-persist-bench (say main's, before a change) whose pipelined shape then runs in
# each rep too, just before this build's, reported as workload pipelined_<journal>_base.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
reps=${REPS:-5}
actors=${ACTORS:-100}
events=${EVENTS:-10000}
replay=${REPLAY:-1000000}
peers=${PEERS:-../shared/peers/persistence}
bin=${BIN:-build/release/bench/troupe-persist-bench}
floor=${FLOOR:-build/release/bench/troupe-persist-floor}
journals=${JOURNALS:-sqlite postgres}
base=${BASE_BIN:-}
has() { case " $journals " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
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
  if has sqlite; then
    (cd "$out" && ./sqlitefloor "$total" 1000 FULL append && ./sqlitefloor "$total" 1000 FULL pk) | sed 's/^/sqlitefloor: /'
    TMPDIR=$out "$floor" "$total" 1000 FULL | sed 's/^/persist-floor: /'
    # the journal's own 64-row statements, where the row count allows them
    [ $((total % 64)) != 0 ] || TMPDIR=$out "$floor" "$total" 1024 FULL 64 | sed 's/^/persist-floor: /'
    "$bin" persist --actors="$actors" --events="$events"
    [ -z "$base" ] || "$base" pipelined --actors="$actors" --events="$events" | sed 's/workload=pipelined_sqlite/&_base/'
    "$bin" pipelined --actors="$actors" --events="$events"
    "$bin" replay --events="$replay"
  fi
  if has postgres; then
    "$out/pgfloor" "$conninfo" "$total" 1000 | sed 's/^/pgfloor: /'
    TROUPE_PG_CONNINFO=$conninfo "$bin" persist --actors="$actors" --events="$events"
    [ -z "$base" ] || TROUPE_PG_CONNINFO=$conninfo "$base" pipelined --actors="$actors" --events="$events" |
      sed 's/workload=pipelined_postgres/&_base/'
    TROUPE_PG_CONNINFO=$conninfo "$bin" pipelined --actors="$actors" --events="$events"
    TROUPE_PG_CONNINFO=$conninfo "$bin" replay --events="$replay"
  fi
done | tee "$out/log"
echo "== medians of events_per_s"
grep '^RESULT' "$out/log" | sed 's/.*workload=\([^ ]*\).*events_per_s:\([0-9]*\).*/\1 \2/' | sort -k1,1 -k2,2n |
  awk '{v[$1]=v[$1] " " $2; n[$1]++} END {for (k in v) {split(substr(v[k],2), a, " "); print k, a[int((n[k]+1)/2)]}}' | sort
echo "== per rep: pipelined / ceiling (sqlite: the peers' append loop; postgres: pgfloor's COPY)"
awk '/^== rep/ {rep=$3}
     /^sqlitefloor: .*append/ {for (i=1;i<=NF;i++) if ($i ~ /^rows\/s/) {sf[rep]=$(i-1); break}}
     /^pgfloor: / {for (i=1;i<=NF;i++) if ($i ~ /^rows\/s/) {pf[rep]=$(i-1); break}}
     /^RESULT workload=pipelined_/ {w=$2; sub(/workload=pipelined_/,"",w); v=$0; sub(/.*events_per_s:/,"",v); p[rep, w]=v; ws[w]=1}
     END {for (r=1; r<=rep; r++) for (w in ws) {c=(w ~ /^postgres/) ? pf[r] : sf[r]; if (c>0 && p[r,w]>0) printf "rep %d %s %.2f\n", r, w, p[r,w]/c}}' "$out/log" | sort -k3,3 -k2,2n
