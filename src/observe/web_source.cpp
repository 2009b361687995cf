// The web view's source over the observe layer's public API (introspection.hpp, metrics.hpp,
// metrics_export.hpp, runtime_metrics.hpp). What each figure costs with many actors:
//  - totals: actor_count, the workers' statistics, dead letters by reason, the process's resident
//    memory (/proc/self/statm) and the registry's messages counter when it has one: O(workers);
//  - the table: top_actors(key, n), 100 ms or less with a million actors (observe-core's bound);
//  - the tree: supervision_trees walks every actor, so above `tree_actor_limit` actors the view
//    shows the top-level actors only, each with its number of descendants unknown ("more").
#include "web_source.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <mutex>
#include <unordered_map>

#include "troupe/core/system.hpp"
#include "troupe/observe/connection_metrics.hpp"
#include "troupe/observe/dead_letter_log.hpp"
#include "troupe/observe/introspection.hpp"
#include "troupe/observe/kill.hpp"
#include "troupe/observe/metrics.hpp"
#include "troupe/observe/metrics_export.hpp"
#include "troupe/observe/runtime_metrics.hpp"

namespace troupe::observe::web {
namespace {

// Above this many actors the tree is not walked at each refresh (see the top of this file).
constexpr std::size_t tree_actor_limit = 100'000;

std::size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  int got = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return got == 2 ? resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

observe::sort_key to_api(sort_key k) {
  switch (k) {
    case sort_key::mailbox: return observe::sort_key::mailbox_length;
    case sort_key::memory: return observe::sort_key::memory;
    case sort_key::rate: return observe::sort_key::message_rate;
  }
  return observe::sort_key::mailbox_length;
}

// An otp supervisor is known by its protocol (it answers which_children).
bool looks_like_supervisor(const actor_info& a) {
  return a.protocol.find("troupe::otp::which_children") != std::string::npos;
}

actor_row to_row(const actor_info& a) {
  actor_row r;
  r.id = a.id.serial;
  r.name = a.name;
  r.type = a.protocol;
  r.state = to_string(a.state);
  r.parent = a.parent ? a.parent->serial : 0;
  r.supervisor = looks_like_supervisor(a);
  r.mailbox = a.mailbox_length;
  r.messages = a.messages_handled;
  r.rate = a.messages_per_second;
  r.restarts = a.restarts;
  r.memory = a.memory_bytes;
  return r;
}

web::tree_node to_node(const observe::tree_node& n, std::size_t max_children) {
  web::tree_node out{n.actor.id.serial, n.actor.name, n.actor.protocol, looks_like_supervisor(n.actor),
                     n.actor.restarts, {}, 0};
  for (auto& c : n.children) {
    if (out.children.size() == max_children) {
      ++out.more;
      continue;
    }
    out.children.push_back(to_node(c, max_children));
  }
  return out;
}

class system_source final : public web_source {
 public:
  explicit system_source(system& sys) : sys_(sys), runtime_(sys, registry_), connections_(registry_), dead_log_(sys, 100) {}

  totals read_totals() override {
    totals t;
    if (auto n = actor_count(sys_)) {
      t.actors = *n;
      t.introspection = true;
    }
    for (auto& d : observe::dead_letters(sys_))
      if (d.reason == "total") t.dead_letters = d.count;
    t.memory = resident_bytes();
    bool counted = false;
    for (auto& f : registry_.collect()) {
      if (f.name == "troupe_messages_handled_total") {
        counted = true;
        for (auto& p : f.points) t.messages += static_cast<std::uint64_t>(p.value);
      } else if (f.name == "troupe_connections" || f.name == "troupe_io_connections") {
        for (auto& p : f.points) t.connections += static_cast<std::size_t>(p.value);
      } else if (f.name == "troupe_restarts_total") {
        for (auto& p : f.points) t.restarts += static_cast<std::uint64_t>(p.value);
      }
    }
    if (!counted && t.actors <= tree_actor_limit) {
      // No messages counter in the registry: add up the actors' own counts (O(actors)).
      if (auto all = list_actors(sys_))
        for (auto& a : *all) t.messages += a.messages_handled;
    }
    return t;
  }

  std::vector<actor_row> top(sort_key by, std::size_t n) override {
    std::vector<actor_row> rows;
    auto r = top_actors(sys_, to_api(by), n);
    if (!r) return rows;
    rows.reserve(r->size());
    for (auto& a : *r) rows.push_back(to_row(a));
    if (by != sort_key::rate) fill_rates(rows);  // sorted by rate, introspection measured it
    return rows;
  }

