// journal.hpp: the one asynchronous interface to a store of events, snapshots and states.
// A journal owns one thread and its storage (memory, SQLite, PostgreSQL): any thread may call
// its async_ functions, which never block; each completion runs once, on the journal's thread
// (or its completer thread, for a store that syncs apart), in the order requests were made.
// Writes that arrive while a transaction commits go together into the next one (group commit). A full queue, a closed journal or a failing store completes
// the request with an errc result at once; a request never hangs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "troupe/core/result.hpp"
#include "troupe/persistence/errc.hpp"
#include "troupe/persistence/records.hpp"
#include "troupe/persistence/storage.hpp"

namespace troupe::persistence {

/// Bounds of a journal.
///
///     journal_options o{.max_pending = 10'000, .max_batch = 1'000};
struct journal_options {
  /// Requests queued and not yet taken by the journal's thread; beyond it errc::overloaded.
  std::size_t max_pending = 1 << 16;
  /// Write requests committed in one transaction at most.
  std::size_t max_batch = 4096;
};

/// The asynchronous front of a storage. Completions run on the journal's own thread (for a
/// store that syncs apart, storage::syncs_apart(), on its completer thread, after the sync that
/// makes the request durable), one at a time: keep them short (tell an actor a message; never block, never call back into this journal and wait).
/// An exception thrown by a completion is swallowed: it must not stop other actors' journal.
///
///     auto j = persistence::journal::start(std::make_shared<persistence::memory_storage>());
///     j->async_write({.persistence_id = "a", .expected_next = 1, .events = {e}},
///                    [self](troupe::result<void> r) { self.tell(written{r}); });
class journal {
 public:
  template <class T>
  using done = std::function<void(result<T>)>;

  /// Starts the journal's thread over `s`.
  static std::shared_ptr<journal> start(std::shared_ptr<storage> s, journal_options opts = {});

  /// Completes what is queued, then stops the thread; later requests fail with errc::closed.
  ~journal();
  journal(const journal&) = delete;
  journal& operator=(const journal&) = delete;

  /// Appends `w.events` (all or none) after checking `w.expected_next`; `d` runs once they
  /// are durable, or with the error. Each event's offset is set by the store.
  void async_write(write_request w, done<void> d);
  /// Events of the id with from <= sequence_nr <= to, at most max, in order.
  void async_read(std::string persistence_id, std::uint64_t from, std::uint64_t to, std::uint64_t max,
                  done<std::vector<persistent_event>> d);
  void async_highest_sequence_nr(std::string persistence_id, done<std::uint64_t> d);
  void async_delete_up_to(std::string persistence_id, std::uint64_t to, done<void> d);
  /// Events tagged `tag` with offset > after, in offset order, at most max (one page of a
  /// read model's stream: see tag_stream.hpp).
  void async_read_by_tag(std::string tag, std::uint64_t after, std::uint64_t max,
                         done<std::vector<persistent_event>> d);
  /// Saves `s`, keeping the newest `keep` snapshots of its id (0: all).
  void async_save_snapshot(snapshot s, std::uint32_t keep, done<void> d);
  void async_load_snapshot(std::string persistence_id, done<std::optional<snapshot>> d);
  void async_get_state(std::string persistence_id, done<std::optional<durable_state>> d);
  /// Saves `s` if `s.revision` is the stored one plus one, else errc::revision_conflict.
  void async_upsert_state(durable_state s, done<void> d);

  /// Stops taking requests, completes those queued, joins the threads. Idempotent. Called from
  /// a completion (or the last owner dropped there), it does not wait: the queued requests are
  /// still completed, by the journal's threads, which then end.
  void close();

  struct impl;

 private:
  explicit journal(std::shared_ptr<impl> p);
  // Shared with the journal's threads: a journal whose last owner lets go of it inside one of its
  // own completions is destroyed on that thread, which cannot join itself; its threads then
  // finish on their own and the last one frees this.
  std::shared_ptr<impl> impl_;
};

}  // namespace troupe::persistence
