// grain_service.hpp: the actor that serves one grain type on one node; not for user code.
// It is the type's router and host at once: calls made on this node are routed to the node that
// holds the grain (asking the directory on the cluster's thread when it does not know), and calls
// that arrive here activate the grain after this node wins its registration. A node that loses
// sends the calls back to their origin with the winner's name (a redirect), never to a third
// node: a message may hold refs of its origin, which only the origin and its peer can decode.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "troupe/cluster/detail/cluster_core.hpp"
#include "troupe/cluster/errc.hpp"
#include "troupe/core/actor_context.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/core/extension.hpp"
#include "troupe/remote/node.hpp"
#include "troupe/serial/codec.hpp"
#include "troupe/serial/ref_context.hpp"
#include "troupe/serial/writer.hpp"

namespace troupe::cluster::detail {

/// A call for grain `key`, made on node `origin`, re-routed `hops` times so far. No message:
/// only make sure the grain is active (a singleton).
///
/// `deadline`: when its caller stops waiting (the deadline of the ask that made it); 0 for none
/// (a tell, an ask without a timeout). A call whose deadline has passed is dropped before the
/// grain handles it. Two forms, never mixed up because a call is absolute exactly where it was
/// made: on its origin node (origin == this node), the deadline on the system's clock, in ns
/// since that clock's epoch; on any other node, and on the wire, the time it had left when its
/// origin sent it, in ns (at least 1), which the receiver adds to its own clock as it takes the
/// call. Nodes' clocks are never compared: the time the call spends on the wire is not
/// counted, so a receiver may run a call a little after its caller gave up, never drop one
/// before.
template <class P>
struct grain_call {
  std::string key;
  std::optional<P> message;
  std::string origin;
  std::uint32_t hops = 0;
  std::int64_t deadline = 0;
};
/// "Not here: `owner` holds it" (empty: ask the directory again), with the call given back.
/// Always sent by another node: `deadline` is the time the call had left, as on grain_call.
template <class P>
struct grain_redirect {
  std::string key;
  std::string owner;
  std::optional<P> message;
  std::uint32_t hops = 0;
  std::int64_t deadline = 0;
};
// The rest never cross the wire; they are plain structs because the protocol is serialized whole.
struct grain_resolved {
  std::string key;
  std::string owner;
  std::string error;
  bool expired = false;  // not asked: every call waiting for it had passed its deadline
};
struct grain_peer_lost {
  std::string node;
};
struct grain_linked {
  std::string node;
};
struct grain_stopped {
  std::string key;
  std::uint64_t activation = 0;
};
struct grain_idle_tick {};
struct grain_ensure {  // activate `key` if it is active nowhere (singletons)
  std::string key;
};
struct grain_stop_serving {
  std::string reason;
};
struct grain_rebalance {};  // sharded: hand off every active key whose allocation moved away
struct grain_handed_off {   // sharded: `key` stopped here and its registration is gone
  std::string key;
};
struct grain_retry {  // ask the directory again for `key`, whose dead holder is still fenced
  std::string key;
};

template <class P>
using grain_service_msg = std::variant<grain_call<P>, grain_redirect<P>, grain_resolved, grain_peer_lost, grain_linked,
                                       grain_stopped, grain_idle_tick, grain_stop_serving, grain_ensure,
                                       grain_rebalance, grain_handed_off, grain_retry>;

/// How a grain type's service behaves beyond plain grains.
template <class P>
struct grain_options {
  /// A singleton: never deactivated for idleness, started again when it stops.
  bool keep_active = false;
  /// Shards (sharding.hpp): activated only on the node hash allocation names (over the up
  /// members, as this node reads them), never deactivated for idleness, and handed off when a
  /// member change moves their allocation: `handoff_message` is told to the activation, calls
  /// that arrive meanwhile wait in a buffer of `handoff_buffer` (more go to dead letters), and
  /// only once the activation has stopped is its registration removed and the buffer re-routed.
  bool sharded = false;
  std::size_t handoff_buffer = 0;
  std::optional<P> handoff_message{};
  /// Sharded, remember-entities: once a key handed off here has stopped, start it where it goes
  /// (with no message), so that its remembered entities start there without waiting for a call.
  bool restart_after_handoff = false;
};

/// A call is re-routed at most this many times (a directory that keeps naming an unreachable
/// node while it is being voted out); then it is dropped and logged: the caller's ask fails with
/// request_dropped.
inline constexpr std::uint32_t max_hops = 4;

/// Tells `to` whichever alternative `m` holds (tell takes one alternative, not the variant).
template <class Q>
void tell_whole(const ref<Q>& to, Q m) {
  std::visit([&](auto& alt) { to.tell(std::move(alt)); }, m);
}

inline std::string grain_service_name(const std::string& type) { return "troupe.cluster.grains." + type; }

/// What a grain ref (`kind` 'g') or an entity ref ('e') stands for, within its cluster: refs
/// with one name are equal. The type's length first, so that no (type, key) pair spells another's.
inline std::string grain_target_name(char kind, std::string_view type, std::string_view key) {
  std::string name(1, kind);
  name += std::to_string(type.size());
  name += ':';
  name += type;
  name += key;
  return name;
}

// Collects the refs a message holds (encoding it writes nothing for them), so that a call this
// node drops can fail its asks with the reason instead of a bare "dropped".
class ref_collector final : public serial::ref_context {
 public:
  std::vector<endpoint_ptr> refs;
  result<void> encode_ref(serial::writer&, const endpoint_ptr& target, const serial::protocol_ops&) override {
    refs.push_back(target);
    return {};
  }
  result<endpoint_ptr> decode_ref(serial::reader&, const serial::protocol_ops&) override {
    return troupe::error{errc::stopped, "a ref_collector decodes nothing"};
  }
};

/// Completes every ask waiting on `message` (its reply slots: other refs ignore it) with `e` now;
/// the message itself is left as it is. A call made on this node and dropped here thus tells its
/// caller why ("this node was voted out"), not just "dropped without reply".
template <class P>
void fail_asks_of(const P& message, const troupe::error& e) {
  ref_collector refs;
  std::string bytes;
  serial::writer w(bytes, &refs);
  serial::protocol_ops_of<P>().encode(w, &message);
  for (auto& r : refs.refs)
    if (r) r->abandon(e);
}

template <class P>
class grain_service {
 public:
  using msg = grain_service_msg<P>;
  using factory = std::function<behavior<P>(const std::string& key)>;
  using clock = std::chrono::steady_clock;

