#include "timer_thread.hpp"

#include <algorithm>

#include "troupe/core/detail/message_pool.hpp"

namespace troupe::detail {

timer_thread::timer_thread() : thread_([this] { run(); }) {}

timer_thread::~timer_thread() { shutdown(); }

bool timer_thread::earlier(std::size_t a, std::size_t b) const noexcept {
  return heap_[a]->due < heap_[b]->due || (heap_[a]->due == heap_[b]->due && heap_[a]->id < heap_[b]->id);
}

void timer_thread::swap_at(std::size_t a, std::size_t b) noexcept {
  std::swap(heap_[a], heap_[b]);
  heap_[a]->heap_index = a;
  heap_[b]->heap_index = b;
}

void timer_thread::sift_up(std::size_t i) noexcept {
  while (i > 0) {
    auto parent = (i - 1) / 2;
    if (!earlier(i, parent)) break;
    swap_at(i, parent);
    i = parent;
  }
}

void timer_thread::sift_down(std::size_t i) noexcept {
  for (;;) {
    auto l = 2 * i + 1, r = l + 1, m = i;
    if (l < heap_.size() && earlier(l, m)) m = l;
    if (r < heap_.size() && earlier(r, m)) m = r;
    if (m == i) break;
    swap_at(i, m);
    i = m;
  }
}

void timer_thread::remove_at(std::size_t i) noexcept {
  auto last = heap_.size() - 1;
  if (i != last) swap_at(i, last);
  heap_.pop_back();
  if (i < heap_.size()) {
    sift_up(i);
    sift_down(i);
  }
}

std::uint64_t timer_thread::schedule_at(clock::time_point due, std::function<void(bool)> action) {
  std::unique_lock lock(mu_);
  if (stopping_) {
    lock.unlock();
    action(false);
    return 0;
  }
  auto id = next_id_++;
  auto& e = entries_.emplace(id, entry{due, id, heap_.size(), std::move(action)}).first->second;
  heap_.push_back(&e);
  sift_up(e.heap_index);
  bool first = heap_.front() == &e;
  lock.unlock();
  if (first) cv_.notify_one();  // the thread sleeps until the old earliest deadline
  return id;
}

bool timer_thread::cancel(std::uint64_t id) noexcept {
  std::function<void(bool)> doomed;  // destroyed outside the lock: it may release actors
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return false;
    remove_at(it->second.heap_index);
    doomed = std::move(it->second.action);
    entries_.erase(it);
  }
  return true;
}

void timer_thread::run() {
  // The message pool's trim rides on this thread: it needs a clock, not a worker, and runs
  // outside the lock so that scheduling never waits for it.
  auto trim_due = clock::time_point::min();
  std::unique_lock lock(mu_);
  while (!stopping_) {
    auto now = clock::now();
    if (now >= trim_due) {
      lock.unlock();
      trim_due = pool_maintain(now);
      lock.lock();
      continue;
    }
    if (heap_.empty() || now < heap_.front()->due) {
      // A copy, not std::min's reference into the entry: wait_until reads its deadline again
      // after it released the lock, when a cancel may have freed that entry (ASan saw it).
      const clock::time_point wake_at = heap_.empty() ? trim_due : std::min(trim_due, heap_.front()->due);
      cv_.wait_until(lock, wake_at);
      continue;
    }
    auto* e = heap_.front();
    remove_at(0);
    auto action = std::move(e->action);
    entries_.erase(e->id);
    lock.unlock();
    action(true);
    action = nullptr;  // release what it holds before taking the lock again
    lock.lock();
  }
}

void timer_thread::shutdown() {
  std::unordered_map<std::uint64_t, entry> pending;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    heap_.clear();
    pending.swap(entries_);
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  for (auto& [id, e] : pending) e.action(false);
}

}  // namespace troupe::detail
