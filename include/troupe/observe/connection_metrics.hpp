// connection_metrics.hpp: open connections per listener, as one gauge family in a registry,
// `<prefix>connections{listener="<name>"}`, read from the listeners at export time (each io
// listener keeps its live count anyway, so counting costs nothing between exports).
// Any thread may add, remove or read. A listener stays counted until it is removed or this object
// is destroyed; a stopped listener counts 0. The object must not outlive the registry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "troupe/io/http_listener.hpp"
#include "troupe/io/listener.hpp"
#include "troupe/observe/metrics.hpp"

namespace troupe::observe {

/// A listener's name and its connections open now.
///
///     for (auto& [name, open] : conns.read()) std::cout << name << ' ' << open << '\n';
using listener_count = std::pair<std::string, std::size_t>;

/// Binds listeners' live connection counts to a registry.
///
///     troupe::observe::metrics_registry registry;
///     troupe::observe::connection_metrics conns{registry};
///     conns.add("chat", *chat_listener);       // an io::listener or io::http_listener
///     // /metrics: troupe_connections{listener="chat"} 12
class connection_metrics {
 public:
  explicit connection_metrics(metrics_registry& registry, std::string prefix = "troupe_");
  ~connection_metrics();
  connection_metrics(const connection_metrics&) = delete;
  connection_metrics& operator=(const connection_metrics&) = delete;

  /// Counts `l` under `name` (replacing a listener counted under that name). The handle is
  /// copied: the listener's count stays readable after the caller's handle goes.
  void add(std::string name, const io::listener& l);
  void add(std::string name, const io::http_listener& l);
  /// Any other source of a live count (a pool of client connections, say).
  void add(std::string name, std::function<std::size_t()> live);
  /// Stops counting `name`; false if it was not counted.
  bool remove(std::string_view name);
  /// Every counted listener and its open connections, by name.
  std::vector<listener_count> read() const;

  struct state;

 private:
  std::shared_ptr<state> state_;
  metrics_registry* registry_;
  std::uint64_t collector_;
};

}  // namespace troupe::observe
