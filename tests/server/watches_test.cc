// Watches without sockets: counts exactly once, coalescing (latest state,
// never an older one after a newer one), bytes encoded once per protocol, a
// skipped (slow) watcher catching up with the latest state only.
#include "server/watches.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "protocol/framing.h"

namespace admit::server {
namespace {

struct Delivered {
  std::uint32_t slot;
  std::vector<std::uint8_t> bytes;
  const std::uint8_t* data;  // where the bytes lived: the same for every watcher of a round
};

class WatchesTest : public ::testing::Test {
 protected:
  void publish(std::string_view id, std::uint32_t available, std::uint64_t version = 1) {
    EventSnapshot event;
    event.id.assign(id);
    event.config.capacity = 10;
    event.version = version;
    event.available = available;
    directory_.publish(0, event);
  }
  std::uint32_t watchers(std::string_view id) const { return directory_.find(id)->watchers; }
  // One round; `skip` slots are told their queue is full.
  std::vector<Delivered> round(std::vector<std::uint32_t> skip = {}) {
    std::vector<Delivered> out;
    watches_.push_round(directory_,
                        [&](const Watches::Watcher& w, std::span<const std::uint8_t> bytes) {
                          if (std::find(skip.begin(), skip.end(), w.slot) != skip.end())
                            return false;
                          out.push_back({w.slot, {bytes.begin(), bytes.end()}, bytes.data()});
                          return true;
                        });
    return out;
  }
  struct Seen {
    std::uint64_t seq;
    std::uint32_t available, watchers;
  };
  // The update inside a pushed frame (verified, from an aligned copy).
  static Seen update_of(const Delivered& d) {
    std::vector<std::uint64_t> aligned((d.bytes.size() + 7) / 8);
    std::memcpy(aligned.data(), d.bytes.data(), d.bytes.size());
    std::string why;
    const wire::Frame* frame =
        verify_frame({reinterpret_cast<const std::uint8_t*>(aligned.data()), d.bytes.size()}, &why);
    EXPECT_NE(frame, nullptr) << why;
    if (frame == nullptr || frame->updates() == nullptr) return {};
    const wire::Update& update = *frame->updates()->Get(0);
    return {update.seq(), update.available(), update.watchers()};
  }

  EventDirectory directory_{1};
  Watches watches_;
};

TEST_F(WatchesTest, CountsMoveExactlyOnce) {
  publish("gig", 10);
  const Watches::Watcher a{1, 7, Protocol::binary}, b{2, 3, Protocol::http};
  EXPECT_EQ(watches_.watch(a, "gig", directory_), Watches::Added::added);
  EXPECT_EQ(watches_.watch(a, "gig", directory_), Watches::Added::already);
  EXPECT_EQ(watches_.watch(b, "gig", directory_), Watches::Added::added);
  EXPECT_EQ(watchers("gig"), 2u);
  EXPECT_EQ(watches_.watch(a, "nope", directory_), Watches::Added::no_event);
  EXPECT_TRUE(watches_.unwatch(a, "gig", directory_));
  EXPECT_FALSE(watches_.unwatch(a, "gig", directory_));
  EXPECT_EQ(watchers("gig"), 1u);
  watches_.forget(b, directory_);
  watches_.forget(b, directory_);
  EXPECT_EQ(watchers("gig"), 0u);
  EXPECT_TRUE(watches_.empty());
}

TEST_F(WatchesTest, AConnectionWatchesAtMostItsLimit) {
  const Watches::Watcher a{1, 1, Protocol::binary};
  for (std::uint32_t i = 0; i <= watches_per_connection_max; ++i) {
    const std::string id = "e" + std::to_string(i);
    publish(id, 1);
    const auto added = watches_.watch(a, id, directory_);
    EXPECT_EQ(added,
              i < watches_per_connection_max ? Watches::Added::added : Watches::Added::limit);
  }
  watches_.forget(a, directory_);
  EXPECT_EQ(watchers("e0"), 0u);
}

TEST_F(WatchesTest, FirstTheCurrentStateThenOnlyChangesEncodedOnce) {
  publish("gig", 10);
  for (std::uint32_t slot = 1; slot <= 3; ++slot) {
    watches_.watch({slot, 1, Protocol::binary}, "gig", directory_);
  }
  std::vector<Delivered> sent = round();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].data, sent[2].data) << "one encoding for every watcher";
  EXPECT_EQ(update_of(sent[0]).available, 10u);
  EXPECT_EQ(update_of(sent[0]).watchers, 3u);
  const std::uint64_t first_seq = update_of(sent[0]).seq;
  EXPECT_TRUE(round().empty()) << "nothing changed";
  publish("gig", 9);
  sent = round();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(update_of(sent[1]).available, 9u);
  EXPECT_EQ(update_of(sent[1]).seq, first_seq + 1);
}

TEST_F(WatchesTest, ASkippedWatcherGetsOnlyTheLatestState) {
  publish("gig", 10);
  watches_.watch({1, 1, Protocol::binary}, "gig", directory_);
  watches_.watch({2, 1, Protocol::binary}, "gig", directory_);
  round();
  publish("gig", 9);
  EXPECT_EQ(round({2}).size(), 1u);  // slot 2's queue is full
  publish("gig", 8);
  EXPECT_EQ(round({2}).size(), 1u);
  publish("gig", 7);
  const std::vector<Delivered> sent = round();
  ASSERT_EQ(sent.size(), 2u);
  std::uint64_t seq_of_1 = 0, seq_of_2 = 0;
  for (const Delivered& d : sent) {
    EXPECT_EQ(update_of(d).available, 7u);
    (d.slot == 1 ? seq_of_1 : seq_of_2) = update_of(d).seq;
  }
  EXPECT_EQ(seq_of_1, seq_of_2);
  EXPECT_TRUE(round().empty()) << "both are up to date";
}

TEST_F(WatchesTest, SseUpdatesCarryTheEventJsonAndSeq) {
  publish("gig", 4);
  watches_.watch({1, 1, Protocol::http}, "gig", directory_);
  const std::vector<Delivered> sent = round();
  ASSERT_EQ(sent.size(), 1u);
  const std::string text(sent[0].bytes.begin(), sent[0].bytes.end());
  EXPECT_EQ(text.rfind("event: availability\nid: 1\ndata: {\"id\":\"gig\"", 0), 0u) << text;
  EXPECT_NE(text.find("\"available\":4"), std::string::npos);
  EXPECT_NE(text.find("\"watchers\":1,\"seq\":1}\n\n"), std::string::npos) << text;
}

TEST_F(WatchesTest, AForgottenWatcherIsNeverPushedTo) {
  publish("gig", 10);
  watches_.watch({1, 1, Protocol::binary}, "gig", directory_);
  watches_.watch({2, 1, Protocol::binary}, "gig", directory_);
  watches_.forget({1, 1, Protocol::binary}, directory_);
  const std::vector<Delivered> sent = round();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].slot, 2u);
}

}  // namespace
}  // namespace admit::server
