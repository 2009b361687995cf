#!/usr/bin/env bash
# Runs troupe beside its peers (CAF, Erlang, Go) with the shared harness and writes
# bench/results.md: a summary of troupe against the best peer, then the harness's own report.
#
#     bench/compare.sh                        # every workload, REPS=5, all three peers
#     REPS=3 WORKLOADS="pingpong skynet" IMPLS="go caf" bench/compare.sh
#
# Environment (all optional):
#   PEERS_DIR  the shared harness (default: ../shared/peers beside the repository)
#   IMPLS      peers to run beside troupe (default "caf erlang go"); troupe is always added
#   REPS       runs per workload and implementation (default 5); WORKLOADS, RUN_TIMEOUT as run.sh
#   BUILD      where the harness builds and logs (default <repo>/build/peers)
#   RESULTS    the report to write (default <repo>/bench/results.md)
#
#     bench/compare.sh --report RAW.tsv...    pool earlier runs' raw.tsv files into one report
#                                             (no install, no build, no runs)
# Installs the peers' Debian packages that are missing (apt-get; as root, or through sudo),
# and nothing else. Exit status: run.sh's (0 when every run verified its result).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd -P)
root=$(cd "$here/.." && pwd -P)
PEERS_DIR=${PEERS_DIR:-$root/../shared/peers}
PEERS_DIR=$(cd "$PEERS_DIR" 2>/dev/null && pwd -P) || { echo "compare.sh: no peers directory (set PEERS_DIR)" >&2; exit 2; }
[ -x "$PEERS_DIR/run.sh" ] || { echo "compare.sh: $PEERS_DIR/run.sh missing or not executable" >&2; exit 2; }
IMPLS=${IMPLS:-caf erlang go}
BUILD=${BUILD:-$root/build/peers}
RESULTS=${RESULTS:-$root/bench/results.md}
adapter=$here/peers/troupe   # run.sh names an implementation after this directory: "troupe"
troupe=$(basename "$adapter")
pooled=()
if [ "${1:-}" = "--report" ]; then
  shift
  [ $# -gt 0 ] || { echo "usage: compare.sh --report RAW.tsv..." >&2; exit 2; }
  pooled=("$@")
fi

# --- the peers' packages, installed only when missing ---------------------------------------
install_peers() {
  local wanted=(time) impl
  for impl in $IMPLS; do
    case "$impl" in
      caf) wanted+=(libcaf-dev) ;;
      erlang) wanted+=(erlang-base) ;;
      go) wanted+=(golang-go) ;;
    esac
  done
  "$root/scripts/deps.sh" "${wanted[@]}" >&2 || { echo "compare.sh: could not install ${wanted[*]}" >&2; exit 2; }
}

# --- run (or pool earlier runs) -----------------------------------------------------------------
report=$(mktemp)
raw=$(mktemp)
trap 'rm -f "$report" "$raw"' EXIT
if [ ${#pooled[@]} -eq 0 ]; then
  install_peers
  mkdir -p "$BUILD"
  IMPLS="$IMPLS $adapter" REPS=${REPS:-5} BUILD=$BUILD "$PEERS_DIR/run.sh" > "$report"
  status=$?
  [ -s "$report" ] && [ -f "$BUILD/raw.tsv" ] || { echo "compare.sh: run.sh produced no report" >&2; exit "$status"; }
  cp "$BUILD/raw.tsv" "$raw"
else
  head -1 "${pooled[0]}" > "$raw"
  for f in "${pooled[@]}"; do tail -n +2 "$f" >> "$raw"; done
  BUILD=$BUILD "$PEERS_DIR/run.sh" --report "${pooled[@]}" > "$report"
  status=$?
fi

# --- summary: troupe against the best peer, by median wall s over verified runs ----------------
summary() {
  awk -F'\t' -v me="$troupe" '
    function median(a, n,   i, j, t) {
      for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    NR == 1 { next }
    {
      if (!($2 in seen_w)) { seen_w[$2] = 1; order[++nw] = $2 }
      if (!(($2, $3) in seen)) { seen[$2, $3] = 1; impls[$2] = impls[$2] " " $3 }
      if ($4 != 0 || $5 != 1) next
      k = $2 SUBSEP $3
      n[k]++; s[k, n[k]] = $7
      if (match($10, /bytes_per_actor:[0-9-]+/)) { nb[k]++; b[k, nb[k]] = substr($10, RSTART + 16, RLENGTH - 16) + 0 }
    }
    function med(k, arr, cnt,   i, a) { for (i = 1; i <= cnt; i++) a[i] = arr[k, i]; return median(a, cnt) }
    END {
      print "| workload | troupe median wall s | best peer | its median wall s | troupe / best peer |"
      print "| --- | ---: | --- | ---: | ---: |"
      for (i = 1; i <= nw; i++) {
        w = order[i]; best = ""; bs = 0
        nl = split(impls[w], list, " ")
        for (j = 1; j <= nl; j++) {
          im = list[j]; k = w SUBSEP im
          if (im == me || n[k] == 0) continue
          m = med(k, s, n[k])
          if (best == "" || m < bs) { best = im; bs = m }
        }
        k = w SUBSEP me
        mine = n[k] > 0 ? sprintf("%.3f", med(k, s, n[k])) : "FAIL"
        ratio = (n[k] > 0 && best != "" && bs > 0) ? sprintf("%.2f", med(k, s, n[k]) / bs) : "-"
        printf "| %s | %s | %s | %s | %s |\n", w, mine, (best == "" ? "-" : best), (best == "" ? "-" : sprintf("%.3f", bs)), ratio
      }
      line = ""
      for (i = 1; i <= nw; i++) {
        w = order[i]; nl = split(impls[w], list, " ")
        for (j = 1; j <= nl; j++) {
          im = list[j]; k = w SUBSEP im
          if (nb[k] > 0) line = line sprintf("%s%s %d", (line == "" ? "" : ", "), im, med(k, b, nb[k]))
        }
      }
      if (line != "") { print ""; print "Bytes per idle actor (median of the reported bytes_per_actor): " line "." }
    }' "$raw"
}

# The connections workload is not in the peers' harness (it needs C server processes and a load
# generator, see bench/connections.md): its last troupe-beside-Erlang table is carried over.
connections_section() {
  echo "## connections (troupe beside Erlang, from bench/connections.md)"
  echo
  awk '/^## Results/ { on = 1; next } on && /^## / { exit } on' "$root/bench/connections.md"
  echo
}

{
  echo "# troupe beside its peers"
  echo
  echo "Written by \`bench/compare.sh\` from a run of \`$(basename "$PEERS_DIR")/run.sh\` ($(date -u '+%Y-%m-%d %H:%M UTC'));"
  echo "the harness's full report follows. The goal (DESIGN.md): troupe / best peer <= 0.50 on every"
  echo "workload, under 200 bytes per idle actor. On this shared 2-core host compare rep by rep too"
  echo "(raw runs at the end): a difference under ~30% on fjcreate, fjthroughput, mailbox and counting"
  echo "can be noise."
  echo
  summary
  echo
  connections_section
  sed '1s/^# .*/## Full report (run.sh)/' "$report"
} > "$RESULTS"
echo "compare.sh: wrote $RESULTS" >&2
exit "$status"
