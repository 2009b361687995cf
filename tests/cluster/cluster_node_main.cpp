// cluster_node_main.cpp: one cluster node in its own process, for the cluster's multi-node tests.
// It joins the cluster, registers the device grain (device_grain.hpp), then prints
// "listening on <address>", and one line per event: "member_up N", "member_removed N <reason>",
// "activated <key>" (each activation of a grain on this node; a key starting "boom" makes the
// grain's factory throw), "served <key> <ns>" (with --trace-served 1: a device grain here handled
// a message; ns: steady clock), "singleton leader started" (the singleton "leader" started here),
// "entity_started <id> <ns>" / "entity_stopped <id> <ns>" (an entity of the sharded type "counter"
// (counter_entity.hpp) started here / accepted its hand-off stop message; ns: steady clock, the
// same clock in every process of the machine), "dead_letter <type> <reason>". Commands, one per stdin line:
//   call <id> <key> <n>   adds n to the grain's total (n = 0: reads it); prints "reply <id> <total>"
//                         or "error <id> <message>" (asks time out after --ask-ms)
//   hold <id> <key>       sends a request the grain never answers (10 s timeout): only a failure ends it;
//                         prints "sent <id>" once it is in the grain's proxy
//   rcall <id> <key> <n>  as call, retried by policy (retry_policy.hpp: 8 tries, backoff from 100 ms
//                         to 1 s): prints "sent <id>" once it is in the grain's proxy, and
//                         "retry <id> <try> <error>" before each retry
//   rhold <id> <key>      as rcall of a read whose first try is not answered (as hold), the
//                         retries are: a call in flight that only a failure and a retry end
//   ecall <id> <key> <n>  as call, for the sharded counter entity <key>
//   epassivate <key>      tells the entity <key> to stop itself (its passivation)
//   leader <id>           reads the singleton "leader"'s total: "reply <id> <total>"
//   members               prints "members a,b,c" (the up members as this node sees them)
//   loads                 prints "loads a=3,b=0,c=1" (their active grains, as this node last read them)
//   pg_join <group> <m>   makes the local actor <m> (group_member.hpp, named "<node>/<m>") if
//                         it is new, joins it to <group>: prints "pg_joined <group> <m>"
//   pg_leave <group> <m>  prints "pg_left <group> <m> 1|0"
//   pg_stop <m>           stops the actor <m> (it leaves its groups and services by stopping)
//   pg_members <id> <group>  asks every member of <group> (as this node sees it) its name:
//                         "pg_members <id> a/x,b/y" (sorted; "?" for one that did not answer)
//   pg_close              destroys this node's process groups scope: "pg_closed" (later pg_
//                         commands get a new one)
//   pg_subscribe <group>  prints "pg_event <group> joined|left <member>" for each change
//   svc_register <key> <m>, svc_find <id> <key>, svc_subscribe <key>: the same for the
//                         cluster's receptionist: "svc_registered <key> <m>", "svc_find <id> ...",
//                         "listing <key> <names>" (each listing, its members' descriptions)
//   leave                 leaves the cluster gracefully (shards handed off first): prints "left"
//   quit
// Options: --name N --host H --cluster C --store sqlite:<path>|pgfile:<file with a libpq conninfo>
//          --placement hash|local|random|least --idle-ms I --down-after-ms D --ask-ms A
//          --member-timeout-ms M (cluster_config::member_timeout)
//          --shards S --handoff-buffer B --handoff-timeout-ms T --remember 0|1 (the sharded counters)
//          --trace-served 0|1
#include <algorithm>
#include <cstdio>
#include <map>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cluster/counter_entity.hpp"
#include "cluster/device_grain.hpp"
#include "cluster/group_member.hpp"
#include "troupe/cluster.hpp"
#include "troupe/core/system.hpp"
#include "troupe/persistence/journal.hpp"
#include "troupe/persistence/postgres_storage.hpp"
#include "troupe/persistence/sqlite_storage.hpp"
#include "troupe/remote/node.hpp"

