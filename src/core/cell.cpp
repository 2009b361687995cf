// cell.cpp: an actor's life: turns, signals, stopping, watchers, links and timers.
#include "troupe/core/actor_observer.hpp"
#include "troupe/core/detail/cell.hpp"

#include <algorithm>
#include <typeinfo>

#include "cell_extras.hpp"
#include "demangle.hpp"
#include "signal_envelope.hpp"
#include "troupe/core/detail/instruments.hpp"
#include "troupe/core/detail/system_core.hpp"

namespace troupe {

// --- the scheduler's thread hooks ---------------------------------------------------------------
// Here, beside the sends that read it on every tell: a thread_local of this file is read
// inline, with no call through a TLS wrapper; a non-scheduler thread pays one load and a test.
namespace {
thread_local scheduler::thread_hooks* tls_hooks = nullptr;  // this thread's scheduler's, or null
}  // namespace

void scheduler::set_thread_hooks(thread_hooks* hooks) noexcept { tls_hooks = hooks; }

// The public faces of a cell and an envelope for schedulers other than the runtime's own (the
// test kit's): every schedulable is a detail::cell and every held_message a detail::envelope.
bool schedulable::run_turn(unsigned budget) noexcept { return static_cast<detail::cell*>(this)->run_turn(budget); }
std::uint64_t schedulable::serial() const noexcept { return static_cast<const detail::cell*>(this)->serial(); }
void schedulable::retain() noexcept { static_cast<detail::cell*>(this)->add_ref(); }
void schedulable::release_ref() noexcept { static_cast<detail::cell*>(this)->release(); }
void held_message::set_next(held_message* next) noexcept {
  static_cast<detail::envelope*>(this)->next = static_cast<detail::envelope*>(next);
}
void push_batch(schedulable& target, held_message* first, held_message* last) noexcept {
  auto& c = static_cast<detail::cell&>(target);
  auto* f = static_cast<detail::envelope*>(first);
  auto* l = static_cast<detail::envelope*>(last);
  std::size_t n = 1;  // only a tallied mailbox needs the count: its inbox counts pushes
  if (c.tallied())
    for (auto* e = f; e != l; e = e->next) ++n;
  c.push_batch(f, l, n);
}

namespace detail {

// Here rather than in system_core.cpp, beside tls_hooks: a spawn and every wake-up test the
// thread inline instead of calling on_a_scheduler_thread().
void system_core::schedule(cell& c, scheduler::schedule_hint hint) noexcept {
  auto& target = c.blocking() ? blocking_ : workers_;
  if (tls_hooks != nullptr) {
    target->schedule(c, hint);
    return;
  }
  // relaxed: the actor this wakes can run (and the system finish shutting down) only after the
  // schedule below hands it over under the scheduler's lock, which orders this increment before
  // retire()'s load through the shutdown's own locks.
  outside_schedules_.fetch_add(1, std::memory_order_relaxed);
  target->schedule(c, hint);
  // release: this thread's last touch of the scheduler happens-before retire() destroys it;
  // pairs with the acquire load there.
  outside_schedules_.fetch_sub(1, std::memory_order_release);
}

bool worker_has_nothing_else() noexcept {
  auto* h = tls_hooks;
  return h != nullptr && h->idle_but_for_this_turn();
}

}  // namespace detail
}  // namespace troupe

