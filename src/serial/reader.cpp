// reader.cpp: the failure texts of the reader and the codecs, kept out of line: the cold path.
#include "troupe/serial/reader.hpp"

#include "troupe/serial/codec.hpp"

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

namespace detail {
bool fail_integer_range(reader& r, const std::string& value, std::size_t bytes, bool is_signed) {
  return r.fail(errc::invalid_value, "integer " + value + " does not fit " + std::to_string(bytes * 8) +
                                         (is_signed ? " signed bits" : " unsigned bits"));
}
}  // namespace detail

}  // namespace troupe::serial
