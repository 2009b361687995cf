// event_sourced.hpp: an actor whose state is the fold of its persisted events (Akka's
// EventSourcedBehavior). On start it recovers (latest snapshot, then the events after it) before
// it handles any command; commands arriving meanwhile wait, in order. A command's handler returns
// an effect; persisted events are applied by the pure event handler and the effect's `then`
// parts (the reply) run only once the events are durable; commands arriving during a write wait.
// A failed write or recovery stops the actor with a persistence_failure saying why (let it
// crash: a backoff supervisor restarts it, and it recovers); never a half-built state.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "troupe/core/actor_context.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/persistence/detail/on_turn.hpp"
#include "troupe/persistence/effect.hpp"
#include "troupe/persistence/journal.hpp"
#include "troupe/persistence/value_codec.hpp"

namespace troupe::persistence {

/// When an event-sourced actor saves snapshots of its state, and how many it keeps. Snapshots
/// are also taken when the spec's `snapshot_when` says so; retention counts both kinds.
///
///     snapshot_policy s{.every = 100, .keep = 2, .delete_events = true};
struct snapshot_policy {
  /// A snapshot after each `every` events (0: never).
  std::uint64_t every = 0;
  /// Snapshots kept per id (older ones are deleted); 0 keeps all.
  std::uint32_t keep = 2;
  /// After a snapshot, delete the events that the oldest kept snapshot already covers.
  bool delete_events = false;
};

/// Everything an event-sourced actor needs. Command is its protocol (what its ref accepts),
/// Event a std::variant of its event types, State its state.
///
///     persistence::event_sourced_spec<account_cmd, account_event, account> spec{
///         .persistence_id = "account-7", .journal = j, .events = events_codec, .states = state_codec,
///         .on_command = handle, .on_event = apply, .snapshots = {.every = 100}};
///     auto acct = sys.spawn(persistence::event_sourced(spec));
template <class Command, class Event, class State>
struct event_sourced_spec {
  std::string persistence_id{};
  std::shared_ptr<persistence::journal> journal{};
  std::shared_ptr<const value_codec<Event>> events{};
  /// Needed only when snapshots are taken.
  std::shared_ptr<const value_codec<State>> states{};
  State empty_state{};
  /// Decides what a command does; must not change anything itself (effects do).
  std::function<effect<Event, State>(const State&, const Command&)> on_command{};
  /// Folds one event into the state. Pure: it also runs on replay, where there is nobody to tell.
  std::function<State(State, const Event&)> on_event{};
  snapshot_policy snapshots{};
  /// A snapshot after a persisted event for which this returns true (Akka's snapshotWhen), given
  /// the state with the event applied, the event and its sequence number; besides
  /// `snapshots.every`, with the same retention. Runs on the actor's turn, never on replay.
  ///
  ///     .snapshot_when = [](const cart&, const cart_event& e, std::uint64_t) {
  ///       return std::holds_alternative<checked_out>(e); }
  std::function<bool(const State&, const Event&, std::uint64_t)> snapshot_when{};
  /// Tags stored with each event, for read models (events by tag).
  std::function<std::vector<std::string>(const Event&)> tags{};
  /// Commands kept while recovering or persisting, and by effect::stash; beyond it the actor
  /// stops with a persistence_failure (bound the mailbox to push back on senders instead).
  std::size_t stash_capacity = 10'000;
  /// Events read per journal round trip during recovery.
  std::uint64_t replay_page = 4096;
};

namespace detail {

// First in, first out, in storage that is kept: a std::deque of effects allocated and freed a
// block every few persisted commands (callgrind, the pipelined benchmark).
template <class T>
class fifo {
 public:
  bool empty() const noexcept { return size_ == 0; }
  void push(T&& v) {
    if (size_ == slots_.size()) grow();
    slots_[(head_ + size_) % slots_.size()].emplace(std::move(v));
    ++size_;
  }
  T pop() {
    T v = std::move(*slots_[head_]);
    slots_[head_].reset();
    head_ = (head_ + 1) % slots_.size();
    --size_;
    return v;
  }

