// system_core.cpp: start-up and shutdown of a system, its top-level actors and its watchdog.
#include "troupe/core/detail/system_core.hpp"

#include <functional>
#include <thread>

#include "cell_extras.hpp"
#include "demangle.hpp"
#include "troupe/core/actor_observer.hpp"
#include "scheduler/work_stealing.hpp"
#include "timer_thread.hpp"
#include "troupe/core/detail/cell.hpp"

namespace troupe {

const char* to_string(dead_letter_reason r) noexcept {
  switch (r) {
    case dead_letter_reason::receiver_stopped:
      return "receiver_stopped";
    case dead_letter_reason::mailbox_full:
      return "mailbox_full";
    case dead_letter_reason::no_route:
      return "no_route";
    case dead_letter_reason::undecodable:
      return "undecodable";
    case dead_letter_reason::deadline_passed:
      return "deadline_passed";
  }
  return "unknown";
}

}  // namespace troupe

namespace troupe::detail {

namespace {

// The short form of a sink (system_config::logger): a function of the level and the text.
class function_sink final : public log_sink {
 public:
  explicit function_sink(std::function<void(log_level, std::string_view)> f) : f_(std::move(f)) {}
  void write(const log_record& r) noexcept override {
    try {
      f_(r.level, format_log_text(r));
    } catch (...) {
      // A logger that throws (or no memory for the line) must not take the runtime down with it.
    }
  }

 private:
  std::function<void(log_level, std::string_view)> f_;
};

// What a retired system logs to: nothing. Its level is off, so this is never called.
class null_sink final : public log_sink {
 public:
  void write(const log_record&) noexcept override {}
};

std::shared_ptr<log_sink> sink_from(const system_config& cfg) {
  if (cfg.log.sink) return cfg.log.sink;
  if (cfg.logger) return std::make_shared<function_sink>(cfg.logger);
  return make_stderr_sink();
}

std::uint64_t next_instance() noexcept {
  static std::atomic<std::uint64_t> instances{0};
  return instances.fetch_add(1, std::memory_order_relaxed) + 1;  // relaxed: only uniqueness
}

}  // namespace

system_core::system_core(system_config cfg)
    : cfg_(std::move(cfg)), logger_(std::make_unique<troupe::logger>(sink_from(cfg_), cfg_.log.level)),
      observer_(cfg_.observer.get()), instance_(next_instance()), roots_(std::make_unique<root_shard[]>(root_shards)) {
  if (cfg_.messages_per_turn == 0) cfg_.messages_per_turn = 1;
  if (cfg_.metrics) cfg_.introspection = true;
  if (cfg_.introspection) instruments_ = std::make_unique<detail::instruments>(cfg_.metrics, cfg_.metrics_sample_every);
  timers_ = cfg_.timers ? cfg_.timers : std::make_shared<timer_thread>();
  if (cfg_.scheduler) {
    workers_ = blocking_ = cfg_.scheduler;
    blocking_started_.store(true, std::memory_order_relaxed);  // relaxed: before any spawn
    workers_->start();
  } else {
    workers_ = std::make_shared<work_stealing_scheduler>(cfg_.worker_threads, cfg_.messages_per_turn, "troupe-w");
    // The blocking pool's threads start with the first blocking actor (see launch): most
    // systems never spawn one, and four idle threads per system add up in tests and tools.
    blocking_ = std::make_shared<work_stealing_scheduler>(std::max(1u, cfg_.blocking_threads),
                                                          cfg_.messages_per_turn, "troupe-b");
    workers_->start();
  }
  if (cfg_.long_turn_threshold.count() > 0) watchdog_tick(true);
}

system_core::~system_core() { shutdown(); }

void system_core::watchdog_tick(bool fired) {
  if (!fired || stopping()) return;
  auto threshold = std::chrono::duration_cast<std::chrono::nanoseconds>(cfg_.long_turn_threshold);
  auto report = [this](std::uint64_t serial, std::chrono::nanoseconds held) {
    if (!logger_->enabled(log_level::warning)) return;
    std::string who = "#" + std::to_string(serial);
    {
      std::lock_guard lock(registry_mu_);
      for (auto& [name, reg] : names_)
        if (reg.who->serial() == serial) who = "'" + name + "' (" + who + ")";
    }
    log(log_level::warning, "actor " + who,
        "has held a worker thread for " +
            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(held).count()) +
            " ms in one turn; move blocking work to spawn_options::blocking",
        {{"held", held}});
  };
  workers_->check_long_turns(threshold, report);
  timers_->schedule_at(timers_->now() + threshold / 2, [this](bool f) { watchdog_tick(f); });
}

// system_core::schedule is in cell.cpp, beside the thread's scheduler hooks.

