// event_manager.hpp: OTP's gen_event: one actor that hands each event to a changing set of handlers.
// Handlers are objects (deriving from event_handler<E>) added, removed and swapped at runtime
// under an id; each event reaches them one at a time, in the order they were added, on the
// manager's turn. A handler that throws is removed and the manager lives on; whoever added it
// with add_sup_handler is told (a `handler_removed`). Any thread may use an event_manager<E>;
// the operations that answer return futures: from inside an actor, do not wait on them.
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "troupe/core/actor_context.hpp"
#include "troupe/core/exit_reason.hpp"
#include "troupe/core/extension.hpp"
#include "troupe/core/ref.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/system.hpp"
#include "troupe/otp/call.hpp"
#include "troupe/otp/errc.hpp"

namespace troupe::otp {

/// One handler of an event manager for events of type E (a gen_event callback module).
/// Its constructor is OTP's init, its destructor OTP's terminate (it runs when the handler is
/// removed, swapped out or the manager stops). Handlers run on the manager's turn, one at a time.
///
///     class console_log : public troupe::otp::event_handler<std::string> {
///      public:
///       void handle_event(const std::string& line) override { std::cout << line << '\n'; }
///     };
template <class E>
class event_handler {
 public:
  using event_type = E;
  virtual ~event_handler() = default;
  /// gen_event's handle_event. Throwing removes this handler (the manager lives on).
  virtual void handle_event(const E& event) = 0;
};

/// Told to the actor that added a handler with add_sup_handler when the handler goes
/// (gen_event's {gen_event_EXIT, Handler, Reason}). `reason` is normal when it was removed
/// (`replaced_by` names the new id when it was swapped out), an exception when it threw, and the
/// manager's own stop reason (usually shutdown) when the manager stopped.
///
///     using watcher_msg = std::variant<troupe::otp::handler_removed, ...>;
struct handler_removed {
  std::string id;
  exit_reason reason;
  std::string replaced_by;
};

/// The messages an event manager actor understands; use event_manager<E> rather than these.
template <class E>
struct event_manager_protocol {
  struct add {
    std::string id;
    std::unique_ptr<event_handler<E>> handler;
    std::function<void(handler_removed&&)> supervisor;  // tells the adder; empty for add_handler
    otp::reply_to<result<void>> reply_to;
  };
  struct remove {
    std::string id;
    otp::reply_to<result<void>> reply_to;
  };
  struct swap {
    std::string old_id;
    std::string new_id;
    std::function<std::unique_ptr<event_handler<E>>(event_handler<E>&)> make;
    otp::reply_to<result<void>> reply_to;
  };
  struct notify {
    E event;
  };
  struct sync_notify {
    E event;
    otp::reply_to<result<void>> reply_to;
  };
  struct call {
    std::string id;
    std::function<void(event_handler<E>&)> run;  // replies itself; throwing removes the handler
    std::function<void(troupe::error)> fail;
  };
  struct which {
    otp::reply_to<std::vector<std::string>> reply_to;
  };
  using type = std::variant<add, remove, swap, notify, sync_notify, call, which>;
};
template <class E>
using event_manager_msg = typename event_manager_protocol<E>::type;

namespace detail {
template <class E>
class event_manager_state;
}  // namespace detail

/// A handle to an event manager actor for events of type E (gen_event's EventMgrRef).
///
///     auto log = troupe::otp::event_manager<std::string>::start(sys);
///     log.add_handler<console_log>("console");                 // by type
///     log.add_handler("file", std::make_unique<file_log>(p));   // by instance
///     log.notify("started");                                    // gen_event:notify
///     log.sync_notify("flushed").get();                         // all handlers have run
template <class E>
class event_manager {
 public:
  using protocol = event_manager_msg<E>;
  using msgs = event_manager_protocol<E>;

  event_manager() = default;
  explicit event_manager(troupe::ref<protocol> r) noexcept : ref_(std::move(r)) {}

