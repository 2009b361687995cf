#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for the persistence tests (never a mock):
#   scripts/pg-test-cluster.sh start DIR [--listen ADDR] [--netns NS]
#                                         initdb in DIR/data, start it, print its connection
#                                         string (also written to DIR/conninfo)
#   scripts/pg-test-cluster.sh stop DIR    stop it and remove DIR
#   scripts/pg-test-cluster.sh down DIR    kill it (as a crash would: -m immediate), keep its data
#   scripts/pg-test-cluster.sh up DIR      start it again on the same socket and port
# By default it listens only on a Unix socket inside DIR (no TCP), on a port number chosen free
# among the sockets there, so test runs side by side never meet. With --listen ADDR it also
# listens on TCP at ADDR (an IP address; clients of ADDR's subnet are trusted), and the
# connection string names ADDR: network namespaces do not separate a Unix socket, so a test that
# cuts nodes off from the store needs one reached over the network. With --netns NS the server
# runs inside the network namespace NS (needs root; `up` starts it there again), where the port
# is free whatever runs beside: tests/cluster/partition_test.cpp puts it on one side of a split.
# Run as root, the server runs as the unprivileged system user `nobody` (PostgreSQL refuses
# root); otherwise as the caller. Uses
# Debian's postgresql-15 (scripts/deps.sh installs it). Exits non-zero, saying why, if the
# server cannot start: the tests that need it then fail rather than skip.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|down|up DIR [--listen ADDR] [--netns NS]" >&2; exit 2; }
shift 2
listen=
netns=
while [ $# -gt 0 ]; do
  case "$1" in
    --listen) listen=${2:?--listen needs an address}; shift 2 ;;
    --netns) netns=${2:?--netns needs a namespace}; shift 2 ;;
    *) echo "pg-test-cluster: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -z "$netns" ] || [ "$(id -u)" -eq 0 ] || { echo "pg-test-cluster: --netns needs root" >&2; exit 2; }
bin=/usr/lib/postgresql/15/bin

as_server() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u nobody -- "$@"
  else
    "$@"
  fi
}

# The postmaster inherits the network namespace of the pg_ctl that starts it.
in_netns_as_server() {
  if [ -n "$netns" ]; then
    ip netns exec "$netns" runuser -u nobody -- "$@"  # only root gets here (below)
  else
    as_server "$@"
  fi
}

server_start() {
  # fsync stays on: the kill -9 tests rely on durable commits. Small shared memory suits CI.
  in_netns_as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses='$listen' -c unix_socket_directories='$dir/sock' -p $port -c max_connections=50 -c shared_buffers=32MB" \
    start >/dev/null ||
    { echo "pg-test-cluster: the server did not start:" >&2; cat "$dir/server.log" >&2; exit 1; }
}

case "$cmd" in
  start)
    [ -x "$bin/initdb" ] || { echo "pg-test-cluster: $bin/initdb not found; run scripts/deps.sh (postgresql-15)" >&2; exit 1; }
    if [ -f "$dir/conninfo" ] && as_server "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      cat "$dir/conninfo"
      exit 0
    fi
    rm -rf "$dir"
    mkdir -p "$dir/sock"
    if [ "$(id -u)" -eq 0 ]; then
      chown -R nobody "$dir"
      runuser -u nobody -- test -w "$dir" ||
        { echo "pg-test-cluster: user nobody cannot reach $dir (a parent directory is not o+x)" >&2; exit 1; }
    fi
    port=54329
    while [ -e "$dir/sock/.s.PGSQL.$port" ]; do port=$((port + 1)); done
    as_server "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 ||
      { echo "pg-test-cluster: initdb failed:" >&2; cat "$dir/initdb.log" >&2; exit 1; }
    # initdb trusts TCP from localhost only; the nodes of a namespaced test come from its subnet.
    [ -z "$listen" ] || echo "host all all samenet trust" >>"$dir/data/pg_hba.conf"
    echo "$port" >"$dir/port"
    echo "$listen" >"$dir/listen"
    echo "$netns" >"$dir/netns"
    server_start
    echo "host=${listen:-$dir/sock} port=$port user=postgres dbname=postgres" | tee "$dir/conninfo"
    ;;
  down)
    # The outage tests (tests/persistence/postgres_outage_test.cpp): the server dies, the data stays.
    as_server "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
    ;;
  up)
    port=$(cat "$dir/port")
    listen=$(cat "$dir/listen" 2>/dev/null || true)
    netns=$(cat "$dir/netns" 2>/dev/null || true)
    server_start
    ;;
  stop)
    if [ -d "$dir/data" ]; then
      as_server "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|stop|down|up DIR [--listen ADDR] [--netns NS]" >&2
    exit 2
    ;;
esac
