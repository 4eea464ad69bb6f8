#include "protocol/framing.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "protocol/enums.h"

namespace admit {
namespace {

std::vector<std::uint8_t> book_frame(std::uint64_t request_id) {
  flatbuffers::FlatBufferBuilder builder;
  auto book = wire::CreateBookDirect(builder, "tour", "user-1", 2);
  auto request = wire::CreateRequest(builder, request_id, wire::Op::Book, book.Union());
  std::vector<flatbuffers::Offset<wire::Request>> requests = {request};
  finish_frame(builder, wire::CreateFrameDirect(builder, &requests));
  const auto span = builder.GetBufferSpan();
  return {span.begin(), span.end()};
}

TEST(Framing, ScansAndVerifiesAWholeFrame) {
  const auto bytes = book_frame(42);
  const FrameScan scan = scan_frame(bytes);
  ASSERT_EQ(scan.status, FrameScanStatus::complete);
  EXPECT_EQ(scan.payload_size, bytes.size() - frame_header_size);
  std::string why;
  const wire::Frame* frame = verify_frame(bytes, &why);
  ASSERT_NE(frame, nullptr) << why;
  ASSERT_EQ(frame->requests()->size(), 1u);
  const wire::Request* request = frame->requests()->Get(0);
  EXPECT_EQ(request->id(), 42u);
  ASSERT_EQ(request->op_type(), wire::Op::Book);
  EXPECT_EQ(request->op_as_Book()->seats(), 2u);
  EXPECT_EQ(request->op_as_Book()->user()->str(), "user-1");
}

TEST(Framing, WaitsForTheRestOfATruncatedFrame) {
  const auto bytes = book_frame(1);
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_EQ(scan_frame(std::span(bytes).first(cut)).status, FrameScanStatus::incomplete) << cut;
  }
}

TEST(Framing, RefusesLengthsPastTheMaximumBeforeAllocating) {
  const std::vector<std::uint8_t> four_gib = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
  EXPECT_EQ(scan_frame(four_gib).status, FrameScanStatus::too_large);
  const std::uint32_t just_over = frame_size_max + 1;
  const std::vector<std::uint8_t> over = {
      static_cast<std::uint8_t>(just_over), static_cast<std::uint8_t>(just_over >> 8),
      static_cast<std::uint8_t>(just_over >> 16), static_cast<std::uint8_t>(just_over >> 24)};
  EXPECT_EQ(scan_frame(over).status, FrameScanStatus::too_large);
  const std::vector<std::uint8_t> zero = {0, 0, 0, 0};
  EXPECT_EQ(scan_frame(zero).status, FrameScanStatus::empty);
}

TEST(Framing, RefusesAWrongFileIdentifier) {
  auto bytes = book_frame(1);
  bytes[frame_header_size + 4] = 'X';  // the identifier follows prefix and root offset
  std::string why;
  EXPECT_EQ(verify_frame(bytes, &why), nullptr);
  EXPECT_NE(why.find("identifier"), std::string::npos) << why;
}

TEST(Framing, RefusesGarbageAndCorruptedFramesWithoutCrashing) {
  std::mt19937 random(7);
  const auto good = book_frame(9);
  for (int round = 0; round < 20'000; ++round) {
    auto bytes = good;
    const int flips = 1 + static_cast<int>(random() % 8);
    for (int i = 0; i < flips; ++i) {
      bytes[frame_header_size + 8 + random() % (bytes.size() - frame_header_size - 8)] =
          static_cast<std::uint8_t>(random());
    }
    std::string why;
    const wire::Frame* frame = verify_frame(bytes, &why);
    if (frame == nullptr) {
      EXPECT_FALSE(why.empty());
    } else if (frame->requests() != nullptr) {
      for (const wire::Request* request : *frame->requests()) {
        if (const auto* book = request->op_as_Book(); book && book->event()) {
          EXPECT_LE(book->event()->size(), bytes.size());
        }
      }
    }
  }
  std::vector<std::uint8_t> noise(512);
  for (auto& byte : noise) byte = static_cast<std::uint8_t>(random());
  noise[0] = 508 & 0xff, noise[1] = 508 >> 8, noise[2] = 0, noise[3] = 0;
  noise[8] = 'A', noise[9] = 'D', noise[10] = 'M', noise[11] = 'T';
  std::string why;
  EXPECT_EQ(verify_frame(noise, &why), nullptr);
}

TEST(Framing, RefusesMoreThanTheBatchLimit) {
  flatbuffers::FlatBufferBuilder builder;
  std::vector<flatbuffers::Offset<wire::Request>> requests;
  for (std::size_t i = 0; i <= frame_requests_max; ++i) {
    auto stats = wire::CreateStats(builder);
    requests.push_back(wire::CreateRequest(builder, i, wire::Op::Stats, stats.Union()));
  }
  finish_frame(builder, wire::CreateFrameDirect(builder, &requests));
  const auto span = builder.GetBufferSpan();
  const std::vector<std::uint8_t> bytes(span.begin(), span.end());
  std::string why;
  EXPECT_EQ(verify_frame(bytes, &why), nullptr);
  EXPECT_NE(why.find("frame_requests_max"), std::string::npos) << why;
}

TEST(Outcomes, NamesStatusesAndSuccessFollowTheDesign) {
  EXPECT_EQ(outcome_name(Outcome::sold_out), "SOLD_OUT");
  EXPECT_EQ(outcome_from_name("ALREADY_BOOKED"), Outcome::already_booked);
  EXPECT_FALSE(outcome_from_name("MAYBE").has_value());
  EXPECT_EQ(outcome_http_status(Outcome::rate_limited), 429);
  EXPECT_EQ(outcome_http_status(Outcome::waitlisted), 202);
  EXPECT_TRUE(outcome_is_success(Outcome::already_booked));
  EXPECT_FALSE(outcome_is_success(Outcome::over_user_limit));
  for (int i = 0; i < outcome_count; ++i) {
    const auto outcome = static_cast<Outcome>(i);
    EXPECT_EQ(outcome_from_name(outcome_name(outcome)), outcome);
    EXPECT_EQ(outcome_name(outcome), wire::EnumNameOutcome(to_wire(outcome)));
  }
}

}  // namespace
}  // namespace admit
