// http_route.cpp: route patterns, percent-decoding and the request's header lookup.
#include "troupe/io/http_route.hpp"

#include <algorithm>
#include <cctype>

namespace troupe::io {

namespace {
bool iequal(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}
int hex(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string_view http_request::header(std::string_view name) const noexcept {
  for (const auto& [k, v] : headers)
    if (iequal(k, name)) return v;
  return {};
}

std::string http_request::param(std::string_view name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

std::string percent_decode(std::string_view s, bool& ok) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    int hi = i + 2 < s.size() ? hex(s[i + 1]) : -1;
    int lo = i + 2 < s.size() ? hex(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      ok = false;
      return {};
    }
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::vector<std::string> split_pattern(std::string_view pattern) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < pattern.size()) {
    if (pattern[i] == '/') {
      ++i;
      continue;
    }
    auto j = pattern.find('/', i);
    if (j == std::string_view::npos) j = pattern.size();
    out.emplace_back(pattern.substr(i, j - i));
    i = j;
  }
  return out;
}

bool match_path(const std::vector<std::string>& pattern, std::string_view path,
                std::map<std::string, std::string, std::less<>>& params) {
  std::map<std::string, std::string, std::less<>> got;
  std::size_t pos = 0;
  auto next_segment = [&](std::string_view& seg) {
    while (pos < path.size() && path[pos] == '/') ++pos;
    if (pos >= path.size()) return false;
    auto end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    seg = path.substr(pos, end - pos);
    pos = end;
    return true;
  };
  for (const auto& p : pattern) {
    if (!p.empty() && p[0] == '*') {
      while (pos < path.size() && path[pos] == '/') ++pos;
      bool ok = true;
      got[p.substr(1)] = percent_decode(path.substr(pos), ok);
      if (!ok) return false;
      pos = path.size();
      params = std::move(got);
      return true;
    }
    std::string_view seg;
    if (!next_segment(seg)) return false;
    if (!p.empty() && p[0] == ':') {
      bool ok = true;
      auto v = percent_decode(seg, ok);
      if (!ok) return false;
      got[p.substr(1)] = std::move(v);
    } else if (seg != p) {
      return false;
    }
  }
  std::string_view rest;
  if (next_segment(rest)) return false;
  params = std::move(got);
  return true;
}

void http_routes::add(std::string method, std::string pattern, detail::http_dispatch d, route_limits limits) {
  entry e;
  e.limits = limits;
  e.method = std::move(method);
  e.pattern = split_pattern(pattern);
  e.dispatch = std::move(d);
  entries_.push_back(std::move(e));
}

http_routes& http_routes::assets(std::string prefix, asset_map assets) {
  entry e;
  e.pattern = split_pattern(prefix);
  e.pattern.emplace_back("*path");
  e.assets = std::make_shared<const asset_map>(std::move(assets));
  e.prefix = std::move(prefix);
  entries_.push_back(std::move(e));
  return *this;
}

http_routes& http_routes::directory(std::string prefix, std::filesystem::path root) {
  entry e;
  e.pattern = split_pattern(prefix);
  e.pattern.emplace_back("*path");
  e.root = std::move(root);
  e.prefix = std::move(prefix);
  entries_.push_back(std::move(e));
  return *this;
}

}  // namespace troupe::io
