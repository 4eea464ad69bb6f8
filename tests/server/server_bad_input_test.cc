// Bad input, each kind on its own connection while a good connection keeps
// being served: the bad one gets an INVALID reply or a closed connection, the
// server keeps serving everyone, and no state changes.
#include <cstring>
#include <random>

#include "protocol/token.h"
#include "tests/server/server_test_support.h"

namespace admit::test {
namespace {

constexpr std::uint32_t shards = 2;
const std::string event = "bad-input-event";

class AdmitdBadInput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new AdmitdProcess(admitd_options(shards));
    WireClient client(server_->port());
    RequestFrame setup;
    setup.create_event(1, event, 10).book(2, event, "resident", 2);
    ASSERT_TRUE(client.send(setup));
    ASSERT_EQ(outcome_of(client.reply(1)), Outcome::ok);
    ASSERT_EQ(outcome_of(client.reply(2)), Outcome::booked);
  }
  static void TearDownTestSuite() {
    expect_clean_stop(*server_);
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    good_ = std::make_unique<WireClient>(server_->port());
    before_ = snapshot();
  }

  // The event's counters and version, as a good client sees them.
  std::string snapshot() {
    const wire::EventInfo* info = get_event(*good_, next_id_++, event);
    if (info == nullptr) return "missing";
    return std::to_string(info->version()) + "/" + std::to_string(info->available()) + "/" +
           std::to_string(info->held()) + "/" + std::to_string(info->confirmed());
  }

  // The good connection still gets answers and nothing changed.
  void expect_still_serving_and_unchanged() {
    RequestFrame hello;
    hello.hello(next_id_);
    const wire::Reply* reply = good_->call(hello, next_id_++);
    ASSERT_NE(reply, nullptr) << server_->output();
    EXPECT_EQ(outcome_of(reply), Outcome::ok);
    EXPECT_EQ(snapshot(), before_);
    WireClient fresh(server_->port());  // and a new client is served too
    RequestFrame again;
    again.hello(1);
    EXPECT_NE(fresh.call(again, 1), nullptr);
  }

  // The bad connection either answers INVALID with id 0 and closes, or just
  // closes.
  static void expect_refused_then_closed(WireClient& bad) {
    if (const wire::Reply* reply = bad.reply(0, 5000)) {
      EXPECT_EQ(outcome_of(reply), Outcome::invalid) << describe(reply);
      EXPECT_FALSE(text_of(reply->message()).empty());
    }
    EXPECT_TRUE(bad.wait_closed());
  }

  static std::vector<std::uint8_t> with_prefix(std::vector<std::uint8_t> payload) {
    const auto size = static_cast<std::uint32_t>(payload.size());
    std::vector<std::uint8_t> bytes;
    bytes.reserve(4 + payload.size());
    for (int shift = 0; shift < 32; shift += 8)
      bytes.push_back(static_cast<std::uint8_t>(size >> shift));
    bytes.insert(bytes.end(), payload.begin(), payload.end());
    return bytes;
  }

  static AdmitdProcess* server_;
  std::unique_ptr<WireClient> good_;
  std::string before_;
  std::uint64_t next_id_ = 100;
};
AdmitdProcess* AdmitdBadInput::server_ = nullptr;

TEST_F(AdmitdBadInput, RandomBytesCloseTheConnection) {
  std::mt19937 random(42);
  for (int round = 0; round < 5; ++round) {
    WireClient bad(server_->port());
    std::vector<std::uint8_t> noise(4096);
    for (auto& byte : noise) byte = static_cast<std::uint8_t>(random());
    bad.send(noise);
    EXPECT_TRUE(bad.wait_closed());
  }
  expect_still_serving_and_unchanged();
}

TEST_F(AdmitdBadInput, TruncatedFrameThenCloseLeavesNoTrace) {
  {
    WireClient bad(server_->shard_port(1));
    RequestFrame frame;
    frame.book(1, event, "intruder");
    const auto bytes = frame.bytes();
    bad.send(std::span(bytes).first(bytes.size() / 2));
  }  // closed by the client mid-frame
  expect_still_serving_and_unchanged();
}

TEST_F(AdmitdBadInput, LengthOfFourGibibytesClosesBeforeAnyAllocation) {
  WireClient bad(server_->port());
  const std::vector<std::uint8_t> huge = {0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4};
  bad.send(huge);
  EXPECT_TRUE(bad.wait_closed());
  expect_still_serving_and_unchanged();
}

TEST_F(AdmitdBadInput, ZeroLengthClosesTheConnection) {
  WireClient bad(server_->port());
  const std::vector<std::uint8_t> empty = {0, 0, 0, 0};
  bad.send(empty);
  EXPECT_TRUE(bad.wait_closed());
  expect_still_serving_and_unchanged();
}

TEST_F(AdmitdBadInput, WrongFileIdentifierIsRefusedThenClosed) {
  WireClient bad(server_->port());
  RequestFrame frame;
  frame.book(1, event, "intruder");
  auto bytes = frame.bytes();
  std::memcpy(bytes.data() + 4 + 4, "NOPE", 4);  // identifier follows the root offset
  bad.send(bytes);
  expect_refused_then_closed(bad);
  expect_still_serving_and_unchanged();
}

TEST_F(AdmitdBadInput, UnverifiableFlatBufferIsRefusedThenClosed) {
  WireClient bad(server_->port());
  std::vector<std::uint8_t> garbage(64, 0xAB);
  std::memcpy(garbage.data(), "\x40\x00\x00\x00", 4);  // root offset past the end
  std::memcpy(garbage.data() + 4, "ADMT", 4);
  bad.send(with_prefix(garbage));
  expect_refused_then_closed(bad);
  expect_still_serving_and_unchanged();
}

