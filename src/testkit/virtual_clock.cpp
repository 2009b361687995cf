// virtual_clock.cpp: pending actions in deadline order; time moves only by set_time.
#include "troupe/testkit/virtual_clock.hpp"

#include <vector>

namespace troupe::testkit {

// A day past the clock's epoch: far from zero, so that `now() - d` stays meaningful in tests.
virtual_clock::virtual_clock() : now_(clock::time_point{} + std::chrono::hours(24)) {}

timer_service::clock::time_point virtual_clock::now() const {
  std::lock_guard lock(mu_);
  return now_;
}

std::uint64_t virtual_clock::schedule_at(clock::time_point due, std::function<void(bool)> action) {
  std::unique_lock lock(mu_);
  auto id = next_id_++;
  if (shut_down_) {
    lock.unlock();
    action(false);
    return id;
  }
  queue_.emplace(key{due, id}, std::move(action));
  due_of_.emplace(id, due);
  return id;
}

bool virtual_clock::cancel(std::uint64_t id) noexcept {
  std::lock_guard lock(mu_);
  auto it = due_of_.find(id);
  if (it == due_of_.end()) return false;
  queue_.erase(key{it->second, id});
  due_of_.erase(it);
  return true;
}

void virtual_clock::shutdown() {
  std::vector<std::function<void(bool)>> left;
  {
    std::lock_guard lock(mu_);
    shut_down_ = true;
    for (auto& [k, action] : queue_) left.push_back(std::move(action));
    queue_.clear();
    due_of_.clear();
  }
  for (auto& action : left) action(false);  // outside the lock: an action may schedule again
}

std::optional<timer_service::clock::time_point> virtual_clock::next_due() const {
  std::lock_guard lock(mu_);
  if (queue_.empty()) return std::nullopt;
  return queue_.begin()->first.first;
}

void virtual_clock::set_time(clock::time_point t) {
  std::lock_guard lock(mu_);
  if (t > now_) now_ = t;
}

bool virtual_clock::fire_next_due() {
  std::function<void(bool)> action;
  {
    std::lock_guard lock(mu_);
    if (queue_.empty() || queue_.begin()->first.first > now_) return false;
    auto it = queue_.begin();
    action = std::move(it->second);
    due_of_.erase(it->first.second);
    queue_.erase(it);
  }
  action(true);  // outside the lock: it may schedule or cancel
  return true;
}

std::size_t virtual_clock::pending() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

}  // namespace troupe::testkit
