// postgres_storage.cpp: libpq, pipelined batches, binary results.
#include "troupe/persistence/postgres_storage.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "postgres_schema.hpp"

namespace troupe::persistence {

namespace {

struct result_deleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using pg_result = std::unique_ptr<PGresult, result_deleter>;

// Any constant will do: writers of one database serialize their transactions on it so that
// orderings commit in increasing order (see postgres_schema.sql).
constexpr const char* lock_sql = "SELECT pg_advisory_xact_lock(7291042)";

// One request's events in one statement: the WHERE checks the expected sequence number against
// what is stored (deleted events included); ON CONFLICT makes a racing writer's rows count
// zero instead of aborting the batch's transaction.
constexpr const char* insert_sql = R"sql(
WITH ins AS (
  INSERT INTO troupe_events(persistence_id, sequence_nr, manifest, version, tags, payload)
  SELECT $1, x.seq, x.manifest, x.version, x.tags, decode(x.payload, 'hex')
  FROM unnest($3::bigint[], $4::text[], $5::int[], $6::text[], $7::text[]) AS x(seq, manifest, version, tags, payload)
  WHERE coalesce(greatest((SELECT max(sequence_nr) FROM troupe_events WHERE persistence_id = $1),
                          (SELECT highest FROM troupe_deleted WHERE persistence_id = $1)), 0) = $2::bigint - 1
  ON CONFLICT (persistence_id, sequence_nr) DO NOTHING
  RETURNING ordering, sequence_nr, tags),
tagged AS (
  INSERT INTO troupe_event_tags(tag, ordering)
  SELECT t, ins.ordering FROM ins, unnest(string_to_array(ins.tags, E'\x1f')) AS t WHERE ins.tags <> '')
SELECT ordering, sequence_nr FROM ins)sql";

constexpr const char* event_columns = "ordering, persistence_id, sequence_nr, manifest, version, tags, payload";

constexpr char tag_separator = '\x1f';

errc code_of_state(const char* state) {
  if (!state) return errc::unavailable;  // no server answer at all: the connection broke
  std::string s(state);
  if (s.rfind("53", 0) == 0) return errc::storage_full;  // disk full, out of memory, too many connections
  if (s.rfind("08", 0) == 0 || s.rfind("57P", 0) == 0) return errc::unavailable;
  if (s == "XX001" || s == "XX002") return errc::corrupt;
  return errc::storage_error;
}

troupe::error fail(PGconn* c, const PGresult* r, const std::string& what) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string msg = r ? PQresultErrorMessage(r) : (c ? PQerrorMessage(c) : "no connection");
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  errc code = (c && PQstatus(c) != CONNECTION_OK) ? errc::unavailable : code_of_state(state);
  return troupe::error{code, what + ": " + msg};
}

std::string text(std::uint64_t v) {
  return std::to_string(std::min<std::uint64_t>(v, std::numeric_limits<std::int64_t>::max()));
}

