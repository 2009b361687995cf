// runtime_metrics.hpp: the runtime's own figures as metric families in a registry: actors,
// mailboxes, messages handled, time in mailbox and handling time per protocol, restarts, dead
// letters by reason, scheduler turns, steals and parked time.
// Read at export time from counters the runtime keeps anyway, so binding costs nothing between
// exports. The timing histograms need `system_config::metrics` (sampled: one message in
// `system_config::metrics_sample_every` is timed); the per-actor figures need
// `system_config::introspection`; without them those families are left out. The object must
// not outlive the system or the registry; its destructor unbinds (no export runs it after).
#pragma once

#include <cstdint>
#include <string>

#include "troupe/observe/metrics.hpp"

namespace troupe {
class system;
}

namespace troupe::observe {

/// Binds a system's figures to a registry, under names starting with `prefix` ("troupe_").
///
///     troupe::system_config cfg;
///     cfg.introspection = true;
///     cfg.metrics = true;
///     troupe::system sys{cfg};
///     troupe::observe::metrics_registry registry;
///     troupe::observe::runtime_metrics bound{sys, registry};
///     std::string text = troupe::observe::to_prometheus_text(registry.collect());
class runtime_metrics {
 public:
  runtime_metrics(system& sys, metrics_registry& registry, std::string prefix = "troupe_");
  ~runtime_metrics();
  runtime_metrics(const runtime_metrics&) = delete;
  runtime_metrics& operator=(const runtime_metrics&) = delete;

 private:
  metrics_registry* registry_;
  std::uint64_t collector_;
};

}  // namespace troupe::observe
