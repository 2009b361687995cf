// aggregate_codec.hpp: the codec of a plain aggregate (a message struct): its fields in order,
// each with its own codec, and nothing else: no field names, no header, no count. Boost.PFR
// finds the fields, so messages need no macro or registration. Fields must be serializable,
// default-constructible and non-const; a struct with base classes or C arrays is not an
// aggregate PFR can take apart (give it a codec<T>).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include <boost/pfr/core.hpp>

#include "troupe/serial/detail/codec_base.hpp"

namespace troupe::serial {

namespace detail {
template <class T, std::size_t... I>
constexpr std::uint64_t aggregate_fingerprint(std::index_sequence<I...>) noexcept {
  std::uint64_t h = mix(tag("struct"), sizeof...(I));
  ((h = mix(h, fingerprint_of<boost::pfr::tuple_element_t<I, T>>())), ...);
  return h;
}
template <class T, std::size_t... I>
constexpr std::size_t aggregate_min_size(std::index_sequence<I...>) noexcept {
  return (std::size_t{0} + ... + min_size_of<boost::pfr::tuple_element_t<I, T>>());
}
}  // namespace detail

template <detail::plain_aggregate T>
struct codec<T> {
  static constexpr std::size_t fields = boost::pfr::tuple_size_v<T>;
  static constexpr std::uint64_t fingerprint = detail::aggregate_fingerprint<T>(std::make_index_sequence<fields>{});
  static constexpr std::size_t min_size = detail::aggregate_min_size<T>(std::make_index_sequence<fields>{});

  static void encode(writer& w, const T& v) {
    boost::pfr::for_each_field(v, [&w](const auto& field) { serial::encode(w, field); });
  }
  static bool decode(reader& r, T& out) {
    detail::nesting level(r);
    if (!level.ok()) return false;
    bool ok = true;
    boost::pfr::for_each_field(out, [&r, &ok](auto& field) { ok = ok && serial::decode(r, field); });
    return ok;
  }
};

}  // namespace troupe::serial
