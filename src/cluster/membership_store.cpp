// membership_store.cpp: the membership table and grain directory as SQL that SQLite 3.40 and
// PostgreSQL 15 both run (upserts with a WHERE, RETURNING-free), over a thin connection of each.
// Parameters are written $1..$n and bound as text; SQLite gets them as ?1..?n.
#include "troupe/cluster/membership_store.hpp"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <tuple>
#include <string_view>
#include <unordered_map>

#include "troupe/persistence/detail/postgres_connect.hpp"

namespace troupe::cluster {

using row = std::vector<std::optional<std::string>>;

/// One SQL connection: statements with text parameters, rows of text back.
struct membership_store::connection {
  virtual ~connection() = default;
  /// Runs `sql`; the rows it returns, and how many rows it changed.
  virtual result<std::pair<std::vector<row>, std::int64_t>> exec(const std::string& sql,
                                                                  const std::vector<std::string>& params) = 0;
  virtual result<void> script(const std::string& sql) = 0;
  /// Starts a transaction that holds the write lock from its start (SQLite: no upgrade from a
  /// reader that could fail half-way). Until commit() or rollback(), a lost connection is an
  /// error, never retried: a retry would run the rest outside the transaction.
  virtual result<void> begin() = 0;
  virtual result<void> commit() = 0;
  virtual void rollback() noexcept = 0;
};

namespace {

// Rows of every cluster share the tables; the cluster name is the first column of each key.
constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS troupe_cluster_members(
  cluster TEXT NOT NULL, node TEXT NOT NULL, address TEXT NOT NULL, status INTEGER NOT NULL,
  version BIGINT NOT NULL, heartbeat_ms BIGINT NOT NULL, suspicions TEXT NOT NULL,
  PRIMARY KEY(cluster, node));
CREATE TABLE IF NOT EXISTS troupe_cluster_grains(
  cluster TEXT NOT NULL, grain_type TEXT NOT NULL, grain_key TEXT NOT NULL, node TEXT NOT NULL,
  version BIGINT NOT NULL, PRIMARY KEY(cluster, grain_type, grain_key));
CREATE TABLE IF NOT EXISTS troupe_cluster_loads(
  cluster TEXT NOT NULL, node TEXT NOT NULL, activations BIGINT NOT NULL, PRIMARY KEY(cluster, node));
CREATE TABLE IF NOT EXISTS troupe_cluster_entities(
  cluster TEXT NOT NULL, entity_type TEXT NOT NULL, shard TEXT NOT NULL, entity TEXT NOT NULL,
  PRIMARY KEY(cluster, entity_type, shard, entity));
)sql";

troupe::error store_error(std::string text) { return troupe::error{errc::store_error, std::move(text)}; }

class sqlite_connection final : public membership_store::connection {
 public:
  explicit sqlite_connection(sqlite3* db) : db_(db) {}
  ~sqlite_connection() override {
    for (auto& [sql, st] : prepared_) sqlite3_finalize(st);
    sqlite3_close_v2(db_);
  }

  result<std::pair<std::vector<row>, std::int64_t>> exec(const std::string& sql,
                                                          const std::vector<std::string>& params) override {
    // The store runs a dozen statements over and over (a grain's activation runs two): each is
    // prepared once, which was a tenth of an activation's time.
    auto& st = prepared_[sql];
    if (st == nullptr) {
      std::string q = sql;
      for (auto& c : q)
        if (c == '$') c = '?';  // ?NNN: numbered parameters, as $NNN in PostgreSQL
      if (sqlite3_prepare_v2(db_, q.c_str(), -1, &st, nullptr) != SQLITE_OK) {
        prepared_.erase(sql);
        return store_error(std::string("sqlite prepare: ") + sqlite3_errmsg(db_));
      }
    }
    // Reset however this run ends, so that the statement holds no read transaction open.
    struct reset_after {
      sqlite3_stmt* st;
      ~reset_after() {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
      }
    } reset{st};
    for (std::size_t i = 0; i < params.size(); ++i)
      sqlite3_bind_text(st, static_cast<int>(i + 1), params[i].data(), static_cast<int>(params[i].size()),
                        SQLITE_TRANSIENT);
    std::vector<row> rows;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      row r;
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        if (sqlite3_column_type(st, c) == SQLITE_NULL) r.emplace_back();
        else r.emplace_back(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, c)),
                                        static_cast<std::size_t>(sqlite3_column_bytes(st, c))));
      }
      rows.push_back(std::move(r));
    }
    if (rc != SQLITE_DONE) return store_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
    return std::pair{std::move(rows), static_cast<std::int64_t>(sqlite3_changes(db_))};
  }

  result<void> script(const std::string& sql) override {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string text = msg ? msg : "unknown";
      sqlite3_free(msg);
      return store_error("sqlite: " + text);
    }
    return {};
  }

  result<void> begin() override { return script("BEGIN IMMEDIATE"); }
  result<void> commit() override { return script("COMMIT"); }
  void rollback() noexcept override {
    if (!sqlite3_get_autocommit(db_)) (void)script("ROLLBACK");  // a failed COMMIT leaves it open
  }

 private:
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> prepared_;  // by the statement's text as written
};

