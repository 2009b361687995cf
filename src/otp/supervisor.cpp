// supervisor.cpp: the supervisor's state machine. Work that waits for a child to stop (a
// shutdown, a group restart, an escalation) is a plan of steps run one at a time; while a plan
// waits, requests are deferred and replayed afterwards, as OTP's supervisor is busy inside
// its synchronous shutdown. Only child exits and shutdown timeouts are handled meanwhile.
#include "troupe/otp/supervisor.hpp"

#include <algorithm>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <typeinfo>
#include <utility>

namespace troupe::otp {

namespace {

class supervisor_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "troupe.supervisor"; }
  std::string message(int c) const override {
    switch (static_cast<supervisor_errc>(c)) {
      case supervisor_errc::already_started: return "child already started";
      case supervisor_errc::already_present: return "child already present";
      case supervisor_errc::not_found: return "no such child";
      case supervisor_errc::running: return "child is running";
      case supervisor_errc::start_failed: return "child failed to start";
      case supervisor_errc::not_supported: return "not supported by a simple_one_for_one supervisor";
    }
    return "unknown supervisor error";
  }
};

struct any_protocol {};  // watch, stop and kill need the actor, not its protocol

std::string what_of(std::exception_ptr ex) {
  try {
    std::rethrow_exception(ex);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

struct child_rec {
  std::uint64_t key;
  child_spec spec;
  std::any args;  // simple_one_for_one: what the child was started with, to restart it alike
  child_ref ref;  // empty while not running
};

struct step {
  enum class what { stop, start, forget, exited, reply, finish };
  step(what k, std::uint64_t key = 0, exit_reason r = {}, std::function<void()> f = {})
      : kind(k), key(key), reason(std::move(r)), fire(std::move(f)) {}
  what kind;
  std::uint64_t key;
  exit_reason reason;          // exited, finish
  std::function<void()> fire;  // reply
};

class supervisor_state {
 public:
  supervisor_state(supervisor_context& ctx, supervisor_spec spec) : ctx_(ctx), flags_(spec.flags) {
    if (simple()) {
      if (spec.children.size() != 1)
        throw usage_error("troupe: a simple_one_for_one supervisor takes exactly one template child spec");
      template_ = std::move(spec.children.front());
    } else {
      for (auto& c : spec.children) children_.push_back({next_key_++, std::move(c), {}, {}});
    }
  }

  // Starts the children in order. One that fails stops those started before it, in reverse
  // order, and then the supervisor fails (OTP's init failure).
  void start_all() {
    for (auto& c : children_) {
      std::string why;
      if (!start(c, why)) {
        for (auto it = children_.rbegin(); it != children_.rend(); ++it)
          if (it->ref) plan_.push_back({step::what::stop, it->key});
        plan_.push_back({step::what::finish, 0,
                         {exit_reason::kind::exception, "child '" + c.spec.id + "' failed to start: " + why}});
        break;
      }
    }
    pump();
  }

  void handle(supervisor_msg&& m) {
    if (auto* e = std::get_if<detail::child_exited>(&m)) return on_exit(*e);
    if (auto* t = std::get_if<detail::shutdown_timeout>(&m)) return on_timeout(*t);
    if (busy()) {
      deferred_.push_back(std::move(m));
      return;
    }
    dispatch(m);
    pump();
  }

 private:
  bool simple() const { return flags_.strategy == strategy::simple_one_for_one; }
  bool busy() const { return awaiting_ != 0 || !plan_.empty() || finished_; }

  child_rec* find_key(std::uint64_t key) {
    auto it = std::find_if(children_.begin(), children_.end(), [&](const child_rec& c) { return c.key == key; });
    return it == children_.end() ? nullptr : &*it;
  }
  child_rec* find_id(const std::string& id) {
    auto it = std::find_if(children_.begin(), children_.end(), [&](const child_rec& c) { return c.spec.id == id; });
    return it == children_.end() ? nullptr : &*it;
  }
  child_rec* find_actor(actor_id who) {
    auto it = std::find_if(children_.begin(), children_.end(),
                           [&](const child_rec& c) { return c.ref && c.ref.id() == who; });
    return it == children_.end() ? nullptr : &*it;
  }
  void forget(std::uint64_t key) {
    std::erase_if(children_, [&](const child_rec& c) { return c.key == key; });
  }
  static ref<any_protocol> untyped(const child_ref& c) {
    return troupe::detail::ref_access::make<any_protocol>(c.endpoint());
  }

  // Runs the start function; true if it returned (a handle, or none: OTP's ignore).
  bool start(child_rec& c, std::string& why) {
    try {
      if (!c.spec.start) throw usage_error("child spec '" + c.spec.id + "' has no start function");
      c.ref = c.spec.start(ctx_, c.args);
    } catch (...) {
      c.ref = {};
      why = what_of(std::current_exception());
      return false;
    }
    if (c.ref)
      ctx_.watch(untyped(c.ref), [](terminated&& t) { return detail::child_exited{t.who, std::move(t.reason)}; });
    return true;
  }

  // --- the plan ---------------------------------------------------------------------------------

  void pump() {
    for (;;) {
      while (awaiting_ == 0 && !plan_.empty() && !finished_) {
        step s = std::move(plan_.front());
        plan_.pop_front();
        run(s);
      }
      if (busy() || deferred_.empty()) return;
      auto m = std::move(deferred_.front());
      deferred_.pop_front();
      dispatch(m);
    }
  }

  void run(step& s) {
    switch (s.kind) {
      case step::what::stop:
        if (auto* c = find_key(s.key); c != nullptr && c->ref) begin_stop(*c);
        break;
      case step::what::start:
        if (auto* c = find_key(s.key); c != nullptr && !c->ref) {
          std::string why;
          if (!start(*c, why)) exited(*c, {exit_reason::kind::exception, "restart failed: " + why});
        }
        break;
      case step::what::forget:
        forget(s.key);
        break;
      case step::what::exited:
        if (auto* c = find_key(s.key); c != nullptr && !c->ref) exited(*c, s.reason);
        break;
      case step::what::reply:
        s.fire();
        break;
      case step::what::finish:
        finished_ = true;
        deferred_.clear();  // their asks complete with request_dropped
        if (!s.reason.is_failure()) {
          ctx_.stop();
          return;
        }
        throw supervisor_failure(s.reason.text);
    }
  }

  void begin_stop(child_rec& c) {
    awaiting_ = c.key;
    if (c.spec.shutdown == kill_immediately) {
      ctx_.kill(untyped(c.ref), "killed by its supervisor (shutdown: kill_immediately)");
      return;
    }
    if (auto sup = c.ref.as<supervisor_msg>()) {
      sup->tell(stop_tree{});  // a supervisor stops its own children in order first
    } else if (auto* cell = c.ref.endpoint()->as_cell()) {
      cell->request_stop({exit_reason::kind::shutdown, {}});
    }
    if (c.spec.shutdown != troupe::infinity)
      ctx_.start_timer("shutdown", detail::shutdown_timeout{c.ref.id()}, c.spec.shutdown);
  }

  void on_timeout(const detail::shutdown_timeout& t) {
    auto* c = find_actor(t.who);
    if (c == nullptr || c->key != awaiting_) return;
    ctx_.kill(untyped(c->ref), "killed by its supervisor after its shutdown time of " +
                                   std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(c->spec.shutdown).count()) +
                                   " ms");
  }

  void on_exit(const detail::child_exited& e) {
    auto* c = find_actor(e.who);
    if (c == nullptr) return;  // forgotten meanwhile
    c->ref = {};
    if (c->key == awaiting_) {  // a stop we asked for: the plan goes on
      awaiting_ = 0;
      ctx_.cancel_timer("shutdown");
      pump();
      return;
    }
    if (busy()) {
      // Decided after the plan, unless the plan restarts the child meanwhile.
      plan_.push_back({step::what::exited, c->key, e.reason});
      return;
    }
    exited(*c, e.reason);
    pump();
  }

  // A child stopped on its own (or its restart failed): restart what the strategy says.
  void exited(child_rec& c, const exit_reason& reason) {
    const auto type = c.spec.restart;
    const bool restart = type == restart_type::permanent || (type == restart_type::transient && reason.is_failure());
    if (!restart) {
      if (type == restart_type::temporary || simple()) forget(c.key);
      return;
    }
    if (!note_restart()) return escalate(c, reason);
    switch (flags_.strategy) {
      case strategy::one_for_one:
      case strategy::simple_one_for_one:
        plan_.push_back({step::what::start, c.key});
        break;
      case strategy::one_for_all:
        restart_from(children_.begin(), c.key);
        break;
      case strategy::rest_for_one:
        restart_from(std::find_if(children_.begin(), children_.end(), [&](const child_rec& r) { return r.key == c.key; }),
                     c.key);
        break;
    }
  }

  // Stops [first, end) except `failed` in reverse order, then starts them in order (a
  // temporary one that the group restart stopped is forgotten, as in OTP).
  void restart_from(std::vector<child_rec>::iterator first, std::uint64_t failed) {
    const auto from = static_cast<std::size_t>(first - children_.begin());
    for (std::size_t i = children_.size(); i-- > from;)
      if (children_[i].key != failed && children_[i].ref) plan_.push_back({step::what::stop, children_[i].key});
    for (std::size_t i = from; i < children_.size(); ++i) {
      const auto& r = children_[i];
      const bool drop = r.key != failed && r.spec.restart == restart_type::temporary;
      plan_.push_back({drop ? step::what::forget : step::what::start, r.key});
    }
  }

  // Records a restart now; false when it is one more than max_restarts allows within the window.
  // A restart exactly `within` old still counts, as in OTP (supervisor.erl keeps R >= Now - Period)
  // and as the pool router counts.
  bool note_restart() {
    ctx_.count_restart();  // for introspection and metrics
    const auto now = ctx_.now();
    restarts_.push_back(now);
    while (!restarts_.empty() && restarts_.front() + flags_.within < now) restarts_.pop_front();
    return static_cast<int>(restarts_.size()) <= flags_.max_restarts;
  }

  void escalate(const child_rec& c, const exit_reason& reason) {
    const std::string text = "supervisor " + (ctx_.name().empty() ? std::string("(unnamed)") : "'" + ctx_.name() + "'") +
                             " reached its restart limit (" + std::to_string(flags_.max_restarts) + " within " +
                             std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(flags_.within).count()) +
                             " ms); last failure: child '" + c.spec.id +
                             "': " + reason.describe();
    plan_.clear();
    stop_all(exit_reason{exit_reason::kind::exception, text});
  }

  void stop_all(exit_reason then) {
    for (auto it = children_.rbegin(); it != children_.rend(); ++it)
      if (it->ref) plan_.push_back({step::what::stop, it->key});
    plan_.push_back({step::what::finish, 0, std::move(then)});
  }

  // --- requests -----------------------------------------------------------------------------------

  void dispatch(supervisor_msg& m) {
    std::visit([this](auto& r) { on(r); }, m);
  }

  void on(start_child& r) {
    if (simple()) {
      children_.push_back({next_key_++, template_, std::move(r.args), {}});
    } else {
      if (auto* c = find_id(r.spec.id)) {
        if (c->ref) r.reply_to.tell(result<child_ref>(error{supervisor_errc::already_started, r.spec.id}));
        else r.reply_to.tell(result<child_ref>(error{supervisor_errc::already_present, r.spec.id}));
        return;
      }
      children_.push_back({next_key_++, std::move(r.spec), {}, {}});
    }
    auto& c = children_.back();
    std::string why;
    if (!start(c, why)) {
      const std::string id = c.spec.id;
      children_.pop_back();
      r.reply_to.tell(result<child_ref>(error{supervisor_errc::start_failed, id + ": " + why}));
      return;
    }
    child_ref started = c.ref;
    if (!started && simple()) children_.pop_back();
    r.reply_to.tell(result<child_ref>(std::move(started)));
  }

  void on(terminate_child& r) {
    auto* c = simple() ? find_actor(r.who) : find_id(r.id);
    if (c == nullptr) {
      r.reply_to.tell(result<void>(error{supervisor_errc::not_found, r.id}));
      return;
    }
    plan_.push_back({step::what::stop, c->key});
    if (simple() || c->spec.restart == restart_type::temporary) plan_.push_back({step::what::forget, c->key});
    plan_.push_back({step::what::reply, 0, {}, [reply = r.reply_to] { reply.tell(result<void>()); }});
  }

  void on(restart_child& r) {
    if (simple()) return r.reply_to.tell(result<child_ref>(error{supervisor_errc::not_supported, r.id}));
    auto* c = find_id(r.id);
    if (c == nullptr) return r.reply_to.tell(result<child_ref>(error{supervisor_errc::not_found, r.id}));
    if (c->ref) return r.reply_to.tell(result<child_ref>(error{supervisor_errc::running, r.id}));
    std::string why;
    if (!start(*c, why)) return r.reply_to.tell(result<child_ref>(error{supervisor_errc::start_failed, r.id + ": " + why}));
    r.reply_to.tell(result<child_ref>(c->ref));
  }

  void on(delete_child& r) {
    if (simple()) return r.reply_to.tell(result<void>(error{supervisor_errc::not_supported, r.id}));
    auto* c = find_id(r.id);
    if (c == nullptr) return r.reply_to.tell(result<void>(error{supervisor_errc::not_found, r.id}));
    if (c->ref) return r.reply_to.tell(result<void>(error{supervisor_errc::running, r.id}));
    forget(c->key);
    r.reply_to.tell(result<void>());
  }

  void on(which_children& r) {
    std::vector<child_info> out;
    out.reserve(children_.size());
    for (const auto& c : children_) out.push_back({c.spec.id, c.ref, c.spec.kind, c.spec.restart});
    r.reply_to.tell(std::move(out));
  }

  void on(count_children& r) {
    child_counts n;
    for (const auto& c : children_) {
      ++n.specs;
      if (c.ref) ++n.active;
      if (c.spec.kind == child_kind::supervisor) ++n.supervisors;
      else ++n.workers;
    }
    r.reply_to.tell(n);
  }

  void on(stop_tree&) { stop_all(exit_reason{}); }

  void on(detail::child_exited&) {}       // handled before dispatch
  void on(detail::shutdown_timeout&) {}   // handled before dispatch

  supervisor_context& ctx_;  // the supervisor's own: this state lives in its behaviour
  supervisor_flags flags_;
  child_spec template_;              // simple_one_for_one
  std::vector<child_rec> children_;  // in start order
  std::uint64_t next_key_ = 1;
  std::deque<timer_service::clock::time_point> restarts_;  // within the last `within`
  std::deque<step> plan_;
  std::uint64_t awaiting_ = 0;  // the child whose stop the plan waits for; 0 for none
  std::deque<supervisor_msg> deferred_;
  bool finished_ = false;
};

