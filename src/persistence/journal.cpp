// journal.cpp: one thread per journal, a queue of requests, and group commit of writes.
#include "troupe/persistence/journal.hpp"

#include <condition_variable>
#include <exception>
#include <mutex>
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
};

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
  // Set by ~journal when the last reference went inside a completion, on this thread: the
  // thread, still in loop(), then owns *this and deletes it when the loop returns.
  bool orphaned = false;  // this thread only
  std::thread thread;

  void enqueue(op o) {
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

  void loop() {
    std::vector<write_request> writes;
    std::vector<journal::done<void>> write_dones;
    std::vector<op> ops;
    for (;;) {
      ops.clear();
      {
        std::unique_lock lock(mu);
        wake.wait(lock, [&] { return closing || !queue.empty(); });
        if (queue.empty()) return;  // closing and drained
        ops.swap(queue);
      }
      // Consecutive writes go into one transaction; any other request runs between them in
      // order, so a read made after a write sees it.
      for (std::size_t i = 0; i < ops.size();) {
        if (!ops[i].write) {
          ops[i].other(*store);
          ++i;
          continue;
        }
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
        for (std::size_t k = 0; k < writes.size(); ++k) run_completion([&] { write_dones[k](std::move(results[k])); });
      }
    }
  }

  // Wraps a storage call and its completion as one queued op.
  template <class T, class Call>
  void submit(journal::done<T> d, Call call) {
    auto shared = std::make_shared<journal::done<T>>(std::move(d));
    op o;
    o.other = [shared, call = std::move(call)](storage& s) mutable {
      result<T> r = [&]() -> result<T> {
        try {
          return call(s);
        } catch (const std::exception& ex) {
          return troupe::error{errc::storage_error, std::string("storage threw: ") + ex.what()};
        }
      }();
      run_completion([&] { (*shared)(std::move(r)); });
    };
    o.refuse = [shared](const troupe::error& e) { (*shared)(e); };
    enqueue(std::move(o));
  }
};

std::shared_ptr<journal> journal::start(std::shared_ptr<storage> s, journal_options opts) {
  auto p = std::make_unique<impl>();
  p->store = std::move(s);
  p->opts = opts;
  impl* raw = p.get();
  // The thread only touches *raw, which lives until close() joins it (or, orphaned, until the
  // thread deletes it).
  raw->thread = std::thread([raw] {
    raw->loop();
    if (raw->orphaned) delete raw;
  });
  return std::shared_ptr<journal>(new journal(std::move(p)));
}

journal::journal(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

journal::~journal() {
  close();
  // close() joins unless it runs on the journal's own thread: the last reference was let go in
  // a completion (an actor's callback whose capture held it). That thread is inside loop(),
  // which completes what is queued (nothing new is taken: closing is set) and then deletes the
  // state; freeing it here would pull it from under the loop.
  if (impl_->thread.joinable()) {
    impl_->thread.detach();
    impl_->orphaned = true;
    (void)impl_.release();
  }
}

void journal::close() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->closing = true;
  }
  impl_->wake.notify_all();
  if (impl_->thread.joinable() && impl_->thread.get_id() != std::this_thread::get_id()) impl_->thread.join();
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
  impl_->submit<void>(std::move(d), [id = std::move(id), to](storage& s) { return s.delete_up_to(id, to); });
}

void journal::async_read_by_tag(std::string tag, std::uint64_t after, std::uint64_t max,
                                done<std::vector<persistent_event>> d) {
  impl_->submit<std::vector<persistent_event>>(
      std::move(d), [tag = std::move(tag), after, max](storage& s) { return s.read_by_tag(tag, after, max); });
}

void journal::async_save_snapshot(snapshot snap, std::uint32_t keep, done<void> d) {
  impl_->submit<void>(std::move(d), [snap = std::move(snap), keep](storage& s) { return s.save_snapshot(snap, keep); });
}

void journal::async_load_snapshot(std::string id, done<std::optional<snapshot>> d) {
  impl_->submit<std::optional<snapshot>>(std::move(d), [id = std::move(id)](storage& s) { return s.load_snapshot(id); });
}

void journal::async_get_state(std::string id, done<std::optional<durable_state>> d) {
  impl_->submit<std::optional<durable_state>>(std::move(d), [id = std::move(id)](storage& s) { return s.get_state(id); });
}

void journal::async_upsert_state(durable_state st, done<void> d) {
  impl_->submit<void>(std::move(d), [st = std::move(st)](storage& s) { return s.upsert_state(st); });
}

}  // namespace troupe::persistence