  grain_service(std::shared_ptr<cluster_core> core, std::string type, factory make, grain_options<P> opts,
                actor_context<msg>& ctx)
      : core_(std::move(core)), type_(std::move(type)), make_(std::move(make)), keep_active_(opts.keep_active),
        opts_(std::move(opts)), ctx_(&ctx), links_(std::make_shared<links>()),
        rerouted_{"grain " + type_, "call(s) dropped after too many re-routes (their asks failed with request_dropped)"},
        handoff_full_{"shard " + type_, "call(s) went to dead letters: a hand-off buffer was full"},
        redirect_lost_{"grain " + type_, "redirect(s) to unreachable nodes dropped"} {}

  void start() {
    auto idle = core_->config().idle_timeout;
    auto every = std::clamp<std::chrono::nanoseconds>(idle / 4, std::chrono::milliseconds(20), std::chrono::seconds(30));
    ctx_->start_timer("idle", grain_idle_tick{}, every, troupe::timer_mode::fixed_delay);
  }

  void on(grain_call<P>& c) {
    if (c.origin != self()) c.deadline = from_wire(c.deadline);  // re-anchored on this node's clock
    // core_->serving(): this node found itself out of the cluster; grain_stop_serving, which
    // stops the grains, is on its way behind this call.
    if (!serving_ || !core_->serving()) {
      if (c.origin != self()) send_to(c.origin, grain_redirect<P>{c.key, "", std::move(c.message), c.hops + 1, c.deadline});
      else drop_not_serving(c.key, c.message);
      return;
    }
    if (c.origin == self()) return route(c.key, std::move(c.message), c.hops, c.deadline);
    if (drop_if_past_deadline(c.key, c.message, c.deadline)) return;
    if (buffer_if_handing_off(c.key, c.message, c.origin, c.hops, c.deadline)) return;
    if (deliver(c.key, c.message, c.deadline)) return;
    if (auto p = pending_.find(c.key); p != pending_.end()) {
      wait_for_directory(c.key, {std::move(c.message), std::move(c.origin), c.hops, c.deadline});
      return;
    }
    if (opts_.sharded && c.hops + 1 < max_hops) {
      // A stale route (the shard moved, or the caller's view of the members differs): send the
      // caller to the node allocation names. Near the last hop, claim it here instead, so that
      // two views that disagree for a heartbeat never drop a call; the directory still decides.
      if (auto target = allocated(c.key); target && *target != self()) {
        send_to(c.origin, grain_redirect<P>{c.key, *target, std::move(c.message), c.hops + 1, c.deadline});
        return;
      }
    }
    if (!core_->is_up(self())) {
      // Leaving: this node takes no new activation; the caller asks the directory again.
      send_to(c.origin, grain_redirect<P>{c.key, "", std::move(c.message), c.hops + 1, c.deadline});
      return;
    }
    // Another node sent it here (its placement or the directory chose us): claim it.
    wait_for_directory(c.key, {std::move(c.message), std::move(c.origin), c.hops, c.deadline});
    claim(c.key);
  }

  void on(grain_redirect<P>& r) {
    if (r.owner.empty() || r.owner == self()) owners_.erase(r.key);
    else learn_owner(r.key, r.owner);
    route(r.key, std::move(r.message), r.hops, from_wire(r.deadline));
  }

