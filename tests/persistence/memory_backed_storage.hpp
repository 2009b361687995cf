// memory_backed_storage.hpp: a store for tests that change one or two of a store's answers (make
// a read wait at a gate, count commits, sync apart) and keep every other one memory_storage's.
// memory_storage itself is final; a test derives from this and overrides only what it changes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "troupe/persistence/memory_storage.hpp"

namespace troupe_test {

class memory_backed_storage : public troupe::persistence::storage {
 public:
  std::vector<troupe::result<void>> write(std::span<troupe::persistence::write_request> requests) override {
    return inner_.write(requests);
  }
  troupe::result<std::vector<troupe::persistence::persistent_event>> read(const std::string& id, std::uint64_t from,
                                                                          std::uint64_t to, std::uint64_t max) override {
    return inner_.read(id, from, to, max);
  }
  troupe::result<std::uint64_t> highest_sequence_nr(const std::string& id) override {
    return inner_.highest_sequence_nr(id);
  }
  troupe::result<void> delete_up_to(const std::string& id, std::uint64_t to) override {
    return inner_.delete_up_to(id, to);
  }
  troupe::result<std::vector<troupe::persistence::persistent_event>> read_by_tag(const std::string& tag,
                                                                                 std::uint64_t after,
                                                                                 std::uint64_t max) override {
    return inner_.read_by_tag(tag, after, max);
  }
  troupe::result<void> save_snapshot(const troupe::persistence::snapshot& s, std::uint32_t keep) override {
    return inner_.save_snapshot(s, keep);
  }
  troupe::result<std::optional<troupe::persistence::snapshot>> load_snapshot(const std::string& id) override {
    return inner_.load_snapshot(id);
  }
  troupe::result<std::optional<troupe::persistence::durable_state>> get_state(const std::string& id) override {
    return inner_.get_state(id);
  }
  troupe::result<void> upsert_state(const troupe::persistence::durable_state& s) override {
    return inner_.upsert_state(s);
  }

 private:
  troupe::persistence::memory_storage inner_;
};

}  // namespace troupe_test
