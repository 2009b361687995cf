// postgres_storage.cpp: libpq, pipelined batches, binary results.
#include "troupe/persistence/postgres_storage.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string_view>
#include <unordered_map>

#include "postgres_schema.hpp"
#include "troupe/persistence/detail/postgres_connect.hpp"

namespace troupe::persistence {

namespace {

struct result_deleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using pg_result = std::unique_ptr<PGresult, result_deleter>;

// Any constant will do: writers of one database serialize their transactions on it so that
// orderings commit in increasing order (see postgres_schema.sql).
constexpr const char* lock_sql = "SELECT pg_advisory_xact_lock(7291042)";

// A batch's statements, per group of requests (see write):
// 1. Offsets for all of its rows at once, taken from the ordering sequence. Under the writers'
//    lock no troupe writer takes offsets meanwhile, so they are consecutive and commit in
//    increasing order.
constexpr const char* reserve_sql =
    "SELECT setval(pg_get_serial_sequence('troupe_events', 'ordering'),"
    " nextval(pg_get_serial_sequence('troupe_events', 'ordering')) + $1::bigint - 1)";
// 2. One run per id (a chain: the group's requests of that id, each continuing the previous),
//    inserted only if the id's highest sequence number (its newest run's last, or the highest
//    ever deleted) is the one before the run's first. Under the writers' lock that check is exact
//    (every troupe writer takes the lock, and the statement's snapshot is taken after it is held).
//    A writer that skips the lock shows up as a run that starts at the same number: the insert
//    waits for that writer's transaction and, once it commits, skips our run (ON CONFLICT DO
//    NOTHING), so only that id's requests fail. The runs returned are the ids whose events go in.
//    (The newest run is the one with the greatest first_seq: runs of one id do not overlap, and
//    reading one index entry keeps the check from scanning an id's runs.)
constexpr const char* runs_sql = R"sql(
INSERT INTO troupe_events_by_id(persistence_id, first_seq, last_seq, first_ordering)
SELECT c.pid, c.first_seq, c.last_seq, c.first_ordering
FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS c(pid, first_seq, last_seq, first_ordering)
WHERE coalesce(greatest((SELECT r.last_seq FROM troupe_events_by_id r WHERE r.persistence_id = c.pid
                         ORDER BY r.first_seq DESC LIMIT 1),
                        (SELECT d.highest_seq FROM troupe_deleted d WHERE d.persistence_id = c.pid)), 0) = c.first_seq - 1
ON CONFLICT DO NOTHING
RETURNING persistence_id)sql";
// 3. The events of those runs, in COPY's binary format: no parsing in the server, inserted a
//    page at a time, and (layout 2) into no index but the ordering's.
constexpr const char* copy_sql =
    "COPY troupe_events(ordering, persistence_id, sequence_nr, manifest, version, tags, payload) FROM STDIN (FORMAT binary)";

// An id's highest sequence number: its newest run's last, or the highest it had when its events
// were deleted (runs wholly deleted are gone).
constexpr const char* highest_sql =
    "SELECT coalesce(greatest((SELECT last_seq FROM troupe_events_by_id WHERE persistence_id = $1"
    " ORDER BY first_seq DESC LIMIT 1), (SELECT highest_seq FROM troupe_deleted WHERE persistence_id = $1)), 0)::bigint";

// Layout 1 (before 2026-12-07: a unique key on (persistence_id, sequence_nr), no runs) is
// recognized by its events table without the runs table, before the schema script creates it.
constexpr const char* layout_1_sql =
    "SELECT to_regclass('troupe_events') IS NOT NULL AND to_regclass('troupe_events_by_id') IS NULL";
// Layout 1 to 2, after the schema script, in its transaction: the stored events become runs (a
// run starts wherever an event does not follow the previous one of its id by one in both
// sequence number and ordering), then the unique key goes. troupe_deleted's `highest` becomes
// `highest_seq` so that a troupe from before 2026-12-07 cannot open the converted schema (nor go
// on writing to it if it was open): the statements it prepares name that column, and they fail
// instead of writing events without their runs, which this version would never find.
constexpr const char* convert_layout_1_sql = R"sql(
ALTER TABLE troupe_deleted RENAME COLUMN highest TO highest_seq;
INSERT INTO troupe_events_by_id(persistence_id, first_seq, last_seq, first_ordering)
SELECT persistence_id, min(sequence_nr), max(sequence_nr), min(ordering)
FROM (SELECT persistence_id, sequence_nr, ordering, sum(starts) OVER w AS run
      FROM (SELECT persistence_id, sequence_nr, ordering,
                   CASE WHEN lag(sequence_nr) OVER w = sequence_nr - 1 AND lag(ordering) OVER w = ordering - 1
                        THEN 0 ELSE 1 END AS starts
            FROM troupe_events WINDOW w AS (PARTITION BY persistence_id ORDER BY sequence_nr)) s
      WINDOW w AS (PARTITION BY persistence_id ORDER BY sequence_nr)) r
GROUP BY persistence_id, run;
DO $$
DECLARE k text;
BEGIN
  FOR k IN SELECT conname FROM pg_constraint WHERE conrelid = 'troupe_events'::regclass AND contype = 'u' LOOP
    EXECUTE format('ALTER TABLE troupe_events DROP CONSTRAINT %I', k);
  END LOOP;
END $$)sql";

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

