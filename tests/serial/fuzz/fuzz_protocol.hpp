// fuzz_protocol.hpp: the protocol the serial fuzzer decodes: a message of every field kind the
// serial layer supports, and a ref context that resolves refs to a table of stand-in endpoints.
// Shared by the fuzzer, the seed corpus generator and the test that keeps the corpus valid.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "troupe/core/ref.hpp"
#include "troupe/serial/codec.hpp"
#include "troupe/serial/ref_context.hpp"

namespace serial_fuzz {

enum class color : std::uint8_t { red, green, blue = 7 };
enum class flags : std::uint16_t {};

}  // namespace serial_fuzz

template <>
struct troupe::serial::enum_range<serial_fuzz::flags> {
  static constexpr std::uint16_t min = 0, max = 0x0fff;
};

namespace serial_fuzz {

struct point {
  std::int32_t x = 0;
  std::int32_t y = 0;
};
struct empty {};

struct scalars {
  bool flag = false;
  char letter = 0;
  std::int8_t i8 = 0;
  std::uint8_t u8 = 0;
  std::int16_t i16 = 0;
  std::uint16_t u16 = 0;
  std::int32_t i32 = 0;
  std::uint32_t u32 = 0;
  std::int64_t i64 = 0;
  std::uint64_t u64 = 0;
  float f = 0;
  double d = 0;
  color c = color::red;
  flags fl{};
  std::byte b{};
  std::chrono::nanoseconds timeout{0};
  std::chrono::duration<double> seconds{0};
};

struct containers {
  std::string text;
  std::vector<std::int32_t> numbers;
  std::vector<std::byte> blob;
  std::vector<bool> bits;
  std::array<point, 2> corners{};
  std::map<std::string, std::int64_t> scores;
  std::optional<point> maybe;
  std::variant<std::monostate, std::int32_t, std::string, point, empty> choice;
  std::pair<std::string, std::uint16_t> pair;
  std::tuple<bool, std::int64_t, std::string> tuple;
  std::vector<std::vector<std::optional<std::string>>> nested;
  std::vector<empty> nothings;
};

// Kept apart: its iteration order, and so its re-encoding, depends on insertion history.
struct unordered {
  std::unordered_map<std::uint32_t, std::vector<std::string>> names;
};

struct with_refs {
  troupe::ref<std::int32_t> reply_to;
  std::vector<troupe::ref<std::string>> watchers;
};

using protocol = std::variant<scalars, containers, unordered, with_refs, empty>;

/// Stands in for actors: refs decode to one of a few of these, by index.
class stand_in final : public troupe::detail::endpoint {
 public:
  explicit stand_in(std::uint64_t serial) : id_{0, serial} {}
  void enqueue(troupe::detail::envelope*) noexcept override {}
  troupe::actor_id id() const noexcept override { return id_; }

 private:
  void unreferenced() noexcept override {}
  troupe::actor_id id_;
};

/// Maps refs to an index into a fixed table of stand-ins, as remote maps them to (node, id).
class table_context final : public troupe::serial::ref_context {
 public:
  table_context() {
    for (std::uint64_t i = 0; i < slots_.size(); ++i) {
      stand_ins_[i] = std::make_unique<stand_in>(i + 1);
      slots_[i] = endpoint_ptr::share(stand_ins_[i].get());
    }
  }
  troupe::result<void> encode_ref(troupe::serial::writer& out, const endpoint_ptr& target,
                                  const troupe::serial::protocol_ops&) override {
    for (std::size_t i = 0; i < slots_.size(); ++i)
      if (slots_[i] == target) {
        out.put_varint(i);
        return {};
      }
    return troupe::error{troupe::serial::errc::bad_ref, "not a stand-in"};
  }
  troupe::result<endpoint_ptr> decode_ref(troupe::serial::reader& in, const troupe::serial::protocol_ops&) override {
    std::uint64_t i = 0;
    if (!in.get_varint(i)) return in.error();
    if (i >= slots_.size()) return troupe::error{troupe::serial::errc::bad_ref, "no stand-in " + std::to_string(i)};
    return slots_[i];
  }
  template <class P>
  troupe::ref<P> ref_to(std::size_t i) const {
    return troupe::detail::ref_access::make<P>(slots_[i]);
  }

 private:
  std::array<std::unique_ptr<stand_in>, 4> stand_ins_;
  std::array<endpoint_ptr, 4> slots_;
};

/// Valid messages, one of each shape, for the seed corpus.
inline std::vector<protocol> samples(const table_context& refs) {
  std::vector<protocol> out;
  scalars s;
  s.flag = true;
  s.letter = 'z';
  s.i8 = -5;
  s.u8 = 200;
  s.i16 = -300;
  s.u16 = 60000;
  s.i32 = -70000;
  s.u32 = 3000000000u;
  s.i64 = -(std::int64_t{1} << 40);
  s.u64 = ~std::uint64_t{0};
  s.f = 0.25f;
  s.d = 1e300;
  s.c = color::blue;
  s.fl = flags{0x0101};
  s.b = std::byte{0x5a};
  s.timeout = std::chrono::seconds(3);
  s.seconds = std::chrono::duration<double>(2.5);
  out.emplace_back(s);
  out.emplace_back(scalars{});

  containers c;
  c.text = "hello";
  c.numbers = {1, -2, 300000};
  c.blob = {std::byte{1}, std::byte{2}};
  c.bits = {true, false};
  c.corners = {point{1, 2}, point{3, 4}};
  c.scores = {{"a", 1}, {"b", -1}};
  c.maybe = point{7, 8};
  c.choice = std::string("alt");
  c.pair = {"k", 9};
  c.tuple = {true, 5, "t"};
  c.nested = {{std::string("x"), std::nullopt}, {}};
  c.nothings.resize(3);
  out.emplace_back(c);
  out.emplace_back(containers{});

  unordered u;
  u.names = {{1, {"one"}}, {2, {"two", "deux"}}};
  out.emplace_back(u);

  with_refs w;
  w.reply_to = refs.ref_to<std::int32_t>(0);
  w.watchers = {refs.ref_to<std::string>(1), troupe::ref<std::string>{}, refs.ref_to<std::string>(3)};
  out.emplace_back(w);
  out.emplace_back(empty{});
  return out;
}

}  // namespace serial_fuzz
