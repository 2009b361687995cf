// typed_protocol.cpp: mistakes that typed protocols turn into compile errors.
// CTest compiles this file once as it stands (it must compile: the control) and once per
// TROUPE_CF_* macro, each switching on one mistake that must be rejected with troupe's own
// diagnostic. Not part of any executable.
#include <variant>

#include "troupe/troupe.hpp"

namespace {

struct add {
  int n;
};
struct reset_counter {};
struct not_a_counter_message {};
using counter_msg = std::variant<add, reset_counter>;

troupe::behavior<counter_msg> counter(int total) {
  return troupe::receive<counter_msg>(
#if !defined(TROUPE_CF_UNHANDLED_MESSAGE)
      [](const reset_counter&) { return counter(0); },
#endif
      [=](const add& m) { return counter(total + m.n); });
}

class counter_actor : public troupe::actor<counter_msg> {
 public:
  void on(const add& m) { total_ += m.n; }
#if !defined(TROUPE_CF_CLASS_MISSING_ON)
  void on(const reset_counter&) { total_ = 0; }
#endif

 private:
  int total_ = 0;
};

}  // namespace

void use_counters(troupe::system& sys) {
  auto functional = sys.spawn(counter(0));
  auto object = sys.spawn(troupe::actor_of<counter_actor>());
#if defined(TROUPE_CF_TELL_WRONG_MESSAGE)
  functional.tell(not_a_counter_message{});
#else
  functional.tell(add{1});
  (void)not_a_counter_message{};
#endif
  object.tell(reset_counter{});
}
