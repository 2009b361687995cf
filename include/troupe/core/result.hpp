// result.hpp: the one channel for failures a caller must plan for.
// `result<T>` holds either a T or a `troupe::error` (an error code plus context text); it is
// the subset of C++23's std::expected that troupe needs, and becomes an alias for it once the
// project moves to C++23. Functions that can time out, find a dead receiver, a taken name or a
// wrong protocol return it; exceptions stay for bugs and let-it-crash.
#pragma once

#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace troupe {

/// The failures troupe itself reports. Their category is `troupe::error_category()`.
enum class errc {
  timeout = 1,           ///< an ask or call got no answer within its deadline
  receiver_dead,         ///< the receiver had stopped before it handled the request
  request_dropped,       ///< the receiver handled or discarded the request but never replied
  name_taken,            ///< a name is already registered to a live actor
  name_not_found,        ///< no live actor is registered under the name
  wrong_protocol,        ///< a lookup asked for a protocol the actor does not speak
  system_stopped,        ///< the actor system is shutting down or has stopped
  mailbox_full,          ///< a bounded mailbox refused the message (try_tell, ask)
  circuit_open,          ///< a circuit breaker refused the call without making it
};

}  // namespace troupe

template <>
struct std::is_error_code_enum<troupe::errc> : std::true_type {};

namespace troupe {

/// The `std::error_category` of `troupe::errc`.
const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// An error code plus the context a person needs to act on it.
///
///     troupe::error e{troupe::errc::timeout, "ask to 'counter' after 1000 ms"};
///     std::cerr << e.message();   // "timeout: ask to 'counter' after 1000 ms"
class error {
 public:
  error() = default;
  error(std::error_code code, std::string context = {})
      : code_(code), context_(std::move(context)) {}
  error(errc code, std::string context = {})
      : code_(make_error_code(code)), context_(std::move(context)) {}

  const std::error_code& code() const noexcept { return code_; }
  const std::string& context() const noexcept { return context_; }
  /// The code's text, then the context after a colon.
  std::string message() const {
    return context_.empty() ? code_.message() : code_.message() + ": " + context_;
  }
  friend bool operator==(const error& e, errc c) noexcept { return e.code_ == make_error_code(c); }

 private:
  std::error_code code_;
  std::string context_;
};

/// Thrown by `result::value()` when the result holds an error.
class bad_result_access : public std::runtime_error {
 public:
  explicit bad_result_access(const error& e)
      : std::runtime_error("troupe::result holds an error: " + e.message()), error_(e) {}
  const troupe::error& error() const noexcept { return error_; }

 private:
  troupe::error error_;
};

/// Thrown for a misuse that is a bug in the caller (as Erlang raises badarg): spawning on a
/// stopped system, spawning under a taken name. The text says what was wrong.
class usage_error : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

/// Either a value or an error; `[[nodiscard]]` so a failure cannot be dropped silently.
///
///     troupe::result<int> r = counter.ask<int>(make_get, 1s).get();
///     if (r) use(*r); else log(r.error().message());
template <class T>
class [[nodiscard]] result {
 public:
  using value_type = T;

  template <class U = T>
    requires std::is_constructible_v<T, U&&> && (!std::is_same_v<std::remove_cvref_t<U>, result>) &&
             (!std::is_same_v<std::remove_cvref_t<U>, troupe::error>)
  result(U&& v) : state_(std::in_place_index<0>, std::forward<U>(v)) {}
  result(troupe::error e) : state_(std::in_place_index<1>, std::move(e)) {}
  result(errc e, std::string context = {}) : state_(std::in_place_index<1>, troupe::error{e, std::move(context)}) {}

  bool has_value() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { check(); return std::get<0>(state_); }
  const T& value() const& { check(); return std::get<0>(state_); }
  /// On a temporary, the value moved out, not a reference into the temporary: so that
  /// `for (auto& a : *top_actors(...))` and `auto& v = f().value();` hold a live value (a range
  /// for keeps the returned object alive, not a reference's source). std::expected returns
  /// T&& here; we keep the safer of the two while we are not an alias for it.
  T value() && { check(); return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  /// The error; calling it on a result that holds a value is a bug.
  const troupe::error& error() const& { return std::get<1>(state_); }

  /// Calls `f(value)` (which returns a result) or passes the error on.
  template <class F>
  auto and_then(F&& f) && -> std::invoke_result_t<F, T&&> {
    if (has_value()) return std::forward<F>(f)(std::get<0>(std::move(state_)));
    return std::get<1>(std::move(state_));
  }
  /// Maps the value with `f`, or passes the error on.
  template <class F>
  auto transform(F&& f) && -> result<std::invoke_result_t<F, T&&>> {
    if (has_value()) return std::forward<F>(f)(std::get<0>(std::move(state_)));
    return std::get<1>(std::move(state_));
  }

 private:
  void check() const {
    if (!has_value()) throw bad_result_access(std::get<1>(state_));
  }
  std::variant<T, troupe::error> state_;
};

/// A result that carries no value: success, or an error.
template <>
class [[nodiscard]] result<void> {
 public:
  using value_type = void;
  result() = default;
  result(troupe::error e) : error_(std::move(e)), failed_(true) {}
  result(errc e, std::string context = {}) : error_(e, std::move(context)), failed_(true) {}

  bool has_value() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return !failed_; }
  void value() const {
    if (failed_) throw bad_result_access(error_);
  }
  const troupe::error& error() const& { return error_; }

 private:
  troupe::error error_;
  bool failed_ = false;
};

}  // namespace troupe

