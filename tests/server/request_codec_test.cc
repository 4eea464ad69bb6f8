#include "server/request_codec.h"

#include <gtest/gtest.h>

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
  EXPECT_EQ(command.op, ShardOp::book);
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

}  // namespace
}  // namespace admit::server