  void on(grain_resolved& r) {
    if (!r.expired && r.error.empty() && r.owner != self() && !core_->is_up(r.owner) && pending_.count(r.key)) {
      // The directory still names a holder that is not up: it was declared dead less than the
      // fence ago (or this node has not read its row yet). The calls wait here, and the
      // directory is asked again a heartbeat later.
      ctx_->start_timer("retry:" + r.key, grain_retry{r.key}, core_->config().heartbeat_interval);
      return;
    }
    auto node = pending_.extract(r.key);
    if (node.empty()) return;
    auto waiting = std::move(node.mapped());
    wanted_until_.erase(r.key);
    if (r.expired && serving_) {
      // The directory was not asked: every call had passed its deadline by then. One that came
      // in after that check is still wanted: ask again for it.
      bool asked = false;
      for (auto& w : waiting) {
        if (drop_if_past_deadline(r.key, w.message, w.deadline)) continue;
        wait_for_directory(r.key, std::move(w));
        if (!asked) resolve(r.key);
        asked = true;
      }
      return;
    }
    if (!serving_) {
      for (auto& w : waiting) fail(w.message, not_serving_error(r.key));
      return;
    }
    if (!r.error.empty()) {
      ctx_->log(log_level::warning, "grain " + type_ + "/" + r.key + ": " + std::to_string(waiting.size()) +
                                        " call(s) dropped: " + r.error);
      for (auto& w : waiting)
        fail(w.message, troupe::error{errc::store_error, "grain " + type_ + "/" + r.key +
                                                             ": the grain directory could not be read: " + r.error});
      return;
    }
    if (r.owner == self()) {
      // Calls that waited for the directory past their callers' deadlines are dropped here,
      // and if none is left, the grain is not activated for them (its state not loaded): the
      // registration is given back.
      bool any = waiting.empty();
      for (auto& w : waiting) any = !drop_if_past_deadline(r.key, w.message, w.deadline) || any;
      if (!any && !active_.count(r.key)) return unregister(r.key);
      if (!activate(r.key)) return;
      for (auto& w : waiting)
        if (w.message || w.deadline == 0) deliver(r.key, w.message, w.deadline);
      // Won while this node's view of the members changed under the claim: move it on now.
      if (opts_.sharded)
        if (auto target = allocated(r.key); target && *target != self()) ctx_->self().tell(grain_rebalance{});
      return;
    }
    learn_owner(r.key, r.owner);
    for (auto& w : waiting) {
      if (drop_if_past_deadline(r.key, w.message, w.deadline)) continue;
      if (w.origin == self()) send_to(r.owner, grain_call<P>{r.key, std::move(w.message), self(), w.hops, w.deadline});
      else send_to(w.origin, grain_redirect<P>{r.key, r.owner, std::move(w.message), w.hops + 1, w.deadline});
    }
    // After the sends: a test that reads this line knows they are on their way.
    ctx_->log(log_level::debug, "grain " + type_ + "/" + r.key + " is held by '" + r.owner + "': " +
                                    std::to_string(waiting.size()) + " call(s) re-routed");
  }

  void on(grain_peer_lost& p) {
    std::erase_if(owners_, [&](const auto& kv) { return kv.second.node == p.node; });
    std::lock_guard lk(links_->mu);
    links_->refs.erase(p.node);
  }

  void on(grain_linked& l) {
    auto node = outbound_.extract(l.node);
    if (node.empty()) return;
    std::optional<ref<msg>> to;
    {
      std::lock_guard lk(links_->mu);
      if (auto it = links_->refs.find(l.node); it != links_->refs.end()) to = it->second;
    }
    for (auto& m : node.mapped()) {
      if (to) {
        tell_remote(*to, std::move(m));
      } else if (auto* c = std::get_if<grain_call<P>>(&m)) {
        // The holder cannot be reached: ask the directory again (it may have been voted out).
        owners_.erase(c->key);
        route(c->key, std::move(c->message), c->hops + 1, c->deadline);
      } else {
        warn_once(redirect_lost_, "grain " + type_ + ": a redirect to unreachable node '" + l.node + "' was dropped");
      }
    }
  }

  void on(grain_stopped& s) {
    if (auto h = handing_off_.find(s.key); h != handing_off_.end() && h->second.id == s.activation) {
      // Stopped before anything else: only now may another node register and start it.
      return core_->post([core = core_, type = type_, key = s.key, me = ctx_->self()](membership_store& st) {
        if (auto r = st.unregister_grain(core->config().name, type, key, core->self()); !r)
          core->log(log_level::warning, "shard " + type + "/" + key + ": unregistering failed: " + r.error().message());
        me.tell(grain_handed_off{key});
      });
    }
    auto it = active_.find(s.key);
    if (it == active_.end() || it->second.id != s.activation) return;
    active_.erase(it);
    core_->count_activations(-1);
    unregister(s.key);
    if (keep_active_ && serving_) route(s.key, std::nullopt, 0, 0);  // a singleton starts again
  }

