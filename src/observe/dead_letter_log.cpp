// dead_letter_log.cpp: a function subscriber (no actor: the record is made on the dropping thread,
// so a reader sees a dead letter as soon as tell returns) that writes into a ring under a mutex.
// The system keeps the subscriber until it ends, so the ring's state is shared with it; the log's
// destructor turns it off and frees the records.
#include "troupe/observe/dead_letter_log.hpp"

#include <deque>
#include <mutex>

#include "troupe/core/extension.hpp"
#include "troupe/core/system.hpp"

namespace troupe::observe {

struct dead_letter_log::state {
  mutable std::mutex mu;
  std::size_t capacity;            // immutable
  bool open = true;                // guarded by mu
  std::deque<dead_letter_record> ring;  // guarded by mu
  std::uint64_t seen = 0;          // guarded by mu
};

dead_letter_log::dead_letter_log(system& sys, std::size_t capacity) : state_(std::make_shared<state>()) {
  state_->capacity = capacity == 0 ? 1 : capacity;
  sys.subscribe_dead_letters(make_function_ref<dead_letter>([st = state_](dead_letter&& d) {
    auto now = std::chrono::system_clock::now();
    std::lock_guard lock(st->mu);
    if (!st->open) return;
    ++st->seen;
    if (st->ring.size() == st->capacity) st->ring.pop_front();
    st->ring.push_back({now, d.recipient, std::move(d.recipient_name), std::move(d.message_type), d.reason});
  }));
}

dead_letter_log::~dead_letter_log() {
  std::lock_guard lock(state_->mu);
  state_->open = false;
  state_->ring.clear();
  state_->ring.shrink_to_fit();
}

std::vector<dead_letter_record> dead_letter_log::recent() const {
  std::lock_guard lock(state_->mu);
  return {state_->ring.begin(), state_->ring.end()};
}

std::uint64_t dead_letter_log::seen() const {
  std::lock_guard lock(state_->mu);
  return state_->seen;
}

}  // namespace troupe::observe
