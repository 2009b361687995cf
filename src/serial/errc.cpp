// errc.cpp: the error category of troupe::serial::errc.
#include "troupe/serial/errc.hpp"

#include <string>

namespace troupe::serial {

namespace {
class serial_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "troupe.serial"; }
  std::string message(int c) const override {
    switch (static_cast<errc>(c)) {
      case errc::truncated: return "truncated input";
      case errc::bad_length: return "length beyond the input";
      case errc::limit_exceeded: return "decode limit exceeded";
      case errc::too_deep: return "nesting too deep";
      case errc::bad_varint: return "malformed varint";
      case errc::invalid_value: return "invalid value";
      case errc::invalid_variant_index: return "invalid variant index";
      case errc::unknown_type: return "unknown message type";
      case errc::not_registered: return "protocol not registered";
      case errc::fingerprint_mismatch: return "schema fingerprint mismatch";
      case errc::trailing_bytes: return "trailing bytes after the message";
      case errc::no_ref_context: return "no ref context";
      case errc::bad_ref: return "bad ref";
      case errc::duplicate_type_id: return "duplicate type id";
    }
    return "unknown troupe.serial error";
  }
};
}  // namespace

const std::error_category& error_category() noexcept {
  static const serial_category category;
  return category;
}

}  // namespace troupe::serial
