// connection_metrics.cpp: a map from name to a function that reads a listener's live count,
// guarded by a mutex; a registry collector turns it into one gauge family at each export.
#include "troupe/observe/connection_metrics.hpp"

#include <map>
#include <mutex>

namespace troupe::observe {

struct connection_metrics::state {
  mutable std::mutex mu;
  std::map<std::string, std::function<std::size_t()>, std::less<>> live;  // guarded by mu
};

connection_metrics::connection_metrics(metrics_registry& registry, std::string prefix)
    : state_(std::make_shared<state>()), registry_(&registry) {
  collector_ = registry.add_collector([st = state_, name = prefix + "connections"](std::vector<metric_family>& out) {
    metric_family f{name, "Connections open now, per listener.", metric_type::gauge, {}};
    std::lock_guard lock(st->mu);
    for (auto& [listener, read] : st->live)
      f.points.push_back({{{"listener", listener}}, static_cast<double>(read()), {}});
    out.push_back(std::move(f));
  });
}

connection_metrics::~connection_metrics() { registry_->remove_collector(collector_); }

void connection_metrics::add(std::string name, const io::listener& l) {
  add(std::move(name), [l] { return l.live_connections(); });
}

void connection_metrics::add(std::string name, const io::http_listener& l) {
  add(std::move(name), [l] { return l.live_connections(); });
}

void connection_metrics::add(std::string name, std::function<std::size_t()> live) {
  std::lock_guard lock(state_->mu);
  state_->live.insert_or_assign(std::move(name), std::move(live));
}

bool connection_metrics::remove(std::string_view name) {
  std::function<std::size_t()> gone;  // destroyed after the lock: it may hold a listener's last handle
  std::lock_guard lock(state_->mu);
  auto it = state_->live.find(name);
  if (it == state_->live.end()) return false;
  gone = std::move(it->second);
  state_->live.erase(it);
  return true;
}

std::vector<listener_count> connection_metrics::read() const {
  std::lock_guard lock(state_->mu);
  std::vector<listener_count> out;
  for (auto& [name, read] : state_->live) out.emplace_back(name, read());
  return out;
}

}  // namespace troupe::observe
