// ref_context.hpp: how a ref<P> inside a message crosses a process boundary.
// Serial cannot know what a ref means elsewhere: the remote layer turns a local ref into
// (node, id) and a (node, id) back into a proxy ref. So a writer or reader carries an optional
// ref_context, and the codec of ref<P> calls it with P's protocol_ops (fingerprint, name,
// codec). Without a context, a non-empty ref is an errc::no_ref_context failure, never a crash;
// an empty ref needs none. Called on the thread that encodes or decodes.
#pragma once

#include "troupe/core/detail/endpoint.hpp"
#include "troupe/core/result.hpp"
#include "troupe/serial/protocol_ops.hpp"

namespace troupe::serial {

class reader;
class writer;

/// Exports refs into encoded messages and resolves them back; implemented by the remote layer
/// (and by tests). The bytes a context writes for a ref are its own business: serial only
/// frames them (see docs/serial.md).
///
///     class by_index final : public troupe::serial::ref_context {
///       troupe::result<void> encode_ref(troupe::serial::writer& w, const endpoint_ptr& target,
///                                       const troupe::serial::protocol_ops&) override {
///         w.put_varint(table.size()); table.push_back(target); return {};
///       }
///       ...
///     };
class ref_context {
 public:
  /// A counted pointer to what a ref points at (an actor's cell, a reply slot, a proxy).
  using endpoint_ptr = troupe::detail::counted<troupe::detail::endpoint>;

  /// Writes what identifies `target`, a ref of the protocol `protocol`, to a reader elsewhere.
  /// `target` is never empty. An error fails the whole encoding with it.
  virtual result<void> encode_ref(writer& out, const endpoint_ptr& target, const protocol_ops& protocol) = 0;
  /// Reads what encode_ref wrote and returns the endpoint for a ref<P> of the protocol
  /// `protocol` (a proxy, or a local actor's, after checking that it speaks `protocol`). Must
  /// check everything it reads: the bytes are untrusted. An error fails the whole decoding.
  virtual result<endpoint_ptr> decode_ref(reader& in, const protocol_ops& protocol) = 0;

 protected:
  ~ref_context() = default;
};

}  // namespace troupe::serial