TEST_F(AdmitdBadInput, OversizedFieldsAreInvalidNamingTheFieldAndTheConnectionStays) {
  WireClient client(server_->port());
  RequestFrame frame;
  frame.book(1, std::string(10 * 1024, 'e'), "u")
      .book(2, event, "u", 0)
      .book(3, event, "u", 1u << 31)
      .book(4, event, std::string(65, 'u'))
      .create_event(5, std::string(10 * 1024, 'e'), 1)
      .get_event(6, std::string(129, 'e'))
      .cancel(7, "not-a-ref")
      .list_bookings(8, event, "", 5000);
  ASSERT_TRUE(client.send(frame));
  const std::pair<std::uint64_t, std::string> expected[] = {
      {1, "event"}, {2, "seats"}, {3, "seats"}, {4, "user"},
      {5, "id"},    {6, "id"},    {7, "ref"},   {8, "limit"}};
  for (const auto& [id, field] : expected) {
    const wire::Reply* reply = client.reply(id);
    ASSERT_NE(reply, nullptr) << "request " << id;
    EXPECT_EQ(outcome_of(reply), Outcome::invalid) << describe(reply);
    EXPECT_EQ(text_of(reply->message()).rfind(field + ":", 0), 0u) << describe(reply);
  }
  RequestFrame hello;  // the same connection is still served
  hello.hello(9);
  EXPECT_EQ(outcome_of(client.call(hello, 9)), Outcome::ok);
  expect_still_serving_and_unchanged();
}

// A BookBatch whose layout is bad is refused whole, naming the field; an item
// whose own fields are bad is refused alone (server_basic_test).
TEST_F(AdmitdBadInput, BookBatchWithABadLayoutIsRefusedWholeNamingTheField) {
  WireClient client(server_->port());
  const std::vector<BatchItem> too_many(book_batch_items_max + 1, BatchItem{"u", 1, ""});
  RequestFrame frame;
  frame.book_batch(1, event, {{"ann", 1}, {"bob", 1}}, /*texts_cut=*/1)
      .book_batch(2, event, {})
      .book_batch(3, event, too_many)
      .book_batch(4, std::string(129, 'e'), {{"ann", 1}});
  ASSERT_TRUE(client.send(frame));
  const std::pair<std::uint64_t, std::string> expected[] = {
      {1, "texts"}, {2, "items"}, {3, "items"}, {4, "event"}};
  for (const auto& [id, field] : expected) {
    const wire::Reply* reply = client.reply(id);
    ASSERT_NE(reply, nullptr) << "request " << id;
    EXPECT_EQ(outcome_of(reply), Outcome::invalid) << describe(reply);
    EXPECT_EQ(reply->result_type(), wire::Result::NONE);
    EXPECT_EQ(text_of(reply->message()).rfind(field + ":", 0), 0u) << describe(reply);
  }
  expect_still_serving_and_unchanged();
}

// Under a token bound to a user (its sub) a batch may book only for that
// user: one of another user refuses the whole batch, which changes nothing.
TEST(AdmitdAuth, ABookBatchUnderASubBooksOnlyItsUser) {
  AdmitdOptions options = admitd_options(2);
  options.auth_secret = "a-test-secret-of-enough-bytes-0123456789";
  AdmitdProcess server(options);
  const std::string eve = jwt::mint_token(options.auth_secret, {jwt::Role::app, "eve", {}});
  const std::string admin = jwt::mint_token(options.auth_secret, {jwt::Role::admin, {}, {}});
  WireClient as_admin(server.port());
  RequestFrame setup;
  setup.hello(1, 1, admin).create_event(2, "gig", 10);
  ASSERT_TRUE(as_admin.send(setup));
  ASSERT_EQ(outcome_of(as_admin.reply(2)), Outcome::ok);

  WireClient as_eve(server.port());
  RequestFrame frame;
  frame.hello(1, 1, eve)
      .book_batch(2, "gig", {{"eve", 1}, {"ann", 1}})
      .book_batch(3, "gig", {{"eve", 1}, {"eve", 1}});
  ASSERT_TRUE(as_eve.send(frame));
  const wire::Reply* mixed = as_eve.reply(2);
  ASSERT_NE(mixed, nullptr);
  EXPECT_EQ(outcome_of(mixed), Outcome::unauthorized) << describe(mixed);
  EXPECT_EQ(mixed->result_type(), wire::Result::NONE);
  const wire::Reply* own = as_eve.reply(3);
  ASSERT_EQ(outcome_of(own), Outcome::ok) << describe(own);
  const auto* items = own->result_as_BookBatchReply()->items();
  EXPECT_EQ(from_wire(items->Get(0)->outcome()), Outcome::booked);
  EXPECT_EQ(from_wire(items->Get(1)->outcome()), Outcome::already_booked);
  const wire::EventInfo* event = get_event(as_admin, 4, "gig");
  ASSERT_NE(event, nullptr);
  EXPECT_EQ(event->confirmed(), 1u) << "the refused batch booked nobody";
}

TEST_F(AdmitdBadInput, RequestWithoutAnOperationIsInvalid) {
  WireClient client(server_->port());
  flatbuffers::FlatBufferBuilder builder;
  const auto request = wire::CreateRequest(builder, 3);
  const auto requests = builder.CreateVector(&request, 1);
  finish_frame(builder, wire::CreateFrame(builder, requests));
  const auto span = builder.GetBufferSpan();
  ASSERT_TRUE(client.send(span));
  const wire::Reply* reply = client.reply(3);
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(outcome_of(reply), Outcome::invalid);
  EXPECT_EQ(text_of(reply->message()).rfind("op:", 0), 0u) << describe(reply);
  expect_still_serving_and_unchanged();
}

}  // namespace
}  // namespace admit::test
