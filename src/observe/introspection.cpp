// introspection.cpp: snapshots of a running system's actors, trees, workers and dead letters.
#include "troupe/observe/introspection.hpp"

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
error off() { return error{errc::introspection_off, "introspection is off for this system: set system_config::introspection"}; }
}  // namespace

result<std::vector<actor_info>> list_actors(system&) { return off(); }
result<actor_info> find_actor(system&, actor_id) { return off(); }
result<std::vector<actor_info>> top_actors(system&, sort_key, std::size_t) { return off(); }
result<std::vector<tree_node>> supervision_trees(system&) { return off(); }
result<tree_node> subtree(system&, actor_id) { return off(); }
result<std::size_t> actor_count(system&) { return off(); }

std::vector<worker_info> workers(system& sys) {
  std::vector<worker_info> out;
  for (bool blocking : {false, true}) {
    unsigned i = 0;
    for (auto& w : sys.core().worker_statistics(blocking))
      out.push_back({blocking ? "blocking" : "workers", i++, w.turns, w.steals, w.parked});
  }
  return out;
}

std::vector<dead_letter_count> dead_letters(system& sys) {
  std::vector<dead_letter_count> out;
  for (unsigned r = 0; r < dead_letter_reasons; ++r) {
    auto why = static_cast<dead_letter_reason>(r);
    out.push_back({troupe::to_string(why), sys.core().dead_letter_count(why)});
  }
  out.push_back({"total", sys.dead_letter_count()});
  return out;
}

}  // namespace troupe::observe
