// group_view.cpp: the untyped view behind the cluster's process groups and receptionist.
#include "troupe/cluster/detail/group_view.hpp"

#include <algorithm>
#include <set>
#include <utility>

namespace troupe::cluster::detail {

std::vector<any_ref> group_view::refs_of(const group& g) {
  std::vector<any_ref> out;
  out.reserve(g.entries.size());
  for (auto& e : g.entries) out.push_back(e.member);
  return out;
}

void group_view::notify(group& g, const any_ref& who, bool joined) {
  std::erase_if(g.subscribers, [](const subscription& s) { return s.subscriber.has_stopped(); });
  if (g.subscribers.empty()) return;
  auto all = refs_of(g);
  for (auto& s : g.subscribers) s.notify(all, who, joined);
}

void group_view::tidy(std::map<key, group>::iterator it) {
  if (it->second.entries.empty() && it->second.subscribers.empty()) groups_.erase(it);
}

std::optional<std::uint64_t> group_view::join_local(const key& k, const any_ref& member) {
  std::lock_guard lk(mu_);
  auto& g = groups_[k];
  for (auto& e : g.entries)
    if (e.node == self_ && e.member == member) return std::nullopt;
  auto id = ++next_id_;
  g.entries.push_back({self_, id, member});
  notify(g, member, true);
  return id;
}

std::optional<std::uint64_t> group_view::leave_local(const key& k, const any_ref& member) {
  std::lock_guard lk(mu_);
  auto it = groups_.find(k);
  if (it == groups_.end()) return std::nullopt;
  auto& es = it->second.entries;
  auto found = std::find_if(es.begin(), es.end(), [&](const entry& e) { return e.node == self_ && e.member == member; });
  if (found == es.end()) return std::nullopt;
  auto gone = std::move(*found);
  es.erase(found);
  notify(it->second, gone.member, false);
  tidy(it);
  return gone.id;
}

void group_view::add(const key& k, const std::string& node, std::uint64_t id, const any_ref& member) {
  std::lock_guard lk(mu_);
  auto& g = groups_[k];
  for (auto& e : g.entries)
    if (e.node == node && e.id == id) return;
  g.entries.push_back({node, id, member});
  notify(g, member, true);
}

bool group_view::remove(const key& k, const std::string& node, std::uint64_t id) {
  std::lock_guard lk(mu_);
  auto it = groups_.find(k);
  if (it == groups_.end()) return false;
  auto& es = it->second.entries;
  auto found = std::find_if(es.begin(), es.end(), [&](const entry& e) { return e.node == node && e.id == id; });
  if (found == es.end()) return false;
  auto gone = std::move(*found);
  es.erase(found);
  notify(it->second, gone.member, false);
  tidy(it);
  return true;
}

void group_view::replace_node(const std::string& node, std::type_index protocol,
                              const std::vector<remote_entry>& entries) {
  std::set<std::pair<std::string, std::uint64_t>> keep;
  for (auto& e : entries) keep.emplace(e.name, e.id);
  std::lock_guard lk(mu_);
  // Leaves first, then joins: a subscriber never sees a member twice.
  for (auto it = groups_.begin(); it != groups_.end();) {
    auto next = std::next(it);
    if (it->first.protocol == protocol) {
      auto& es = it->second.entries;
      for (std::size_t i = 0; i < es.size();) {
        if (es[i].node == node && !keep.count({it->first.name, es[i].id})) {
          auto gone = std::move(es[i]);
          es.erase(es.begin() + static_cast<std::ptrdiff_t>(i));
          notify(it->second, gone.member, false);
        } else {
          ++i;
        }
      }
      tidy(it);
    }
    it = next;
  }
  for (auto& e : entries) {
    auto& g = groups_[key{e.name, protocol}];
    bool there = std::any_of(g.entries.begin(), g.entries.end(),
                             [&](const entry& x) { return x.node == node && x.id == e.id; });
    if (there) continue;
    g.entries.push_back({node, e.id, e.member});
    notify(g, e.member, true);
  }
}

std::vector<any_ref> group_view::members(const key& k) const {
  std::lock_guard lk(mu_);
  auto it = groups_.find(k);
  return it == groups_.end() ? std::vector<any_ref>{} : refs_of(it->second);
}

std::vector<any_ref> group_view::local_members(const key& k) const {
  std::lock_guard lk(mu_);
  std::vector<any_ref> out;
  if (auto it = groups_.find(k); it != groups_.end())
    for (auto& e : it->second.entries)
      if (e.node == self_) out.push_back(e.member);
  return out;
}

std::vector<std::string> group_view::names(std::type_index protocol) const {
  std::lock_guard lk(mu_);
  std::vector<std::string> out;
  for (auto& [k, g] : groups_)
    if (k.protocol == protocol && !g.entries.empty()) out.push_back(k.name);
  return out;
}

std::vector<std::string> group_view::nodes(std::type_index protocol) const {
  std::lock_guard lk(mu_);
  std::set<std::string> out;
  for (auto& [k, g] : groups_)
    if (k.protocol == protocol)
      for (auto& e : g.entries) out.insert(e.node);
  return {out.begin(), out.end()};
}

std::vector<any_ref> group_view::subscribe(const key& k, const any_ref& subscriber, notify_fn notify_with,
                                           bool notify_now) {
  std::lock_guard lk(mu_);
  auto& g = groups_[k];
  auto now = refs_of(g);
  if (notify_now) notify_with(now, any_ref{}, true);
  g.subscribers.push_back({subscriber, std::move(notify_with)});
  return now;
}

void group_view::unsubscribe(const key& k, const any_ref& subscriber) {
  std::lock_guard lk(mu_);
  auto it = groups_.find(k);
  if (it == groups_.end()) return;
  std::erase_if(it->second.subscribers, [&](const subscription& s) { return s.subscriber == subscriber; });
  tidy(it);
}

}  // namespace troupe::cluster::detail
