// registry.hpp: the allow-list of protocols a program agrees to decode, and the entry point for
// encoding and decoding whole messages. Decoding reads a type id from untrusted bytes; only the
// messages of registered protocols can come out (Akka's CVE-2017-1000034 came from decoding any
// class a peer named). No global state: each system or node holds its own registry.
// Register everything first (add() is not thread-safe); afterwards the const functions may be
// called from any number of threads at once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "troupe/core/protocol.hpp"
#include "troupe/core/result.hpp"
#include "troupe/serial/codec.hpp"
#include "troupe/serial/decode_limits.hpp"
#include "troupe/serial/errc.hpp"
#include "troupe/serial/protocol_ops.hpp"
#include "troupe/serial/reader.hpp"
#include "troupe/serial/ref_context.hpp"
#include "troupe/serial/writer.hpp"

namespace troupe::serial {

/// The protocols a program may decode, by protocol fingerprint.
///
///     troupe::serial::registry reg;
///     (void)reg.add<shop_msg>();                        // std::variant<order, cancel>
///     std::string buf;
///     troupe::serial::writer w{buf};
///     (void)reg.encode<shop_msg>(order{42, "socks"}, w);
///     troupe::result<shop_msg> back = reg.decode<shop_msg>(buf);
class registry {
 public:
  /// `limits` bound decode(bytes); decode(reader&) uses the reader's own.
  explicit registry(decode_limits limits = {}) : limits_(limits) {}

  /// Allows protocol P (a std::variant of messages, or one message type) to be decoded. Adding
  /// it again does nothing. Fails with errc::duplicate_type_id if a different protocol with
  /// the same fingerprint (the same messages) is registered.
  template <class P>
  result<void> add() {
    return add(protocol_ops_of<P>());
  }
  /// As add<P>(), given P's table.
  result<void> add(const protocol_ops& protocol);

  /// True when P is registered.
  template <class P>
  bool contains() const noexcept {
    return find(protocol_fingerprint_of<P>()) == &protocol_ops_of<P>();
  }
  /// The registered protocol with this fingerprint, or nullptr: the allow-list check for code
  /// that learns the protocol from the input (the remote layer).
  const protocol_ops* find(std::uint64_t protocol_fingerprint) const noexcept {
    auto it = protocols_.find(protocol_fingerprint);
    return it == protocols_.end() ? nullptr : it->second;
  }

  /// Appends message `m` (an alternative of P, or a P) to `out`: type id, fingerprint, fields.
  /// Fails with errc::not_registered if P is not registered, errc::no_ref_context for a ref
  /// without a context, or a custom codec's error; on failure `out`'s buffer is as before.
  template <class P, class M>
    requires std::is_same_v<M, P> || accepts<P, M>
  result<void> encode(const M& m, writer& out) const {
    if (!contains<P>()) return not_registered(type_name_of<P>());
    if (!out.ok()) return out.error();  // a failure of an earlier write stays the caller's
    const std::size_t start = out.size();
    if constexpr (std::is_same_v<M, P>)
      detail::encode_protocol<P>(out, m);
    else
      detail::encode_message<P>(out, m);
    if (out.ok()) return {};
    troupe::error e = out.error();
    out.buffer().resize(start);
    out.clear_error();
    return e;
  }

  /// Reads one message of P from `in` (leaving what follows it unread). Fails with
  /// errc::not_registered, unknown_type, fingerprint_mismatch, or the error of the bad byte.
  template <class P>
  result<P> decode(reader& in) const {
    if (!contains<P>()) return not_registered(type_name_of<P>());
    P out{};
    if (!detail::decode_protocol<P>(in, out)) return annotate(in.error(), type_name_of<P>());
    return out;
  }
  /// Reads `bytes`, which must hold exactly one message of P (else errc::trailing_bytes), with
  /// this registry's limits; `context` resolves refs inside it.
  template <class P>
  result<P> decode(std::string_view bytes, ref_context* context = nullptr) const {
    reader in{bytes, limits_, context};
    auto out = decode<P>(in);
    if (out && !in.at_end()) return trailing(type_name_of<P>(), in.remaining());
    return out;
  }

  /// Reads one message of the protocol with fingerprint `protocol_fingerprint` into a new
  /// envelope of that protocol, for `endpoint::enqueue(e.release())`: the remote layer's way
  /// from (target, protocol fingerprint, bytes) to a message in the target's mailbox. Fails with
  /// errc::not_registered if no such protocol is registered.
  result<envelope_ptr> decode_envelope(std::uint64_t protocol_fingerprint, reader& in) const;

  const decode_limits& limits() const noexcept { return limits_; }

 private:
  static troupe::error not_registered(std::string_view protocol);
  static troupe::error annotate(const troupe::error& e, std::string_view protocol);
  static troupe::error trailing(std::string_view protocol, std::size_t left);

  decode_limits limits_;
  std::unordered_map<std::uint64_t, const protocol_ops*> protocols_;
};

}  // namespace troupe::serial
