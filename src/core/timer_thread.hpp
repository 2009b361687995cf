// timer_thread.hpp: the real-time timer service: one thread and one indexed binary heap.
// Scheduling and cancelling are O(log n) under one mutex; the thread sleeps until the earliest
// deadline, so idle timers cost no CPU. Actions run on the timer thread and must be short
// (they push a message; they never run user handlers). It also wakes once a trim interval to
// let the message pool return memory that stayed free (detail::pool_maintain).
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "troupe/core/timer_service.hpp"

namespace troupe::detail {

class timer_thread final : public timer_service {
 public:
  timer_thread();
  ~timer_thread() override;

  clock::time_point now() const override { return clock::now(); }
  std::uint64_t schedule_at(clock::time_point due, std::function<void(bool)> action) override;
  bool cancel(std::uint64_t id) noexcept override;
  void shutdown() override;

 private:
  struct entry {
    clock::time_point due;
    std::uint64_t id;
    std::size_t heap_index;
    std::function<void(bool)> action;
  };
  void run();
  bool earlier(std::size_t a, std::size_t b) const noexcept;
  void swap_at(std::size_t a, std::size_t b) noexcept;
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;
  void remove_at(std::size_t i) noexcept;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<entry*> heap_;                       // guarded by mu_
  std::unordered_map<std::uint64_t, entry> entries_;  // guarded by mu_; owns the entries
  std::uint64_t next_id_ = 1;                      // guarded by mu_
  bool stopping_ = false;                          // guarded by mu_
  std::thread thread_;
};

}  // namespace troupe::detail
