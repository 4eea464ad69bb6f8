// libadmit's error paths against a fake server (tests/client/fake_server.h)
// that turns to UNAVAILABLE, closes connections mid-pipeline, cuts frames,
// answers unknown ids or goes silent while AsyncClient and Client have
// requests in flight. Built with AddressSanitizer and UBSan (meson.build), so
// a heap error in the library aborts the test. Every callback must run
// exactly once, whatever the server does.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "admit/async_client.h"
#include "admit/client.h"
#include "tests/client/fake_server.h"

namespace admit {
namespace {

using std::chrono::milliseconds;
using test::FakeServer;
using test::Script;

constexpr auto run_time_max = std::chrono::seconds(20);

ClientOptions fake_options(const FakeServer& server) {
  ClientOptions options;
  options.port = server.port();
  options.shard_aware = false;  // the fake server has no shard ports
  options.request_timeout = milliseconds(1000);
  options.connect_timeout = milliseconds(1000);
  options.retry_backoff = milliseconds(1);
  return options;
}

// Drives an AsyncClient like a load generator: each callback submits the next
// request (and flushes when asked to), whether its own was answered or failed.
class Driver {
 public:
  Driver(AsyncClient& client, int total, bool flush_in_callback)
      : client_(client), total_(total), flush_in_callback_(flush_in_callback) {
    calls_.reserve(total);
  }

  // Keeps `depth` requests in flight (a callback submits the next one; a
  // submit refused while a connection recovers is made up here) until `total`
  // were submitted, then polls until every one was answered or failed.
  void run(std::size_t depth) {
    const auto deadline = std::chrono::steady_clock::now() + run_time_max;
    while ((client_.in_flight() > 0 || submitted() < total_) &&
           std::chrono::steady_clock::now() < deadline) {
      while (client_.in_flight() < depth && submitted() < total_) submit();
      client_.poll(milliseconds(50));
    }
    ASSERT_EQ(client_.in_flight(), 0u);
    ASSERT_EQ(submitted(), total_);
    // The server never sends a malformed frame: the client must not read one.
    EXPECT_EQ(errors(ClientError::protocol_error), 0);
    for (std::size_t i = 0; i < calls_.size(); ++i) {
      ASSERT_EQ(calls_[i], 1) << "callback of request " << i;
    }
  }

  int submitted() const { return static_cast<int>(calls_.size()); }
  int outcomes(Outcome outcome) const { return outcomes_[static_cast<int>(outcome)]; }
  int errors(ClientError error) const { return errors_[static_cast<int>(error)]; }

 private:
  void submit() {
    if (submitted() >= total_) return;
    const int index = submitted();
    calls_.push_back(0);
    BookRequest book{.event = "fault", .user = "ann"};
    const Status s = client_.submit_book(
        book, [this, index](const ReplyView& reply) { on_reply(index, reply); });
    if (!s.answered()) {
      // Not sent, so its callback never runs: count it as done.
      ++calls_[index];
      ++errors_[static_cast<int>(s.error())];
    }
  }

  void on_reply(int index, const ReplyView& reply) {
    ++calls_[index];
    if (reply.error() == ClientError::none) {
      ++outcomes_[static_cast<int>(reply.outcome())];
    } else {
      ++errors_[static_cast<int>(reply.error())];
    }
    submit();
    if (flush_in_callback_) client_.flush();
    // The view must still be readable after the callback submitted and flushed.
    if (reply.error() == ClientError::none && reply.outcome() == Outcome::booked) {
      EXPECT_EQ(reply.book_view().ref, test::fake_booking_ref());
    }
  }

