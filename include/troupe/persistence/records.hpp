// records.hpp: what a journal stores: events, snapshots and durable states, as bytes.
// A journal never interprets a payload: the serializer (troupe::serial) turns a typed event into
// bytes plus a manifest (its registered type name) and a version, and back. Records are plain
// values, moved between threads, never shared mutable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace troupe::persistence {

/// The bytes of one serialized value: a std::string, as troupe::serial writes and reads them,
/// so that no copy is made between the serializer and the store.
using bytes = std::string;

/// One event of one persistent entity, as the journal stores it.
///
///     persistent_event e{.persistence_id = "account-7", .sequence_nr = 1,
///                        .manifest = "deposited", .version = 1, .payload = bytes_of(d)};
struct persistent_event {
  std::string persistence_id;
  /// 1 for an entity's first event, then consecutive.
  std::uint64_t sequence_nr = 0;
  /// The event's registered type name; the serializer picks the decoder by it.
  std::string manifest;
  /// The version of the event's type that wrote it; an upcaster lifts older ones on replay.
  std::uint32_t version = 1;
  std::vector<std::string> tags;
  bytes payload;
  /// The journal's global order of appends (set by the journal; 0 before); offsets for
  /// events by tag. Increasing in commit order within one journal, with gaps.
  std::uint64_t offset = 0;

  friend bool operator==(const persistent_event&, const persistent_event&) = default;
};

/// The state of one entity after the event with `sequence_nr`, saved to shorten recovery.
///
///     snapshot s{.persistence_id = "account-7", .sequence_nr = 100, .manifest = "account", .payload = b};
struct snapshot {
  std::string persistence_id;
  std::uint64_t sequence_nr = 0;
  std::string manifest;
  std::uint32_t version = 1;
  bytes payload;

  friend bool operator==(const snapshot&, const snapshot&) = default;
};

/// The whole state of one entity with its revision (durable state, Orleans' grain state).
/// Revision 1 is the first save; each save increments it.
///
///     durable_state s{.persistence_id = "cart-3", .revision = 4, .manifest = "cart", .payload = b};
struct durable_state {
  std::string persistence_id;
  std::uint64_t revision = 0;
  std::string manifest;
  std::uint32_t version = 1;
  bytes payload;

  friend bool operator==(const durable_state&, const durable_state&) = default;
};

/// One request to append events to one entity: all of them or none.
///
///     write_request w{.persistence_id = "account-7", .expected_next = 4, .events = {e4, e5}};
struct write_request {
  std::string persistence_id;
  /// The sequence number the first event must get: the journal's highest for this id plus one,
  /// or the write fails with errc::sequence_conflict (two writers of one id cannot both win).
  std::uint64_t expected_next = 1;
  /// Their sequence numbers must be expected_next, expected_next + 1, ...
  std::vector<persistent_event> events;
};

}  // namespace troupe::persistence
