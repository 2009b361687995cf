// errc.hpp: the failures the remote layer reports, beside core's troupe::errc.
// They travel in the same troupe::error and troupe::result as core's codes; their category is
// troupe::remote::error_category(). Any thread may compare or print them. A dead remote actor
// is still core's errc::receiver_dead; these codes are about nodes and the wire between them.
#pragma once

#include <system_error>
#include <type_traits>

#include "troupe/core/result.hpp"

namespace troupe::remote {

/// Failures of nodes, connections and the wire.
///
///     auto up = node.connect("b@127.0.0.1:7001").get();
///     if (!up && up.error() == troupe::remote::errc::handshake_failed) check_the_cookies();
enum class errc {
  node_down = 1,     ///< the node was, or went, down before the operation completed
  bad_address,       ///< an address that is not "name@host:port"
  handshake_failed,  ///< the peer failed the cookie challenge or refused ours
  wrong_version,     ///< the peer speaks no wire version this node speaks
  send_queue_full,   ///< the connection's bounded send queue has no room for the message
  message_too_large, ///< a message over node_config::max_message
  stopped,           ///< the node has been stopped
};

/// The `std::error_category` of `troupe::remote::errc`.
const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

/// True when `e` holds the remote code `c`.
inline bool operator==(const troupe::error& e, errc c) noexcept { return e.code() == make_error_code(c); }

}  // namespace troupe::remote

template <>
struct std::is_error_code_enum<troupe::remote::errc> : std::true_type {};
