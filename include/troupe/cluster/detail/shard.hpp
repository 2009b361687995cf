// shard.hpp: the actor that is one shard of a sharded entity type on one node; not for user code.
// To the grain service it is a grain whose key is the shard number; it owns the shard's entities
// as its children (one per entity id, spawned on its first message). Hand-off stops it in order:
// it first forwards every envelope queued before the hand-off, then tells each entity the stop
// message (behind the entity's own queue) or stops it, and stops itself once the last entity has
// stopped (or, at the hand-off timeout, stops the rest ahead of their queues). With
// remember-entities it starts, as it starts, the entities the store remembers for it, records each
// entity it starts, and forgets one that stops itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "troupe/core/actor_context.hpp"
#include "troupe/core/behavior.hpp"
#include "troupe/core/extension.hpp"

namespace troupe::cluster::detail {

/// A message for entity `entity` of the shard (the only alternative that crosses the wire; the
/// others are plain structs because the protocol is serialized whole).
template <class P>
struct shard_envelope {
  std::string entity;
  P message;
};
struct shard_handoff {};
struct shard_entity_stopped {
  std::string entity;
  std::uint64_t incarnation = 0;
  bool failed = false;  // it crashed (stays remembered) rather than stopped itself
};
struct shard_handoff_timeout {};
struct shard_remembered {  // remember-entities: the entities the store remembers for this shard
  std::vector<std::string> entities;
};

template <class P>
using shard_msg =
    std::variant<shard_envelope<P>, shard_handoff, shard_entity_stopped, shard_handoff_timeout, shard_remembered>;

/// Remember-entities: how a shard reaches the store (through the cluster's thread). All null
/// when the type does not remember its entities.
struct shard_memory {
  /// Calls `done` (on the cluster's thread) with the entities remembered in `shard`.
  std::function<void(const std::string& shard, std::function<void(std::vector<std::string>)> done)> load;
  std::function<void(const std::string& shard, const std::string& entity)> remember;
  std::function<void(const std::string& shard, const std::string& entity)> forget;
};

/// What every shard of one entity type shares (immutable once the region starts).
template <class P>
struct shard_settings {
  std::string type;
  std::function<behavior<P>(const std::string& id)> make;
  std::optional<P> stop_message;
  std::chrono::nanoseconds handoff_timeout;
  shard_memory memory{};
};

/// The behaviour of shard `shard` of an entity type.
template <class P>
behavior<shard_msg<P>> shard_behavior(std::shared_ptr<const shard_settings<P>> cfg, std::string shard) {
  using msg = shard_msg<P>;
  return troupe::setup<msg>([cfg, shard](actor_context<msg>& ctx) {
    struct entity {
      ref<P> actor;
      std::uint64_t incarnation;
    };
    struct state {
      std::map<std::string, entity> entities;
      std::uint64_t incarnations = 0;
      bool handing_off = false;
    };
    auto st = std::make_shared<state>();
    auto* c = &ctx;  // the shard's own context, used on its turns only
    auto where = [cfg, shard] { return "shard " + cfg->type + "/" + shard; };
    // Starts entity `id` here; false if its factory threw.
    auto start = [st, c, cfg, where](const std::string& id) {
      std::optional<behavior<P>> b;
      try {
        b.emplace(cfg->make(id));
      } catch (const std::exception& e) {
        c->log(log_level::error, where() + ": the factory of entity '" + id + "' threw: " + e.what());
        return false;
      }
      auto inc = ++st->incarnations;
      auto a = c->spawn(std::move(*b));
      c->watch(a, [id, inc](terminated&& t) { return shard_entity_stopped{id, inc, t.reason.is_failure()}; });
      st->entities.emplace(id, entity{a, inc});
      return true;
    };
    // Remember-entities: the entities this shard ran before, wherever it ran, start now.
    if (cfg->memory.load)
      cfg->memory.load(shard, [me = c->self()](std::vector<std::string> ids) { me.tell(shard_remembered{std::move(ids)}); });
    return troupe::receive<msg>([st, c, cfg, where, start, shard](const auto& m) {
      using M = std::decay_t<decltype(m)>;
      if constexpr (std::is_same_v<M, shard_envelope<P>>) {
        auto it = st->entities.find(m.entity);
        if (it == st->entities.end()) {
          if (st->handing_off) {  // never expected: the service buffers once it sent the hand-off
            report_dead_letter<P>(*c, dead_letter_reason::receiver_stopped);
            return troupe::same;
          }
          if (!start(m.entity)) {
            report_dead_letter<P>(*c, dead_letter_reason::receiver_stopped);
            return troupe::same;
          }
          if (cfg->memory.remember) cfg->memory.remember(shard, m.entity);
          it = st->entities.find(m.entity);
        }
        // A call's deadline (its caller's ask) goes on to the entity's mailbox (tell_before).
        if (auto due = troupe::deadline_of_message(*c); due != timer_service::clock::time_point::max())
          std::visit([&](const auto& alt) { troupe::tell_before(it->second.actor, alt, due); }, m.message);
        else
          std::visit([&](const auto& alt) { it->second.actor.tell(alt); }, m.message);
      } else if constexpr (std::is_same_v<M, shard_remembered>) {
        if (st->handing_off) return troupe::same;
        std::size_t started = 0;
        for (auto& id : m.entities)
          if (!st->entities.count(id) && start(id)) ++started;
        if (started) c->log(log_level::debug, where() + ": " + std::to_string(started) + " remembered entity(ies) started");
      } else if constexpr (std::is_same_v<M, shard_handoff>) {
        if (st->handing_off) return troupe::same;
        st->handing_off = true;
        if (st->entities.empty()) {
          c->stop();
          return troupe::same;
        }
        for (auto& kv : st->entities) {  // not a structured binding: clang 14 cannot capture one
          const ref<P>& actor = kv.second.actor;
          if (cfg->stop_message) std::visit([&](const auto& alt) { actor.tell(alt); }, *cfg->stop_message);
          else c->stop(actor);
        }
        c->start_timer("handoff", shard_handoff_timeout{}, cfg->handoff_timeout, troupe::timer_mode::single);
      } else if constexpr (std::is_same_v<M, shard_entity_stopped>) {
        auto it = st->entities.find(m.entity);
        if (it != st->entities.end() && it->second.incarnation == m.incarnation) {
          st->entities.erase(it);
          // Stopped by itself (passivation), not by a hand-off or a crash: not started again.
          if (!st->handing_off && !m.failed && cfg->memory.forget) cfg->memory.forget(shard, m.entity);
        }
        if (st->handing_off && st->entities.empty()) c->stop();
      } else {
        c->log(log_level::warning, where() + ": " + std::to_string(st->entities.size()) +
                                       " entity(ies) still running at the hand-off timeout: stopped ahead of their queues");
        for (auto& [id, e] : st->entities) c->stop(e.actor);
      }
      return troupe::same;
    });
  });
}

}  // namespace troupe::cluster::detail
