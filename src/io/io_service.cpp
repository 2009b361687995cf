// io_service.cpp: the event-loop threads.
#include "troupe/io/io_service.hpp"

#include "service_impl.hpp"

namespace troupe::io {
namespace detail {

service_impl::service_impl(io_config cfg) : config(cfg) {
  unsigned n = cfg.threads != 0 ? cfg.threads : std::thread::hardware_concurrency();
  if (n == 0) n = 1;
  if (config.read_chunk == 0) config.read_chunk = 16 * 1024;
  for (unsigned i = 0; i < n; ++i) {
    auto l = std::make_shared<loop>();
    l->scratch.resize(config.read_chunk);
    l->gate = gate;
    guards.emplace_back(l->ctx.get_executor());
    loops.push_back(std::move(l));
  }
  for (auto& l : loops) l->thread = std::thread([lp = l.get()] { lp->ctx.run(); });
}

service_impl::~service_impl() {
  shutdown();
  // Every loop's handlers (and what they own: sessions, sockets, listeners) go while every loop
  // exists; see service_impl.hpp.
  for (auto& l : loops) l->ctx.shutdown();
  loops.clear();
}

void service_impl::shutdown() {
  if (stopped) return;
  stopped = true;
  gate->close();
  guards.clear();
  for (auto& l : loops) l->ctx.stop();
  for (auto& l : loops)
    if (l->thread.joinable()) l->thread.join();
}

loop& service_impl::pick() noexcept {
  auto i = next.fetch_add(1, std::memory_order_relaxed);
  return *loops[i % loops.size()];
}

}  // namespace detail

io_service::io_service(io_config cfg) : impl_(std::make_unique<detail::service_impl>(cfg)) {}
io_service::~io_service() = default;
unsigned io_service::threads() const noexcept { return static_cast<unsigned>(impl_->loops.size()); }
void io_service::shutdown() { impl_->shutdown(); }

}  // namespace troupe::io
