// errc.cpp: the error category of troupe::persistence::errc.
#include "troupe/persistence/errc.hpp"

namespace troupe::persistence {

namespace {
class persistence_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "troupe.persistence"; }
  std::string message(int c) const override {
    switch (static_cast<errc>(c)) {
      case errc::unavailable: return "store unavailable";
      case errc::storage_full: return "store full";
      case errc::sequence_conflict: return "sequence number conflict";
      case errc::revision_conflict: return "revision conflict";
      case errc::corrupt: return "corrupt record";
      case errc::overloaded: return "journal overloaded";
      case errc::closed: return "journal closed";
      case errc::storage_error: return "store error";
      case errc::unknown_event: return "unknown event type";
      case errc::missing_upcaster: return "missing upcaster";
    }
    return "unknown troupe.persistence error";
  }
};
}  // namespace

const std::error_category& error_category() noexcept {
  static const persistence_category category;
  return category;
}

}  // namespace troupe::persistence
