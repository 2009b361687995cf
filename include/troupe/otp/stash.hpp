// stash.hpp: a bounded buffer where an actor sets messages aside until it is ready for them.
// Akka's StashBuffer: stash() keeps a message (or reports errc::stash_full: overflow is a
// result the actor sees, never a silent drop or a crash); unstash_all() feeds the kept
// messages, in order, to the next behaviour before any message still in the mailbox. Owned by
// one actor and used only on its turn: no locks. It differs from a state machine's postpone in
// that the actor decides when to replay, not a state change.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <type_traits>
#include <utility>

#include "troupe/core/actor_context.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/core/result.hpp"
#include "troupe/otp/errc.hpp"

namespace troupe::otp {

/// A bounded stash of messages of protocol P, owned by one actor.
///
///     auto buffer = std::make_shared<troupe::otp::stash_buffer<db_msg>>(100);
///     // while connecting:
///     [buffer](db_msg&& m) { if (!buffer->stash(std::move(m))) ...; }   // full: the actor decides
///     // once connected:
///     return buffer->unstash_all(ctx, connected(conn));
template <class P>
class stash_buffer {
 public:
  /// A stash that holds at most `capacity` messages.
  explicit stash_buffer(std::size_t capacity) : capacity_(capacity) {}

  /// Keeps `msg` for a later unstash_all. Fails with errc::stash_full when the stash already
  /// holds `capacity()` messages (the message is then not kept).
  template <class M>
    requires accepts<P, M> || std::is_same_v<std::remove_cvref_t<M>, P>
  result<void> stash(M&& msg) {
    if (kept_.size() >= capacity_)
      return troupe::error{make_error_code(errc::stash_full),
                           "the stash holds its capacity of " + std::to_string(capacity_) + " messages"};
    kept_.emplace_back(std::forward<M>(msg));
    return {};
  }

  /// Feeds every stashed message, oldest first, to `next` (following the behaviours it becomes),
  /// and returns the behaviour to continue with: return it from the current handler. This runs
  /// within the current message's turn, so the stashed messages come before any new one. If a
  /// stashed message stops the actor, the rest are dropped. Messages stashed again while
  /// unstashing stay for the next unstash_all.
  behavior<P> unstash_all(actor_context<P>& ctx, behavior<P> next) {
    auto pending = std::exchange(kept_, {});
    behavior<P> current = settle(ctx, std::move(next));
    while (!pending.empty() && !current.is_stopped()) {
      P msg = std::move(pending.front());
      pending.pop_front();
      behavior<P> became(same);
      switch (current.handle(std::move(msg), became)) {
        case troupe::transition::same:
          break;
        case troupe::transition::become:
          current = settle(ctx, std::move(became));
          break;
        case troupe::transition::stop:
          current = behavior<P>(stopped);
          break;
      }
    }
    return current;
  }

  /// For class-style actors: calls `f(P&&)` for every stashed message, oldest first.
  ///
  ///     buffer_.unstash_all([this](db_msg&& m) { std::visit([this](auto& x) { on(x); }, m); });
  template <class F>
    requires std::is_invocable_v<F&, P&&>
  void unstash_all(F&& f) {
    auto pending = std::exchange(kept_, {});
    while (!pending.empty()) {
      P msg = std::move(pending.front());
      pending.pop_front();
      f(std::move(msg));
    }
  }

  std::size_t size() const noexcept { return kept_.size(); }
  std::size_t capacity() const noexcept { return capacity_; }
  bool empty() const noexcept { return kept_.empty(); }
  bool full() const noexcept { return kept_.size() >= capacity_; }
  /// Drops every stashed message.
  void clear() noexcept { kept_.clear(); }

 private:
  // Runs setup behaviours, as the actor itself would on a become.
  static behavior<P> settle(actor_context<P>& ctx, behavior<P> b) {
    while (b.needs_setup()) b = b.run_setup(ctx);
    if (b.is_same())
      throw usage_error("troupe::otp::stash_buffer::unstash_all: the behaviour to unstash into is "
                        "troupe::same; pass the behaviour itself");
    return b;
  }

  std::size_t capacity_;
  std::deque<P> kept_;  // oldest first; the owning actor's turn only
};

}  // namespace troupe::otp