  AsyncClient& client_;
  const int total_;
  const bool flush_in_callback_;
  std::vector<int> calls_;
  int outcomes_[32] = {};
  int errors_[8] = {};
};

// The server counts requests, and a batch of bookings is one: it turns
// UNAVAILABLE after 30 of them, well before the 2000 bookings are through.
TEST(Faults, AsyncClientThroughUnavailableAndHalfFramesThenClose) {
  FakeServer server(
      Script{.answered_ok_max = 30, .close_after_frames = 4, .half_frame_before_close = true});
  AsyncClient client(fake_options(server));
  ASSERT_TRUE(client.connect().ok());
  Driver driver(client, 2000, false);
  driver.run(16);
  EXPECT_GT(driver.outcomes(Outcome::booked), 0);
  EXPECT_GT(driver.outcomes(Outcome::unavailable), 0);
  EXPECT_GT(driver.errors(ClientError::connection_lost), 0);
  EXPECT_GT(server.connections_accepted(), 1);
}

// A callback's flush meets the reset connection: the connection closes inside
// the dispatch of its own replies, and the failed callbacks submit again,
// which reconnects.
TEST(Faults, CallbacksThatSubmitAndFlushIntoAResetConnection) {
  FakeServer server(
      Script{.answered_ok_max = 500, .close_after_frames = 1, .reset_on_close = true});
  AsyncClient client(fake_options(server));
  ASSERT_TRUE(client.connect().ok());
  Driver driver(client, 1000, true);
  driver.run(8);
  EXPECT_GT(driver.outcomes(Outcome::booked), 0);
  EXPECT_GT(server.connections_accepted(), 2);
}

TEST(Faults, RepliesForUnknownIdsAndFramesCutInTwoAreHandled) {
  FakeServer server(Script{.split_frames = true, .unknown_ids = true});
  AsyncClient client(fake_options(server));
  ASSERT_TRUE(client.connect().ok());
  Driver driver(client, 300, true);
  driver.run(8);
  EXPECT_EQ(driver.outcomes(Outcome::booked), 300);
  EXPECT_EQ(server.connections_accepted(), 1);  // unknown ids are dropped, not fatal
}

TEST(Faults, ServerClosingAfterAPartialFrameFailsEveryRequestInFlight) {
  FakeServer server(Script{.close_after_frames = 1, .half_frame_before_close = true});
  AsyncClient client(fake_options(server));
  ASSERT_TRUE(client.connect().ok());
  Driver driver(client, 32, false);
  driver.run(32);
  EXPECT_EQ(driver.errors(ClientError::connection_lost), 32);
}

TEST(Faults, DestroyingAnAsyncClientFailsItsRequestsOnce) {
  FakeServer server(Script{.silent_after_requests = 0});
  int calls = 0;
  {
    AsyncClient client(fake_options(server));
    ASSERT_TRUE(client.connect().ok());
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(client
                      .submit_get_event("fault",
                                        [&calls](const ReplyView& reply) {
                                          EXPECT_EQ(reply.error(), ClientError::connection_lost);
                                          ++calls;
                                        })
                      .answered());
    }
    client.poll(milliseconds(20));
    EXPECT_EQ(calls, 0);
  }
  EXPECT_EQ(calls, 10);
}

// The destructor fails what waits; callbacks that submit again are refused,
// and none runs twice.
TEST(Faults, DestroyingAnAsyncClientWhoseCallbacksSubmitAgain) {
  FakeServer server(Script{.silent_after_requests = 0});
  int calls = 0, refused = 0;
  {
    AsyncClient client(fake_options(server));
    ASSERT_TRUE(client.connect().ok());
    struct Again {
      AsyncClient* client;
      int* calls;
      int* refused;
      void operator()(const ReplyView& reply) const {
        EXPECT_EQ(reply.error(), ClientError::connection_lost);
        ++*calls;
        if (!client->submit_get_event("fault", Again{*this}).answered()) ++*refused;
      }
    };
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(client.submit_get_event("fault", Again{&client, &calls, &refused}).answered());
    }
    client.flush();
  }
  EXPECT_EQ(calls, 10);
  EXPECT_EQ(refused, 10);
}

TEST(Faults, ClientCallsThroughUnavailableAndDrops) {
  FakeServer server(
      Script{.answered_ok_max = 40, .close_after_frames = 3, .half_frame_before_close = true});
  Client client(fake_options(server));
  int booked = 0, unavailable = 0, transport = 0;
  for (int i = 0; i < 100; ++i) {
    const Result<BookReply> r = client.book({.event = "fault", .user = "ann"});
    if (r.ok()) {
      ++booked;
      EXPECT_EQ(r->ref, test::fake_booking_ref());
    } else if (r.answered()) {
      EXPECT_EQ(r.outcome(), Outcome::unavailable);
      ++unavailable;
    } else {
      ++transport;
    }
  }
  EXPECT_GT(booked, 0);
  EXPECT_GT(unavailable, 0);
  EXPECT_EQ(booked + unavailable + transport, 100);
}

