// libadmit's watches against a real admitd (2 shards, strict): updates follow
// bookings to the final counters on events of both shards, shard-aware or
// through the base port; exact watcher counts; refusals; and the client's own
// re-watch after kill -9 and a restart, whose first update is the recovered state.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "admit/async_client.h"
#include "admit/client.h"
#include "protocol/shard.h"
#include "tests/support/admitd_process.h"

namespace admit {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr auto wait_max = std::chrono::seconds(20);
constexpr std::uint32_t shards = 2;

class WatchServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new test::AdmitdProcess(
        {.shards = shards, .durability = "strict", .extra_args = {"--watch-interval-ms", "20"}});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static ClientOptions options() {
    ClientOptions o;
    o.host = server_->host();
    o.port = server_->port();
    o.request_timeout = milliseconds(30'000);
    o.retry_backoff = milliseconds(5);
    return o;
  }
  static void create(Client& client, const std::string& id, std::uint32_t capacity) {
    const Result<EventInfo> r = client.create_event({.id = id, .capacity = capacity});
    ASSERT_TRUE(r.ok()) << r.status().to_string();
  }
  // An event id owned by `shard`.
  static std::string on_shard(const std::string& prefix, std::uint32_t shard) {
    for (int i = 0;; ++i) {
      std::string id = prefix + "-" + std::to_string(i);
      if (owner_shard(id, shards) == shard) return id;
    }
  }

  static inline test::AdmitdProcess* server_ = nullptr;
};

// Polls `clients` until `done` or wait_max.
bool poll_until(std::vector<AsyncClient*> clients, const std::function<bool()>& done) {
  const auto deadline = Clock::now() + wait_max;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    AsyncClient::poll_many(clients, milliseconds(20));
  }
  return true;
}

struct Seen {
  std::vector<WatchUpdate> updates;
  bool went_back = false;  // seq or confirmed went backwards
};

void keep(Seen& seen, const WatchUpdateView& update) {
  if (!seen.updates.empty() && !update.first) {
    const WatchUpdate& last = seen.updates.back();
    if (update.seq <= last.seq || update.confirmed < last.confirmed) seen.went_back = true;
  }
  seen.updates.push_back(update.copy());
}

// Once its watchers left, each event's count drops to 0 (read from GetEvent).
void expect_no_watchers_left(Client& admin, const std::vector<std::string>& events) {
  for (const std::string& event : events) {
    const auto deadline = Clock::now() + wait_max;
    std::uint32_t left = 1;
    while (Clock::now() < deadline && (left = admin.get_event(event)->watchers) != 0) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    EXPECT_EQ(left, 0u) << event;
  }
}

TEST_F(WatchServer, UpdatesFollowASellOutOnBothShardsToTheFinalCounters) {
  Client admin(options());
  constexpr std::uint32_t capacity = 40;
  std::vector<std::string> events;
  for (std::uint32_t shard = 0; shard < shards; ++shard) {
    events.push_back(on_shard("sellout", shard));
    create(admin, events.back(), capacity);
  }
  // Per event: one shard-aware watcher, one through the base port only.
  std::vector<std::unique_ptr<AsyncClient>> watchers;
  std::vector<Seen> seen(events.size() * 2);
  std::vector<AsyncClient*> polled;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    ClientOptions o = options();
    o.shard_aware = i % 2 == 0;
    watchers.push_back(std::make_unique<AsyncClient>(o));
    Seen* mine = &seen[i];
    watchers.back()->on_update([mine](const WatchUpdateView& u) { keep(*mine, u); });
    ASSERT_TRUE(watchers.back()
                    ->submit_watch(events[i / 2],
                                   [](const ReplyView& r) {
                                     EXPECT_TRUE(r.status().ok()) << r.status().to_string();
                                   })
                    .answered());
    polled.push_back(watchers.back().get());
  }
  ASSERT_TRUE(poll_until(polled, [&] {
    for (const Seen& s : seen) {
      if (s.updates.empty()) return false;
    }
    return true;
  }));
  for (const Seen& s : seen) {
    EXPECT_TRUE(s.updates.front().first);
    EXPECT_EQ(s.updates.front().available, capacity);
  }
  // Sell both out while the watchers poll.
  std::thread buyer([&] {
    Client client(options());
    for (const std::string& event : events) {
      for (std::uint32_t user = 0; user < capacity + 5; ++user) {
        client.book({.event = event, .user = "u" + std::to_string(user)});
      }
    }
  });
  const auto sold_out = [&] {
    for (const Seen& s : seen) {
      if (s.updates.empty() || s.updates.back().available != 0) return false;
    }
    return true;
  };
  const bool all_saw_it = poll_until(polled, sold_out);
  buyer.join();
  ASSERT_TRUE(all_saw_it);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    const Result<EventInfo> final_state = admin.get_event(events[i / 2]);
    ASSERT_TRUE(final_state.ok());
    const WatchUpdate& last = seen[i].updates.back();
    EXPECT_FALSE(seen[i].went_back) << "watcher " << i;
    EXPECT_EQ(last.event, events[i / 2]);
    EXPECT_EQ(last.confirmed, final_state->confirmed);
    EXPECT_EQ(last.available, final_state->available);
    EXPECT_EQ(last.version, final_state->version);
    EXPECT_EQ(last.capacity, capacity);
    EXPECT_EQ(last.watchers, 2u) << "two watchers per event";
  }
  watchers.clear();
  expect_no_watchers_left(admin, events);
}

