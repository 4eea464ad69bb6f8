#include "protocol/booking_ref.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "admit/limits.h"

namespace admit {
namespace {

TEST(BookingRef, ReadsBackShardAndSerial) {
  for (std::uint32_t shard = 0; shard < shards_max; ++shard) {
    for (std::uint64_t serial :
         {std::uint64_t{1}, std::uint64_t{2}, std::uint64_t{977}, booking_serial_max}) {
      const BookingRef ref = BookingRef::make(serial, shard);
      EXPECT_EQ(ref.shard(), shard);
      EXPECT_EQ(ref.serial(), serial);
      EXPECT_EQ(ref.view().size(), booking_ref_size);
      EXPECT_EQ(ref.view().substr(0, 3), "BK-");
    }
  }
}

TEST(BookingRef, ConsecutiveSerialsGiveDistinctUnorderedRefs) {
  std::set<std::string> seen;
  bool any_out_of_order = false;
  std::string previous;
  for (std::uint64_t serial = 1; serial <= 100'000; ++serial) {
    const std::string text(BookingRef::make(serial, 3).view());
    EXPECT_TRUE(seen.insert(text).second) << text;
    any_out_of_order |= !previous.empty() && text < previous;
    previous = text;
  }
  EXPECT_TRUE(any_out_of_order) << "refs should not reveal the booking order";
}

TEST(BookingRef, ParsesWhatItPrintsInEitherCase) {
  const BookingRef ref = BookingRef::make(123456, 5);
  std::string lower(ref.view());
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  ASSERT_TRUE(BookingRef::parse(ref.view()).has_value());
  ASSERT_TRUE(BookingRef::parse(lower).has_value());
  EXPECT_EQ(*BookingRef::parse(lower), ref);
}

TEST(BookingRef, RefusesMalformedText) {
  for (const char* text : {"", "BK-", "BK-1234567", "BK-123456789", "XX-12345678", "BK-1234567I",
                           "BK-1234567O", "BK_12345678", "BK-0000000\xff"}) {
    EXPECT_FALSE(BookingRef::parse(text).has_value()) << text;
  }
}

// A BookBatch answer carries a ref as its 40 bits; the client spells it.
TEST(BookingRef, ItsBitsGiveBackTheSameRef) {
  for (const std::uint32_t shard : {0u, 5u, 63u}) {
    for (const std::uint64_t serial : {std::uint64_t{1}, std::uint64_t{77}, booking_serial_max}) {
      const BookingRef ref = BookingRef::make(serial, shard);
      const auto back = BookingRef::of_bits(ref.bits());
      ASSERT_TRUE(back.has_value());
      EXPECT_EQ(*back, ref);
      EXPECT_EQ(back->view(), ref.view());
    }
  }
  EXPECT_EQ(BookingRef().bits(), 0u);
  EXPECT_FALSE(BookingRef::of_bits(0).has_value());
  EXPECT_FALSE(BookingRef::of_bits(std::uint64_t{1} << 40).has_value());  // past 40 bits
  EXPECT_FALSE(BookingRef::of_bits(7).has_value());  // shard 7, serial 0: never made
}

}  // namespace
}  // namespace admit
