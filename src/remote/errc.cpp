// errc.cpp: the error category of remote::errc.
#include "troupe/remote/errc.hpp"

#include <string>

namespace troupe::remote {

namespace {
class remote_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "troupe.remote"; }
  std::string message(int c) const override {
    switch (static_cast<errc>(c)) {
      case errc::node_down: return "node down";
      case errc::bad_address: return "bad node address";
      case errc::handshake_failed: return "handshake failed";
      case errc::wrong_version: return "no common wire version";
      case errc::send_queue_full: return "send queue full";
      case errc::message_too_large: return "message too large";
      case errc::stopped: return "node stopped";
    }
    return "unknown remote error";
  }
};
}  // namespace

const std::error_category& error_category() noexcept {
  static const remote_category category;
  return category;
}

}  // namespace troupe::remote
