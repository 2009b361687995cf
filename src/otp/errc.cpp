// errc.cpp: the error category of troupe::otp::errc.
#include "troupe/otp/errc.hpp"

namespace troupe::otp {

namespace {
class otp_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "troupe.otp"; }
  std::string message(int c) const override {
    switch (static_cast<errc>(c)) {
      case errc::stash_full: return "stash full";
      case errc::no_such_handler: return "no such event handler";
      case errc::handler_exists: return "event handler already added";
      case errc::handler_failed: return "event handler failed";
    }
    return "unknown troupe.otp error";
  }
};
}  // namespace

const std::error_category& error_category() noexcept {
  static const otp_category category;
  return category;
}

}  // namespace troupe::otp