void system_core::launch(cell& c, cell* parent, const std::type_info& protocol) {
  if (instruments_ != nullptr) {
    // Before anything else can fail or the actor can run: a failed launch takes it out again
    // (below), and from start() on it finalizes out of the table.
    auto& stats = instruments_->stats_for(protocol);
    auto* x = c.extras_.load(std::memory_order_relaxed);  // relaxed: made by the constructor, not yet shared
    x->probe->stats = &stats;
    instruments_->add(c, c.tallied() ? nullptr : &x->queued);
  }
  try {
    launch_registered(c, parent, protocol);
  } catch (...) {
    if (instruments_ != nullptr) instruments_->remove_unlaunched(c);
    throw;
  }
  if (instruments_ != nullptr) {
    // The stats launch looked up above. relaxed: made before the actor was shared; a statistic.
    instruments_->count_spawned(*c.extras_.load(std::memory_order_relaxed)->probe->stats);
  }
}

inline system_core::root_shard& system_core::shard_of(const cell& c) noexcept { return roots_[c.serial() % root_shards]; }

bool system_core::no_roots() noexcept {
  for (std::size_t i = 0; i < root_shards; ++i) {
    std::lock_guard lock(roots_[i].mu);
    if (roots_[i].count != 0) return false;
  }
  return true;
}

void system_core::launch_registered(cell& c, cell* parent, const std::type_info& protocol) {
  // acquire: pairs with the release below, so the pool is seen started.
  if (c.blocking() && !blocking_started_.load(std::memory_order_acquire)) {
    std::lock_guard lock(roots_mu_);
    // Under roots_mu_, with stopping_ checked: so shutdown's stop() of the pool comes after
    // this start, never before it. Once per system; other spawns wait here that once.
    if (stopping_.load(std::memory_order_relaxed))
      throw usage_error("troupe: spawn on an actor system that is shutting down or has stopped");
    if (!blocking_started_.load(std::memory_order_relaxed)) {
      blocking_->start();
      blocking_started_.store(true, std::memory_order_release);
    }
  }
  auto register_if_named = [&] {
    // relaxed: the extras (and the name in them) were made by c's constructor on this thread.
    if (auto* x = c.extras_.load(std::memory_order_relaxed); x == nullptr || x->name.empty()) return;
    auto r = register_name(c.name(), c, protocol);
    if (!r) throw usage_error("troupe: spawn under a taken name: " + r.error().message());
  };
  if (parent == nullptr) {
    // Under the shard's lock, which shutdown takes after it sets stopping_: either this actor is
    // in the list it stops, or this spawn sees stopping_ and throws.
    auto& shard = shard_of(c);
    std::lock_guard lock(shard.mu);
    if (stopping_.load(std::memory_order_relaxed))
      throw usage_error("troupe: spawn on an actor system that is shutting down or has stopped");
    register_if_named();
    c.next_sibling_ = shard.first;
    if (shard.first != nullptr) shard.first->prev_sibling_ = &c;
    shard.first = &c;
    ++shard.count;
    if (observer_ == nullptr && !cfg_.scheduler) {
      // Started under the shard's lock: shutdown must take it to find the shard empty, so it
      // cannot end (nor retire() free the scheduler) before this thread is out of the scheduler,
      // and the schedule needs no count in outside_schedules_ (two read-modify-writes per spawn
      // from main). Not with an observer, which hears of the spawn before the actor runs, nor
      // with a scheduler of the user's, which might run the turn here and end it under the lock.
      if (c.inbox_.try_unblock()) (c.blocking() ? blocking_ : workers_)->schedule(c, scheduler::schedule_hint::spawned);
      return;
    }
  } else {
    // A child needs no lock: its parent, running this turn, is stopped by shutdown at the
    // latest after this turn, and stops its children, this one included. acquire: pairs with
    // shutdown's release, so a spawn that sees it finds the system stopping.
    if (stopping_.load(std::memory_order_acquire))
      throw usage_error("troupe: spawn on an actor system that is shutting down or has stopped");
    register_if_named();
    parent->add_child(c);
  }
  if (observer_ != nullptr) {
    try {
      if (parent != nullptr) {
        auto p = make_observed(*parent);
        observer_->spawned(&p, make_observed(c));
      } else {
        observer_->spawned(nullptr, make_observed(c));
      }
    } catch (...) {
      // The spawn fails and the caller frees the cell: take it out of every list first, or
      // shutdown (a root) or its parent's stop (a child) would reach a freed actor.
      if (!c.name().empty()) unregister_name(c.name(), &c);
      if (parent == nullptr) {
        root_terminated(c);
      } else {
        // On the parent's own turn (a child is spawned by its handler): its list is ours here.
        parent->remove_child(c);
      }
      throw;
    }
  }
  c.start();
}

