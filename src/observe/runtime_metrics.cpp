// runtime_metrics.cpp: the runtime's figures as metric families, read at export time.
#include "troupe/observe/runtime_metrics.hpp"

#include "troupe/core/system.hpp"
#include "troupe/observe/introspection.hpp"

namespace troupe::observe {

runtime_metrics::runtime_metrics(system& sys, metrics_registry& registry, std::string prefix) : registry_(&registry) {
  collector_ = registry.add_collector([&sys, prefix](std::vector<metric_family>& out) {
    metric_family d{prefix + "dead_letters_total", "Messages that reached no actor, by reason.", metric_type::counter, {}};
    for (auto& c : dead_letters(sys))
      if (c.reason != "total") d.points.push_back({{{"reason", c.reason}}, static_cast<double>(c.count), {}});
    out.push_back(std::move(d));
  });
}

runtime_metrics::~runtime_metrics() { registry_->remove_collector(collector_); }

}  // namespace troupe::observe
