// codec.cpp: cutting a byte stream into frames, and framing outgoing ones.
#include "troupe/io/codec.hpp"

#include <cstdint>
#include <cstring>

namespace troupe::io {

void frame_decoder::feed(std::string_view bytes) {
  if (bytes.empty()) return;
  if (pos_ != 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  buf_.append(bytes);
}

void frame_decoder::compact() {
  if (pos_ == buf_.size()) {
    // Nothing partial is held: give the memory back, so an idle connection costs no buffer.
    std::string().swap(buf_);
    pos_ = 0;
  } else if (pos_ > 4096 && pos_ * 2 > buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
}

result<std::optional<std::string>> frame_decoder::next() {
  const std::size_t avail = buf_.size() - pos_;
  const std::size_t max = codec_.max_frame;
  std::optional<std::string> out;
  switch (codec_.kind) {
    case framing::raw: {
      if (avail == 0) return out;
      if (pos_ == 0 && avail <= max) {
        out.emplace(std::move(buf_));  // the common case: the whole buffer is the chunk, no copy
        buf_ = std::string();
        pos_ = 0;
        return out;
      }
      std::size_t n = avail < max ? avail : max;
      out.emplace(buf_, pos_, n);
      pos_ += n;
      break;
    }
    case framing::length_prefixed: {
      if (avail < 4) return out;
      const auto* p = reinterpret_cast<const unsigned char*>(buf_.data() + pos_);
      std::uint32_t len = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
      if (len > max)
        return error(errc::frame_too_large, "length header says " + std::to_string(len) + " bytes, max_frame is " +
                                                std::to_string(max));
      if (avail - 4 < len) return out;
      out.emplace(buf_, pos_ + 4, len);
      pos_ += 4 + len;
      break;
    }
    case framing::line: {
      const char* begin = buf_.data() + pos_;
      // A line of max bytes may carry a '\r' before its '\n': look that far and no further.
      std::size_t scan = avail < max + 2 ? avail : max + 2;
      const void* nl = std::memchr(begin, '\n', scan);
      if (nl == nullptr) {
        if (avail > max + 1)
          return error(errc::frame_too_large, "no newline within " + std::to_string(max) + " bytes");
        return out;
      }
      std::size_t len = static_cast<std::size_t>(static_cast<const char*>(nl) - begin);
      std::size_t consumed = len + 1;
      if (len > 0 && begin[len - 1] == '\r') --len;
      if (len > max)
        return error(errc::frame_too_large, "a line of " + std::to_string(len) + " bytes, max_frame is " +
                                                std::to_string(max));
      out.emplace(begin, len);
      pos_ += consumed;
      break;
    }
  }
  compact();
  return out;
}

result<std::string> encode_frame(const codec& c, std::string frame) {
  switch (c.kind) {
    case framing::raw:
      return frame;
    case framing::length_prefixed: {
      if (frame.size() > c.max_frame || frame.size() > 0xffffffffu)
        return error(errc::frame_too_large, std::to_string(frame.size()) + " bytes");
      auto n = static_cast<std::uint32_t>(frame.size());
      std::string out;
      out.reserve(4 + frame.size());
      out.push_back(static_cast<char>(n >> 24));
      out.push_back(static_cast<char>((n >> 16) & 0xff));
      out.push_back(static_cast<char>((n >> 8) & 0xff));
      out.push_back(static_cast<char>(n & 0xff));
      out += frame;
      return out;
    }
    case framing::line:
      if (frame.size() > c.max_frame) return error(errc::frame_too_large, std::to_string(frame.size()) + " bytes");
      if (frame.find('\n') != std::string::npos)
        return error(errc::bad_frame, "a line frame may not contain '\\n'");
      frame.push_back('\n');
      return frame;
  }
  return frame;
}

}  // namespace troupe::io
