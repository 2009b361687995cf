// journal.cpp: one thread per journal, a queue of requests, and group commit of writes.
#include "troupe/persistence/journal.hpp"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace troupe::persistence {

namespace {

// One queued request: a write (batched with its neighbours) or any other call on the storage.
// A write keeps the caller's completion as it is, which also refuses it: wrapping it (a
// shared_ptr and two std::functions around it, as other requests have) cost three allocations
// per persisted request, about a fifth of a pipelined event's (callgrind).
struct op {
  std::optional<write_request> write;
  journal::done<void> write_done;
  std::function<void(storage&)> other;
  // Completes a request other than a write with `e` without running it (closed or overloaded).
  std::function<void(const troupe::error&)> refuse;
  // `other` commits a change (delete, snapshot, durable state): with a store that syncs apart it
  // waits for room like a write, and its completion for the sync after it.
  bool changes = false;
};

// A completion handed to the completion thread of a store that syncs apart (storage::sync): it
// runs once the commits numbered up to `need` are durable, with nullptr; or with the error of
// the sync that failed to make them so.
struct handed {
  std::uint64_t need;
  std::function<void(const troupe::error*)> run;
};

// Commits written and not yet durable before the journal's thread waits to write another: one
// being synced while the next is written. More would commit smaller batches (each rewrites
// about a hundred index pages, whatever its size) without syncing any sooner.
constexpr std::uint64_t max_unsynced = 1;

// A completion that throws must not end the journal's thread (every actor on this journal
// would hang); the caller's code is to blame, and the journal carries on.
template <class F>
void run_completion(F&& f) noexcept {
  try {
    f();
  } catch (...) {
  }
}

}  // namespace

struct journal::impl {
  std::shared_ptr<storage> store;
  journal_options opts;
  std::mutex mu;
  std::condition_variable wake;
  // A vector, swapped with the thread's own (emptied, capacity kept) each round: a deque of ops
  // (three to a block) allocated and freed a block every third request (callgrind).
  std::vector<op> queue;  // guarded by mu
  bool closing = false;  // guarded by mu
  // Set once both threads below are stored: until then the journal's thread takes nothing, so no
  // completion can call close() (which reads them) while start() still writes them.
  bool started = false;  // guarded by mu
  std::thread thread;

  // With a store that syncs apart (store->syncs_apart()), completions run on a second thread,
  // the completer: it syncs the store, then runs every completion whose commit the sync covered,
  // in the order the journal's thread handed them over, while that thread writes the next batch.
  bool apart = false;
  std::mutex done_mu;
  std::condition_variable done_wake;  // the completer: something handed over, or closing
  std::condition_variable done_room;  // the journal's thread: a sync finished
  std::vector<handed> done_queue;     // guarded by done_mu
  std::uint64_t committed = 0;        // guarded by done_mu: commits handed over so far
  std::uint64_t synced = 0;           // guarded by done_mu: of them, synced (or failed to)
  bool done_closing = false;          // guarded by done_mu
  std::thread completer;

  void enqueue(op&& o) {  // moved in once, into the queue
    {
      std::lock_guard lock(mu);
      if (!closing && queue.size() < opts.max_pending) {
        queue.push_back(std::move(o));
        // The mutex orders the push before the worker's pop; notify under it is not needed.
        wake.notify_one();
        return;
      }
    }
    // Refused: complete on the caller's thread, outside the lock.
    troupe::error e = closing_now() ? troupe::error{errc::closed, "the journal has been closed"}
                                    : troupe::error{errc::overloaded, "the journal's queue holds " +
                                                                          std::to_string(opts.max_pending) +
                                                                          " requests (max_pending)"};
    run_completion([&] {
      if (o.write)
        o.write_done(std::move(e));
      else
        o.refuse(e);
    });
  }

  bool closing_now() {
    std::lock_guard lock(mu);
    return closing;
  }

  // The journal's thread, before a commit when the store syncs apart: waits until at most
  // max_unsynced commits are not yet durable, so requests meanwhile gather into the next batch.
  void wait_for_room() {
    std::unique_lock lock(done_mu);
    done_room.wait(lock, [&] { return committed - synced <= max_unsynced; });
  }

  // Hands a completion to the completer; `commit`: it follows a commit of its own (a write or a
  // change), else it waits only for the commits before it (a read: what it saw is durable when
  // it completes).
  void hand_over(bool commit, std::function<void(const troupe::error*)> run) {
    {
      std::lock_guard lock(done_mu);
      if (commit) ++committed;
      done_queue.push_back(handed{committed, std::move(run)});
    }
    // notify after the unlock: the completer may take the queue at once.
    done_wake.notify_one();
  }

