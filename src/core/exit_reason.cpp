#include "troupe/core/exit_reason.hpp"

namespace troupe {

std::string exit_reason::describe() const {
  static constexpr const char* names[] = {"normal", "shutdown", "exception", "linked", "killed", "noconnection"};
  std::string s = names[static_cast<int>(what)];
  return text.empty() ? s : s + ": " + text;
}

}  // namespace troupe