namespace troupe::detail {

namespace {
// Only run_turn's rare path (a deadline_user message) writes it, around the handler.
constinit thread_local deadline_clock::time_point tls_turn_deadline = deadline_clock::time_point::max();
}  // namespace
deadline_clock::time_point& turn_deadline() noexcept { return tls_turn_deadline; }

namespace {
const std::string no_name;

void flush_sends_to(cell& target) noexcept {
  if (auto* h = tls_hooks) h->flush_sends_to(target);
}

exit_reason reason_from(std::exception_ptr ex) {
  try {
    std::rethrow_exception(ex);
  } catch (const std::exception& e) {
    return {exit_reason::kind::exception, demangle(typeid(e).name()) + ": " + e.what()};
  } catch (...) {
    return {exit_reason::kind::exception, "unknown exception"};
  }
}

bool is_plain_normal(const exit_reason& r) { return r.what == exit_reason::kind::normal && r.text.empty(); }

// Serials are taken from the system's counter in blocks, one block per thread at a time: a spawn
// then costs no read-modify-write on a line that every spawning thread shares (bench skynet:
// the workers spawn; fjcreate: one less atomic per actor). Serials stay unique; only those of
// one thread increase in spawn order. Keyed by the system's instance number, not its address,
// which a later system may reuse.
constexpr std::uint64_t serial_block = 64;
struct serial_cache {
  std::uint64_t instance;  // 0: none (instances count from 1)
  std::uint64_t next;
  std::uint64_t end;
};
constinit thread_local serial_cache tls_serials{};

std::uint64_t take_serial(system_core& sys) noexcept {
  auto& s = tls_serials;
  if (s.instance != sys.instance() || s.next == s.end) [[unlikely]] {
    s.instance = sys.instance();
    s.next = sys.next_serials(serial_block);
    s.end = s.next + serial_block;
  }
  return s.next++;
}

}  // namespace

cell::cell(system_core& sys, cell* parent, bool blocking, std::string&& name, const mailbox_options& mailbox)
    : blocking_(blocking),
      // An instrumented system counts every mailbox, for introspection's mailbox lengths; one
      // that nobody bounds or counts is only tallied, which costs a send no atomic operation.
      counted_(mailbox.is_counted() || sys.instruments() != nullptr),
      tallied_(!mailbox.is_counted() && sys.instruments() != nullptr),
      sampled_(!mailbox.is_counted() && sys.instruments() != nullptr && sys.instruments()->timings()),
      sys_(&sys),
      parent_(parent),
      serial_(take_serial(sys)),
      turn_counted_(counted_ && !tallied_),
      turn_tallied_(tallied_) {
  if (!name.empty() || counted_) {
    auto* x = new cell_extras;
    x->name = std::move(name);
    x->mailbox_capacity = mailbox.capacity;
    x->mailbox_overflow = mailbox.overflow;
    if (auto* in = sys.instruments()) {
      x->probe = std::make_unique<actor_probe>();
      x->probe->timings = in->timings();
      if (in->timings()) {
        x->sample_mask = static_cast<std::uint16_t>(in->sample_mask());  // at most 2^16 - 1
        x->sample_phase = static_cast<std::uint16_t>(serial_ & x->sample_mask);
      }
    }
    extras_.store(x, std::memory_order_release);
  }
}

cell::~cell() { delete extras_.load(std::memory_order_relaxed); }

void cell::unreferenced() noexcept { delete this; }

const std::string& cell::name() const noexcept {
  // acquire: pairs with the release that published the extras.
  auto* x = extras_.load(std::memory_order_acquire);
  return x != nullptr ? x->name : no_name;
}

exit_reason cell::final_reason() const {
  auto* x = extras_.load(std::memory_order_acquire);
  return x != nullptr ? x->reason : exit_reason{};
}

cell_extras& cell::extras() {
  auto* x = extras_.load(std::memory_order_relaxed);  // relaxed: only our own turn writes it
  if (x == nullptr) {
    x = new cell_extras;
    extras_.store(x, std::memory_order_release);  // release: publishes the empty name
  }
  return *x;
}

}  // namespace troupe::detail

namespace troupe {
actor_id observed_actor::id() const noexcept { return c_->id(); }
const std::string& observed_actor::name() const noexcept { return c_->name(); }
const std::type_info& observed_actor::protocol() const noexcept { return c_->protocol_type(); }
detail::counted<detail::endpoint> observed_actor::share() const noexcept {
  return detail::counted<detail::endpoint>::share(c_);
}
}  // namespace troupe

