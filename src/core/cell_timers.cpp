// cell_timers.cpp: an actor's keyed timers.
// Each timer lives in the system's timer service; the actor keeps a record per key. A firing
// builds the message on the timer thread and pushes it tagged with the timer's id; the actor
// handles it only if that id is still current, so a message from a cancelled or replaced timer
// that was already in flight is discarded (Akka's guarantee).
#include <algorithm>

#include "cell_extras.hpp"
#include "troupe/core/detail/system_core.hpp"

namespace troupe::detail {

namespace {
struct timer_job : std::enable_shared_from_this<timer_job> {
  counted<cell> target;
  std::shared_ptr<timer_shared> shared;
  std::function<envelope*()> make;
  std::uint32_t tag;
  cell::timer_mode mode;
  std::chrono::nanoseconds delay;
  timer_service::clock::time_point due;
  timer_service* timers;

  void arm() {
    auto self = shared_from_this();
    auto id = timers->schedule_at(due, [self](bool fired) { self->fire(fired); });
    // release: the id is read by cancel on the actor's thread.
    shared->service_id.store(id, std::memory_order_release);
  }
  void fire(bool fired) {
    // acquire: pairs with the release in cancel_timer.
    if (!fired || shared->cancelled.load(std::memory_order_acquire)) return;
    auto* e = make();
    e->kind = envelope_kind::timer;
    e->tag = tag;
    target->enqueue(e);
    if (mode == cell::timer_mode::single) return;
    due = mode == cell::timer_mode::fixed_rate ? due + delay : timers->now() + delay;
    arm();
  }
};
}  // namespace

void cell::start_timer(std::string key, timer_mode mode, std::chrono::nanoseconds delay,
                       std::function<envelope*()> make_envelope) {
  cancel_timer(key);
  if (state_.load(std::memory_order_relaxed) != cell_state::running) return;
  if (mode != timer_mode::single && delay <= std::chrono::nanoseconds::zero())
    throw usage_error("troupe: a periodic timer needs a positive interval");
  auto& x = extras();
  if (++x.timer_seq == 0) ++x.timer_seq;  // 0 means "not a timer message"
  auto job = std::make_shared<timer_job>();
  job->target = counted<cell>::share(this);
  job->shared = std::make_shared<timer_shared>();
  job->make = std::move(make_envelope);
  job->tag = x.timer_seq;
  job->mode = mode;
  job->delay = delay;
  job->timers = &sys_->timers();
  job->due = job->timers->now() + delay;
  x.timers.push_back({std::move(key), job->tag, mode, job->shared});
  job->arm();
}

namespace {
void retire(timer_service& timers, timer_record& r) noexcept {
  // release: the timer thread's next fire sees it and stops.
  r.shared->cancelled.store(true, std::memory_order_release);
  timers.cancel(r.shared->service_id.load(std::memory_order_acquire));
}
}  // namespace

bool cell::cancel_timer(std::string_view key) {
  auto* x = extras_.load(std::memory_order_relaxed);
  if (x == nullptr) return false;
  auto it = std::find_if(x->timers.begin(), x->timers.end(), [&](const timer_record& r) { return r.key == key; });
  if (it == x->timers.end()) return false;
  retire(sys_->timers(), *it);
  x->timers.erase(it);
  return true;
}

bool cell::timer_active(std::string_view key) const {
  auto* x = extras_.load(std::memory_order_relaxed);
  if (x == nullptr) return false;
  return std::any_of(x->timers.begin(), x->timers.end(), [&](const timer_record& r) { return r.key == key; });
}

void cell::cancel_all_timers() noexcept {
  auto* x = extras_.load(std::memory_order_relaxed);
  if (x == nullptr) return;
  for (auto& r : x->timers) retire(sys_->timers(), r);
  x->timers.clear();
}

bool cell::accept_timer(std::uint32_t tag) {
  auto* x = extras_.load(std::memory_order_relaxed);
  if (x == nullptr) return false;
  auto it = std::find_if(x->timers.begin(), x->timers.end(), [&](const timer_record& r) { return r.tag == tag; });
  if (it == x->timers.end()) return false;  // cancelled or replaced after it fired
  if (it->mode == timer_mode::single) x->timers.erase(it);
  return true;
}

}  // namespace troupe::detail
