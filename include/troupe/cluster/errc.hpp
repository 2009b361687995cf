// errc.hpp: the failures the cluster layer reports, beside core's and remote's codes.
// They travel in troupe::error and troupe::result; their category is
// troupe::cluster::error_category(). Any thread may compare or print them. A store that cannot
// be reached, a node voted out of the cluster and a grain type nobody registered are the
// failures a caller plans for; a grain's own failures are its actor's (core's receiver_dead).
#pragma once

#include <system_error>
#include <type_traits>

#include "troupe/core/result.hpp"

namespace troupe::cluster {

/// Failures of the membership store, of membership and of grains.
///
///     auto s = troupe::cluster::membership_store::open_sqlite("/tmp/app.cluster");
///     if (!s && s.error() == troupe::cluster::errc::store_unavailable) check_the_path();
enum class errc {
  store_unavailable = 1,  ///< the membership store cannot be opened or reached
  store_error,            ///< any other failure of the store; the text says which
  not_a_member,           ///< this node is not (or no longer) an up member: it was voted out or left
  no_members,             ///< no up member to place a grain on
  unknown_grain_type,     ///< no grain of that type (or with that protocol) was registered
  stopped,                ///< the cluster object has been stopped
};

/// The `std::error_category` of `troupe::cluster::errc`.
const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

/// True when `e` holds the cluster code `c`.
inline bool operator==(const troupe::error& e, errc c) noexcept { return e.code() == make_error_code(c); }

}  // namespace troupe::cluster

template <>
struct std::is_error_code_enum<troupe::cluster::errc> : std::true_type {};
