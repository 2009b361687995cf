// reply_slot.hpp: the one-shot endpoint behind every ask.
// The slot completes exactly once, whichever comes first: a reply, its deadline, the last
// reference to it going away unanswered (the receiver died or dropped the request), or the
// system shutting down. That is how an ask always completes and never hangs.
#pragma once

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "troupe/core/detail/endpoint.hpp"
#include "troupe/core/detail/system_core.hpp"
#include "troupe/core/result.hpp"

namespace troupe::detail {


template <class R>
class reply_slot final : public endpoint {
  // Shared with the timeout action, which may outlive the slot.
  struct state {
    std::atomic<bool> done{false};
    std::function<void(result<R>&&)> complete;
    std::atomic<std::uint64_t> timer{0};
    system_core* sys;

    void finish(result<R>&& r) {
      // acq_rel: exactly one completer wins, and sees the winner's writes of `timer`.
      if (done.exchange(true, std::memory_order_acq_rel)) return;
      if (auto t = timer.load(std::memory_order_acquire); t != 0) sys->timers().cancel(t);
      auto f = std::move(complete);
      f(std::move(r));
    }
  };

 public:
  /// A slot that calls `complete` once; the caller holds the first reference. `due` is the
  /// time on sys's timers when `timeout` (unless infinite) completes it with errc::timeout.
  reply_slot(system_core& sys, counted<endpoint> target, std::chrono::nanoseconds timeout,
             timer_service::clock::time_point due, std::function<void(result<R>&&)> complete)
      : state_(std::make_shared<state>()), target_(std::move(target)) {
    state_->complete = std::move(complete);
    state_->sys = &sys;
    if (timeout != std::chrono::nanoseconds::max()) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
      auto id = sys.timers().schedule_at(
          due,
          [s = state_, target = target_, ms](bool fired) {
            // Described only now: most asks are answered, and their text would be wasted.
            if (fired)
              s->finish(error{errc::timeout, "no reply from " + describe_endpoint(*target) + " within " +
                                                 std::to_string(ms) + " ms"});
            else
              s->finish(error{errc::system_stopped, "the system stopped while asking " + describe_endpoint(*target)});
          });
      // release: pairs with the acquire in finish().
      state_->timer.store(id, std::memory_order_release);
    }
  }

  void enqueue(envelope* e) noexcept override {
    auto* ue = static_cast<user_envelope<R>*>(e);
    try {
      state_->finish(std::move(ue->msg));
    } catch (...) {
      // A completion that throws (a full future, a failing mapper) must not unwind into the
      // replier; the asker has already been answered or will time out.
    }
    pool_delete(ue);
  }
  actor_id id() const noexcept override { return {}; }

  /// Completes now with `e` (e.g. the target was already dead).
  void fail(error e) { state_->finish(std::move(e)); }
  /// As fail(), for a layer that holds the slot as a plain endpoint (remote: node down).
  void abandon(const error& e) noexcept override {
    try {
      fail(e);
    } catch (...) {
      // As in enqueue(): a completion that throws must not unwind into the runtime.
    }
  }

 private:
  void unreferenced() noexcept override {
    if (!state_->done.load(std::memory_order_acquire)) {
      try {
        // Dropped while an exception unwinds: the handler holding the request threw, and the
        // receiver crashes with it (the runtime frees a message while its handler unwinds).
        // OTP's call exits with the server; dropped is only for a receiver that lives on.
        if (std::uncaught_exceptions() > 0)
          state_->finish(error{errc::receiver_dead, describe_endpoint(*target_) + " crashed while handling the request"});
        else if (endpoint_terminated(*target_))
          state_->finish(error{errc::receiver_dead, describe_endpoint(*target_) + " stopped before it replied"});
        else
          state_->finish(error{errc::request_dropped, describe_endpoint(*target_) + " dropped the request without replying"});
      } catch (...) {
      }
    }
    delete this;
  }

  std::shared_ptr<state> state_;
  counted<endpoint> target_;
};

}  // namespace troupe::detail