namespace {
std::mutex out_mu;
void say(const std::string& line) {
  std::lock_guard lk(out_mu);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}
using member_event = std::variant<troupe::cluster::member_up, troupe::cluster::member_removed>;
std::string now_ns() {
  return std::to_string(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}
}  // namespace

int main(int argc, char** argv) {
  namespace tc = troupe::cluster;
  troupe::remote::node_config ncfg;
  ncfg.cookie = "cluster-test-cookie";
  tc::cluster_config ccfg;
  ccfg.heartbeat_interval = std::chrono::milliseconds(100);
  std::string store_arg;
  auto ask_timeout = std::chrono::milliseconds(2000);
  bool trace_served = false;
  tc::sharded_entity<tc::testing::counter_msg> counters{.type = "counter", .make = {}, .stop_message = tc::testing::passivate{}, .shards = 16};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--name") ncfg.name = v;
    else if (k == "--host") ncfg.host = v;
    else if (k == "--trace-served") trace_served = v == "1";
    else if (k == "--cluster") ccfg.name = v;
    else if (k == "--store") store_arg = v;
    else if (k == "--idle-ms") ccfg.idle_timeout = std::chrono::milliseconds(std::stoi(v));
    else if (k == "--member-timeout-ms") ccfg.member_timeout = std::chrono::milliseconds(std::stoi(v));
    else if (k == "--down-after-ms") ncfg.down_after = std::chrono::milliseconds(std::stoi(v));
    else if (k == "--ask-ms") ask_timeout = std::chrono::milliseconds(std::stoi(v));
    else if (k == "--shards") counters.shards = std::stoul(v);
    else if (k == "--handoff-buffer") counters.handoff_buffer = std::stoul(v);
    else if (k == "--handoff-timeout-ms") counters.handoff_timeout = std::chrono::milliseconds(std::stoi(v));
    else if (k == "--remember") counters.remember_entities = v == "1";
    else if (k == "--placement") {
      if (v == "local") ccfg.placement = std::make_shared<tc::prefer_local_placement>();
      else if (v == "random") ccfg.placement = std::make_shared<tc::random_placement>();
      else if (v == "least") ccfg.placement = std::make_shared<tc::least_loaded_placement>();
    }
  }
  troupe::system_config sc;
  sc.worker_threads = 1;
  sc.logger = [](troupe::log_level, std::string_view text) { say("log " + std::string(text)); };
  sc.log.level = troupe::log_level::debug;  // the tests wait for the grain services' debug records
  troupe::system sys{sc};
  troupe::remote::node node{sys, ncfg};

  troupe::result<std::unique_ptr<tc::membership_store>> store = troupe::error{tc::errc::store_unavailable, "no --store"};
  troupe::result<std::shared_ptr<troupe::persistence::storage>> states =
      troupe::error{tc::errc::store_unavailable, "no --store"};
  if (store_arg.rfind("sqlite:", 0) == 0) {
    auto path = store_arg.substr(7);
    store = tc::membership_store::open_sqlite(path);
    if (auto s = troupe::persistence::sqlite_storage::open(path)) states = std::shared_ptr<troupe::persistence::storage>(*s);
    else states = s.error();
  } else if (store_arg.rfind("pgfile:", 0) == 0) {
    std::ifstream f(store_arg.substr(7));
    std::string conninfo;
    std::getline(f, conninfo);
    store = tc::membership_store::open_postgres(conninfo);
    if (auto s = troupe::persistence::postgres_storage::open(conninfo)) states = std::shared_ptr<troupe::persistence::storage>(*s);
    else states = s.error();
  }
  if (!store || !states) {
    say("failed " + (!store ? store.error().message() : states.error().message()));
    return 1;
  }
  auto journal = troupe::persistence::journal::start(*states);
  auto joined = tc::cluster::join(sys, node, std::move(*store), ccfg);
  if (!joined) {
    say("failed " + joined.error().message());
    return 1;
  }
  auto& cl = **joined;
  std::string prefix = ccfg.name + "/";
  cl.register_grain<tc::testing::device_msg>("device", [journal, prefix, trace_served](const std::string& key) {
    if (key.rfind("boom", 0) == 0) throw std::runtime_error("no device may be called " + key);
    say("activated " + key);
    std::function<void()> served;
    if (trace_served) served = [key] { say("served " + key + " " + now_ns()); };
    return tc::testing::device(journal, prefix + key, std::move(served));
  });
  cl.singleton<tc::testing::device_msg>("leader", [journal, prefix] {
    say("singleton leader started");
    return tc::testing::device(journal, prefix + "leader");
  });
  counters.make = [journal, prefix](const std::string& id) {
    say("entity_started " + id + " " + now_ns());
    return tc::testing::counter_entity(journal, prefix, id, [id] { say("entity_stopped " + id + " " + now_ns()); });
  };
  auto region = tc::shard_region<tc::testing::counter_msg>::start(cl, counters);
  sys.subscribe_dead_letters(sys.spawn(troupe::receive<troupe::dead_letter>([](const troupe::dead_letter& d) {
    say("dead_letter " + d.message_type + " " + troupe::to_string(d.reason));
    return troupe::same;
  })));
  auto watcher = sys.spawn(troupe::receive<member_event>(
      [](const tc::member_up& u) {
        say("member_up " + u.node);
        return troupe::same;
      },
      [](const tc::member_removed& r) {
        say("member_removed " + r.node + " " + r.reason);
        return troupe::same;
      }));
  cl.subscribe(watcher);
  std::optional<tc::process_groups> groups;
  groups.emplace(cl);
  tc::receptionist reception(cl);
  std::map<std::string, troupe::ref<tc::testing::member_msg>> locals;  // the stdin thread's only
  auto local_member = [&](const std::string& m) {
    auto it = locals.find(m);
    if (it == locals.end()) it = locals.emplace(m, sys.spawn(tc::testing::group_member(node.name() + "/" + m))).first;
    return it->second;
  };
  // Asks each member its name, on a thread of its own (the asks may take up to their timeout).
  auto names_of = [](std::vector<troupe::ref<tc::testing::member_msg>> all) {
    std::vector<std::string> names;
    for (auto& m : all) {
      auto r = m.ask<std::string>([](troupe::ref<std::string> r) { return tc::testing::who_are_you{r}; },
                                  std::chrono::seconds(1))
                   .get();
      names.push_back(r ? *r : "?");
    }
    std::sort(names.begin(), names.end());
    std::string s;
    for (auto& n : names) s += (s.empty() ? "" : ",") + n;
    return s;
  };
  say("listening on " + node.address());

