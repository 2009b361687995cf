// The core-only packaging check: spawns an actor from an installed troupe and asks it, using
// nothing but troupe::core. Built twice by scripts/test.sh: with CMake (find_package(troupe
// COMPONENTS core)) and with a plain g++ command from `pkg-config --cflags --libs troupe-core`.
// Exits 0 only if the answer is right.
#include <chrono>
#include <cstdio>
#include <variant>

#include <troupe/troupe.hpp>

using namespace std::chrono_literals;

struct add { int n; };
struct get { troupe::ref<int> reply_to; };
using counter_msg = std::variant<add, get>;

troupe::behavior<counter_msg> counter(int total) {
  return troupe::receive<counter_msg>(
      [=](const add& m) { return counter(total + m.n); },
      [=](const get& m) { m.reply_to.tell(total); return troupe::same; });
}

int main() {
  troupe::system sys;
  auto c = sys.spawn(counter(0));
  c.tell(add{40});
  c.tell(add{2});
  troupe::result<int> v = c.ask<int>([](troupe::ref<int> r) { return get{r}; }, 5s).get();
  if (!v) {
    std::fprintf(stderr, "core consumer: ask failed: %s\n", v.error().message().c_str());
    return 1;
  }
  if (*v != 42) {
    std::fprintf(stderr, "core consumer: expected 42, got %d\n", *v);
    return 1;
  }
  std::printf("core consumer: troupe::core alone works, the counter says %d\n", *v);
  return 0;
}
