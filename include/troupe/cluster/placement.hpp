// placement.hpp: where a grain that is active nowhere gets activated (Orleans' placement
// strategies). A placement picks one node among the up members for a (type, key); it is called
// on the cluster's own thread only, and must not block. It decides only where the *first*
// activation is tried: the grain directory still decides who wins, so a bad or racing choice
// never makes two activations. Hash placement is the default: every node computes the same
// choice from the same members, so racing first calls from several nodes mostly agree.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace troupe::cluster {

/// Chooses the node to activate a grain on.
///
///     struct on_first final : troupe::cluster::placement {
///       std::string choose(const std::string&, const std::string&, const std::vector<std::string>& up,
///                          const std::string&) override { return up.front(); }
///     };
class placement {
 public:
  virtual ~placement() = default;
  /// One of `up` (never empty, sorted by name) for the grain (type, key); `self` is this node.
  virtual std::string choose(const std::string& type, const std::string& key, const std::vector<std::string>& up,
                             const std::string& self) = 0;
  /// After each reading of the membership table (every heartbeat interval), on the cluster's
  /// thread: how many grains each up member said it had active when it last published (at its
  /// own heartbeat). For placements that weigh load; the others ignore it.
  virtual void loads(const std::map<std::string, std::uint64_t>& activations) { (void)activations; }
};

/// The default: rendezvous hashing of (type, key) over the up members, so a member joining or
/// leaving moves only the keys it wins or held.
///
///     cfg.placement = std::make_shared<troupe::cluster::hash_placement>();
class hash_placement final : public placement {
 public:
  std::string choose(const std::string& type, const std::string& key, const std::vector<std::string>& up,
                     const std::string& self) override;
};

/// A member chosen at random (seeded, so a test can repeat it).
///
///     cfg.placement = std::make_shared<troupe::cluster::random_placement>(42);
class random_placement final : public placement {
 public:
  explicit random_placement(std::uint64_t seed = std::random_device{}()) : rng_(seed) {}
  std::string choose(const std::string& type, const std::string& key, const std::vector<std::string>& up,
                     const std::string& self) override;

 private:
  std::mt19937_64 rng_;  // used on the cluster's thread only
};

/// The up member with the fewest active grains (Orleans' ActivationCountBasedPlacement). Each
/// node publishes its count at its heartbeat when it changed, and reads the others' at its own:
/// a count is at most two heartbeat intervals old (500 ms by default). Between two readings, this
/// node adds the activations it placed itself, so a burst of first calls spreads instead of
/// piling onto the member that was emptiest at the last reading; other nodes' placements in the
/// same interval are seen only at the next reading. Ties go to the rendezvous hash of the key.
///
///     cfg.placement = std::make_shared<troupe::cluster::least_loaded_placement>();
class least_loaded_placement final : public placement {
 public:
  std::string choose(const std::string& type, const std::string& key, const std::vector<std::string>& up,
                     const std::string& self) override;
  void loads(const std::map<std::string, std::uint64_t>& activations) override;

 private:
  std::map<std::string, std::uint64_t> published_;  // cluster thread only: as last read
  std::map<std::string, std::uint64_t> placed_;     // cluster thread only: placed here since
};

/// This node, the one whose code made the first call (Orleans' PreferLocalPlacement).
///
///     cfg.placement = std::make_shared<troupe::cluster::prefer_local_placement>();
class prefer_local_placement final : public placement {
 public:
  std::string choose(const std::string& type, const std::string& key, const std::vector<std::string>& up,
                     const std::string& self) override;
};

}  // namespace troupe::cluster