// The helpers' ask: the supervisor answers result<R>, the caller gets it flattened.
template <class R, class F>
std::future<result<R>> ask_flat(const ref<supervisor_msg>& sup, F make, std::chrono::nanoseconds timeout) {
  auto promise = std::make_shared<std::promise<result<R>>>();
  auto future = promise->get_future();
  troupe::detail::ref_access::send_request<result<R>>(sup, make, timeout, [promise](result<result<R>>&& r) {
    if (r) promise->set_value(std::move(*r));
    else promise->set_value(r.error());
  });
  return future;
}

}  // namespace

const std::error_category& supervisor_category() noexcept {
  static const supervisor_category_impl category;
  return category;
}

behavior<supervisor_msg> supervisor(supervisor_spec spec) {
  return setup<supervisor_msg>([spec = std::move(spec)](supervisor_context& ctx) mutable {
    auto state = std::make_shared<supervisor_state>(ctx, std::move(spec));
    state->start_all();
    return receive<supervisor_msg>([state](auto&& m) { state->handle(supervisor_msg(std::move(m))); });
  });
}

child_spec supervisor_child(std::string id, supervisor_spec spec, spawn_options opts) {
  return child_spec{.id = std::move(id),
                    .start = [spec = std::move(spec), opts = std::move(opts)](supervisor_context& ctx,
                                                                              const std::any&) -> child_ref {
                      return ctx.spawn(supervisor(spec), opts);
                    },
                    .restart = restart_type::permanent,
                    .shutdown = troupe::infinity,
                    .kind = child_kind::supervisor};
}

