// hash.hpp: the compile-time 64-bit hash behind type ids and schema fingerprints (FNV-1a).
// Fixed forever: changing it changes every id and fingerprint on the wire and in journals.
#pragma once

#include <cstdint>
#include <string_view>

namespace troupe::serial::detail {

inline constexpr std::uint64_t fnv_offset = 0xcbf29ce484222325ull;
inline constexpr std::uint64_t fnv_prime = 0x100000001b3ull;

/// FNV-1a of `s`, continuing from `h`.
constexpr std::uint64_t hash_text(std::string_view s, std::uint64_t h = fnv_offset) noexcept {
  for (char c : s) {
    h ^= static_cast<std::uint8_t>(c);
    h *= fnv_prime;
  }
  return h;
}

/// Folds the 8 bytes of `v` (low first) into `h`.
constexpr std::uint64_t mix(std::uint64_t h, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) {
    h ^= static_cast<std::uint8_t>(v >> (8 * i));
    h *= fnv_prime;
  }
  return h;
}

/// The fingerprint of a kind of value with no parameters ("string", "bool", ...).
constexpr std::uint64_t tag(std::string_view kind) noexcept { return hash_text(kind); }

}  // namespace troupe::serial::detail
