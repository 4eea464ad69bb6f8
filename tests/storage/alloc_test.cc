// The hot refusal paths must not allocate: counts operator new calls around
// sold-out and already-booked answers. Its own binary, since it replaces the
// global operator new.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "storage/state_machine.h"

namespace {
std::atomic<std::size_t> allocations{0};
}

void* operator new(std::size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// Not inlined: GCC would otherwise see free() meet a `new` and warn.
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace admit::storage {
namespace {

constexpr std::int64_t now_ms = 1'700'000'000'000;

TEST(HotPath, SoldOutAndAlreadyBookedDoNotAllocate) {
  StateMachine sm(Options{});
  sm.create_event({"gig", {.capacity = 100}}, now_ms);
  std::vector<std::string> users;
  for (int i = 0; i < 200; ++i) users.push_back("user-" + std::to_string(i));
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(sm.book({.event = "gig", .user = users[i]}, now_ms).outcome, Outcome::booked);
  }
  const std::size_t before = allocations.load();
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < 200; ++i) {
      const BookResult result = sm.book({.event = "gig", .user = users[i]}, now_ms);
      ASSERT_EQ(result.outcome, i < 100 ? Outcome::already_booked : Outcome::sold_out);
    }
  }
  EXPECT_EQ(allocations.load(), before);
}

}  // namespace
}  // namespace admit::storage