void append_int4(std::string& out, std::uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 4);
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

void append_int8(std::string& out, std::uint64_t v) {
  append_int4(out, static_cast<std::uint32_t>(v >> 32));
  append_int4(out, static_cast<std::uint32_t>(v));
}
void append_int2(std::string& out, std::uint16_t v) {
  const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 2);
}
// A field of COPY's binary format: its length, then its bytes.
void append_field(std::string& out, std::string_view v) {
  append_int4(out, static_cast<std::uint32_t>(v.size()));
  out += v;
}

// Events per group of a batch at most (one COPY each): its rows are built in one buffer of a
// few hundred kilobytes.
constexpr std::size_t rows_per_statement = 1000;

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
  conn_ = detail::postgres_connect(conninfo_);  // bounded waits on a lost network
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
  // The conversion from layout 1 runs under it too, so two processes opening one old schema
  // convert it once.
  auto schema_failed = [&](const pg_result& r) {
    auto e = fail(conn_, r.get(), "creating the journal's tables");
    pg_result rb(PQexec(conn_, "ROLLBACK"));
    return e;
  };
  if (pg_result b(PQexec(conn_, (std::string("BEGIN; ") + lock_sql).c_str())); !ok(b)) return schema_failed(b);
  pg_result old(PQexec(conn_, layout_1_sql));
  if (!ok(old) || PQntuples(old.get()) != 1) return schema_failed(old);
  const bool convert = std::string_view(PQgetvalue(old.get(), 0, 0)) == "t";
  if (pg_result r(PQexec(conn_, detail::postgres_schema)); !ok(r)) return schema_failed(r);
  if (convert) {
    if (pg_result r(PQexec(conn_, convert_layout_1_sql)); !ok(r)) {
      auto e = fail(conn_, r.get(), "converting the journal's tables from layout 1");
      pg_result rb(PQexec(conn_, "ROLLBACK"));
      return e;
    }
  }
  if (pg_result c(PQexec(conn_, "COMMIT")); !ok(c)) return schema_failed(c);
  // Parsed and planned once per connection, not once per batch.
  pg_result pr(PQprepare(conn_, "troupe_reserve", reserve_sql, 0, nullptr));
  if (!ok(pr)) return fail(conn_, pr.get(), "preparing the offset statement");
  pg_result pn(PQprepare(conn_, "troupe_runs", runs_sql, 0, nullptr));
  if (!ok(pn)) return fail(conn_, pn.get(), "preparing the append statement");
  return {};
}


result<void> postgres_storage::connected() {
  if (conn_ && PQstatus(conn_) == CONNECTION_OK) return {};
  return connect();  // one reconnect per call: a server back up is used again, a down one reported
}

