// membership_store.hpp: the table of a cluster's members and its grain directory, kept in a real
// store (a SQLite file shared by the nodes of one machine, or PostgreSQL), never in a consensus
// of our own (Orleans' membership table). Every write that decides something is conditional: a
// member row changes only at the version it was read at (compare-and-set), and a grain is
// registered only if no up member holds it, in one statement, so two nodes racing never both win.
// One thread calls a store (the cluster's own); open one store per node (per process).
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "troupe/cluster/errc.hpp"
#include "troupe/core/result.hpp"

namespace troupe::cluster {

/// Where a member stands. Only `up` members take new activations; `dead` and `left` rows stay as
/// history. `leaving`: handing its shards off before it leaves (cluster::leave): not in any
/// placement or allocation, but it still heartbeats, and its registrations stand until it
/// removes them, so its grains cannot start elsewhere before they stopped there.
///
///     if (m.status != troupe::cluster::member_status::up) continue;
enum class member_status : std::uint8_t { up = 1, dead = 2, left = 3, leaving = 4 };

/// One row of the membership table.
///
///     for (const member& m : store->members(...).value()) if (m.status == member_status::up) ...
struct member {
  std::string node;     ///< the node's name (unique in the cluster)
  std::string address;  ///< "name@host:port", where its remote node listens
  member_status status = member_status::up;
  std::uint64_t version = 0;       ///< bumped by every write to the row: the compare-and-set key
  std::int64_t heartbeat_ms = 0;   ///< the node's last "I am alive", ms since the epoch (its clock)
  std::string suspicions;          ///< "voter=ms,voter=ms": recent votes to declare it dead
  std::uint64_t activations = 0;   ///< grains active on it, as it last published (publish_load)
};

/// A grain's address in the directory: its type and key.
///
///     troupe::cluster::grain_id g{"device", "sensor-42"};
struct grain_id {
  std::string type;
  std::string key;
};

/// A cluster's membership table and grain directory in SQLite or PostgreSQL.
///
///     auto store = troupe::cluster::membership_store::open_sqlite("/tmp/shop.cluster");
///     auto pg = troupe::cluster::membership_store::open_postgres("host=/run/postgresql dbname=shop");
class membership_store {
 public:
  /// Opens (creating if needed) a SQLite file that the local nodes share (WAL mode).
  static result<std::unique_ptr<membership_store>> open_sqlite(const std::string& path);
  /// Connects to PostgreSQL (a libpq connection string) and creates the tables if missing.
  static result<std::unique_ptr<membership_store>> open_postgres(const std::string& conninfo);
  ~membership_store();
  membership_store(const membership_store&) = delete;
  membership_store& operator=(const membership_store&) = delete;

  /// Writes `node`'s row as up (a new incarnation if it was there: status, heartbeat and
  /// suspicions reset, version bumped).
  result<void> join(const std::string& cluster, const std::string& node, const std::string& address,
                    std::int64_t now_ms);
  /// Every row of the cluster, up or not.
  result<std::vector<member>> members(const std::string& cluster);
  /// Sets the heartbeat of `node` if it is still up or leaving; false if not (voted out or left).
  result<bool> heartbeat(const std::string& cluster, const std::string& node, std::int64_t now_ms);
  /// Publishes how many grains are active on `node` (read back in members(); kept in a table of
  /// its own, beside the membership rows, so that it never bumps a row's version).
  ///
  ///     store->publish_load("shop", "n1", 1200);
  result<void> publish_load(const std::string& cluster, const std::string& node, std::uint64_t activations);
  /// Writes `m`'s status and suspicions if its row is still at `m.version`; false if another
  /// writer got there first (re-read and decide again).
  result<bool> update_if(const std::string& cluster, const member& m);

  /// Registers `node` as the one activation of (type, key) unless an up member holds it, and
  /// returns the holder: `node` if it won, the other node if it lost. Fails with
  /// errc::not_a_member if `node` is not up. A holder that is not up is taken over only if its
  /// last heartbeat is older than `takeover_before_ms` (the cluster passes two heartbeat
  /// intervals ago, so that the old holder has found itself out first); otherwise it is
  /// returned, not up, and the caller tries again later.
  result<std::string> register_grain(const std::string& cluster, const std::string& type, const std::string& key,
                                     const std::string& node,
                                     std::int64_t takeover_before_ms = std::numeric_limits<std::int64_t>::max());
  /// register_grain for several grains at once, in one transaction (a node that activates many
  /// grains commits once for all of them): one result per grain, in order, each as
  /// register_grain's. Fails as a whole, registering none, if the store fails.
  ///
  ///     auto holders = store->register_grains("shop", {{"device", "a"}, {"device", "b"}}, "n1");
  result<std::vector<result<std::string>>> register_grains(const std::string& cluster,
                                                           const std::vector<grain_id>& grains,
                                                           const std::string& node,
                                                           std::int64_t takeover_before_ms =
                                                               std::numeric_limits<std::int64_t>::max());
  /// The node that holds (type, key), if any row says so (it may be dead: check members).
  result<std::optional<std::string>> lookup_grain(const std::string& cluster, const std::string& type,
                                                  const std::string& key);
  /// Removes the registration of (type, key) if `node` holds it.
  result<void> unregister_grain(const std::string& cluster, const std::string& type, const std::string& key,
                                const std::string& node);
  /// How many registrations `node` holds of grain types that start with `type_prefix`.
  ///
  ///     auto shards = store->count_held("shop", "n1", "shard.").value();
  result<std::uint64_t> count_held(const std::string& cluster, const std::string& node, const std::string& type_prefix);
  /// Removes every registration `node` holds (it leaves).
  result<void> unregister_all(const std::string& cluster, const std::string& node);

  /// Remember-entities (sharding.hpp): records that entity `entity` of sharded type `type` runs
  /// in shard `shard`, so that the shard starts it again wherever it starts next; idempotent.
  ///
  ///     store->remember_entity("shop", "cart", "17", "user-7");
  result<void> remember_entity(const std::string& cluster, const std::string& type, const std::string& shard,
                               const std::string& entity);
  /// Forgets it (the entity stopped itself); nothing if it was not remembered.
  result<void> forget_entity(const std::string& cluster, const std::string& type, const std::string& shard,
                             const std::string& entity);
  /// The entities remembered in one shard, sorted.
  result<std::vector<std::string>> remembered_entities(const std::string& cluster, const std::string& type,
                                                       const std::string& shard);
  /// The shards of `type` that remember at least one entity, sorted as text.
  result<std::vector<std::string>> remembered_shards(const std::string& cluster, const std::string& type);

  struct connection;

 private:
  explicit membership_store(std::unique_ptr<connection> c);
  std::unique_ptr<connection> db_;
};

/// "up", "dead", "left".
const char* to_string(member_status s) noexcept;

}  // namespace troupe::cluster
