// AsyncClient's auto-batching against a real admitd (2 shards): a pipelined
// burst of bookings answered with book_batching on (BookBatch requests) and
// off (one Book each) means the same for every user: BOOKED, ALREADY_BOOKED
// with the same ref, OVER_USER_LIMIT, SOLD_OUT past capacity, WAITLISTED
// positions, HELD with expires_at, NOT_OPEN, RATE_LIMITED, INVALID naming the
// field, and a retry with a request id returning the original ref. Every
// callback runs exactly once.
#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "admit/async_client.h"
#include "admit/client.h"
#include "client-lib/codec.h"
#include "client-lib/connection.h"
#include "tests/client/shared_server.h"

namespace admit {
namespace {

using std::chrono::milliseconds;

// What one booking's callback saw, copied out of its view.
struct Answer {
  int calls = 0;
  Status status;
  BookReply book;
};

// A booking of a burst, with storage for its views.
struct Booking {
  std::string user;
  std::uint32_t seats = 1;
  bool hold = false;
  WaitlistChoice waitlist = WaitlistChoice::by_default;
  std::string request_id;
};

std::int64_t now_ms() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class BatchServer : public SharedServerTest {
 protected:
  static ClientOptions with_batching(bool batching) {
    ClientOptions o = options();
    o.book_batching = batching;
    return o;
  }

  // A fresh event per mode and test, so the two modes start from the same state.
  static std::string create(EventSpec spec, bool batching) {
    const std::string id = std::string(spec.id) + (batching ? "-batched" : "-single");
    spec.id = id;
    Client client(options());
    const Result<EventInfo> r = client.create_event(spec);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return id;
  }

  // Submits every booking at once (one flush), then polls until all callbacks ran.
  static std::vector<Answer> burst(AsyncClient& client, const std::string& event,
                                   const std::vector<Booking>& bookings) {
    std::vector<Answer> answers(bookings.size());
    for (std::size_t i = 0; i < bookings.size(); ++i) {
      const Booking& b = bookings[i];
      const Status s = client.submit_book({.event = event,
                                           .user = b.user,
                                           .seats = b.seats,
                                           .hold = b.hold,
                                           .waitlist = b.waitlist,
                                           .request_id = b.request_id},
                                          [&answers, i](const ReplyView& reply) {
                                            Answer& answer = answers[i];
                                            ++answer.calls;
                                            answer.status = reply.status();
                                            answer.book = reply.book();
                                            // The view reads the same after a submit on the same
                                            // connection.
                                            EXPECT_EQ(reply.book_view().ref, answer.book.ref);
                                          });
      EXPECT_TRUE(s.answered()) << s.to_string();
    }
    EXPECT_TRUE(client.flush().answered());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (client.in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
      client.poll(milliseconds(100));
    }
    EXPECT_EQ(client.in_flight(), 0u);
    for (std::size_t i = 0; i < answers.size(); ++i) {
      EXPECT_EQ(answers[i].calls, 1) << "callback of booking " << i;
      EXPECT_EQ(answers[i].status.error(), ClientError::none) << answers[i].status.to_string();
    }
    return answers;
  }

  // The burst in both modes, each on a fresh event made from `spec`.
  static std::map<bool, std::vector<Answer>> both_modes(const EventSpec& spec,
                                                        const std::vector<Booking>& bookings) {
    std::map<bool, std::vector<Answer>> answers;
    for (const bool batching : {true, false}) {
      const std::string event = create(spec, batching);
      AsyncClient client(with_batching(batching));
      EXPECT_TRUE(client.connect().ok());
      answers[batching] = burst(client, event, bookings);
    }
    return answers;
  }

  // The same meaning: outcome, message, seats, position, whether a ref and
  // each time field are there (their values depend on the event and the clock).
  static void expect_same_meaning(const std::vector<Answer>& batched,
                                  const std::vector<Answer>& single,
                                  const std::vector<Booking>& bookings) {
    ASSERT_EQ(batched.size(), single.size());
    for (std::size_t i = 0; i < batched.size(); ++i) {
      const Answer& b = batched[i];
      const Answer& s = single[i];
      SCOPED_TRACE("booking " + std::to_string(i) + " of " + bookings[i].user);
      EXPECT_EQ(b.status.outcome(), s.status.outcome())
          << outcome_name(b.status.outcome()) << " vs " << outcome_name(s.status.outcome());
      EXPECT_EQ(b.status.message(), s.status.message());
      EXPECT_EQ(b.book.seats, s.book.seats);
      EXPECT_EQ(b.book.position, s.book.position);
      EXPECT_EQ(b.book.ref.empty(), s.book.ref.empty());
      EXPECT_EQ(b.book.expires_at_ms > 0, s.book.expires_at_ms > 0);
      EXPECT_EQ(b.book.opens_in_ms > 0, s.book.opens_in_ms > 0);
      EXPECT_EQ(b.book.retry_after_ms > 0, s.book.retry_after_ms > 0);
    }
  }
};

TEST_F(BatchServer, EveryRuleOfSingleBookingsHoldsInABatch) {
  const std::vector<Booking> bookings = {
      {.user = "u0"},                                                // 0 BOOKED
      {.user = "u1", .seats = 2},                                    // 1 BOOKED
      {.user = "u2", .seats = 3},                                    // 2 BOOKED (6 taken)
      {.user = "u0"},                                                // 3 ALREADY_BOOKED, u0's ref
      {.user = "u3", .seats = 4},                                    // 4 OVER_USER_LIMIT (max 3)
      {.user = "u4", .seats = 3},                                    // 5 BOOKED (9 taken)
      {.user = "\xff\xfe"},                                          // 6 INVALID: not UTF-8
      {.user = "u5", .seats = 2, .waitlist = WaitlistChoice::join},  // 7 WAITLISTED 1
      {.user = "u6", .waitlist = WaitlistChoice::never},             // 8 SOLD_OUT: u5 waits first
      {.user = "u7", .waitlist = WaitlistChoice::never},             // 9 SOLD_OUT
      {.user = "u8", .waitlist = WaitlistChoice::join},              // 10 WAITLISTED 2
      {.user = "u5", .seats = 2, .waitlist = WaitlistChoice::join},  // 11 as u5 was
      {.user = "u1", .seats = 2},                                    // 12 ALREADY_BOOKED, u1's ref
  };
  const EventSpec spec{
      .id = "rules", .capacity = 10, .per_user_max = 3, .waitlist = true, .waitlist_max = 10};
  auto answers = both_modes(spec, bookings);
  expect_same_meaning(answers[true], answers[false], bookings);
  for (const bool batching : {true, false}) {
    SCOPED_TRACE(batching ? "batched" : "single");
    const std::vector<Answer>& a = answers[batching];
    EXPECT_EQ(a[0].status.outcome(), Outcome::booked);
    EXPECT_EQ(a[0].book.ref.size(), 11u);
    EXPECT_EQ(a[1].status.outcome(), Outcome::booked);
    EXPECT_EQ(a[1].book.seats, 2u);
    EXPECT_EQ(a[2].status.outcome(), Outcome::booked);
    EXPECT_EQ(a[3].status.outcome(), Outcome::already_booked);
    EXPECT_EQ(a[3].book.ref, a[0].book.ref);
    EXPECT_EQ(a[4].status.outcome(), Outcome::over_user_limit);
    EXPECT_EQ(a[5].status.outcome(), Outcome::booked);
    EXPECT_EQ(a[6].status.outcome(), Outcome::invalid);
    EXPECT_EQ(a[6].status.message(), "user: must be 1..64 bytes of UTF-8");
    EXPECT_EQ(a[7].status.outcome(), Outcome::waitlisted);
    EXPECT_EQ(a[7].book.position, 1u);
    EXPECT_EQ(a[8].status.outcome(), Outcome::sold_out);
    EXPECT_EQ(a[9].status.outcome(), Outcome::sold_out);
    EXPECT_EQ(a[10].status.outcome(), Outcome::waitlisted);
    EXPECT_EQ(a[10].book.position, 2u);
    EXPECT_EQ(a[11].status.outcome(), a[7].status.outcome());
    EXPECT_EQ(a[12].status.outcome(), Outcome::already_booked);
    EXPECT_EQ(a[12].book.ref, a[1].book.ref);
  }
}

TEST_F(BatchServer, HoldsCarryTheirExpiry) {
  std::vector<Booking> bookings;
  for (int i = 0; i < 5; ++i) bookings.push_back({.user = "h" + std::to_string(i), .hold = true});
  const std::int64_t before = now_ms();
  auto answers = both_modes({.id = "holds", .capacity = 3, .hold_ttl_ms = 60'000}, bookings);
  expect_same_meaning(answers[true], answers[false], bookings);
  for (const bool batching : {true, false}) {
    const std::vector<Answer>& a = answers[batching];
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(a[i].status.outcome(), Outcome::held);
      EXPECT_FALSE(a[i].book.ref.empty());
      EXPECT_GE(a[i].book.expires_at_ms, before + 60'000);
      EXPECT_LE(a[i].book.expires_at_ms, now_ms() + 60'000);
    }
    EXPECT_EQ(a[3].status.outcome(), Outcome::sold_out);
  }
}

TEST_F(BatchServer, NotOpenAndRateLimitedCarryTheirDelays) {
  const std::vector<Booking> early = {{.user = "e0"}, {.user = "e1"}, {.user = "e2"}};
  auto answers =
      both_modes({.id = "early", .capacity = 10, .opens_at_ms = now_ms() + 3'600'000}, early);
  expect_same_meaning(answers[true], answers[false], early);
  for (const Answer& a : answers[true]) {
    EXPECT_EQ(a.status.outcome(), Outcome::not_open);
    EXPECT_GT(a.book.opens_in_ms, 3'000'000);
  }
  // One user asking again and again: the bucket (burst 2) runs dry.
  std::vector<Booking> eager;
  for (int i = 0; i < 6; ++i) eager.push_back({.user = "eager", .waitlist = WaitlistChoice::never});
  answers = both_modes({.id = "eager", .capacity = 0, .rate_per_s = 1, .rate_burst = 2}, eager);
  expect_same_meaning(answers[true], answers[false], eager);
  int limited = 0;
  for (const Answer& a : answers[true]) {
    if (a.status.outcome() != Outcome::rate_limited) continue;
    ++limited;
    EXPECT_GT(a.book.retry_after_ms, 0);
  }
  EXPECT_GT(limited, 0);
}

// A retry with a request id, batched or not, on the event's shard port or
// forwarded from the base port, returns the original answer: the same ref,
// nothing booked twice.
TEST_F(BatchServer, RequestIdsAreIdempotentAcrossBatchesAndSingleBooks) {
  std::vector<Booking> bookings;
  for (int i = 0; i < 20; ++i) {
    bookings.push_back({.user = "r" + std::to_string(i), .request_id = make_request_id()});
  }
  const std::string event = create({.id = "retry", .capacity = 100}, true);
  AsyncClient batched(with_batching(true));
  ASSERT_TRUE(batched.connect().ok());
  const std::vector<Answer> first = burst(batched, event, bookings);
  const std::vector<Answer> again = burst(batched, event, bookings);
  AsyncClient single(with_batching(false));
  ASSERT_TRUE(single.connect().ok());
  const std::vector<Answer> singly = burst(single, event, bookings);
  // Through the base port: the batch is forwarded to the event's shard.
  ClientOptions base_port = with_batching(true);
  base_port.shard_aware = false;
  AsyncClient forwarded(base_port);
  ASSERT_TRUE(forwarded.connect().ok());
  const std::vector<Answer> via_base = burst(forwarded, event, bookings);
  for (std::size_t i = 0; i < bookings.size(); ++i) {
    EXPECT_EQ(first[i].status.outcome(), Outcome::booked);
    EXPECT_EQ(again[i].status.outcome(), Outcome::booked) << "the original answer";
    EXPECT_EQ(again[i].book.ref, first[i].book.ref);
    EXPECT_EQ(singly[i].status.outcome(), Outcome::booked);
    EXPECT_EQ(singly[i].book.ref, first[i].book.ref);
    EXPECT_EQ(via_base[i].status.outcome(), Outcome::booked);
    EXPECT_EQ(via_base[i].book.ref, first[i].book.ref);
  }
  Client client(options());
  const Result<EventInfo> info = client.get_event(event);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->confirmed, bookings.size()) << "nothing booked twice";
}

// Many bookings of two events, runs of each with other requests between:
// every callback once, every booking made once.
TEST_F(BatchServer, ALongInterleavedBurstAnswersEveryCallbackOnce) {
  const std::string a = create({.id = "long-a", .capacity = 100'000}, true);
  const std::string b = create({.id = "long-b", .capacity = 100'000}, true);
  AsyncClient client(with_batching(true));
  ASSERT_TRUE(client.connect().ok());
  constexpr int total = 6000;
  std::vector<int> calls(total);
  std::vector<std::string> users;
  users.reserve(total);
  int booked = 0, reads = 0;
  for (int i = 0; i < total; ++i) {
    users.push_back("user-" + std::to_string(i));
    const std::string& event = (i / 700) % 2 == 0 ? a : b;
    ASSERT_TRUE(client
                    .submit_book({.event = event, .user = users.back()},
                                 [&calls, &booked, i](const ReplyView& reply) {
                                   ++calls[i];
                                   booked += reply.outcome() == Outcome::booked;
                                 })
                    .answered());
    if (i % 1500 == 0) {
      ASSERT_TRUE(client.submit_get_event(a, [&reads](const ReplyView&) { ++reads; }).answered());
    }
  }
  ASSERT_TRUE(client.flush().answered());
  while (client.in_flight() > 0) client.poll(milliseconds(100));
  for (int i = 0; i < total; ++i) ASSERT_EQ(calls[i], 1) << "callback " << i;
  EXPECT_EQ(booked, total);
  EXPECT_EQ(reads, 4);
  Client check(options());
  EXPECT_EQ(check.get_event(a)->confirmed + check.get_event(b)->confirmed,
            static_cast<std::uint32_t>(total));
}

// An item the client would refuse before sending (seats 0), sent anyway
// through the private Connection: only that item is INVALID, naming the
// field as a single Book's answer does.
TEST_F(BatchServer, AnInvalidItemNamesTheFieldAndSparesTheOthers) {
  const std::string event = create({.id = "invalid-item", .capacity = 10}, true);
  const ClientOptions o = options();
  Connection connection(o, o.port);
  ASSERT_TRUE(connection.open().ok());
  std::vector<Status> seen(4);
  int answered = 0;
  const std::vector<std::uint32_t> seats = {1, 0, 2};
  const std::vector<std::string> users = {"ok-1", "zero", "ok-2"};
  for (std::size_t i = 0; i < seats.size(); ++i) {
    connection.add_book({.event = event, .user = users[i], .seats = seats[i]},
                        [&seen, &answered, i](const ReplyView& reply) {
                          seen[i] = reply.status();
                          ++answered;
                        });
  }
  // The same booking as a single Book.
  const BookRequest zero{.event = event, .user = "zero-single", .seats = 0};
  connection.add([&](codec::Builder& b) { return codec::encode_book(b, zero); },
                 [&seen, &answered](const ReplyView& reply) {
                   seen[3] = reply.status();
                   ++answered;
                 });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  ASSERT_TRUE(connection.flush(milliseconds(30'000)).answered());
  while (answered < 4 && connection.is_open() && std::chrono::steady_clock::now() < deadline) {
    pollfd readable{connection.fd(), POLLIN, 0};
    if (::poll(&readable, 1, 100) > 0) connection.read_and_dispatch();
  }
  ASSERT_EQ(answered, 4);
  EXPECT_EQ(seen[0].outcome(), Outcome::booked);
  EXPECT_EQ(seen[1].outcome(), Outcome::invalid);
  EXPECT_EQ(seen[1].message(), "seats: must be 1..1000000000");
  EXPECT_EQ(seen[2].outcome(), Outcome::booked);
  EXPECT_EQ(seen[3].outcome(), Outcome::invalid);
  EXPECT_EQ(seen[3].message(), seen[1].message());
}

}  // namespace
}  // namespace admit
