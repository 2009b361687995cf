// deterministic_scheduler.cpp: one turn at a time, in a seeded order.
#include "troupe/testkit/deterministic_scheduler.hpp"

namespace troupe::testkit {

deterministic_scheduler::deterministic_scheduler(std::uint64_t seed, unsigned messages_per_turn)
    : seed_(seed), budget_(messages_per_turn == 0 ? 1 : messages_per_turn), rng_(seed) {}

void deterministic_scheduler::schedule(schedulable& actor, schedule_hint) noexcept {
  std::lock_guard lock(mu_);
  try {
    ready_.push_back(&actor);
  } catch (...) {
    std::terminate();  // losing a runnable actor would hang the test silently
  }
}

bool deterministic_scheduler::owns_current_thread() const noexcept {
  std::lock_guard lock(mu_);
  return turn_thread_ == std::this_thread::get_id();
}

std::size_t deterministic_scheduler::runnable() const {
  std::lock_guard lock(mu_);
  return ready_.size();
}

void deterministic_scheduler::run_turn_of(schedulable* c) {
  {
    std::lock_guard lock(mu_);
    turn_thread_ = std::this_thread::get_id();
  }
  const bool again = c->run_turn(budget_);
  {
    std::lock_guard lock(mu_);
    turn_thread_ = {};
  }
  if (again) schedule(*c, schedule_hint::yielded);
}

bool deterministic_scheduler::run_one() {
  schedulable* c = nullptr;
  {
    std::lock_guard lock(mu_);
    if (ready_.empty()) return false;
    // The order of `ready_` is itself deterministic (this thread schedules in program order),
    // so the generator's draw alone decides which actor goes next.
    auto i = static_cast<std::size_t>(rng_() % ready_.size());
    c = ready_[i];
    ready_.erase(ready_.begin() + static_cast<std::ptrdiff_t>(i));
  }
  run_turn_of(c);
  return true;
}

std::size_t deterministic_scheduler::run_until_idle() {
  std::size_t n = 0;
  while (run_one()) ++n;
  return n;
}

bool deterministic_scheduler::run_actor(std::uint64_t serial) {
  schedulable* c = nullptr;
  {
    std::lock_guard lock(mu_);
    for (auto it = ready_.begin(); it != ready_.end(); ++it) {
      if ((*it)->serial() == serial) {
        c = *it;
        ready_.erase(it);
        break;
      }
    }
  }
  if (c == nullptr) return false;
  run_turn_of(c);
  return true;
}

}  // namespace troupe::testkit
