// error.hpp: the failures the io layer reports through troupe::result.
// A refused or timed-out connect, a full write queue, a write to a closed connection, a frame
// over the size limit, a failed TLS handshake: each is an `io::errc` in `io::error_category()`,
// wrapped in a `troupe::error` with the context a person needs. Any thread may use these.
#pragma once

#include <system_error>

#include "troupe/core/result.hpp"

namespace troupe::io {

/// What went wrong in the io layer. Socket errors from the operating system keep their own
/// category (`std::system_category()`); these are troupe's.
///
///     troupe::result<void> r = conn.write("hello");
///     if (!r && r.error() == troupe::io::errc::write_queue_full) { /* slow peer */ }
enum class errc {
  write_queue_full = 1,  ///< the connection's bounded write queue has no room for this frame
  closed,                ///< the connection is closed (by either side, or by the runtime)
  frame_too_large,       ///< a frame is over the codec's max_frame
  connect_timeout,       ///< connect did not complete within its timeout
  tls_handshake_failed,  ///< the TLS handshake failed (bad certificate, wrong host, not TLS)
  bad_address,           ///< an address that does not parse as IPv4 or IPv6
  bad_frame,             ///< a frame the codec cannot carry (a line frame holding '\n')
};

/// The `std::error_category` of `io::errc`.
const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

/// `r.error() == troupe::io::errc::closed`, as for troupe::errc.
inline bool operator==(const troupe::error& e, errc c) noexcept { return e.code() == make_error_code(c); }

}  // namespace troupe::io

template <>
struct std::is_error_code_enum<troupe::io::errc> : std::true_type {};
