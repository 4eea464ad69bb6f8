// GET /v1/events/{id}/watch end to end: a real admitd (2 shards) and SSE
// streams read from raw sockets with a bounded wait for every read. DESIGN.md
// "Watches": the current state first, then coalesced updates with higher
// ids, exact `watchers`, any shard's watcher, the recovered state after
// kill -9, a slow reader skipped to the latest state. No timing assertions:
// only bounded waits.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/http/http_test_client.h"
#include "tests/support/admitd_process.h"

namespace admit::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::uint32_t shards = 2;
// Most streams one test opens to find a watcher on each shard (SO_REUSEPORT
// picks the shard by the connection's hash).
constexpr int streams_per_shard_search_max = 32;
constexpr std::size_t event_id_long = 120;

struct SseEvent {
  std::string event;  // the `event:` field
  std::string id;     // the `id:` field
  nlohmann::json data;
};

// One SSE stream over a raw socket; every read is bounded by a deadline.
class SseStream {
 public:
  // `receive_buffer` > 0: SO_RCVBUF before connecting (a reader with a small window).
  SseStream(const AdmitdProcess& server, const std::string& event_path,
            std::string_view extra_headers = {}, int receive_buffer = 0)
      : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    if (receive_buffer > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(server.http_port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool connected =
        ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    EXPECT_TRUE(connected) << "connect: " << std::strerror(errno);
    const std::string request = raw_request("GET", event_path + "/watch", "", extra_headers);
    EXPECT_EQ(::send(fd_, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
  }
  ~SseStream() { close(); }
  SseStream(const SseStream&) = delete;
  SseStream& operator=(const SseStream&) = delete;

  // The answer's head (status line and headers), or empty past the wait.
  std::string head() {
    const Clock::time_point deadline = wait_end();
    while (true) {
      const std::size_t blank = buffer_.find("\r\n\r\n");
      if (blank != std::string::npos) {
        std::string head = buffer_.substr(0, blank);
        buffer_.erase(0, blank + 4);
        return head;
      }
      if (!fill(deadline)) return {};
    }
  }

  // The next `event:` message (comments skipped), or nullopt past `deadline`
  // or when the server closed.
  std::optional<SseEvent> next(Clock::time_point deadline = wait_end()) {
    while (true) {
      const std::size_t end = buffer_.find("\n\n");
      if (end != std::string::npos) {
        const std::string block = buffer_.substr(0, end);
        buffer_.erase(0, end + 2);
        if (auto event = parse(block)) return event;
        continue;  // a comment (heartbeat)
      }
      if (!fill(deadline)) return std::nullopt;
    }
  }

  // Reads messages until one satisfies `done` (within one wait in all):
  // that one, or nullopt.
  template <class Done>
  std::optional<SseEvent> until(Done&& done) {
    const Clock::time_point deadline = wait_end();
    while (auto event = next(deadline)) {
      if (done(*event)) return event;
    }
    return std::nullopt;
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  static std::optional<SseEvent> parse(const std::string& block) {
    SseEvent out;
    bool any = false;
    std::size_t at = 0;
    while (at < block.size()) {
      std::size_t eol = block.find('\n', at);
      if (eol == std::string::npos) eol = block.size();
      const std::string line = block.substr(at, eol - at);
      at = eol + 1;
      if (line.starts_with("event: ")) {
        out.event = line.substr(7);
        any = true;
      } else if (line.starts_with("id: ")) {
        out.id = line.substr(4);
      } else if (line.starts_with("data: ")) {
        out.data = nlohmann::json::parse(line.substr(6), nullptr, false);
      }
    }
    if (!any) return std::nullopt;
    return out;
  }

  static Clock::time_point wait_end() { return Clock::now() + milliseconds(http_timeout_ms); }

  // One recv within the time left; false at the deadline or on close.
  bool fill(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    if (fd_ < 0) return false;
    pollfd wait{fd_, POLLIN, 0};
    if (::poll(&wait, 1, static_cast<int>(left)) <= 0) return false;
    char chunk[8192];
    const ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
    if (got <= 0) return false;
    buffer_.append(chunk, static_cast<std::size_t>(got));
    return true;
  }

  int fd_ = -1;
  std::string buffer_;
};

AdmitdProcess start_admitd(std::vector<std::string> extra = {}, std::string durability = "off") {
  AdmitdOptions options;
  options.shards = shards;
  options.durability = std::move(durability);
  options.extra_args = std::move(extra);
  return AdmitdProcess(options);
}

std::string event_path(const std::string& id) { return "/v1/events/" + id; }

void create_event(Client& client, const AdmitdProcess& server, const std::string& id,
                  int capacity) {
  const Reply r =
      client.send("POST", server.http_url("/v1/events"),
                  R"({"id":")" + id + R"(","capacity":)" + std::to_string(capacity) + "}");
  ASSERT_EQ(r.status, 201) << r.body;
}

void book(Client& client, const AdmitdProcess& server, const std::string& id,
          const std::string& user, int seats) {
  const Reply r =
      client.send("POST", server.http_url(event_path(id) + "/bookings"),
                  R"({"user":")" + user + R"(","seats":)" + std::to_string(seats) + "}");
  ASSERT_EQ(r.status, 201) << r.body;
}

nlohmann::json get_event(Client& client, const AdmitdProcess& server, const std::string& id) {
  return client.send("GET", server.http_url(event_path(id))).json();
}

// Polls GET /v1/events/{id} until `watchers` is `expected`; the last count seen.
std::uint64_t await_watchers(Client& client, const AdmitdProcess& server, const std::string& id,
                             std::uint64_t expected) {
  const auto deadline = Clock::now() + milliseconds(http_timeout_ms);
  std::uint64_t seen = 0;
  while (Clock::now() < deadline) {
    seen = get_event(client, server, id).value("watchers", std::uint64_t{0});
    if (seen == expected) return seen;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return seen;
}

std::uint64_t id_of(const SseEvent& event) { return std::stoull(event.id); }

class SseInterval : public testing::TestWithParam<const char*> {};

// The first message is the current state; a booking brings one with the new
// counters and a higher id; the data is GET /v1/events/{id}'s JSON plus seq.
TEST_P(SseInterval, CurrentStateFirstThenUpdates) {
  AdmitdProcess server = start_admitd({"--watch-interval-ms", GetParam()});
  Client client;
  create_event(client, server, "gig", 10);
  book(client, server, "gig", "early", 3);

  SseStream stream(server, event_path("gig"));
  const std::string head = stream.head();
  EXPECT_TRUE(head.starts_with("HTTP/1.1 200")) << head;
  EXPECT_NE(head.find("Content-Type: text/event-stream"), std::string::npos) << head;
  const auto first = stream.next();
  ASSERT_TRUE(first) << "no first message";
  EXPECT_EQ(first->event, "availability");
  EXPECT_EQ(first->data["available"], 7);
  EXPECT_EQ(first->data["confirmed"], 3);
  EXPECT_EQ(first->data["seq"], id_of(*first));

  nlohmann::json get = get_event(client, server, "gig");
  nlohmann::json data = first->data;
  data.erase("seq");
  get.erase("watchers");  // GET may already count this stream's watcher, or not yet
  data.erase("watchers");
  EXPECT_EQ(data, get);

  book(client, server, "gig", "late", 1);
  const auto update = stream.until([](const SseEvent& e) { return e.data["available"] == 6; });
  ASSERT_TRUE(update) << "no update with available 6";
  EXPECT_EQ(update->event, "availability");
  EXPECT_GT(id_of(*update), id_of(*first));
  EXPECT_EQ(update->data["seq"], id_of(*update));
  EXPECT_EQ(update->data["confirmed"], 4);
}

INSTANTIATE_TEST_SUITE_P(WatchIntervalMs, SseInterval, testing::Values("0", "50", "100"));

// Ids only grow on one stream, whatever the interval coalesces.
TEST(Sse, IdsOnlyGrowAndTheLastIsTheFinalState) {
  AdmitdProcess server = start_admitd({"--watch-interval-ms", "0"});
  Client client;
  create_event(client, server, "run", 40);
  SseStream stream(server, event_path("run"));
  ASSERT_FALSE(stream.head().empty());
  for (int i = 0; i < 40; ++i) book(client, server, "run", "u" + std::to_string(i), 1);
  std::uint64_t last_id = 0;
  std::uint64_t last_available = 41;
  const auto final_state = stream.until([&](const SseEvent& e) {
    EXPECT_GT(id_of(e), last_id);
    EXPECT_LE(e.data["available"].get<std::uint64_t>(), last_available) << "an older state";
    last_id = id_of(e);
    last_available = e.data["available"];
    return e.data["available"] == 0;
  });
  EXPECT_TRUE(final_state) << "the sold-out state never came";
}

TEST(Sse, WatchersCountLiveStreams) {
  AdmitdProcess server = start_admitd();
  Client client;
  create_event(client, server, "count", 5);
  EXPECT_EQ(get_event(client, server, "count")["watchers"], 0);
  {
    SseStream a(server, event_path("count"));
    SseStream b(server, event_path("count"));
    const auto a_first = a.next();
    ASSERT_TRUE(a_first);
    auto b_last = b.next();
    ASSERT_TRUE(b_last);
    EXPECT_EQ(await_watchers(client, server, "count", 2), 2u);
    // The count is part of the state: a stream sees it reach 2 (at once, if
    // both watches came before the first round).
    if (a_first->data["watchers"] != 2) {
      EXPECT_TRUE(a.until([](const SseEvent& e) { return e.data["watchers"] == 2; }));
    }
    a.close();
    EXPECT_EQ(await_watchers(client, server, "count", 1), 1u);
    // Coalesced: b may never have been sent the 2 (its shard's round saw 1,
    // then 1 again), so its latest state, read until the stream is quiet
    // for a few intervals, says 1.
    while (auto more = b.next(Clock::now() + std::chrono::milliseconds(500))) b_last = more;
    EXPECT_EQ(b_last->data["watchers"], 1) << b_last->data.dump();
  }
  EXPECT_EQ(await_watchers(client, server, "count", 0), 0u);
}

TEST(Sse, NoSuchEventIs404AndLastEventIdGetsTheCurrentState) {
  AdmitdProcess server = start_admitd();
  Client client;
  const Reply missing = client.send("GET", server.http_url("/v1/events/nope/watch"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.outcome(), "NOT_FOUND");

  create_event(client, server, "again", 4);
  book(client, server, "again", "x", 1);
  // A reconnecting EventSource sends the last id it saw: it still gets the state now.
  SseStream stream(server, event_path("again"), "Last-Event-ID: 99\r\n");
  ASSERT_FALSE(stream.head().empty());
  const auto first = stream.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->data["available"], 3);
}

// Per shard, how many connections /v1/stats counts.
std::vector<std::uint64_t> connections_per_shard(Client& client, const AdmitdProcess& server) {
  std::vector<std::uint64_t> out;
  const nlohmann::json stats = client.send("GET", server.http_url("/v1/stats")).json();
  for (const auto& shard : stats["shards"]) {
    out.push_back(shard.value("connections", std::uint64_t{0}));
  }
  return out;
}

// A stream accepted by either shard follows an event of either shard: the
// owner publishes, every shard's watches read the published state.
TEST(Sse, WatchersOnBothShardsFollowEventsOfBothShards) {
  AdmitdProcess server = start_admitd();
  Client client;
  const std::string owned_by_0 = event_on(0, shards, "zero");
  const std::string owned_by_1 = event_on(1, shards, "one");
  create_event(client, server, owned_by_0, 10);
  create_event(client, server, owned_by_1, 10);

  // Open pairs of streams until each shard holds some (the stats request's own
  // connection counts once on one of them: 2 means a stream is there).
  std::vector<std::unique_ptr<SseStream>> streams;
  for (int i = 0; i < streams_per_shard_search_max; ++i) {
    for (const std::string& id : {owned_by_0, owned_by_1}) {
      streams.push_back(std::make_unique<SseStream>(server, event_path(id)));
      ASSERT_TRUE(streams.back()->next()) << "no first message";
    }
    const auto per_shard = connections_per_shard(client, server);
    ASSERT_EQ(per_shard.size(), shards);
    if (per_shard[0] >= 2 && per_shard[1] >= 2) break;
  }
  const auto per_shard = connections_per_shard(client, server);
  ASSERT_TRUE(per_shard[0] >= 2 && per_shard[1] >= 2)
      << "SO_REUSEPORT put every stream on one shard: " << per_shard[0] << " " << per_shard[1];

  book(client, server, owned_by_0, "buyer", 2);
  book(client, server, owned_by_1, "buyer", 3);
  for (std::size_t i = 0; i < streams.size(); ++i) {
    const int expected = i % 2 == 0 ? 8 : 7;
    EXPECT_TRUE(streams[i]->until([&](const SseEvent& e) {
      return e.data["available"] == expected;
    })) << "stream "
        << i << " never saw available " << expected;
  }
}

// After kill -9 in strict, a new stream's first message is the recovered
// state, and updates go on from there.
TEST(Sse, AfterKill9TheFirstMessageIsTheRecoveredState) {
  AdmitdProcess server = start_admitd({}, "strict");
  Client client;
  create_event(client, server, "crash", 10);
  book(client, server, "crash", "a", 2);
  book(client, server, "crash", "b", 3);
  {
    SseStream before(server, event_path("crash"));
    ASSERT_TRUE(before.next());
    server.kill9();
    EXPECT_FALSE(before.next()) << "the stream outlived the server";
  }
  server.start();
  Client after_restart;
  SseStream stream(server, event_path("crash"));
  ASSERT_TRUE(stream.head().starts_with("HTTP/1.1 200"));
  const auto first = stream.next();
  ASSERT_TRUE(first) << "no first message after the restart";
  EXPECT_EQ(first->data["available"], 5);
  EXPECT_EQ(first->data["confirmed"], 5);
  book(after_restart, server, "crash", "c", 1);
  EXPECT_TRUE(stream.until([](const SseEvent& e) { return e.data["available"] == 4; }));
}

std::uint64_t resident_bytes(Client& client, const AdmitdProcess& server) {
  return client.send("GET", server.http_url("/v1/stats"))
      .json()
      .value("resident_bytes", std::uint64_t{0});
}

// A watcher that never reads (a small receive window) is skipped, not
// buffered: the others get every latest state, the server's memory stays
// bounded, and once it reads it ends at the latest state too.
TEST(Sse, SlowWatcherIsSkippedToTheLatestState) {
  // Enough updates to fill the kernel's buffers (the server's send buffer
  // grows to tcp_wmem's 4 MiB) many times over: each is ~600 bytes.
  constexpr int capacity = 12000;
  constexpr int slow_receive_buffer = 4096;
  // The server's memory may grow by its own working set, not by what the
  // slow watcher missed.
  constexpr std::uint64_t resident_growth_max = 64u << 20;
  AdmitdProcess server = start_admitd({"--watch-interval-ms", "0"});
  Client client;
  const std::string rush(event_id_long, 'r');  // long ids make long updates
  create_event(client, server, rush, capacity);
  SseStream slow(server, event_path(rush), {}, slow_receive_buffer);
  SseStream fast(server, event_path(rush));
  ASSERT_FALSE(fast.head().empty());
  EXPECT_EQ(await_watchers(client, server, rush, 2), 2u);
  const std::uint64_t resident_before = resident_bytes(client, server);

  // The fast watcher reads while the sale runs.
  std::size_t fast_messages = 0;
  bool fast_saw_the_end = false;
  std::thread reader([&] {
    fast_saw_the_end = fast.until([&](const SseEvent& e) {
                             ++fast_messages;
                             return e.data["available"] == 0;
                           })
                           .has_value();
  });
  for (int i = 0; i < capacity; ++i) book(client, server, rush, "u" + std::to_string(i), 1);
  reader.join();
  EXPECT_TRUE(fast_saw_the_end) << "the fast watcher never saw the sold-out state";
  const std::uint64_t resident_after = resident_bytes(client, server);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  // (A sanitizer's quarantine and shadow memory are not admitd's own.)
  EXPECT_LT(resident_after, resident_before + resident_growth_max)
      << resident_before << " -> " << resident_after;
#endif
  EXPECT_EQ(get_event(client, server, rush)["watchers"], 2) << "the slow watcher was dropped";

  std::size_t slow_messages = 0;
  std::uint64_t last_id = 0;
  EXPECT_TRUE(slow.until([&](const SseEvent& e) {
    EXPECT_GT(id_of(e), last_id) << "an older state after a newer one";
    last_id = id_of(e);
    ++slow_messages;
    return e.data["available"] == 0;
  })) << "the slow watcher never caught up with the latest state";
  std::printf("updates: fast watcher %zu, slow watcher %zu (skipped %zu)\n", fast_messages,
              slow_messages, fast_messages - std::min(fast_messages, slow_messages));
}

}  // namespace
}  // namespace admit::test
