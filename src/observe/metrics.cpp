// metrics.cpp: the registry, counters, gauges and histograms.
#include "troupe/observe/metrics.hpp"

#include <algorithm>
#include <cmath>

#include "troupe/core/result.hpp"
#include "troupe/observe/error.hpp"

namespace troupe::observe {

namespace {
bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

result<void> check_bounds(const std::vector<double>& b) {
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (!std::isfinite(b[i])) return error{errc::bad_metric, "histogram bounds must be finite (+Inf is implied)"};
    if (i != 0 && !(b[i - 1] < b[i])) return error{errc::bad_metric, "histogram bounds must be strictly increasing"};
  }
  return {};
}
}  // namespace

result<void> check_metric_name(std::string_view name) {
  if (name.empty()) return error{errc::bad_metric, "a metric name cannot be empty"};
  if (!(name_start(name[0]) || name[0] == ':') ||
      !std::all_of(name.begin(), name.end(), [](char c) { return name_char(c) || c == ':'; }))
    return error{errc::bad_metric, "'" + std::string(name) + "' is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"};
  return {};
}

result<void> check_label_name(std::string_view name) {
  if (name.empty() || !name_start(name[0]) || !std::all_of(name.begin(), name.end(), name_char))
    return error{errc::bad_metric, "'" + std::string(name) + "' is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)"};
  if (name.starts_with("__")) return error{errc::bad_metric, "label names starting with __ are reserved: '" + std::string(name) + "'"};
  return {};
}

void gauge::add(double d) noexcept {
  // relaxed: a statistic; the CAS loop only makes concurrent additions not lose each other.
  auto v = value_.load(std::memory_order_relaxed);
  while (!value_.compare_exchange_weak(v, v + d, std::memory_order_relaxed)) {
  }
}

histogram::histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {}

void histogram::observe(double v) noexcept {
  // Prometheus' buckets are upper bounds, inclusive: v == bound counts in that bucket.
  auto i = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic, read at export
  auto s = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(s, s + v, std::memory_order_relaxed)) {
  }
}

histogram_value histogram::value() const {
  histogram_value h;
  h.bounds = bounds_;
  h.counts.resize(bounds_.size() + 1);
  // Each bucket is read once; the count is their sum, so count and buckets always agree even
  // while observations go on (the sum may be a few observations ahead or behind).
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    h.counts[i] = counts_[i].load(std::memory_order_relaxed);
    h.count += h.counts[i];
  }
  h.sum = sum_.load(std::memory_order_relaxed);
  return h;
}

std::vector<double> duration_buckets() {
  std::vector<double> b;
  for (double decade = 1e-6; decade < 10.5; decade *= 10)
    for (double m : {1.0, 2.5, 5.0})
      if (decade * m <= 10.0 + 1e-9) b.push_back(decade * m);
  return b;
}

struct metrics_registry::family {
  std::string help;
  metric_type type;
  std::vector<double> bounds;  // histograms
  struct series {
    observe::labels labels;
    std::unique_ptr<observe::counter> c;
    std::unique_ptr<observe::gauge> g;
    std::unique_ptr<observe::histogram> h;
  };
  std::vector<series> all;  // in registration order
};

metrics_registry::metrics_registry() = default;
metrics_registry::~metrics_registry() = default;

namespace {
void check_or_throw(std::string_view name, const labels& l) {
  if (auto r = check_metric_name(name); !r) throw usage_error("troupe::observe: " + r.error().message());
  for (auto& [k, v] : l) {
    (void)v;
    if (auto r = check_label_name(k); !r) throw usage_error("troupe::observe: " + r.error().message());
  }
}
}  // namespace

observe::counter& metrics_registry::counter(std::string_view name, std::string_view help, const labels& l) {
  check_or_throw(name, l);
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end())
    it = families_.emplace(std::string(name), std::make_unique<family>(family{std::string(help), metric_type::counter, {}, {}})).first;
  auto& f = *it->second;
  if (f.type != metric_type::counter) throw usage_error("troupe::observe: '" + std::string(name) + "' is registered as another type");
  for (auto& s : f.all)
    if (s.labels == l) return *s.c;
  f.all.push_back({l, std::make_unique<observe::counter>(), nullptr, nullptr});
  return *f.all.back().c;
}

observe::gauge& metrics_registry::gauge(std::string_view name, std::string_view help, const labels& l) {
  check_or_throw(name, l);
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end())
    it = families_.emplace(std::string(name), std::make_unique<family>(family{std::string(help), metric_type::gauge, {}, {}})).first;
  auto& f = *it->second;
  if (f.type != metric_type::gauge) throw usage_error("troupe::observe: '" + std::string(name) + "' is registered as another type");
  for (auto& s : f.all)
    if (s.labels == l) return *s.g;
  f.all.push_back({l, nullptr, std::make_unique<observe::gauge>(), nullptr});
  return *f.all.back().g;
}

observe::histogram& metrics_registry::histogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                                                const labels& l) {
  check_or_throw(name, l);
  for (auto& [k, v] : l) {
    (void)v;
    if (k == "le") throw usage_error("troupe::observe: a histogram cannot have a label named 'le'");
  }
  if (auto r = check_bounds(bounds); !r) throw usage_error("troupe::observe: " + r.error().message());
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end())
    it = families_
             .emplace(std::string(name), std::make_unique<family>(family{std::string(help), metric_type::histogram, bounds, {}}))
             .first;
  auto& f = *it->second;
  if (f.type != metric_type::histogram) throw usage_error("troupe::observe: '" + std::string(name) + "' is registered as another type");
  for (auto& s : f.all)
    if (s.labels == l) return *s.h;
  f.all.push_back({l, nullptr, nullptr, std::make_unique<observe::histogram>(f.bounds)});
  return *f.all.back().h;
}

std::uint64_t metrics_registry::add_collector(collector c) {
  std::lock_guard lock(collect_mu_);
  auto id = next_collector_++;
  collectors_.emplace_back(id, std::move(c));
  return id;
}

void metrics_registry::remove_collector(std::uint64_t id) noexcept {
  std::lock_guard lock(collect_mu_);
  std::erase_if(collectors_, [id](const auto& c) { return c.first == id; });
}

std::vector<metric_family> metrics_registry::collect() const {
  std::vector<metric_family> out;
  {
    std::lock_guard lock(mu_);
    out.reserve(families_.size());
    for (auto& [name, f] : families_) {
      metric_family m{name, f->help, f->type, {}};
      m.points.reserve(f->all.size());
      for (auto& s : f->all) {
        metric_point p{s.labels, 0, {}};
        if (s.c) p.value = static_cast<double>(s.c->value());
        if (s.g) p.value = s.g->value();
        if (s.h) p.histogram = s.h->value();
        m.points.push_back(std::move(p));
      }
      out.push_back(std::move(m));
    }
  }
  std::lock_guard lock(collect_mu_);
  for (auto& [id, c] : collectors_) c(out);
  return out;
}

}  // namespace troupe::observe
