// decode_limits.hpp: how much one decoded value may claim, whatever its bytes say.
// A reader checks every declared length against the input left and against these limits
// before it allocates anything, and counts what all containers of one value allocate together,
// so a few bytes of hostile input cannot make it allocate gigabytes. Plain values; copy freely.
#pragma once

#include <cstddef>

namespace troupe::serial {

/// The limits a reader enforces while decoding one value (usually one message).
///
///     troupe::serial::decode_limits tight{.max_length = 4096, .max_total = 1 << 20};
///     troupe::serial::registry reg{tight};
struct decode_limits {
  /// The most bytes of one string, or elements of one container (vector, map, ...).
  std::size_t max_length = std::size_t{64} << 20;
  /// The most bytes that the strings and containers of one value may allocate together
  /// (counted as elements x sizeof(element), map nodes with their overhead).
  std::size_t max_total = std::size_t{256} << 20;
  /// The deepest nesting of structs, containers, optionals and variants.
  std::size_t max_depth = 64;
};

}  // namespace troupe::serial
