// server.hpp: OTP's gen_server as a C++ class: state in members, one `on` handler per message.
// A server handles calls (messages with a `reply_to` member, see call.hpp: reply now, or keep
// the handle and reply later), casts (any other message) and info (signals such as
// `troupe::terminated` and timer messages, which are messages of its protocol like the rest).
// It runs as an ordinary actor: one message at a time, handlers on its own turn only.
// `terminate(reason)` runs exactly once as it stops, whatever the reason (see server::terminate).
#pragma once

#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

#include "troupe/core/actor.hpp"
#include "troupe/core/actor_context.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/core/exit_reason.hpp"
#include "troupe/otp/call.hpp"

namespace troupe::otp {

namespace detail {
struct server_access;
}  // namespace detail

/// Base of a server speaking protocol P (OTP's gen_server callback module).
///
///     struct deposit { long cents; };                               // a cast
///     struct balance { troupe::otp::reply_to<long> reply_to; };     // a call
///     using account_msg = std::variant<deposit, balance>;
///
///     class account : public troupe::otp::server<account_msg> {
///      public:
///       void on(const deposit& d) { cents_ += d.cents; }
///       void on(const balance& b) { b.reply_to.reply(cents_); }
///      private:
///       long cents_ = 0;
///     };
///     auto a = sys.spawn(troupe::otp::server_of<account>());
///     long cents = troupe::otp::call(a, balance{}).get().value();
///
/// Callbacks, as in OTP:
/// - the constructor and `init()`: OTP's init/1. The constructor may take `actor_context<P>&`
///   first; `init()` runs right after it, when `context()` is available. Throwing from either
///   stops the server with that exception as its reason (spawn itself does not wait for init).
/// - `on(M)` for each message M of P: handle_call, handle_cast and handle_info in one overload
///   set. Return void to go on, or `troupe::stopped` to stop normally ({stop, normal, ...}).
///   Servers do not `become`: their state is their members. A handler must not block.
/// - `terminate(reason)`: see below. The default does nothing.
/// See also: call.hpp (calling a server), state_machine.hpp, actor.hpp (the plain class style).
template <class P>
class server {
 public:
  using protocol = P;
  virtual ~server() = default;

  /// OTP's init/1 after the constructor: `context()` is set. The default does nothing.
  virtual void init() {}
  /// OTP's terminate/2: runs once as the server stops, with the reason it stopped: normal
  /// (returned `stopped` or called stop()), an exception that escaped a handler, its parent or
  /// system shutting down, or a linked actor's failure. Unlike OTP it always runs (OTP skips it
  /// for an exit signal from the parent unless the server traps exits), and it runs after the
  /// server's children have stopped and its mailbox is closed: callers still waiting are
  /// completed with errc::receiver_dead once the handles this server kept are destroyed. It
  /// may send messages; it must not throw (an exception from it is ignored).
  virtual void terminate(const exit_reason& /*reason*/) {}

 protected:
  /// This server's context: self, spawn, watch, link, trap_exits, timers, ask.
  actor_context<P>& context() const noexcept { return *ctx_; }
  /// Stops the server normally once the current message is handled.
  void stop() { ctx_->stop(); }

 private:
  friend struct detail::server_access;
  actor_context<P>* ctx_ = nullptr;
};

namespace detail {
struct server_access {
  template <class P>
  static void attach(server<P>& s, actor_context<P>& ctx) noexcept {
    s.ctx_ = &ctx;
  }
};

// The handlers of a running server: forwards each message to T::on and calls T::terminate when
// the server's state is destroyed (on its own turn, as the actor finalizes).
template <class T>
struct server_runner {
  using P = typename T::protocol;
  std::unique_ptr<T> obj;
  actor_context<P>* ctx;

  server_runner(std::unique_ptr<T> o, actor_context<P>* c) noexcept : obj(std::move(o)), ctx(c) {}
  server_runner(server_runner&&) noexcept = default;
  server_runner& operator=(server_runner&&) = delete;
  ~server_runner() {
    if (obj == nullptr) return;  // moved from
    try {
      obj->terminate(ctx->stop_reason());
    } catch (...) {
      // Documented: terminate must not throw; there is no one left to tell.
    }
  }

  template <class M>
    requires requires(T& t, M&& m) { t.on(std::forward<M>(m)); }
  decltype(auto) operator()(M&& m) {
    using R = decltype(obj->on(std::forward<M>(m)));
    static_assert(std::is_void_v<R> || std::is_same_v<R, stopped_tag>,
                  "troupe::otp::server: a handler returns void or troupe::stopped (servers keep "
                  "their state in members and do not become another behaviour)");
    return obj->on(std::forward<M>(m));
  }
};
}  // namespace detail

/// The behaviour of server T (derived from `server<P>`), built from `args` when it starts.
/// If T can be constructed from `(actor_context<P>&, args...)`, it gets the context too.
///
///     auto a = sys.spawn(troupe::otp::server_of<account>(), {.name = "account"});
template <class T, class... Args>
behavior<typename T::protocol> server_of(Args&&... args) {
  using P = typename T::protocol;
  static_assert(std::is_base_of_v<server<P>, T>, "troupe::otp::server_of<T>: T must derive from server<P>");
  return setup<P>([... args = std::forward<Args>(args)](actor_context<P>& ctx) mutable -> behavior<P> {
    auto obj = troupe::make_with_context<T>(ctx, std::move(args)...);
    detail::server_access::attach<P>(*obj, ctx);
    obj->init();
    // From here on terminate() runs when the server stops, even if it stops right away.
    return receive<P>(detail::server_runner<T>(std::move(obj), &ctx));
  });
}

}  // namespace troupe::otp
