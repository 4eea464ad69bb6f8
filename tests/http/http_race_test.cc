// Stampedes over HTTP against a real admitd (2 shards): hundreds of
// connections at once (curl multi), exact outcomes and waitlist positions;
// RSVP repeats; an Idempotency-Key answered the same after kill -9.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "tests/http/http_test_client.h"
#include "tests/support/admitd_process.h"

namespace admit::test {
namespace {

constexpr std::uint32_t shards = 2;
constexpr int buyers = 300;

AdmitdProcess start_admitd(std::string durability = "off") {
  AdmitdOptions options;
  options.shards = shards;
  options.durability = std::move(durability);
  return AdmitdProcess(options);
}

std::string user_of(int i) { return "buyer-" + std::to_string(i); }

// `buyers` users ask for `seats` each at once.
std::vector<Reply> stampede(const AdmitdProcess& server, const std::string& event, int seats) {
  std::vector<Request> requests;
  for (int i = 0; i < buyers; ++i) {
    requests.push_back({"POST",
                        server.http_url("/v1/events/" + event + "/bookings"),
                        R"({"user":")" + user_of(i) + R"(","seats":)" + std::to_string(seats) + "}",
                        {}});
  }
  return send_concurrently(requests);
}

struct Tally {
  std::vector<int> booked;           // buyer indexes
  std::map<int, int> position_of;    // waitlisted buyer -> position
  std::map<std::string, int> other;  // outcome -> count
  std::set<std::string> refs;
};

Tally tally(const std::vector<Reply>& replies, int seats) {
  Tally t;
  for (int i = 0; i < static_cast<int>(replies.size()); ++i) {
    const Reply& r = replies[i];
    const std::string outcome = r.outcome();
    if (outcome == "BOOKED") {
      EXPECT_EQ(r.status, 201) << r.body;
      EXPECT_EQ(r.json()["seats"], seats) << r.body;
      EXPECT_EQ(r.json()["user"], user_of(i)) << r.body;
      t.booked.push_back(i);
      t.refs.insert(r.json()["ref"].get<std::string>());
    } else if (outcome == "WAITLISTED") {
      EXPECT_EQ(r.status, 202) << r.body;
      t.position_of[i] = r.json()["position"].get<int>();
    } else {
      ++t.other[outcome + " " + std::to_string(r.status)];
    }
  }
  return t;
}

// Positions 1..count, each exactly once.
void expect_positions(const Tally& t, int count) {
  std::vector<int> positions;
  for (const auto& [buyer, position] : t.position_of) positions.push_back(position);
  std::sort(positions.begin(), positions.end());
  std::vector<int> expected(static_cast<std::size_t>(count));
  std::iota(expected.begin(), expected.end(), 1);
  EXPECT_EQ(positions, expected);
}

// Each waitlisted buyer's position, asked again, is the one it was given.
void expect_positions_kept(const AdmitdProcess& server, const std::string& event, const Tally& t) {
  Client client;
  for (const auto& [buyer, position] : t.position_of) {
    const Reply r =
        client.send("GET", server.http_url("/v1/events/" + event + "/waitlist/" + user_of(buyer)));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["position"], position) << user_of(buyer);
  }
}

nlohmann::json event_of(const AdmitdProcess& server, const std::string& event) {
  Client client;
  const Reply r = client.send("GET", server.http_url("/v1/events/" + event));
  EXPECT_EQ(r.status, 200) << r.body;
  return r.json();
}

void create(const AdmitdProcess& server, const std::string& event, const std::string& settings) {
  Client client;
  const Reply r = client.send("PUT", server.http_url("/v1/events/" + event), settings);
  ASSERT_EQ(r.status, 201) << r.body;
}

// One buyer gets all 10 seats; 299 wait in positions 1..299.
TEST(HttpRace, ThreeHundredBuyersOfTenSeatsOnTen) {
  AdmitdProcess server = start_admitd();
  for (std::uint32_t shard = 0; shard < shards; ++shard) {
    SCOPED_TRACE("event on shard " + std::to_string(shard));
    const std::string event = event_on(shard, shards, "ten");
    create(server, event, R"({"capacity":10,"per_user_max":10,"waitlist":true})");
    const Tally t = tally(stampede(server, event, 10), 10);
    EXPECT_EQ(t.booked.size(), 1u);
    EXPECT_TRUE(t.other.empty()) << t.other.begin()->first;
    expect_positions(t, buyers - 1);
    const nlohmann::json e = event_of(server, event);
    EXPECT_EQ(e["confirmed"], 10);
    EXPECT_EQ(e["available"], 0);
    EXPECT_EQ(e["waitlisted"], buyers - 1);
    expect_positions_kept(server, event, t);
  }
}

// 299 buyers get a seat each (299 refs); one waits, first in line.
TEST(HttpRace, ThreeHundredBuyersOfOneSeatOn299) {
  AdmitdProcess server = start_admitd();
  const std::string event = event_on(1, shards, "many");
  create(server, event, R"({"capacity":299,"waitlist":true})");
  const Tally t = tally(stampede(server, event, 1), 1);
  EXPECT_EQ(t.booked.size(), 299u);
  EXPECT_EQ(t.refs.size(), 299u) << "every booking its own ref";
  EXPECT_TRUE(t.other.empty()) << t.other.begin()->first;
  expect_positions(t, 1);
  const nlohmann::json e = event_of(server, event);
  EXPECT_EQ(e["confirmed"], 299);
  EXPECT_EQ(e["available"], 0);
  EXPECT_EQ(e["waitlisted"], 1);
  expect_positions_kept(server, event, t);
}

// Without a waitlist the losers are SOLD_OUT (409), and exactly 10 win.
TEST(HttpRace, ThreeHundredBuyersOfOneSeatOnTenWithoutWaitlist) {
  AdmitdProcess server = start_admitd();
  const std::string event = event_on(0, shards, "nowait");
  create(server, event, R"({"capacity":10})");
  const Tally t = tally(stampede(server, event, 1), 1);
  EXPECT_EQ(t.booked.size(), 10u);
  EXPECT_EQ(t.refs.size(), 10u);
  EXPECT_EQ(t.other, (std::map<std::string, int>{{"SOLD_OUT 409", buyers - 10}}));
  EXPECT_TRUE(t.position_of.empty());
  const nlohmann::json e = event_of(server, event);
  EXPECT_EQ(e["confirmed"], 10);
  EXPECT_EQ(e["available"], 0);
}

// strict: every booking and waitlist place acknowledged over HTTP survives
// kill -9 (the answers left only once durable).
TEST(HttpRace, AcknowledgedOutcomesSurviveKill9InStrict) {
  AdmitdProcess server = start_admitd("strict");
  const std::string event = event_on(0, shards, "durable");
  create(server, event, R"({"capacity":250,"waitlist":true})");
  const Tally t = tally(stampede(server, event, 1), 1);
  ASSERT_EQ(t.booked.size(), 250u);
  expect_positions(t, buyers - 250);
  const nlohmann::json before = event_of(server, event);
  server.kill9();
  server.start();
  EXPECT_EQ(event_of(server, event), before);
  Client client;
  for (const std::string& ref : t.refs) {
    const Reply r = client.send("GET", server.http_url("/v1/bookings/" + ref));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["state"], "confirmed");
  }
  expect_positions_kept(server, event, t);
}