  // Sharded: start handing off every active key that allocation now places on another node.
  void on(grain_rebalance&) {
    if (!opts_.sharded || !serving_) return;
    for (auto it = parked_.begin(); it != parked_.end();) {
      if (!core_->address_of(it->first)) {
        ++it;
        continue;
      }
      auto node = it->first;
      auto waiting = std::move(it->second);
      it = parked_.erase(it);
      for (auto& m : waiting) send_to(node, std::move(m));
    }
    if (!core_->is_up(self())) {
      // Leaving: calls still on their way here are sent back to their callers (redirects). Look
      // up every member's service now, so that a redirect finds its link ready and does not wait
      // for a lookup (nor need one once the cluster is destroyed and its node released).
      for (auto& node : core_->up_nodes()) link_to(node);
    }
    std::vector<std::string> moving;
    for (auto& [key, a] : active_)
      if (auto target = allocated(key); target && *target != self()) moving.push_back(key);
    for (auto& key : moving) {
      auto a = active_.extract(key);
      core_->count_activations(-1);
      ctx_->log(log_level::debug, "shard " + type_ + "/" + key + ": handing off to '" + *allocated(key) + "'");
      handing_off_.emplace(key, hand_off{a.mapped().grain, a.mapped().id, {}});
      if (opts_.handoff_message)
        std::visit([&](const auto& alt) { a.mapped().grain.tell(alt); }, *opts_.handoff_message);
      else
        ctx_->stop(a.mapped().grain);
    }
  }

  // Sharded: the old activation has stopped and its registration is gone: the buffered calls
  // go where allocation and the directory now say (their callers re-route the ones they sent).
  void on(grain_handed_off& h) {
    auto node = handing_off_.extract(h.key);
    if (node.empty()) return;
    owners_.erase(h.key);
    ctx_->log(log_level::debug, "shard " + type_ + "/" + h.key + ": handed off, " +
                                    std::to_string(node.mapped().buffer.size()) + " buffered call(s) re-routed");
    if (!serving_) return;
    for (auto& w : node.mapped().buffer) {
      if (w.origin == self()) route(h.key, std::move(w.message), w.hops, w.deadline);
      else if (!drop_if_past_deadline(h.key, w.message, w.deadline))
        send_to(w.origin, grain_redirect<P>{h.key, "", std::move(w.message), w.hops + 1, w.deadline});
    }
    if (opts_.restart_after_handoff) route(h.key, std::nullopt, 0, 0);
  }

  void on(grain_retry& r) {
    if (serving_ && pending_.count(r.key)) resolve(r.key);
  }

  void on(grain_ensure& e) {
    if (serving_) route(e.key, std::nullopt, 0, 0);
  }

  void on(grain_idle_tick&) {
    for (auto* i : {&rerouted_, &handoff_full_, &redirect_lost_, &past_deadline_}) report_incident(*i);
    auto now = clock::now();
    auto idle = core_->config().idle_timeout;
    forget_idle_owners(now, idle);
    if (keep_active_ || opts_.sharded) return;
    for (auto it = active_.begin(); it != active_.end();) {
      if (now - it->second.last >= idle) {
        ctx_->log(log_level::debug, "grain " + type_ + "/" + it->first + " deactivated (idle)");
        ctx_->stop(it->second.grain);
        unregister(it->first);
        it = active_.erase(it);
        core_->count_activations(-1);
      } else {
        ++it;
      }
    }
  }

  void on(grain_stop_serving& s) {
    if (!serving_) return;
    serving_ = false;
    why_not_serving_ = s.reason;
    for (auto& [key, a] : active_) ctx_->stop(a.grain);
    core_->count_activations(-static_cast<std::int64_t>(active_.size()));
    active_.clear();
    std::size_t dropped = 0;
    auto reason = not_serving_error("");
    for (auto& [key, w] : pending_) {
      dropped += w.size();
      for (auto& c : w) fail(c.message, reason);
    }
    pending_.clear();
    wanted_until_.clear();
    for (auto& [key, h] : handing_off_) {
      ctx_->stop(h.grain);
      dropped += h.buffer.size();
      for (auto& c : h.buffer) fail(c.message, reason);
    }
    handing_off_.clear();
    for (auto& [node, q] : parked_) dropped += q.size();
    parked_.clear();
    if (dropped) ctx_->log(log_level::warning, "grain " + type_ + ": " + std::to_string(dropped) + " call(s) dropped: " + s.reason);
  }

  /// Active grains on this node (for tests and introspection).
  std::size_t active_count() const { return active_.size(); }

