// result.cpp: the error category of troupe::errc.
#include "troupe/core/result.hpp"


namespace troupe {

namespace {
class troupe_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "troupe"; }
  std::string message(int c) const override {
    switch (static_cast<errc>(c)) {
      case errc::timeout: return "timeout";
      case errc::receiver_dead: return "receiver dead";
      case errc::request_dropped: return "request dropped without reply";
      case errc::name_taken: return "name taken";
      case errc::name_not_found: return "name not found";
      case errc::wrong_protocol: return "wrong protocol";
      case errc::system_stopped: return "system stopped";
      case errc::mailbox_full: return "mailbox full";
      case errc::circuit_open: return "circuit open";
    }
    return "unknown troupe error";
  }
};
}  // namespace

const std::error_category& error_category() noexcept {
  static const troupe_category category;
  return category;
}

}  // namespace troupe
