// troupe-persist-bench: the persistence workload of DESIGN.md, apart from troupe-bench because it
// needs a store. Prints one line per run, as troupe-bench does:
//   RESULT workload=<name> ok=<0|1> value=<events> seconds=<wall> extra=events_per_s:<rate>
//   troupe-persist-bench persist   [--actors=100] [--events=10000]  awaited per command (persist)
//   troupe-persist-bench pipelined [--actors=100] [--events=10000] [--window=64]  (persist_async)
//   troupe-persist-bench replay    [--events=1000000]  recovery of one actor with that many events
// Store: SQLite in a fresh file under $TMPDIR (synchronous=FULL, WAL), or PostgreSQL when
// TROUPE_PG_CONNINFO is set (a fresh schema). Events carry a 100-byte payload. The ceilings to
// compare with are ../shared/peers/persistence (sqlitefloor, pgfloor); bench/persist.sh runs all.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <string>
#include <variant>

#include "troupe/core/system.hpp"
#include "troupe/persistence/event_sourced.hpp"
#include "troupe/persistence/postgres_storage.hpp"
#include "troupe/persistence/serial_codec.hpp"
#include "troupe/persistence/sqlite_storage.hpp"

namespace bench_persist {

struct recorded {
  std::string data;
};
using event = std::variant<recorded>;
struct state {
  std::int64_t count = 0;
};
struct record {
  std::string data;
  troupe::ref<std::int64_t> reply_to;
};
struct record_async {
  std::string data;
  troupe::ref<std::int64_t> reply_to;
};
using command = std::variant<record, record_async>;
using fx = troupe::persistence::effect<event, state>;

fx on_command(const state&, const command& c) {
  auto count = [](const state& s) { return s.count; };
  if (auto* r = std::get_if<record>(&c)) return fx::persist(recorded{r->data}).then_reply(r->reply_to, count);
  auto& a = std::get<record_async>(c);
  return fx::persist_async(recorded{a.data}).then_reply(a.reply_to, count);
}
state on_event(state s, const event&) {
  ++s.count;
  return s;
}

}  // namespace bench_persist

namespace {

namespace persistence = troupe::persistence;
using namespace bench_persist;

std::int64_t flag(int argc, char** argv, const std::string& name, std::int64_t fallback) {
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--" + name + "=", 0) == 0) return std::atoll(a.c_str() + name.size() + 3);
  }
  return fallback;
}

std::filesystem::path bench_dir() {
  return std::filesystem::temp_directory_path() / ("troupe-persist-bench-" + std::to_string(::getpid()));
}

std::shared_ptr<persistence::storage> open_store(std::string& where) {
  if (const char* pg = std::getenv("TROUPE_PG_CONNINFO")) {
    where = "postgres";
    auto s = persistence::postgres_storage::open(pg, {.schema = "bench" + std::to_string(::getpid())});
    if (!s) {
      std::fprintf(stderr, "%s\n", s.error().message().c_str());
      std::exit(1);
    }
    return *s;
  }
  where = "sqlite";
  auto dir = bench_dir();
  std::filesystem::create_directories(dir);
  auto s = persistence::sqlite_storage::open((dir / "j.db").string());
  if (!s) {
    std::fprintf(stderr, "%s\n", s.error().message().c_str());
    std::exit(1);
  }
  return *s;
}

