// log.cpp: the text form of records, the standard-error sink and the level names.
// fmt does the formatting; it is compiled in header-only, so core's users need no fmt at all
// (neither its headers nor its library): docs/observe.md, "Logs", says why.
#include "troupe/core/log.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace troupe {

namespace {

constexpr std::string_view level_names[] = {"trace", "debug", "info", "warning", "error", "off"};

bool needs_quotes(std::string_view s) {
  if (s.empty()) return true;
  return std::any_of(s.begin(), s.end(), [](char c) {
    return c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
  });
}

void append_quoted(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
        else out += c;
    }
  }
  out += '"';
}

void append_duration(std::string& out, std::int64_t ns) {
  auto it = std::back_inserter(out);
  const auto mag = ns < 0 ? -static_cast<double>(ns) : static_cast<double>(ns);
  if (mag >= 1e9) fmt::format_to(it, "{:g}s", static_cast<double>(ns) / 1e9);
  else if (mag >= 1e6) fmt::format_to(it, "{:g}ms", static_cast<double>(ns) / 1e6);
  else if (mag >= 1e3) fmt::format_to(it, "{:g}us", static_cast<double>(ns) / 1e3);
  else fmt::format_to(it, "{}ns", ns);
}

void append_text(std::string& out, const log_record& r) {
  if (!r.source.empty()) {
    out.append(r.source);
    out += ": ";
  }
  out.append(r.message);
  for (const auto& f : r.fields) {
    out += ' ';
    out.append(f.key);
    out += '=';
    if (f.value.type() == log_value::kind::string && needs_quotes(f.value.as_string())) append_quoted(out, f.value.as_string());
    else f.value.append_to(out);
  }
}

class stderr_sink final : public log_sink {
 public:
  void write(const log_record& r) noexcept override {
    try {
      std::string line = format_log_line(r);
      line += '\n';
      // One fwrite per line: stdio locks the stream for the call, so lines never interleave.
      std::fwrite(line.data(), 1, line.size(), stderr);
    } catch (...) {
      // Out of memory while formatting a log line: dropping the line is all that is left to do.
    }
  }
};

}  // namespace

std::string_view to_string(log_level level) noexcept {
  const auto i = static_cast<std::size_t>(level);
  return i < std::size(level_names) ? level_names[i] : "unknown";
}

result<log_level> parse_log_level(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "warn") return log_level::warning;
  for (std::size_t i = 0; i < std::size(level_names); ++i)
    if (lower == level_names[i]) return static_cast<log_level>(i);
  return error{std::make_error_code(std::errc::invalid_argument),
               fmt::format("'{}' is not a log level; use trace, debug, info, warning, error or off", name)};
}

void log_value::append_to(std::string& out) const {
  auto it = std::back_inserter(out);
  switch (kind_) {
    case kind::string: out.append(s_); break;
    case kind::signed_integer: fmt::format_to(it, "{}", i_); break;
    case kind::unsigned_integer: fmt::format_to(it, "{}", u_); break;
    case kind::floating: fmt::format_to(it, "{:g}", d_); break;
    case kind::boolean: out += b_ ? "true" : "false"; break;
    case kind::duration: append_duration(out, i_); break;
  }
}

std::shared_ptr<log_sink> make_stderr_sink() { return std::make_shared<stderr_sink>(); }

std::string format_log_text(const log_record& record) {
  std::string out;
  append_text(out, record);
  return out;
}

std::string format_log_line(const log_record& record) {
  std::string out;
  out.reserve(64 + record.message.size());
  const auto since_epoch = record.time.time_since_epoch();
  const auto secs = std::chrono::floor<std::chrono::seconds>(since_epoch);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - secs).count();
  std::tm utc{};
  const std::time_t t = secs.count();
  gmtime_r(&t, &utc);
  fmt::format_to(std::back_inserter(out), "{:%Y-%m-%dT%H:%M:%S}.{:03}Z {} ", utc, ms, to_string(record.level));
  append_text(out, record);
  return out;
}

namespace {

// `key` covers `source`: equal, or a prefix that ends where a path continues.
bool covers(std::string_view key, std::string_view source) noexcept {
  if (source.size() < key.size() || source.substr(0, key.size()) != key) return false;
  return source.size() == key.size() || key.back() == '/' || source[key.size()] == '/';
}

}  // namespace

void logger::update_floor() noexcept {
  auto floor = level_.load(std::memory_order_relaxed);
  for (auto& [src, lvl] : sources_) floor = std::min(floor, lvl);
  floor_.store(floor, std::memory_order_relaxed);  // relaxed: see enabled()
  by_source_.store(!sources_.empty(), std::memory_order_relaxed);
}

void logger::set_level(log_level level) noexcept {
  std::lock_guard lock(sources_mu_);
  level_.store(level, std::memory_order_relaxed);  // relaxed: see enabled()
  update_floor();
}

void logger::set_level(std::string_view source, log_level level) {
  if (source.empty()) return set_level(level);  // every source
  std::lock_guard lock(sources_mu_);
  auto it = std::lower_bound(sources_.begin(), sources_.end(), source,
                             [](const auto& e, std::string_view s) { return e.first < s; });
  if (it != sources_.end() && it->first == source) it->second = level;
  else sources_.emplace(it, std::string(source), level);
  update_floor();
}

bool logger::clear_level(std::string_view source) {
  std::lock_guard lock(sources_mu_);
  auto it = std::find_if(sources_.begin(), sources_.end(), [&](const auto& e) { return e.first == source; });
  if (it == sources_.end()) return false;
  sources_.erase(it);
  update_floor();
  return true;
}

log_level logger::level_for(std::string_view source) const noexcept {
  std::lock_guard lock(sources_mu_);
  std::size_t best = 0;
  auto level = level_.load(std::memory_order_relaxed);
  bool found = false;
  for (auto& [key, lvl] : sources_)
    if (!key.empty() && covers(key, source) && (!found || key.size() > best)) {
      found = true;
      best = key.size();
      level = lvl;
    }
  return level;
}

std::vector<std::pair<std::string, log_level>> logger::source_levels() const {
  std::lock_guard lock(sources_mu_);
  return sources_;
}

void logger::write(log_level level, std::string_view source, std::string_view message,
                   std::span<const log_field> fields) const noexcept {
  // relaxed: a filter, as in enabled(); level_for() takes the lock that guards the sources.
  if (by_source_.load(std::memory_order_relaxed) && (level == log_level::off || level < level_for(source))) return;
  sink_->write(log_record{level, std::chrono::system_clock::now(), source, message, fields});
}

}  // namespace troupe
