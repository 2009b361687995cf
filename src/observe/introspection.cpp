// introspection.cpp: snapshots of a running system's actors, trees, workers and dead letters.
// The actor table is the runtime's (detail::instruments); this file only reads it. A scan holds
// one segment's lock at a time and copies a few numbers per actor, so a million actors scan in
// tens of milliseconds and senders are never held up (they do not take these locks).
#include "troupe/observe/introspection.hpp"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <unordered_map>

#include "troupe/core/detail/cell.hpp"
#include "troupe/core/detail/instruments.hpp"
#include "troupe/core/system.hpp"

namespace troupe::observe {

const char* to_string(actor_state s) noexcept {
  switch (s) {
    case actor_state::running:
      return "running";
    case actor_state::waiting:
      return "waiting";
    case actor_state::stopping:
      return "stopping";
  }
  return "unknown";
}

namespace {

error off() {
  return error{errc::introspection_off, "introspection is off for this system: set system_config::introspection"};
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The figures that can be read cheaply under the segment lock; names and protocol names are
// filled in later, for the actors that make it into the answer.
struct row {
  const detail::cell* c;  // valid only under the segment lock
  std::uint64_t serial;
  std::uint64_t parent;  // 0: none
  actor_state state;
  std::size_t mailbox;
  std::uint64_t handled;
  std::uint64_t restarts;
  std::size_t memory;
  double rate;
};

row read_row(const detail::instruments::entry& e) {
  const auto& c = *e.c;
  auto* p = c.probe();
  row r{};
  r.c = &c;
  r.serial = c.serial();
  r.parent = e.parent;  // not through c.parent(): an entry's cell may be finalizing, and then its parent too
  r.mailbox = detail::instruments::mailbox_length(e);  // tallied or counted (docs/observe.md)
  // relaxed: each figure is a snapshot on its own (see actor_probe).
  r.handled = p->handled.load(std::memory_order_relaxed);
  r.restarts = p->restarts.load(std::memory_order_relaxed);
  if (c.stopping()) r.state = actor_state::stopping;
  else if (!c.idle() || r.mailbox != 0) r.state = actor_state::running;
  else r.state = actor_state::waiting;
  r.memory = c.footprint();
  return r;
}

actor_info info_of(const detail::cell& c, const row& r, bool with_name) {
  actor_info a;
  a.id = c.id();
  if (with_name) {
    a.name = c.name();
    a.protocol = c.probe()->stats->name;
  }
  if (r.parent != 0) a.parent = actor_id{0, r.parent};
  a.state = r.state;
  a.mailbox_length = r.mailbox;
  a.messages_handled = r.handled;
  a.messages_per_second = r.rate;
  a.restarts = r.restarts;
  a.memory_bytes = r.memory;
  a.blocking = c.blocking();
  return a;
}

// The copy of its links and monitors that the actor's turn keeps in its probe.
void read_relations(const detail::cell& c, actor_info& a) {
  auto* p = c.probe();
  if (p == nullptr) return;
  auto ids = [](const std::vector<std::uint64_t>& serials) {
    std::vector<actor_id> out;
    out.reserve(serials.size());
    for (auto s : serials) out.push_back(actor_id{0, s});
    std::sort(out.begin(), out.end());
    return out;
  };
  std::lock_guard lock(p->relations_mu);
  if (p->remote != nullptr) {
    using kind = detail::actor_probe::remote_relation::kind;
    for (auto& r : *p->remote) {  // ordered by kind, node, id (remote/refs.cpp)
      auto& to = r.what == kind::link ? a.remote_links : r.what == kind::monitor ? a.remote_monitors : a.remote_monitored_by;
      to.push_back({r.node, r.id});
    }
  }
  if (p->related == nullptr) return;
  a.links = ids(p->related->links);
  a.monitors = ids(p->related->monitors);
  a.monitored_by = ids(p->related->monitored_by);
}

// Every actor, in id order, with children filled in from the parents.
std::vector<actor_info> everything(detail::instruments& in) {
  std::vector<actor_info> all;
  all.reserve(in.size());
  in.for_each([&](const detail::instruments::entry& e) {
    all.push_back(info_of(*e.c, read_row(e), true));
    read_relations(*e.c, all.back());
  });
  std::sort(all.begin(), all.end(), [](const actor_info& a, const actor_info& b) { return a.id < b.id; });
  std::unordered_map<std::uint64_t, std::size_t> at;
  at.reserve(all.size());
  for (std::size_t i = 0; i < all.size(); ++i) at.emplace(all[i].id.serial, i);
  for (auto& a : all)
    if (a.parent)
      if (auto it = at.find(a.parent->serial); it != at.end()) all[it->second].children.push_back(a.id);
  return all;
}

tree_node build(const std::vector<actor_info>& all, const std::unordered_map<std::uint64_t, std::size_t>& at,
                std::size_t i) {
  tree_node n{all[i], {}};
  for (auto& child : all[i].children)
    if (auto it = at.find(child.serial); it != at.end()) n.children.push_back(build(all, at, it->second));
  return n;
}

}  // namespace

result<std::vector<actor_info>> list_actors(system& sys) {
  auto* in = troupe::detail::system_access::core(sys).instruments();
  if (in == nullptr) return off();
  return everything(*in);
}

result<actor_info> find_actor(system& sys, actor_id id) {
  auto* in = troupe::detail::system_access::core(sys).instruments();
  if (in == nullptr) return off();
  std::optional<actor_info> found;
  std::vector<actor_id> children;
  in->for_each([&](const detail::instruments::entry& e) {
    const auto& c = *e.c;
    if (e.serial == id.serial) {
      found = info_of(c, read_row(e), true);
      read_relations(c, *found);
    }
    else if (e.parent == id.serial) children.push_back(c.id());
  });
  if (!found || id.node != 0) return error{errc::no_such_actor, "no live actor #" + std::to_string(id.serial)};
  std::sort(children.begin(), children.end());
  found->children = std::move(children);
  return std::move(*found);
}

result<std::vector<actor_info>> top_actors(system& sys, sort_key key, std::size_t n) {
  auto* in = troupe::detail::system_access::core(sys).instruments();
  if (in == nullptr) return off();
  if (n == 0) return std::vector<actor_info>{};
  // Rates are measured between two queries, so those queries take turns.
  std::unique_lock<std::mutex> rate_lock;
  double seconds = 0;
  if (key == sort_key::message_rate) {
    rate_lock = std::unique_lock(in->rate_mu);
    auto now = now_ns();
    seconds = in->rate_mark_ns == 0 ? 0 : static_cast<double>(now - in->rate_mark_ns) / 1e9;
    in->rate_mark_ns = now;
  }
  // Pass 1 reads only the figure sorted by and keeps the best n (score, serial) in a heap whose
  // front is the lowest-ranked; most actors stop at one comparison with it. Ties rank the lower
  // id first. Pass 2 reads the chosen actors' other figures and names. An actor that stopped
  // between the passes is left out, so an answer may hold fewer than n.
  struct pick {
    double score;
    std::uint64_t serial;
  };
  auto ranks_before = [](const pick& a, const pick& b) { return a.score > b.score || (a.score == b.score && a.serial < b.serial); };
  std::vector<pick> heap;
  heap.reserve(n + 1);
  in->for_each([&](const detail::instruments::entry& e) {
    double s = 0;
    switch (key) {
      // relaxed, all: snapshots of numbers (see actor_probe).
      case sort_key::mailbox_length:
        s = static_cast<double>(detail::instruments::mailbox_length(e));
        break;
      case sort_key::memory:  // c.footprint(), without touching the cell
        s = static_cast<double>(e.fixed_bytes + detail::instruments::mailbox_length(e) * e.message_bytes);
        break;
      case sort_key::messages_handled:
        s = static_cast<double>(e.probe->handled.load(std::memory_order_relaxed));
        break;
      case sort_key::message_rate: {
        auto* p = e.probe;
        auto handled = p->handled.load(std::memory_order_relaxed);
        // relaxed: the marks are written under rate_mu, which we hold.
        auto mark = p->rate_mark.exchange(handled, std::memory_order_relaxed);
        s = seconds > 0 ? static_cast<double>(handled - mark) / seconds : 0;
        break;
      }
    }
    pick candidate{s, e.serial};
    if (heap.size() == n && !ranks_before(candidate, heap.front())) return;
    heap.push_back(candidate);
    std::push_heap(heap.begin(), heap.end(), ranks_before);
    if (heap.size() > n) {
      std::pop_heap(heap.begin(), heap.end(), ranks_before);
      heap.pop_back();
    }
  });
  std::sort_heap(heap.begin(), heap.end(), ranks_before);  // best first
  std::unordered_map<std::uint64_t, std::size_t> rank;
  for (std::size_t i = 0; i < heap.size(); ++i) rank.emplace(heap[i].serial, i);
  std::vector<std::optional<actor_info>> chosen(heap.size());
  in->for_each([&](const detail::instruments::entry& e) {
    auto it = rank.find(e.serial);
    if (it == rank.end()) return;
    auto r = read_row(e);
    if (key == sort_key::message_rate) r.rate = heap[it->second].score;
    chosen[it->second] = info_of(*e.c, r, true);
  });
  std::vector<actor_info> out;
  out.reserve(chosen.size());
  for (auto& a : chosen)
    if (a) out.push_back(std::move(*a));
  return out;
}

result<std::vector<tree_node>> supervision_trees(system& sys) {
  auto* in = troupe::detail::system_access::core(sys).instruments();
  if (in == nullptr) return off();
  auto all = everything(*in);
  std::unordered_map<std::uint64_t, std::size_t> at;
  at.reserve(all.size());
  for (std::size_t i = 0; i < all.size(); ++i) at.emplace(all[i].id.serial, i);
  std::vector<tree_node> roots;
  for (std::size_t i = 0; i < all.size(); ++i)
    // A root: top-level, or its parent left the table between the segments' reads.
    if (!all[i].parent || !at.contains(all[i].parent->serial)) roots.push_back(build(all, at, i));
  return roots;
}

result<tree_node> subtree(system& sys, actor_id root) {
  auto* in = troupe::detail::system_access::core(sys).instruments();
  if (in == nullptr) return off();
  auto all = everything(*in);
  std::unordered_map<std::uint64_t, std::size_t> at;
  at.reserve(all.size());
  for (std::size_t i = 0; i < all.size(); ++i) at.emplace(all[i].id.serial, i);
  auto it = at.find(root.serial);
  if (it == at.end() || root.node != 0) return error{errc::no_such_actor, "no live actor #" + std::to_string(root.serial)};
  return build(all, at, it->second);
}

result<std::size_t> actor_count(system& sys) {
  auto* in = troupe::detail::system_access::core(sys).instruments();
  if (in == nullptr) return off();
  return in->size();
}

std::vector<worker_info> workers(system& sys) {
  std::vector<worker_info> out;
  for (bool blocking : {false, true}) {
    unsigned i = 0;
    for (auto& w : troupe::detail::system_access::core(sys).worker_statistics(blocking))
      out.push_back({blocking ? "blocking" : "workers", i++, w.turns, w.steals, w.parked});
  }
  return out;
}

std::vector<dead_letter_count> dead_letters(system& sys) {
  std::vector<dead_letter_count> out;
  for (unsigned r = 0; r < dead_letter_reasons; ++r) {
    auto why = static_cast<dead_letter_reason>(r);
    out.push_back({troupe::to_string(why), troupe::detail::system_access::core(sys).dead_letter_count(why)});
  }
  out.push_back({"total", sys.dead_letter_count()});
  return out;
}

}  // namespace troupe::observe
