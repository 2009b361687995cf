#!/usr/bin/env bash
# The web benchmarks of bench/results.md ("Web"): troupe beside Erlang/OTP.
#   1. WebSockets held: troupe-bench websockets --c=$C (troupe-web-echo), then --erlang=1
#      (erlang/ws_echo.erl): bytes of user memory per connection and echo latency.
#   2. HTTP requests per second: wrk against GET /hello of troupe-web-echo (an actor route),
#      then against erlang/http_hello.erl, same flags, one after the other.
#
#     bench/web.sh                          # build/release, C=10000
#     C=100000 RATE=10000 BUILD=build/release bench/web.sh
#     ONLY=http bench/web.sh                # or ONLY=ws
#
# Environment: BUILD (default <repo>/build/release; must hold bench/troupe-bench, built with
# `cmake --preset release -DTROUPE_BUILD_BENCH=ON` and `cmake --build --preset release`), C (10000), RATE (2000 echoes/s),
# SECONDS_RUN (10), WRK_THREADS (1), WRK_CONNS (64), WRK_SECONDS (10).
# Installs what only these benchmarks need, when missing: erlang-base, erlang-crypto (the Erlang
# peers; SHA-1 of the WebSocket handshake) and wrk (the HTTP load generator): scripts/deps.sh
# with those names; the project's default setup does not install them.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd -P)
root=$(cd "$here/.." && pwd -P)
BUILD=${BUILD:-$root/build/release}
C=${C:-10000}
RATE=${RATE:-2000}
SECONDS_RUN=${SECONDS_RUN:-10}
WRK_THREADS=${WRK_THREADS:-1}
WRK_CONNS=${WRK_CONNS:-64}
WRK_SECONDS=${WRK_SECONDS:-10}
ONLY=${ONLY:-}
bin=$BUILD/bench
[ -x "$bin/troupe-bench" ] && [ -x "$bin/troupe-web-echo" ] ||
  { echo "web.sh: build troupe-bench first (cmake --preset release -DTROUPE_BUILD_BENCH=ON; cmake --build --preset release --target troupe-bench troupe-web-echo)" >&2; exit 2; }
"$root/scripts/deps.sh" erlang-base erlang-crypto wrk >&2 || { echo "web.sh: could not install the peers" >&2; exit 2; }

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
if [ "$ONLY" != http ]; then
  for erl in 0 1; do
    "$bin/troupe-bench" websockets --c="$C" --rate="$RATE" --seconds="$SECONDS_RUN" --erlang=$erl || status=1
    echo "# load average $(cut -d' ' -f1-3 /proc/loadavg)"
  done
fi
[ "$ONLY" = ws ] && exit $status

# Starts a server whose standard input is held by fd 3 (closing it stops the server); sets port.
tmp=$(mktemp -d)
trap 'exec 3>&- 2>/dev/null; rm -rf "$tmp"' EXIT
serve() {
  rm -f "$tmp/in" "$tmp/out"
  mkfifo "$tmp/in"
  "$@" < "$tmp/in" > "$tmp/out" &
  server_pid=$!
  exec 3> "$tmp/in"
  for _ in $(seq 100); do
    port=$(awk '/^READY/ {print $2; exit}' "$tmp/out")
    [ -n "$port" ] && return 0
    sleep 0.1  # a script waiting for a server to say READY, not a test
  done
  echo "web.sh: $1 did not start" >&2
  return 1
}
stop() { exec 3>&-; wait "$server_pid" 2>/dev/null; }
load() {
  echo "## $1: wrk -t$WRK_THREADS -c$WRK_CONNS -d${WRK_SECONDS}s http://127.0.0.1:$port/hello"
  wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$WRK_SECONDS"s --latency "http://127.0.0.1:$port/hello" | sed -n '/Latency/p;/50%/p;/99%/p;/Requests\/sec/p;/Non-2xx/p;/Socket errors/p'
  echo "# load average $(cut -d' ' -f1-3 /proc/loadavg)"
}
serve "$bin/troupe-web-echo" --port=0 && { load "troupe (GET /hello: a route to an actor)"; stop; } || status=1
erlc -o "$tmp" "$here/erlang/http_hello.erl" || exit 2
serve erl -noshell -pa "$tmp" -s http_hello main 0 && { load "Erlang/OTP (gen_tcp, {packet, http_bin})"; stop; } || status=1
exit $status