namespace troupe::detail {

actor_probe* cell::probe() const noexcept {
  if (!counted_) return nullptr;
  // acquire: pairs with the release that published the extras (made at construction).
  auto* x = extras_.load(std::memory_order_acquire);
  return x->probe != nullptr && x->probe->stats != nullptr ? x->probe.get() : nullptr;
}

std::size_t cell::footprint() const noexcept {
  std::size_t n = block_size();
  auto* x = extras_.load(std::memory_order_acquire);  // acquire: as in probe()
  if (x == nullptr) return n;
  n += sizeof(cell_extras) + (x->probe ? sizeof(actor_probe) : 0) + (x->name.capacity() > 15 ? x->name.capacity() + 1 : 0);
  if (tallied_) {
    n += tallied_length() * message_size();
  } else if (counted_) {
    n += mailbox_length().value_or(0) * message_size();
  }
  return n;
}

void cell::count_restart() noexcept {
  sys_->count_restart();
  if (auto* p = probe()) p->restarts.store(p->restarts.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

void cell::start() noexcept {
  if (inbox_.try_unblock()) sys_->schedule(*this, scheduler::schedule_hint::spawned);
}

void cell::enqueue(envelope* e) noexcept {
  if (counted_) {  // bounded, counted or tallied mailboxes only
    if (tallied_) {  // a held tell is counted (and sampled) with its batch (push_batch)
      if (auto* h = tls_hooks; h != nullptr && h->hold_send(*this, e)) return;
      push_tallied(e);
      return;
    }
    if (!admit(e)) return refuse(e, false);
  }
  if (auto* h = tls_hooks; h != nullptr && h->hold_send(*this, e)) return;  // pushed with others later
  push(e);
}

endpoint::offer_result cell::try_enqueue(envelope* e) noexcept {
  flush_sends_to(*this);  // this sender's batched tells go first
  if (tallied_) return push_tallied(e);
  if (counted_ && !admit(e)) {
    refuse(e, true);
    return offer_result::full;
  }
  return push(e);
}

bool cell::closed_after(inbox::push_result r) noexcept {
  if (r == inbox::push_result::woke) sys_->schedule(*this, scheduler::schedule_hint::woken);
  return r == inbox::push_result::closed;
}

// Inline in both pushes: an out-of-line call here cost pingpong 16 instructions per message.
[[gnu::always_inline]] inline endpoint::offer_result cell::after_push(envelope* e, inbox::push_result r) noexcept {
  if (r == inbox::push_result::queued) {  // the usual case: the actor is scheduled already
    if (auto* h = tls_hooks) h->queued_send();
    return offer_result::queued;
  }
  if (!closed_after(r)) return offer_result::queued;
  drop_user(e);
  return offer_result::closed;
}

template <class BeforePublish>
inbox::push_result cell::push_counted(envelope* first, envelope* last, std::size_t count,
                                      BeforePublish&& before_publish) noexcept {
  bool wrapped;
  auto r = inbox_.push_counted(first, last, count, wrapped, std::forward<BeforePublish>(before_publish));
  if (wrapped) carry_pushes();
  return r;
}

endpoint::offer_result cell::push(envelope* e) noexcept { return after_push(e, inbox_.push(e)); }

endpoint::offer_result cell::push_tallied(envelope* e) noexcept {
  e->next = nullptr;  // as in inbox::push
  if (!sampled_) return after_push(e, push_counted(e, e, 1));
  // acquire: pairs with the release in the constructor (the extras exist before any sender).
  const auto& x = *extras_.load(std::memory_order_acquire);
  const auto mask = x.sample_mask;
  const auto phase = x.sample_phase;
  return after_push(e, push_counted(e, e, 1, [e, mask, phase](std::uint16_t before) {
                      // `tag` is a timer's id on timer messages and calls; only a user message
                      // leaves it free.
                      if (((before + phase) & mask) == 0 && e->kind == envelope_kind::user) stamp_timed(*e);
                    }));
}

void cell::carry_pushes() noexcept {
  // acquire: pairs with the release in the constructor; relaxed: a number (tallied_length()).
  extras_.load(std::memory_order_acquire)->probe->pushes_carried.fetch_add(1, std::memory_order_relaxed);
}

void cell::push_batch(envelope* first, envelope* last, std::size_t count) noexcept {
  auto r = !tallied_ ? inbox_.push_chain(first, last)
           : sampled_ ? push_counted(first, last, count, [&](std::uint16_t before) { sample_batch(first, count, before); })
                      : push_counted(first, last, count);
  if (closed_after(r))
    while (first != nullptr) drop_user(std::exchange(first, first->next));
}

namespace {
// A signal for a cell that has terminated: answer as Erlang does for a dead process.
void signal_to_dead(cell& dead, signal_envelope* s) noexcept {
  using w = signal_envelope::what;
  try {
    if (s->kind == w::watch)
      s->other->post_signal(make_signal(w::down, dead, dead.final_reason()));
    else if (s->kind == w::link)
      s->other->post_signal(make_signal(w::exit, dead, dead.final_reason()));
  } catch (...) {
    // Out of memory while answering a dead actor: the watcher misses a signal it could not
    // have been sent anyway; nothing else to do here.
  }
  pool_delete(s);
}
}  // namespace

void cell::post_signal(signal_envelope* s) noexcept {
  if (s->envelope::kind == envelope_kind::signal) {
    if (!signals_.push(s)) signal_to_dead(*this, s);
    else if (inbox_.note_signal()) sys_->schedule(*this, scheduler::schedule_hint::woken);
    return;
  }
  // Notices (down, exit) keep their place behind the other actor's earlier messages, batched
  // ones included.
  flush_sends_to(*this);
  inbox::push_result r;
  if (tallied_) {  // the count covers every envelope a turn takes (cell_mailbox.cpp)
    s->next = nullptr;  // as in inbox::push
    r = push_counted(s, s, 1);
  } else {
    r = inbox_.push(s);
  }
  if (closed_after(r)) signal_to_dead(*this, s);
}

void cell::request_stop(exit_reason reason) {
  post_signal(make_signal(signal_envelope::what::stop, *this, std::move(reason)));
}

void cell::request_kill(std::string text) {
  post_signal(make_signal(signal_envelope::what::kill, *this, {exit_reason::kind::killed, std::move(text)}));
}

// --- turns ------------------------------------------------------------------------------------

void cell::consume_signal(envelope* e) {
  auto* s = static_cast<signal_envelope*>(e);
  struct guard {  // freed even when a user's delivery function throws
    signal_envelope* s;
    ~guard() { pool_delete(s); }
  } g{s};
  handle_signal(s);
}

void cell::handle_signals_now() {
  // Finalized (a signal stopped us earlier in this turn): the inbox is closed.
  if (release_pending_) return;
  if (signals_.waiting()) {
    inbox_.clear_signal_bit();  // before the take: a signal pushed after it sets the bit again
    auto* taken = signals_.take_all();
    auto** tail = &signal_head_;  // usually empty; left over only after a handler threw
    while (*tail != nullptr) tail = &(*tail)->next;
    *tail = taken;
  }
  while (signal_head_ != nullptr && !release_pending_) {
    auto* s = signal_head_;
    signal_head_ = s->next;
    consume_signal(s);
  }
  if (stop_pending_ && state_.load(std::memory_order_relaxed) == cell_state::running) {
    stop_pending_ = false;
    auto* x = extras_.load(std::memory_order_relaxed);
    if (x == nullptr) return begin_normal_stop();  // no reason, timers, children: no extras
    begin_stop(x->reason);
  }
}

bool cell::finish_turn(unsigned taken) noexcept {
  if (turn_tallied_) [[unlikely]] {  // here rather than per message: see cell_mailbox.cpp
    auto& p = *extras_.load(std::memory_order_relaxed)->probe;  // relaxed: made before our first turn
    // The own turn writes this; a relaxed store of a number others only read (see actor_probe).
    p.handled.store(p.handled.load(std::memory_order_relaxed) + taken, std::memory_order_relaxed);
    // Finalized in this turn (a stop or kill signal): finalize() moved the count to the
    // protocol's total before this turn's share was in it. relaxed: a statistic.
    if (release_pending_) sys_->instruments()->count_finished(*p.stats, taken);
  }
  if (stop_pending_ && state_.load(std::memory_order_relaxed) == cell_state::running) {
    if (signal_head_ == nullptr && !signals_.waiting() && extras_.load(std::memory_order_relaxed) == nullptr) {
      // How most actors end (a handler returned `stopped`): no signal to handle first, and no
      // reason, children, timers or watchers (they live in the extras). A signal that comes
      // after this look is answered by finalize(), as it would be after handle_signals().
      stop_pending_ = false;
      begin_normal_stop();
    } else {
      try {
        handle_signals();  // applies the pending stop
      } catch (...) {
        crashed(std::current_exception());
      }
    }
  }
  if (release_pending_) {
    // The runtime's reference, usually the last: finalize() has taken the actor out of every
    // list that could make a new reference (its root shard or its parent's child_terminated,
    // which holds one; the registry; the instruments' table). May delete this.
    release_usually_last();
    return false;
  }
  if (signal_head_ != nullptr) return true;
  if (state_.load(std::memory_order_relaxed) != cell_state::running)
    return !inbox_.try_block_keeping_messages();  // stopping: messages wait for finalize
  if (turn_counted_ && extras_.load(std::memory_order_relaxed)->kept != nullptr) return true;
  return !inbox_.try_block(turn_tallied_);
}

void cell::crashed(std::exception_ptr ex) noexcept {
  exit_reason r;
  try {
    r = reason_from(ex);
  } catch (...) {
    r = {exit_reason::kind::exception, "unknown exception (describing it failed)"};
  }
  // As Erlang's and Akka's loggers do: a crash nobody watches must not pass unseen.
  try {
    if (sys_->logger().enabled(log_level::error))
      sys_->log(log_level::error, system_core::path_of(*this), "crashed", {{"reason", r.describe()}});
  } catch (...) {
  }
  // A crash outranks a stop the same handler asked for before it threw: the reason says why.
  if (state_.load(std::memory_order_relaxed) != cell_state::running) return;
  stop_pending_ = true;
  try {
    extras().reason = std::move(r);
  } catch (...) {
  }
}

void cell::stop_self(exit_reason reason) {
  if (state_.load(std::memory_order_relaxed) != cell_state::running || stop_pending_) return;
  stop_pending_ = true;
  if (!is_plain_normal(reason)) extras().reason = std::move(reason);
}

// --- signals ----------------------------------------------------------------------------------

void cell::handle_signal(signal_envelope* s) {
  using w = signal_envelope::what;
  const bool running = state_.load(std::memory_order_relaxed) == cell_state::running;
  switch (s->kind) {
    case w::stop:
      if (running) {
        // A kill taken with this stop (it came while the stop waited, e.g. a supervisor's
        // shutdown time ran out while a handler held the actor) replaces the stop's reason:
        // watchers see `killed`, as OTP's brutal_kill after the shutdown timeout.
        for (auto* p = signal_head_; p != nullptr; p = p->next) {
          auto* later = static_cast<signal_envelope*>(p);
          if (later->kind == w::kill) {
            begin_stop(later->reason);
            return;
          }
        }
        begin_stop(std::move(s->reason));
      }
      break;
    case w::kill:
      if (running) {
        begin_stop(std::move(s->reason));
      } else if (state_.load(std::memory_order_relaxed) == cell_state::stopping) {
        // Already stopping, waiting for its children: the kill overrides the reason and
        // hurries the children, so a supervisor's shutdown timeout ends the whole subtree.
        auto& x = extras();
        x.reason = std::move(s->reason);
        for (cell* c = x.first_child; c != nullptr; c = c->next_sibling_) c->request_kill("parent killed");
      }
      break;
    case w::watch: {
      auto& ws = extras().watchers;
      ws.push_back(s->other);
      publish_relations();
      break;
    }
    case w::unwatch: {
      if (auto* x = extras_.load(std::memory_order_relaxed)) {
        auto& ws = x->watchers;
        if (auto* w = ws.find(s->other.get())) ws.erase(w);
      }
      publish_relations();
      break;
    }
    case w::link: {
      auto& ls = extras().links;
      if (ls.find(s->other.get()) == nullptr) ls.push_back(s->other);
      publish_relations();
      break;
    }
    case w::unlink: {
      if (auto* x = extras_.load(std::memory_order_relaxed)) {
        auto& ls = x->links;
        if (auto* l = ls.find(s->other.get())) ls.erase(l);
      }
      publish_relations();
      break;
    }
    case w::down: {
      auto* x = extras_.load(std::memory_order_relaxed);
      if (x == nullptr) break;
      auto& ws = x->watching;
      auto* r = ws.find(s->other.get());
      if (r == nullptr) break;  // unwatched meanwhile
      auto deliver = std::move(r->deliver);
      ws.erase(r);
      publish_relations();
      if (running) deliver(terminated{s->other->id(), std::move(s->reason)});
      break;
    }
    case w::exit: {
      auto* x = extras_.load(std::memory_order_relaxed);
      if (x == nullptr) break;
      auto& ls = x->links;
      auto* l = ls.find(s->other.get());
      if (l == nullptr) break;  // unlinked meanwhile
      ls.erase(l);
      publish_relations();
      if (!running) break;
      if (x->exit_handler && *x->exit_handler) {
        (*x->exit_handler)(exit_signal{s->other->id(), std::move(s->reason)});
      } else if (s->reason.is_failure()) {
        begin_stop({exit_reason::kind::linked, "linked " + describe_endpoint(*s->other) + " failed: " + s->reason.describe()});
      }
      break;
    }
    case w::child_terminated:
      remove_child(*s->other);
      if (state_.load(std::memory_order_relaxed) == cell_state::stopping &&
          extras_.load(std::memory_order_relaxed)->children == 0)
        finalize();
      break;
  }
}

void cell::add_child(cell& child) noexcept {
  auto& x = extras();
  child.next_sibling_ = x.first_child;
  if (x.first_child != nullptr) x.first_child->prev_sibling_ = &child;
  x.first_child = &child;
  ++x.children;
}

void cell::remove_child(cell& child) noexcept {
  auto& x = *extras_.load(std::memory_order_relaxed);  // relaxed: own turn; made by add_child
  if (child.prev_sibling_ != nullptr) child.prev_sibling_->next_sibling_ = child.next_sibling_;
  else x.first_child = child.next_sibling_;
  if (child.next_sibling_ != nullptr) child.next_sibling_->prev_sibling_ = child.prev_sibling_;
  child.prev_sibling_ = child.next_sibling_ = nullptr;
  --x.children;
}

// --- watch and link (own turn) ------------------------------------------------------------------

void cell::watch(cell& target, std::function<void(terminated&&)> deliver) {
  auto& ws = extras().watching;
  if (auto* r = ws.find(&target)) {
    r->deliver = std::move(deliver);  // watching twice replaces the delivery, one signal only
    return;
  }
  ws.push_back({counted<cell>::share(&target), std::move(deliver)});
  publish_relations();
  target.post_signal(make_signal(signal_envelope::what::watch, *this));
}

void cell::unwatch(cell& target) {
  auto* x = extras_.load(std::memory_order_relaxed);
  if (x == nullptr) return;
  auto& ws = x->watching;
  auto* r = ws.find(&target);
  if (r == nullptr) return;
  ws.erase(r);
  publish_relations();
  target.post_signal(make_signal(signal_envelope::what::unwatch, *this));
}

void cell::link(cell& other) {
  if (&other == this) return;
  auto& ls = extras().links;
  if (ls.find(&other) != nullptr) return;
  ls.push_back(counted<cell>::share(&other));
  publish_relations();
  other.post_signal(make_signal(signal_envelope::what::link, *this));
}

void cell::unlink(cell& other) {
  auto* x = extras_.load(std::memory_order_relaxed);
  if (x == nullptr) return;
  auto& ls = x->links;
  auto* l = ls.find(&other);
  if (l == nullptr) return;
  ls.erase(l);
  publish_relations();
  other.post_signal(make_signal(signal_envelope::what::unlink, *this));
}

void cell::publish_relations() noexcept {
  if (!counted_) return;  // an instrumented system counts every mailbox
  auto* x = extras_.load(std::memory_order_relaxed);  // own turn: we made it
  if (x == nullptr || x->probe == nullptr) return;
  try {
    auto r = std::make_unique<actor_probe::relations>();
    for (auto& l : x->links) r->links.push_back(l->serial());
    for (auto& w : x->watching) r->monitors.push_back(w.target->serial());
    for (auto& w : x->watchers) r->monitored_by.push_back(w->serial());
    std::lock_guard lock(x->probe->relations_mu);
    x->probe->related.swap(r);
    // the old copy is freed after the lock, by r's destructor
  } catch (const std::bad_alloc&) {
    // Introspection then shows the previous lists; the actor's own (in extras) are right.
  }
}

void cell::trap_exits(std::function<void(exit_signal&&)> deliver) {
  auto& h = extras().exit_handler;
  if (h) *h = std::move(deliver);  // in place, as before it was boxed
  else if (deliver) h = std::make_unique<std::function<void(exit_signal&&)>>(std::move(deliver));
}

void cell::exit_from_remote(actor_id from, const std::string& who, exit_reason reason) {
  if (state_.load(std::memory_order_relaxed) != cell_state::running || stop_pending_) return;
  auto* x = extras_.load(std::memory_order_relaxed);
  if (x != nullptr && x->exit_handler && *x->exit_handler) (*x->exit_handler)(exit_signal{from, std::move(reason)});
  else if (reason.is_failure()) stop_self({exit_reason::kind::linked, "linked " + who + " failed: " + reason.describe()});
}

// --- stopping ---------------------------------------------------------------------------------

void cell::begin_stop(exit_reason reason) {
  if (state_.load(std::memory_order_relaxed) != cell_state::running) return;
  state_.store(cell_state::stopping, std::memory_order_relaxed);  // relaxed: own turn only
  if (!is_plain_normal(reason)) extras().reason = std::move(reason);
  cancel_all_timers();
  auto* x = extras_.load(std::memory_order_relaxed);
  if (x != nullptr && x->children != 0) {
    const bool killed = x->reason.what == exit_reason::kind::killed;
    for (cell* c = x->first_child; c != nullptr; c = c->next_sibling_) {
      if (killed) c->request_kill("parent killed");
      else c->request_stop({exit_reason::kind::shutdown, {}});
    }
    return;  // finalize() once the last child_terminated arrives
  }
  finalize();
}

void cell::begin_normal_stop() noexcept {
  state_.store(cell_state::stopping, std::memory_order_relaxed);  // relaxed: own turn only
  finalize();
}

void cell::finalize() noexcept {  // noexcept: a failure here cannot be reported to anyone
  auto* x = extras_.load(std::memory_order_relaxed);
  // Not copied: only this turn writes the reason, and nothing below does (a behaviour's
  // destructor that asks to stop finds the actor stopping and changes nothing).
  static const exit_reason plain_normal;
  const exit_reason& reason = x != nullptr ? x->reason : plain_normal;
  // release: pairs with the acquire in is_terminated(); the reason is visible to whoever sees it.
  state_.store(cell_state::terminated, std::memory_order_release);
  destroy_behavior();
  // Whatever is still queued will never be handled: dead letters (and asks complete now).
  auto drop = [this](envelope* e) {
    while (e != nullptr) {
      auto* next = e->next;
      if (e->kind == envelope_kind::signal || e->kind == envelope_kind::notice)
        signal_to_dead(*this, static_cast<signal_envelope*>(e));
      else
        drop_user(e);
      e = next;
    }
  };
  if (x != nullptr) drop(std::exchange(x->kept, nullptr));
  drop(signal_head_);
  signal_head_ = nullptr;
  drop(inbox_.close(cursor_));
  drop(signals_.close());
  // Names go before anyone is told: a watcher (a supervisor) that restarts the actor under the
  // same name on `terminated` must find the name free, as Erlang's DOWN guarantees.
  // relaxed: the close above is the handshake with register_name (inbox::closed_handshake).
  if (registered_.load(std::memory_order_relaxed)) sys_->unregister_all(*this);
  try {
    if (x != nullptr) {
      for (auto& w : x->watchers) w->post_signal(make_signal(signal_envelope::what::down, *this, reason));
      for (auto& l : x->links) l->post_signal(make_signal(signal_envelope::what::exit, *this, reason));
      for (auto& w : x->watching) w.target->post_signal(make_signal(signal_envelope::what::unwatch, *this));
      x->watchers.clear();
      x->links.clear();
      x->watching.clear();
      x->exit_handler = nullptr;
    }
  } catch (...) {
    sys_->log(log_level::error, "troupe", "out of memory while notifying watchers of a stopped actor");
  }
  if (auto* p = counted_ ? probe() : nullptr) {
    // The live count leaves the table with the actor; its protocol's total keeps it.
    sys_->instruments()->count_finished(*p->stats, p->handled.load(std::memory_order_relaxed));
    sys_->instruments()->remove(*this);
  }
  if (auto* o = sys_->observer()) {
    try {
      o->stopped(make_observed(*this), reason);
    } catch (...) {
      // A tool's failure must not keep the stop from reaching the parent or the system.
    }
  }
  if (parent_ != nullptr) {
    // A parent waits for this signal before it finalizes: losing it would hang the parent, so
    // an allocation failure here is fatal rather than silent.
    parent_->post_signal(make_signal(signal_envelope::what::child_terminated, *this));
  } else {
    sys_->root_terminated(*this);
  }
  release_pending_ = true;
}

}  // namespace troupe::detail
