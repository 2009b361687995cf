// workload.hpp: what every workload of troupe-bench shares: its flags, its outcome, its entry.
// A workload spawns its actors on the system it is given, blocks the calling (main) thread until
// the actors hand over their checked result through an `outcome_promise`, and returns it. The
// caller times that call, so a workload does nothing expensive before its first spawn. The
// workloads, flags and checks are those of ../shared/peers (workloads.conf and its README), so
// troupe does exactly the work the Erlang, Go and CAF peers do.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>

#include "troupe/troupe.hpp"

namespace troupe_bench {

/// What a workload reports: whether its result checked out, the checked value, and extra
/// `key:value` figures (idle's bytes_per_actor).
struct outcome {
  bool ok = false;
  std::int64_t value = 0;
  std::string extra;
  /// Run by main after the clock stops, before the result is printed; may amend it.
  std::function<void(outcome&)> after = nullptr;
};

/// How a workload's driving actor hands its outcome to the main thread. Shared, so the promise
/// lives as long as whichever of the actor and main lets go last.
using outcome_promise = std::shared_ptr<std::promise<outcome>>;

inline outcome_promise make_outcome_promise() { return std::make_shared<std::promise<outcome>>(); }

/// The workload's `--key=value` flags, all 64-bit integers.
class flags {
 public:
  void set(std::string key, std::int64_t value) { values_[std::move(key)] = value; }
  std::int64_t get(const std::string& key, std::int64_t fallback) const {
    auto it = values_.find(key);
    return it == values_.end() ? fallback : it->second;
  }

 private:
  std::map<std::string, std::int64_t> values_;
};

/// A workload: runs to completion on `sys` and returns its checked outcome.
using workload = outcome (*)(troupe::system& sys, const flags& f);

outcome pingpong(troupe::system& sys, const flags& f);
outcome counting(troupe::system& sys, const flags& f);
outcome threadring(troupe::system& sys, const flags& f);
outcome fjcreate(troupe::system& sys, const flags& f);
outcome fjthroughput(troupe::system& sys, const flags& f);
outcome mailbox(troupe::system& sys, const flags& f);
outcome skynet(troupe::system& sys, const flags& f);
outcome idle(troupe::system& sys, const flags& f);
outcome connections(troupe::system& sys, const flags& f);
outcome websockets(troupe::system& sys, const flags& f);  // connections.cpp, over WebSockets
outcome remote_throughput(troupe::system& sys, const flags& f);  // remote.cpp: beside Erlang distribution
outcome remote_pingpong(troupe::system& sys, const flags& f);
outcome remote_serve(troupe::system& sys, const flags& f);  // node b of the two, started by them
outcome top(troupe::system& sys, const flags& f);
outcome serial(troupe::system& sys, const flags& f);

}  // namespace troupe_bench
