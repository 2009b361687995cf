// log.hpp: log records (a level, a time, who said it, a message and key/value fields), the sink
// that writes them (standard error by default) and the per-system logger that filters them.
// One logger per system, none per process (several systems live in one process). Any thread may
// log and change the level at any time. A record below the level costs one relaxed atomic load:
// nothing is formatted, nothing allocated. Formatting (fmt) is private to the library, so this
// header needs only the standard library.
#pragma once

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "troupe/core/spin_mutex.hpp"
#include "troupe/core/result.hpp"

namespace troupe {

/// How important a log record is; `off` as a level silences everything.
///
///     sys.logger().set_level(troupe::log_level::debug);
enum class log_level : std::uint8_t { trace, debug, info, warning, error, off };

/// The level's name as operators type it: "trace", "debug", "info", "warning", "error", "off".
///
///     std::cout << troupe::to_string(troupe::log_level::warning);  // warning
std::string_view to_string(log_level level) noexcept;

/// Reads a level's name (as to_string writes it; "warn" is accepted too, any case).
///
///     auto l = troupe::parse_log_level("DEBUG");  // log_level::debug
///     auto bad = troupe::parse_log_level("loud"); // an error that lists the names
result<log_level> parse_log_level(std::string_view name);

/// The value of a structured field: a string, a number, a bool or a duration, held without
/// allocating. A string is only viewed: it must outlive the log call (a temporary does).
///
///     troupe::log_value v = 42;                     // an integer
///     troupe::log_value w = std::chrono::milliseconds(5);  // a duration, written "5ms"
class log_value {
 public:
  enum class kind : std::uint8_t { string, signed_integer, unsigned_integer, floating, boolean, duration };

  log_value(std::string_view s) noexcept : kind_(kind::string), s_(s) {}  // NOLINT: implicit on purpose
  log_value(const char* s) noexcept : kind_(kind::string), s_(s) {}       // not bool: a literal is text
  log_value(const std::string& s) noexcept : kind_(kind::string), s_(s) {}
  template <std::same_as<bool> B>
  log_value(B b) noexcept : kind_(kind::boolean), b_(b) {}
  template <std::signed_integral I>
    requires(!std::same_as<I, bool>)
  log_value(I i) noexcept : kind_(kind::signed_integer), i_(i) {}
  template <std::unsigned_integral U>
    requires(!std::same_as<U, bool>)
  log_value(U u) noexcept : kind_(kind::unsigned_integer), u_(u) {}
  template <std::floating_point F>
  log_value(F f) noexcept : kind_(kind::floating), d_(static_cast<double>(f)) {}
  template <class Rep, class Period>
  log_value(std::chrono::duration<Rep, Period> d) noexcept
      : kind_(kind::duration), i_(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()) {}

  kind type() const noexcept { return kind_; }
  std::string_view as_string() const noexcept { return kind_ == kind::string ? s_ : std::string_view{}; }
  std::int64_t as_signed() const noexcept { return i_; }  ///< signed_integer; duration in nanoseconds
  std::uint64_t as_unsigned() const noexcept { return u_; }
  double as_double() const noexcept { return d_; }
  bool as_bool() const noexcept { return b_; }
  /// Appends the text form: strings as they are, durations with a unit ("1.5s", "250ms").
  void append_to(std::string& out) const;

