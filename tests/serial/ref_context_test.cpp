#include "troupe/serial/ref_context.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <vector>

#include "serial/messages.hpp"
#include "troupe/core/system.hpp"
#include "troupe/serial/registry.hpp"

namespace ts = troupe::serial;
using namespace serial_test;
using namespace std::chrono_literals;

namespace {
// Maps refs to indexes into a table and back, as the remote layer maps them to (node, id).
class indexing_context final : public ts::ref_context {
 public:
  troupe::result<void> encode_ref(ts::writer& out, const endpoint_ptr& target, const ts::protocol_ops& protocol) override {
    out.put_varint(table_.size());
    table_.push_back({target, protocol.fingerprint});
    return {};
  }
  troupe::result<endpoint_ptr> decode_ref(ts::reader& in, const ts::protocol_ops& protocol) override {
    std::uint64_t i = 0;
    if (!in.get_varint(i)) return in.error();
    if (i >= table_.size()) return troupe::error{ts::errc::bad_ref, "no ref at index " + std::to_string(i)};
    if (table_[i].protocol != protocol.fingerprint) return troupe::error{ts::errc::bad_ref, "protocol differs"};
    return table_[i].target;
  }
  std::size_t size() const { return table_.size(); }

 private:
  struct entry {
    endpoint_ptr target;
    std::uint64_t protocol;
  };
  std::vector<entry> table_;
};

struct greet {
  std::string who;
  troupe::ref<std::string> reply_to;
};
struct wrong_reply {
  std::string who;
  troupe::ref<double> reply_to;
};
}  // namespace

TEST(RefContext, RoundTripsARefThroughTheContextAndTheRefStillWorks) {
  troupe::system sys;
  std::promise<std::int32_t> got;
  auto target = sys.spawn(troupe::receive<std::int32_t>([&](std::int32_t v) {
    got.set_value(v);
    return troupe::same;
  }));
  ts::registry reg;
  ASSERT_TRUE(reg.add<counter_msg>());
  indexing_context ctx;

  std::string buf;
  ts::writer w{buf, &ctx};
  ASSERT_TRUE(reg.encode<counter_msg>(get{target}, w));
  EXPECT_EQ(ctx.size(), 1u);

  auto back = reg.decode<counter_msg>(buf, &ctx);
  ASSERT_TRUE(back) << back.error().message();
  const auto& ref = std::get<get>(*back).reply_to;
  EXPECT_TRUE(ref == target);
  ref.tell(41);
  auto f = got.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(f.get(), 41);
}

TEST(RefContext, EncodingARefWithoutAContextIsAnErrorNotACrash) {
  troupe::system sys;
  auto target = sys.spawn(troupe::receive<std::int32_t>([](std::int32_t) { return troupe::same; }));
  ts::registry reg;
  ASSERT_TRUE(reg.add<counter_msg>());
  std::string buf;
  ts::writer w{buf};
  auto r = reg.encode<counter_msg>(get{target}, w);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ts::errc::no_ref_context);
  EXPECT_TRUE(buf.empty());
}

TEST(RefContext, DecodingARefWithoutAContextIsAnError) {
  troupe::system sys;
  auto target = sys.spawn(troupe::receive<std::int32_t>([](std::int32_t) { return troupe::same; }));
  ts::registry reg;
  ASSERT_TRUE(reg.add<counter_msg>());
  indexing_context ctx;
  std::string buf;
  ts::writer w{buf, &ctx};
  ASSERT_TRUE(reg.encode<counter_msg>(get{target}, w));
  auto r = reg.decode<counter_msg>(buf);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ts::errc::no_ref_context);
}

TEST(RefContext, AnEmptyRefNeedsNoContext) {
  ts::registry reg;
  ASSERT_TRUE(reg.add<counter_msg>());
  std::string buf;
  ts::writer w{buf};
  ASSERT_TRUE(reg.encode<counter_msg>(get{}, w));
  auto r = reg.decode<counter_msg>(buf);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(std::get<get>(*r).reply_to);
}

TEST(RefContext, PassesTheProtocolOfTheRefSoAMismatchIsRefused) {
  troupe::system sys;
  auto target = sys.spawn(troupe::receive<std::string>([](const std::string&) { return troupe::same; }));
  indexing_context ctx;
  std::string buf;
  ts::writer w{buf, &ctx};
  ts::encode(w, greet{"ada", target});
  ASSERT_TRUE(w.ok());
  ts::reader r{buf, {}, &ctx};
  wrong_reply out;
  EXPECT_FALSE(ts::decode(r, out));
  EXPECT_EQ(r.error(), ts::errc::bad_ref);
}

TEST(RefContext, ARefFingerprintDependsOnItsProtocol) {
  EXPECT_NE(ts::fingerprint_of<troupe::ref<std::string>>(), ts::fingerprint_of<troupe::ref<double>>());
  EXPECT_NE(ts::fingerprint_of<greet>(), ts::fingerprint_of<wrong_reply>());
}

TEST(RefContext, ADecodedEnvelopeGoesStraightIntoTheMailboxOfAnActorOfItsProtocol) {
  // What the remote layer does with a frame for a local actor: find the protocol by its
  // fingerprint (only registered ones), decode into an envelope, enqueue it.
  troupe::system sys;
  std::promise<std::int32_t> got;
  auto counter = sys.spawn(troupe::receive<counter_msg>([&](const add& a) {
    got.set_value(a.n);
    return troupe::same;
  }, [](const get&) { return troupe::same; }));
  ts::registry reg;
  ASSERT_TRUE(reg.add<counter_msg>());
  std::string buf;
  ts::writer w{buf};
  ASSERT_TRUE(reg.encode<counter_msg>(add{12}, w));

  ts::reader r{buf};
  auto e = reg.decode_envelope(ts::protocol_fingerprint_of<counter_msg>(), r);
  ASSERT_TRUE(e) << e.error().message();
  troupe::detail::ref_access::endpoint_of(counter)->enqueue(e->release());
  auto f = got.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(f.get(), 12);
}