  /// Spawns a manager with no handlers (gen_event:start_link, as a top-level actor).
  static event_manager start(troupe::system& sys, spawn_options opts = {}) {
    return event_manager(sys.spawn(manager_behavior(), std::move(opts)));
  }
  /// Spawns a manager as a child of the actor whose context this is.
  template <class Q>
  static event_manager start(actor_context<Q>& ctx, spawn_options opts = {}) {
    return event_manager(ctx.spawn(manager_behavior(), std::move(opts)));
  }

  /// The manager actor, to watch, link or stop it.
  const troupe::ref<protocol>& actor() const noexcept { return ref_; }

  /// Adds `handler` under `id`; fails with errc::handler_exists if the id is taken.
  std::future<result<void>> add_handler(std::string id, std::unique_ptr<event_handler<E>> handler,
                                        std::chrono::nanoseconds timeout = default_call_timeout) const {
    return otp::call(ref_, typename msgs::add{std::move(id), std::move(handler), {}, {}}, timeout);
  }
  /// Adds a handler of type H built from `args` (here, on the caller's thread).
  template <class H, class... Args>
    requires std::is_base_of_v<event_handler<E>, H>
  std::future<result<void>> add_handler(std::string id, Args&&... args) const {
    return add_handler(std::move(id), std::make_unique<H>(std::forward<Args>(args)...));
  }
  /// gen_event:add_sup_handler: as add_handler, and `supervisor` (any actor whose protocol
  /// holds handler_removed) is told when the handler goes: removed, swapped, thrown out, or the
  /// manager stopped. Unlike OTP, the handler stays when the supervisor stops.
  template <class Q>
    requires accepts<Q, handler_removed>
  std::future<result<void>> add_sup_handler(std::string id, std::unique_ptr<event_handler<E>> handler,
                                            troupe::ref<Q> supervisor,
                                            std::chrono::nanoseconds timeout = default_call_timeout) const {
    auto tell = [to = std::move(supervisor)](handler_removed&& h) { to.tell(std::move(h)); };
    return otp::call(ref_, typename msgs::add{std::move(id), std::move(handler), std::move(tell), {}}, timeout);
  }
  /// gen_event:delete_handler: removes (destroys) the handler `id`; errc::no_such_handler if none.
  std::future<result<void>> remove_handler(std::string id, std::chrono::nanoseconds timeout = default_call_timeout) const {
    return otp::call(ref_, typename msgs::remove{std::move(id), {}}, timeout);
  }
  /// gen_event:swap_handler: replaces handler `old_id` (of type Old) by `make(old)`, under
  /// `new_id`, in one step: no event falls between them. The old one is destroyed afterwards;
  /// a supervisor of the old one supervises the new one. Fails with errc::no_such_handler
  /// (nothing changes) or errc::handler_failed if `make` threw (the old one is gone).
  template <class Old, class F>
    requires std::is_convertible_v<std::invoke_result_t<F&, Old&>, std::unique_ptr<event_handler<E>>>
  std::future<result<void>> swap_handler(std::string old_id, std::string new_id, F make,
                                         std::chrono::nanoseconds timeout = default_call_timeout) const {
    auto typed = [make = std::move(make)](event_handler<E>& old) mutable -> std::unique_ptr<event_handler<E>> {
      auto* o = dynamic_cast<Old*>(&old);
      if (o == nullptr) return nullptr;
      return make(*o);
    };
    return otp::call(ref_, typename msgs::swap{std::move(old_id), std::move(new_id), std::move(typed), {}}, timeout);
  }
  /// gen_event:notify: hands `event` to every handler; returns at once.
  void notify(E event) const { ref_.tell(typename msgs::notify{std::move(event)}); }
  /// gen_event:sync_notify: completes once every handler has handled `event`.
  std::future<result<void>> sync_notify(E event, std::chrono::nanoseconds timeout = default_call_timeout) const {
    return otp::call(ref_, typename msgs::sync_notify{std::move(event), {}}, timeout);
  }
  /// gen_event:call: runs `f(handler)` on the handler `id` (of type H) inside the manager and
  /// completes with what it returns. errc::no_such_handler if there is none of that type; if
  /// `f` throws, the handler is removed (as for an event) and the call fails with
  /// errc::handler_failed.
  template <class H, class F, class R = std::invoke_result_t<F&, H&>>
  std::future<detail::call_result<R>> call(std::string id, F f, std::chrono::nanoseconds timeout = default_call_timeout) const {
    using reply = result<R>;
    auto promise = std::make_shared<std::promise<detail::call_result<R>>>();
    auto future = promise->get_future();
    auto make = [&id, &f](troupe::ref<reply> to) {
      auto run = [to, f = std::move(f)](event_handler<E>& h) mutable {
        auto* typed = dynamic_cast<H*>(&h);
        if (typed == nullptr) {
          to.tell(reply(troupe::error{make_error_code(errc::no_such_handler), "the handler is not of the type called"}));
        } else if constexpr (std::is_void_v<R>) {
          f(*typed);
          to.tell(reply());
        } else {
          to.tell(reply(f(*typed)));
        }
      };
      return typename msgs::call{std::move(id), std::move(run), [to](troupe::error e) { to.tell(reply(std::move(e))); }};
    };
    troupe::async_ask<reply>(ref_, make, timeout, [promise](result<reply>&& r) {
      promise->set_value(detail::flatten(std::move(r)));
    });
    return future;
  }
  /// gen_event:which_handlers: the ids, in the order the handlers were added.
  std::future<result<std::vector<std::string>>> which_handlers(std::chrono::nanoseconds timeout = default_call_timeout) const {
    return otp::call(ref_, typename msgs::which{}, timeout);
  }