persistence::event_sourced_spec<command, event, state> spec_for(std::string id, std::shared_ptr<persistence::journal> j) {
  return {.persistence_id = std::move(id),
          .journal = std::move(j),
          .events = std::make_shared<persistence::serial_codec<event>>(),
          .on_command = on_command,
          .on_event = on_event,
          .stash_capacity = 1'000'000,
          .replay_page = 16'384};
}

// Drives one entity: keeps `window` commands in flight until `n` are acknowledged.
troupe::behavior<std::int64_t> driver(troupe::ref<command> target, std::int64_t n, std::int64_t window, bool async,
                                      std::shared_ptr<std::atomic<std::int64_t>> left,
                                      std::shared_ptr<std::promise<void>> done) {
  return troupe::setup<std::int64_t>([=](troupe::actor_context<std::int64_t>& ctx) {
    auto sent = std::make_shared<std::int64_t>(0);
    auto send = [=, self = ctx.self()] {
      std::string data(100, 'x');
      if (async)
        target.tell(record_async{std::move(data), self});
      else
        target.tell(record{std::move(data), self});
      ++*sent;
    };
    for (std::int64_t i = 0; i < std::min(window, n); ++i) send();
    return troupe::receive<std::int64_t>([=](std::int64_t acked) -> troupe::behavior<std::int64_t> {
      if (*sent < n) send();
      if (acked == n) {
        // acq_rel: the last driver to finish sees every other driver's count.
        if (left->fetch_sub(1, std::memory_order_acq_rel) == 1) done->set_value();
        return troupe::stopped;
      }
      return troupe::same;
    });
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: troupe-persist-bench persist|pipelined|replay [--actors=] [--events=] [--window=]\n");
    return 2;
  }
  std::string workload = argv[1];
  struct remove_dir {
    ~remove_dir() {
      std::error_code ec;
      std::filesystem::remove_all(bench_dir(), ec);
    }
  } cleanup;
  std::string where;
  auto store = open_store(where);
  auto j = persistence::journal::start(store);
  troupe::system sys;
  using clock = std::chrono::steady_clock;

  if (workload == "replay") {
    std::int64_t n = flag(argc, argv, "events", 1'000'000);
    persistence::serial_codec<event> codec;
    auto enc = codec.encode(recorded{std::string(100, 'x')});
    for (std::int64_t done = 0; done < n;) {  // filled straight into the store, untimed
      std::vector<persistence::write_request> ws(1);
      ws[0].persistence_id = "replayed";
      ws[0].expected_next = static_cast<std::uint64_t>(done + 1);
      for (std::int64_t k = 0; k < 10'000 && done < n; ++k, ++done)
        ws[0].events.push_back({"replayed", static_cast<std::uint64_t>(done + 1), enc->manifest, enc->version, {}, enc->payload, 0});
      if (!store->write(ws)[0]) return 1;
    }
    auto t0 = clock::now();
    auto a = sys.spawn(persistence::event_sourced(spec_for("replayed", j)));
    auto r = a.ask<std::int64_t>([](troupe::ref<std::int64_t> rr) { return record{"", rr}; }, std::chrono::minutes(10)).get();
    double s = std::chrono::duration<double>(clock::now() - t0).count();
    bool ok = r && *r == n + 1;
    std::printf("RESULT workload=replay_%s ok=%d value=%lld seconds=%.3f extra=events_per_s:%.0f\n", where.c_str(), ok,
                static_cast<long long>(n), s, static_cast<double>(n) / s);
    return ok ? 0 : 1;
  }

  bool async = workload == "pipelined";
  std::int64_t actors = flag(argc, argv, "actors", 100);
  std::int64_t n = flag(argc, argv, "events", 10'000);
  std::int64_t window = async ? flag(argc, argv, "window", 64) : 1;
  auto left = std::make_shared<std::atomic<std::int64_t>>(actors);
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  std::vector<troupe::ref<command>> entities;
  for (std::int64_t a = 0; a < actors; ++a) entities.push_back(sys.spawn(persistence::event_sourced(spec_for("e" + std::to_string(a), j))));
  auto t0 = clock::now();
  for (auto& e : entities) sys.spawn(driver(e, n, window, async, left, done));
  finished.wait();
  double s = std::chrono::duration<double>(clock::now() - t0).count();
  auto total = actors * n;
  std::printf("RESULT workload=%s_%s ok=1 value=%lld seconds=%.3f extra=events_per_s:%.0f\n", workload.c_str(),
              where.c_str(), static_cast<long long>(total), s, static_cast<double>(total) / s);
  return 0;
}
