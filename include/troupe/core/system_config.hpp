// system_config.hpp: the settings an actor system is built with.
// Every field has a default that suits a server; tests shrink the thread counts. The config is
// copied into the system at construction and never changes afterwards.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string_view>

#include "troupe/core/log.hpp"

namespace troupe {

class actor_observer;
class scheduler;
class timer_service;

/// Where a system's log records go and which are kept (log.hpp; docs/observe.md, "Logs").
///
///     cfg.log = {.level = troupe::log_level::debug, .sink = std::make_shared<my_json_sink>()};
struct log_options {
  /// Records below this level are dropped at no cost; system::logger().set_level changes it later.
  log_level level = log_level::info;
  /// Receives every record kept; null means standard error (make_stderr_sink).
  std::shared_ptr<log_sink> sink{};
};

/// Settings for a `troupe::system`.
///
///     troupe::system_config cfg;
///     cfg.worker_threads = 2;
///     cfg.long_turn_threshold = 50ms;       // report handlers that block a worker
///     troupe::system sys{cfg};
struct system_config {
  /// Threads that run actors; 0 means one per core.
  unsigned worker_threads = 0;
  /// Threads for actors spawned with `spawn_options::blocking` (blocking I/O, long computations),
  /// so that they never hold up the workers that run everyone else.
  unsigned blocking_threads = 4;
  /// The most messages an actor handles in one turn before others get the worker.
  unsigned messages_per_turn = 64;
  /// A handler that holds a worker longer than this is reported through `logger`; 0 disables.
  std::chrono::nanoseconds long_turn_threshold = std::chrono::milliseconds{500};
  /// The logger's level and sink, for the runtime's records and the actors' (ctx.log).
  log_options log{};
  /// A shorter way to give a sink: a function of the level and the record's text
  /// (format_log_text: "source: message key=value", no time). Used when `log.sink` is null.
  std::function<void(log_level, std::string_view)> logger;
  /// Replaces the work-stealing scheduler (the test kit's deterministic one, for instance).
  std::shared_ptr<troupe::scheduler> scheduler;
  /// Replaces the real-time timer thread (the test kit's virtual clock, for instance).
  std::shared_ptr<troupe::timer_service> timers;
  /// Sees spawns, timers, behaviour changes and stops of every actor (the test kit's behaviour
  /// test kit); null, the default, costs nothing on those paths and is never consulted on tell.
  std::shared_ptr<troupe::actor_observer> observer;
  /// Keeps a table of live actors with their figures (mailbox length, messages handled,
  /// memory), for the observe layer's introspection. Off by default: then spawn and tell pay
  /// nothing for it. On, a tell pays nothing more either (the mailbox's push count rides in the
  /// push itself), each turn adds its count of messages taken, and spawn takes a short lock;
  /// docs/observe.md has the costs.
  bool introspection = false;
  /// Times a sample of messages (time in mailbox, handling time per protocol) for the observe
  /// layer's runtime metrics. Implies `introspection`. Off by default.
  bool metrics = false;
  /// With `metrics`, one message in this many of each actor's is timed (at least 1: every
  /// message; rounded up to a power of two, at most 65,536; per sending thread for a counted or
  /// bounded mailbox).
  /// Each timed message costs about 250 instructions (three clock reads, two histogram
  /// records), so the default keeps timings near 1 instruction per message.
  unsigned metrics_sample_every = 256;
};

}  // namespace troupe
