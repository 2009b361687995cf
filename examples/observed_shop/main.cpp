// observed_shop: a small shop as a supervision tree, with the web view turned on (one line) and a
// little traffic, so there is something to watch; kill a worker from the page and see its
// supervisor start a new one. It runs until SIGINT or SIGTERM.
// Run it: <build>/examples/observed_shop/observed_shop [port] [token]
// and open the address it prints (the #token=... part fills the page's token field).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <variant>

#include "troupe/observe/web_view.hpp"
#include "troupe/otp/application.hpp"
#include "troupe/otp/supervisor.hpp"
#include "troupe/troupe.hpp"

using namespace std::chrono_literals;
namespace otp = troupe::otp;

// A worker that counts what it is sent; its count starts again when it is restarted.
struct order {
  int items;
};
using worker_msg = std::variant<order>;

troupe::behavior<worker_msg> worker(long handled) {
  return troupe::receive<worker_msg>([=](const order& o) { return worker(handled + o.items); });
}

// Sends a few orders to the named workers every 20 ms: the table's message rates move.
struct shop_tick {};
using traffic_msg = std::variant<shop_tick>;

troupe::behavior<traffic_msg> traffic(troupe::system& sys) {
  return troupe::setup<traffic_msg>([&sys](troupe::actor_context<traffic_msg>& ctx) {
    ctx.start_timer("tick", shop_tick{}, 20ms, troupe::timer_mode::fixed_delay);
    return troupe::receive<traffic_msg>([&sys](const shop_tick&) {
      for (const char* name : {"inventory", "payments", "shipping"})
        if (auto w = sys.lookup<worker_msg>(name)) w->tell(order{1});
    });
  });
}

otp::supervisor_spec shop_tree() {
  auto w = [] { return worker(0); };
  otp::supervisor_spec back_office{
      .flags = {.strategy = otp::strategy::one_for_one, .max_restarts = 100, .within = 5s},
      .children = {otp::child("payments", w, {.name = "payments"}), otp::child("shipping", w, {.name = "shipping"})}};
  return {.flags = {.strategy = otp::strategy::one_for_one, .max_restarts = 100, .within = 5s},
          .children = {otp::child("inventory", w, {.name = "inventory"}),
                       otp::supervisor_child("back_office", std::move(back_office), {.name = "back_office"})}};
}

int main(int argc, char** argv) {
  int port = argc > 1 ? std::atoi(argv[1]) : 0;
  std::string token = argc > 2 ? argv[2] : "drill";
  if (port < 0 || port > 65535) {
    std::fprintf(stderr, "usage: observed_shop [port] [token]\n");
    return 2;
  }
  // Signals are taken by sigwait below, so block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  troupe::system_config cfg;
  cfg.introspection = true;  // the view's actor table and tree (docs/observe.md)
  troupe::system sys{cfg};
  otp::application shop(sys, {.name = "shop", .root = shop_tree()});
  sys.spawn(traffic(sys));

  // The one line that turns the web view on.
  auto view = troupe::observe::web_view::start(sys, {.port = static_cast<std::uint16_t>(port), .token = token});
  if (!view) {
    std::fprintf(stderr, "observed_shop: no web view: %s\n", view.error().message().c_str());
    return 1;
  }
  std::printf("web view: %s#token=%s\n", view->url().c_str(), token.c_str());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  view->stop();
  shop.stop();
  std::printf("observed_shop: stopped by signal %d\n", sig);
}