// RSVP: every user sends the same booking three times at once; one books,
// the repeats answer 200 ALREADY_BOOKED with the same ref.
TEST(HttpRace, RsvpRepeatsAreAlreadyBookedWithTheSameRef) {
  AdmitdProcess server = start_admitd();
  const std::string event = event_on(0, shards, "rsvp");
  create(server, event, R"({"capacity":1000})");
  constexpr int users = 60;
  constexpr int repeats = 3;
  std::vector<Request> requests;
  for (int repeat = 0; repeat < repeats; ++repeat) {
    for (int i = 0; i < users; ++i) {
      requests.push_back({"POST",
                          server.http_url("/v1/events/" + event + "/bookings"),
                          R"({"user":")" + user_of(i) + R"("})",
                          {}});
    }
  }
  const std::vector<Reply> replies = send_concurrently(requests);
  for (int i = 0; i < users; ++i) {
    SCOPED_TRACE(user_of(i));
    int booked = 0;
    std::set<std::string> refs;
    for (int repeat = 0; repeat < repeats; ++repeat) {
      const Reply& r = replies[static_cast<std::size_t>(repeat * users + i)];
      if (r.outcome() == "BOOKED") {
        EXPECT_EQ(r.status, 201);
        ++booked;
      } else {
        EXPECT_EQ(r.outcome(), "ALREADY_BOOKED") << r.body;
        EXPECT_EQ(r.status, 200);
      }
      refs.insert(r.json()["ref"].get<std::string>());
    }
    EXPECT_EQ(booked, 1);
    EXPECT_EQ(refs.size(), 1u) << "the same ref in every answer";
  }
  EXPECT_EQ(event_of(server, event)["confirmed"], users);
  // And once more, one by one.
  Client client;
  const Reply again = client.send("POST", server.http_url("/v1/events/" + event + "/bookings"),
                                  R"({"user":")" + user_of(0) + R"("})");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.outcome(), "ALREADY_BOOKED");
  EXPECT_EQ(again.json()["ref"], replies[0].json()["ref"]);
}

