// journal_fixture.hpp: the stores the journal contract runs against, and a way to wait for a
// completion with a deadline (a hang fails the test instead of stalling it).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <string>

#include "troupe/persistence/journal.hpp"
#include "troupe/persistence/memory_storage.hpp"
#include "troupe/persistence/sqlite_storage.hpp"

namespace troupe_test {

namespace persistence = troupe::persistence;

/// Waits for one completion of a journal call, at most 30 s.
template <class T>
troupe::result<T> await(std::function<void(persistence::journal::done<T>)> start) {
  auto p = std::make_shared<std::promise<troupe::result<T>>>();
  auto f = p->get_future();
  start([p](troupe::result<T> r) { p->set_value(std::move(r)); });
  if (f.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    ADD_FAILURE() << "the journal did not complete a request within 30 s";
    return troupe::error{persistence::errc::unavailable, "test deadline"};
  }
  return f.get();
}

/// A fresh directory under the test's temporary directory, removed at the end.
class temp_dir {
 public:
  temp_dir() {
    auto base = std::filesystem::temp_directory_path();
    for (int i = 0;; ++i) {
      path_ = base / ("troupe-persistence-" + std::to_string(::getpid()) + "-" + std::to_string(i));
      if (std::filesystem::create_directory(path_)) break;
    }
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// An event of `id` with sequence number `seq`, a payload of `text` and the given tags.
inline persistence::persistent_event event_of(const std::string& id, std::uint64_t seq, const std::string& text,
                                              std::vector<std::string> tags = {}) {
  persistence::persistent_event e;
  e.persistence_id = id;
  e.sequence_nr = seq;
  e.manifest = "test.text";
  e.version = 1;
  e.tags = std::move(tags);
  e.payload = text;
  return e;
}

inline std::string text_of(const persistence::bytes& b) { return b; }

}  // namespace troupe_test
