// Token buckets per (event, user).
#include "machine_helpers.h"

namespace admit::storage::testing {
namespace {

using RateLimit = Machine;

TEST_F(RateLimit, BurstThenExactRetryAfter) {
  create("gig", {.capacity = 100, .rate_per_s = 2, .rate_burst = 3});
  EXPECT_EQ(book("gig", "ann").outcome, Outcome::booked);
  EXPECT_EQ(book("gig", "ann").outcome, Outcome::already_booked);
  EXPECT_EQ(book("gig", "ann").outcome, Outcome::already_booked);
  const BookResult limited = book("gig", "ann");
  EXPECT_EQ(limited.outcome, Outcome::rate_limited);
  EXPECT_EQ(limited.retry_after_ms, 500);  // 2 tokens/s: one every 500 ms
  advance(200);
  EXPECT_EQ(book("gig", "ann").retry_after_ms, 300);
  advance(299);
  EXPECT_EQ(book("gig", "ann").retry_after_ms, 1);
  advance(1);
  EXPECT_EQ(book("gig", "ann").outcome, Outcome::already_booked);
  EXPECT_EQ(book("gig", "ann").retry_after_ms, 500);
}

TEST_F(RateLimit, RetryAfterRoundsUp) {
  create("gig", {.capacity = 100, .rate_per_s = 3});  // burst = rate
  for (int i = 0; i < 3; ++i) book("gig", "ann");
  EXPECT_EQ(book("gig", "ann").retry_after_ms, 334);  // 1000/3 = 333.3 ms
  advance(333);
  EXPECT_EQ(book("gig", "ann").retry_after_ms, 1);
  advance(1);
  EXPECT_NE(book("gig", "ann").outcome, Outcome::rate_limited);
}

TEST_F(RateLimit, RefusedAttemptsChangeNothing) {
  create("gig", {.capacity = 100, .rate_per_s = 1});
  book("gig", "ann");
  const std::uint64_t changes = sm_.change_count();
  const std::string before = sm_.dump();
  EXPECT_EQ(book("gig", "ann").outcome, Outcome::rate_limited);
  EXPECT_EQ(book({.event = "gig", .user = "ann", .request_id = "r"}).outcome,
            Outcome::rate_limited);
  EXPECT_EQ(sm_.change_count(), changes);
  EXPECT_EQ(sm_.dump(), before);
  advance(1000);
  EXPECT_EQ(book({.event = "gig", .user = "ann", .request_id = "r"}).outcome,
            Outcome::already_booked);
}

TEST_F(RateLimit, EveryAttemptTakesATokenEvenSoldOut) {
  create("gig", {.capacity = 0, .per_user_max = 1, .rate_per_s = 2});
  const std::uint64_t changes = sm_.change_count();
  EXPECT_EQ(book("gig", "ann").outcome, Outcome::sold_out);
  EXPECT_EQ(sm_.change_count(), changes + 1);  // the token
  EXPECT_EQ(book("gig", "ann").outcome, Outcome::sold_out);
  EXPECT_EQ(book("gig", "ann").outcome, Outcome::rate_limited);
}

TEST_F(RateLimit, BucketsArePerEventAndUser) {
  create("a", {.capacity = 100, .rate_per_s = 1});
  create("b", {.capacity = 100, .rate_per_s = 1});
  book("a", "ann");
  EXPECT_EQ(book("a", "ann").outcome, Outcome::rate_limited);
  EXPECT_EQ(book("a", "bob").outcome, Outcome::booked);
  EXPECT_EQ(book("b", "ann").outcome, Outcome::booked);
}

TEST_F(RateLimit, RateLimitComesAfterEventLookupAndBeforeEverythingElse) {
  create("gig", {.capacity = 100, .rate_per_s = 1, .state = EventState::paused});
  EXPECT_EQ(book("nope", "ann").outcome, Outcome::not_found);
  EXPECT_EQ(book("gig", "ann").outcome, Outcome::not_open);
  EXPECT_EQ(book("gig", "ann").outcome, Outcome::rate_limited);
}

TEST_F(RateLimit, NoLimitByDefault) {
  create_with_capacity("gig", 0);
  for (int i = 0; i < 1000; ++i) ASSERT_NE(book("gig", "ann").outcome, Outcome::rate_limited);
}

TEST_F(RateLimit, TimeRunningBackwardsRefillsNothing) {
  create("gig", {.capacity = 100, .rate_per_s = 1});
  book("gig", "ann");
  advance(-5000);
  EXPECT_EQ(book("gig", "ann").retry_after_ms, 1000);
}

class RateLimitDefaults : public Machine {
 protected:
  RateLimitDefaults() : Machine(Options{.default_rate_per_s = 10, .default_rate_burst = 2}) {}
};

TEST_F(RateLimitDefaults, EventsWithoutARateUseTheShardDefault) {
  create_with_capacity("gig", 100);
  book("gig", "ann");
  book("gig", "ann");
  EXPECT_EQ(book("gig", "ann").retry_after_ms, 100);
  create("own", {.capacity = 100, .rate_per_s = 1000});  // burst = rate
  for (int i = 0; i < 1000; ++i) ASSERT_NE(book("own", "ann").outcome, Outcome::rate_limited);
  EXPECT_EQ(book("own", "ann").retry_after_ms, 1);
}

}  // namespace
}  // namespace admit::storage::testing
