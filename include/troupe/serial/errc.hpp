// errc.hpp: the failures the serial layer reports through troupe::result.
// Decoding never throws and never trusts its input: truncated or garbage bytes, a length over
// the input or the limits, an unknown or unregistered type, a changed schema, each is a
// `serial::errc` in `serial::error_category()`, wrapped in a `troupe::error` whose text names
// the type and the byte offset. Any thread may use these.
#pragma once

#include <system_error>
#include <type_traits>

#include "troupe/core/result.hpp"

namespace troupe::serial {

/// What went wrong while encoding or decoding.
///
///     troupe::result<shop_msg> m = reg.decode<shop_msg>(bytes);
///     if (!m && m.error() == troupe::serial::errc::fingerprint_mismatch) { /* peer runs another build */ }
enum class errc {
  truncated = 1,          ///< the input ended inside a value
  bad_length,             ///< a declared length or count is more than the input left can hold
  limit_exceeded,         ///< a length, count or total allocation is over the decode_limits
  too_deep,               ///< values nested deeper than decode_limits::max_depth
  bad_varint,             ///< a varint longer than 10 bytes, overflowing, or not in shortest form
  invalid_value,          ///< a bool not 0/1, an unnamed enum value, an integer out of its type's range, a repeated map key
  invalid_variant_index,  ///< a variant's index past its last alternative
  unknown_type,           ///< a type id that is not a message of the protocol
  not_registered,         ///< the protocol is not in the registry (the allow-list)
  fingerprint_mismatch,   ///< the message's schema fingerprint differs from this program's
  trailing_bytes,         ///< bytes left over after a whole message
  no_ref_context,         ///< a non-empty ref to encode or decode, but no ref_context to do it
  bad_ref,                ///< the ref_context could not resolve or export a ref
  duplicate_type_id,      ///< two messages of one protocol have the same type id (name)
};

/// The `std::error_category` of `serial::errc` ("troupe.serial").
const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

/// `r.error() == troupe::serial::errc::truncated`, as for troupe::errc.
inline bool operator==(const troupe::error& e, errc c) noexcept { return e.code() == make_error_code(c); }

}  // namespace troupe::serial

template <>
struct std::is_error_code_enum<troupe::serial::errc> : std::true_type {};