// The same Idempotency-Key on many connections at once: one booking, and
// every answer is the first one. The key with other parameters is refused,
// naming the header.
TEST(HttpRace, OneIdempotencyKeySentConcurrently) {
  AdmitdProcess server = start_admitd();
  const std::string event = event_on(1, shards, "samekey");
  create(server, event, R"({"capacity":100})");
  const std::string bookings = server.http_url("/v1/events/" + event + "/bookings");
  std::vector<Request> same(
      50, Request{"POST", bookings, R"({"user":"ann","seats":2})", {"Idempotency-Key: ann-once"}});
  const std::vector<Reply> replies = send_concurrently(same);
  for (const Reply& r : replies) {
    EXPECT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(r.json(), replies[0].json());
  }
  EXPECT_EQ(replies[0].outcome(), "BOOKED");
  EXPECT_EQ(event_of(server, event)["confirmed"], 2);

  std::vector<Request> others;
  for (int i = 0; i < 50; ++i) {
    others.push_back(
        {"POST", bookings, R"({"user":")" + user_of(i) + R"("})", {"Idempotency-Key: shared-key"}});
  }
  int booked = 0;
  for (const Reply& r : send_concurrently(others)) {
    if (r.status == 201) {
      ++booked;
      continue;
    }
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.outcome(), "INVALID");
    EXPECT_TRUE(r.message().starts_with("Idempotency-Key:")) << r.body;
  }
  EXPECT_EQ(booked, 1);
  EXPECT_EQ(event_of(server, event)["confirmed"], 3);
}

// strict: an Idempotency-Key answered once is answered the same after kill -9
// and restart, even when the state has moved on since.
TEST(HttpRace, IdempotencyKeyAfterKill9InStrict) {
  AdmitdProcess server = start_admitd("strict");
  Client client;
  const std::string event = event_on(1, shards, "idem");
  const std::string bookings = server.http_url("/v1/events/" + event + "/bookings");
  ASSERT_EQ(client.send("PUT", server.http_url("/v1/events/" + event), R"({"capacity":1})").status,
            201);
  const Reply booked =
      client.send("POST", bookings, R"({"user":"ann"})", {"Idempotency-Key: k-ann"});
  ASSERT_EQ(booked.status, 201) << booked.body;
  const std::string ref = booked.json()["ref"];
  const Reply sold_out = client.send("POST", bookings, R"({"user":"bob","waitlist":"never"})",
                                     {"Idempotency-Key: k-bob"});
  ASSERT_EQ(sold_out.status, 409) << sold_out.body;

  server.kill9();
  server.start();
  Client after;
  Reply r = after.send("POST", bookings, R"({"user":"ann"})", {"Idempotency-Key: k-ann"});
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json(), booked.json());
  EXPECT_EQ(r.header("location"), "/v1/bookings/" + ref);
  EXPECT_EQ(event_of(server, event)["confirmed"], 1) << "no second booking";

  const Reply cancelled = after.send("DELETE", server.http_url("/v1/bookings/" + ref), "",
                                     {"Idempotency-Key: k-cancel"});
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_EQ(event_of(server, event)["available"], 1);
  // A seat is free now, yet bob's key was answered SOLD_OUT: it stays so.
  r = after.send("POST", bookings, R"({"user":"bob","waitlist":"never"})",
                 {"Idempotency-Key: k-bob"});
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(r.json(), sold_out.json());
  EXPECT_EQ(event_of(server, event)["available"], 1) << "the retry booked nothing";

  server.kill9();
  server.start();
  Client last;
  r = last.send("DELETE", server.http_url("/v1/bookings/" + ref), "",
                {"Idempotency-Key: k-cancel"});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json(), cancelled.json());
  r = last.send("POST", bookings, R"({"user":"ann"})", {"Idempotency-Key: k-ann"});
  EXPECT_EQ(r.json(), booked.json()) << "answered the same forever";
  const nlohmann::json e = event_of(server, event);
  EXPECT_EQ(e["confirmed"], 0);
  EXPECT_EQ(e["available"], 1);
}

}  // namespace
}  // namespace admit::test