 private:
  struct waiting {
    std::optional<P> message;
    std::string origin;
    std::uint32_t hops;
    std::int64_t deadline;  // absolute, on this node's clock (grain_call); 0: none
  };
  struct activation {
    ref<P> grain;
    clock::time_point last;
    std::uint64_t id;
  };
  struct hand_off {
    ref<P> grain;
    std::uint64_t id;              // the activation being stopped
    std::vector<waiting> buffer;   // calls that arrived meanwhile, at most opts_.handoff_buffer
  };
  // Where a key called from this node is held, when another node holds it. `used`: when a call
  // last went that way (or the route was learnt), so that routes no longer used can be forgotten.
  struct owner {
    std::string node;
    clock::time_point used;
  };
  // Refs to other nodes' services of this type, filled in by lookups on the remote node's thread.
  struct links {
    std::mutex mu;
    std::map<std::string, ref<msg>> refs;  // guarded by mu
  };

  const std::string& self() const { return core_->self(); }

  void fail(const std::optional<P>& message, const troupe::error& e) {
    if (message) fail_asks_of<P>(*message, e);
  }

  troupe::error not_serving_error(const std::string& key) const {
    return troupe::error{errc::not_a_member,
                         "grain " + type_ + (key.empty() ? "" : "/" + key) + ": the call was not made: " +
                             (why_not_serving_.empty() ? "this node ('" + self() + "') is no longer an up member"
                                                       : why_not_serving_)};
  }

  // A call made on this node after it stopped serving: its asks fail at once with the reason
  // (errc::not_a_member). Logged once per reason, not once per call: a node voted out may be
  // called in a loop by code that does not watch serving().
  void drop_not_serving(const std::string& key, const std::optional<P>& message) {
    fail(message, not_serving_error(key));
    if (logged_not_serving_ == why_not_serving_) return;
    logged_not_serving_ = why_not_serving_;
    ctx_->log(log_level::warning, "grain " + type_ + "/" + key + ": dropped a call made on this node, and will drop the "
                                      "next ones without a log line (their asks fail with not_a_member): " +
                                      (why_not_serving_.empty() ? "this node is no longer an up member" : why_not_serving_));
  }

  // A call re-routed too many times: its asks fail with request_dropped. Logged once per
  // incident (warn_once): while the directory keeps naming a node that cannot take its keys
  // (being voted out, or not serving the type), every call made for them comes here.
  void drop_rerouted(const std::string& key, const std::optional<P>& message, std::uint32_t hops) {
    fail(message, troupe::error{troupe::errc::request_dropped,
                                "grain " + type_ + "/" + key + ": dropped after " + std::to_string(hops) +
                                    " re-routes (the directory kept naming a node that could not take it)"});
    warn_once(rerouted_, "grain " + type_ + "/" + key + ": a call was dropped after " + std::to_string(hops) +
                             " re-routes (the directory kept naming a node that could not take it)");
  }

  // A warning that one cause raises once per call while it lasts (a directory naming a node that
  // cannot take its keys, a full hand-off buffer, a caller gone): the first is logged, the ones
  // after it are counted, and the next idle tick says how many there were and re-arms the line,
  // so a later incident is logged again. A burst of thousands is two lines, not thousands.
  struct incident {
    std::string subject;       // "grain <type>" or "shard <type>": the idle tick's line starts so
    std::string what;          // what was counted, for that line ("N more <what>")
    bool logged = false;       // logged since the last idle tick
    std::size_t unlogged = 0;  // since then, not logged one by one
  };

  void warn_once(incident& i, const std::string& text) {
    if (i.logged) {
      ++i.unlogged;
      return;
    }
    i.logged = true;
    ctx_->log(log_level::warning, text + "; the next ones are counted, not logged, until the next idle check");
  }

  // On each idle tick: how many warn_once counted without a line since the last one.
  void report_incident(incident& i) {
    if (i.unlogged > 0)
      ctx_->log(log_level::warning, i.subject + ": " + std::to_string(i.unlogged) + " more " + i.what);
    i.unlogged = 0;
    i.logged = false;
  }

  void learn_owner(const std::string& key, const std::string& node) {
    auto& o = owners_[key];
    o.node = node;
    o.used = clock::now();
  }

  // Forgets the holders of keys not called from this node for `idle`: without it a node that
  // calls many distinct keys once, held elsewhere, would keep a route for each (a key and a node
  // name, about a hundred bytes) until that node is lost. A forgotten key's next call asks the
  // directory, as its first did. The same bound as a grain's deactivation: by then the holder
  // has usually deactivated it too, unless others still call it.
  void forget_idle_owners(clock::time_point now, std::chrono::nanoseconds idle) {
    auto forgotten = std::erase_if(owners_, [&](const auto& kv) { return now - kv.second.used >= idle; });
    if (forgotten > 0 && ctx_->log_enabled(log_level::debug))
      ctx_->log(log_level::debug, "grain " + type_ + ": forgot the holders of " + std::to_string(forgotten) +
                                      " key(s) not called from this node for " +
                                      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(idle).count()) +
                                      " ms");
  }

