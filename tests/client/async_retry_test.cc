// AsyncClient through a faulty link (tests/client/lossy_proxy.h) to a real
// admitd: per-request timeouts (timed_out once, the connection kept, a late
// answer dropped) and the idempotent retries Client has (the same request id
// after a lost answer, an answer later than the timeout, a link broken with a
// deep pipeline in flight). Every callback runs exactly once. The library's
// sources are compiled in with AddressSanitizer and UBSan (meson.build), so a
// late answer reaching a freed callback aborts the test.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "admit/async_client.h"
#include "admit/client.h"
#include "tests/client/lossy_proxy.h"
#include "tests/support/admitd_process.h"

namespace admit {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;
using test::Fault;
using test::LossyProxy;

constexpr auto run_time_max = std::chrono::seconds(30);

// One admitd for the whole binary, stopped at exit.
test::AdmitdProcess& server() {
  static test::AdmitdProcess process;
  return process;
}

Client& direct() {
  static Client client([] {
    ClientOptions options;
    options.port = server().port();
    return options;
  }());
  return client;
}

ClientOptions through(const LossyProxy& proxy, milliseconds timeout, int attempts) {
  ClientOptions options;
  options.port = proxy.port();
  options.shard_aware = false;  // the proxy fronts the base port only
  options.request_timeout = timeout;
  options.attempts_max = attempts;
  options.retry_backoff = milliseconds(10);
  return options;
}

// What one request's callback saw.
struct Answer {
  int calls = 0;
  ClientError error = ClientError::none;
  Outcome outcome = Outcome::ok;
  std::string ref;       // of a book
  std::string event_id;  // of a get_event
};

struct Record {
  Answer* answer;
  void operator()(const ReplyView& reply) const {
    ++answer->calls;
    answer->error = reply.error();
    if (reply.error() != ClientError::none) return;
    answer->outcome = reply.outcome();
    answer->ref = std::string(reply.book_view().ref);
    answer->event_id = reply.event().id;
  }
};

// Polls until no callback is owed (bounded).
void drain(AsyncClient& client) {
  const auto deadline = steady_clock::now() + run_time_max;
  while (client.in_flight() > 0 && steady_clock::now() < deadline) client.poll(milliseconds(50));
  ASSERT_EQ(client.in_flight(), 0u);
}

// Polls for `time`, so that late answers arrive and are dealt with.
void poll_for(AsyncClient& client, milliseconds time) {
  const auto until = steady_clock::now() + time;
  while (steady_clock::now() < until) client.poll(milliseconds(10));
}

// A new event named from `prefix` (unique per run: --gtest_repeat works).
std::string fresh_event(const std::string& prefix, std::uint32_t capacity) {
  static int runs = 0;
  const std::string event = prefix + "-" + std::to_string(++runs);
  EXPECT_TRUE(direct().create_event({.id = event, .capacity = capacity}).ok());
  return event;
}

// The event's bookings on the server, user -> ref (all pages).
std::map<std::string, std::string> bookings_of(const std::string& event) {
  std::map<std::string, std::string> refs;
  std::string after;
  for (int page = 0; page < 1000; ++page) {
    const Result<BookingPage> got = direct().list_bookings(event, after, list_limit_max);
    EXPECT_TRUE(got.ok()) << got.status().to_string();
    for (const BookingInfo& booking : got->bookings) refs[booking.user] = booking.ref;
    if (!got.ok() || got->next_after.empty()) break;
    after = got->next_after;
  }
  return refs;
}

TEST(AsyncRetry, LostAnswerTimesOutAndTheRetryGetsTheOriginalAnswer) {
  const std::string event = fresh_event("async-lost", 10);
  LossyProxy proxy(server().port(), Fault::lose_frame, 1);  // 0 is Hello's answer
  AsyncClient client(through(proxy, milliseconds(300), 4));
  ASSERT_TRUE(client.connect().ok());
  Answer booked;
  const std::string request_id = make_request_id();
  const auto start = steady_clock::now();
  ASSERT_TRUE(
      client
          .submit_book({.event = event, .user = "ann", .seats = 2, .request_id = request_id},
                       Record{&booked})
          .ok());
  drain(client);
  EXPECT_GE(steady_clock::now() - start, milliseconds(250)) << "it waited for the timeout";
  EXPECT_TRUE(proxy.struck());
  EXPECT_EQ(booked.calls, 1);
  ASSERT_EQ(booked.error, ClientError::none);
  EXPECT_EQ(booked.outcome, Outcome::booked) << "the same request id: the original answer";
  EXPECT_EQ(proxy.connections(), 1) << "a timeout keeps the connection";
  const auto refs = bookings_of(event);
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs.at("ann"), booked.ref);
  EXPECT_EQ(direct().get_event(event)->confirmed, 2u);
}

