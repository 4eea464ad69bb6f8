#include "server/request_codec.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "protocol/framing.h"
#include "protocol/shard.h"

namespace admit::server {
namespace {

// Builds one Request and decodes it.
template <typename MakeOp>
DecodedRequest decode(MakeOp make_op, ShardCommand* command, std::uint32_t shards = 4) {
  flatbuffers::FlatBufferBuilder builder;
  const auto [type, op] = make_op(builder);
  builder.Finish(wire::CreateRequest(builder, 1, type, op));
  const auto* request = flatbuffers::GetRoot<wire::Request>(builder.GetBufferPointer());
  return decode_request(*request, shards, command);
}

TEST(RequestCodec, BookRoutesToTheEventOwnerWithItsFields) {
  ShardCommand command;
  const auto decoded = decode(
      [](flatbuffers::FlatBufferBuilder& b) {
        const auto event = b.CreateString("opera");
        const auto user = b.CreateString("u1");
        return std::pair{wire::Op::Book, wire::CreateBook(b, event, user, 2, true).Union()};
      },
      &command);
  EXPECT_EQ(decoded.kind, RequestKind::owned);
  EXPECT_EQ(decoded.owner, owner_shard("opera", 4));
  EXPECT_EQ(command.op, Op::book);
  EXPECT_EQ(command.event.view(), "opera");
  EXPECT_EQ(command.user.view(), "u1");
  EXPECT_EQ(command.seats, 2u);
  EXPECT_TRUE(command.hold);
}

TEST(RequestCodec, RefusesFieldsPastTheirLimitsNamingThem) {
  ShardCommand command;
  const auto long_user = decode(
      [](flatbuffers::FlatBufferBuilder& b) {
        const auto event = b.CreateString("opera");
        const auto user = b.CreateString(std::string(65, 'x'));
        return std::pair{wire::Op::Book, wire::CreateBook(b, event, user).Union()};
      },
      &command);
  EXPECT_EQ(long_user.kind, RequestKind::refused);
  EXPECT_EQ(long_user.message.substr(0, 5), "user:");
  const auto bad_ref = decode(
      [](flatbuffers::FlatBufferBuilder& b) {
        const auto ref = b.CreateString("BK-!!!!!!!!");
        return std::pair{wire::Op::Cancel, wire::CreateCancel(b, ref).Union()};
      },
      &command);
  EXPECT_EQ(bad_ref.kind, RequestKind::refused);
  EXPECT_EQ(bad_ref.message.substr(0, 4), "ref:");
}

TEST(RequestCodec, RefsRouteByTheirShardAndForeignShardsAreNotFound) {
  ShardCommand command;
  const BookingRef ref = BookingRef::make(12345, 3);
  const auto routed = decode(
      [&ref](flatbuffers::FlatBufferBuilder& b) {
        const auto text = b.CreateString(ref.view());
        return std::pair{wire::Op::GetBooking, wire::CreateGetBooking(b, text).Union()};
      },
      &command);
  EXPECT_EQ(routed.kind, RequestKind::owned);
  EXPECT_EQ(routed.owner, 3u);
  EXPECT_EQ(command.ref.view(), ref.view());
  const auto foreign = decode(
      [&ref](flatbuffers::FlatBufferBuilder& b) {
        const auto text = b.CreateString(ref.view());
        return std::pair{wire::Op::GetBooking, wire::CreateGetBooking(b, text).Union()};
      },
      &command, /*shards=*/2);
  EXPECT_EQ(foreign.kind, RequestKind::refused);
  EXPECT_EQ(foreign.outcome, Outcome::not_found);
}

ShardResult book_result(Outcome outcome, std::string_view message, storage::BookResult book) {
  ShardResult result;
  result.outcome = outcome;
  result.message.assign(message);
  result.kind = ResultKind::book;
  result.book = book;
  return result;
}

// Closes the frame as the reactor does and verifies it from an aligned copy.
struct VerifiedFrame {
  std::unique_ptr<std::uint64_t[]> storage;
  const wire::Frame* frame = nullptr;
  std::string why;

