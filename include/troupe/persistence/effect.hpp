// effect.hpp: what an event-sourced actor's command handler asks for (Akka's Effect).
// A handler never changes state itself: it returns an effect: persist events (then the event
// handler folds them into the state), do nothing, stash the command, call it unhandled, or stop;
// and what to do afterwards with the new state (reply, most often). The afterwards part runs
// only once the events are durable. Plain values; built and consumed on the actor's own turn.
#pragma once

#include <functional>
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
    f.events_.push_back(std::move(e));
    return f;
  }
  /// Persist several events atomically (all or none), in order.
  static effect persist(std::vector<Event> es) {
    effect f(kind::persist);
    f.events_ = std::move(es);
    return f;
  }
  /// Persist without holding up the next commands (Akka's persistAsync): they are handled at
  /// once, against the state before these events; the events are applied and the `then` parts
  /// run once durable, in the order they were persisted. For throughput when commands need not
  /// see each other's effects (a stream of readings, say).
  static effect persist_async(std::vector<Event> es) {
    effect f(kind::persist_async);
    f.events_ = std::move(es);
    return f;
  }
  static effect persist_async(Event e) {
    effect f(kind::persist_async);
    f.events_.push_back(std::move(e));
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
    after_.push_back(std::move(f));
    return std::move(*this);
  }
  /// Sends `map(state)` to `reply_to` once the events are durable: the reply is the acknowledgement.
  template <class R, class Map>
  effect then_reply(ref<R> reply_to, Map map) && {
    after_.push_back([reply_to = std::move(reply_to), map = std::move(map)](const State& s) { reply_to.tell(map(s)); });
    return std::move(*this);
  }
  /// Stops the actor once the events are durable and the other `then` parts have run.
  effect then_stop() && {
    stop_after_ = true;
    return std::move(*this);
  }

  kind what() const noexcept { return kind_; }
  std::vector<Event>& events() noexcept { return events_; }
  std::vector<std::function<void(const State&)>>& after() noexcept { return after_; }
  bool stops() const noexcept { return kind_ == kind::stop || stop_after_; }

 private:
  explicit effect(kind k) : kind_(k) {}
  kind kind_;
  std::vector<Event> events_;
  std::vector<std::function<void(const State&)>> after_;
  bool stop_after_ = false;
};

}  // namespace troupe::persistence
