// membership.hpp: the untyped table behind process groups and the receptionist.
// Keys (a name and a protocol) map to sets of live actors; subscribers to a key hear of every
// change. Any thread may call any member: one mutex guards the table, and notifications are
// sent under it, so each subscriber sees the changes of a key in the order they happened. A
// small monitor actor watches every member, so a member that stops leaves all its keys.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <typeindex>
#include <vector>

#include "troupe/core/any_ref.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/system.hpp"

namespace troupe::otp::detail {

class membership_table {
 public:
  struct key {
    std::string name;
    std::type_index protocol;
    friend bool operator<(const key& a, const key& b) {
      return a.protocol != b.protocol ? a.protocol < b.protocol : a.name < b.name;
    }
  };
  /// Told of one change: the members after it, who changed, and whether it joined or left.
  /// Called under the table's mutex: it must only send messages.
  using notify_fn = std::function<void(const std::vector<any_ref>& members, const any_ref& who, bool joined)>;

  /// Spawns the monitor actor in `sys`. The table must not outlive `sys`.
  explicit membership_table(troupe::system& sys);
  ~membership_table();
  membership_table(const membership_table&) = delete;
  membership_table& operator=(const membership_table&) = delete;

  /// Adds `member` (an actor) under `k`; joining twice is joining once. Fails with
  /// errc::receiver_dead if it has already stopped.
  result<void> join(const key& k, any_ref member);
  /// Removes `member` from `k`; false if it was not there.
  bool leave(const key& k, const any_ref& member);
  /// The members of `k`, in the order they joined.
  std::vector<any_ref> members(const key& k) const;
  /// The names of the keys of `protocol` that have members.
  std::vector<std::string> names(std::type_index protocol) const;
  /// Adds a subscriber to `k` and returns the members at this moment; with `notify_now`, also
  /// calls `notify(members, {}, true)` at once, under the same lock, so that nothing told later
  /// can overtake it. `subscriber` is only checked for life: once it has stopped it is dropped.
  std::vector<any_ref> subscribe(const key& k, any_ref subscriber, notify_fn notify,
                                           bool notify_now = false);
  void unsubscribe(const key& k, const any_ref& subscriber);
  /// How many live subscribers `k` has.
  std::size_t subscriber_count(const key& k) const;

  struct state;  // shared with the monitor actor, which may outlive the table briefly

 private:
  std::shared_ptr<state> state_;
  any_ref monitor_;
};

// The table keeps untyped handles; its key carries the protocol, so they can be typed again.
// An empty handle (no one changed) gives an empty ref.
template <class P>
ref<P> typed(const any_ref& a) {
  auto r = a.as<P>();
  return r ? std::move(*r) : ref<P>{};
}
template <class P>
std::vector<ref<P>> typed_refs(const std::vector<any_ref>& all) {
  std::vector<ref<P>> out;
  out.reserve(all.size());
  for (auto& a : all) out.push_back(typed<P>(a));
  return out;
}

}  // namespace troupe::otp::detail