  std::vector<web::tree_node> trees(std::size_t max_children) override {
    std::vector<web::tree_node> out;
    auto n = actor_count(sys_);
    if (!n) return out;
    if (*n > tree_actor_limit) {
      // Too many to walk at each refresh: the top-level actors, their subtrees left out.
      if (auto tops = top_actors(sys_, observe::sort_key::memory, 10'000))
        for (auto& a : *tops)
          if (!a.parent) out.push_back({a.id.serial, a.name, a.protocol, looks_like_supervisor(a), a.restarts, {}, 1});
      return out;
    }
    if (auto t = supervision_trees(sys_))
      for (auto& root : *t) out.push_back(to_node(root, max_children));
    return out;
  }

  std::optional<actor_page> actor(std::uint64_t id) override {
    auto a = find_actor(sys_, actor_id{0, id});
    if (!a) return std::nullopt;
    actor_page p{to_row(*a), {}, {}, {}, {}, {}, {}, {}};
    {
      std::vector<actor_row> one{p.row};
      fill_rates(one);
      p.row.rate = one[0].rate;
    }
    auto serials = [](const std::vector<actor_id>& ids) {
      std::vector<std::uint64_t> out;
      for (auto& i : ids) out.push_back(i.serial);
      return out;
    };
    p.children = serials(a->children);
    p.links = serials(a->links);
    p.monitors = serials(a->monitors);
    p.monitored_by = serials(a->monitored_by);
    auto remote = [](const std::vector<remote_actor>& v) {
      std::vector<remote_ref_row> out;
      for (auto& r : v) out.push_back({r.node, r.id.serial});
      return out;
    };
    p.remote_links = remote(a->remote_links);
    p.remote_monitors = remote(a->remote_monitors);
    p.remote_monitored_by = remote(a->remote_monitored_by);
    return p;
  }

  std::vector<worker_row> workers() override {
    std::vector<worker_row> out;
    for (auto& w : observe::workers(sys_))
      if (w.pool == "workers")
        out.push_back({w.turns, w.steals, std::chrono::duration<double>(w.parked).count()});
    return out;
  }

  std::vector<dead_letter_row> dead_letters(std::size_t n) override {
    auto recent = dead_log_.recent();
    std::vector<dead_letter_row> out;
    for (auto it = recent.rbegin(); it != recent.rend() && out.size() < n; ++it)
      out.push_back({it->recipient.serial, it->recipient_name, it->message_type, troupe::to_string(it->reason),
                     std::chrono::duration<double>(it->at.time_since_epoch()).count()});
    return out;
  }

  std::vector<std::pair<std::string, std::uint64_t>> dead_letter_counts() override {
    std::vector<std::pair<std::string, std::uint64_t>> out;
    for (auto& d : observe::dead_letters(sys_)) out.emplace_back(d.reason, d.count);
    return out;
  }

  std::vector<listener_row> listeners() override {
    std::vector<listener_row> out;
    for (auto& [name, open] : connections_.read()) out.push_back({name, open});
    return out;
  }

  void count_connections(std::string name, std::function<std::size_t()> live) override {
    connections_.add(std::move(name), std::move(live));
  }

  void uncount_connections(const std::string& name) override { connections_.remove(name); }

  result<void> kill(std::uint64_t id) override { return observe::kill(sys_, actor_id{0, id}, "killed from the web view"); }

  std::string prometheus() override { return to_prometheus_text(registry_.collect()); }
  std::string metrics_json() override { return to_json(registry_.collect()); }

  result<std::string> set_log_level(const std::string& source, const std::string& level) override {
    if (source.empty() && level == "default") return error{std::make_error_code(std::errc::invalid_argument), "\"default\" needs a source"};
    auto set = troupe::set_log_level(sys_, source, level);
    if (!set) return set.error();
    return std::string(to_string(*set));
  }

  std::vector<std::pair<std::string, std::string>> source_log_levels() override {
    std::vector<std::pair<std::string, std::string>> out;
    for (auto& [src, lvl] : sys_.logger().source_levels()) out.emplace_back(src, std::string(to_string(lvl)));
    return out;
  }
  std::string log_level() override { return std::string(to_string(sys_.logger().level())); }

 private:
  // Introspection gives an actor's rate only to a query sorted by rate, so under the table's other
  // sorts, and on an actor's page, every rate would read 0. The source remembers the count and
  // time at which it sampled each actor it showed, and a row's rate is the change since then
  // over at least rate_window_ (the view asks for several tables in one refresh; a rate over a
  // millisecond would be noise), the last one computed in between (0 until then). Only shown
  // actors are remembered, so this costs as little as the table; entries not shown for a minute
  // are dropped.
  void fill_rates(std::vector<actor_row>& rows) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lk(seen_mu_);
    for (auto& r : rows) {
      auto [it, fresh] = seen_.try_emplace(r.id, seen_at{r.messages, now, now, 0});
      auto& s = it->second;
      s.shown = now;
      if (!fresh && now - s.sampled >= rate_window_ && r.messages >= s.messages) {
        s.rate = static_cast<double>(r.messages - s.messages) / std::chrono::duration<double>(now - s.sampled).count();
        s.messages = r.messages;
        s.sampled = now;
      }
      r.rate = s.rate;
    }
    if (seen_.size() > 4 * rows.size() + 1'000)
      std::erase_if(seen_, [&](const auto& e) { return now - e.second.shown > std::chrono::minutes(1); });
  }

  struct seen_at {
    std::uint64_t messages;  // at `sampled`
    std::chrono::steady_clock::time_point sampled;
    std::chrono::steady_clock::time_point shown;
    double rate;
  };
  static constexpr std::chrono::milliseconds rate_window_{250};
  std::mutex seen_mu_;  // the table and the pages are served from several threads
  std::unordered_map<std::uint64_t, seen_at> seen_;

  system& sys_;
  metrics_registry registry_;  // before what binds to it, which must go first
  runtime_metrics runtime_;
  connection_metrics connections_;
  dead_letter_log dead_log_;
};

}  // namespace

std::shared_ptr<web_source> make_source(system& sys) { return std::make_shared<system_source>(sys); }

}  // namespace troupe::observe::web
