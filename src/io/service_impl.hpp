// service_impl.hpp: the event loops behind io_service. Internal to the io layer.
// One io_context per thread (concurrency hint 1): a socket lives on one loop for its whole life,
// so its handlers never run concurrently and need no strand. Each loop owns a scratch buffer for
// plain-socket reads, used only by that loop's thread between a readiness wait and the decoder.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "troupe/io/io_service.hpp"

namespace troupe::io::detail {

struct loop {
  boost::asio::io_context ctx{1};
  std::vector<char> scratch;  // owned by this loop's thread
  std::thread thread;
};

struct service_impl {
  explicit service_impl(io_config cfg);
  ~service_impl();
  void shutdown();
  loop& pick() noexcept;

  io_config config;
  std::vector<std::unique_ptr<loop>> loops;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards;
  // relaxed: a round-robin cursor; it publishes nothing, any spread is correct.
  std::atomic<unsigned> next{0};
  bool stopped = false;  // owned by the thread that calls shutdown (the owner of io_service)
};

}  // namespace troupe::io::detail
