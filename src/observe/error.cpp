// error.cpp: observe::errc's category.
#include "troupe/observe/error.hpp"

#include <string>

namespace troupe::observe {

namespace {
class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "troupe.observe"; }
  std::string message(int c) const override {
    switch (static_cast<errc>(c)) {
      case errc::introspection_off:
        return "introspection is off for this system (set system_config::introspection)";
      case errc::no_such_actor:
        return "no live actor has that id";
      case errc::bad_metric:
        return "not a valid Prometheus metric";
    }
    return "unknown observe error";
  }
};
}  // namespace

const std::error_category& error_category() noexcept {
  static const category c;
  return c;
}

}  // namespace troupe::observe
