// errc.cpp: the error category of cluster::errc.
#include "troupe/cluster/errc.hpp"

#include <string>

namespace troupe::cluster {

namespace {
class cluster_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "troupe.cluster"; }
  std::string message(int c) const override {
    switch (static_cast<errc>(c)) {
      case errc::store_unavailable: return "membership store unavailable";
      case errc::store_error: return "membership store error";
      case errc::not_a_member: return "not an up member of the cluster";
      case errc::no_members: return "no up member";
      case errc::unknown_grain_type: return "unknown grain type";
      case errc::stopped: return "cluster stopped";
    }
    return "unknown cluster error";
  }
};
}  // namespace

const std::error_category& error_category() noexcept {
  static const cluster_category category;
  return category;
}

}  // namespace troupe::cluster
