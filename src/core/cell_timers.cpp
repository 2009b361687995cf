// cell_timers.cpp: an actor's keyed timers.
// Each timer lives in the system's timer service; the actor keeps a record per key. A firing
// builds the message on the timer thread and pushes it tagged with the timer's id; the actor
// handles it only if that id is still current, so a message from a cancelled or replaced timer
// that was already in flight is discarded (Akka's guarantee).
#include <algorithm>

#include "cell_extras.hpp"
#include "troupe/core/actor_observer.hpp"
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
    // seq_cst, paired with the seq_cst store-then-load in retire(): a periodic re-arm races with
    // a cancel on the actor's thread (the store-load pattern of Dekker's algorithm). Either
    // retire() reads this id and cancels it, or we see its flag here and cancel it ourselves;
    // otherwise a cancelled timer would stay pending for one more period, holding the actor's
    // control block and a copy of its message. Cancelling twice is harmless.
    shared->service_id.store(id, std::memory_order_seq_cst);
    if (shared->cancelled.load(std::memory_order_seq_cst)) timers->cancel(id);
  }
  void fire(bool fired) {
    // acquire: pairs with the (seq_cst, so releasing) store in retire().
    if (!fired || shared->cancelled.load(std::memory_order_acquire)) return;
    auto* e = make();
    if (e->kind == envelope_kind::user) e->kind = envelope_kind::timer;  // a call stays a call
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
  if (auto* o = sys_->observer()) o->timer_started(make_observed(*this), key, delay, static_cast<troupe::timer_mode>(mode));
  x.timers.push_back({std::move(key), job->tag, mode, job->shared});
  job->arm();
}

namespace {
void retire(timer_service& timers, timer_record& r) noexcept {
  // seq_cst (store, then load): the other half of the Dekker pair in timer_job::arm(). The
  // flag also stops a firing that has not yet checked it (its acquire-or-stronger load).
  r.shared->cancelled.store(true, std::memory_order_seq_cst);
  timers.cancel(r.shared->service_id.load(std::memory_order_seq_cst));
}
}  // namespace

bool cell::cancel_timer(std::string_view key) {
  auto* x = extras_.load(std::memory_order_relaxed);
  if (x == nullptr) return false;
  auto it = std::find_if(x->timers.begin(), x->timers.end(), [&](const timer_record& r) { return r.key == key; });
  if (it == x->timers.end()) return false;
  retire(sys_->timers(), *it);
  if (auto* o = sys_->observer()) o->timer_cancelled(make_observed(*this), key);
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
