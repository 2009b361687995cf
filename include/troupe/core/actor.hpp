// actor.hpp: the class style of writing an actor: one `on` handler per message type.
// Derive from `actor<P>`, write `on(const M&)` for each message M of P (or a template catch-all
// for the rest), and spawn it with `sys.spawn(actor_of<T>(args...))`. The object is built on
// the actor's own thread when it starts, lives as long as the actor, and is destroyed there.
// Handlers return void (keep going), `stopped`, or a behavior<P> to become (the object is then
// destroyed). Leaving a message type unhandled is a compile error.
#pragma once

#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#include "troupe/core/actor_context.hpp"
#include "troupe/core/behavior.hpp"

namespace troupe {

/// Base of a class-style actor speaking protocol P.
///
///     class counter : public troupe::actor<counter_msg> {
///      public:
///       void on(const add& m) { total_ += m.n; }
///       void on(const get& m) { m.reply_to.tell(total_); }
///      private:
///       int total_ = 0;
///     };
///     auto c = sys.spawn(troupe::actor_of<counter>());
template <class P>
class actor {
 public:
  using protocol = P;
  virtual ~actor() = default;

 protected:
  /// This actor's context: self, spawn, watch, timers, ask. Not available in the constructor;
  /// take an `actor_context<P>&` as the first constructor parameter to use it there.
  actor_context<P>& context() const noexcept { return *ctx_; }

 private:
  template <class T, class... Args>
  friend behavior<typename T::protocol> actor_of(Args&&...);
  actor_context<P>* ctx_ = nullptr;
};

/// Builds the object of a class-style actor or behaviour (actor_of, otp's server_of and
/// state_machine_of, or one of your own): from `(ctx, args...)` when T takes its context, else
/// from `args` alone. Call it in a `setup`.
///
///     auto obj = troupe::make_with_context<my_server>(ctx, std::move(config));   // unique_ptr
template <class T, class P, class... Args>
std::unique_ptr<T> make_with_context(actor_context<P>& ctx, Args&&... args) {
  if constexpr (std::is_constructible_v<T, actor_context<P>&, Args&&...>)
    return std::make_unique<T>(ctx, std::forward<Args>(args)...);
  else
    return std::make_unique<T>(std::forward<Args>(args)...);
}

namespace detail {
using troupe::make_with_context;

template <class T>
struct class_handlers {
  std::unique_ptr<T> obj;
  template <class M>
    requires requires(T& t, M&& m) { t.on(std::forward<M>(m)); }
  decltype(auto) operator()(M&& m) {
    return obj->on(std::forward<M>(m));
  }
};
}  // namespace detail

/// The behaviour of a class-style actor T, built from `args` when the actor starts. If T can be
/// constructed from `(actor_context<P>&, args...)`, it gets the context too.
template <class T, class... Args>
behavior<typename T::protocol> actor_of(Args&&... args) {
  using P = typename T::protocol;
  static_assert(std::is_base_of_v<actor<P>, T>, "troupe::actor_of<T>: T must derive from troupe::actor<P>");
  static_assert(detail::handles_all<P, detail::class_handlers<T>>::value);
  return setup<P>([... args = std::forward<Args>(args)](actor_context<P>& ctx) mutable -> behavior<P> {
    auto obj = detail::make_with_context<T>(ctx, std::move(args)...);
    static_cast<actor<P>&>(*obj).ctx_ = &ctx;
    return behavior<P>(detail::receive_tag{}, detail::class_handlers<T>{std::move(obj)});
  });
}

}  // namespace troupe