std::vector<result<void>> postgres_storage::write(std::span<write_request> requests) {
  if (auto c = connected(); !c) return std::vector<result<void>>(requests.size(), c.error());
  std::vector<result<void>> out(requests.size());
  auto all_fail = [&](troupe::error e) {
    std::fill(out.begin(), out.end(), result<void>{e});
    // A connection is kept only if it is known clean (no transaction left open); any other is
    // dropped and the next call connects afresh (the server killed and back: see
    // postgres_outage_test.cpp).
    bool clean = PQstatus(conn_) == CONNECTION_OK && ok(pg_result(PQexec(conn_, "ROLLBACK")));
    if (!clean) disconnect();
    return out;
  };
  if (pg_result r(PQexec(conn_, (std::string("BEGIN; ") + lock_sql).c_str())); !ok(r))
    return all_fail(fail(conn_, r.get(), "beginning a batch"));
  // Requests go into groups in order; a request of an id already in the group that does not
  // continue its chain (a caller that skipped a number) starts the next group, which then sees
  // the previous one's runs.
  for (std::size_t at = 0; at < requests.size();) {
    std::unordered_map<std::string_view, std::size_t> chain_of;  // id -> index in chains
    struct chain {
      std::string_view id;
      std::uint64_t first;
      std::uint64_t next;
      std::vector<std::size_t> requests;
    };
    std::vector<chain> chains;
    std::size_t rows = 0;
    for (; at < requests.size(); ++at) {
      auto& w = requests[at];
      if (w.events.empty()) continue;  // no events: nothing to write, nothing to check
      auto it = chain_of.find(w.persistence_id);
      if ((it != chain_of.end() && chains[it->second].next != w.expected_next) ||
          (rows > 0 && rows + w.events.size() > rows_per_statement))
        break;
      if (it == chain_of.end()) {
        it = chain_of.emplace(w.persistence_id, chains.size()).first;
        chains.push_back(chain{w.persistence_id, w.expected_next, w.expected_next, {}});
      }
      auto& c = chains[it->second];
      c.next = w.expected_next + w.events.size();
      c.requests.push_back(at);
      rows += w.events.size();
    }
    if (chains.empty()) continue;
    // 1. Offsets for every row; each chain's events take consecutive ones, chain after chain.
    auto n = std::to_string(rows);
    const char* reserve_values[] = {n.c_str()};
    pg_result rv(PQexecPrepared(conn_, "troupe_reserve", 1, reserve_values, nullptr, nullptr, 0));
    if (!ok(rv) || PQntuples(rv.get()) != 1) return all_fail(fail(conn_, rv.get(), "taking offsets"));
    std::uint64_t offset = std::strtoull(PQgetvalue(rv.get(), 0, 0), nullptr, 10) - rows + 1;
    // 2. The runs whose check passes.
    std::string pids = "{", firsts = "{", lasts = "{", orderings = "{";
    for (auto& c : chains) {
      if (pids.size() > 1) pids += ',', firsts += ',', lasts += ',', orderings += ',';
      append_quoted(pids, c.id);
      firsts += text(c.first);
      lasts += text(c.next - 1);
      orderings += text(offset);
      for (auto i : c.requests)
        for (auto& e : requests[i].events) e.offset = offset++;
    }
    pids += '}', firsts += '}', lasts += '}', orderings += '}';
    const char* run_values[] = {pids.c_str(), firsts.c_str(), lasts.c_str(), orderings.c_str()};
    pg_result rr(PQexecPrepared(conn_, "troupe_runs", 4, run_values, nullptr, nullptr, 0));
    if (!ok(rr)) return all_fail(fail(conn_, rr.get(), "appending events"));
    std::vector<bool> landed(chains.size(), false);
    for (int row = 0; row < PQntuples(rr.get()); ++row) {
      auto c = chain_of.find(std::string_view(PQgetvalue(rr.get(), row, 0), static_cast<std::size_t>(PQgetlength(rr.get(), row, 0))));
      if (c != chain_of.end()) landed[c->second] = true;
    }
    // 3. Their events by COPY (binary: no parsing in the server; about twice the rate of an
    // INSERT ... SELECT FROM unnest of the same rows), 4. their tags, if any.
    std::string data("PGCOPY\n\377\r\n\0", 11);
    append_int4(data, 0);  // flags
    append_int4(data, 0);  // header extension
    std::vector<std::pair<std::string_view, std::uint64_t>> tagged;
    bool any = false;
    for (std::size_t k = 0; k < chains.size(); ++k) {
      if (!landed[k]) {
        for (auto i : chains[k].requests)
          out[i] = troupe::error{errc::sequence_conflict, "'" + requests[i].persistence_id + "' expected next " +
                                                              std::to_string(requests[i].expected_next) + " is taken"};
        continue;
      }
      for (auto i : chains[k].requests)
        for (const auto& e : requests[i].events) {
          any = true;
          append_int2(data, 7);
          append_int4(data, 8);
          append_int8(data, e.offset);
          append_field(data, requests[i].persistence_id);
          append_int4(data, 8);
          append_int8(data, e.sequence_nr);
          append_field(data, e.manifest);
          append_int4(data, 4);
          append_int4(data, e.version);
          append_field(data, join_tags(e.tags));
          append_field(data, e.payload);
          for (const auto& t : e.tags) tagged.emplace_back(t, e.offset);
        }
    }
    if (!any) continue;
    append_int2(data, 0xffff);  // end of data
    pg_result cp(PQexec(conn_, copy_sql));
    if (!cp || PQresultStatus(cp.get()) != PGRES_COPY_IN) return all_fail(fail(conn_, cp.get(), "appending events"));
    bool sent = PQputCopyData(conn_, data.data(), static_cast<int>(data.size())) == 1;
    PQputCopyEnd(conn_, sent ? nullptr : "troupe: sending the rows failed");
    pg_result done(PQgetResult(conn_));
    while (pg_result more{PQgetResult(conn_)}) {
    }
    if (!ok(done)) return all_fail(fail(conn_, done.get(), "appending events"));
    if (!tagged.empty()) {
      std::string tags = "{", tag_orderings = "{";
      for (const auto& [t, o] : tagged) {
        if (tags.size() > 1) tags += ',', tag_orderings += ',';
        append_quoted(tags, t);
        tag_orderings += text(o);
      }
      tags += '}', tag_orderings += '}';
      const char* tag_values[] = {tags.c_str(), tag_orderings.c_str()};
      pg_result t(PQexecParams(conn_, "INSERT INTO troupe_event_tags(tag, ordering) SELECT * FROM unnest($1::text[], $2::bigint[])",
                               2, nullptr, tag_values, nullptr, nullptr, 0));
      if (!ok(t)) return all_fail(fail(conn_, t.get(), "tagging events"));
    }
  }
  pg_result c(PQexec(conn_, "COMMIT"));
  if (!ok(c)) return all_fail(fail(conn_, c.get(), "committing a batch"));
  return out;
}

