// AsyncClient allocates nothing per request once warm: submit, flush, poll and
// the callbacks of a deep pipeline run without a single operator new; nor per
// pushed update of a watched event.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "admit/async_client.h"
#include "admit/client.h"
#include "tests/support/admitd_process.h"

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace admit {
namespace {

// Bookings batched (ClientOptions::book_batching, the default) and one Book each.
class AsyncClientAllocationsBatching : public ::testing::TestWithParam<bool> {};

TEST_P(AsyncClientAllocationsBatching, NoneOncePipelineIsWarm) {
  test::AdmitdProcess server;
  ClientOptions options;
  options.port = server.port();
  Client setup(options);
  ASSERT_TRUE(setup.create_event({.id = "alloc", .capacity = 1'000'000}).ok());

  options.book_batching = GetParam();
  AsyncClient client(options);
  ASSERT_TRUE(client.connect().ok());
  constexpr int pipeline = 4000;  // several frames in flight at once
  std::vector<std::string> users;
  // Names of one length: batched bookings cost their user's bytes and little
  // else, so the warm round writes as many bytes as the measured one.
  for (int i = 0; i < 2 * pipeline; ++i) users.push_back("user-" + std::to_string(100'000 + i));
  long booked = 0;
  auto round = [&](int first) {
    for (int i = first; i < first + pipeline; ++i) {
      const Status s = client.submit_book(
          {.event = "alloc", .user = users[i]},
          [&booked](const ReplyView& reply) { booked += reply.outcome() == Outcome::booked; });
      ASSERT_TRUE(s.ok());
    }
    ASSERT_TRUE(client.flush().ok());
    for (int turn = 0; turn < 10'000 && client.in_flight() > 0; ++turn) {
      client.poll(std::chrono::milliseconds(100));
    }
    ASSERT_EQ(client.in_flight(), 0u);
  };
  round(0);  // warm: buffers and slot tables grow to the pipeline's depth
  counting = true;
  round(pipeline);
  counting = false;
  EXPECT_EQ(allocations.load(), 0);
  EXPECT_EQ(booked, 2 * pipeline);
}

INSTANTIATE_TEST_SUITE_P(BatchedAndSingle, AsyncClientAllocationsBatching, ::testing::Bool());

// Requests AsyncClient may retry (books with a request id, reads) are kept
// for resending in reused records, and every request gets a deadline: still
// nothing allocated per request once warm.
TEST(AsyncClientAllocations, NoneForRetryableRequestsOnceWarm) {
  test::AdmitdProcess server;
  ClientOptions options;
  options.port = server.port();
  Client setup(options);
  ASSERT_TRUE(setup.create_event({.id = "alloc-retry", .capacity = 1'000'000}).ok());
  AsyncClient client(options);
  ASSERT_TRUE(client.connect().ok());
  constexpr int pipeline = 2000;
  std::vector<std::string> users, request_ids;
  for (int i = 0; i < 2 * pipeline; ++i) {
    users.push_back("user-" + std::to_string(100'000 + i));  // one length, as above
    request_ids.push_back(make_request_id());
  }
  long answered = 0;
  auto round = [&](int first) {
    for (int i = first; i < first + pipeline; ++i) {
      auto count = [&answered](const ReplyView& reply) { answered += reply.status().ok(); };
      ASSERT_TRUE(
          client
              .submit_book({.event = "alloc-retry", .user = users[i], .request_id = request_ids[i]},
                           count)
              .ok());
      ASSERT_TRUE(client.submit_get_event("alloc-retry", count).ok());
    }
    ASSERT_TRUE(client.flush().ok());
    for (int turn = 0; turn < 10'000 && client.in_flight() > 0; ++turn) {
      client.poll(std::chrono::milliseconds(100));
    }
    ASSERT_EQ(client.in_flight(), 0u);
  };
  round(0);  // warm: buffers, slot tables and resend records grow to the depth
  allocations = 0;
  counting = true;
  round(pipeline);
  counting = false;
  EXPECT_EQ(allocations.load(), 0);
  EXPECT_EQ(answered, 4 * pipeline);
}

TEST(AsyncClientAllocations, NonePerPushedUpdate) {
  test::AdmitdProcess server({.extra_args = {"--watch-interval-ms", "0"}});
  ClientOptions options;
  options.port = server.port();
  Client buyer(options);
  ASSERT_TRUE(buyer.create_event({.id = "alloc-watch", .capacity = 1'000}).ok());

  AsyncClient watcher(options);
  ASSERT_TRUE(watcher.connect().ok());
  std::uint32_t confirmed = 0;
  long updates = 0;
  watcher.on_update([&](const WatchUpdateView& update) {
    confirmed = update.confirmed;
    ++updates;
  });
  ASSERT_TRUE(watcher.submit_watch("alloc-watch", [](const ReplyView&) {}).ok());
  // Books one seat (allocations not counted), then polls, counted, until the
  // watcher has seen it.
  auto sale = [&](std::uint32_t seat) {
    ASSERT_TRUE(buyer.book({.event = "alloc-watch", .user = "u" + std::to_string(seat)}).ok());
    counting = true;
    for (int turn = 0; turn < 1000 && confirmed < seat; ++turn) {
      watcher.poll(std::chrono::milliseconds(20));
    }
    counting = false;
    ASSERT_EQ(confirmed, seat);
  };
  for (std::uint32_t seat = 1; seat <= 5; ++seat) sale(seat);  // warm
  allocations = 0;
  const long warm_updates = updates;
  for (std::uint32_t seat = 6; seat <= 50; ++seat) sale(seat);
  EXPECT_EQ(allocations.load(), 0);
  EXPECT_GE(updates - warm_updates, 45);
}

}  // namespace
}  // namespace admit
