// protocol_codec.hpp: a whole message of a protocol P, and P's type-erased table.
// A message is its type id (8 bytes, little-endian), its schema fingerprint (8 bytes), then its
// fields. Reading one looks the id up among P's messages (unknown_type if absent), compares the
// fingerprint (fingerprint_mismatch, naming the type, if it differs), then reads the fields.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "troupe/core/detail/envelope.hpp"
#include "troupe/core/protocol.hpp"
#include "troupe/serial/detail/codec_base.hpp"
#include "troupe/serial/protocol_ops.hpp"

namespace troupe::serial {

namespace detail {
// The messages of a protocol: the alternatives of a variant, or the one type.
template <class P>
struct messages_of {
  template <template <class...> class F>
  using apply = F<P>;
  static constexpr std::size_t count = 1;
};
template <class... Ms>
struct messages_of<std::variant<Ms...>> {
  template <template <class...> class F>
  using apply = F<Ms...>;
  static constexpr std::size_t count = sizeof...(Ms);
};

template <class... Ms>
struct message_table {
  static constexpr std::array<message_info, sizeof...(Ms)> value{
      message_info{type_id_of<Ms>(), fingerprint_of<Ms>(), type_name_of<Ms>()}...};
  static constexpr bool ids_unique = [] {
    for (std::size_t i = 0; i < value.size(); ++i)
      for (std::size_t j = i + 1; j < value.size(); ++j)
        if (value[i].type_id == value[j].type_id) return false;
    return true;
  }();
};

template <class P>
inline constexpr auto& messages_table_v = messages_of<P>::template apply<message_table>::value;

inline std::string hex(std::uint64_t v) {
  char buf[19];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

template <class P, class M>
void encode_message(writer& w, const M& m) {
  w.put_fixed64(type_id_of<M>());
  w.put_fixed64(fingerprint_of<M>());
  serial::encode(w, m);
}

template <class P>
void encode_protocol(writer& w, const P& p) {
  if constexpr (variant_protocol<P>)
    std::visit([&w](const auto& m) { encode_message<P>(w, m); }, p);
  else
    encode_message<P>(w, p);
}

template <class P, std::size_t I>
bool decode_alternative(reader& r, P& out) {
  if constexpr (variant_protocol<P>)
    return serial::decode(r, out.template emplace<I>());
  else
    return serial::decode(r, out);
}

template <class P, std::size_t... I>
constexpr auto alternative_decoders(std::index_sequence<I...>) {
  using fn = bool (*)(reader&, P&);
  return std::array<fn, sizeof...(I)>{&decode_alternative<P, I>...};
}

template <class P>
bool decode_protocol(reader& r, P& out) {
  constexpr auto& table = messages_table_v<P>;
  std::uint64_t id = 0, fingerprint = 0;
  if (!r.get_fixed64(id)) return false;
  std::size_t index = table.size();
  for (std::size_t i = 0; i < table.size(); ++i)
    if (table[i].type_id == id) index = i;
  if (index == table.size())
    return r.fail(errc::unknown_type,
                  "type id " + hex(id) + " is not a message of protocol " + std::string(type_name_of<P>()));
  if (!r.get_fixed64(fingerprint)) return false;
  if (fingerprint != table[index].fingerprint)
    return r.fail(errc::fingerprint_mismatch,
                  std::string(table[index].name) + " has fingerprint " + hex(table[index].fingerprint) +
                      " here but " + hex(fingerprint) + " in the input: its layout changed");
  constexpr auto decoders = alternative_decoders<P>(std::make_index_sequence<messages_of<P>::count>{});
  return decoders[index](r, out);
}

template <class P>
struct protocol_functions {
  static void encode(writer& w, const void* m) { encode_protocol<P>(w, *static_cast<const P*>(m)); }
  static void encode_envelope(writer& w, const troupe::detail::envelope* e) {
    encode_protocol<P>(w, static_cast<const troupe::detail::user_envelope<P>*>(e)->msg);
  }
  static bool decode(reader& r, void* out) { return decode_protocol<P>(r, *static_cast<P*>(out)); }
  static troupe::detail::envelope* decode_envelope_raw(reader& r) {
    static_assert(std::is_default_constructible_v<P>, "troupe::serial: a protocol must be default-constructible");
    P msg{};
    if (!decode_protocol<P>(r, msg)) return nullptr;
    return troupe::detail::make_user_envelope<P>(std::move(msg));
  }
  static void destroy_envelope(troupe::detail::envelope* e) noexcept {
    troupe::detail::pool_delete(static_cast<troupe::detail::user_envelope<P>*>(e));
  }
};
}  // namespace detail

/// The fingerprint of protocol P: the type id and fingerprint of each message, in order.
template <class P>
constexpr std::uint64_t protocol_fingerprint_of() noexcept {
  constexpr auto& table = detail::messages_table_v<P>;
  std::uint64_t h = detail::mix(detail::tag("protocol"), table.size());
  for (const message_info& m : table) h = detail::mix(detail::mix(h, m.type_id), m.fingerprint);
  return h;
}

template <class P>
const protocol_ops& protocol_ops_of() noexcept {
  static_assert(detail::messages_of<P>::template apply<detail::message_table>::ids_unique,
                "troupe::serial: two messages of this protocol have the same type id (give one a type_name)");
  using f = detail::protocol_functions<P>;
  static constexpr protocol_ops ops{protocol_fingerprint_of<P>(),
                                    type_name_of<P>(),
                                    std::span<const message_info>(detail::messages_table_v<P>),
                                    &f::encode,
                                    &f::encode_envelope,
                                    &f::decode,
                                    &f::decode_envelope_raw,
                                    &f::destroy_envelope};
  return ops;
}

}  // namespace troupe::serial