  // A call made on this node (or given back to it): to the holder if known, else via the directory.
  void route(const std::string& key, std::optional<P> message, std::uint32_t hops, std::int64_t deadline) {
    if (drop_if_past_deadline(key, message, deadline)) return;
    if (hops > max_hops) return drop_rerouted(key, message, hops);
    if (buffer_if_handing_off(key, message, self(), hops, deadline)) return;
    if (deliver(key, message, deadline)) return;
    if (auto p = pending_.find(key); p != pending_.end()) {
      wait_for_directory(key, {std::move(message), self(), hops, deadline});
      return;
    }
    if (auto o = owners_.find(key); o != owners_.end() && o->second.node != self()) {
      o->second.used = clock::now();
      send_to(o->second.node, grain_call<P>{key, std::move(message), self(), hops, deadline});
      return;
    }
    wait_for_directory(key, {std::move(message), self(), hops, deadline});
    resolve(key);
  }

  // Deadlines (grain_call): the clock is the system's (real, or the test kit's virtual time).
  std::int64_t now_ns() const { return ctx_->now().time_since_epoch().count(); }
  // A received call's time left, as a deadline on this node's clock (0 stays 0: none).
  std::int64_t from_wire(std::int64_t left) const { return left > 0 ? now_ns() + left : 0; }
  // A deadline on this node's clock as the time left to send (at least 1; 0 stays 0: none).
  std::int64_t to_wire(std::int64_t deadline) const {
    return deadline != 0 ? std::max<std::int64_t>(deadline - now_ns(), 1) : 0;
  }
  bool past(std::int64_t deadline) const { return deadline != 0 && now_ns() > deadline; }

  // A call whose caller has given up (its ask's deadline passed while the call waited: in this
  // service's mailbox, for the directory, for a link, in a hand-off buffer) is not run: it goes
  // to dead letters (reason deadline_passed), unread, and is logged once per incident. The ask
  // has failed with errc::timeout already, on its own node.
  bool drop_if_past_deadline(const std::string& key, std::optional<P>& message, std::int64_t deadline) {
    if (!message || !past(deadline)) return false;
    std::visit([&](const auto& alt) { report_dead_letter<std::decay_t<decltype(alt)>>(*ctx_, dead_letter_reason::deadline_passed); }, *message);
    message.reset();
    warn_once(past_deadline_, "grain " + type_ + "/" + key + ": a call was dropped unrun: its caller's deadline had "
                                  "passed (a dead letter, deadline_passed)");
    return true;
  }

  // Tells another node's service `m`, its deadline turned into the time left; a call whose
  // deadline passed while it waited for the link is dropped instead.
  void tell_remote(const ref<msg>& to, msg m) {
    const auto sendable = [&](auto& call) {  // a grain_call or a grain_redirect
      if (drop_if_past_deadline(call.key, call.message, call.deadline)) return false;
      call.deadline = to_wire(call.deadline);
      return true;
    };
    if (auto* c = std::get_if<grain_call<P>>(&m); c && !sendable(*c)) return;
    if (auto* r = std::get_if<grain_redirect<P>>(&m); r && !sendable(*r)) return;
    tell_whole(to, std::move(m));
  }

  // Sharded: where allocation places `key` among the up members as this node read them.
  std::optional<std::string> allocated(const std::string& key) const {
    auto up = core_->up_nodes();
    if (up.empty()) return std::nullopt;
    return hash_placement{}.choose(type_, key, up, self());
  }

  // True if `key` is being handed off here: the call waits in its bounded buffer, or, past the
  // bound, goes to dead letters (reason mailbox_full) with a log line that says why.
  bool buffer_if_handing_off(const std::string& key, std::optional<P>& message, const std::string& origin,
                             std::uint32_t hops, std::int64_t deadline) {
    auto h = handing_off_.find(key);
    if (h == handing_off_.end()) return false;
    if (h->second.buffer.size() < opts_.handoff_buffer) {
      h->second.buffer.push_back({std::move(message), origin, hops, deadline});
      return true;
    }
    warn_once(handoff_full_, "shard " + type_ + "/" + key + ": a call went to dead letters: the hand-off buffer is full (" +
                                 std::to_string(opts_.handoff_buffer) + " calls)");
    if (message) std::visit([&](const auto& alt) { report_dead_letter<std::decay_t<decltype(alt)>>(*ctx_, dead_letter_reason::mailbox_full); }, *message);
    return true;
  }

