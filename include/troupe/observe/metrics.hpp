// metrics.hpp: counters, gauges and histograms, kept in a registry and read as metric families
// (Prometheus' data model), for metrics_export.hpp to write as Prometheus text or JSON.
// Any thread may update a metric: updates are relaxed atomic operations, no lock, no allocation.
// Registering takes the registry's mutex; a metric lives as long as its registry and never moves,
// so the reference that registration returns may be kept. Registering the same name and labels
// again returns the same metric. Collectors add families computed at export time (the runtime's
// own figures: runtime_metrics.hpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "troupe/core/result.hpp"
#include "troupe/observe/error.hpp"

namespace troupe::observe {

/// Label names and values of one time series, in the order given.
///
///     troupe::observe::labels l{{"route", "/chat"}, {"method", "GET"}};
using labels = std::vector<std::pair<std::string, std::string>>;

/// The kind of a metric family, as Prometheus' `# TYPE` line says it.
///
///     if (f.type == troupe::observe::metric_type::histogram) plot(f);
enum class metric_type { counter, gauge, histogram };

/// A histogram's state: per-bucket counts (not cumulative) for each upper bound, then the count
/// above the last bound (the +Inf bucket), so `counts.size() == bounds.size() + 1`.
///
///     auto h = latency.value();
///     double mean = h.count != 0 ? h.sum / static_cast<double>(h.count) : 0;
struct histogram_value {
  std::vector<double> bounds;  ///< increasing upper bounds, +Inf excluded
  std::vector<std::uint64_t> counts;
  double sum = 0;
  std::uint64_t count = 0;
};

/// One time series of a family: its labels and its value (`value` for counters and gauges,
/// `histogram` for histograms).
///
///     troupe::observe::metric_point p{{{"reason", "receiver_stopped"}}, 3.0, {}};
struct metric_point {
  observe::labels labels;
  double value = 0;
  histogram_value histogram;
};

/// Every time series under one metric name, with its help text and type.
///
///     troupe::observe::metric_family f{"jobs_waiting", "Jobs in the queue.", troupe::observe::metric_type::gauge, {}};
///     f.points.push_back({{}, 12.0, {}});
struct metric_family {
  std::string name;
  std::string help;
  metric_type type = metric_type::gauge;
  std::vector<metric_point> points;
};

/// A number that only goes up (requests served, bytes sent). Any thread.
///
///     auto& served = registry.counter("http_requests_total", "Requests served.", {{"code", "200"}});
///     served.inc();
class counter {
 public:
  void inc(std::uint64_t n = 1) noexcept {
    value_.fetch_add(n, std::memory_order_relaxed);  // relaxed: a statistic, read at export
  }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

/// A number that goes up and down (connections open, queue length). Any thread.
///
///     auto& open = registry.gauge("connections_open", "Connections open now.");
///     open.add(1);  // ... open.add(-1) when it closes
class gauge {
 public:
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }  // relaxed: a statistic
  void add(double d) noexcept;
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

/// Counts observations into buckets by upper bound (Prometheus' `le`), with their sum. Any
/// thread; observe() is a binary search and two relaxed atomic additions.
///
///     auto& t = registry.histogram("job_seconds", "Time per job.", {0.001, 0.01, 0.1, 1});
///     t.observe(0.004);
class histogram {
 public:
  /// `bounds` must be increasing and finite (the registry checks).
  explicit histogram(std::vector<double> bounds);
  void observe(double v) noexcept;
  histogram_value value() const;
  const std::vector<double>& bounds() const noexcept { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

/// Default histogram bounds for durations in seconds: 1 us to 10 s, three per decade.
///
///     auto& t = registry.histogram("step_seconds", "Time per step.", troupe::observe::duration_buckets());
std::vector<double> duration_buckets();

/// Names the metrics of a program and reads them all at once for an export.
///
///     troupe::observe::metrics_registry registry;
///     auto& jobs = registry.counter("jobs_total", "Jobs done.");
///     jobs.inc();
///     std::string text = troupe::observe::to_prometheus_text(registry.collect());
class metrics_registry {
 public:
  /// Called at each collect(), on the collecting thread; appends families.
  using collector = std::function<void(std::vector<metric_family>&)>;

  metrics_registry();
  ~metrics_registry();
  metrics_registry(const metrics_registry&) = delete;
  metrics_registry& operator=(const metrics_registry&) = delete;

  /// The counter `name` with `l`, made on first use.
  /// @throws usage_error if the name or a label name is not valid, or `name` is another type.
  observe::counter& counter(std::string_view name, std::string_view help, const labels& l = {});
  /// The gauge `name` with `l`, made on first use. @throws usage_error as counter().
  observe::gauge& gauge(std::string_view name, std::string_view help, const labels& l = {});
  /// The histogram `name` with `l`, made on first use with `bounds` (increasing, finite; the
  /// bounds of the first registration under the name win). @throws usage_error as counter(), or
  /// for bad bounds.
  observe::histogram& histogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                                const labels& l = {});

  /// Adds a collector; returns its id for remove_collector. Its families must not reuse the name
  /// of a metric registered here.
  std::uint64_t add_collector(collector c);
  /// Removes a collector; once this returns, it is not running and will not run again.
  void remove_collector(std::uint64_t id) noexcept;

  /// Every family: registered metrics (in name order), then the collectors' families.
  std::vector<metric_family> collect() const;

 private:
  struct family;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<family>, std::less<>> families_;  // guarded by mu_
  // A collector runs under collect_mu_, not mu_, so it may register metrics; remove_collector
  // takes it too, which is what makes "not running once this returns" true.
  mutable std::mutex collect_mu_;
  std::vector<std::pair<std::uint64_t, collector>> collectors_;  // guarded by collect_mu_
  std::uint64_t next_collector_ = 1;                            // guarded by collect_mu_
};

/// Ok if `name` is a valid Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), else
/// errc::bad_metric saying why.
///
///     if (auto r = troupe::observe::check_metric_name("9lives"); !r) std::cerr << r.error().message();
result<void> check_metric_name(std::string_view name);
/// Ok if `name` is a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with "__").
///
///     assert(!troupe::observe::check_label_name("__reserved"));
result<void> check_label_name(std::string_view name);

}  // namespace troupe::observe
