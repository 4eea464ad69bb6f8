#include "server/spsc_ring.h"

#include <gtest/gtest.h>

#include <thread>

namespace admit::server {
namespace {

struct Number {
  std::uint64_t value;
};

TEST(SpscRing, FullRingRefusesAndEmptyRingHasNoFront) {
  SpscRing<Number> ring(16);
  EXPECT_EQ(ring.front(), nullptr);
  for (std::uint64_t i = 0; i < 16; ++i) {
    Number* slot = ring.try_push();
    ASSERT_NE(slot, nullptr);
    slot->value = i;
    ring.commit_push();
  }
  EXPECT_EQ(ring.try_push(), nullptr);
  ASSERT_NE(ring.front(), nullptr);
  EXPECT_EQ(ring.front()->value, 0u);
  ring.commit_pop();
  EXPECT_NE(ring.try_push(), nullptr);
}

// One producer thread, one consumer thread: every value arrives once, in order.
// The owner fills answers now and shows them once durable, in order.
TEST(SpscRing, SlotsFilledAheadStayHiddenUntilCommitted) {
  SpscRing<Number> ring(16);
  for (std::uint32_t ahead = 0; ahead < 16; ++ahead) {
    Number* slot = ring.try_push_ahead(ahead);
    ASSERT_NE(slot, nullptr) << ahead;
    slot->value = 100 + ahead;
  }
  EXPECT_EQ(ring.try_push_ahead(16), nullptr);  // past the capacity
  EXPECT_EQ(ring.front(), nullptr);             // nothing committed yet
  ring.commit_push(3);
  for (std::uint64_t expected = 100; expected < 103; ++expected) {
    const Number* front = ring.front();
    ASSERT_NE(front, nullptr);
    EXPECT_EQ(front->value, expected);
    ring.commit_pop();
  }
  EXPECT_EQ(ring.front(), nullptr);
  ring.commit_push(13);
  const Number* front = ring.front();
  ASSERT_NE(front, nullptr);
  EXPECT_EQ(front->value, 103u);
}

TEST(SpscRing, CarriesValuesInOrderAcrossThreads) {
  constexpr std::uint64_t count = 200'000;
  SpscRing<Number> ring(64);
  std::thread producer([&ring] {
    for (std::uint64_t i = 0; i < count;) {
      if (Number* slot = ring.try_push()) {
        slot->value = i++;
        ring.commit_push();
      } else {
        std::this_thread::yield();
      }
    }
  });
  std::uint64_t expected = 0;
  while (expected < count) {
    if (const Number* slot = ring.front()) {
      ASSERT_EQ(slot->value, expected);
      ++expected;
      ring.commit_pop();
    } else {
      std::this_thread::yield();
    }
  }
  producer.join();
  EXPECT_EQ(ring.front(), nullptr);
}

}  // namespace
}  // namespace admit::server
