// behavior.hpp: what an actor does with its next message.
// A behaviour handles one message and names the behaviour for the next one: itself (`same`),
// another one (become), or none (`stopped`). `receive<P>` builds one from handlers, one per
// message type of the protocol; leaving a type unhandled is a compile error unless a catch-all
// handler says what to do with the rest. `setup` runs start-up work with the actor's context.
// Behaviours are values: state captured by the handlers lives inside them, inline when small,
// in a block of the message pool when not (a become to a behaviour of the same size reuses the
// block the last one freed, so it costs no heap allocation either), and is destroyed when the
// actor stops.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>
#include <variant>

#include "troupe/core/detail/message_pool.hpp"
#include "troupe/core/protocol.hpp"

namespace troupe {

template <class P>
class actor_context;
template <class P>
class behavior;

/// The type of `troupe::same`: returned by a handler, keep the current behaviour for the next
/// message. Class-style handlers may name it as their return type:
///
///     troupe::same_tag on(const ping& p) { p.reply_to.tell(pong{}); return troupe::same; }
struct same_tag {
  explicit constexpr same_tag(int) {}
};
inline constexpr same_tag same{0};

/// The type of `troupe::stopped`: returned by a handler, stop the actor normally after this
/// message.
///
///     troupe::stopped_tag on(const quit&) { return troupe::stopped; }
struct stopped_tag {
  explicit constexpr stopped_tag(int) {}
};
inline constexpr stopped_tag stopped{0};

/// What running a behaviour on one message decided (`behavior::handle`): keep it, become the
/// behaviour it wrote into `next`, or stop. For behaviours that run another one by hand (a stash
/// replaying messages, a supervising wrapper):
///
///     troupe::behavior<P> next(troupe::same);
///     switch (inner.handle(std::move(msg), next)) {
///       case troupe::transition::same: break;
///       case troupe::transition::become: inner = std::move(next); break;
///       case troupe::transition::stop: return troupe::stopped;
///     }
enum class transition : unsigned char { same, become, stop };

namespace detail {

using troupe::transition;

template <class... Hs>
struct overloaded : Hs... {
  using Hs::operator()...;
};
template <class... Hs>
overloaded(Hs...) -> overloaded<Hs...>;

template <class T>
inline constexpr bool always_false = false;

// Instantiated only for a message type no handler accepts, so the compiler names it.
template <class Message>
struct unhandled_message_type {
  static_assert(always_false<Message>,
                "troupe: no handler accepts this message type of the protocol (it is the "
                "template argument `Message` above). Add a handler for it, or add a catch-all "
                "handler such as [](const auto&) { return troupe::same; } that says what to do "
                "with the rest.");
  static constexpr bool value = false;
};
template <class H, class M>
constexpr bool handles() {
  if constexpr (std::is_invocable_v<H&, M&&>) return true;
  else return unhandled_message_type<M>::value;
}
template <class P, class H>
struct handles_all {
  static constexpr bool value = handles<H, P>();
};
template <class... Ms, class H>
struct handles_all<std::variant<Ms...>, H> {
  static constexpr bool value = (handles<H, Ms>() && ...);
};

template <class P, class R>
struct valid_handler_result
    : std::bool_constant<std::is_void_v<R> || std::is_same_v<R, same_tag> ||
                         std::is_same_v<R, stopped_tag> || std::is_same_v<R, behavior<P>>> {};

struct receive_tag {};
struct setup_tag {};

// The function of a `setup` behaviour. Wrapped so that the kind of a behaviour never depends on
// what its function accepts: a handler set with a generic catch-all (`[](const auto&) {...}`)
// is invocable with a context too, and must still be taken for handlers.
template <class F>
struct setup_fn {
  F f;
};
template <class F>
inline constexpr bool is_setup_fn = false;
template <class F>
inline constexpr bool is_setup_fn<setup_fn<F>> = true;

}  // namespace detail

/// A typed behaviour for protocol P. Build one with `receive`, `setup`, or return `same` /
/// `stopped` from a handler.
///
///     troupe::behavior<counter_msg> counter(int total) {
///       return troupe::receive<counter_msg>(
///           [=](const add& m) { return counter(total + m.n); },      // become
///           [=](const get& m) { m.reply_to.tell(total); return troupe::same; });
///     }
template <class P>
class behavior {
 public:
  behavior(same_tag) noexcept : kind_(kind::same) {}
  behavior(stopped_tag) noexcept : kind_(kind::stopped) {}
  behavior(behavior&& o) noexcept : ops_(o.ops_), kind_(o.kind_) {
    if (ops_ != nullptr) ops_->relocate(o.storage(), storage());
    o.ops_ = nullptr;
    o.kind_ = kind::same;
  }
  behavior& operator=(behavior&& o) noexcept {
    if (this != &o) {
      reset();
      kind_ = o.kind_;
      ops_ = o.ops_;
      if (ops_ != nullptr) ops_->relocate(o.storage(), storage());
      o.ops_ = nullptr;
      o.kind_ = kind::same;
    }
    return *this;
  }
  ~behavior() { reset(); }

