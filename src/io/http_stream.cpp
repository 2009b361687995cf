// http_stream.cpp: the writer's handle on a streamed HTTP response (http_stream.hpp).
#include "troupe/io/http_stream.hpp"

#include "http_stream_state.hpp"

namespace troupe::io {

using detail::http_stream_owner;
using detail::http_stream_state;

http_stream::http_stream(std::shared_ptr<http_stream_state> s) noexcept : state_(std::move(s)) {
  if (state_) state_->handles_.fetch_add(1, std::memory_order_relaxed);  // see handles_
}

http_stream::http_stream(const http_stream& o) noexcept : state_(o.state_) {
  if (state_) state_->handles_.fetch_add(1, std::memory_order_relaxed);  // see handles_
}

http_stream::~http_stream() {
  if (!state_ || state_->handles_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  try {
    state_->post([](http_stream_owner& o, http_stream_state& s) { o.stream_dropped(s); });
  } catch (...) {
    // Out of memory: the session ends the stream at the route's deadline instead.
  }
}

result<void> http_stream::write(std::string chunk) {
  if (!state_) return error(errc::closed, "an empty http_stream");
  if (chunk.empty()) return {};  // an empty chunk would end the body: there is nothing to send
  bool kick = false;
  {
    std::lock_guard g(state_->mu_);
    if (state_->ended_ || state_->finish_asked_) return error(errc::closed, "the HTTP stream has ended");
    if (state_->unsent_ >= state_->max_chunks_) {
      state_->want_ready_ = true;
      return error(errc::write_queue_full, std::to_string(state_->unsent_) +
                                               " pieces of the HTTP stream are not yet written: wait for http_stream_ready");
    }
    state_->chunks_.push_back(std::move(chunk));
    ++state_->unsent_;
    kick = !state_->kick_posted_;
    state_->kick_posted_ = true;
  }
  if (kick && !state_->post([](http_stream_owner& o, http_stream_state& s) { o.stream_kick(s); })) {
    std::lock_guard g(state_->mu_);
    state_->ended_ = true;
    return error(errc::closed, "the io_service has ended");
  }
  return {};
}

void http_stream::finish() {
  if (!state_) return;
  bool kick = false;
  {
    std::lock_guard g(state_->mu_);
    if (state_->ended_ || state_->finish_asked_) return;
    state_->finish_asked_ = true;
    kick = !state_->kick_posted_;
    state_->kick_posted_ = true;
  }
  state_->detach();  // the writer is done: nothing more to tell it
  if (kick) state_->post([](http_stream_owner& o, http_stream_state& s) { o.stream_kick(s); });
}

void http_stream::abort() {
  if (!state_) return;
  {
    std::lock_guard g(state_->mu_);
    if (state_->ended_) return;
    state_->ended_ = true;
  }
  state_->detach();
  state_->post([](http_stream_owner& o, http_stream_state& s) { o.stream_abort(s); });
}

std::size_t http_stream::queued_chunks() const noexcept {
  if (!state_) return 0;
  std::lock_guard g(state_->mu_);
  return state_->unsent_;
}

bool http_stream::is_open() const noexcept {
  if (!state_) return false;
  std::lock_guard g(state_->mu_);
  return !state_->ended_ && !state_->finish_asked_;
}

}  // namespace troupe::io
