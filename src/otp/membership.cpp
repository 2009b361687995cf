// membership.cpp: the table behind process groups and the receptionist, and its monitor actor.
#include "troupe/otp/detail/membership.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <unordered_set>
#include <utility>
#include <variant>

#include "troupe/core/actor_context.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/core/extension.hpp"
#include "troupe/core/signals.hpp"

namespace troupe::otp::detail {

namespace {

struct watch_member {
  any_ref who;
};
using monitor_msg = std::variant<watch_member, terminated>;

struct subscription {
  any_ref subscriber;
  membership_table::notify_fn notify;
};

}  // namespace

struct membership_table::state {
  struct entry {
    std::vector<any_ref> members;  // in the order they joined
    std::vector<subscription> subscribers;
  };

  mutable std::mutex mu;
  std::map<key, entry> keys;  // guarded by mu

  // Tells every live subscriber of `e`; drops the ones that have stopped. Under mu.
  static void notify(entry& e, const any_ref& who, bool joined) {
    std::erase_if(e.subscribers, [](const subscription& s) { return s.subscriber.has_stopped(); });
    for (auto& s : e.subscribers) {
      try {
        s.notify(e.members, who, joined);
      } catch (...) {
        // Out of memory while telling one subscriber: the others still hear of the change.
      }
    }
  }
  // Erases `k` once nothing refers to it, so that a table of short-lived groups stays small.
  void tidy(std::map<key, entry>::iterator it) {
    if (it->second.members.empty() && it->second.subscribers.empty()) keys.erase(it);
  }

  // A member has stopped: it leaves every key. Runs on the monitor actor's turn.
  void member_stopped(actor_id who) {
    std::lock_guard lock(mu);
    for (auto it = keys.begin(); it != keys.end();) {
      auto& members = it->second.members;
      auto found = std::find_if(members.begin(), members.end(), [&](const any_ref& m) { return m.id() == who; });
      auto next = std::next(it);
      if (found != members.end()) {
        auto gone = std::move(*found);
        members.erase(found);
        notify(it->second, gone, false);
        tidy(it);
      }
      it = next;
    }
  }
};

namespace {

// Watches each member once, however many keys it joins, and reports its end to the table.
behavior<monitor_msg> monitor(std::shared_ptr<membership_table::state> st) {
  return setup<monitor_msg>([st](actor_context<monitor_msg>& ctx) {
    auto watched = std::make_shared<std::unordered_set<actor_id>>();
    return receive<monitor_msg>(
        [&ctx, watched](const watch_member& w) {
          // Watching an actor that has already stopped delivers its `terminated` at once, so a
          // member that stops while its join is on the way still leaves.
          if (watched->insert(w.who.id()).second) ctx.watch(w.who);
        },
        [st, watched](const terminated& t) {
          watched->erase(t.who);
          st->member_stopped(t.who);
        });
  });
}

}  // namespace

membership_table::membership_table(troupe::system& sys) : state_(std::make_shared<state>()) {
  monitor_ = sys.spawn(monitor(state_));
}

membership_table::~membership_table() {
  // If this fails (out of memory), the monitor lives on until its system stops, holding only
  // the state.
  troupe::request_stop(monitor_);
}

result<void> membership_table::join(const key& k, any_ref member) {
  if (!member.is_local_actor()) return error{troupe::errc::receiver_dead, "only actors can join"};
  if (member.has_stopped()) return error{troupe::errc::receiver_dead, member.describe() + " has already stopped"};
  {
    std::lock_guard lock(state_->mu);
    auto& e = state_->keys[k];
    auto same = [&](const any_ref& m) { return m == member; };
    if (std::find_if(e.members.begin(), e.members.end(), same) != e.members.end()) return {};
    e.members.push_back(member);
    state::notify(e, member, true);
  }
  if (auto m = monitor_.as<monitor_msg>()) m->tell(watch_member{std::move(member)});
  return {};
}

bool membership_table::leave(const key& k, const any_ref& member) {
  std::lock_guard lock(state_->mu);
  auto it = state_->keys.find(k);
  if (it == state_->keys.end()) return false;
  auto& members = it->second.members;
  auto found = std::find_if(members.begin(), members.end(), [&](const any_ref& m) { return m == member; });
  if (found == members.end()) return false;
  auto gone = std::move(*found);
  members.erase(found);
  state::notify(it->second, gone, false);
  state_->tidy(it);
  return true;
}

std::vector<any_ref> membership_table::members(const key& k) const {
  std::lock_guard lock(state_->mu);
  auto it = state_->keys.find(k);
  if (it == state_->keys.end()) return {};
  return it->second.members;
}

std::vector<std::string> membership_table::names(std::type_index protocol) const {
  std::lock_guard lock(state_->mu);
  std::vector<std::string> out;
  for (auto& [k, e] : state_->keys)
    if (k.protocol == protocol && !e.members.empty()) out.push_back(k.name);
  return out;
}

std::vector<any_ref> membership_table::subscribe(const key& k, any_ref subscriber, notify_fn notify,
                                                          bool notify_now) {
  std::lock_guard lock(state_->mu);
  auto& e = state_->keys[k];
  if (notify_now) notify(e.members, any_ref{}, true);
  e.subscribers.push_back({std::move(subscriber), std::move(notify)});
  return e.members;
}

void membership_table::unsubscribe(const key& k, const any_ref& subscriber) {
  std::lock_guard lock(state_->mu);
  auto it = state_->keys.find(k);
  if (it == state_->keys.end()) return;
  std::erase_if(it->second.subscribers, [&](const subscription& s) { return s.subscriber == subscriber; });
  state_->tidy(it);
}

std::size_t membership_table::subscriber_count(const key& k) const {
  std::lock_guard lock(state_->mu);
  auto it = state_->keys.find(k);
  if (it == state_->keys.end()) return 0;
  return static_cast<std::size_t>(std::count_if(it->second.subscribers.begin(), it->second.subscribers.end(), [](const subscription& s) {
    return !s.subscriber.has_stopped();
  }));
}

}  // namespace troupe::otp::detail