  bool is_same() const noexcept { return kind_ == kind::same; }
  bool is_stopped() const noexcept { return kind_ == kind::stopped; }
  bool needs_setup() const noexcept { return kind_ == kind::setup; }

  /// Runs this behaviour's handler for `msg` on the caller's thread; a become writes the next
  /// behaviour into `next` (see `transition`). Only for a behaviour with handlers (not same,
  /// stopped or one that needs_setup()), and only on the turn of the actor that runs it: this is
  /// how a wrapping behaviour (a stash, a supervising wrapper) runs the one it wraps.
  /// Exceptions from the handler propagate.
  transition handle(P&& msg, behavior& next) { return ops_->handle(storage(), std::move(msg), next); }
  /// Runs a `setup` behaviour's function with `ctx` and returns the behaviour it made; call it
  /// while needs_setup() holds, on the actor's turn.
  ///
  ///     while (b.needs_setup()) b = b.run_setup(ctx);
  behavior run_setup(actor_context<P>& ctx) { return ops_->setup(storage(), ctx); }

  // --- runtime interface (not for user code) -------------------------------------------------

  template <class F>
  behavior(detail::receive_tag, F&& f) : kind_(kind::handlers) { emplace(std::forward<F>(f)); }
  template <class F>
  behavior(detail::setup_tag, F&& f) : kind_(kind::setup) {
    emplace(detail::setup_fn<std::decay_t<F>>{std::forward<F>(f)});
  }

 private:
  enum class kind : unsigned char { same, stopped, handlers, setup };
  // Small enough that an idle actor stays within a few cache lines, large enough for the
  // handlers of a typical functional behaviour (a few captured values) to live inline. Larger
  // handler sets go to the message pool: a become allocates the new set before the old one is
  // destroyed, so in steady state two blocks take turns on the thread's free list and no become
  // reaches malloc (a larger buffer would have grown every actor for the few that need it).
  static constexpr std::size_t inline_size = 40;

  struct ops_table {
    detail::transition (*handle)(void*, P&&, behavior&);
    behavior (*setup)(void*, actor_context<P>&);
    void (*relocate)(void* from, void* to) noexcept;
    void (*destroy)(void*) noexcept;
  };

  template <class F>
  static constexpr bool fits_inline =
      sizeof(F) <= inline_size && alignof(F) <= alignof(void*) &&
      std::is_nothrow_move_constructible_v<F>;

  template <class F>
  static F& target(void* s) noexcept {
    if constexpr (fits_inline<F>) return *std::launder(static_cast<F*>(s));
    else return **static_cast<F**>(s);
  }

