// codec.hpp: how one C++ type is written to bytes and read back, and its schema fingerprint.
// `codec<T>` is the customization point: troupe provides it for integers, floats, bool, enums,
// std::string, vector, array, map, unordered_map, optional, variant, pair, tuple, chrono
// durations, ref<P> and every plain aggregate (field by field, by Boost.PFR: no macros, no
// registration). Specialize it for any other type. `fingerprint_of<T>()` is a compile-time hash
// of T's structure, so that a message whose layout changed is rejected, not misread.
// Encoding and decoding are pure functions of the value and the bytes; any thread.
#pragma once

#include "troupe/serial/detail/codec_base.hpp"
#include "troupe/serial/detail/scalar_codecs.hpp"
#include "troupe/serial/detail/container_codecs.hpp"
#include "troupe/serial/detail/aggregate_codec.hpp"
#include "troupe/serial/detail/ref_codec.hpp"
#include "troupe/serial/detail/protocol_codec.hpp"
