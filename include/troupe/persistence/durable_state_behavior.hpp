// durable_state_behavior.hpp: an actor whose whole state is saved with a revision (Akka's
// DurableStateBehavior, Orleans' grain state). On start it loads the state before it handles any
// command (commands meanwhile wait); a command's effect may persist a new state, saved as the
// next revision: a save over a stale revision fails, so two incarnations of one id racing never
// both win: the loser stops with a persistence_failure (revision conflict) and, restarted,
// reloads the winner's state. Replies (`then` parts) run after the save is durable.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "troupe/core/actor_context.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/core/extension.hpp"
#include "troupe/persistence/detail/on_turn.hpp"
#include "troupe/persistence/effect.hpp"
#include "troupe/persistence/journal.hpp"
#include "troupe/persistence/value_codec.hpp"

namespace troupe::persistence {

/// Everything a durable state actor needs. Its effects are effect<State, State>: persist(s)
/// saves `s` as the new state.
///
///     persistence::durable_state_spec<cart_cmd, cart> spec{.persistence_id = "cart-3", .journal = j,
///                                                          .states = codec, .on_command = handle};
///     auto c = sys.spawn(persistence::durable_state_behavior(spec));
template <class Command, class State>
struct durable_state_spec {
  std::string persistence_id{};
  std::shared_ptr<persistence::journal> journal{};
  std::shared_ptr<const value_codec<State>> states{};
  State empty_state{};
  std::function<effect<State, State>(const State&, const Command&)> on_command{};
  /// Commands kept while loading or saving; beyond it the actor stops with a persistence_failure.
  std::size_t stash_capacity = 10'000;
};

namespace detail {

template <class Command, class State>
class durable_state_runner : public std::enable_shared_from_this<durable_state_runner<Command, State>> {
 public:
  using spec_type = durable_state_spec<Command, State>;
  using effect_type = effect<State, State>;

  durable_state_runner(spec_type spec, actor_context<Command>& ctx)
      : spec_(std::move(spec)), ctx_(&ctx), state_(spec_.empty_state) {}

  void start() {
    spec_.journal->async_get_state(
        spec_.persistence_id,
        on_turn<std::optional<durable_state>>(this->shared_from_this(), ctx_->self(),
                                              [](durable_state_runner& r, result<std::optional<durable_state>> s) {
                                                r.on_loaded(std::move(s));
                                              }));
  }

  void on_command(Command&& c) {
    if (busy_) {
      if (pending_.size() >= spec_.stash_capacity)
        fail(troupe::error{errc::overloaded, "more than " + std::to_string(spec_.stash_capacity) + " commands waiting"},
             "");
      // Its deadline too (a grain call's: its caller's ask): one that waits here past it is not
      // handled, as it would not have been in the mailbox.
      pending_.push_back({std::move(c), troupe::deadline_of_message(*ctx_)});
      return;
    }
    handle(c);
  }

 private:
  [[noreturn]] void fail(const troupe::error& e, const std::string& what) {
    throw persistence_failure(troupe::error{e.code(), "'" + spec_.persistence_id + "': " + what + e.context()});
  }

  void on_loaded(result<std::optional<durable_state>> s) {
    if (!s) fail(s.error(), "loading the state failed: ");
    if (*s) {
      auto st = spec_.states->decode((*s)->manifest, (*s)->version, (*s)->payload);
      if (!st) fail(st.error(), "decoding the state at revision " + std::to_string((*s)->revision) + " failed: ");
      state_ = std::move(*st);
      revision_ = (*s)->revision;
    }
    busy_ = false;
    drain();
  }

  void drain() {
    while (!busy_ && !stopping_ && !pending_.empty()) {
      auto [c, deadline] = std::move(pending_.front());
      pending_.pop_front();
      if (deadline != timer_service::clock::time_point::max() && ctx_->now() > deadline) {
        // Whoever waited for its answer has given up: not handled, nothing saved.
        report_deadline_passed(c);
        continue;
      }
      handle(c);
    }
  }

  void report_deadline_passed(const Command& c) {
    if constexpr (variant_protocol<Command>)
      std::visit([&](const auto& alt) { troupe::report_dead_letter<std::decay_t<decltype(alt)>>(*ctx_, dead_letter_reason::deadline_passed); }, c);
    else
      troupe::report_dead_letter<Command>(*ctx_, dead_letter_reason::deadline_passed);
  }

  void handle(const Command& c) {
    effect_type fx = spec_.on_command(state_, c);
    if (fx.what() == effect_type::kind::persist && !fx.events().empty()) {
      auto enc = spec_.states->encode(fx.events().back());
      if (!enc) fail(enc.error(), "encoding the state failed: ");
      durable_state d{spec_.persistence_id, revision_ + 1, std::move(enc->manifest), enc->version, std::move(enc->payload)};
      busy_ = true;
      in_flight_.emplace(std::move(fx));
      spec_.journal->async_upsert_state(std::move(d), on_turn<void>(this->shared_from_this(), ctx_->self(),
                                                                    [](durable_state_runner& r, result<void> done) {
                                                                      r.on_saved(std::move(done));
                                                                    }));
      return;
    }
    if (fx.what() == effect_type::kind::unhandled)
      ctx_->log(log_level::debug, "a command was unhandled", {{"persistence_id", spec_.persistence_id}});
    finish(fx);
  }

  void on_saved(result<void> done) {
    effect_type fx = std::move(*in_flight_);
    in_flight_.reset();
    if (!done) fail(done.error(), "saving revision " + std::to_string(revision_ + 1) + " failed: ");
    state_ = std::move(fx.events().back());
    ++revision_;
    busy_ = false;
    finish(fx);
    drain();
  }

  void finish(effect_type& fx) {
    fx.run_after(state_);
    if (fx.stops()) {
      stopping_ = true;
      ctx_->stop();
    }
  }

  spec_type spec_;
  actor_context<Command>* ctx_;  // the actor's own context: used only on its turn
  State state_;
  std::uint64_t revision_ = 0;
  bool busy_ = true;  // loading, then while a save is in flight
  bool stopping_ = false;
  struct stashed {
    Command command;
    timer_service::clock::time_point deadline;  // time_point::max(): none
  };
  std::deque<stashed> pending_;
  std::optional<effect_type> in_flight_;
};

}  // namespace detail

/// The behaviour of a durable state actor: spawn it, or give it to a supervisor.
///
///     auto cart = sys.spawn(persistence::durable_state_behavior(spec));
template <class Command, class State>
behavior<Command> durable_state_behavior(durable_state_spec<Command, State> spec) {
  return troupe::setup<Command>([spec = std::move(spec)](actor_context<Command>& ctx) {
    auto runner = std::make_shared<detail::durable_state_runner<Command, State>>(spec, ctx);
    runner->start();
    return troupe::receive<Command>([runner](auto&& m) {
      runner->on_command(Command(std::forward<decltype(m)>(m)));
      return troupe::same;
    });
  });
}

}  // namespace troupe::persistence