TEST(AsyncRetry, WithoutRetriesATimedOutRequestFailsOnceAndItsLateAnswerIsDropped) {
  const std::string a = fresh_event("async-late-a", 1);
  const std::string b = fresh_event("async-late-b", 1);
  const std::string c = fresh_event("async-late-c", 1);
  constexpr auto delay = milliseconds(600);
  LossyProxy proxy(server().port(), Fault::delay_frame, 1, delay);
  AsyncClient client(through(proxy, milliseconds(200), 1));
  ASSERT_TRUE(client.connect().ok());
  Answer late, next, after;
  const auto start = steady_clock::now();
  ASSERT_TRUE(client.submit_get_event(a, Record{&late}).ok());
  drain(client);
  const auto waited = steady_clock::now() - start;
  EXPECT_EQ(late.calls, 1);
  EXPECT_EQ(late.error, ClientError::timed_out);
  EXPECT_GE(waited, milliseconds(150));
  EXPECT_LT(waited, delay);
  // The next request takes the freed slot (a new id): the late answer to the
  // old one must not reach it.
  ASSERT_TRUE(client.submit_get_event(b, Record{&next}).ok());
  drain(client);
  EXPECT_EQ(next.calls, 1);
  EXPECT_EQ(next.event_id, b);
  poll_for(client, delay);
  EXPECT_TRUE(proxy.struck()) << "the late answer was sent";
  poll_for(client, milliseconds(100));
  EXPECT_EQ(late.calls, 1);
  EXPECT_EQ(next.calls, 1);
  // The connection is whole: a dropped late answer is not a protocol error.
  ASSERT_TRUE(client.submit_get_event(c, Record{&after}).ok());
  drain(client);
  EXPECT_EQ(after.event_id, c);
  EXPECT_EQ(proxy.connections(), 1);
}

TEST(AsyncRetry, AnAnswerLaterThanTheTimeoutIsRetriedAndCallsBackOnce) {
  const std::string event = fresh_event("async-slow", 10);
  constexpr auto delay = milliseconds(700);
  LossyProxy proxy(server().port(), Fault::delay_frame, 1, delay);
  AsyncClient client(through(proxy, milliseconds(200), 4));
  ASSERT_TRUE(client.connect().ok());
  Answer booked;
  ASSERT_TRUE(client
                  .submit_book({.event = event, .user = "bob", .request_id = make_request_id()},
                               Record{&booked})
                  .ok());
  drain(client);
  EXPECT_EQ(booked.calls, 1);
  EXPECT_EQ(booked.outcome, Outcome::booked);
  poll_for(client, delay);
  EXPECT_TRUE(proxy.struck());
  poll_for(client, milliseconds(100));
  EXPECT_EQ(booked.calls, 1);
  const auto refs = bookings_of(event);
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs.at("bob"), booked.ref);
}

// 2000 requests pipelined when the link breaks at the first answers (or in
// the middle of their frame): the reads and the books carrying a request id
// are sent again on a new connection and get the original answers; books
// without one fail connection_lost once, never sent twice.
class AsyncBreak : public ::testing::TestWithParam<Fault> {};