void system_core::root_terminated(cell& c) noexcept {
  bool stopping = false;
  {
    auto& shard = shard_of(c);
    std::lock_guard lock(shard.mu);
    if (c.prev_sibling_ != nullptr) c.prev_sibling_->next_sibling_ = c.next_sibling_;
    else shard.first = c.next_sibling_;
    if (c.next_sibling_ != nullptr) c.next_sibling_->prev_sibling_ = c.prev_sibling_;
    c.prev_sibling_ = c.next_sibling_ = nullptr;
    --shard.count;
    // Under the shard's lock: shutdown sets stopping_ before it takes each shard's lock, so an
    // end that it may wait for sees it set (relaxed: the lock orders it).
    stopping = stopping_.load(std::memory_order_relaxed);
  }
  if (stopping) {
    // Under roots_mu_, which shutdown holds while it checks the shards: the wake-up is not lost.
    std::lock_guard lock(roots_mu_);
    roots_cv_.notify_all();
  }
}

void system_core::shutdown() {
  if (workers_ == nullptr) return;  // retired: shut down long ago
  if (workers_->owns_current_thread() || blocking_->owns_current_thread())
    throw usage_error("troupe: system shutdown from inside an actor would wait for itself; "
                      "stop the actor instead, or shut down from another thread");
  std::lock_guard whole(shutdown_mu_);
  std::vector<counted<cell>> roots;
  {
    std::unique_lock lock(roots_mu_);
    if (shut_down_) return;
    stopping_.store(true, std::memory_order_release);
  }
  for (std::size_t i = 0; i < root_shards; ++i) {
    std::lock_guard lock(roots_[i].mu);
    for (cell* c = roots_[i].first; c != nullptr; c = c->next_sibling_) roots.push_back(counted<cell>::share(c));
  }
  for (auto& c : roots) c->request_stop({exit_reason::kind::shutdown, {}});
  roots.clear();
  // A scheduler with no threads (the test kit's) runs the stopping actors here.
  workers_->run_while_waiting();
  if (blocking_ != workers_) blocking_->run_while_waiting();
  {
    std::unique_lock lock(roots_mu_);
    roots_cv_.wait(lock, [this] { return no_roots(); });
    shut_down_ = true;
  }
  timers_->shutdown();
  workers_->stop();
  if (blocking_ != workers_) blocking_->stop();
  std::lock_guard lock(dead_letter_mu_);
  dead_letter_subscribers_.clear();
}

