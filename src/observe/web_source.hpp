// web_source.hpp: what the web view reads from a running system, in the view's own terms.
// The web view never walks actors itself: it asks a web_source, whose implementation over the
// introspection and metrics API (web_source.cpp) is the only place that knows that API. Called
// from the view's actors, one call at a time per source (the hub and the API actor each own one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "troupe/core/result.hpp"
#include "troupe/core/system.hpp"

namespace troupe::observe::web {

/// The process table's sort keys.
enum class sort_key { mailbox, memory, rate };

struct actor_row {
  std::uint64_t id = 0;
  std::string name;  // registered name or empty
  std::string type;  // behaviour / protocol type name
  std::string state;  // running, waiting, stopping
  std::uint64_t parent = 0;  // 0: top level
  bool supervisor = false;
  std::size_t mailbox = 0;
  std::uint64_t messages = 0;  // handled so far
  double rate = 0;             // messages per second, recently
  std::uint64_t restarts = 0;
  std::size_t memory = 0;  // bytes, approximate
};

// An actor on another node (a link or watch across nodes): its node's name and its id there as
// this node addresses it. Not a page of its own: the view shows this node's actors only.
struct remote_ref_row {
  std::string node;
  std::uint64_t id = 0;
};

struct actor_page {
  actor_row row;
  std::vector<std::uint64_t> children;
  std::vector<std::uint64_t> links;
  std::vector<std::uint64_t> monitors;      // whom it watches
  std::vector<std::uint64_t> monitored_by;  // who watches it
  std::vector<remote_ref_row> remote_links;  // the same across nodes
  std::vector<remote_ref_row> remote_monitors;
  std::vector<remote_ref_row> remote_monitored_by;
};

struct tree_node {
  std::uint64_t id = 0;
  std::string name;
  std::string type;
  bool supervisor = false;
  std::uint64_t restarts = 0;
  std::vector<tree_node> children;
  std::size_t more = 0;  // children left out past the limit
};

struct worker_row {
  std::uint64_t turns = 0;
  std::uint64_t steals = 0;
  double parked_seconds = 0;
};

struct totals {
  std::size_t actors = 0;
  std::uint64_t messages = 0;  // handled so far, all actors
  std::size_t memory = 0;      // bytes held by actors, approximate
  std::uint64_t dead_letters = 0;
  std::size_t connections = 0;
  std::uint64_t restarts = 0;
  bool introspection = false;  // false: the system was built without system_config::introspection
};

struct dead_letter_row {
  std::uint64_t recipient = 0;
  std::string recipient_name;
  std::string message_type;
  std::string reason;
  double at = 0;  // seconds since the Unix epoch
};

struct listener_row {
  std::string name;
  std::size_t connections = 0;
};

class web_source {
 public:
  virtual ~web_source() = default;
  virtual totals read_totals() = 0;
  virtual std::vector<actor_row> top(sort_key by, std::size_t n) = 0;
  virtual std::vector<tree_node> trees(std::size_t max_children) = 0;
  virtual std::optional<actor_page> actor(std::uint64_t id) = 0;
  virtual std::vector<worker_row> workers() = 0;
  /// The last `n` dead letters (at most 100 are kept), newest first.
  virtual std::vector<dead_letter_row> dead_letters(std::size_t n) = 0;
  /// Dead letters since the system began, by reason, then "total".
  virtual std::vector<std::pair<std::string, std::uint64_t>> dead_letter_counts() = 0;
  /// The counted listeners (see count_connections), by name.
  virtual std::vector<listener_row> listeners() = 0;
  /// Counts a listener's open connections in the view and at /metrics (troupe_connections).
  virtual void count_connections(std::string name, std::function<std::size_t()> live) = 0;
  virtual void uncount_connections(const std::string& name) = 0;
  virtual result<void> kill(std::uint64_t id) = 0;
  virtual std::string prometheus() = 0;
  virtual std::string metrics_json() = 0;
  /// Sets the system's log level by name ("trace", "debug", "info", "warning", "error", "off"),
  /// or one source's (an empty source: the logger's; "default" takes a source's level away);
  /// answers the level that now applies to that source, by its name.
  virtual result<std::string> set_log_level(const std::string& source, const std::string& level) = 0;
  /// The system's log level, by its name.
  virtual std::string log_level() = 0;
  /// The sources with a level of their own, and those levels.
  virtual std::vector<std::pair<std::string, std::string>> source_log_levels() = 0;
};

/// The source over `sys`'s introspection and metrics. `sys` outlives it.
std::shared_ptr<web_source> make_source(system& sys);

}  // namespace troupe::observe::web