std::future<result<child_ref>> start_child_of(const ref<supervisor_msg>& sup, child_spec spec, std::chrono::nanoseconds timeout) {
  return ask_flat<child_ref>(
      sup, [&](ref<result<child_ref>> r) { return start_child{std::move(spec), {}, std::move(r)}; }, timeout);
}
std::future<result<child_ref>> start_dynamic_child_of(const ref<supervisor_msg>& sup, std::any args, std::chrono::nanoseconds timeout) {
  return ask_flat<child_ref>(
      sup, [&](ref<result<child_ref>> r) { return start_child{{}, std::move(args), std::move(r)}; }, timeout);
}
std::future<result<void>> terminate_child_of(const ref<supervisor_msg>& sup, std::string id, std::chrono::nanoseconds timeout) {
  return ask_flat<void>(
      sup, [&](ref<result<void>> r) { return terminate_child{std::move(id), {}, std::move(r)}; }, timeout);
}
std::future<result<void>> terminate_child_of(const ref<supervisor_msg>& sup, actor_id who, std::chrono::nanoseconds timeout) {
  return ask_flat<void>(sup, [&](ref<result<void>> r) { return terminate_child{{}, who, std::move(r)}; }, timeout);
}
std::future<result<child_ref>> restart_child_of(const ref<supervisor_msg>& sup, std::string id, std::chrono::nanoseconds timeout) {
  return ask_flat<child_ref>(
      sup, [&](ref<result<child_ref>> r) { return restart_child{std::move(id), std::move(r)}; }, timeout);
}
std::future<result<void>> delete_child_of(const ref<supervisor_msg>& sup, std::string id, std::chrono::nanoseconds timeout) {
  return ask_flat<void>(sup, [&](ref<result<void>> r) { return delete_child{std::move(id), std::move(r)}; }, timeout);
}
std::future<result<std::vector<child_info>>> which_children_of(const ref<supervisor_msg>& sup,
                                                               std::chrono::nanoseconds timeout) {
  return sup.ask([](ref<std::vector<child_info>> r) { return which_children{std::move(r)}; }, timeout);
}
std::future<result<child_counts>> count_children_of(const ref<supervisor_msg>& sup, std::chrono::nanoseconds timeout) {
  return sup.ask([](ref<child_counts> r) { return count_children{std::move(r)}; }, timeout);
}

}  // namespace troupe::otp