 private:
  void grow() {
    std::vector<std::optional<T>> next(std::max<std::size_t>(8, slots_.size() * 2));
    for (std::size_t i = 0; i < size_; ++i) next[i] = std::move(slots_[(head_ + i) % slots_.size()]);
    slots_ = std::move(next);
    head_ = 0;
  }
  std::vector<std::optional<T>> slots_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

template <class Command, class Event, class State>
class event_sourced_runner : public std::enable_shared_from_this<event_sourced_runner<Command, Event, State>> {
 public:
  using spec_type = event_sourced_spec<Command, Event, State>;
  using effect_type = effect<Event, State>;

  event_sourced_runner(spec_type spec, actor_context<Command>& ctx)
      : spec_(std::move(spec)), ctx_(&ctx), state_(spec_.empty_state) {}

  void start() {
    spec_.journal->async_load_snapshot(
        spec_.persistence_id,
        on_turn<std::optional<snapshot>>(this->shared_from_this(), ctx_->self(),
                                         [](event_sourced_runner& r, result<std::optional<snapshot>> s) {
                                           r.on_snapshot(std::move(s));
                                         }));
  }

  void on_command(Command&& c) {
    if (phase_ != phase::running) {
      keep(pending_, std::move(c), phase_ == phase::recovering ? "recovering" : "persisting");
      return;
    }
    handle(c);
  }

 private:
  enum class phase { recovering, running, persisting };

  [[noreturn]] void fail(errc code, const std::string& what) {
    throw persistence_failure(troupe::error{code, "'" + spec_.persistence_id + "': " + what});
  }
  [[noreturn]] void fail(const troupe::error& e, const std::string& what) {
    throw persistence_failure(troupe::error{e.code(), "'" + spec_.persistence_id + "': " + what + ": " + e.message()});
  }

  template <class C>
  void keep(std::deque<Command>& q, C&& c, const char* why) {
    if (q.size() >= spec_.stash_capacity)
      fail(errc::overloaded, "more than " + std::to_string(spec_.stash_capacity) + " commands kept while " + why);
    q.push_back(std::forward<C>(c));
  }

  // --- recovery: snapshot, then events after it, then the highest sequence number ---
  void on_snapshot(result<std::optional<snapshot>> s) {
    if (!s) fail(s.error(), "recovery failed loading the snapshot");
    if (*s) {
      if (!spec_.states) fail(errc::unknown_event, "recovery found a snapshot but the spec has no state codec");
      auto st = spec_.states->decode((*s)->manifest, (*s)->version, (*s)->payload);
      if (!st) fail(st.error(), "recovery failed decoding the snapshot at " + std::to_string((*s)->sequence_nr));
      state_ = std::move(*st);
      seq_ = (*s)->sequence_nr;
      last_snapshot_ = seq_;
      snapshots_kept_.push_back(seq_);
    }
    read_from(seq_ + 1);
  }

  void read_from(std::uint64_t from) {
    spec_.journal->async_read(spec_.persistence_id, from, std::numeric_limits<std::uint64_t>::max(), spec_.replay_page,
                              on_turn<std::vector<persistent_event>>(
                                  this->shared_from_this(), ctx_->self(),
                                  [](event_sourced_runner& r, result<std::vector<persistent_event>> evs) {
                                    r.on_replayed(std::move(evs));
                                  }));
  }

  void on_replayed(result<std::vector<persistent_event>> evs) {
    if (!evs) fail(evs.error(), "recovery failed reading events after " + std::to_string(seq_));
    // The journal's thread reads the next page while this one is folded here (at most two pages
    // in memory); a page that turns out bad stops the actor and the next one is dropped unread.
    const bool more = evs->size() >= spec_.replay_page;
    if (more) read_from(evs->back().sequence_nr + 1);
    // The new state is built aside and kept only if every event decodes and applies.
    State next = std::move(state_);
    for (auto& e : *evs) {
      if (e.sequence_nr != seq_ + 1)
        fail(errc::corrupt, "recovery found event " + std::to_string(e.sequence_nr) + " after " + std::to_string(seq_));
      auto ev = spec_.events->decode(e.manifest, e.version, e.payload);
      if (!ev) fail(ev.error(), "recovery failed decoding event " + std::to_string(e.sequence_nr));
      next = spec_.on_event(std::move(next), *ev);
      seq_ = e.sequence_nr;
    }
    state_ = std::move(next);
    if (more) return;
    // Events deleted after a snapshot still count: the next write must follow the highest.
    spec_.journal->async_highest_sequence_nr(
        spec_.persistence_id,
        on_turn<std::uint64_t>(this->shared_from_this(), ctx_->self(),
                               [](event_sourced_runner& r, result<std::uint64_t> h) { r.on_recovered(std::move(h)); }));
  }