result<std::vector<persistent_event>> postgres_storage::read(const std::string& id, std::uint64_t from,
                                                             std::uint64_t to, std::uint64_t max) {
  if (auto c = connected(); !c) return c.error();
  // Through the id's runs, a range of sequence numbers at a time: the first stored number at or
  // after `cur` (two index probes: the run holding it, else the next run), then every event from
  // there to as many numbers on as are still wanted, each run's share read as a range of
  // orderings (a range of the primary key). An id's numbers have no gaps (a write continues its
  // highest, and deleting trims the runs), so one range is the whole page; should one have a gap,
  // the next range goes on after it. (One statement joining all of the id's runs from `from` on,
  // ordered and limited, read every later event to sort them: replaying 1,000,000 events in pages
  // took 200 s.)
  to = std::min<std::uint64_t>(to, std::numeric_limits<std::int64_t>::max());
  std::vector<persistent_event> out;
  for (std::uint64_t cur = from; out.size() < max && cur <= to;) {
    auto f = exec(conn_,
                  "SELECT CASE WHEN (SELECT last_seq FROM troupe_events_by_id WHERE persistence_id = $1 AND first_seq <= $2::bigint"
                  "                  ORDER BY first_seq DESC LIMIT 1) >= $2::bigint THEN $2::bigint"
                  " ELSE (SELECT min(first_seq) FROM troupe_events_by_id WHERE persistence_id = $1 AND first_seq > $2::bigint) END",
                  params{}.add(id).add(text(cur)));
    if (!ok(f) || PQntuples(f.get()) != 1) return fail(conn_, f.get(), "reading events of '" + id + "'");
    if (PQgetisnull(f.get(), 0, 0) || PQgetlength(f.get(), 0, 0) != 8) break;  // nothing at or after cur
    const std::uint64_t lo = int8_at(f.get(), 0, 0);
    if (lo > to) break;
    const std::uint64_t want = max - out.size();
    const std::uint64_t hi = want - 1 >= to - lo ? to : lo + want - 1;
    auto r = exec(conn_,
                  "SELECT e.ordering, e.persistence_id, e.sequence_nr, e.manifest, e.version, e.tags, e.payload"
                  " FROM troupe_events_by_id r JOIN troupe_events e ON e.ordering BETWEEN"
                  "  r.first_ordering + (greatest($2::bigint, r.first_seq) - r.first_seq) AND"
                  "  r.first_ordering + (least($3::bigint, r.last_seq) - r.first_seq)"
                  " WHERE r.persistence_id = $1 AND r.first_seq <= $3::bigint AND r.last_seq >= $2::bigint"
                  "  AND r.first_seq >= coalesce((SELECT max(first_seq) FROM troupe_events_by_id"
                  "                               WHERE persistence_id = $1 AND first_seq <= $2::bigint), 0)"
                  "  AND e.persistence_id = $1"
                  " ORDER BY e.ordering LIMIT $4",
                  params{}.add(id).add(text(lo)).add(text(hi)).add(text(want)));
    if (!ok(r)) return fail(conn_, r.get(), "reading events of '" + id + "'");
    out.reserve(out.size() + static_cast<std::size_t>(PQntuples(r.get())));
    for (int row = 0; row < PQntuples(r.get()); ++row) {
      auto e = event_row(r.get(), row);
      if (!e) return e.error();
      out.push_back(std::move(*e));
    }
    if (hi >= to) break;
    cur = hi + 1;
  }
  return out;
}