  template <class R>
  static detail::transition apply(R&& r, behavior& next) {
    using D = std::remove_cvref_t<R>;
    if constexpr (std::is_same_v<D, same_tag>) return detail::transition::same;
    else if constexpr (std::is_same_v<D, stopped_tag>) return detail::transition::stop;
    else {
      if (r.is_same()) return detail::transition::same;
      if (r.is_stopped()) return detail::transition::stop;
      next = std::move(r);
      return detail::transition::become;
    }
  }
  template <class H, class M>
  static detail::transition call(H& h, M&& m, behavior& next) {
    using R = std::invoke_result_t<H&, M&&>;
    static_assert(detail::valid_handler_result<P, std::remove_cvref_t<R>>::value,
                  "troupe: a handler must return void, troupe::same, troupe::stopped or the "
                  "next troupe::behavior<P> of the same protocol");
    if constexpr (std::is_void_v<R>) {
      h(std::forward<M>(m));
      return detail::transition::same;
    } else {
      return apply(h(std::forward<M>(m)), next);
    }
  }

  template <class F>
  static detail::transition handle_impl(void* s, P&& msg, behavior& next) {
    if constexpr (detail::is_setup_fn<F>) {
      return detail::transition::same;  // a setup behaviour never handles messages
    } else {
      F& h = target<F>(s);
      if constexpr (variant_protocol<P>)
        return std::visit([&](auto&& m) { return call(h, std::move(m), next); }, std::move(msg));
      else
        return call(h, std::move(msg), next);
    }
  }
  template <class F>
  static behavior setup_impl(void* s, actor_context<P>& ctx) {
    if constexpr (detail::is_setup_fn<F>) return target<F>(s).f(ctx);
    else return behavior(same);
  }

  template <class F>
  static constexpr ops_table ops_for{
      &handle_impl<F>, &setup_impl<F>,
      [](void* from, void* to) noexcept {
        if constexpr (fits_inline<F>) {
          F& f = *std::launder(static_cast<F*>(from));
          ::new (to) F(std::move(f));
          f.~F();
        } else {
          *static_cast<F**>(to) = *static_cast<F**>(from);
        }
      },
      [](void* s) noexcept {
        if constexpr (fits_inline<F>) std::launder(static_cast<F*>(s))->~F();
        else detail::pool_delete(*static_cast<F**>(s));
      }};

  template <class F>
  void emplace(F&& f) {
    using D = std::decay_t<F>;
    if constexpr (fits_inline<D>) ::new (storage()) D(std::forward<F>(f));
    else *static_cast<D**>(storage()) = detail::pool_new<D>(std::forward<F>(f));
    ops_ = &ops_for<D>;
  }
  void reset() noexcept {
    if (ops_ != nullptr) ops_->destroy(storage());
    ops_ = nullptr;
  }
  void* storage() noexcept { return buf_; }

  const ops_table* ops_ = nullptr;
  alignas(void*) unsigned char buf_[inline_size];
  kind kind_;
};

/// Builds a behaviour from one handler per message type of P. Each handler takes a message
/// (by value, `const&` or `&&`) and returns void (same), `same`, `stopped` or the next
/// `behavior<P>`. A generic handler (`[](const auto&)`) catches every type not handled before.
///
///     auto b = troupe::receive<account_msg>(
///         [=](const deposit& d) { return account(cents + d.cents); },
///         [=](const balance& b) { b.reply_to.tell(cents); });
template <class P, class... Hs>
behavior<P> receive(Hs&&... handlers) {
  using H = detail::overloaded<std::decay_t<Hs>...>;
  static_assert(detail::handles_all<P, H>::value);
  return behavior<P>(detail::receive_tag{}, H{std::forward<Hs>(handlers)...});
}

/// A behaviour that runs `f(ctx)` once, when the actor starts, and continues with the behaviour
/// it returns. Use it to spawn children, start timers or capture `ctx` for later handlers.
///
///     auto b = troupe::setup<tick_msg>([](troupe::actor_context<tick_msg>& ctx) {
///       ctx.start_timer("tick", tick{}, 1s, troupe::timer_mode::fixed_rate);
///       return ticking(ctx, 0);
///     });
template <class P, class F>
  requires std::is_invocable_r_v<behavior<P>, F&, actor_context<P>&>
behavior<P> setup(F&& f) {
  return behavior<P>(detail::setup_tag{}, std::forward<F>(f));
}

}  // namespace troupe