  void on_recovered(result<std::uint64_t> h) {
    if (!h) fail(h.error(), "recovery failed reading the highest sequence number");
    if (*h > seq_) {
      if (last_snapshot_ == 0 && seq_ == 0)
        fail(errc::corrupt, "recovery found no snapshot and no events, yet the journal's highest sequence number is " +
                                std::to_string(*h));
      seq_ = *h;
    }
    sent_seq_ = seq_;
    phase_ = phase::running;
    drain();
  }

  // --- commands ---
  void drain() {
    while (phase_ == phase::running && !pending_.empty() && !stopping_) {
      Command c = std::move(pending_.front());
      pending_.pop_front();
      handle(c);
    }
  }

  void handle(const Command& c) {
    effect_type fx = spec_.on_command(state_, c);
    switch (fx.what()) {
      case effect_type::kind::persist:
      case effect_type::kind::persist_async:
        if (!fx.events().empty()) {
          persist(fx);
          return;
        }
        break;
      case effect_type::kind::stash:
        keep(stash_, c, "stashed");
        return;
      case effect_type::kind::unstash_all:
        while (!stash_.empty()) {
          pending_.push_front(std::move(stash_.back()));
          stash_.pop_back();
        }
        break;
      case effect_type::kind::unhandled:
        ctx_->log(log_level::debug, "a command was unhandled in the current state",
                  {{"persistence_id", spec_.persistence_id}});
        break;
      default:
        break;
    }
    finish(fx);
  }

  // Moves `fx` in flight. Taken by reference: each move of an effect moves its event and parts.
  void persist(effect_type& fx) {
    write_request w;
    w.persistence_id = spec_.persistence_id;
    // Writes of one actor reach the journal in order (one queue), so a write may be sent
    // before the previous one is durable: it expects the sequence number after those in flight.
    w.expected_next = sent_seq_ + 1;
    std::uint64_t seq = sent_seq_;
    w.events.reserve(fx.events().size());
    for (const auto& ev : fx.events()) {
      auto enc = spec_.events->encode(ev);
      if (!enc) fail(enc.error(), "encoding an event");
      persistent_event& pe = w.events.emplace_back();  // filled in place, not moved in
      pe.persistence_id = spec_.persistence_id;
      pe.sequence_nr = ++seq;
      pe.manifest = std::move(enc->manifest);
      pe.version = enc->version;
      pe.payload = std::move(enc->payload);
      if (spec_.tags) pe.tags = spec_.tags(ev);
    }
    sent_seq_ = seq;
    if (fx.what() == effect_type::kind::persist) phase_ = phase::persisting;
    in_flight_.push(std::move(fx));
    spec_.journal->async_write(std::move(w), on_turn<void>(this->shared_from_this(), ctx_->self(),
                                                           [](event_sourced_runner& r, result<void> done) {
                                                             r.on_persisted(std::move(done));
                                                           }));
  }

  void on_persisted(result<void> done) {
    effect_type fx = in_flight_.pop();
    if (!done)
      fail(done.error(), "persisting " + std::to_string(fx.events().size()) + " event(s) after " + std::to_string(seq_) +
                             " failed");
    bool wanted = false;  // by snapshot_when, for any of the events
    for (const auto& ev : fx.events()) {
      state_ = spec_.on_event(std::move(state_), ev);
      ++seq_;
      if (spec_.snapshot_when && !wanted) wanted = spec_.snapshot_when(state_, ev, seq_);
    }
    // A synchronous persist is always the newest write in flight: once it is done, commands flow.
    if (fx.what() == effect_type::kind::persist) phase_ = phase::running;
    maybe_snapshot(wanted);
    finish(fx);
    drain();
  }