  void complete_loop() {
    std::vector<handed> items;
    // Once a sync has failed, every later completion fails with its error: the kernel may have
    // dropped pages it could not write, so nothing read or written since is known durable
    // (the store refuses later writes itself; see storage::sync).
    std::optional<troupe::error> failed;
    for (;;) {
      items.clear();
      std::uint64_t target, before;
      {
        std::unique_lock lock(done_mu);
        done_wake.wait(lock, [&] { return done_closing || !done_queue.empty(); });
        if (done_queue.empty()) return;  // closing and drained
        items.swap(done_queue);
        // Every commit counted here returned before it was counted: a sync begun now covers it.
        target = committed;
        before = synced;
      }
      std::uint64_t need = 0;
      for (const auto& h : items) need = std::max(need, h.need);
      if (need > before) {
        if (!failed) {
          result<void> r = [&]() -> result<void> {
            try {
              return store->sync();
            } catch (const std::exception& ex) {
              return troupe::error{errc::storage_error, std::string("storage threw: ") + ex.what()};
            }
          }();
          if (!r) failed = r.error();
        }
        {
          std::lock_guard lock(done_mu);
          synced = target;  // settled either way: the journal's thread may write again
        }
        done_room.notify_one();
      }
      for (auto& h : items) run_completion([&] { h.run(failed ? &*failed : nullptr); });
      if (need > before && !failed) {
        try {
          store->after_sync();
        } catch (...) {  // upkeep only: the next sync reports a store that is really broken
        }
      }
    }
  }

  void loop() {
    std::vector<write_request> writes;
    std::vector<journal::done<void>> write_dones;
    std::vector<op> ops;
    for (;;) {
      ops.clear();
      if (apart) wait_for_room();
      {
        std::unique_lock lock(mu);
        wake.wait(lock, [&] { return started && (closing || !queue.empty()); });
        if (queue.empty()) return;  // closing and drained
        ops.swap(queue);
      }
      // Consecutive writes go into one transaction; any other request runs between them in
      // order, so a read made after a write sees it.
      for (std::size_t i = 0; i < ops.size();) {
        if (!ops[i].write) {
          if (apart && ops[i].changes) wait_for_room();
          ops[i].other(*store);
          ++i;
          continue;
        }
        if (apart) wait_for_room();
        writes.clear();
        write_dones.clear();
        while (i < ops.size() && ops[i].write && writes.size() < opts.max_batch) {
          writes.push_back(std::move(*ops[i].write));
          write_dones.push_back(std::move(ops[i].write_done));
          ++i;
        }
        std::vector<result<void>> results;
        try {
          results = store->write(writes);
        } catch (const std::exception& ex) {
          results.assign(writes.size(), troupe::error{errc::storage_error, std::string("storage threw: ") + ex.what()});
        }
        if (results.size() != writes.size())
          results.assign(writes.size(), troupe::error{errc::storage_error, "storage answered the wrong number of writes"});
        if (!apart) {
          for (std::size_t k = 0; k < writes.size(); ++k) run_completion([&] { write_dones[k](std::move(results[k])); });
          continue;
        }
        // Committed, not yet durable: the completer runs these after its next sync. A request
        // the store refused keeps its own error; a sync that fails fails the others.
        // The spent requests go along to be freed there too: three blocks an event (the events'
        // vector, manifest and payload), freed on the journal's thread, were about 600
        // instructions an event on the one thread every write waits for (callgrind, pipelined).
        hand_over(true, [results = std::move(results), dones = std::move(write_dones),
                         spent = std::move(writes)](const troupe::error* e) mutable {
          for (std::size_t k = 0; k < dones.size(); ++k)
            run_completion([&] { dones[k](e && results[k] ? result<void>(*e) : std::move(results[k])); });
        });
        write_dones = {};  // moved from: fresh ones for the next batch
        writes = {};
      }
    }
  }

  // Wraps a storage call and its completion as one queued op.
  // `changes`: the call commits a change to the store (see op::changes).
  template <class T, class Call>
  void submit(journal::done<T> d, Call call, bool changes = false) {
    auto shared = std::make_shared<journal::done<T>>(std::move(d));
    op o;
    o.changes = changes;
    o.other = [this, shared, changes, call = std::move(call)](storage& s) mutable {
      result<T> r = [&]() -> result<T> {
        try {
          return call(s);
        } catch (const std::exception& ex) {
          return troupe::error{errc::storage_error, std::string("storage threw: ") + ex.what()};
        }
      }();
      if (!apart) {
        run_completion([&] { (*shared)(std::move(r)); });
        return;
      }
      hand_over(changes, [shared, r = std::move(r)](const troupe::error* e) mutable {
        (*shared)(e && r ? result<T>(*e) : std::move(r));
      });
    };
    o.refuse = [shared](const troupe::error& e) { (*shared)(e); };
    enqueue(std::move(o));
  }
};

