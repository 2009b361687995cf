// container_codecs.hpp: the codecs of std::string, vector, array, map, unordered_map, optional,
// variant, pair, tuple and monostate. A string is a varint length and its bytes; a vector or
// map a varint count and its elements (a map's as key, value); an array its N elements; an
// optional a 0/1 byte and the value; a variant a varint index and the alternative. Every count
// is checked (reader::check_bytes / check_count) before anything is allocated from it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "troupe/serial/detail/codec_base.hpp"
#include "troupe/serial/detail/scalar_codecs.hpp"

namespace troupe::serial {

namespace detail {
// Bytes a map or unordered_map node costs beyond its value (links, colour or hash, bucket).
inline constexpr std::size_t node_overhead = 32;

// Elements whose encoding is their one raw byte, copied in one go.
template <class T>
concept raw_byte = std::is_same_v<T, std::byte> || std::is_same_v<T, char> || std::is_same_v<T, signed char> ||
                   std::is_same_v<T, unsigned char> || std::is_same_v<T, char8_t>;

template <class... Ts>
constexpr std::uint64_t fingerprint_all(std::uint64_t h) noexcept {
  ((h = mix(h, fingerprint_of<Ts>())), ...);
  return h;
}

}  // namespace detail

template <class Traits, class Alloc>
struct codec<std::basic_string<char, Traits, Alloc>> {
  using string = std::basic_string<char, Traits, Alloc>;
  static constexpr std::uint64_t fingerprint = detail::tag("string");
  static constexpr std::size_t min_size = 1;
  static void encode(writer& w, const string& s) {
    w.put_varint(s.size());
    w.put_bytes(s.data(), s.size());
  }
  static bool decode(reader& r, string& out) {
    std::uint64_t n{};
    std::string_view bytes;
    if (!r.get_varint(n) || !r.check_bytes(n, "a string") || !r.get_bytes(static_cast<std::size_t>(n), bytes))
      return false;
    out.assign(bytes.data(), bytes.size());
    return true;
  }
};

template <class T, class Alloc>
struct codec<std::vector<T, Alloc>> {
  static constexpr std::uint64_t fingerprint = detail::mix(detail::tag("vector"), fingerprint_of<T>());
  static constexpr std::size_t min_size = 1;
  static void encode(writer& w, const std::vector<T, Alloc>& v) {
    w.put_varint(v.size());
    if constexpr (detail::raw_byte<T>) {
      w.put_bytes(v.data(), v.size());
    } else {
      for (const T& x : v) codec<T>::encode(w, x);
    }
  }
  static bool decode(reader& r, std::vector<T, Alloc>& out) {
    detail::nesting level(r);
    std::uint64_t n{};
    if (!level.ok() || !r.get_varint(n) || !r.check_count(n, min_size_of<T>(), sizeof(T), "a vector")) return false;
    out.clear();
    if constexpr (detail::raw_byte<T>) {
      std::string_view bytes;
      if (!r.get_bytes(static_cast<std::size_t>(n), bytes)) return false;
      out.resize(bytes.size());
      if (!bytes.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
      return true;
    } else {
      out.resize(static_cast<std::size_t>(n));
      for (T& x : out)
        if (!codec<T>::decode(r, x)) return false;
      return true;
    }
  }
};

template <class Alloc>
struct codec<std::vector<bool, Alloc>> {
  static constexpr std::uint64_t fingerprint = detail::mix(detail::tag("vector"), fingerprint_of<bool>());
  static constexpr std::size_t min_size = 1;
  static void encode(writer& w, const std::vector<bool, Alloc>& v) {
    w.put_varint(v.size());
    for (bool x : v) w.put_byte(x ? 1 : 0);
  }
  static bool decode(reader& r, std::vector<bool, Alloc>& out) {
    std::uint64_t n{};
    if (!r.get_varint(n) || !r.check_count(n, 1, 1, "a vector<bool>")) return false;
    out.assign(static_cast<std::size_t>(n), false);
    for (std::size_t i = 0; i < out.size(); ++i) {
      bool x{};
      if (!codec<bool>::decode(r, x)) return false;
      out[i] = x;
    }
    return true;
  }
};

template <class T, std::size_t N>
struct codec<std::array<T, N>> {
  static constexpr std::uint64_t fingerprint = detail::mix(detail::mix(detail::tag("array"), fingerprint_of<T>()), N);
  static constexpr std::size_t min_size = N * min_size_of<T>();
  static void encode(writer& w, const std::array<T, N>& a) {
    if constexpr (detail::raw_byte<T>) {
      w.put_bytes(a.data(), N);
    } else {
      for (const T& x : a) codec<T>::encode(w, x);
    }
  }
  static bool decode(reader& r, std::array<T, N>& out) {
    detail::nesting level(r);
    if (!level.ok()) return false;
    if constexpr (detail::raw_byte<T>) {
      std::string_view bytes;
      if (!r.get_bytes(N, bytes)) return false;
      if constexpr (N != 0) std::memcpy(out.data(), bytes.data(), N);
      return true;
    } else {
      for (T& x : out)
        if (!codec<T>::decode(r, x)) return false;
      return true;
    }
  }
};

namespace detail {
// The codec of std::map and std::unordered_map: a count, then key, value pairs. A key that
// comes twice is invalid_value: the second would otherwise silently win or lose.
template <class Map, class K, class V>
struct map_codec {
  static constexpr std::size_t min_size = 1;
  static void encode(writer& w, const Map& m) {
    w.put_varint(m.size());
    for (const auto& [k, v] : m) {
      codec<K>::encode(w, k);
      codec<V>::encode(w, v);
    }
  }
  static bool decode(reader& r, Map& out) {
    detail::nesting level(r);
    std::uint64_t n{};
    if (!level.ok() || !r.get_varint(n) ||
        !r.check_count(n, min_size_of<K>() + min_size_of<V>(), sizeof(typename Map::value_type) + node_overhead, "a map"))
      return false;
    out.clear();
    if constexpr (requires { out.reserve(std::size_t{}); }) out.reserve(static_cast<std::size_t>(n));
    for (std::uint64_t i = 0; i < n; ++i) {
      K k{};
      V v{};
      if (!codec<K>::decode(r, k) || !codec<V>::decode(r, v)) return false;
      if (!out.emplace(std::move(k), std::move(v)).second) return r.fail(errc::invalid_value, "a map repeats a key");
    }
    return true;
  }
};
}  // namespace detail

template <class K, class V, class Compare, class Alloc>
struct codec<std::map<K, V, Compare, Alloc>> : detail::map_codec<std::map<K, V, Compare, Alloc>, K, V> {
  static constexpr std::uint64_t fingerprint = detail::fingerprint_all<K, V>(detail::tag("map"));
};

template <class K, class V, class Hash, class Eq, class Alloc>
struct codec<std::unordered_map<K, V, Hash, Eq, Alloc>>
    : detail::map_codec<std::unordered_map<K, V, Hash, Eq, Alloc>, K, V> {
  // The same bytes as std::map: a sender may use one and a receiver the other.
  static constexpr std::uint64_t fingerprint = detail::fingerprint_all<K, V>(detail::tag("map"));
};

template <class T>
struct codec<std::optional<T>> {
  static constexpr std::uint64_t fingerprint = detail::mix(detail::tag("optional"), fingerprint_of<T>());
  static constexpr std::size_t min_size = 1;
  static void encode(writer& w, const std::optional<T>& o) {
    w.put_byte(o ? 1 : 0);
    if (o) codec<T>::encode(w, *o);
  }
  static bool decode(reader& r, std::optional<T>& out) {
    detail::nesting level(r);
    std::uint8_t has{};
    if (!level.ok() || !r.get_byte(has)) return false;
    if (has > 1) return r.fail(errc::invalid_value, "an optional's flag is " + std::to_string(has) + ", not 0 or 1");
    if (has == 0) {
      out.reset();
      return true;
    }
    return codec<T>::decode(r, out.emplace());
  }
};

template <class... Ts>
struct codec<std::variant<Ts...>> {
  using variant = std::variant<Ts...>;
  static constexpr std::uint64_t fingerprint = detail::fingerprint_all<Ts...>(detail::mix(detail::tag("variant"), sizeof...(Ts)));
  static constexpr std::size_t min_size = 1;
  static void encode(writer& w, const variant& v) {
    w.put_varint(v.index());
    std::visit([&w](const auto& x) { codec<std::remove_cvref_t<decltype(x)>>::encode(w, x); }, v);
  }
  static bool decode(reader& r, variant& out) {
    detail::nesting level(r);
    std::uint64_t index{};
    if (!level.ok() || !r.get_varint(index)) return false;
    if (index >= sizeof...(Ts))
      return r.fail(errc::invalid_variant_index, "variant index " + std::to_string(index) + " of " +
                                                     std::to_string(sizeof...(Ts)) + " alternatives");
    return alternatives(std::index_sequence_for<Ts...>{})[index](r, out);
  }