class postgres_connection final : public membership_store::connection {
 public:
  explicit postgres_connection(std::string conninfo) : conninfo_(std::move(conninfo)) {}
  ~postgres_connection() override {
    if (conn_) PQfinish(conn_);
  }

  result<void> connect() {
    if (conn_ && PQstatus(conn_) == CONNECTION_OK) return {};
    // A new connection would run the rest of a transaction outside it (and COMMIT would "succeed").
    if (in_transaction_) return troupe::error{errc::store_unavailable, "postgres: the connection was lost in a transaction"};
    if (conn_) PQfinish(conn_);
    conn_ = persistence::detail::postgres_connect(conninfo_);  // bounded waits on a lost network
    if (PQstatus(conn_) != CONNECTION_OK)
      return troupe::error{errc::store_unavailable, std::string("postgres: ") + PQerrorMessage(conn_)};
    // A node frozen (SIGSTOP) inside a batch of registrations would hold those keys' rows
    // locked for as long as it stays frozen: the server ends such a session after 5 s instead,
    // and the node, when it wakes, finds the batch failed and registers one by one.
    PQclear(PQexec(conn_, "SET idle_in_transaction_session_timeout = 5000"));
    return {};
  }

  result<std::pair<std::vector<row>, std::int64_t>> exec(const std::string& sql,
                                                          const std::vector<std::string>& params) override {
    // A lost connection is retried once, then reported: an error the caller sees, never a hang.
    for (int attempt = 0;; ++attempt) {
      if (auto c = connect(); !c) return c.error();
      std::vector<const char*> values;
      for (auto& p : params) values.push_back(p.c_str());
      PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                                 nullptr, nullptr, 0);
      auto status = PQresultStatus(r);
      if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
        std::vector<row> rows;
        for (int i = 0; i < PQntuples(r); ++i) {
          row rw;
          for (int c = 0; c < PQnfields(r); ++c) {
            if (PQgetisnull(r, i, c)) rw.emplace_back();
            else rw.emplace_back(std::string(PQgetvalue(r, i, c), static_cast<std::size_t>(PQgetlength(r, i, c))));
          }
          rows.push_back(std::move(rw));
        }
        std::int64_t changed = std::atoll(PQcmdTuples(r));
        PQclear(r);
        return std::pair{std::move(rows), changed};
      }
      std::string text = PQresultErrorMessage(r);
      PQclear(r);
      if (PQstatus(conn_) != CONNECTION_OK && attempt == 0 && !in_transaction_) continue;
      if (PQstatus(conn_) != CONNECTION_OK) return troupe::error{errc::store_unavailable, "postgres: " + text};
      return store_error("postgres: " + text);
    }
  }

  result<void> script(const std::string& sql) override {
    if (auto c = connect(); !c) return c.error();
    PGresult* r = PQexec(conn_, sql.c_str());
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    std::string text = PQresultErrorMessage(r);
    PQclear(r);
    if (!ok) return store_error("postgres: " + text);
    return {};
  }

  result<void> begin() override {
    auto r = script("BEGIN");
    in_transaction_ = static_cast<bool>(r);
    return r;
  }
  result<void> commit() override {
    in_transaction_ = false;
    return script("COMMIT");
  }
  void rollback() noexcept override {
    in_transaction_ = false;
    if (conn_ && PQstatus(conn_) == CONNECTION_OK) (void)script("ROLLBACK");
  }

 private:
  std::string conninfo_;
  PGconn* conn_ = nullptr;
  bool in_transaction_ = false;  // between begin() and commit() or rollback()
};