  // To the activation here, if there is one. A call with a deadline goes with it (tell_before):
  // if it is still queued behind other calls when its caller gives up, the grain's mailbox drops
  // it unhandled (dead letters, deadline_passed), and so does a durable state grain's stash.
  bool deliver(const std::string& key, std::optional<P>& message, std::int64_t deadline) {
    auto it = active_.find(key);
    if (it == active_.end()) return false;
    if (drop_if_past_deadline(key, message, deadline)) return true;
    it->second.last = clock::now();
    if (!message) return true;
    if (deadline == 0) {
      std::visit([&](auto& alt) { it->second.grain.tell(std::move(alt)); }, *message);
    } else {
      const timer_service::clock::time_point due{timer_service::clock::duration{deadline}};
      std::visit([&](auto& alt) { troupe::tell_before(it->second.grain, std::move(alt), due); }, *message);
    }
    return true;
  }

  // False if the user's factory threw: the registration is given back and the calls dropped,
  // but the service (every other grain of the type on this node) keeps serving.
  bool activate(const std::string& key) {
    if (active_.count(key)) return true;
    auto id = ++activations_;
    std::optional<behavior<P>> b;
    try {
      b.emplace(make_(key));
    } catch (const std::exception& e) {
      ctx_->log(log_level::error, "grain " + type_ + "/" + key + ": its factory threw: " + e.what());
      unregister(key);
      return false;
    }
    auto g = ctx_->spawn(std::move(*b));
    ctx_->watch(g, [key, id](terminated&&) { return grain_stopped{key, id}; });
    active_.emplace(key, activation{g, clock::now(), id});
    core_->count_activations(1);
    return true;
  }

  // On the cluster's thread: the live holder, else the placement's choice (claimed at once if
  // it is this node).
  void resolve(const std::string& key) {
    core_->post([core = core_, type = type_, key, me = ctx_->self(), sharded = opts_.sharded,
                 until = wanted_until(key)](membership_store& s) {
      if (gave_up(*core, *until)) return me.tell(grain_resolved{key, "", "", true});
      auto& cl = core->config().name;
      auto holder = s.lookup_grain(cl, type, key);
      if (!holder) return me.tell(grain_resolved{key, "", holder.error().message()});
      if (*holder && core->is_up(**holder)) return me.tell(grain_resolved{key, **holder, ""});
      auto up = core->up_nodes();
      if (up.empty()) return me.tell(grain_resolved{key, "", "no up member to place it on"});
      auto target = sharded ? hash_placement{}.choose(type, key, up, core->self())
                            : core->place().choose(type, key, up, core->self());
      if (target != core->self()) return me.tell(grain_resolved{key, target, ""});
      core->register_later({type, key}, resolved_by(me, key));
    }, /*batched=*/true);
  }

  void claim(const std::string& key) {
    core_->post([core = core_, type = type_, key, me = ctx_->self(), until = wanted_until(key)](membership_store&) {
      if (gave_up(*core, *until)) return me.tell(grain_resolved{key, "", "", true});
      core->register_later({type, key}, resolved_by(me, key));
    }, /*batched=*/true);
  }

  // Calls waiting for the directory, per key: the latest of their deadlines, which the
  // cluster's thread reads before it does the key's store work. An overloaded node's cluster
  // thread runs behind; once every caller of a key has given up, its lookup and registration
  // (a store write) would only serve calls that are dropped anyway. A call without a deadline,
  // or an activation with no call, is always wanted (wanted_always).
  static constexpr std::int64_t wanted_always = std::numeric_limits<std::int64_t>::max();
  using until_cell = std::shared_ptr<std::atomic<std::int64_t>>;

  void wait_for_directory(const std::string& key, waiting w) {
    auto& until = wanted_until_[key];
    if (!until) until = std::make_shared<std::atomic<std::int64_t>>(0);
    const std::int64_t d = w.deadline == 0 || !w.message ? wanted_always : w.deadline;
    // relaxed: the value is a hint read by the cluster's thread, and the job that reads it is
    // posted after this store (the post's queue publishes it); a later raise that it misses
    // only means its call comes back as `expired` and is resolved again.
    if (until->load(std::memory_order_relaxed) < d) until->store(d, std::memory_order_relaxed);
    pending_[key].push_back(std::move(w));
  }
  until_cell wanted_until(const std::string& key) {
    auto& until = wanted_until_[key];
    if (!until) until = std::make_shared<std::atomic<std::int64_t>>(wanted_always);
    return until;
  }
  static bool gave_up(cluster_core& core, const std::atomic<std::int64_t>& until) {
    const auto u = until.load(std::memory_order_relaxed);  // relaxed: see wait_for_directory
    return u != wanted_always && troupe::timers_of(core.sys()).now().time_since_epoch().count() > u;
  }

  // Tells the service the holder that a registration of `key` found (or why it failed).
  static std::function<void(result<std::string>)> resolved_by(const ref<msg>& me, const std::string& key) {
    return [me, key](result<std::string> winner) {
      if (!winner) return me.tell(grain_resolved{key, "", winner.error().message()});
      me.tell(grain_resolved{key, *winner, ""});
    };
  }