 private:
  template <std::size_t I>
  static bool decode_alternative(reader& r, variant& out) {
    return codec<std::variant_alternative_t<I, variant>>::decode(r, out.template emplace<I>());
  }
  template <std::size_t... I>
  static constexpr auto alternatives(std::index_sequence<I...>) {
    using fn = bool (*)(reader&, variant&);
    return std::array<fn, sizeof...(I)>{&decode_alternative<I>...};
  }
};

template <>
struct codec<std::monostate> {
  static constexpr std::uint64_t fingerprint = detail::tag("unit");
  static constexpr std::size_t min_size = 0;
  static void encode(writer&, std::monostate) {}
  static bool decode(reader&, std::monostate&) { return true; }
};

template <class A, class B>
struct codec<std::pair<A, B>> {
  static constexpr std::uint64_t fingerprint = detail::fingerprint_all<A, B>(detail::tag("tuple2"));
  static constexpr std::size_t min_size = min_size_of<A>() + min_size_of<B>();
  static void encode(writer& w, const std::pair<A, B>& p) {
    codec<A>::encode(w, p.first);
    codec<B>::encode(w, p.second);
  }
  static bool decode(reader& r, std::pair<A, B>& out) {
    detail::nesting level(r);
    return level.ok() && codec<A>::decode(r, out.first) && codec<B>::decode(r, out.second);
  }
};

template <class... Ts>
struct codec<std::tuple<Ts...>> {
  // A pair and a 2-tuple are the same bytes and the same fingerprint.
  static constexpr std::uint64_t fingerprint =
      detail::fingerprint_all<Ts...>(sizeof...(Ts) == 2 ? detail::tag("tuple2") : detail::mix(detail::tag("tuple"), sizeof...(Ts)));
  static constexpr std::size_t min_size = (std::size_t{0} + ... + min_size_of<Ts>());
  static void encode(writer& w, const std::tuple<Ts...>& t) {
    std::apply([&w](const Ts&... xs) { (codec<Ts>::encode(w, xs), ...); }, t);
  }
  static bool decode(reader& r, std::tuple<Ts...>& out) {
    detail::nesting level(r);
    return level.ok() && std::apply([&r](Ts&... xs) { return (codec<Ts>::decode(r, xs) && ...); }, out);
  }
};

}  // namespace troupe::serial
