// demangle.hpp: readable C++ type names for errors and dead letters. Private to src/core.
#pragma once

#include <string>

namespace troupe::detail {

/// The demangled form of a `typeid(...).name()`, or the name itself if it cannot be demangled.
std::string demangle(const char* mangled);

}  // namespace troupe::detail
