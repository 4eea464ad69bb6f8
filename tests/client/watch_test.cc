// libadmit's watches against the fake server (tests/client/fake_server.h):
// the current state first, pushed updates in order, replies and updates in one
// frame, odd update frames ignored, re-watch after the connections drop (the
// first update after it is the current state), unwatch, and the synchronous
// Client's next_update(). Built like client_fault_test, with AddressSanitizer
// and UBSan over the library's sources.
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
#include "tests/client/fake_server.h"

namespace admit {
namespace {

using std::chrono::milliseconds;
using test::FakeCounters;
using test::FakeServer;
using test::Script;
using Clock = std::chrono::steady_clock;

constexpr auto wait_max = std::chrono::seconds(10);

ClientOptions fake_options(const FakeServer& server) {
  ClientOptions options;
  options.port = server.port();
  options.shard_aware = false;  // the fake server has no shard ports
  options.request_timeout = milliseconds(1000);
  options.connect_timeout = milliseconds(1000);
  options.retry_backoff = milliseconds(5);
  return options;
}

FakeCounters counters(std::uint32_t available, std::uint64_t version = 1) {
  FakeCounters c;
  c.available = available;
  c.confirmed = c.capacity - available;
  c.version = version;
  c.watchers = 1;
  return c;
}

// An AsyncClient whose updates are kept, with the checks every test wants:
// never an update of an event not watched, seq always growing on one link.
class Watcher {
 public:
  explicit Watcher(const FakeServer& server) : client_(fake_options(server)) {
    client_.on_update([this](const WatchUpdateView& update) {
      EXPECT_EQ(update.event, "sale");
      if (!update.first && !updates_.empty()) {
        EXPECT_GT(update.seq, updates_.back().seq);
      }
      EXPECT_LT(update.available, 1000u) << "an odd update was delivered";
      updates_.push_back(update.copy());
    });
  }

  // Watches "sale" and returns the answer.
  Status watch(std::string_view event = "sale") {
    std::optional<Status> answer;
    const Status sent =
        client_.submit_watch(event, [&answer](const ReplyView& r) { answer = r.status(); });
    if (!sent.answered()) return sent;
    poll_until([&] { return answer.has_value(); });
    return answer.value_or(Status::failure(ClientError::timed_out, "no answer"));
  }

  // Polls until `done` or wait_max; false on timeout.
  bool poll_until(const std::function<bool()>& done) {
    const auto deadline = Clock::now() + wait_max;
    while (!done()) {
      if (Clock::now() > deadline) return false;
      client_.poll(milliseconds(20));
    }
    return true;
  }

  bool wait_updates(std::size_t count) {
    return poll_until([&] { return updates_.size() >= count; });
  }

  AsyncClient& client() { return client_; }
  const std::vector<WatchUpdate>& updates() const { return updates_; }

