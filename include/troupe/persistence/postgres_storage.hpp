// postgres_storage.hpp: the store for scale: PostgreSQL 15 through libpq.
// A journal's writes of one batch go in one transaction: per group of up to 1,000 events, one
// statement for their offsets, one for their runs (the sequence-number check) and a binary COPY
// of the rows, for any number of actors' events. The tables are created on first use
// (src/persistence/postgres_schema.sql, which may also be run by hand; layout 1 is converted).
// Called from the journal's thread only. A lost connection is retried once per call, then
// reported as errc::unavailable: an error the caller sees, never a hang.
#pragma once

#include <memory>
#include <string>

#include "troupe/persistence/storage.hpp"

struct pg_conn;

namespace troupe::persistence {

/// Where a PostgreSQL store keeps its tables.
///
///     postgres_options o{.schema = "orders"};  // CREATE SCHEMA IF NOT EXISTS orders
struct postgres_options {
  /// A schema of its own (created if missing); empty: the connection's search_path.
  std::string schema;
};

/// A storage in a PostgreSQL database.
///
///     auto s = persistence::postgres_storage::open("host=/run/postgresql dbname=app");
///     if (!s) return s.error();   // errc::unavailable: the server cannot be reached
///     auto j = persistence::journal::start(*s);
class postgres_storage final : public storage {
 public:
  /// Connects (libpq connection string) and creates the tables if missing.
  static result<std::shared_ptr<postgres_storage>> open(const std::string& conninfo, postgres_options opts = {});
  ~postgres_storage() override;

  std::vector<result<void>> write(std::span<write_request> requests) override;
  result<std::vector<persistent_event>> read(const std::string& persistence_id, std::uint64_t from, std::uint64_t to,
                                             std::uint64_t max) override;
  result<std::uint64_t> highest_sequence_nr(const std::string& persistence_id) override;
  result<void> delete_up_to(const std::string& persistence_id, std::uint64_t to) override;
  result<std::vector<persistent_event>> read_by_tag(const std::string& tag, std::uint64_t after,
                                                    std::uint64_t max) override;
  result<void> save_snapshot(const snapshot& s, std::uint32_t keep) override;
  result<std::optional<snapshot>> load_snapshot(const std::string& persistence_id) override;
  result<std::optional<durable_state>> get_state(const std::string& persistence_id) override;
  result<void> upsert_state(const durable_state& s) override;

 private:
  postgres_storage(std::string conninfo, postgres_options opts);
  result<void> connect();
  result<void> set_up();  // connect()'s steps on a fresh connection
  void disconnect();
  result<void> connected();
  std::string conninfo_;
  postgres_options opts_;
  pg_conn* conn_ = nullptr;
};

}  // namespace troupe::persistence
