// shard.hpp: the actor that is one shard of a sharded entity type on one node; not for user code.
// To the grain service it is a grain whose key is the shard number; it owns the shard's entities
// as its children (one per entity id, spawned on its first message). Hand-off stops it in order:
// it first forwards every envelope queued before the hand-off, then tells each entity the stop
// message (behind the entity's own queue) or stops it, and stops itself once the last entity has
// stopped (or, at the hand-off timeout, stops the rest ahead of their queues).
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
};
struct shard_handoff_timeout {};

template <class P>
using shard_msg = std::variant<shard_envelope<P>, shard_handoff, shard_entity_stopped, shard_handoff_timeout>;

/// What every shard of one entity type shares (immutable once the region starts).
template <class P>
struct shard_settings {
  std::string type;
  std::function<behavior<P>(const std::string& id)> make;
  std::optional<P> stop_message;
  std::chrono::nanoseconds handoff_timeout;
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
    return troupe::receive<msg>([st, c, cfg, where](const auto& m) {
      using M = std::decay_t<decltype(m)>;
      if constexpr (std::is_same_v<M, shard_envelope<P>>) {
        auto it = st->entities.find(m.entity);
        if (it == st->entities.end()) {
          if (st->handing_off) {  // never expected: the service buffers once it sent the hand-off
            report_dead_letter<P>(*c, dead_letter_reason::receiver_stopped);
            return troupe::same;
          }
          std::optional<behavior<P>> b;
          try {
            b.emplace(cfg->make(m.entity));
          } catch (const std::exception& e) {
            c->log(log_level::error, where() + ": the factory of entity '" + m.entity + "' threw: " + e.what());
            report_dead_letter<P>(*c, dead_letter_reason::receiver_stopped);
            return troupe::same;
          }
          auto inc = ++st->incarnations;
          auto a = c->spawn(std::move(*b));
          c->watch(a, [id = m.entity, inc](terminated&&) { return shard_entity_stopped{id, inc}; });
          it = st->entities.emplace(m.entity, entity{a, inc}).first;
        }
        std::visit([&](const auto& alt) { it->second.actor.tell(alt); }, m.message);
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
        if (it != st->entities.end() && it->second.incarnation == m.incarnation) st->entities.erase(it);
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