result<std::uint64_t> postgres_storage::highest_sequence_nr(const std::string& id) {
  if (auto c = connected(); !c) return c.error();
  auto r = exec(conn_, highest_sql, params{}.add(id));
  if (!ok(r)) return fail(conn_, r.get(), "reading the highest sequence number of '" + id + "'");
  return int8_at(r.get(), 0, 0);
}

result<void> postgres_storage::delete_up_to(const std::string& id, std::uint64_t to) {
  auto h = highest_sequence_nr(id);
  if (!h) return h.error();
  // The id's highest is kept in troupe_deleted, so that runs wholly deleted can go; a run partly
  // deleted is trimmed to what is left, so that runs name only stored events (see read).
  auto r = exec(conn_,
                "WITH d AS (INSERT INTO troupe_deleted(persistence_id, highest_seq) VALUES($1, $2)"
                " ON CONFLICT (persistence_id) DO UPDATE SET highest_seq = greatest(troupe_deleted.highest_seq, excluded.highest_seq)),"
                " e AS (DELETE FROM troupe_events e USING troupe_events_by_id r"
                "  WHERE r.persistence_id = $1 AND r.first_seq <= $3::bigint AND e.persistence_id = $1"
                "   AND e.ordering BETWEEN r.first_ordering AND r.first_ordering + (least($3::bigint, r.last_seq) - r.first_seq)"
                "  RETURNING e.ordering),"
                " g AS (DELETE FROM troupe_events_by_id WHERE persistence_id = $1 AND last_seq <= $3::bigint),"
                " t AS (UPDATE troupe_events_by_id SET first_seq = $3::bigint + 1,"
                "  first_ordering = first_ordering + ($3::bigint + 1 - first_seq)"
                "  WHERE persistence_id = $1 AND first_seq <= $3::bigint AND last_seq > $3::bigint)"
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