std::string str(std::int64_t v) { return std::to_string(v); }

}  // namespace

const char* to_string(member_status s) noexcept {
  switch (s) {
    case member_status::up: return "up";
    case member_status::dead: return "dead";
    case member_status::left: return "left";
    case member_status::leaving: return "leaving";
  }
  return "unknown";
}

membership_store::membership_store(std::unique_ptr<connection> c) : db_(std::move(c)) {}
membership_store::~membership_store() = default;

result<std::unique_ptr<membership_store>> membership_store::open_sqlite(const std::string& path) {
  sqlite3* db = nullptr;
  if (int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                               nullptr);
      rc != SQLITE_OK) {
    std::string text = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return troupe::error{errc::store_unavailable, "cannot open '" + path + "': " + text};
  }
  // Other nodes write the same file: wait for their write lock rather than fail.
  sqlite3_busy_timeout(db, 5000);
  auto c = std::make_unique<sqlite_connection>(db);
  // WAL lets readers and one writer work at once. NORMAL (no fsync per commit; a commit still
  // survives any process's crash): every node that shares this file runs on this machine, so a
  // power cut that could take back the last commits also ends every activation they recorded,
  // and the nodes that start again find a directory that is at worst older, never split.
  if (auto r = c->script("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"); !r)
    return troupe::error{errc::store_unavailable, "'" + path + "': " + r.error().context()};
  if (auto r = c->script(schema); !r) return r.error();
  return std::unique_ptr<membership_store>(new membership_store(std::move(c)));
}

result<std::unique_ptr<membership_store>> membership_store::open_postgres(const std::string& conninfo) {
  auto c = std::make_unique<postgres_connection>(conninfo);
  if (auto r = c->connect(); !r) return r.error();
  // Two nodes creating the tables at once would race on the catalog: one lock serializes them.
  // client_min_messages: no "relation already exists, skipping" notice on stderr at every open.
  if (auto r = c->script(std::string("SET client_min_messages = warning; BEGIN; SELECT pg_advisory_xact_lock(7357001); ") +
                         schema + "COMMIT;");
      !r)
    return r.error();
  return std::unique_ptr<membership_store>(new membership_store(std::move(c)));
}

result<void> membership_store::join(const std::string& cluster, const std::string& node, const std::string& address,
                                    std::int64_t now_ms) {
  auto r = db_->exec(
      "INSERT INTO troupe_cluster_members(cluster, node, address, status, version, heartbeat_ms, suspicions) "
      "VALUES($1, $2, $3, 1, 1, $4, '') "
      "ON CONFLICT(cluster, node) DO UPDATE SET address = excluded.address, status = 1, "
      "version = troupe_cluster_members.version + 1, heartbeat_ms = excluded.heartbeat_ms, suspicions = ''",
      {cluster, node, address, str(now_ms)});
  if (!r) return r.error();
  return {};
}

result<std::vector<member>> membership_store::members(const std::string& cluster) {
  auto r = db_->exec(
      "SELECT m.node, m.address, m.status, m.version, m.heartbeat_ms, m.suspicions, COALESCE(l.activations, 0) "
      "FROM troupe_cluster_members m LEFT JOIN troupe_cluster_loads l ON l.cluster = m.cluster AND l.node = m.node "
      "WHERE m.cluster = $1 ORDER BY m.node",
      {cluster});
  if (!r) return r.error();
  std::vector<member> out;
  for (auto& rw : r->first) {
    if (rw.size() != 7 || !rw[0] || !rw[1] || !rw[2] || !rw[3] || !rw[4] || !rw[5] || !rw[6])
      return store_error("a membership row has a NULL column");
    member m;
    m.node = *rw[0];
    m.address = *rw[1];
    m.status = static_cast<member_status>(std::atoi(rw[2]->c_str()));
    m.version = std::strtoull(rw[3]->c_str(), nullptr, 10);
    m.heartbeat_ms = std::atoll(rw[4]->c_str());
    m.suspicions = *rw[5];
    m.activations = std::strtoull(rw[6]->c_str(), nullptr, 10);
    out.push_back(std::move(m));
  }
  return out;
}

