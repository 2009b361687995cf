// group_view.hpp: one node's view of the cluster-wide groups of one scope; not for user code.
// Keys (a name and a protocol) map to members, each named by (the node that owns it, that
// node's id for the membership), so that a member told by another node can be removed by its
// id alone, whatever proxy its ref decoded to. Subscribers to a key hear of every change. Any
// thread may call any member: one mutex guards the view, and notifications are sent under it,
// so each subscriber sees the changes of a key in the order this node applied them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <typeindex>
#include <vector>

#include "troupe/core/any_ref.hpp"

namespace troupe::cluster::detail {

class group_view {
 public:
  struct key {
    std::string name;
    std::type_index protocol;
    friend bool operator<(const key& a, const key& b) {
      return a.protocol != b.protocol ? a.protocol < b.protocol : a.name < b.name;
    }
  };
  /// One membership: the node that owns the member, its id there, the member's ref.
  struct entry {
    std::string node;
    std::uint64_t id = 0;
    any_ref member;
  };
  /// A membership of one node, for replace_node: the group's name, the id, the member.
  struct remote_entry {
    std::string name;
    std::uint64_t id = 0;
    any_ref member;
  };
  /// Told of one change: the members after it, who changed, and whether it joined or left.
  /// Called under the view's mutex: it must only send messages.
  using notify_fn = std::function<void(const std::vector<any_ref>& members, const any_ref& who, bool joined)>;

  explicit group_view(std::string self) : self_(std::move(self)) {}

  /// Adds a local member under `k` and returns its new id; nullopt if it is a member already.
  std::optional<std::uint64_t> join_local(const key& k, const any_ref& member);
  /// Removes a local member from `k` and returns the id it had; nullopt if it was not there.
  std::optional<std::uint64_t> leave_local(const key& k, const any_ref& member);
  /// Adds (node, id) under `k` unless it is there already.
  void add(const key& k, const std::string& node, std::uint64_t id, const any_ref& member);
  /// Removes (node, id) from `k`; false if it was not there.
  bool remove(const key& k, const std::string& node, std::uint64_t id);
  /// Makes `entries` the memberships of `node` in the groups of `protocol`: those not in it
  /// leave, the new ones join (in its order); the others stay where they are.
  void replace_node(const std::string& node, std::type_index protocol, const std::vector<remote_entry>& entries);
  /// Removes every membership of `node` in the groups of `protocol`.
  void drop_node(const std::string& node, std::type_index protocol) { replace_node(node, protocol, {}); }

  /// The members of `k`, in the order this node learnt of them.
  std::vector<any_ref> members(const key& k) const;
  /// The members of `k` that this node owns.
  std::vector<any_ref> local_members(const key& k) const;
  /// The names of the groups of `protocol` that have members.
  std::vector<std::string> names(std::type_index protocol) const;
  /// The nodes that own a member of a group of `protocol` (this node included).
  std::vector<std::string> nodes(std::type_index protocol) const;
  /// Adds a subscriber to `k` and returns the members now; with `notify_now`, also calls
  /// `notify(members, {}, true)` at once, under the same lock. A subscriber that has stopped
  /// is dropped at the next change.
  std::vector<any_ref> subscribe(const key& k, const any_ref& subscriber, notify_fn notify, bool notify_now = false);
  void unsubscribe(const key& k, const any_ref& subscriber);

 private:
  struct subscription {
    any_ref subscriber;
    notify_fn notify;
  };
  struct group {
    std::vector<entry> entries;  // in the order this node learnt of them
    std::vector<subscription> subscribers;
  };
  static std::vector<any_ref> refs_of(const group& g);
  static void notify(group& g, const any_ref& who, bool joined);
  void tidy(std::map<key, group>::iterator it);

  std::string self_;
  mutable std::mutex mu_;
  std::map<key, group> groups_;  // guarded by mu_
  std::uint64_t next_id_ = 0;    // guarded by mu_
};

}  // namespace troupe::cluster::detail