void system_core::retire(std::unique_ptr<system_core> core) {
  if (core == nullptr) return;
  core->shutdown();
  // A thread outside the system may still be returning from the schedule() that woke one of its
  // last actors (seen under TSan: a journal's thread inside notify_one while ~system freed the
  // scheduler). It has nothing left to do there but return.
  while (core->outside_schedules_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
  // Nothing runs any more: no actor, timer or worker. Keep the object, drop what it owns.
  core->workers_.reset();
  core->blocking_.reset();
  core->roots_.reset();  // no top-level actor is left to end
  // Every actor has finalized: the table's references to their cells go (the husk stays).
  if (core->instruments_ != nullptr) core->instruments_->sweep_all();
  core->cfg_.scheduler.reset();
  core->observer_ = nullptr;
  core->cfg_.observer.reset();
  core->cfg_.logger = nullptr;  // it may capture state the user has destroyed with the system
  core->cfg_.log.sink.reset();
  core->logger_ = std::make_unique<troupe::logger>(std::make_shared<null_sink>(), log_level::off);
  {
    std::lock_guard lock(core->registry_mu_);
    core->names_ = {};
  }
  core->has_dead_letter_subscribers_.store(false, std::memory_order_release);
  static std::mutex husks_mu;
  // Never destroyed (reachable, so no leak report): the husks live as long as the process.
  static auto* husks = new std::vector<std::unique_ptr<system_core>>;
  std::lock_guard lock(husks_mu);
  husks->push_back(std::move(core));
}

// --- registry ---------------------------------------------------------------------------------

result<void> system_core::register_name(std::string name, cell& c, const std::type_info& protocol) {
  if (name.empty()) return error{errc::name_not_found, "an empty name cannot be registered"};
  std::lock_guard lock(registry_mu_);
  if (auto it = names_.find(name); it != names_.end() && !it->second.who->is_terminated())
    return error{errc::name_taken, "'" + name + "' is held by actor #" + std::to_string(it->second.who->serial())};
  // Mark first, then look: finalize() closes the inbox first, then looks at the mark. The
  // inbox's head orders the two, so either finalize sees the mark (and unregisters, after this
  // lock) or this sees the close. Checking the state before marking, as this once did, let
  // both miss, and the registry kept a freed actor (the store-buffer pattern).
  c.registered_.store(true, std::memory_order_relaxed);  // relaxed: published by the handshake
  if (c.inbox_.closed_handshake())
    return error{errc::receiver_dead, "actor #" + std::to_string(c.serial()) + " has stopped"};
  names_.insert_or_assign(std::move(name), registration{&c, std::type_index(protocol)});
  return {};
}

void system_core::unregister_name(std::string_view name, const cell* c) noexcept {
  std::lock_guard lock(registry_mu_);
  auto it = names_.find(std::string(name));
  if (it != names_.end() && (c == nullptr || it->second.who == c)) names_.erase(it);
}

void system_core::unregister_all(const cell& c) noexcept {
  std::lock_guard lock(registry_mu_);
  std::erase_if(names_, [&](const auto& kv) { return kv.second.who == &c; });
}

result<counted<cell>> system_core::lookup(std::string_view name, const std::type_info& protocol) const {
  std::lock_guard lock(registry_mu_);
  auto it = names_.find(std::string(name));
  if (it == names_.end() || it->second.who->is_terminated())
    return error{errc::name_not_found, "no live actor is registered as '" + std::string(name) + "'"};
  if (it->second.protocol != std::type_index(protocol))
    return error{errc::wrong_protocol, "'" + std::string(name) + "' speaks " + demangle(it->second.protocol.name()) +
                                           ", not " + demangle(protocol.name())};
  return counted<cell>::share(it->second.who);
}

// --- dead letters -----------------------------------------------------------------------------

void system_core::dead_letter(const cell& recipient, const std::type_info& message_type,
                              dead_letter_reason why) noexcept {
  // A dead letter about a dead letter (a subscriber that stopped) is counted, never re-published.
  if (message_type == typeid(troupe::dead_letter)) return count_dead_letter(why);
  if (!has_dead_letter_subscribers_.load(std::memory_order_acquire)) return count_dead_letter(why);
  try {
    report_dead_letter(troupe::dead_letter{recipient.id(), recipient.name(), demangle(message_type.name()), why, {}});
  } catch (...) {
    count_dead_letter(why);  // out of memory for the record: the count still records it
  }
}

void system_core::count_dead_letter(dead_letter_reason why) noexcept {
  dead_letters_.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
  dead_letters_by_reason_[static_cast<unsigned>(why)].fetch_add(1, std::memory_order_relaxed);  // relaxed: as above
}

void system_core::report_dead_letter(troupe::dead_letter d) noexcept {
  count_dead_letter(d.reason);
  // acquire: pairs with the release that publishes the first subscriber.
  if (!has_dead_letter_subscribers_.load(std::memory_order_acquire)) return;
  try {
    std::lock_guard lock(dead_letter_mu_);
    std::erase_if(dead_letter_subscribers_, [](const counted<endpoint>& s) {
      auto* c = s->as_cell();
      return c != nullptr && c->is_terminated();
    });
    for (auto& s : dead_letter_subscribers_) s->enqueue(make_user_envelope<troupe::dead_letter>(d));
  } catch (...) {
    // Out of memory: the count above still records the dead letter.
  }
}

void system_core::subscribe_dead_letters(counted<endpoint> subscriber) {
  std::lock_guard lock(dead_letter_mu_);
  dead_letter_subscribers_.push_back(std::move(subscriber));
  has_dead_letter_subscribers_.store(true, std::memory_order_release);
}

std::vector<scheduler::worker_stats> system_core::worker_statistics(bool blocking_pool) const {
  if (workers_ == nullptr) return {};  // retired
  if (!blocking_pool) return workers_->worker_statistics();
  {
    std::lock_guard lock(roots_mu_);
    if (!blocking_started_.load(std::memory_order_relaxed) || blocking_ == workers_) return {};
  }
  return blocking_->worker_statistics();
}

// --- helpers declared in public detail headers ---------------------------------------------------

bool endpoint_terminated(endpoint& e) noexcept {
  auto* c = e.as_cell();
  return c != nullptr && c->is_terminated();
}

std::string system_core::path_of(const cell& c) {
  std::vector<const cell*> chain;
  for (const cell* p = &c; p != nullptr; p = p->parent_) chain.push_back(p);
  std::string out;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    out += '/';
    if ((*it)->name().empty()) out += '#' + std::to_string((*it)->serial());
    else out += (*it)->name();
  }
  return out;
}

std::string describe_endpoint(endpoint& e) {
  auto* c = e.as_cell();
  if (c == nullptr) {
    auto remote = e.proxy_description();
    return remote.empty() ? std::string("a reply slot") : remote;
  }
  return c->name().empty() ? "actor #" + std::to_string(c->serial()) : "actor '" + c->name() + "'";
}

system_core& home_of(endpoint& e) {
  auto* c = e.as_cell();
  if (c == nullptr) {
    if (auto* home = e.proxy_home()) return *home;
    throw usage_error("troupe: ask through a ref that points at a reply slot");
  }
  return c->sys();
}

}  // namespace troupe::detail
