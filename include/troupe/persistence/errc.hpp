// errc.hpp: the failures the persistence layer reports, beside core's troupe::errc.
// They travel in troupe::error and troupe::result; their category is
// troupe::persistence::error_category(). A journal never hangs a caller: a journal that is down,
// full, closed or overloaded answers with one of these codes.
#pragma once

#include <string>
#include <system_error>
#include <type_traits>

#include "troupe/core/result.hpp"

namespace troupe::persistence {

/// Failures of journals, snapshot stores, durable state stores and persistent actors.
///
///     if (!r && r.error() == troupe::persistence::errc::sequence_conflict) ... // another writer won
enum class errc {
  unavailable = 1,     ///< the store cannot be reached (file cannot be opened, server down)
  storage_full,        ///< the store refused the write for lack of space
  sequence_conflict,   ///< the expected next sequence number was not the journal's next one
  revision_conflict,   ///< a durable state save named a stale revision
  corrupt,             ///< a stored row cannot be read back as what it claims to be
  overloaded,          ///< the journal's queue is at its bound; the request was not taken
  closed,              ///< the journal has been closed
  storage_error,       ///< any other failure of the store; the text says which
  unknown_event,       ///< a recovered event's type is not registered
  missing_upcaster,    ///< a recovered event has an old version and no upcaster for it
};

/// The `std::error_category` of `troupe::persistence::errc`.
const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

/// True when `e` holds the persistence code `c`.
inline bool operator==(const troupe::error& e, errc c) noexcept { return e.code() == make_error_code(c); }

}  // namespace troupe::persistence

template <>
struct std::is_error_code_enum<troupe::persistence::errc> : std::true_type {};