 private:
  static behavior<protocol> manager_behavior();
  troupe::ref<protocol> ref_;
};

namespace detail {
// The manager actor's state: the handlers, in the order added. Own turn only.
template <class E>
class event_manager_state {
  using msgs = event_manager_protocol<E>;
  struct entry {
    std::string id;
    std::unique_ptr<event_handler<E>> handler;
    std::function<void(handler_removed&&)> supervisor;
  };
  struct shared {
    std::vector<entry> handlers;
    actor_context<event_manager_msg<E>>* ctx;
    ~shared() {
      // The manager is stopping: supervisors learn why (OTP sends them shutdown).
      exit_reason why;
      try {
        why = ctx->stop_reason();
      } catch (...) {
      }
      for (auto& e : handlers) {
        e.handler.reset();  // its terminate (destructor) first, as for a removal
        told(e, why, {});
      }
    }
  };

 public:
  explicit event_manager_state(actor_context<event_manager_msg<E>>& ctx) : s_(std::make_unique<shared>()) { s_->ctx = &ctx; }

  void operator()(typename msgs::add&& m) {
    if (find(m.id) != nullptr)
      return m.reply_to.reply(result<void>(troupe::error{make_error_code(errc::handler_exists), m.id}));
    s_->handlers.push_back({std::move(m.id), std::move(m.handler), std::move(m.supervisor)});
    m.reply_to.reply(result<void>());
  }
  void operator()(typename msgs::remove&& m) {
    auto* e = find(m.id);
    if (e == nullptr) return m.reply_to.reply(result<void>(troupe::error{make_error_code(errc::no_such_handler), m.id}));
    drop(m.id, exit_reason{}, {});
    m.reply_to.reply(result<void>());
  }
  void operator()(typename msgs::swap&& m) {
    auto* e = find(m.old_id);
    if (e == nullptr) return m.reply_to.reply(result<void>(troupe::error{make_error_code(errc::no_such_handler), m.old_id}));
    if (m.old_id != m.new_id && find(m.new_id) != nullptr)
      return m.reply_to.reply(result<void>(troupe::error{make_error_code(errc::handler_exists), m.new_id}));
    std::unique_ptr<event_handler<E>> next;
    try {
      next = m.make(*e->handler);
    } catch (...) {
      auto why = failure(std::current_exception());
      drop(m.old_id, why, {});
      return m.reply_to.reply(result<void>(troupe::error{make_error_code(errc::handler_failed), why.describe()}));
    }
    if (next == nullptr)
      return m.reply_to.reply(result<void>(troupe::error{make_error_code(errc::no_such_handler), m.old_id + " is not of the type given"}));
    // In place: the new handler takes the old one's position, and its supervisor.
    auto old = std::exchange(e->handler, std::move(next));
    auto old_id = std::exchange(e->id, m.new_id);
    told(entry{old_id, nullptr, e->supervisor}, exit_reason{}, m.new_id);
    old.reset();  // the old handler's terminate (its destructor)
    m.reply_to.reply(result<void>());
  }
  void operator()(typename msgs::notify&& m) { deliver(m.event); }
  void operator()(typename msgs::sync_notify&& m) {
    deliver(m.event);
    m.reply_to.reply(result<void>());
  }
  void operator()(typename msgs::call&& m) {
    auto* e = find(m.id);
    if (e == nullptr) return m.fail(troupe::error{make_error_code(errc::no_such_handler), m.id});
    try {
      m.run(*e->handler);
    } catch (...) {
      auto why = failure(std::current_exception());
      drop(m.id, why, {});
      m.fail(troupe::error{make_error_code(errc::handler_failed), why.describe()});
    }
  }
  void operator()(typename msgs::which&& m) {
    std::vector<std::string> ids;
    for (auto& e : s_->handlers) ids.push_back(e.id);
    m.reply_to.reply(std::move(ids));
  }

