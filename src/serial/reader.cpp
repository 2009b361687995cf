// reader.cpp: the reader's failure texts, kept out of line: they are the cold path.
#include "troupe/serial/reader.hpp"

#include <string>

namespace troupe::serial {

bool reader::fail_here(errc code, std::string_view text) {
  if (failed_) return false;
  return fail(troupe::error{make_error_code(code), std::string(text) + " at byte " + std::to_string(pos_)});
}

bool reader::truncated(std::size_t wanted) {
  if (failed_) return false;
  return fail_here(errc::truncated, "needed " + std::to_string(wanted) + " more byte(s), " +
                                        std::to_string(size_ - pos_) + " left");
}

bool reader::fail_length(errc code, const char* what, std::uint64_t declared, std::uint64_t bound) {
  if (failed_) return false;
  std::string text = std::string(what) + " declares " + std::to_string(declared);
  if (code == errc::bad_length)
    text += ", but the input left holds at most " + std::to_string(bound);
  else
    text += ", over the limit of " + std::to_string(bound);
  return fail_here(code, text);
}

bool reader::fail_depth() {
  if (failed_) return false;
  return fail_here(errc::too_deep, "values nested deeper than max_depth " + std::to_string(limits_.max_depth));
}

}  // namespace troupe::serial
