// serial_codec.hpp: events and states stored through troupe::serial, with upcasters.
// Each value is stored with its type's name (serial::type_name_of, the manifest) and version
// (persistence::version_of: 1 unless the type says `static constexpr std::uint32_t version`),
// and its bytes are serial's (type id, schema fingerprint, fields). On replay a value of the
// current version decodes as is; an older one decodes as the old type it was written as and is
// lifted by its upcaster; a type this program does not know, or an old version without an
// upcaster, is an error (recovery stops; nothing is misread). Immutable once built; any thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <variant>

#include "troupe/persistence/errc.hpp"
#include "troupe/persistence/value_codec.hpp"
#include "troupe/serial/codec.hpp"
#include "troupe/serial/errc.hpp"
#include "troupe/serial/registry.hpp"
#include "troupe/serial/writer.hpp"

namespace troupe::persistence {

/// The version of an event or state type: `T::version` if it declares one, else 1.
///
///     struct deposited { static constexpr std::uint32_t version = 2; long cents; std::string memo; };
template <class T>
constexpr std::uint32_t version_of() noexcept {
  if constexpr (requires { T::version; })
    return T::version;
  else
    return 1;
}

namespace detail {
template <class T>
struct alternatives {
  using type = std::variant<T>;
  static constexpr bool is_variant = false;
};
template <class... Ts>
struct alternatives<std::variant<Ts...>> {
  using type = std::variant<Ts...>;
  static constexpr bool is_variant = true;
};
}  // namespace detail

/// A value_codec for T (a std::variant of event types, or one state type) through troupe::serial.
///
///     auto codec = std::make_shared<persistence::serial_codec<account_event>>();
///     codec->upcast<v1::deposited>([](v1::deposited d) { return deposited{d.cents, ""}; });
template <class T>
class serial_codec final : public value_codec<T> {
 public:
  serial_codec() {
    if (auto r = registry_.add<T>(); !r) throw usage_error("serial_codec: " + r.error().message());
    register_current(static_cast<typename detail::alternatives<T>::type*>(nullptr));
  }

  /// Reads values stored as `Old` (same type name, an older version than the current type's)
  /// through `lift(Old) -> T or one of T's alternatives`. Old must name itself as the type it
  /// was written as (specialize serial::type_name) and say its version.
  template <class Old, class F>
  serial_codec& upcast(F lift) {
    if (auto r = registry_.add<Old>(); !r) throw usage_error("serial_codec: " + r.error().message());
    key k{std::string(serial::type_name_of<Old>()), version_of<Old>()};
    upcasters_[k] = [this, lift = std::move(lift)](const bytes& b) -> result<T> {
      auto old = registry_.decode<Old>(b);
      if (!old) return stored_error(old.error());
      return T(lift(std::move(*old)));
    };
    return *this;
  }

  result<encoded_value> encode(const T& value) const override {
    encoded_value out;
    if constexpr (detail::alternatives<T>::is_variant) {
      std::visit(
          [&](const auto& m) {
            using M = std::decay_t<decltype(m)>;
            out.manifest = std::string(serial::type_name_of<M>());
            out.version = version_of<M>();
          },
          value);
    } else {
      out.manifest = std::string(serial::type_name_of<T>());
      out.version = version_of<T>();
    }
    // Sized like the largest value encoded so far: grown from empty, the payload was
    // reallocated twice per event (callgrind, the pipelined benchmark).
    out.payload.reserve(size_hint_.load(std::memory_order_relaxed));
    serial::writer w{out.payload};
    if (auto r = registry_.template encode<T>(value, w); !r) return r.error();
    if (out.payload.size() > size_hint_.load(std::memory_order_relaxed))
      size_hint_.store(std::min<std::size_t>(out.payload.size(), max_size_hint), std::memory_order_relaxed);
    return out;
  }

  result<T> decode(const std::string& manifest, std::uint32_t version, const bytes& payload) const override {
    auto cur = current_.find(manifest);
    if (cur != current_.end() && cur->second == version) {
      auto v = registry_.template decode<T>(payload);
      if (!v) return stored_error(v.error());
      return std::move(*v);
    }
    if (auto up = upcasters_.find(key{manifest, version}); up != upcasters_.end()) return up->second(payload);
    if (cur != current_.end())
      return troupe::error{errc::missing_upcaster, "'" + manifest + "' version " + std::to_string(version) +
                                                       " is stored; this program has version " +
                                                       std::to_string(cur->second) + " and no upcaster from " +
                                                       std::to_string(version)};
    return troupe::error{errc::unknown_event, "'" + manifest + "' version " + std::to_string(version) +
                                                  " is stored; this program knows no such type"};
  }

 private:
  using key = std::pair<std::string, std::uint32_t>;

  template <class... Ms>
  void register_current(std::variant<Ms...>*) {
    (current_.emplace(std::string(serial::type_name_of<Ms>()), version_of<Ms>()), ...);
  }

  // Bytes that do not decode as the type they claim to be: a corrupt row, or a type changed
  // without a new version (its fingerprint differs); either way nothing is misread.
  static troupe::error stored_error(const troupe::error& e) {
    errc code = e == serial::errc::unknown_type ? errc::unknown_event : errc::corrupt;
    std::string hint = e == serial::errc::fingerprint_mismatch
                           ? " (the type's layout changed: give it a new version and an upcaster from the old one)"
                           : "";
    return troupe::error{code, e.message() + hint};
  }

  static constexpr std::size_t max_size_hint = 4096;

  serial::registry registry_;
  // A hint only (relaxed: no happens-before needed; a stale value costs a reallocation).
  mutable std::atomic<std::size_t> size_hint_{0};
  std::map<std::string, std::uint32_t> current_;  // manifest -> current version
  std::map<key, std::function<result<T>(const bytes&)>> upcasters_;
};

}  // namespace troupe::persistence