std::shared_ptr<journal> journal::start(std::shared_ptr<storage> s, journal_options opts) {
  auto p = std::make_shared<impl>();
  p->store = std::move(s);
  p->opts = opts;
  p->apart = p->store->syncs_apart();
  // Each thread owns *p too, so that a close() on one of them (which cannot join it) leaves it
  // to end on its own, the last one out freeing it.
  p->thread = std::thread([p] {
    p->loop();
    // Everything is handed over: the completer may end once it has run it all.
    {
      std::lock_guard lock(p->done_mu);
      p->done_closing = true;
    }
    p->done_wake.notify_all();
  });
  if (p->apart) p->completer = std::thread([p] { p->complete_loop(); });
  {
    std::lock_guard lock(p->mu);
    p->started = true;
  }
  p->wake.notify_all();
  return std::shared_ptr<journal>(new journal(std::move(p)));
}

journal::journal(std::shared_ptr<impl> p) : impl_(std::move(p)) {}

journal::~journal() { close(); }

void journal::close() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->closing = true;
  }
  impl_->wake.notify_all();
  const auto me = std::this_thread::get_id();
  if (me == impl_->thread.get_id() || me == impl_->completer.get_id()) {
    // On one of the journal's own threads (a completion closed it, or dropped its last owner):
    // joining would wait for this very thread, or for the other one waiting on this (the journal's
    // thread waits for the completer's sync). Both finish the queue by themselves; each owns impl.
    if (impl_->thread.joinable()) impl_->thread.detach();
    if (impl_->completer.joinable()) impl_->completer.detach();
    return;
  }
  if (impl_->thread.joinable()) impl_->thread.join();
  // The journal's thread ended after handing everything over (done_closing): then the completer.
  if (impl_->completer.joinable()) impl_->completer.join();
}

void journal::async_write(write_request w, done<void> d) {
  op o;
  o.write.emplace(std::move(w));
  o.write_done = std::move(d);
  impl_->enqueue(std::move(o));
}

void journal::async_read(std::string id, std::uint64_t from, std::uint64_t to, std::uint64_t max,
                         done<std::vector<persistent_event>> d) {
  impl_->submit<std::vector<persistent_event>>(
      std::move(d), [id = std::move(id), from, to, max](storage& s) { return s.read(id, from, to, max); });
}

void journal::async_highest_sequence_nr(std::string id, done<std::uint64_t> d) {
  impl_->submit<std::uint64_t>(std::move(d), [id = std::move(id)](storage& s) { return s.highest_sequence_nr(id); });
}

void journal::async_delete_up_to(std::string id, std::uint64_t to, done<void> d) {
  impl_->submit<void>(std::move(d), [id = std::move(id), to](storage& s) { return s.delete_up_to(id, to); }, true);
}

void journal::async_read_by_tag(std::string tag, std::uint64_t after, std::uint64_t max,
                                done<std::vector<persistent_event>> d) {
  impl_->submit<std::vector<persistent_event>>(
      std::move(d), [tag = std::move(tag), after, max](storage& s) { return s.read_by_tag(tag, after, max); });
}

void journal::async_save_snapshot(snapshot snap, std::uint32_t keep, done<void> d) {
  impl_->submit<void>(std::move(d), [snap = std::move(snap), keep](storage& s) { return s.save_snapshot(snap, keep); }, true);
}

void journal::async_load_snapshot(std::string id, done<std::optional<snapshot>> d) {
  impl_->submit<std::optional<snapshot>>(std::move(d), [id = std::move(id)](storage& s) { return s.load_snapshot(id); });
}

void journal::async_get_state(std::string id, done<std::optional<durable_state>> d) {
  impl_->submit<std::optional<durable_state>>(std::move(d), [id = std::move(id)](storage& s) { return s.get_state(id); });
}

void journal::async_upsert_state(durable_state st, done<void> d) {
  impl_->submit<void>(std::move(d), [st = std::move(st)](storage& s) { return s.upsert_state(st); }, true);
}

}  // namespace troupe::persistence