result<bool> membership_store::heartbeat(const std::string& cluster, const std::string& node, std::int64_t now_ms) {
  // Not a version bump: a heartbeat must not make a concurrent vote's compare-and-set fail.
  auto r = db_->exec("UPDATE troupe_cluster_members SET heartbeat_ms = $3 WHERE cluster = $1 AND node = $2 AND status IN (1, 4)",
                     {cluster, node, str(now_ms)});
  if (!r) return r.error();
  return r->second == 1;
}

result<void> membership_store::publish_load(const std::string& cluster, const std::string& node,
                                            std::uint64_t activations) {
  auto r = db_->exec(
      "INSERT INTO troupe_cluster_loads(cluster, node, activations) VALUES($1, $2, $3) "
      "ON CONFLICT(cluster, node) DO UPDATE SET activations = excluded.activations",
      {cluster, node, std::to_string(activations)});
  if (!r) return r.error();
  return {};
}

result<bool> membership_store::update_if(const std::string& cluster, const member& m) {
  auto r = db_->exec(
      "UPDATE troupe_cluster_members SET status = $3, suspicions = $4, version = version + 1 "
      "WHERE cluster = $1 AND node = $2 AND version = $5",
      {cluster, m.node, str(static_cast<int>(m.status)), m.suspicions, std::to_string(m.version)});
  if (!r) return r.error();
  return r->second == 1;
}

result<std::string> membership_store::register_grain(const std::string& cluster, const std::string& type,
                                                     const std::string& key, const std::string& node,
                                                     std::int64_t takeover_before_ms) {
  // One statement decides: insert if nobody holds the key, take it over only if its holder is
  // not an up member and its last heartbeat is older than takeover_before_ms (the fence), and
  // do neither unless `node` itself is up. The store serializes the
  // statements of racing nodes on the key's row, so exactly one of them writes.
  // No row after the statement: `node` is not up, or the holder removed its row between the two
  // (a hand-off or a deactivation ending): then the next try inserts.
  for (int attempt = 0;; ++attempt) {
    auto w = db_->exec(
        "INSERT INTO troupe_cluster_grains(cluster, grain_type, grain_key, node, version) "
        "SELECT CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS TEXT), CAST($4 AS TEXT), 1 "
        "WHERE EXISTS (SELECT 1 FROM troupe_cluster_members WHERE cluster = $1 AND node = $4 AND status = 1) "
        "ON CONFLICT(cluster, grain_type, grain_key) DO UPDATE SET node = excluded.node, "
        "version = troupe_cluster_grains.version + 1 "
        "WHERE NOT EXISTS (SELECT 1 FROM troupe_cluster_members m WHERE m.cluster = troupe_cluster_grains.cluster "
        "AND m.node = troupe_cluster_grains.node AND (m.status = 1 OR m.heartbeat_ms >= $5))",
        {cluster, type, key, node, str(takeover_before_ms)});
    if (!w) return w.error();
    // One row changed: this statement inserted or took over the key, for `node`. None: another
    // node holds it, or `node` is not up; only then is the directory read, so a first activation
    // pays one statement, not two. (Not RETURNING: on SQLite 3.40 it made the statement cost
    // more than the read it saves.)
    if (w->second == 1) return node;
    auto holder = lookup_grain(cluster, type, key);
    if (!holder) return holder.error();
    if (*holder) return **holder;
    if (attempt == 2)
      return troupe::error{errc::not_a_member, "node '" + node + "' is not an up member of '" + cluster + "'"};
  }
}

result<std::vector<result<std::string>>> membership_store::register_grains(const std::string& cluster,
                                                                          const std::vector<grain_id>& grains,
                                                                          const std::string& node,
                                                                          std::int64_t takeover_before_ms) {
  // In one order for every node (by type, then key): two nodes' batches that overlap then lock
  // their rows in the same order, so PostgreSQL never finds them deadlocked.
  std::vector<std::size_t> order(grains.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return std::tie(grains[a].type, grains[a].key) < std::tie(grains[b].type, grains[b].key);
  });
  if (auto b = db_->begin(); !b) return b.error();
  std::vector<result<std::string>> out(grains.size(), troupe::error{errc::store_error, "not registered"});
  for (auto i : order) {
    auto r = register_grain(cluster, grains[i].type, grains[i].key, node, takeover_before_ms);
    // A store failure inside the transaction spoils it (PostgreSQL aborts it): none counts.
    if (!r && r.error() != errc::not_a_member) {
      db_->rollback();
      return r.error();
    }
    out[i] = std::move(r);
  }
  if (auto c = db_->commit(); !c) {
    db_->rollback();
    return c.error();
  }
  return out;
}

