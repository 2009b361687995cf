// describe.hpp: how the test kit prints a message in a failed expectation.
// A message that can be streamed is printed; otherwise its type (for a variant, the type of the
// alternative it holds), demangled. Any thread.
#pragma once

#include <chrono>
#include <concepts>
#include <ostream>
#include <sstream>
#include <string>
#include <typeinfo>
#include <variant>

namespace troupe::testkit::detail {

/// The readable name of a type (`typeid(x).name()`).
std::string demangle(const char* mangled);

template <class T>
concept streamable = requires(std::ostream& os, const T& t) { os << t; };

template <class T>
struct is_variant : std::false_type {};
template <class... Ts>
struct is_variant<std::variant<Ts...>> : std::true_type {};

template <class T>
std::string describe(const T& m) {
  if constexpr (streamable<T>) {
    std::ostringstream os;
    os << m;
    return os.str();
  } else if constexpr (is_variant<T>::value) {
    return std::visit([](const auto& alt) { return describe(alt); }, m);
  } else {
    return demangle(typeid(T).name()) + "{...}";
  }
}

/// "1.250 s": a duration for a failure message.
std::string describe_duration(std::chrono::nanoseconds d);

}  // namespace troupe::testkit::detail
