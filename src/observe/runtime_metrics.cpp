// runtime_metrics.cpp: the runtime's figures as metric families, read at export time.
// Nothing here runs between exports: the runtime keeps its counters anyway (dead letters,
// restarts, scheduler turns) or, with introspection and metrics on, in the actor table and the
// per-protocol histograms. An export scans the table once (tens of ms for a million actors).
#include "troupe/observe/runtime_metrics.hpp"

#include <algorithm>
#include <unordered_map>

#include "troupe/core/detail/cell.hpp"
#include "troupe/core/detail/instruments.hpp"
#include "troupe/core/system.hpp"
#include "troupe/observe/introspection.hpp"

namespace troupe::observe {

namespace {

metric_point seconds_histogram(labels l, const detail::time_histogram::snapshot& s) {
  metric_point p{std::move(l), 0, {}};
  const auto& b = detail::time_histogram::bounds_ns();
  p.histogram.bounds.reserve(b.size());
  for (auto ns : b) p.histogram.bounds.push_back(static_cast<double>(ns) / 1e9);
  p.histogram.counts.assign(s.counts.begin(), s.counts.end());
  for (auto c : s.counts) p.histogram.count += c;
  p.histogram.sum = static_cast<double>(s.sum_ns) / 1e9;
  return p;
}

void collect(system& sys, const std::string& prefix, std::vector<metric_family>& out) {
  // family() hands out references into `out` that later calls fill: room for every family this
  // adds (13), so that no push_back moves the ones already handed out.
  out.reserve(out.size() + 16);
  auto family = [&](const char* name, const char* help, metric_type t) -> metric_family& {
    out.push_back({prefix + name, help, t, {}});
    return out.back();
  };
  auto& core = troupe::detail::system_access::core(sys);

  auto& dl = family("dead_letters_total", "Messages that reached no actor, by reason.", metric_type::counter);
  for (auto& c : dead_letters(sys))
    if (c.reason != "total") dl.points.push_back({{{"reason", c.reason}}, static_cast<double>(c.count), {}});

  family("restarts_total", "Children restarted by supervisors.", metric_type::counter)
      .points.push_back({{}, static_cast<double>(core.restart_count()), {}});

  auto ws = workers(sys);
  auto& turns = family("scheduler_turns_total", "Actor turns run, per scheduler thread.", metric_type::counter);
  for (auto& w : ws)
    turns.points.push_back({{{"pool", w.pool}, {"worker", std::to_string(w.index)}}, static_cast<double>(w.turns), {}});
  auto& steals = family("scheduler_steals_total", "Actors taken from another thread's queue.", metric_type::counter);
  for (auto& w : ws)
    steals.points.push_back({{{"pool", w.pool}, {"worker", std::to_string(w.index)}}, static_cast<double>(w.steals), {}});
  auto& parked = family("scheduler_parked_seconds_total", "Time scheduler threads slept with nothing to run.",
                        metric_type::counter);
  for (auto& w : ws)
    parked.points.push_back({{{"pool", w.pool}, {"worker", std::to_string(w.index)}},
                             std::chrono::duration<double>(w.parked).count(), {}});

  auto* in = core.instruments();
  if (in == nullptr) return;  // the actor figures need introspection

  // One scan: per protocol, the live actors, their handled messages and queued ones.
  struct per_protocol {
    std::uint64_t actors = 0, handled = 0, queued = 0;
  };
  std::unordered_map<const detail::protocol_stats*, per_protocol> live;
  std::uint64_t actors = 0, queued = 0;
  in->for_each([&](const detail::instruments::entry& e) {
    const auto& c = *e.c;
    auto* p = c.probe();
    auto& s = live[p->stats];
    auto q = detail::instruments::mailbox_length(e);  // tallied or counted (docs/observe.md)
    ++s.actors;
    s.handled += p->handled.load(std::memory_order_relaxed);  // relaxed: a snapshot
    s.queued += q;
    ++actors;
    queued += q;
  });
  family("actors", "Live actors.", metric_type::gauge).points.push_back({{}, static_cast<double>(actors), {}});
  family("mailbox_messages", "Messages waiting in mailboxes.", metric_type::gauge)
      .points.push_back({{}, static_cast<double>(queued), {}});

  auto protocols = in->protocols();
  std::sort(protocols.begin(), protocols.end(), [](auto* a, auto* b) { return a->name < b->name; });
  auto& by_type = family("actors_by_protocol", "Live actors, per protocol.", metric_type::gauge);
  auto& spawned = family("actors_spawned_total", "Actors spawned, per protocol.", metric_type::counter);
  auto& handled = family("messages_handled_total", "Messages handled, per protocol.", metric_type::counter);
  auto& waiting = family("mailbox_messages_by_protocol", "Messages waiting, per protocol.", metric_type::gauge);
  for (auto* s : protocols) {
    auto it = live.find(s);
    per_protocol l = it != live.end() ? it->second : per_protocol{};
    labels lab{{"protocol", s->name}};
    by_type.points.push_back({lab, static_cast<double>(l.actors), {}});
    spawned.points.push_back({lab, static_cast<double>(in->spawned(*s)), {}});
    handled.points.push_back(
        {lab, static_cast<double>(l.handled + in->finished_handled(*s)), {}});
    waiting.points.push_back({lab, static_cast<double>(l.queued), {}});
  }
  if (!in->timings()) return;
  auto& mailbox = family("mailbox_time_seconds",
                         "Time from tell to take, per protocol (a sample: one message in metrics_sample_every).",
                         metric_type::histogram);
  auto& handling = family("handling_time_seconds", "Time to handle a message, per protocol (sampled as above).",
                          metric_type::histogram);
  for (auto* s : protocols) {
    mailbox.points.push_back(seconds_histogram({{"protocol", s->name}}, s->mailbox_time.read()));
    handling.points.push_back(seconds_histogram({{"protocol", s->name}}, s->handling_time.read()));
  }
}

}  // namespace

runtime_metrics::runtime_metrics(system& sys, metrics_registry& registry, std::string prefix) : registry_(&registry) {
  collector_ = registry.add_collector(
      [&sys, prefix = std::move(prefix)](std::vector<metric_family>& out) { collect(sys, prefix, out); });
}

runtime_metrics::~runtime_metrics() { registry_->remove_collector(collector_); }

}  // namespace troupe::observe