 private:
  kind kind_;
  union {
    std::string_view s_;
    std::int64_t i_;
    std::uint64_t u_;
    double d_;
    bool b_;
  };
};

/// One key/value pair of a record.
///
///     ctx.log(troupe::log_level::info, "order paid", {{"order", id}, {"cents", 1250}});
struct log_field {
  std::string_view key;
  log_value value;
};

/// What a sink receives. Everything in it is only viewed: a sink that keeps a record copies it.
///
///     void write(const troupe::log_record& r) noexcept override { lines.push_back(std::string(r.message)); }
struct log_record {
  log_level level = log_level::info;
  std::chrono::system_clock::time_point time{};
  /// Who said it: an actor's path ("/shop/orders/#41"), or a part of the runtime ("remote node 'a'").
  std::string_view source{};
  std::string_view message{};
  std::span<const log_field> fields{};
};

/// Where records go. write() may be called from several threads at once and must not throw;
/// it runs on the logging thread (an actor's worker), so a slow sink slows that actor.
///
///     struct to_vector final : troupe::log_sink {
///       std::mutex mu;
///       std::vector<std::string> lines;
///       void write(const troupe::log_record& r) noexcept override {
///         std::lock_guard lock(mu);
///         lines.push_back(troupe::format_log_line(r));
///       }
///     };
class log_sink {
 public:
  virtual ~log_sink() = default;
  virtual void write(const log_record& record) noexcept = 0;
};

/// The default sink: one line per record on standard error, written whole (lines from several
/// threads never interleave).
///
///     cfg.log.sink = troupe::make_stderr_sink();
std::shared_ptr<log_sink> make_stderr_sink();

/// The record as one line: "2026-12-06T21:04:05.123Z warning /shop/orders: slow reply took=1.2s".
/// Strings with spaces, quotes or '=' in field values are quoted, so the line parses back as
/// key=value pairs.
///
///     std::string line = troupe::format_log_line(record);
std::string format_log_line(const log_record& record);
/// The line without time and level: "source: message key=value ...", as a function logger gets it.
///
///     std::string text = troupe::format_log_text(record);  // "/shop/orders: slow reply took=1.2s"
std::string format_log_text(const log_record& record);

/// A system's logger: a sink and the level below which records are dropped (info by default),
/// with levels of their own for chosen sources (an actor's subtree, a part of the runtime).
/// Reach it through `system::logger()`, or `actor_context::log` from an actor.
///
///     sys.logger().set_level(troupe::log_level::debug);
///     sys.logger().set_level("/shop/payments", troupe::log_level::trace);  // and the actors under it
///     sys.logger().log(troupe::log_level::info, "main", "started", {{"port", 8080}});
class logger {
 public:
  explicit logger(std::shared_ptr<log_sink> sink = nullptr, log_level level = log_level::info)
      : sink_(sink ? std::move(sink) : make_stderr_sink()), level_(level), floor_(level) {}
  logger(const logger&) = delete;
  logger& operator=(const logger&) = delete;

  /// True if a record of `level` could be written (from some source): test it before building
  /// costly fields. Without source levels this is exactly "would be written".
  bool enabled(log_level level) const noexcept {
    // relaxed: the level is a filter, not a publication; a record racing a change may go either way.
    return level != log_level::off && level >= floor_.load(std::memory_order_relaxed);
  }
  /// The logger's level, for sources without a level of their own.
  log_level level() const noexcept { return level_.load(std::memory_order_relaxed); }  // relaxed: see enabled
  /// Takes effect for the records logged after it, on every thread.
  void set_level(log_level level) noexcept;
  /// Gives `source` and what is under it a level of its own, which wins over the logger's:
  /// "/shop" covers "/shop" and "/shop/orders/#41" (a path continues at a '/'), "troupe" covers
  /// "troupe"; the longest source that covers a record decides. Any thread.
  ///
  ///     sys.logger().set_level("/shop/payments", troupe::log_level::debug);
  void set_level(std::string_view source, log_level level);
  /// Takes `source`'s own level away (its records follow the logger's level again); false if it
  /// had none.
  bool clear_level(std::string_view source);
  /// The level that applies to records from `source`.
  log_level level_for(std::string_view source) const noexcept;
  /// The sources with a level of their own, ordered by source.
  std::vector<std::pair<std::string, log_level>> source_levels() const;

  /// Writes a record stamped with the wall-clock time if `level` is enabled.
  void log(log_level level, std::string_view source, std::string_view message,
           std::initializer_list<log_field> fields = {}) const {
    if (enabled(level)) write(level, source, message, std::span<const log_field>(fields.begin(), fields.size()));
  }
  /// As log(), for callers that tested enabled() themselves: only the sources' own levels are
  /// applied here (enabled() cannot know the source).
  void write(log_level level, std::string_view source, std::string_view message,
             std::span<const log_field> fields) const noexcept;
  /// The sink, fixed at construction (system_config::log), so that writing takes no lock.
  const std::shared_ptr<log_sink>& sink() const noexcept { return sink_; }

 private:
  void update_floor() noexcept;  // with sources_mu_ held

  const std::shared_ptr<log_sink> sink_;  // never null
  std::atomic<log_level> level_;
  // The lowest of level_ and the sources' levels: what enabled() compares with, so that a record
  // below every level still costs one load. Written with sources_mu_ held.
  std::atomic<log_level> floor_;
  // Whether sources_ is not empty, so that write() looks there only when it must. Written with
  // sources_mu_ held; relaxed readers, as for the level (a filter, not a publication).
  std::atomic<bool> by_source_{false};
  mutable spin_mutex sources_mu_;
  std::vector<std::pair<std::string, log_level>> sources_;  // guarded by sources_mu_; by source
};

}  // namespace troupe