  void unregister(const std::string& key) {
    core_->post([core = core_, type = type_, key](membership_store& s) {
      if (auto r = s.unregister_grain(core->config().name, type, key, core->self()); !r)
        core->log(log_level::warning, "grain " + type + "/" + key + ": unregistering failed: " + r.error().message());
    });
  }

  // To `node`'s service of this type. Calls keep absolute deadlines here, in outbound_ and
  // parked_; tell_remote turns them into the time left as they go.
  void send_to(const std::string& node, msg m) {
    if (node == self()) return tell_whole(ctx_->self(), std::move(m));  // only calls made here
    {
      std::lock_guard lk(links_->mu);
      if (auto it = links_->refs.find(node); it != links_->refs.end()) return tell_remote(it->second, std::move(m));
    }
    auto& queue = outbound_[node];
    queue.push_back(std::move(m));
    if (queue.size() > 1) return;  // a lookup is already on its way
    auto address = core_->address_of(node);
    if (!address && opts_.sharded) {
      // Allocation elsewhere named a member this node has not read yet (it joined a heartbeat
      // ago): wait for this node's member event instead of burning the call's re-routes.
      auto& parked = parked_[node];
      for (auto& m : queue) parked.push_back(std::move(m));
      outbound_.erase(node);
      return;
    }
    if (!address) return ctx_->self().tell(grain_linked{node});  // unknown: the queue is re-routed
    bool asked = look_up_service(node, *address, [node, me = ctx_->self()] { me.tell(grain_linked{node}); });
    if (!asked) ctx_->self().tell(grain_linked{node});  // the cluster stopped: the queue is re-routed
  }

  // Looks up `node`'s service of this type at `address` and keeps the link (if found), then
  // calls `done` on the remote node's thread. False, and nothing asked, once the cluster is gone.
  template <class Done>
  bool look_up_service(const std::string& node, const std::string& address, Done done) {
    return core_->with_node([&](remote::node& n) {
      n.lookup<msg>(grain_service_name(type_), address, std::chrono::seconds(2),
                    [links = links_, node, done = std::move(done)](result<ref<msg>> r) mutable {
                      if (r) {
                        std::lock_guard lk(links->mu);
                        links->refs.insert_or_assign(node, std::move(*r));
                      }
                      done();
                    });
    });
  }

  // Looks up `node`'s service of this type unless it is linked or a lookup is on its way.
  void link_to(const std::string& node) {
    if (node == self() || outbound_.count(node)) return;
    {
      std::lock_guard lk(links_->mu);
      if (links_->refs.count(node)) return;
    }
    if (auto address = core_->address_of(node)) (void)look_up_service(node, *address, [] {});
  }

  std::shared_ptr<cluster_core> core_;
  std::string type_;
  factory make_;
  bool keep_active_;  // a singleton: never deactivated for idleness, started again when it stops
  grain_options<P> opts_;
  actor_context<msg>* ctx_;  // the service's own context: used on its turn only
  std::shared_ptr<links> links_;
  std::map<std::string, activation> active_;
  std::map<std::string, std::vector<waiting>> pending_;  // waiting for the directory
  std::map<std::string, until_cell> wanted_until_;       // for the keys in pending_
  std::map<std::string, owner> owners_;                  // key -> holder, as last learnt
  std::map<std::string, std::vector<msg>> outbound_;     // node -> messages waiting for its lookup
  std::map<std::string, hand_off> handing_off_;          // sharded: keys stopping here for a move
  std::map<std::string, std::vector<msg>> parked_;       // sharded: node not read yet -> its messages
  std::uint64_t activations_ = 0;
  bool serving_ = true;
  std::string why_not_serving_;
  std::optional<std::string> logged_not_serving_;  // the reason last logged for a dropped call
  incident rerouted_;      // calls dropped after max_hops re-routes
  incident handoff_full_;  // sharded: calls beyond a hand-off buffer, to dead letters
  incident redirect_lost_;  // redirects whose caller's node could not be looked up
  incident past_deadline_{"grain " + type_, "call(s) dropped unrun: their callers' deadlines had passed (dead letters, deadline_passed)"};
};

/// The behaviour of the service of grain type `type` (spawned by cluster::register_grain).
template <class P>
behavior<grain_service_msg<P>> grain_service_behavior(std::shared_ptr<cluster_core> core, std::string type,
                                                      typename grain_service<P>::factory make, grain_options<P> opts) {
  using msg = grain_service_msg<P>;
  return troupe::setup<msg>([core, type, make, opts](actor_context<msg>& ctx) {
    auto svc = std::make_shared<grain_service<P>>(core, type, make, opts, ctx);
    svc->start();
    return troupe::receive<msg>([svc](const auto& m) {
      auto copy = m;
      svc->on(copy);
      return troupe::same;
    });
  });
}

}  // namespace troupe::cluster::detail