  std::vector<std::thread> calls;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    if (!groups) groups.emplace(cl);
    auto& pg = *groups;
    std::string cmd;
    in >> cmd;
    if (cmd == "quit") break;
    if (cmd == "leave") {  // leave: hands its shards off, leaves, prints "left"
      cl.leave();
      say("left");
      continue;
    }
    if (cmd == "members") {
      std::string s;
      for (auto& m : cl.members()) s += (s.empty() ? "" : ",") + m.node;
      say("members " + s);
    } else if (cmd == "loads") {
      std::string s;
      for (auto& m : cl.members()) s += (s.empty() ? "" : ",") + m.node + "=" + std::to_string(m.activations);
      say("loads " + s);
    } else if (cmd == "pg_close") {
      groups.reset();
      say("pg_closed");
    } else if (cmd == "pg_join" || cmd == "svc_register") {
      std::string group, m;
      in >> group >> m;
      auto r = cmd == "pg_join" ? pg.join(troupe::otp::group<tc::testing::member_msg>{group}, local_member(m))
                                : reception.register_service(troupe::otp::service_key<tc::testing::member_msg>{group},
                                                             local_member(m));
      if (r) say((cmd == "pg_join" ? "pg_joined " : "svc_registered ") + group + " " + m);
      else say("pg_error " + r.error().message());
    } else if (cmd == "pg_leave") {
      std::string group, m;
      in >> group >> m;
      bool left = pg.leave(troupe::otp::group<tc::testing::member_msg>{group}, local_member(m));
      say("pg_left " + group + " " + m + (left ? " 1" : " 0"));
    } else if (cmd == "pg_stop") {
      std::string m;
      in >> m;
      local_member(m).tell(tc::testing::quit_member{});
    } else if (cmd == "pg_members" || cmd == "svc_find") {
      std::string id, group;
      in >> id >> group;
      auto all = cmd == "pg_members" ? pg.members(troupe::otp::group<tc::testing::member_msg>{group})
                                     : reception.find(troupe::otp::service_key<tc::testing::member_msg>{group});
      calls.emplace_back([all, id, cmd, names_of] { say(cmd + " " + id + " " + names_of(all)); });
    } else if (cmd == "pg_subscribe") {
      std::string group;
      in >> group;
      using event = troupe::otp::group_event<tc::testing::member_msg>;
      pg.subscribe(troupe::otp::group<tc::testing::member_msg>{group}, sys.spawn(troupe::receive<event>([](const event& e) {
        say("pg_event " + e.group + (e.joined ? " joined " : " left ") + troupe::any_ref(e.member).describe());
        return troupe::same;
      })));
    } else if (cmd == "svc_subscribe") {
      std::string key;
      in >> key;
      using listing = troupe::otp::listing<tc::testing::member_msg>;
      reception.subscribe(troupe::otp::service_key<tc::testing::member_msg>{key},
                          sys.spawn(troupe::receive<listing>([](const listing& l) {
                            std::string s;
                            for (auto& m : l.services) s += (s.empty() ? "" : ",") + troupe::any_ref(m).describe();
                            say("listing " + l.key.id + " " + std::to_string(l.services.size()) + " " + s);
                            return troupe::same;
                          })));
    } else if (cmd == "hold") {
      std::string id, key;
      in >> id >> key;
      auto g = cl.grain<tc::testing::device_msg>("device", key);
      calls.emplace_back([g, id] {
        auto f = g.ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return tc::testing::hold{r}; },
                                     std::chrono::seconds(10));
        say("sent " + id);
        auto r = f.get();
        if (r) say("reply " + id + " " + std::to_string(*r));
        else say("error " + id + " " + r.error().message());
      });
    } else if (cmd == "leader") {  // leader <id>: reads the singleton's total
      std::string id;
      in >> id;
      auto g = cl.singleton_ref<tc::testing::device_msg>("leader");
      calls.emplace_back([g, id, ask_timeout] {
        auto r = g.ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return tc::testing::get{r}; }, ask_timeout).get();
        if (r) say("reply " + id + " " + std::to_string(*r));
        else say("error " + id + " " + r.error().message());
      });
    } else if (cmd == "epassivate") {
      std::string key;
      in >> key;
      region.entity(key).tell(tc::testing::passivate{});
    } else if (cmd == "ecall") {
      std::string id, key;
      std::int64_t n = 0;
      in >> id >> key >> n;
      auto e = region.entity(key);
      calls.emplace_back([e, id, n, ask_timeout] {
        auto r = n == 0 ? e.ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return tc::testing::get{r}; }, ask_timeout)
                              .get()
                        : e.ask<std::int64_t>([n](troupe::ref<std::int64_t> r) { return tc::testing::add{n, r}; },
                                              ask_timeout)
                              .get();
        if (r) say("reply " + id + " " + std::to_string(*r));
        else say("error " + id + " " + r.error().message());
      });
    } else if (cmd == "rcall" || cmd == "rhold") {
      std::string id, key;
      std::int64_t n = 0;
      in >> id >> key;
      if (cmd == "rcall") in >> n;
      auto g = cl.grain<tc::testing::device_msg>("device", key);
      tc::retry_policy policy{.attempts = 8,
                              .backoff = std::chrono::milliseconds(100),
                              .max_backoff = std::chrono::seconds(1),
                              .retry_on = {},
                              .on_retry = [id](const troupe::error& e, std::size_t next) {
                                say("retry " + id + " " + std::to_string(next) + " " + e.message());
                              }};
      auto done = [id](troupe::result<std::int64_t> r) {
        if (r) say("reply " + id + " " + std::to_string(*r));
        else say("error " + id + " " + r.error().message());
      };
      if (n == 0)
        tc::ask_idempotent<std::int64_t>(
            g,
            [first = cmd == "rhold"](troupe::ref<std::int64_t> r) mutable {
              return tc::testing::get{r, std::exchange(first, false)};
            },
            ask_timeout, policy, done);
      else
        tc::ask_idempotent<std::int64_t>(g, [n](troupe::ref<std::int64_t> r) { return tc::testing::add{n, r}; },
                                         ask_timeout, policy, done);
      say("sent " + id);
    } else if (cmd == "call") {
      std::string id, key;
      std::int64_t n = 0;
      in >> id >> key >> n;
      auto g = cl.grain<tc::testing::device_msg>("device", key);
      calls.emplace_back([g, id, n, ask_timeout] {
        auto r = n == 0 ? g.ask<std::int64_t>([](troupe::ref<std::int64_t> r) { return tc::testing::get{r}; }, ask_timeout)
                              .get()
                        : g.ask<std::int64_t>([n](troupe::ref<std::int64_t> r) { return tc::testing::add{n, r}; },
                                              ask_timeout)
                              .get();
        if (r) say("reply " + id + " " + std::to_string(*r));
        else say("error " + id + " " + r.error().message());
      });
    }
  }
  for (auto& t : calls) t.join();
  return 0;
}