TEST_P(AsyncBreak, ALinkBrokenUnderADeepPipelineRetriesWhatIsSafe) {
  const std::string event =
      fresh_event(GetParam() == Fault::cut_frame ? "async-cut" : "async-drop", 100'000);
  LossyProxy proxy(server().port(), GetParam(), 1);
  AsyncClient client(through(proxy, milliseconds(5000), 4));
  ASSERT_TRUE(client.connect().ok());
  constexpr int with_id = 1000, reads = 500, without_id = 500;
  std::vector<Answer> books(with_id), gets(reads), plain(without_id);
  std::vector<std::string> users, request_ids;
  for (int i = 0; i < with_id; ++i) {
    users.push_back("id-" + std::to_string(i));
    request_ids.push_back(make_request_id());
  }
  for (int i = 0; i < without_id; ++i) users.push_back("plain-" + std::to_string(i));
  for (int i = 0; i < with_id; ++i) {
    ASSERT_TRUE(client
                    .submit_book({.event = event, .user = users[i], .request_id = request_ids[i]},
                                 Record{&books[i]})
                    .ok());
    if (i % 2 == 0) {
      ASSERT_TRUE(client.submit_get_event(event, Record{&gets[i / 2]}).ok());
    } else {
      ASSERT_TRUE(
          client
              .submit_book({.event = event, .user = users[with_id + i / 2]}, Record{&plain[i / 2]})
              .ok());
    }
  }
  EXPECT_EQ(client.in_flight(), std::size_t{with_id + reads + without_id});
  ASSERT_TRUE(client.flush().ok());
  drain(client);
  EXPECT_TRUE(proxy.struck());
  EXPECT_GE(proxy.connections(), 2);
  const auto refs = bookings_of(event);
  for (int i = 0; i < with_id; ++i) {
    ASSERT_EQ(books[i].calls, 1) << i;
    ASSERT_EQ(books[i].error, ClientError::none) << i;
    ASSERT_EQ(books[i].outcome, Outcome::booked) << i << ": the original answer";
    ASSERT_EQ(refs.count(users[i]), 1u) << i;
    EXPECT_EQ(refs.at(users[i]), books[i].ref) << i;
  }
  for (int i = 0; i < reads; ++i) {
    ASSERT_EQ(gets[i].calls, 1) << i;
    ASSERT_EQ(gets[i].error, ClientError::none) << i;
    EXPECT_EQ(gets[i].event_id, event) << i;
  }
  // Every answer of the first connection was lost: the plain books that
  // reached the server are booked there, but none was sent twice.
  for (int i = 0; i < without_id; ++i) {
    ASSERT_EQ(plain[i].calls, 1) << i;
    EXPECT_EQ(plain[i].error, ClientError::connection_lost) << i;
  }
  EXPECT_LE(refs.size(), std::size_t{with_id + without_id});
}

INSTANTIATE_TEST_SUITE_P(Faults, AsyncBreak,
                         ::testing::Values(Fault::drop_connection, Fault::cut_frame));

// The link breaks and the server stays out of reach: each retry fails to
// connect until the tries run out; every callback then runs once, with
// could_not_connect.
TEST(AsyncRetry, RetriesThatCannotConnectEndWithTheLastFailure) {
  const std::string event = fresh_event("async-gone", 1);
  auto proxy = std::make_unique<LossyProxy>(server().port(), Fault::drop_connection, 1);
  ClientOptions options = through(*proxy, milliseconds(5000), 3);
  options.retry_backoff = milliseconds(200);
  AsyncClient client(options);
  ASSERT_TRUE(client.connect().ok());
  std::vector<Answer> answers(20);
  for (Answer& answer : answers) {
    ASSERT_TRUE(client.submit_get_event(event, Record{&answer}).ok());
  }
  const auto deadline = steady_clock::now() + run_time_max;
  while (!proxy->struck() && steady_clock::now() < deadline) client.poll(milliseconds(10));
  proxy.reset();  // its port refuses from now on
  drain(client);
  for (const Answer& answer : answers) {
    EXPECT_EQ(answer.calls, 1);
    EXPECT_EQ(answer.error, ClientError::could_not_connect);
  }
}

// Requests waiting out their retry backoff are still owed a callback: close()
// (or the destructor) runs each once, with connection_lost, and retries none.
TEST(AsyncRetry, CloseAndDestroyFailWhatWaitsToBeRetriedOnce) {
  const std::string event = fresh_event("async-close", 1);
  for (const bool destroy : {false, true}) {
    LossyProxy proxy(server().port(), Fault::drop_connection, 1);
    ClientOptions options = through(proxy, milliseconds(5000), 4);
    options.retry_backoff = milliseconds(60'000);
    std::vector<Answer> answers(10);
    {
      AsyncClient client(options);
      ASSERT_TRUE(client.connect().ok());
      for (Answer& answer : answers) {
        ASSERT_TRUE(client.submit_get_event(event, Record{&answer}).ok());
      }
      const auto deadline = steady_clock::now() + run_time_max;
      while (!proxy.struck() && steady_clock::now() < deadline) client.poll(milliseconds(10));
      poll_for(client, milliseconds(50));
      ASSERT_EQ(client.in_flight(), answers.size()) << "waiting to be retried";
      for (const Answer& answer : answers) EXPECT_EQ(answer.calls, 0);
      if (!destroy) {
        client.close();
        EXPECT_EQ(client.in_flight(), 0u);
      }
    }
    for (const Answer& answer : answers) {
      EXPECT_EQ(answer.calls, 1);
      EXPECT_EQ(answer.error, ClientError::connection_lost);
    }
    EXPECT_EQ(proxy.connections(), 1) << "nothing was retried";
  }
}

}  // namespace
}  // namespace admit
