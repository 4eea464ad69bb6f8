#include "server/event_directory.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

#include "protocol/shard.h"

namespace admit::server {
namespace {

EventSnapshot snapshot(const std::string& id, std::uint32_t capacity, std::uint32_t confirmed) {
  EventSnapshot event;
  event.id.assign(id);
  event.config.capacity = capacity;
  event.version = 1;
  event.confirmed = confirmed;
  event.available = capacity - confirmed;
  return event;
}

TEST(EventDirectory, FindsWhatTheOwnerPublishedAndNothingElse) {
  EventDirectory directory(3);
  const std::string id = "gala";
  directory.publish(owner_shard(id, 3), snapshot(id, 10, 4));
  const auto found = directory.find(id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->available, 6u);
  directory.publish(owner_shard(id, 3), snapshot(id, 10, 9));
  EXPECT_EQ(directory.find(id)->available, 1u);
  EXPECT_FALSE(directory.find("nope").has_value());
}

TEST(EventDirectory, ListsAcrossShardsInIdOrderWithMore) {
  EventDirectory directory(2);
  for (char c = 'a'; c <= 'j'; ++c) {
    const std::string id(1, c);
    directory.publish(owner_shard(id, 2), snapshot(id, 5, 0));
  }
  bool more = false;
  auto page = directory.list("", 4, &more);
  ASSERT_EQ(page.size(), 4u);
  EXPECT_TRUE(more);
  EXPECT_EQ(page[0].id.view(), "a");
  EXPECT_EQ(page[3].id.view(), "d");
  page = directory.list("g", 4, &more);
  ASSERT_EQ(page.size(), 3u);
  EXPECT_FALSE(more);
  EXPECT_EQ(page[0].id.view(), "h");
}

// The owner keeps rewriting an entry whose fields always sum to its capacity;
// readers on other threads never see a torn mix of two writes.
TEST(EventDirectory, ReadersNeverSeeATornEntry) {
  EventDirectory directory(2);
  const std::string id = "contended";
  const std::uint32_t owner = owner_shard(id, 2);
  directory.publish(owner, snapshot(id, 1000, 0));
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (std::uint32_t i = 0; i < 100'000; ++i)
      directory.publish(owner, snapshot(id, 1000, i % 1000));
    done = true;
  });
  std::uint64_t reads = 0;
  while (!done.load() || reads < 1000) {
    const auto event = directory.find(id);
    ASSERT_TRUE(event.has_value());
    ASSERT_EQ(event->available + event->confirmed, 1000u);
    ++reads;
  }
  writer.join();
}

}  // namespace
}  // namespace admit::server
