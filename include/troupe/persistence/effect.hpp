// effect.hpp: what an event-sourced actor's command handler asks for (Akka's Effect).
// A handler never changes state itself: it returns an effect: persist events (then the event
// handler folds them into the state), do nothing, stash the command, call it unhandled, or stop;
// and what to do afterwards with the new state (reply, most often). The afterwards part runs
// only once the events are durable. Move-only values; built and consumed on the actor's own turn.
#pragma once

#include <cstddef>
#include <functional>
#include <new>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "troupe/core/ref.hpp"

namespace troupe::persistence {

/// The outcome of one command of an event-sourced actor with events `Event` and state `State`.
///
///     using fx = persistence::effect<account_event, account>;
///     return fx::persist(deposited{d.cents}).then_reply(d.reply_to, [](const account& a) { return a.cents; });
template <class Event, class State>
class effect {
 public:
  enum class kind { none, persist, persist_async, stash, unstash_all, unhandled, stop };

  /// Persist one event; its `then` parts run after it is durable and applied.
  static effect persist(Event e) {
    effect f(kind::persist);
    f.one_.emplace(std::move(e));
    return f;
  }
  /// Persist several events atomically (all or none), in order.
  static effect persist(std::vector<Event> es) {
    effect f(kind::persist);
    f.many_ = std::move(es);
    return f;
  }
  /// Persist without holding up the next commands (Akka's persistAsync): they are handled at
  /// once, against the state before these events; the events are applied and the `then` parts
  /// run once durable, in the order they were persisted. For throughput when commands need not
  /// see each other's effects (a stream of readings, say).
  static effect persist_async(std::vector<Event> es) {
    effect f(kind::persist_async);
    f.many_ = std::move(es);
    return f;
  }
  static effect persist_async(Event e) {
    effect f(kind::persist_async);
    f.one_.emplace(std::move(e));
    return f;
  }
  /// Persist nothing; `then` parts still run (with the current state).
  static effect none() { return effect(kind::none); }
  /// Keep the command until a later `unstash_all` (bounded; see event_sourced_options).
  static effect stash() { return effect(kind::stash); }
  /// Handle the stashed commands next, in the order they came, before any newer one.
  static effect unstash_all() { return effect(kind::unstash_all); }
  /// The command is not for this state: logged, then ignored.
  static effect unhandled() { return effect(kind::unhandled); }
  /// Stop the actor (after the `then` parts).
  static effect stop() { return effect(kind::stop); }

  /// Runs `f(state)` after the events are durable and applied (or at once for none).
  effect then(std::function<void(const State&)> f) && {
    add_after(std::move(f));
    return std::move(*this);
  }
  /// Sends `map(state)` to `reply_to` once the events are durable: the reply is the acknowledgement.
  template <class R, class Map>
  effect then_reply(ref<R> reply_to, Map map) && {
    add_after([reply_to = std::move(reply_to), map = std::move(map)](const State& s) { reply_to.tell(map(s)); });
    return std::move(*this);
  }
  /// Stops the actor once the events are durable and the other `then` parts have run.
  effect then_stop() && {
    stop_after_ = true;
    return std::move(*this);
  }

  kind what() const noexcept { return kind_; }
  /// The events to persist, in order.
  std::span<Event> events() noexcept { return one_ ? std::span<Event>(&*one_, 1) : std::span<Event>(many_); }
  /// Runs the `then` parts with `s`, in the order they were added.
  void run_after(const State& s) {
    if (!first_after_) return;
    first_after_(s);
    for (auto& f : more_after_) f(s);
  }
  bool stops() const noexcept { return kind_ == kind::stop || stop_after_; }

 private:
  // A `then` part, type-erased. Unlike std::function it keeps a capture of a ref (a reply's
  // target, not trivially copyable) inline: as a std::function, with the events' vector and the
  // parts' vector, the usual persist-then-reply effect cost three allocations per command
  // (callgrind, the pipelined benchmark); now it costs none for one event and one part.
  class part {
   public:
    part() = default;
    template <class F>
    explicit part(F&& f) {
      using D = std::decay_t<F>;
      if constexpr (sizeof(D) <= inline_size && alignof(D) <= alignof(void*) && std::is_nothrow_move_constructible_v<D>) {
        ::new (static_cast<void*>(buf_)) D(std::forward<F>(f));
        ops_ = &inline_ops<D>;
      } else {
        *reinterpret_cast<D**>(buf_) = new D(std::forward<F>(f));
        ops_ = &boxed_ops<D>;
      }
    }
    part(part&& o) noexcept : ops_(o.ops_) {
      if (ops_) ops_->relocate(o.buf_, buf_);
      o.ops_ = nullptr;
    }
    part& operator=(part&& o) noexcept {
      if (this != &o) {
        reset();
        ops_ = o.ops_;
        if (ops_) ops_->relocate(o.buf_, buf_);
        o.ops_ = nullptr;
      }
      return *this;
    }
    ~part() { reset(); }
    explicit operator bool() const noexcept { return ops_ != nullptr; }
    void operator()(const State& s) { ops_->call(buf_, s); }

   private:
    static constexpr std::size_t inline_size = 32;
    struct ops {
      void (*call)(void*, const State&);
      void (*relocate)(void* from, void* to) noexcept;
      void (*destroy)(void*) noexcept;
    };
    template <class D>
    static D& inline_target(void* b) noexcept {
      return *std::launder(static_cast<D*>(b));
    }
    template <class D>
    static constexpr ops inline_ops{
        [](void* b, const State& s) { inline_target<D>(b)(s); },
        [](void* from, void* to) noexcept {
          ::new (to) D(std::move(inline_target<D>(from)));
          inline_target<D>(from).~D();
        },
        [](void* b) noexcept { inline_target<D>(b).~D(); }};
    template <class D>
    static constexpr ops boxed_ops{[](void* b, const State& s) { (**static_cast<D**>(b))(s); },
                                    [](void* from, void* to) noexcept { *static_cast<D**>(to) = *static_cast<D**>(from); },
                                    [](void* b) noexcept { delete *static_cast<D**>(b); }};
    void reset() noexcept {
      if (ops_) ops_->destroy(buf_);
      ops_ = nullptr;
    }
    const ops* ops_ = nullptr;
    alignas(void*) unsigned char buf_[inline_size];
  };

  template <class F>
  void add_after(F&& f) {
    if (!first_after_)
      first_after_ = part(std::forward<F>(f));
    else
      more_after_.emplace_back(std::forward<F>(f));
  }

  explicit effect(kind k) : kind_(k) {}
  kind kind_;
  // One event (the usual case) without a vector; several in many_.
  std::optional<Event> one_;
  std::vector<Event> many_;
  part first_after_;
  std::vector<part> more_after_;
  bool stop_after_ = false;
};

}  // namespace troupe::persistence
