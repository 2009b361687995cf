// value_codec.hpp: how a persistent actor turns its events and state into stored bytes and back.
// The persistence layer does not serialize: a value_codec binds it to the project's one
// serializer (troupe::serial; see serial_codec.hpp), and decides the manifest (type name) and
// version stored with each value. decode() receives what was stored, any version, and returns
// the current type, lifting old versions with upcasters, or an error (unknown type, missing
// upcaster, corrupt bytes) that stops recovery. Immutable once built; any thread.
#pragma once

#include <cstdint>
#include <string>

#include "troupe/core/result.hpp"
#include "troupe/persistence/records.hpp"

namespace troupe::persistence {

/// A value as stored: its type's name, the version of that type, and its bytes.
struct encoded_value {
  std::string manifest;
  std::uint32_t version = 1;
  bytes payload;
};

/// Encodes and decodes values of T for storage.
///
///     std::shared_ptr<const value_codec<account_event>> c = persistence::serial_codec<account_event>(registry);
template <class T>
class value_codec {
 public:
  virtual ~value_codec() = default;
  virtual result<encoded_value> encode(const T& value) const = 0;
  /// The current T for what was stored under `manifest` and `version`.
  virtual result<T> decode(const std::string& manifest, std::uint32_t version, const bytes& payload) const = 0;
};

}  // namespace troupe::persistence
