// supervise.hpp: supervision inside one actor (Akka Typed's Behaviors.supervise): when a handler
// throws an exception of a chosen type, the actor resumes, restarts its behaviour or stops.
// It wraps a behaviour factory; the wrapped behaviour runs on the actor's own turn like any
// other, so nothing here is shared between threads. Use it for failures that should not cost
// the actor its identity, mailbox or children; use a supervisor to replace the actor itself.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "troupe/core/actor_context.hpp"
#include "troupe/core/behavior.hpp"

namespace troupe::otp {

/// What a supervised behaviour does when a handler throws a matching exception.
enum class failure_directive {
  resume,   ///< drop the failing message, keep the current behaviour and its state
  restart,  ///< start again from the initial behaviour (its setup runs again)
  stop,     ///< let it crash: the exception stops the actor (the default for unmatched ones)
};

namespace detail {

template <class B>
struct protocol_of_behavior;
template <class P>
struct protocol_of_behavior<behavior<P>> {
  using type = P;
};

template <class P>
struct supervise_state {
  std::function<behavior<P>()> make;
  // Tried in the order given; the first whose type matches decides.
  std::vector<std::pair<std::function<bool(std::exception_ptr)>, failure_directive>> rules;
  actor_context<P>* ctx = nullptr;  // set by the setup; the context outlives the behaviour
  behavior<P> current{same};

  // Runs the setups of `current` until it is a behaviour that handles messages (or stopped).
  void settle() {
    while (current.needs_setup()) current = current.run_setup(*ctx);
  }

  failure_directive decide(std::exception_ptr ex) const {
    for (const auto& [matches, directive] : rules)
      if (matches(ex)) return directive;
    return failure_directive::stop;
  }

  behavior<P> handle(P&& msg) {
    behavior<P> next(same);
    try {
      switch (current.handle(std::move(msg), next)) {
        case troupe::transition::same:
          break;
        case troupe::transition::become:
          current = std::move(next);
          settle();
          break;
        case troupe::transition::stop:
          return stopped;
      }
    } catch (...) {
      switch (decide(std::current_exception())) {
        case failure_directive::resume:
          break;
        case failure_directive::restart:
          current = make();
          settle();
          break;
        case failure_directive::stop:
          throw;
      }
    }
    if (current.is_stopped()) return stopped;
    return same;
  }
};

}  // namespace detail

/// A behaviour under supervision; add rules with on_failure<E>(directive). It converts to (and
/// is spawned as) the `behavior<P>` it derives from.
///
///     sys.spawn(otp::supervise([] { return parser(); })
///                   .on_failure<std::invalid_argument>(otp::failure_directive::resume)
///                   .on_failure<std::runtime_error>(otp::failure_directive::restart));
template <class P>
class supervised : public behavior<P> {
 public:
  explicit supervised(std::shared_ptr<detail::supervise_state<P>> s) : behavior<P>(wrap(s)), state_(std::move(s)) {}

  /// When a handler throws an E (or a type derived from it), apply `d`. Rules are tried in the
  /// order added; an exception no rule matches stops the actor.
  template <class E>
  supervised&& on_failure(failure_directive d) && {
    state_->rules.emplace_back(
        [](std::exception_ptr ex) {
          try {
            std::rethrow_exception(ex);
          } catch (const E&) {
            return true;
          } catch (...) {
            return false;
          }
        },
        d);
    return std::move(*this);
  }

 private:
  static behavior<P> wrap(std::shared_ptr<detail::supervise_state<P>> s) {
    return setup<P>([s](actor_context<P>& ctx) -> behavior<P> {
      s->ctx = &ctx;
      s->current = s->make();
      s->settle();
      if (s->current.is_stopped()) return stopped;
      return receive<P>([s](auto&& m) { return s->handle(P(std::forward<decltype(m)>(m))); });
    });
  }
  std::shared_ptr<detail::supervise_state<P>> state_;
};

/// Supervises the behaviour `make()` returns; `make` runs again on each restart.
template <class F>
  requires requires(F& f) { typename detail::protocol_of_behavior<std::invoke_result_t<F&>>::type; }
auto supervise(F make) {
  using P = typename detail::protocol_of_behavior<std::invoke_result_t<F&>>::type;
  auto s = std::make_shared<detail::supervise_state<P>>();
  s->make = std::move(make);
  return supervised<P>(std::move(s));
}

}  // namespace troupe::otp