  void finish(effect_type& fx) {
    fx.run_after(state_);
    if (fx.stops() && !stopping_) {
      stopping_ = true;
      ctx_->stop();
    }
  }

  // --- snapshots: an optimisation; a failed one is logged and recovery replays more events ---
  void maybe_snapshot(bool wanted) {
    const auto every = spec_.snapshots.every;
    const bool due = every != 0 && seq_ / every != last_snapshot_ / every;
    if (!(wanted || due) || !spec_.states || seq_ == last_snapshot_) return;
    auto enc = spec_.states->encode(state_);
    if (!enc) {
      ctx_->log(log_level::warning, "snapshot not encoded",
                {{"persistence_id", spec_.persistence_id}, {"error", enc.error().message()}});
      return;
    }
    last_snapshot_ = seq_;
    snapshot s{spec_.persistence_id, seq_, std::move(enc->manifest), enc->version, std::move(enc->payload)};
    std::uint64_t at = seq_;
    spec_.journal->async_save_snapshot(std::move(s), spec_.snapshots.keep,
                                       on_turn<void>(this->shared_from_this(), ctx_->self(),
                                                     [at](event_sourced_runner& r, result<void> saved) {
                                                       r.on_snapshot_saved(at, std::move(saved));
                                                     }));
  }

  void on_snapshot_saved(std::uint64_t at, result<void> saved) {
    if (!saved) {
      ctx_->log(log_level::warning, "snapshot not saved",
                {{"persistence_id", spec_.persistence_id}, {"seq", at}, {"error", saved.error().message()}});
      return;
    }
    const auto& p = spec_.snapshots;
    // The store keeps the newest `keep`; this actor tracks those it knows of (the one it recovered
    // from and those it saved since), whether taken every N events or by snapshot_when.
    if (p.keep == 0) return;  // all kept: nothing to count, nothing deleted
    snapshots_kept_.push_back(at);
    while (snapshots_kept_.size() > p.keep) snapshots_kept_.pop_front();
    // The oldest kept snapshot covers everything up to it. Until this actor knows `keep` of them,
    // older kept ones it does not know may still need their events: nothing is deleted.
    if (!p.delete_events || snapshots_kept_.size() < p.keep) return;
    spec_.journal->async_delete_up_to(spec_.persistence_id, snapshots_kept_.front(), [](result<void>) {});
  }

  spec_type spec_;
  actor_context<Command>* ctx_;  // the actor's own context: used only on its turn
  State state_;
  std::uint64_t seq_ = 0;
  std::uint64_t last_snapshot_ = 0;
  std::deque<std::uint64_t> snapshots_kept_;  // sequence numbers of the newest snapshots, oldest first
  phase phase_ = phase::recovering;
  bool stopping_ = false;
  std::deque<Command> pending_;  // arrived while recovering or persisting
  std::deque<Command> stash_;    // effect::stash
  std::uint64_t sent_seq_ = 0;       // the highest sequence number sent to the journal
  fifo<effect_type> in_flight_;  // writes sent, oldest first
};

}  // namespace detail

/// The behaviour of an event-sourced actor: spawn it, or give it to a supervisor.
///
///     auto acct = sys.spawn(persistence::event_sourced(spec));
///     acct.tell(deposit{100, reply_to});   // reply_to hears back once `deposited` is durable
template <class Command, class Event, class State>
behavior<Command> event_sourced(event_sourced_spec<Command, Event, State> spec) {
  return troupe::setup<Command>([spec = std::move(spec)](actor_context<Command>& ctx) {
    auto runner = std::make_shared<detail::event_sourced_runner<Command, Event, State>>(spec, ctx);
    runner->start();
    // The message is the actor's own (moved out of its envelope): moved on, not copied.
    return troupe::receive<Command>([runner](auto&& m) {
      runner->on_command(Command(std::forward<decltype(m)>(m)));
      return troupe::same;
    });
  });
}

}  // namespace troupe::persistence