 private:
  entry* find(const std::string& id) {
    for (auto& e : s_->handlers)
      if (e.id == id) return &e;
    return nullptr;
  }
  // Each handler in turn; one that throws is removed and the rest still get the event.
  void deliver(const E& event) {
    for (std::size_t i = 0; i < s_->handlers.size();) {
      try {
        s_->handlers[i].handler->handle_event(event);
        ++i;
      } catch (...) {
        auto id = s_->handlers[i].id;  // a copy: drop() erases the entry
        drop(id, failure(std::current_exception()), {});
      }
    }
  }
  void drop(const std::string& id, const exit_reason& why, const std::string& replaced_by) {
    auto& hs = s_->handlers;
    for (auto it = hs.begin(); it != hs.end(); ++it) {
      if (it->id != id) continue;
      entry gone = std::move(*it);
      hs.erase(it);
      gone.handler.reset();  // its destructor runs before the supervisor hears of it
      told(gone, why, replaced_by);
      return;
    }
  }
  static void told(const entry& e, const exit_reason& why, const std::string& replaced_by) {
    if (!e.supervisor) return;
    try {
      e.supervisor(handler_removed{e.id, why, replaced_by});
    } catch (...) {
      // Out of memory: the supervisor misses the notice; the manager lives on.
    }
  }
  static exit_reason failure(std::exception_ptr ex) {
    try {
      std::rethrow_exception(ex);
    } catch (const std::exception& e) {
      return {exit_reason::kind::exception, e.what()};
    } catch (...) {
      return {exit_reason::kind::exception, "a non-standard exception"};
    }
  }

  std::unique_ptr<shared> s_;  // one pointer, so the behaviour stores it inline
};
}  // namespace detail

template <class E>
behavior<event_manager_msg<E>> event_manager<E>::manager_behavior() {
  using P = event_manager_msg<E>;
  return setup<P>([](actor_context<P>& ctx) { return troupe::receive<P>(detail::event_manager_state<E>(ctx)); });
}

}  // namespace troupe::otp
