// error.cpp: the error category of io::errc and the texts of close reasons.
#include "troupe/io/error.hpp"

#include <string>

#include "troupe/io/connection.hpp"

namespace troupe::io {

namespace {
class io_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "troupe.io"; }
  std::string message(int c) const override {
    switch (static_cast<errc>(c)) {
      case errc::write_queue_full: return "write queue full";
      case errc::closed: return "connection closed";
      case errc::frame_too_large: return "frame too large";
      case errc::connect_timeout: return "connect timed out";
      case errc::tls_handshake_failed: return "TLS handshake failed";
      case errc::bad_address: return "bad address";
      case errc::bad_frame: return "bad frame";
    }
    return "unknown io error";
  }
};
}  // namespace

const std::error_category& error_category() noexcept {
  static const io_category category;
  return category;
}

const char* to_string(close_reason r) noexcept {
  switch (r) {
    case close_reason::end_of_input: return "end of input";
    case close_reason::reset: return "reset by peer";
    case close_reason::idle_timeout: return "idle timeout";
    case close_reason::frame_too_large: return "frame too large";
    case close_reason::write_queue_full: return "write queue full";
    case close_reason::error: return "error";
  }
  return "unknown";
}

}  // namespace troupe::io