 private:
  AsyncClient client_;
  std::vector<WatchUpdate> updates_;
};

// Polls the fake server's view until `count` connections watch "sale".
bool wait_watchers(const FakeServer& server, int count) {
  const auto deadline = Clock::now() + wait_max;
  while (server.watchers("sale") != count) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

TEST(AsyncWatch, FirstTheCurrentStateThenEveryPushInOrder) {
  FakeServer server(Script{});
  server.push("sale", counters(90));
  Watcher watcher(server);
  ASSERT_TRUE(watcher.watch().ok());
  ASSERT_TRUE(watcher.wait_updates(1));
  EXPECT_TRUE(watcher.updates()[0].first);
  EXPECT_EQ(watcher.updates()[0].available, 90u);
  EXPECT_EQ(watcher.updates()[0].confirmed, 10u);
  EXPECT_EQ(watcher.client().watches(), 1u);
  ASSERT_TRUE(wait_watchers(server, 1));
  for (std::uint32_t available : {80u, 70u, 60u}) server.push("sale", counters(available, 2));
  ASSERT_TRUE(watcher.wait_updates(4));
  EXPECT_EQ(watcher.updates()[3].available, 60u);
  EXPECT_EQ(watcher.updates()[3].version, 2u);
  EXPECT_EQ(watcher.updates()[3].watchers, 1u);
  for (std::size_t i = 1; i < 4; ++i) EXPECT_FALSE(watcher.updates()[i].first);
}

TEST(AsyncWatch, UnknownEventIsRefusedAndForgotten) {
  FakeServer server(Script{});
  Watcher watcher(server);
  const Status refused = watcher.watch("no-such-event");
  EXPECT_TRUE(refused.answered());
  EXPECT_EQ(refused.outcome(), Outcome::not_found);
  EXPECT_EQ(watcher.client().watches(), 0u);
  // Not sent again: the refusal dropped it.
  watcher.client().poll(milliseconds(50));
  EXPECT_EQ(server.watch_requests(), 1);
}

TEST(AsyncWatch, InvalidEventIdIsRefusedBeforeSending) {
  FakeServer server(Script{});
  AsyncClient client(fake_options(server));
  const Status s = client.submit_watch("", [](const ReplyView&) { FAIL(); });
  EXPECT_EQ(s.error(), ClientError::invalid_argument);
  EXPECT_EQ(client.watches(), 0u);
}

TEST(AsyncWatch, RepliesAndUpdatesInOneFrame) {
  Script script;
  script.updates_with_replies = true;
  FakeServer server(script);
  Watcher watcher(server);
  ASSERT_TRUE(watcher.watch().ok());
  constexpr int books = 200;
  std::vector<int> calls(books, 0);
  for (int i = 0; i < books; ++i) {
    BookRequest book{.event = "other", .user = "ann"};
    ASSERT_TRUE(watcher.client()
                    .submit_book(book,
                                 [&calls, i](const ReplyView& r) {
                                   EXPECT_EQ(r.outcome(), Outcome::booked);
                                   ++calls[i];
                                 })
                    .answered());
    if (i % 10 == 9) watcher.client().flush();
  }
  ASSERT_TRUE(watcher.poll_until([&] { return watcher.client().in_flight() == 0; }));
  for (int i = 0; i < books; ++i) ASSERT_EQ(calls[i], 1) << i;
  // The Watch answer's frame, and at least one more: every reply frame carried one.
  EXPECT_GE(watcher.updates().size(), 2u);
}

TEST(AsyncWatch, OddUpdatesAreIgnoredAndTheConnectionKept) {
  FakeServer server(Script{});
  server.push("sale", counters(50));
  Watcher watcher(server);
  ASSERT_TRUE(watcher.watch().ok());
  ASSERT_TRUE(watcher.wait_updates(1));
  ASSERT_TRUE(wait_watchers(server, 1));
  server.push_odd("sale");
  ASSERT_TRUE(watcher.wait_updates(2));
  watcher.client().poll(milliseconds(50));
  ASSERT_EQ(watcher.updates().size(), 2u);  // only the one in order
  EXPECT_EQ(watcher.updates()[1].available, 50u);
  EXPECT_EQ(server.watch_requests(), 1);  // no reconnect: the frames were valid
  EXPECT_EQ(server.connections_accepted(), 1);
}

TEST(AsyncWatch, WatchesAgainAfterTheConnectionDrops) {
  FakeServer server(Script{});
  server.push("sale", counters(40));
  Watcher watcher(server);
  ASSERT_TRUE(watcher.watch().ok());
  ASSERT_TRUE(watcher.wait_updates(1));
  ASSERT_TRUE(wait_watchers(server, 1));
  for (int restart = 1; restart <= 3; ++restart) {
    server.push("sale", counters(40 - restart));
    ASSERT_TRUE(watcher.wait_updates(2 * restart));
    server.drop_connections();
    // The client notices, connects again, watches again: the current state comes first.
    ASSERT_TRUE(watcher.wait_updates(2 * restart + 1)) << "restart " << restart;
    const WatchUpdate& after = watcher.updates().back();
    EXPECT_TRUE(after.first);
    EXPECT_EQ(after.available, 40u - restart);
    EXPECT_EQ(server.watch_requests(), 1 + restart);
    ASSERT_TRUE(wait_watchers(server, 1));
  }
  server.push("sale", counters(20));
  ASSERT_TRUE(watcher.poll_until([&] { return watcher.updates().back().available == 20; }));
}

TEST(AsyncWatch, ErrorHandlerHearsOfARewatchThatCannotBeSent) {
  auto server = std::make_unique<FakeServer>(Script{});
  Watcher watcher(*server);
  std::vector<Status> errors;
  watcher.client().on_watch_error([&errors](std::string_view event, const Status& s) {
    EXPECT_EQ(event, "sale");
    errors.push_back(s);
  });
  ASSERT_TRUE(watcher.watch().ok());
  ASSERT_TRUE(watcher.wait_updates(1));
  server.reset();  // gone for good
  ASSERT_TRUE(watcher.poll_until([&] { return !errors.empty(); }));
  EXPECT_EQ(errors[0].error(), ClientError::could_not_connect);
  EXPECT_EQ(watcher.client().watches(), 1u);  // kept, tried again later
  // Backoff: polling a while tries a bounded number of times, sleeping between.
  const auto start = Clock::now();
  while (Clock::now() - start < milliseconds(300)) watcher.client().poll(milliseconds(50));
  EXPECT_LT(errors.size(), 30u);
}

TEST(AsyncWatch, UnwatchStopsDeliveryAtOnce) {
  FakeServer server(Script{});
  Watcher watcher(server);
  ASSERT_TRUE(watcher.watch().ok());
  ASSERT_TRUE(watcher.wait_updates(1));
  ASSERT_TRUE(wait_watchers(server, 1));
  server.push("sale", counters(10));
  std::optional<Status> answer;
  ASSERT_TRUE(watcher.client()
                  .submit_unwatch("sale", [&answer](const ReplyView& r) { answer = r.status(); })
                  .answered());
  EXPECT_EQ(watcher.client().watches(), 0u);
  const std::size_t before = watcher.updates().size();
  ASSERT_TRUE(watcher.poll_until([&] { return answer.has_value(); }));
  EXPECT_TRUE(answer->ok());
  ASSERT_TRUE(wait_watchers(server, 0));
  server.push("sale", counters(5));
  watcher.client().poll(milliseconds(100));
  EXPECT_EQ(watcher.updates().size(), before);
}

TEST(AsyncWatch, HandlerMayUnwatchAndWatchAgain) {
  FakeServer server(Script{});
  AsyncClient client(fake_options(server));
  int delivered = 0;
  client.on_update([&](const WatchUpdateView& update) {
    ++delivered;
    // Both inside the handler: the watch is dropped and sent again at once.
    EXPECT_TRUE(client.submit_unwatch(update.event, [](const ReplyView&) {}).answered());
    if (delivered < 5) {
      EXPECT_TRUE(client.submit_watch(update.event, [](const ReplyView&) {}).answered());
    }
  });
  ASSERT_TRUE(client.submit_watch("sale", [](const ReplyView&) {}).answered());
  const auto deadline = Clock::now() + wait_max;
  while (delivered < 5 && Clock::now() < deadline) client.poll(milliseconds(20));
  EXPECT_EQ(delivered, 5);
  while (client.in_flight() > 0 && Clock::now() < deadline) client.poll(milliseconds(20));
  EXPECT_EQ(client.watches(), 0u);
}

TEST(AsyncWatch, PollWithOnlyAWatchWaitsForPushes) {
  FakeServer server(Script{});
  Watcher watcher(server);
  ASSERT_TRUE(watcher.watch().ok());
  ASSERT_TRUE(watcher.wait_updates(1));
  ASSERT_EQ(watcher.client().in_flight(), 0u);
  ASSERT_TRUE(wait_watchers(server, 1));
  server.push("sale", counters(3));
  // Nothing in flight, yet the watch's connection is polled.
  const auto start = Clock::now();
  std::size_t ran = 0;
  while (ran == 0 && Clock::now() - start < wait_max)
    ran = watcher.client().poll(milliseconds(500));
  EXPECT_EQ(ran, 1u);
  EXPECT_EQ(watcher.updates().back().available, 3u);
}

TEST(SyncWatch, NextUpdateReturnsTheCurrentStateThenPushes) {
  FakeServer server(Script{});
  server.push("sale", counters(70));
  Client client(fake_options(server));
  EXPECT_EQ(client.next_update(milliseconds(10)).error(), ClientError::invalid_argument);
  ASSERT_TRUE(client.watch("sale").ok());
  ASSERT_EQ(client.watched(), std::vector<std::string>{"sale"});
  Result<WatchUpdate> first = client.next_update(milliseconds(2000));
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_TRUE(first->first);
  EXPECT_EQ(first->event, "sale");
  EXPECT_EQ(first->available, 70u);
  ASSERT_TRUE(wait_watchers(server, 1));
  server.push("sale", counters(65));
  Result<WatchUpdate> next = client.next_update(milliseconds(2000));
  ASSERT_TRUE(next.ok()) << next.status().to_string();
  EXPECT_FALSE(next->first);
  EXPECT_GT(next->seq, first->seq);
  EXPECT_EQ(next->available, 65u);
  EXPECT_EQ(client.next_update(milliseconds(50)).error(), ClientError::timed_out);
}

TEST(SyncWatch, UpdatesDuringOtherCallsAreKeptLatestWins) {
  FakeServer server(Script{});
  Client client(fake_options(server));
  ASSERT_TRUE(client.watch("sale").ok());
  ASSERT_TRUE(wait_watchers(server, 1));
  for (std::uint32_t available : {9u, 8u, 7u}) server.push("sale", counters(available));
  std::this_thread::sleep_for(milliseconds(100));
  // This call's answer comes after the pushes, on the same connection.
  ASSERT_TRUE(client.get_event("other").ok());
  Result<WatchUpdate> u = client.next_update(milliseconds(0));
  ASSERT_TRUE(u.ok()) << u.status().to_string();
  // The first (current state) and the three pushes coalesced into the latest.
  EXPECT_EQ(u->available, 7u);
  EXPECT_TRUE(u->first);
  EXPECT_EQ(client.next_update(milliseconds(0)).error(), ClientError::timed_out);
}

TEST(SyncWatch, WatchesAgainAfterTheConnectionDrops) {
  FakeServer server(Script{});
  server.push("sale", counters(30));
  Client client(fake_options(server));
  ASSERT_TRUE(client.watch("sale").ok());
  ASSERT_TRUE(client.next_update(milliseconds(2000)).ok());
  ASSERT_TRUE(wait_watchers(server, 1));
  server.push("sale", counters(25));
  server.drop_connections();
  std::vector<WatchUpdate> seen;
  const auto deadline = Clock::now() + wait_max;
  while (server.watch_requests() < 2 || seen.empty() || !seen.back().first) {
    ASSERT_LT(Clock::now(), deadline);
    Result<WatchUpdate> u = client.next_update(milliseconds(100));
    if (u.ok()) seen.push_back(u.value());
  }
  EXPECT_EQ(seen.back().available, 25u);
  EXPECT_EQ(server.watch_requests(), 2);
}

TEST(SyncWatch, RefusalsAndAServerGoneForGood) {
  auto server = std::make_unique<FakeServer>(Script{});
  Client client(fake_options(*server));
  const Status refused = client.watch("no-such-event");
  EXPECT_EQ(refused.outcome(), Outcome::not_found);
  EXPECT_TRUE(client.watched().empty());
  ASSERT_TRUE(client.watch("sale").ok());
  ASSERT_TRUE(client.next_update(milliseconds(2000)).ok());
  server.reset();
  const auto deadline = Clock::now() + wait_max;
  Result<WatchUpdate> u;
  do {
    ASSERT_LT(Clock::now(), deadline);
    u = client.next_update(milliseconds(100));
  } while (u.error() != ClientError::could_not_connect);
  EXPECT_EQ(client.watched(), std::vector<std::string>{"sale"});  // still remembered
  EXPECT_TRUE(client.unwatch("sale").answered() ||
              client.unwatch("sale").error() == ClientError::could_not_connect);
  EXPECT_TRUE(client.watched().empty());
}

}  // namespace
}  // namespace admit