TEST_F(WatchServer, RefusalsUnknownEventAndPastTheLimit) {
  Client admin(options());
  ClientOptions o = options();
  o.shard_aware = false;  // every watch on the base connection
  Client client(o);
  EXPECT_EQ(client.watch("watch-nobody").outcome(), Outcome::not_found);
  EXPECT_TRUE(client.watched().empty());
  for (std::uint32_t i = 0; i <= watches_per_connection_max; ++i) {
    const std::string id = "limit-" + std::to_string(i);
    create(admin, id, 1);
    const Status s = client.watch(id);
    if (i < watches_per_connection_max) {
      ASSERT_TRUE(s.ok()) << i << ": " << s.to_string();
    } else {
      EXPECT_EQ(s.outcome(), Outcome::invalid) << s.to_string();
    }
  }
  EXPECT_EQ(client.watched().size(), watches_per_connection_max);
  // Unwatch one: room for another.
  ASSERT_TRUE(client.unwatch("limit-0").ok());
  EXPECT_TRUE(client.watch("limit-" + std::to_string(watches_per_connection_max)).ok());
}

TEST_F(WatchServer, SyncClientWatchesAgainAfterKill9AndRestart) {
  Client admin(options());
  const std::string event = "restart-watch";
  create(admin, event, 10);
  Client watcher(options());
  ASSERT_TRUE(watcher.watch(event).ok());
  Result<WatchUpdate> first = watcher.next_update(milliseconds(5000));
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_TRUE(first->first);
  EXPECT_EQ(first->available, 10u);
  for (int user = 0; user < 3; ++user) {
    ASSERT_TRUE(admin.book({.event = event, .user = "k" + std::to_string(user)}).ok());
  }
  // Until the watcher has seen what strict made durable.
  std::optional<WatchUpdate> latest;
  const auto deadline = Clock::now() + wait_max;
  while (!latest || latest->confirmed < 3) {
    ASSERT_LT(Clock::now(), deadline);
    if (Result<WatchUpdate> u = watcher.next_update(milliseconds(200)); u.ok()) latest = *u;
  }
  server_->kill9();
  server_->start();
  // One more booking after the restart: the watcher's first update is the
  // recovered state, and then this one arrives (or both at once).
  for (int i = 0; i < 200 && !Client(options()).connect().ok(); ++i) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  bool saw_first = false;
  std::optional<WatchUpdate> after;
  bool booked = false;
  const auto restart_deadline = Clock::now() + wait_max;
  while (!after || after->confirmed != 4) {
    ASSERT_LT(Clock::now(), restart_deadline) << server_->output();
    Result<WatchUpdate> u = watcher.next_update(milliseconds(200));
    if (!u.ok()) continue;  // reconnecting: could_not_connect, timed_out
    if (u->first && !saw_first) {
      saw_first = true;
      EXPECT_EQ(u->confirmed, 3u) << "the recovered state comes first";
    }
    after = *u;
    if (saw_first && !booked) {
      ASSERT_TRUE(admin.book({.event = event, .user = "after"}).ok());
      booked = true;
    }
  }
  EXPECT_TRUE(saw_first);
  EXPECT_EQ(after->watchers, 1u);
}

}  // namespace
}  // namespace admit