// Auth rides on Hello: a connection opened again after the server dropped it
// must say the token again, for Client and AsyncClient alike.
TEST(Faults, EveryReconnectSaysHelloWithTheToken) {
  FakeServer server(Script{.close_after_frames = 1});
  ClientOptions options = fake_options(server);
  options.token = "tok.en.value";
  {
    Client client(options);
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(client.book({.event = "auth", .user = "ann"}).ok());
  }
  {
    // Until 3 are booked: a submit may meet the closed socket before its EOF
    // was read (connection_lost), then the next one reconnects.
    AsyncClient client(options);
    int booked = 0;
    const auto deadline = std::chrono::steady_clock::now() + run_time_max;
    while (booked < 3 && std::chrono::steady_clock::now() < deadline) {
      if (!client
               .submit_book({.event = "auth", .user = "ann"},
                            [&booked](const ReplyView& r) { booked += r.status().ok(); })
               .answered()) {
        continue;
      }
      while (client.in_flight() > 0) client.poll(milliseconds(50));
    }
    EXPECT_EQ(booked, 3);
  }
  // The server closes after each answer: a Hello per booking at least.
  const std::vector<std::string> tokens = server.hello_tokens();
  EXPECT_GE(tokens.size(), 6u);
  for (const std::string& token : tokens) EXPECT_EQ(token, "tok.en.value");
}

// ---- batched bookings (ClientOptions::book_batching) ----

// Submits `count` books of one event (batched: one request), flushes, and
// polls until every callback ran; returns what each callback saw.
std::vector<std::vector<Status>> book_burst(AsyncClient& client, int count, bool with_request_ids) {
  std::vector<std::vector<Status>> seen(count);
  for (int i = 0; i < count; ++i) {
    const std::string user = "user-" + std::to_string(i);
    const std::string request_id = with_request_ids ? "id-" + std::to_string(i) : std::string();
    const Status s = client.submit_book(
        {.event = "batch", .user = user, .request_id = request_id},
        [&seen, i](const ReplyView& reply) { seen[i].push_back(reply.status()); });
    EXPECT_TRUE(s.answered()) << s.to_string();
  }
  EXPECT_TRUE(client.flush().answered());
  const auto deadline = std::chrono::steady_clock::now() + run_time_max;
  while (client.in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
    client.poll(milliseconds(50));
  }
  EXPECT_EQ(client.in_flight(), 0u);
  return seen;
}

TEST(Faults, ABatchUnansweredTimesOutEachBookingOnce) {
  FakeServer server(Script{.silent_after_requests = 0});
  ClientOptions options = fake_options(server);
  options.request_timeout = milliseconds(200);
  AsyncClient client(options);
  ASSERT_TRUE(client.connect().ok());
  const auto seen = book_burst(client, 50, false);
  for (const std::vector<Status>& calls : seen) {
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0].error(), ClientError::timed_out);
  }
  EXPECT_EQ(server.requests_seen(), 2) << "Hello, then one BookBatch; no retry without ids";
}

// Bookings with request ids are retried like single Books, batched again:
// those failing together are due together and go out as one batch per try.
TEST(Faults, BookingsWithRequestIdsAreRetriedAsOneBatchPerTry) {
  FakeServer server(Script{.silent_after_requests = 0});
  ClientOptions options = fake_options(server);
  options.request_timeout = milliseconds(100);
  options.attempts_max = 3;
  AsyncClient client(options);
  ASSERT_TRUE(client.connect().ok());
  const auto seen = book_burst(client, 50, true);
  for (const std::vector<Status>& calls : seen) {
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0].error(), ClientError::timed_out);
  }
  EXPECT_EQ(server.requests_seen(), 1 + 3) << "Hello, then one BookBatch per try";
}

TEST(Faults, ARefusedBatchAnswersEveryBookingWithItsOutcomeAndMessage) {
  FakeServer server(Script{.answered_ok_max = 0});
  AsyncClient client(fake_options(server));
  ASSERT_TRUE(client.connect().ok());
  const auto seen = book_burst(client, 20, true);
  for (const std::vector<Status>& calls : seen) {
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0].outcome(), Outcome::unavailable);
    EXPECT_EQ(calls[0].message(), "storage: disk full");
  }
}

TEST(Faults, WithoutBatchingEveryBookingIsARequest) {
  FakeServer server(Script{});
  ClientOptions options = fake_options(server);
  options.book_batching = false;
  AsyncClient client(options);
  ASSERT_TRUE(client.connect().ok());
  const auto seen = book_burst(client, 20, false);
  for (const std::vector<Status>& calls : seen) {
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0].outcome(), Outcome::booked);
  }
  EXPECT_EQ(server.requests_seen(), 1 + 20);
}

TEST(Faults, ATokenPastTheLimitIsRefusedBeforeConnecting) {
  FakeServer server(Script{});
  ClientOptions options = fake_options(server);
  options.token.assign(token_size_max + 1, 'x');
  Client client(options);
  const Result<BookReply> r = client.book({.event = "auth", .user = "ann"});
  EXPECT_EQ(r.error(), ClientError::invalid_argument);
  EXPECT_NE(r.message().find("token"), std::string::npos);
  EXPECT_EQ(server.connections_accepted(), 0);
}

}  // namespace
}  // namespace admit