// An element of a PostgreSQL array literal, quoted: backslash and quote are escaped.
void append_quoted(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

void append_hex(std::string& out, const bytes& b) {
  static constexpr char digits[] = "0123456789abcdef";
  for (auto c : b) {
    auto u = static_cast<unsigned char>(c);
    out += digits[u >> 4];
    out += digits[u & 15];
  }
}

std::string join_tags(const std::vector<std::string>& tags) {
  std::string out;
  for (const auto& t : tags) {
    if (!out.empty()) out += tag_separator;
    out += t;
  }
  return out;
}

std::vector<std::string> split_tags(std::string_view s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  std::size_t start = 0;
  for (;;) {
    auto pos = s.find(tag_separator, start);
    out.emplace_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

// Binary results: integers arrive in network byte order.
std::uint64_t int8_at(const PGresult* r, int row, int col) {
  auto p = reinterpret_cast<const unsigned char*>(PQgetvalue(r, row, col));
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}
std::uint32_t int4_at(const PGresult* r, int row, int col) {
  auto p = reinterpret_cast<const unsigned char*>(PQgetvalue(r, row, col));
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
std::string text_at(const PGresult* r, int row, int col) {
  return std::string(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
}
bytes bytes_at(const PGresult* r, int row, int col) {
  return bytes(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
}

// Checks a row's shape (binary widths), so that a damaged row is reported, not misread.
result<persistent_event> event_row(const PGresult* r, int row) {
  if (PQnfields(r) != 7 || PQgetlength(r, row, 0) != 8 || PQgetlength(r, row, 2) != 8 || PQgetlength(r, row, 4) != 4 ||
      PQgetisnull(r, row, 6))
    return troupe::error{errc::corrupt, "an event row has the wrong shape"};
  persistent_event e;
  e.offset = int8_at(r, row, 0);
  e.persistence_id = text_at(r, row, 1);
  e.sequence_nr = int8_at(r, row, 2);
  e.manifest = text_at(r, row, 3);
  e.version = int4_at(r, row, 4);
  e.tags = split_tags(text_at(r, row, 5));
  e.payload = bytes_at(r, row, 6);
  return e;
}

// Parameters of one statement: text, or binary for bytea.
struct params {
  std::vector<std::string> values;
  std::vector<int> binary;
  params& add(std::string v, bool bin = false) {
    values.push_back(std::move(v));
    binary.push_back(bin ? 1 : 0);
    return *this;
  }
  params& add_binary(const bytes& b) { return add(b, true); }
};

int send(PGconn* c, const char* sql, const params& p) {
  std::vector<const char*> v;
  std::vector<int> len;
  for (const auto& s : p.values) {
    v.push_back(s.data());
    len.push_back(static_cast<int>(s.size()));
  }
  return PQsendQueryParams(c, sql, static_cast<int>(v.size()), nullptr, v.data(), len.data(), p.binary.data(), 1);
}

int send_prepared(PGconn* c, const char* name, const params& p) {
  std::vector<const char*> v;
  std::vector<int> len;
  for (const auto& s : p.values) {
    v.push_back(s.data());
    len.push_back(static_cast<int>(s.size()));
  }
  return PQsendQueryPrepared(c, name, static_cast<int>(v.size()), v.data(), len.data(), p.binary.data(), 1);
}

pg_result exec(PGconn* c, const char* sql, const params& p = {}) {
  std::vector<const char*> v;
  std::vector<int> len;
  for (const auto& s : p.values) {
    v.push_back(s.data());
    len.push_back(static_cast<int>(s.size()));
  }
  return pg_result(PQexecParams(c, sql, static_cast<int>(v.size()), nullptr, v.data(), len.data(), p.binary.data(), 1));
}

bool ok(const pg_result& r) {
  auto s = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

// Requests per pipeline round trip: bounded so that neither side's socket buffer fills while
// the other is still writing (libpq's documented pipeline deadlock).
constexpr std::size_t pipeline_chunk = 256;

}  // namespace

result<std::shared_ptr<postgres_storage>> postgres_storage::open(const std::string& conninfo, postgres_options opts) {
  std::shared_ptr<postgres_storage> s(new postgres_storage(conninfo, std::move(opts)));
  if (auto r = s->connect(); !r) return r.error();
  return s;
}

postgres_storage::postgres_storage(std::string conninfo, postgres_options opts)
    : conninfo_(std::move(conninfo)), opts_(std::move(opts)) {}

postgres_storage::~postgres_storage() {
  if (conn_) PQfinish(conn_);
}

result<void> postgres_storage::connect() {
  disconnect();
  // A connection that fails any step below is dropped, not kept half set up (without its
  // prepared statement, every later write would fail on a connection that looks fine).
  auto r = set_up();
  if (!r) disconnect();
  return r;
}

void postgres_storage::disconnect() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
}

result<void> postgres_storage::set_up() {
  conn_ = PQconnectdb(conninfo_.c_str());
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn_);
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return troupe::error{errc::unavailable, "cannot connect to PostgreSQL: " + msg};
  }
  // The server's notices ("relation already exists, skipping") are not for the user's stderr.
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  if (!opts_.schema.empty()) {
    std::unique_ptr<char, decltype(&PQfreemem)> ident(
        PQescapeIdentifier(conn_, opts_.schema.data(), opts_.schema.size()), &PQfreemem);
    // Under the writers' lock: two sessions running CREATE SCHEMA IF NOT EXISTS at once can
    // still collide in the catalog (a killed client's session may still be running it).
    std::string sql = std::string("BEGIN; ") + lock_sql + "; CREATE SCHEMA IF NOT EXISTS " + ident.get() +
                      "; COMMIT; SET search_path TO " + ident.get();
    pg_result r(PQexec(conn_, sql.c_str()));
    if (!ok(r)) {
      auto e = fail(conn_, r.get(), "creating schema '" + opts_.schema + "'");
      pg_result rb(PQexec(conn_, "ROLLBACK"));
      return e;
    }
  }
  // Concurrent CREATE ... IF NOT EXISTS can still collide in the catalog; the lock avoids that.
  pg_result r(PQexec(conn_, (std::string("BEGIN; ") + lock_sql + "; " + detail::postgres_schema + "; COMMIT").c_str()));
  if (!ok(r)) {
    auto e = fail(conn_, r.get(), "creating the journal's tables");
    pg_result rb(PQexec(conn_, "ROLLBACK"));
    return e;
  }
  // Parsed and planned once per connection, not once per request of every batch.
  pg_result p(PQprepare(conn_, "troupe_insert", insert_sql, 0, nullptr));
  if (!ok(p)) return fail(conn_, p.get(), "preparing the append statement");
  return {};
}

result<void> postgres_storage::connected() {
  if (conn_ && PQstatus(conn_) == CONNECTION_OK) return {};
  return connect();  // one reconnect per call: a server back up is used again, a down one reported
}

std::vector<result<void>> postgres_storage::write(std::span<write_request> requests) {
  if (auto c = connected(); !c) return std::vector<result<void>>(requests.size(), c.error());
  std::vector<bool> conflicted(requests.size(), false);
  // A request whose rows only partly went in (another process wrote some of its sequence numbers
  // at the same time) cannot be undone alone: the batch is rolled back and retried without it.
  for (;;) {
    auto before = std::count(conflicted.begin(), conflicted.end(), true);
    auto out = write_batch(requests, conflicted);
    if (std::count(conflicted.begin(), conflicted.end(), true) == before) return out;
  }
}

std::vector<result<void>> postgres_storage::write_batch(std::span<write_request> requests, std::vector<bool>& conflicted) {
  std::vector<result<void>> out(requests.size());
  auto all_fail = [&](troupe::error e) {
    for (std::size_t i = 0; i < requests.size(); ++i)
      if (!conflicted[i]) out[i] = e;
    // A failed batch may leave results unread (so the pipeline cannot be left) or the
    // transaction open; a connection in either state would fail every later call while
    // PQstatus still says it is fine. Only a connection known clean is kept; any other is
    // dropped, and the next call connects afresh (the server killed and back: see
    // postgres_outage_test.cpp).
    bool clean = PQstatus(conn_) == CONNECTION_OK &&
                 (PQpipelineStatus(conn_) == PQ_PIPELINE_OFF || PQexitPipelineMode(conn_) == 1);
    if (clean) clean = ok(pg_result(PQexec(conn_, "ROLLBACK")));
    if (!clean) disconnect();
    return out;
  };
  for (std::size_t i = 0; i < requests.size(); ++i)
    if (conflicted[i])
      out[i] = troupe::error{errc::sequence_conflict, "'" + requests[i].persistence_id +
                                                          "' was written by another writer at the same time"};
  if (!PQenterPipelineMode(conn_)) return all_fail(fail(conn_, nullptr, "entering pipeline mode"));
  std::vector<std::size_t> pending;  // request indexes sent in this round trip
  bool begun = false;
  bool partial = false;
  for (std::size_t next = 0; next < requests.size() || !begun;) {
    pending.clear();
    if (!begun) {
      send(conn_, "BEGIN", {});
      send(conn_, lock_sql, {});
    }
    for (; next < requests.size() && pending.size() < pipeline_chunk; ++next) {
      if (conflicted[next]) continue;
      auto& w = requests[next];
      std::string seqs = "{", manifests = "{", versions = "{", tags = "{", payloads = "{";
      for (std::size_t k = 0; k < w.events.size(); ++k) {
        const auto& e = w.events[k];
        if (k) {
          seqs += ',', manifests += ',', versions += ',', tags += ',', payloads += ',';
        }
        seqs += text(e.sequence_nr);
        append_quoted(manifests, e.manifest);
        versions += std::to_string(e.version);
        append_quoted(tags, join_tags(e.tags));
        payloads += '"';  // quoted: an empty payload is an empty string, not a malformed element
        append_hex(payloads, e.payload);
        payloads += '"';
      }
      seqs += '}', manifests += '}', versions += '}', tags += '}', payloads += '}';
      send_prepared(conn_, "troupe_insert",
           params{}
               .add(w.persistence_id)
               .add(text(w.expected_next))
               .add(std::move(seqs))
               .add(std::move(manifests))
               .add(std::move(versions))
               .add(std::move(tags))
               .add(std::move(payloads)));
      pending.push_back(next);
    }
    if (!PQpipelineSync(conn_)) return all_fail(fail(conn_, nullptr, "sending a batch"));
    // Results come in the order sent: BEGIN and the lock first (once), then one per request.
    std::size_t expected = pending.size() + (begun ? 0 : 2);
    std::optional<troupe::error> first_error;
    for (std::size_t q = 0; q < expected; ++q) {
      pg_result r(PQgetResult(conn_));
      if (!r) return all_fail(fail(conn_, nullptr, "reading a batch's results"));
      auto st = PQresultStatus(r.get());
      if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && !first_error)
        first_error = fail(conn_, r.get(), "appending events");
      if (first_error == std::nullopt && st == PGRES_TUPLES_OK && q >= expected - pending.size()) {
        std::size_t i = pending[q - (expected - pending.size())];
        auto& w = requests[i];
        auto rows = static_cast<std::size_t>(PQntuples(r.get()));
        if (rows == w.events.size()) {
          for (std::size_t row = 0; row < rows; ++row) {
            auto seq = int8_at(r.get(), static_cast<int>(row), 1);
            if (seq >= w.expected_next && seq - w.expected_next < w.events.size())
              w.events[seq - w.expected_next].offset = int8_at(r.get(), static_cast<int>(row), 0);
          }
        } else if (rows == 0) {
          out[i] = troupe::error{errc::sequence_conflict, "'" + w.persistence_id + "' expected next " +
                                                              std::to_string(w.expected_next) + " is taken"};
        } else {
          conflicted[i] = true;
          partial = true;
        }
      }
      while (pg_result rest{PQgetResult(conn_)}) {
      }  // the NULL that ends each query's results
    }
    pg_result sync(PQgetResult(conn_));
    if (!sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC)
      return all_fail(fail(conn_, sync.get(), "reading a batch's sync point"));
    begun = true;
    if (first_error) return all_fail(*first_error);
  }
  PQexitPipelineMode(conn_);
  if (partial) {
    pg_result(PQexec(conn_, "ROLLBACK"));
    return out;  // the caller retries without the conflicted requests
  }
  pg_result c(PQexec(conn_, "COMMIT"));
  if (!ok(c)) return all_fail(fail(conn_, c.get(), "committing a batch"));
  return out;
}

result<std::vector<persistent_event>> postgres_storage::read(const std::string& id, std::uint64_t from,
                                                             std::uint64_t to, std::uint64_t max) {
  if (auto c = connected(); !c) return c.error();
  std::string sql = std::string("SELECT ") + event_columns +
                    " FROM troupe_events WHERE persistence_id = $1 AND sequence_nr BETWEEN $2 AND $3"
                    " ORDER BY sequence_nr LIMIT $4";
  auto r = exec(conn_, sql.c_str(), params{}.add(id).add(text(from)).add(text(to)).add(text(max)));
  if (!ok(r)) return fail(conn_, r.get(), "reading events of '" + id + "'");
  std::vector<persistent_event> out;
  out.reserve(static_cast<std::size_t>(PQntuples(r.get())));
  for (int row = 0; row < PQntuples(r.get()); ++row) {
    auto e = event_row(r.get(), row);
    if (!e) return e.error();
    out.push_back(std::move(*e));
  }
  return out;
}

result<std::uint64_t> postgres_storage::highest_sequence_nr(const std::string& id) {
  if (auto c = connected(); !c) return c.error();
  auto r = exec(conn_,
                "SELECT coalesce(greatest((SELECT max(sequence_nr) FROM troupe_events WHERE persistence_id = $1),"
                " (SELECT highest FROM troupe_deleted WHERE persistence_id = $1)), 0)::bigint",
                params{}.add(id));
  if (!ok(r)) return fail(conn_, r.get(), "reading the highest sequence number of '" + id + "'");
  return int8_at(r.get(), 0, 0);
}

result<void> postgres_storage::delete_up_to(const std::string& id, std::uint64_t to) {
  auto h = highest_sequence_nr(id);
  if (!h) return h.error();
  auto r = exec(conn_,
                "WITH d AS (INSERT INTO troupe_deleted(persistence_id, highest) VALUES($1, $2)"
                " ON CONFLICT (persistence_id) DO UPDATE SET highest = greatest(troupe_deleted.highest, excluded.highest)),"
                " e AS (DELETE FROM troupe_events WHERE persistence_id = $1 AND sequence_nr <= $3 RETURNING ordering)"
                " DELETE FROM troupe_event_tags WHERE ordering IN (SELECT ordering FROM e)",
                params{}.add(id).add(text(*h)).add(text(to)));
  if (!ok(r)) return fail(conn_, r.get(), "deleting events of '" + id + "'");
  return {};
}

result<std::vector<persistent_event>> postgres_storage::read_by_tag(const std::string& tag, std::uint64_t after,
                                                                    std::uint64_t max) {
  if (auto c = connected(); !c) return c.error();
  auto r = exec(conn_,
                "SELECT e.ordering, e.persistence_id, e.sequence_nr, e.manifest, e.version, e.tags, e.payload"
                " FROM troupe_event_tags t JOIN troupe_events e ON e.ordering = t.ordering"
                " WHERE t.tag = $1 AND t.ordering > $2 ORDER BY t.ordering LIMIT $3",
                params{}.add(tag).add(text(after)).add(text(max)));
  if (!ok(r)) return fail(conn_, r.get(), "reading events tagged '" + tag + "'");
  std::vector<persistent_event> out;
  for (int row = 0; row < PQntuples(r.get()); ++row) {
    auto e = event_row(r.get(), row);
    if (!e) return e.error();
    out.push_back(std::move(*e));
  }
  return out;
}

result<void> postgres_storage::save_snapshot(const snapshot& s, std::uint32_t keep) {
  if (auto c = connected(); !c) return c.error();
  auto r = exec(conn_,
                "INSERT INTO troupe_snapshots(persistence_id, sequence_nr, manifest, version, payload)"
                " VALUES($1, $2, $3, $4, $5) ON CONFLICT (persistence_id, sequence_nr) DO UPDATE"
                " SET manifest = excluded.manifest, version = excluded.version, payload = excluded.payload",
                params{}.add(s.persistence_id).add(text(s.sequence_nr)).add(s.manifest).add(std::to_string(s.version)).add_binary(s.payload));
  if (!ok(r)) return fail(conn_, r.get(), "saving a snapshot of '" + s.persistence_id + "'");
  if (keep > 0) {
    auto t = exec(conn_,
                  "DELETE FROM troupe_snapshots WHERE persistence_id = $1 AND sequence_nr NOT IN"
                  " (SELECT sequence_nr FROM troupe_snapshots WHERE persistence_id = $1 ORDER BY sequence_nr DESC LIMIT $2)",
                  params{}.add(s.persistence_id).add(std::to_string(keep)));
    if (!ok(t)) return fail(conn_, t.get(), "deleting old snapshots of '" + s.persistence_id + "'");
  }
  return {};
}

result<std::optional<snapshot>> postgres_storage::load_snapshot(const std::string& id) {
  if (auto c = connected(); !c) return c.error();
  auto r = exec(conn_,
                "SELECT sequence_nr, manifest, version, payload FROM troupe_snapshots WHERE persistence_id = $1"
                " ORDER BY sequence_nr DESC LIMIT 1",
                params{}.add(id));
  if (!ok(r)) return fail(conn_, r.get(), "loading a snapshot of '" + id + "'");
  if (PQntuples(r.get()) == 0) return std::optional<snapshot>{};
  return std::optional<snapshot>{
      snapshot{id, int8_at(r.get(), 0, 0), text_at(r.get(), 0, 1), int4_at(r.get(), 0, 2), bytes_at(r.get(), 0, 3)}};
}

result<std::optional<durable_state>> postgres_storage::get_state(const std::string& id) {
  if (auto c = connected(); !c) return c.error();
  auto r = exec(conn_, "SELECT revision, manifest, version, payload FROM troupe_durable_state WHERE persistence_id = $1",
                params{}.add(id));
  if (!ok(r)) return fail(conn_, r.get(), "reading the durable state of '" + id + "'");
  if (PQntuples(r.get()) == 0) return std::optional<durable_state>{};
  return std::optional<durable_state>{
      durable_state{id, int8_at(r.get(), 0, 0), text_at(r.get(), 0, 1), int4_at(r.get(), 0, 2), bytes_at(r.get(), 0, 3)}};
}

result<void> postgres_storage::upsert_state(const durable_state& s) {
  if (auto c = connected(); !c) return c.error();
  // Revision 1 inserts, later ones update the row at the previous revision; a racing writer
  // leaves no row changed, which is the conflict.
  const char* sql = s.revision == 1
                        ? "INSERT INTO troupe_durable_state(persistence_id, revision, manifest, version, payload)"
                          " VALUES($1, $2, $3, $4, $5) ON CONFLICT (persistence_id) DO NOTHING"
                        : "UPDATE troupe_durable_state SET revision = $2, manifest = $3, version = $4, payload = $5"
                          " WHERE persistence_id = $1 AND revision = $2::bigint - 1";
  auto r = exec(conn_, sql,
                params{}.add(s.persistence_id).add(text(s.revision)).add(s.manifest).add(std::to_string(s.version)).add_binary(s.payload));
  if (!ok(r)) return fail(conn_, r.get(), "saving the durable state of '" + s.persistence_id + "'");
  if (std::string(PQcmdTuples(r.get())) == "0")
    return troupe::error{errc::revision_conflict, "'" + s.persistence_id + "' is not at revision " +
                                                      std::to_string(s.revision - 1) + "; reload it and retry"};
  return {};
}

}  // namespace troupe::persistence
