// web_json.hpp: the web view's JSON, one function per shape; docs/observe.md shows each shape.
// Names are snake_case; ids are numbers (an actor id's serial); bytes are numbers of bytes.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "web_source.hpp"

namespace troupe::observe::web {

inline std::string dump(const nlohmann::json& j) {
  // replace: a type or actor name with invalid UTF-8 must not take the view down
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

inline std::string_view to_string(sort_key k) {
  switch (k) {
    case sort_key::mailbox: return "mailbox";
    case sort_key::memory: return "memory";
    case sort_key::rate: return "rate";
  }
  return "mailbox";
}

inline std::optional<sort_key> parse_sort(std::string_view s) {
  if (s.empty() || s == "mailbox") return sort_key::mailbox;
  if (s == "memory") return sort_key::memory;
  if (s == "rate") return sort_key::rate;
  return std::nullopt;
}

inline nlohmann::json to_json(const actor_row& r) {
  return {{"id", r.id},         {"name", r.name},         {"type", r.type},         {"state", r.state},
          {"parent", r.parent}, {"supervisor", r.supervisor}, {"mailbox", r.mailbox}, {"messages", r.messages},
          {"rate", r.rate},     {"restarts", r.restarts},  {"memory", r.memory}};
}

inline nlohmann::json to_json(const std::vector<actor_row>& v) {
  auto a = nlohmann::json::array();
  for (auto& r : v) a.push_back(to_json(r));
  return a;
}

inline nlohmann::json to_json(const actor_page& p) {
  auto j = to_json(p.row);
  j["children"] = p.children;
  j["links"] = p.links;
  j["monitors"] = p.monitors;
  j["monitored_by"] = p.monitored_by;
  auto remote = [](const std::vector<remote_ref_row>& v) {
    auto a = nlohmann::json::array();
    for (auto& r : v) a.push_back({{"node", r.node}, {"id", r.id}});
    return a;
  };
  j["remote_links"] = remote(p.remote_links);
  j["remote_monitors"] = remote(p.remote_monitors);
  j["remote_monitored_by"] = remote(p.remote_monitored_by);
  return j;
}

inline nlohmann::json to_json(const tree_node& n) {
  nlohmann::json j{{"id", n.id},
                   {"name", n.name},
                   {"type", n.type},
                   {"supervisor", n.supervisor},
                   {"restarts", n.restarts},
                   {"more", n.more}};
  auto kids = nlohmann::json::array();
  for (auto& c : n.children) kids.push_back(to_json(c));
  j["children"] = std::move(kids);
  return j;
}

inline nlohmann::json to_json(const std::vector<tree_node>& v) {
  auto a = nlohmann::json::array();
  for (auto& n : v) a.push_back(to_json(n));
  return a;
}

inline nlohmann::json to_json(const std::vector<worker_row>& v) {
  auto a = nlohmann::json::array();
  for (auto& w : v) a.push_back({{"turns", w.turns}, {"steals", w.steals}, {"parked_s", w.parked_seconds}});
  return a;
}

inline nlohmann::json to_json(const std::vector<dead_letter_row>& v) {
  auto a = nlohmann::json::array();
  for (auto& d : v)
    a.push_back({{"recipient", d.recipient},
                 {"recipient_name", d.recipient_name},
                 {"message_type", d.message_type},
                 {"reason", d.reason},
                 {"at_unix_s", d.at}});
  return a;
}

inline nlohmann::json to_json(const std::vector<listener_row>& v) {
  auto a = nlohmann::json::array();
  for (auto& l : v) a.push_back({{"name", l.name}, {"connections", l.connections}});
  return a;
}

}  // namespace troupe::observe::web
