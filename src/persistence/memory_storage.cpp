// memory_storage.cpp: maps under one mutex, with the checks the durable stores make.
#include "troupe/persistence/memory_storage.hpp"

#include <algorithm>

namespace troupe::persistence {

void memory_storage::fail_next_writes(int n, troupe::error e) {
  std::lock_guard lock(mu_);
  failures_left_ = n;
  failure_ = std::move(e);
}

void memory_storage::put_raw(persistent_event e) {
  std::lock_guard lock(mu_);
  e.offset = next_offset_++;
  auto& ent = entities_[e.persistence_id];
  ent.highest = std::max(ent.highest, e.sequence_nr);
  by_offset_[e.offset] = {e.persistence_id, e.sequence_nr};
  ent.events[e.sequence_nr] = std::move(e);
}

std::vector<result<void>> memory_storage::write(std::span<write_request> requests) {
  std::lock_guard lock(mu_);
  std::vector<result<void>> out;
  out.reserve(requests.size());
  for (auto& w : requests) {
    if (failures_left_ > 0) {
      --failures_left_;
      out.emplace_back(failure_);
      continue;
    }
    auto& ent = entities_[w.persistence_id];
    if (w.expected_next != ent.highest + 1) {
      out.emplace_back(troupe::error{errc::sequence_conflict, "'" + w.persistence_id + "' expected next " +
                                                                  std::to_string(w.expected_next) + ", journal has " +
                                                                  std::to_string(ent.highest)});
      continue;
    }
    std::uint64_t seq = w.expected_next;
    bool ok = true;
    for (auto& e : w.events)
      if (e.sequence_nr != seq++ || e.persistence_id != w.persistence_id) ok = false;
    if (!ok) {
      out.emplace_back(troupe::error{errc::sequence_conflict, "events of '" + w.persistence_id +
                                                                  "' must be numbered consecutively from expected_next"});
      continue;
    }
    for (auto& e : w.events) {
      e.offset = next_offset_++;
      by_offset_[e.offset] = {e.persistence_id, e.sequence_nr};
      ent.highest = e.sequence_nr;
      ent.events[e.sequence_nr] = e;
    }
    out.emplace_back();
  }
  return out;
}

result<std::vector<persistent_event>> memory_storage::read(const std::string& id, std::uint64_t from,
                                                           std::uint64_t to, std::uint64_t max) {
  std::lock_guard lock(mu_);
  std::vector<persistent_event> out;
  auto it = entities_.find(id);
  if (it == entities_.end()) return out;
  for (auto e = it->second.events.lower_bound(from); e != it->second.events.end() && e->first <= to && out.size() < max;
       ++e)
    out.push_back(e->second);
  return out;
}

result<std::uint64_t> memory_storage::highest_sequence_nr(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = entities_.find(id);
  return it == entities_.end() ? std::uint64_t{0} : it->second.highest;
}

result<void> memory_storage::delete_up_to(const std::string& id, std::uint64_t to) {
  std::lock_guard lock(mu_);
  auto it = entities_.find(id);
  if (it == entities_.end()) return {};
  auto& evs = it->second.events;
  for (auto e = evs.begin(); e != evs.end() && e->first <= to;) {
    by_offset_.erase(e->second.offset);
    e = evs.erase(e);
  }
  return {};
}

result<std::vector<persistent_event>> memory_storage::read_by_tag(const std::string& tag, std::uint64_t after,
                                                                  std::uint64_t max) {
  std::lock_guard lock(mu_);
  std::vector<persistent_event> out;
  for (auto it = by_offset_.upper_bound(after); it != by_offset_.end() && out.size() < max; ++it) {
    const auto& e = entities_[it->second.first].events[it->second.second];
    if (std::find(e.tags.begin(), e.tags.end(), tag) != e.tags.end()) out.push_back(e);
  }
  return out;
}

result<void> memory_storage::save_snapshot(const snapshot& s, std::uint32_t keep) {
  std::lock_guard lock(mu_);
  auto& snaps = snapshots_[s.persistence_id];
  snaps[s.sequence_nr] = s;
  while (keep > 0 && snaps.size() > keep) snaps.erase(snaps.begin());
  return {};
}

result<std::optional<snapshot>> memory_storage::load_snapshot(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = snapshots_.find(id);
  if (it == snapshots_.end() || it->second.empty()) return std::optional<snapshot>{};
  return std::optional<snapshot>{it->second.rbegin()->second};
}

result<std::optional<durable_state>> memory_storage::get_state(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = states_.find(id);
  if (it == states_.end()) return std::optional<durable_state>{};
  return std::optional<durable_state>{it->second};
}

result<void> memory_storage::upsert_state(const durable_state& s) {
  std::lock_guard lock(mu_);
  auto it = states_.find(s.persistence_id);
  std::uint64_t stored = it == states_.end() ? 0 : it->second.revision;
  if (s.revision != stored + 1)
    return troupe::error{errc::revision_conflict, "'" + s.persistence_id + "' is at revision " +
                                                      std::to_string(stored) + "; a save must name revision " +
                                                      std::to_string(stored + 1) + ", not " +
                                                      std::to_string(s.revision)};
  states_[s.persistence_id] = s;
  return {};
}

}  // namespace troupe::persistence
