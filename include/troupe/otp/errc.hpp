// errc.hpp: the failures the OTP behaviours report, beside core's troupe::errc.
// They travel in the same troupe::error and troupe::result as core's codes; their category is
// troupe::otp::error_category(). Any thread may compare or print them.
// Timeouts and dead servers are core's codes (errc::timeout, errc::receiver_dead): a call is an ask.
#pragma once

#include <string>
#include <system_error>
#include <type_traits>

#include "troupe/core/result.hpp"

namespace troupe::otp {

/// Failures of the otp layer's behaviours.
///
///     if (auto r = buffer.stash(std::move(msg)); !r && r.error() == troupe::otp::errc::stash_full) ...
enum class errc {
  stash_full = 1,   ///< a bounded stash already holds its capacity
  no_such_handler,  ///< an event manager has no handler under the given id
  handler_exists,   ///< an event manager already has a handler under the given id
  handler_failed,   ///< an event handler threw while serving a call; it has been removed
};

/// The `std::error_category` of `troupe::otp::errc`.
const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

/// True when `e` holds the otp code `c`.
inline bool operator==(const troupe::error& e, errc c) noexcept { return e.code() == make_error_code(c); }

}  // namespace troupe::otp

template <>
struct std::is_error_code_enum<troupe::otp::errc> : std::true_type {};
