// codec_base.hpp: the customization point codec<T> and the free functions over it, without the
// codecs troupe provides (those are in the other detail headers; include codec.hpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "troupe/serial/detail/hash.hpp"
#include "troupe/serial/reader.hpp"
#include "troupe/serial/type_name.hpp"
#include "troupe/serial/writer.hpp"

namespace troupe::serial {

/// How a T is encoded and decoded. Troupe specializes it for the standard types and plain
/// aggregates; specialize it for your own types. A specialization has:
///   - `static constexpr std::string_view schema`: a name and version of your encoding; it is
///     hashed into the fingerprint of every message that holds a T (change it when the encoding
///     changes). Troupe's own codecs have `fingerprint` instead.
///   - `static void encode(writer&, const T&)`: appends T's bytes; a failure goes to w.fail().
///   - `static bool decode(reader&, T&)`: reads into a default-constructed T; false (with
///     r.fail() or a failed read) on bad input; must never trust the bytes.
///   - optionally `static constexpr std::size_t min_size`: the fewest bytes any T takes, which
///     lets containers of T reject a count the input cannot hold before allocating.
///
///     struct money { std::int64_t cents; std::string currency; money(...) {...} };  // not an aggregate
///     template <> struct troupe::serial::codec<money> {
///       static constexpr std::string_view schema = "money/1";
///       static void encode(writer& w, const money& m) {
///         troupe::serial::encode(w, m.cents);
///         troupe::serial::encode(w, m.currency);
///       }
///       static bool decode(reader& r, money& m) {
///         return troupe::serial::decode(r, m.cents) && troupe::serial::decode(r, m.currency);
///       }
///     };
template <class T>
struct codec {
  static constexpr bool unsupported = true;  // the primary template: no codec for T
};

/// True when T has a codec: built in, an aggregate of serializable fields, or specialized.
template <class T>
concept serializable = !requires { codec<T>::unsupported; };

namespace detail {
template <class T>
struct is_std_array : std::false_type {};
template <class T, std::size_t N>
struct is_std_array<std::array<T, N>> : std::true_type {};

/// A struct that troupe encodes field by field: an aggregate class, not a union or std::array.
template <class T>
concept plain_aggregate = std::is_class_v<T> && std::is_aggregate_v<T> && !is_std_array<T>::value;

template <class T>
constexpr void check_serializable() {
  static_assert(serializable<T>,
                "troupe::serial: no codec for this type (the T of codec<T> in the error): make it a plain "
                "aggregate of serializable fields, or specialize troupe::serial::codec<T>");
}
}  // namespace detail

/// Appends the encoding of `value` (its fields only, no header) to `out`.
///
///     troupe::serial::encode(w, std::vector<int>{1, 2, 3});   // 04 02 04 06: count, zigzag varints
template <class T>
void encode(writer& out, const T& value) {
  detail::check_serializable<T>();
  codec<T>::encode(out, value);
}

/// Reads a T written by encode() into `out`; false on bad input (see in.error()). On failure
/// `out` holds some valid but unspecified value.
template <class T>
bool decode(reader& in, T& out) {
  detail::check_serializable<T>();
  return codec<T>::decode(in, out);
}

/// The 64-bit schema fingerprint of T: a hash of its structure (the kind of each field, in
/// order, recursively; the schema string of a custom codec). Field names and the names of
/// nested structs do not enter it; see docs/serial.md for what it detects.
template <class T>
constexpr std::uint64_t fingerprint_of() noexcept {
  using U = std::remove_cv_t<T>;
  detail::check_serializable<U>();
  if constexpr (requires { codec<U>::fingerprint; }) {
    return codec<U>::fingerprint;
  } else {
    static_assert(requires { codec<U>::schema; },
                  "troupe::serial: a codec<T> specialization must declare "
                  "`static constexpr std::string_view schema = \"name/version\";`");
    return detail::mix(detail::tag("custom"), detail::hash_text(std::string_view{codec<U>::schema}));
  }
}

/// The fewest bytes any encoded T takes (0 if its codec does not say).
template <class T>
constexpr std::size_t min_size_of() noexcept {
  if constexpr (requires { codec<T>::min_size; })
    return codec<T>::min_size;
  else
    return 0;
}

/// The 64-bit type id of T on the wire: the hash of its name for a struct, an enum or a type
/// with a given type_name; the hash of its structure for other types (int, std::string...),
/// whose printed names differ between compilers.
template <class T>
constexpr std::uint64_t type_id_of() noexcept {
  if constexpr (has_given_name<T>() || detail::plain_aggregate<T> || std::is_enum_v<T>)
    return detail::hash_text(type_name_of<T>());
  else
    return detail::mix(detail::tag("type"), fingerprint_of<T>());
}

}  // namespace troupe::serial
