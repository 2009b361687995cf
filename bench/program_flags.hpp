// program_flags.hpp: what the bench's programs share at start-up: `--name=number` flags over defaults,
// and the file limit raised as far as allowed (they hold tens of thousands of sockets).
#pragma once

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

namespace troupe_bench {

using program_flags = std::map<std::string, long long>;

/// `defaults` overridden by each `--name=number` argument; a malformed one ends the program with
/// status 2, saying which, as `program`.
inline program_flags parse_flags(const char* program, int argc, char** argv, program_flags defaults) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto eq = a.find('=');
    if (a.rfind("--", 0) != 0 || eq == std::string::npos) {
      std::fprintf(stderr, "%s: malformed flag '%s'\n", program, argv[i]);
      std::exit(2);
    }
    defaults[a.substr(2, eq - 2)] = std::atoll(a.c_str() + eq + 1);
  }
  return defaults;
}

/// Raises the soft limit on open files to the hard one; returns the hard limit (children inherit
/// it).
inline rlim_t raise_file_limit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
  if (r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
  return r.rlim_max;
}

}  // namespace troupe_bench
