// bank_account.hpp: the event-sourced bank account that the persistence tests, the kill -9
// helper and the example share: commands, events (deposited is at version 2; version 1 had no
// memo and is read through an upcaster), state, and the two handlers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "troupe/core/ref.hpp"
#include "troupe/persistence/effect.hpp"
#include "troupe/persistence/event_sourced.hpp"
#include "troupe/persistence/serial_codec.hpp"

namespace bank {

struct deposited {
  static constexpr std::uint32_t version = 2;
  long cents;
  std::string memo;
};
struct withdrawn {
  long cents;
};
using event = std::variant<deposited, withdrawn>;

namespace v1 {
// What `deposited` was before it had a memo; journals written then hold it.
struct deposited {
  long cents;
};
using event = std::variant<deposited, withdrawn>;
}  // namespace v1
}  // namespace bank

// v1::deposited was written under the name `deposited` had then.
template <>
struct troupe::serial::type_name<bank::v1::deposited> {
  static constexpr std::string_view value = "bank::deposited";
};

namespace bank {

struct account {
  long cents = 0;
  std::uint64_t operations = 0;
};

struct deposit {
  long cents;
  troupe::ref<long> reply_to;  // the balance, once the deposit is durable
};
struct withdraw {
  long cents;
  troupe::ref<long> reply_to;  // the balance, or -1 if the funds were short
};
struct deposit_async {
  long cents;
  troupe::ref<long> reply_to;  // the balance after this deposit, once durable
};
struct get_balance {
  troupe::ref<long> reply_to;
};
struct close_account {};
using command = std::variant<deposit, withdraw, get_balance, close_account, deposit_async>;

using fx = troupe::persistence::effect<event, account>;

inline fx handle(const account& a, const command& c) {
  return std::visit(
      [&](const auto& m) -> fx {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, deposit>) {
          return fx::persist(deposited{m.cents, ""}).then_reply(m.reply_to, [](const account& s) { return s.cents; });
        } else if constexpr (std::is_same_v<M, deposit_async>) {
          return fx::persist_async(deposited{m.cents, ""}).then_reply(m.reply_to, [](const account& s) { return s.cents; });
        } else if constexpr (std::is_same_v<M, withdraw>) {
          if (a.cents < m.cents) return fx::none().then_reply(m.reply_to, [](const account&) { return -1L; });
          return fx::persist(withdrawn{m.cents}).then_reply(m.reply_to, [](const account& s) { return s.cents; });
        } else if constexpr (std::is_same_v<M, get_balance>) {
          return fx::none().then_reply(m.reply_to, [](const account& s) { return s.cents; });
        } else {
          return fx::stop();
        }
      },
      c);
}

inline account apply(account a, const event& e) {
  std::visit(
      [&](const auto& ev) {
        using E = std::decay_t<decltype(ev)>;
        if constexpr (std::is_same_v<E, deposited>)
          a.cents += ev.cents;
        else
          a.cents -= ev.cents;
      },
      e);
  ++a.operations;
  return a;
}

/// The current program's codec: version 1 deposits are lifted with an empty memo.
inline std::shared_ptr<troupe::persistence::serial_codec<event>> event_codec(bool with_upcaster = true) {
  auto c = std::make_shared<troupe::persistence::serial_codec<event>>();
  if (with_upcaster) c->upcast<v1::deposited>([](v1::deposited d) { return deposited{d.cents, "(before memos)"}; });
  return c;
}

inline troupe::persistence::event_sourced_spec<command, event, account> spec(
    std::string id, std::shared_ptr<troupe::persistence::journal> j, troupe::persistence::snapshot_policy snaps = {}) {
  return {.persistence_id = std::move(id),
          .journal = std::move(j),
          .events = event_codec(),
          .states = std::make_shared<troupe::persistence::serial_codec<account>>(),
          .on_command = handle,
          .on_event = apply,
          .snapshots = snaps,
          .tags = [](const event&) { return std::vector<std::string>{"bank"}; }};
}

}  // namespace bank
