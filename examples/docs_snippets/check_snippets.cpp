// check_snippets: fails when a C++ snippet of a Markdown page is not in the code it quotes.
//
//     check_snippets docs/core.md examples/docs_snippets/main.cpp
//
// Each ```cpp block of the page must appear, line for line, in one of the source files, so a
// snippet is compiled (and run) wherever its source is. Lines are compared with their
// whitespace collapsed, blank lines ignored. A line that is only `...` or `// ...` in a snippet
// skips any number of source lines. Blocks fenced as anything but `cpp` are not checked.
#include <cstddef>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

std::string normalized(const std::string& line) {
  std::string out;
  bool space = false;
  for (char ch : line) {
    if (ch == ' ' || ch == '\t' || ch == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += ch;
  }
  return out;
}

std::vector<std::string> code_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (auto n = normalized(line); !n.empty()) lines.push_back(n);
  return lines;
}

struct snippet {
  std::size_t first_line;                     // in the page, for the report
  std::vector<std::vector<std::string>> parts;  // separated by `...` lines
};

std::vector<snippet> snippets_of(const std::string& page) {
  std::ifstream in(page);
  if (!in) throw std::runtime_error("cannot read " + page);
  std::vector<snippet> out;
  bool in_cpp = false;
  bool in_other = false;
  std::size_t number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    auto n = normalized(line);
    if (!in_cpp && !in_other && n.rfind("```", 0) == 0) {
      in_cpp = n == "```cpp" || n == "```c++";
      in_other = !in_cpp;
      if (in_cpp) out.push_back({number + 1, {{}}});
      continue;
    }
    if ((in_cpp || in_other) && n == "```") {
      in_cpp = in_other = false;
      continue;
    }
    if (!in_cpp || n.empty()) continue;
    if (n == "..." || n == "// ...") out.back().parts.emplace_back();
    else out.back().parts.back().push_back(n);
  }
  return out;
}

// Where `part` occurs in `lines` at or after `from`, or npos.
std::size_t find(const std::vector<std::string>& lines, const std::vector<std::string>& part, std::size_t from) {
  if (part.empty()) return from;
  for (std::size_t i = from; i + part.size() <= lines.size(); ++i) {
    std::size_t k = 0;
    while (k < part.size() && lines[i + k] == part[k]) ++k;
    if (k == part.size()) return i;
  }
  return std::string::npos;
}

bool quoted_in(const snippet& s, const std::vector<std::string>& lines) {
  std::size_t at = 0;
  for (const auto& part : s.parts) {
    at = find(lines, part, at);
    if (at == std::string::npos) return false;
    at += part.size();
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: check_snippets PAGE.md SOURCE...\n";
    return 2;
  }
  try {
    std::vector<std::vector<std::string>> sources;
    for (int i = 2; i < argc; ++i) sources.push_back(code_lines(argv[i]));
    auto all = snippets_of(argv[1]);
    int missing = 0;
    for (const auto& s : all) {
      bool found = false;
      for (const auto& src : sources) found = found || quoted_in(s, src);
      if (!found) {
        ++missing;
        std::cerr << argv[1] << ":" << s.first_line << ": this snippet is not in the sources given\n";
      }
    }
    std::cout << argv[1] << ": " << all.size() - missing << " of " << all.size() << " C++ snippets found\n";
    return missing == 0 && !all.empty() ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "check_snippets: " << e.what() << '\n';
    return 2;
  }
}
