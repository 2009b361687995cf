// ref_codec.hpp: the codec of troupe::ref<P>. A byte 0 for an empty ref; else a byte 1 and
// what the writer's ref_context writes for it (the remote layer: node and id). Without a
// context a non-empty ref fails with errc::no_ref_context. The fingerprint names P's messages
// by type id only, so a protocol may hold refs to itself.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "troupe/core/ref.hpp"
#include "troupe/serial/detail/codec_base.hpp"
#include "troupe/serial/protocol_ops.hpp"
#include "troupe/serial/ref_context.hpp"

namespace troupe::serial {

namespace detail {
// What a ref's fingerprint says of its protocol: the type ids of its messages, not their
// structure (which may hold this very ref).
template <class P>
struct shallow_protocol_id {
  static constexpr std::uint64_t value = mix(tag("one"), type_id_of<P>());
};
template <class... Ms>
struct shallow_protocol_id<std::variant<Ms...>> {
  static constexpr std::uint64_t value = [] {
    std::uint64_t h = mix(tag("protocol"), sizeof...(Ms));
    ((h = mix(h, type_id_of<Ms>())), ...);
    return h;
  }();
};
}  // namespace detail

template <class P>
struct codec<troupe::ref<P>> {
  static constexpr std::uint64_t fingerprint = detail::mix(detail::tag("ref"), detail::shallow_protocol_id<P>::value);
  static constexpr std::size_t min_size = 1;

  static void encode(writer& w, const troupe::ref<P>& r) {
    const auto& target = troupe::detail::ref_access::endpoint_of(r);
    if (!target) {
      w.put_byte(0);
      return;
    }
    w.put_byte(1);
    ref_context* context = w.context();
    if (!context) {
      w.fail(errc::no_ref_context,
             "a ref<" + std::string(type_name_of<P>()) + "> can only be encoded with a ref_context (the remote layer)");
      return;
    }
    if (auto done = context->encode_ref(w, target, protocol_ops_of<P>()); !done) w.fail(done.error());
  }

  static bool decode(reader& r, troupe::ref<P>& out) {
    std::uint8_t present{};
    if (!r.get_byte(present)) return false;
    if (present == 0) {
      out = troupe::ref<P>{};
      return true;
    }
    if (present != 1) return r.fail(errc::invalid_value, "a ref's flag is " + std::to_string(present) + ", not 0 or 1");
    ref_context* context = r.context();
    if (!context)
      return r.fail(errc::no_ref_context,
                    "a ref<" + std::string(type_name_of<P>()) + "> can only be decoded with a ref_context (the remote layer)");
    auto target = context->decode_ref(r, protocol_ops_of<P>());
    if (!target) return r.fail(target.error());
    if (!*target) return r.fail(errc::bad_ref, "the ref_context resolved a ref to nothing");
    out = troupe::detail::ref_access::make<P>(std::move(*target));
    return true;
  }
};

}  // namespace troupe::serial
