#include "bench/admit-bench/histogram.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>

namespace admit::bench {
namespace {

TEST(LatencyHistogram, EmptyReportsZeroes) {
  LatencyHistogram histogram;
  EXPECT_EQ(histogram.count(), 0u);
  EXPECT_EQ(histogram.value_at_percentile_ns(50), 0u);
  EXPECT_EQ(histogram.max_ns(), 0u);
  EXPECT_EQ(histogram.min_ns(), 0u);
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram histogram;
  for (std::uint64_t v = 0; v < 2 * LatencyHistogram::sub_bucket_count; ++v) histogram.record(v);
  EXPECT_EQ(histogram.value_at_percentile_ns(0), 0u);
  EXPECT_EQ(histogram.value_at_percentile_ns(50), LatencyHistogram::sub_bucket_count - 1);
  EXPECT_EQ(histogram.value_at_percentile_ns(100), 2 * LatencyHistogram::sub_bucket_count - 1);
}

TEST(LatencyHistogram, BucketsTileTheRangeWithoutGapsOrOverlap) {
  for (std::size_t b = 0; b + 1 < LatencyHistogram::bucket_count; ++b) {
    ASSERT_EQ(LatencyHistogram::highest_in_bucket_ns(b) + 1,
              LatencyHistogram::lowest_in_bucket_ns(b + 1))
        << "bucket " << b;
  }
  EXPECT_EQ(LatencyHistogram::highest_in_bucket_ns(LatencyHistogram::bucket_count - 1),
            LatencyHistogram::value_max_ns);
}

TEST(LatencyHistogram, EveryValueLandsInTheBucketThatHoldsIt) {
  std::mt19937_64 random(42);
  for (int i = 0; i < 100'000; ++i) {
    const std::uint64_t value = random() >> (28 + random() % 36);
    const std::size_t bucket = LatencyHistogram::bucket_of(value);
    ASSERT_LE(LatencyHistogram::lowest_in_bucket_ns(bucket), value);
    ASSERT_GE(LatencyHistogram::highest_in_bucket_ns(bucket), value);
  }
}

TEST(LatencyHistogram, RelativeErrorStaysUnderOnePercent) {
  for (std::uint64_t value = 1; value < LatencyHistogram::value_max_ns; value = value * 3 + 7) {
    const std::size_t bucket = LatencyHistogram::bucket_of(value);
    const auto width = LatencyHistogram::highest_in_bucket_ns(bucket) -
                       LatencyHistogram::lowest_in_bucket_ns(bucket);
    EXPECT_LE(static_cast<double>(width) / static_cast<double>(value),
              1.0 / LatencyHistogram::sub_bucket_count)
        << value;
  }
}

TEST(LatencyHistogram, PercentilesOfAUniformSpreadAreWhereTheyShouldBe) {
  LatencyHistogram histogram;
  for (std::uint64_t us = 1; us <= 10'000; ++us) histogram.record(us * 1000);  // 1 us .. 10 ms
  const auto within = [](std::uint64_t got, std::uint64_t want) {
    return got >= want && got <= want + want / LatencyHistogram::sub_bucket_count;
  };
  EXPECT_TRUE(within(histogram.value_at_percentile_ns(50), 5'000'000))
      << histogram.value_at_percentile_ns(50);
  EXPECT_TRUE(within(histogram.value_at_percentile_ns(99), 9'900'000))
      << histogram.value_at_percentile_ns(99);
  EXPECT_TRUE(within(histogram.value_at_percentile_ns(99.9), 9'990'000))
      << histogram.value_at_percentile_ns(99.9);
  EXPECT_EQ(histogram.value_at_percentile_ns(100), 10'000'000u);
  EXPECT_EQ(histogram.max_ns(), 10'000'000u);
  EXPECT_EQ(histogram.min_ns(), 1000u);
  EXPECT_NEAR(histogram.mean_ns(), 5'000'500.0, 1.0);
}

TEST(LatencyHistogram, ATailOfOneInAThousandShowsAtP999NotP99) {
  LatencyHistogram histogram;
  histogram.record_n(100'000, 9990);   // 100 us
  histogram.record_n(50'000'000, 10);  // 50 ms
  EXPECT_LT(histogram.value_at_percentile_ns(99), 101'000u);
  EXPECT_LT(histogram.value_at_percentile_ns(99.9), 101'000u);
  EXPECT_GE(histogram.value_at_percentile_ns(99.95), 50'000'000u);
  EXPECT_EQ(histogram.max_ns(), 50'000'000u);
}

TEST(LatencyHistogram, MergeEqualsRecordingEverythingInOne) {
  LatencyHistogram a, b, both;
  std::mt19937_64 random(7);
  for (int i = 0; i < 10'000; ++i) {
    const std::uint64_t value = random() % 10'000'000;
    (i % 2 == 0 ? a : b).record(value);
    both.record(value);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), both.count());
  EXPECT_EQ(a.min_ns(), both.min_ns());
  EXPECT_EQ(a.max_ns(), both.max_ns());
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9, 100.0}) {
    EXPECT_EQ(a.value_at_percentile_ns(p), both.value_at_percentile_ns(p)) << p;
  }
}

TEST(LatencyHistogram, ValuesPastTheRangeAreClampedAndCounted) {
  LatencyHistogram histogram;
  histogram.record(LatencyHistogram::value_max_ns + 12345);
  histogram.record(5);
  EXPECT_EQ(histogram.clamped(), 1u);
  EXPECT_EQ(histogram.count(), 2u);
  EXPECT_EQ(histogram.max_ns(), LatencyHistogram::value_max_ns);
}

TEST(LatencyHistogram, ResetForgetsEverything) {
  LatencyHistogram histogram;
  histogram.record_n(1000, 50);
  histogram.reset();
  EXPECT_EQ(histogram.count(), 0u);
  EXPECT_EQ(histogram.value_at_percentile_ns(99), 0u);
}

TEST(LatencyHistogram, MemoryIsConstant) { EXPECT_LE(sizeof(LatencyHistogram), 64u * 1024u); }

}  // namespace
}  // namespace admit::bench