result<std::optional<std::string>> membership_store::lookup_grain(const std::string& cluster, const std::string& type,
                                                                  const std::string& key) {
  auto r = db_->exec(
      "SELECT node FROM troupe_cluster_grains WHERE cluster = $1 AND grain_type = $2 AND grain_key = $3",
      {cluster, type, key});
  if (!r) return r.error();
  if (r->first.empty() || !r->first[0][0]) return std::optional<std::string>{};
  return std::optional<std::string>{*r->first[0][0]};
}

result<void> membership_store::unregister_grain(const std::string& cluster, const std::string& type,
                                                const std::string& key, const std::string& node) {
  auto r = db_->exec(
      "DELETE FROM troupe_cluster_grains WHERE cluster = $1 AND grain_type = $2 AND grain_key = $3 AND node = $4",
      {cluster, type, key, node});
  if (!r) return r.error();
  return {};
}

result<std::uint64_t> membership_store::count_held(const std::string& cluster, const std::string& node,
                                                  const std::string& type_prefix) {
  auto r = db_->exec(
      "SELECT COUNT(*) FROM troupe_cluster_grains WHERE cluster = $1 AND node = $2 AND substr(grain_type, 1, $4) = $3",
      {cluster, node, type_prefix, std::to_string(type_prefix.size())});
  if (!r) return r.error();
  if (r->first.empty() || !r->first[0][0]) return store_error("COUNT(*) returned no row");
  return std::strtoull(r->first[0][0]->c_str(), nullptr, 10);
}

result<void> membership_store::unregister_all(const std::string& cluster, const std::string& node) {
  auto r = db_->exec("DELETE FROM troupe_cluster_grains WHERE cluster = $1 AND node = $2", {cluster, node});
  if (!r) return r.error();
  return {};
}

result<void> membership_store::remember_entity(const std::string& cluster, const std::string& type,
                                               const std::string& shard, const std::string& entity) {
  auto r = db_->exec(
      "INSERT INTO troupe_cluster_entities(cluster, entity_type, shard, entity) VALUES($1, $2, $3, $4) "
      "ON CONFLICT(cluster, entity_type, shard, entity) DO NOTHING",
      {cluster, type, shard, entity});
  if (!r) return r.error();
  return {};
}

result<void> membership_store::forget_entity(const std::string& cluster, const std::string& type,
                                             const std::string& shard, const std::string& entity) {
  auto r = db_->exec(
      "DELETE FROM troupe_cluster_entities WHERE cluster = $1 AND entity_type = $2 AND shard = $3 AND entity = $4",
      {cluster, type, shard, entity});
  if (!r) return r.error();
  return {};
}

result<std::vector<std::string>> membership_store::remembered_entities(const std::string& cluster,
                                                                       const std::string& type,
                                                                       const std::string& shard) {
  auto r = db_->exec(
      "SELECT entity FROM troupe_cluster_entities WHERE cluster = $1 AND entity_type = $2 AND shard = $3 ORDER BY entity",
      {cluster, type, shard});
  if (!r) return r.error();
  std::vector<std::string> out;
  for (auto& row : r->first)
    if (!row.empty() && row[0]) out.push_back(*row[0]);
  return out;
}

result<std::vector<std::string>> membership_store::remembered_shards(const std::string& cluster,
                                                                     const std::string& type) {
  auto r = db_->exec(
      "SELECT DISTINCT shard FROM troupe_cluster_entities WHERE cluster = $1 AND entity_type = $2 ORDER BY shard",
      {cluster, type});
  if (!r) return r.error();
  std::vector<std::string> out;
  for (auto& row : r->first)
    if (!row.empty() && row[0]) out.push_back(*row[0]);
  return out;
}

}  // namespace troupe::cluster
