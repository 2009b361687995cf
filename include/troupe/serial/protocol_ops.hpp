// protocol_ops.hpp: one protocol's codec with its type erased, for code that learns the
// protocol at run time. The remote layer receives (target, protocol fingerprint, message) and
// finds the protocol in a registry (only registered ones are found: the allow-list); a proxy
// ref of protocol P encodes what is told to it through the same table. One immutable table per
// protocol, shared by all threads; `protocol_ops_of<P>()` (defined in codec.hpp) returns it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "troupe/core/detail/envelope.hpp"

namespace troupe::serial {

class reader;
class writer;

/// One message type of a protocol, as the wire names it.
struct message_info {
  std::uint64_t type_id;      ///< type_id_of<M>(): the hash of its name
  std::uint64_t fingerprint;  ///< fingerprint_of<M>(): the hash of its structure
  std::string_view name;      ///< type_name_of<M>()
};

/// The type-erased codec of protocol P (a std::variant of messages, or one message type).
/// Every function writes or reads a whole message: its header (type id, fingerprint) and its
/// fields. Failures are left in the writer or reader (ok() false, error()).
///
///     const troupe::serial::protocol_ops& ops = troupe::serial::protocol_ops_of<shop_msg>();
///     ops.encode(w, &msg);                      // msg is a shop_msg
///     troupe::serial::envelope_ptr e = ops.decode_envelope(r);
///     if (e) target->enqueue(e.release());      // a user_envelope<shop_msg>
struct protocol_ops {
  std::uint64_t fingerprint;               ///< protocol_fingerprint_of<P>()
  std::string_view name;                   ///< type_name_of<P>()
  std::span<const message_info> messages;  ///< one per alternative, in the variant's order
  /// Writes the message in `*message`, a P.
  void (*encode)(writer& out, const void* message);
  /// Writes the message carried by `*e`, a troupe::detail::user_envelope<P>.
  void (*encode_envelope)(writer& out, const troupe::detail::envelope* e);
  /// Reads a message into `*out`, a P; false on failure.
  bool (*decode)(reader& in, void* out);
  /// Reads a message into a new troupe::detail::user_envelope<P> from the message pool; nullptr on failure.
  troupe::detail::envelope* (*decode_envelope_raw)(reader& in);
  /// Frees an envelope made by decode_envelope_raw that was never enqueued.
  void (*destroy_envelope)(troupe::detail::envelope* e) noexcept;
};

/// Frees an undelivered envelope of a protocol with that protocol's destroy_envelope.
struct envelope_deleter {
  const protocol_ops* ops = nullptr;
  void operator()(troupe::detail::envelope* e) const noexcept {
    if (e && ops) ops->destroy_envelope(e);
  }
};
/// A decoded message in its envelope, ready for `endpoint::enqueue(p.release())`.
using envelope_ptr = std::unique_ptr<troupe::detail::envelope, envelope_deleter>;

/// The table of protocol P; the same object for every call.
template <class P>
const protocol_ops& protocol_ops_of() noexcept;

}  // namespace troupe::serial
