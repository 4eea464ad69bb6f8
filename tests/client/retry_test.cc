// Idempotent retries through a faulty link: a proxy between the client and a
// real admitd loses the answer to a booking (drops the connection, or holds the
// answer until the client times out). The client reconnects and retries with
// the same request id, so the server answers BOOKED with the original ref, not
// ALREADY_BOOKED, and books nothing twice. AsyncClient's are in
// async_retry_test.cc.
#include <gtest/gtest.h>

#include "admit/async_client.h"
#include "admit/client.h"
#include "tests/client/lossy_proxy.h"
#include "tests/support/admitd_process.h"

namespace admit {
namespace {

using test::Fault;
using test::LossyProxy;

// One admitd for the whole binary, stopped at exit.
test::AdmitdProcess& server() {
  static test::AdmitdProcess process;
  return process;
}

class Retry : public ::testing::TestWithParam<Fault> {};

TEST_P(Retry, LostAnswerIsRetriedWithTheSameRequestId) {
  const std::string event = GetParam() == Fault::drop_connection ? "retry-drop" : "retry-hold";
  ClientOptions direct;
  direct.port = server().port();
  Client setup(direct);
  ASSERT_TRUE(setup.create_event({.id = event, .capacity = 10}).ok());

  // Frame 0 is the Hello answer; frame 1 the answer to the booking.
  LossyProxy proxy(server().port(), GetParam(), 1);
  ClientOptions through_proxy;
  through_proxy.port = proxy.port();
  through_proxy.shard_aware = false;  // the proxy fronts the base port only
  through_proxy.request_timeout = std::chrono::milliseconds(1000);
  through_proxy.retry_backoff = std::chrono::milliseconds(10);
  Client client(through_proxy);
  const Result<BookReply> booked = client.book({.event = event, .user = "ann", .seats = 3});
  ASSERT_EQ(booked.outcome(), Outcome::booked) << booked.status().to_string();
  EXPECT_EQ(proxy.connections(), 2);  // the answer was lost once, then retried

  // The first attempt did book: its answer is what the retry got back.
  const Result<BookingPage> bookings = setup.list_bookings(event);
  ASSERT_EQ(bookings->bookings.size(), 1u);
  EXPECT_EQ(bookings->bookings[0].ref, booked->ref);
  EXPECT_EQ(setup.get_event(event)->confirmed, 3u);
}

INSTANTIATE_TEST_SUITE_P(Faults, Retry,
                         ::testing::Values(Fault::drop_connection, Fault::hold_answer));

TEST(ShardFallback, UnreachableShardPortsFallBackToTheBasePort) {
  ClientOptions direct;
  direct.port = server().port();
  Client setup(direct);
  ASSERT_TRUE(setup.create_event({.id = "fallback", .capacity = 5}).ok());
  // The proxy's port + 1 + shard is not admitd: the client must use the base port.
  LossyProxy proxy(server().port(), Fault::drop_connection, -1);
  ClientOptions options;
  options.port = proxy.port();
  Client client(options);
  const Result<BookReply> booked = client.book({.event = "fallback", .user = "u"});
  ASSERT_EQ(booked.outcome(), Outcome::booked) << booked.status().to_string();
  EXPECT_EQ(client.last_port(), proxy.port());
  EXPECT_EQ(client.last_shard(), -1);
  EXPECT_TRUE(client.get_booking(booked->ref).ok());
  EXPECT_EQ(client.last_port(), proxy.port());
}

}  // namespace
}  // namespace admit
