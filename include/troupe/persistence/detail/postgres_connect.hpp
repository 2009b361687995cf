// postgres_connect.hpp: how troupe opens a libpq connection (persistence's postgres_storage and
// the cluster's membership store), so that both wait a bounded time on a network that is gone.
#pragma once

#include <string>

struct pg_conn;  // libpq's PGconn; its header stays out of troupe's headers

namespace troupe::persistence::detail {

/// Defaults put before the caller's conninfo, which may override any of them: libpq itself waits
/// as long as TCP does (about 15 minutes on Linux) for a server whose link was cut, and a store
/// call that never returns would hold its thread (a journal, a node's cluster thread) that long.
/// connect_timeout 5 s; tcp_user_timeout 5,000 ms (data unacknowledged that long ends the
/// connection); keepalives after 5 s idle, every 1 s, 3 lost: a silent link ends in about 8 s.
/// TCP only: a Unix socket ignores them. Example:
///     PGconn* c = troupe::persistence::detail::postgres_connect("host=db port=5432 dbname=app");
inline constexpr const char* postgres_connection_defaults =
    "connect_timeout=5 tcp_user_timeout=5000 keepalives=1 keepalives_idle=5 keepalives_interval=1 keepalives_count=3";

/// PQconnectdb(conninfo) with postgres_connection_defaults underneath; the result as PQconnectdb's
/// (check PQstatus). conninfo is a key=value string or a postgresql:// URI.
pg_conn* postgres_connect(const std::string& conninfo);

}  // namespace troupe::persistence::detail