  explicit VerifiedFrame(ReplyFrameBuilder& builder, const std::vector<ReplyOffset>& replies) {
    finish_frame(builder, wire::CreateFrame(builder, 0, builder.CreateVector(replies)));
    const auto bytes = builder.GetBufferSpan();
    storage.reset(new std::uint64_t[bytes.size() / 8 + 1]);
    std::memcpy(storage.get(), bytes.data(), bytes.size());
    frame =
        verify_frame({reinterpret_cast<const std::uint8_t*>(storage.get()), bytes.size()}, &why);
  }
};

// Every layout of the hand-written Reply and BookReply tables, several per
// frame (vtables and the reason written once), across a Clear().
TEST(RequestCodec, HandWrittenRepliesVerifyAndReadBack) {
  ReplyFrameBuilder builder;
  for (int frame_number = 0; frame_number < 2; ++frame_number) {
    std::vector<ReplyOffset> replies;
    std::vector<std::pair<std::uint64_t, storage::BookResult>> books;
    for (std::uint32_t mask = 0; mask < 64; ++mask) {
      storage::BookResult book;
      if ((mask & 1) != 0) book.ref = BookingRef::make(1000 + mask, 1);
      if ((mask & 2) != 0) book.seats = 1 + mask;
      if ((mask & 4) != 0) book.position = 100 + mask;
      if ((mask & 8) != 0) book.retry_after_ms = -5 - mask;
      if ((mask & 16) != 0) book.opens_in_ms = std::int64_t{1} << 40 | mask;
      if ((mask & 32) != 0) book.expires_at_ms = 1'800'000'000'000 + mask;
      const std::uint64_t id = ~std::uint64_t{0} - mask;
      const std::string_view message = mask % 3 == 0 ? "sold out" : mask % 3 == 1 ? "" : "other";
      replies.push_back(encode_result(builder, id, book_result(Outcome::sold_out, message, book)));
      books.emplace_back(id, book);
    }
    replies.push_back(encode_refusal(builder, 0, Outcome::ok, {}));
    VerifiedFrame verified(builder, replies);
    ASSERT_NE(verified.frame, nullptr) << verified.why;
    ASSERT_EQ(verified.frame->replies()->size(), 65u);
    for (std::uint32_t mask = 0; mask < 64; ++mask) {
      const wire::Reply* reply = verified.frame->replies()->Get(mask);
      const auto& [id, book] = books[mask];
      EXPECT_EQ(reply->id(), id);
      EXPECT_EQ(reply->outcome(), wire::Outcome::SOLD_OUT);
      const std::string_view message = mask % 3 == 0 ? "sold out" : mask % 3 == 1 ? "" : "other";
      EXPECT_EQ(reply->message() == nullptr ? "" : reply->message()->string_view(), message);
      if (mask == 0) {
        EXPECT_EQ(reply->result_type(), wire::Result::NONE);
        EXPECT_EQ(reply->result(), nullptr);
        continue;
      }
      ASSERT_EQ(reply->result_type(), wire::Result::BookReply) << mask;
      const wire::BookReply* data = reply->result_as_BookReply();
      ASSERT_NE(data, nullptr);
      EXPECT_EQ(data->ref() == nullptr ? "" : data->ref()->string_view(),
                book.ref.empty() ? "" : book.ref.view());
      EXPECT_EQ(data->seats(), book.seats);
      EXPECT_EQ(data->position(), book.position);
      EXPECT_EQ(data->retry_after_ms(), book.retry_after_ms);
      EXPECT_EQ(data->opens_in_ms(), book.opens_in_ms);
      EXPECT_EQ(data->expires_at_ms(), book.expires_at_ms);
    }
    const wire::Reply* last = verified.frame->replies()->Get(64);
    EXPECT_EQ(last->id(), 0u);
    EXPECT_EQ(last->outcome(), wire::Outcome::OK);
    EXPECT_EQ(last->message(), nullptr);
    builder.Clear();
  }
}

// Hand-written Reply tables beside builder-made results (HelloReply, a
// BookingInfo with its strings) in one frame.
TEST(RequestCodec, HandWrittenRepliesMixWithBuilderTables) {
  ReplyFrameBuilder builder;
  flatbuffers::FlatBufferBuilder hello_builder;
  hello_builder.Finish(wire::CreateHello(hello_builder, protocol_version));
  const auto* hello = flatbuffers::GetRoot<wire::Hello>(hello_builder.GetBufferPointer());
  ShardResult booking;
  booking.outcome = Outcome::ok;
  booking.kind = ResultKind::booking;
  booking.booking.ref = BookingRef::make(77, 0);
  booking.booking.event.assign("opera");
  booking.booking.user.assign("u1");
  booking.booking.seats = 3;
  std::vector<ReplyOffset> replies{
      encode_hello(builder, 7, *hello, 2, -1),
      encode_result(builder, 8, booking),
      encode_refusal(builder, 9, Outcome::invalid, "user: must be 1..64 bytes"),
  };
  VerifiedFrame verified(builder, replies);
  ASSERT_NE(verified.frame, nullptr) << verified.why;
  const auto* list = verified.frame->replies();
  ASSERT_EQ(list->size(), 3u);
  ASSERT_NE(list->Get(0)->result_as_HelloReply(), nullptr);
  EXPECT_EQ(list->Get(0)->result_as_HelloReply()->shards(), 2u);
  EXPECT_EQ(list->Get(0)->result_as_HelloReply()->shard(), -1);
  ASSERT_NE(list->Get(1)->result_as_BookingInfo(), nullptr);
  EXPECT_EQ(list->Get(1)->result_as_BookingInfo()->user()->string_view(), "u1");
  EXPECT_EQ(list->Get(1)->result_as_BookingInfo()->seats(), 3u);
  EXPECT_EQ(list->Get(2)->outcome(), wire::Outcome::INVALID);
  EXPECT_EQ(list->Get(2)->message()->string_view(), "user: must be 1..64 bytes");
}

}  // namespace
}  // namespace admit::server
