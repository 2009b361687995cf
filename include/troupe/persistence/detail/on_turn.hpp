// on_turn.hpp: a journal completion, which runs on the journal's thread, becomes work on the
// persistent actor's own turn (a call envelope in its mailbox, in order with its commands), so
// that the actor's state is only ever touched by the actor. If the actor has stopped, the work
// is dropped unrun.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "troupe/core/actor_context.hpp"
#include "troupe/core/extension.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"
#include "troupe/persistence/journal.hpp"

namespace troupe::persistence {

/// Thrown on a persistent actor's turn when its journal fails it (a write, a recovery): the
/// actor stops with this text as its exit reason (let it crash); its supervisor decides.
class persistence_failure : public std::runtime_error {
 public:
  explicit persistence_failure(const troupe::error& e) : std::runtime_error(e.message()), error_(e) {}
  const troupe::error& error() const noexcept { return error_; }

 private:
  troupe::error error_;
};

namespace detail {

/// A journal completion that runs `f(*owner, result)` on the actor of `self`'s turn.
/// `owner` is kept alive by the completion until it has run or been dropped.
template <class T, class Owner, class P, class F>
journal::done<T> on_turn(std::shared_ptr<Owner> owner, const ref<P>& self, F f) {
  // A journal runs each completion once, so its captures move on to the actor's turn: copied,
  // `owner`'s count went up on the journal's thread and down on the actor's, an atomic
  // read-modify-write on a shared cache line each way per persisted request.
  return [self, owner = std::move(owner), f = std::move(f)](result<T> r) mutable {
    troupe::run_on_turn(self, [owner = std::move(owner), f = std::move(f), r = std::move(r)]() mutable {
      f(*owner, std::move(r));
    });
  };
}

}  // namespace detail
}  // namespace troupe::persistence
