// messages.hpp: message types the serial tests share, one field of every supported kind.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "troupe/core/ref.hpp"

namespace serial_test {

enum class color : std::uint8_t { red, green, blue = 7 };
enum level : int { low = -3, high = 200 };

struct point {
  std::int32_t x = 0;
  std::int32_t y = 0;
  friend bool operator==(const point&, const point&) = default;
};

struct empty {
  friend bool operator==(const empty&, const empty&) = default;
};

struct everything {
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
  level l = low;
  std::string text;
  std::vector<std::int32_t> numbers;
  std::vector<std::byte> blob;
  std::vector<bool> bits;
  std::array<point, 2> corners{};
  std::map<std::string, std::int64_t> scores;
  std::unordered_map<std::uint32_t, std::string> names;
  std::optional<point> maybe;
  std::variant<std::monostate, std::int32_t, std::string, point> choice;
  std::chrono::nanoseconds timeout{0};
  std::chrono::duration<double> seconds{0};
  std::pair<std::string, std::uint16_t> pair;
  std::tuple<bool, std::int64_t, std::string> tuple;
  empty nothing;
  std::vector<std::vector<std::string>> nested;
  friend bool operator==(const everything&, const everything&) = default;
};

inline everything sample() {
  everything e;
  e.flag = true;
  e.letter = 'q';
  e.i8 = -100;
  e.u8 = 250;
  e.i16 = -30000;
  e.u16 = 65000;
  e.i32 = -2000000000;
  e.u32 = 4000000000u;
  e.i64 = INT64_MIN;
  e.u64 = UINT64_MAX;
  e.f = 1.5f;
  e.d = -2.25;
  e.c = color::blue;
  e.l = high;
  e.text = "hello, world";
  e.numbers = {1, -1, 0, 1 << 30};
  e.blob = {std::byte{0}, std::byte{0xff}, std::byte{0x80}};
  e.bits = {true, false, true};
  e.corners = {point{1, 2}, point{-3, -4}};
  e.scores = {{"ada", 10}, {"bob", -20}};
  e.names = {{1, "one"}, {2, "two"}};
  e.maybe = point{5, 6};
  e.choice = std::string("picked");
  e.timeout = std::chrono::milliseconds(1500);
  e.seconds = std::chrono::duration<double>(0.5);
  e.pair = {"port", 8080};
  e.tuple = {true, -7, "seven"};
  e.nested = {{"a", "b"}, {}, {"c"}};
  return e;
}

struct add {
  std::int32_t n = 0;
  friend bool operator==(const add&, const add&) = default;
};
struct get {
  troupe::ref<std::int32_t> reply_to;
};
using counter_msg = std::variant<add, get>;

}  // namespace serial_test
