// Response encoding: statuses, headers and JSON bodies (parsed back by nlohmann_json).
#include "server/http/response.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace admit::server::http {
namespace {

nlohmann::json body_of(const Answer& answer) { return nlohmann::json::parse(answer.body); }

ShardCommand book_command() {
  ShardCommand command;
  command.op = Op::book;
  command.event.assign("tour \"vip\"");
  command.user.assign("u\n1");
  command.request_id.assign("k1");
  return command;
}

ShardResult book_result(Outcome outcome) {
  ShardResult result;
  result.outcome = outcome;
  result.kind = ResultKind::book;
  result.book.outcome = outcome;
  return result;
}

TEST(Response, BookedIs201WithLocationAndTheShellsFields) {
  ShardResult result = book_result(Outcome::booked);
  result.book.ref = BookingRef::make(5, 1);
  result.book.seats = 2;
  const Answer answer = shard_answer(Route::book, book_command(), result);
  EXPECT_EQ(answer.status, 201);
  EXPECT_EQ(answer.location, "/v1/bookings/" + std::string(result.book.ref.view()));
  const auto json = body_of(answer);
  EXPECT_EQ(json["outcome"], "BOOKED");
  EXPECT_EQ(json["event"], "tour \"vip\"");
  EXPECT_EQ(json["user"], "u\n1");
  EXPECT_EQ(json["ref"], std::string(result.book.ref.view()));
  EXPECT_EQ(json["seats"], 2);
  EXPECT_EQ(json["request_id"], "k1");
  EXPECT_FALSE(json.contains("message"));
}

TEST(Response, EveryBookingOutcomeHasItsStatus) {
  const std::pair<Outcome, int> cases[] = {
      {Outcome::held, 201},     {Outcome::waitlisted, 202},      {Outcome::already_booked, 200},
      {Outcome::sold_out, 409}, {Outcome::over_user_limit, 409}, {Outcome::not_open, 409},
      {Outcome::closed, 409},   {Outcome::rate_limited, 429},    {Outcome::not_found, 404},
      {Outcome::invalid, 400},  {Outcome::overloaded, 503},      {Outcome::unavailable, 503},
  };
  for (const auto& [outcome, status] : cases) {
    const Answer answer = shard_answer(Route::book, book_command(), book_result(outcome));
    EXPECT_EQ(answer.status, status) << outcome_name(outcome);
    const auto json = body_of(answer);
    EXPECT_EQ(json["outcome"], outcome_name(outcome));
    if (status >= 300) {
      EXPECT_FALSE(json["message"].get<std::string>().empty());
    }
  }
}

TEST(Response, RateLimitedSetsRetryAfterInWholeSecondsAtLeastOne) {
  EXPECT_EQ(retry_after_seconds(1), 1);
  EXPECT_EQ(retry_after_seconds(0), 1);
  EXPECT_EQ(retry_after_seconds(1000), 1);
  EXPECT_EQ(retry_after_seconds(1001), 2);
  ShardResult result = book_result(Outcome::rate_limited);
  result.book.retry_after_ms = 1500;
  const Answer answer = shard_answer(Route::book, book_command(), result);
  EXPECT_EQ(body_of(answer)["retry_after_ms"], 1500);
  std::string bytes;
  append_answer(&bytes, answer, true);
  EXPECT_NE(bytes.find("\r\nRetry-After: 2\r\n"), std::string::npos) << bytes;
  EXPECT_TRUE(bytes.starts_with("HTTP/1.1 429 Too Many Requests\r\n"));
}

TEST(Response, WaitlistPosition) {
  ShardCommand command;
  command.event.assign("e");
  command.user.assign("u");
  ShardResult result;
  result.kind = ResultKind::waitlist;
  result.outcome = Outcome::waitlisted;
  result.waitlist.position = 3;
  auto json = body_of(shard_answer(Route::waitlist_position, command, result));
  EXPECT_EQ(json["position"], 3);
  EXPECT_FALSE(json.contains("ref"));
  result.outcome = Outcome::already_booked;
  result.waitlist.ref = BookingRef::make(9, 0);
  json = body_of(shard_answer(Route::waitlist_position, command, result));
  EXPECT_EQ(json["position"], 0);
  EXPECT_EQ(json["ref"], std::string(result.waitlist.ref.view()));
  result.outcome = Outcome::not_found;
  result.waitlist.ref = {};
  result.reason = Reason::user_not_waiting;
  const Answer not_waiting = shard_answer(Route::waitlist_position, command, result);
  EXPECT_EQ(not_waiting.status, 200);
  EXPECT_EQ(body_of(not_waiting)["position"], 0);
  result.reason = Reason::no_such_event;
  EXPECT_EQ(shard_answer(Route::waitlist_position, command, result).status, 404);
}

TEST(Response, CreatedEventHasLocationAndCounters) {
  ShardResult result;
  result.outcome = Outcome::ok;
  result.kind = ResultKind::event;
  result.event.id.assign("a b/c");
  result.event.config.capacity = 10;
  result.event.config.opens_at_ms = 1'796'119'200'000;
  result.event.available = 10;
  result.event.version = 1;
  const Answer answer = shard_answer(Route::create_event, ShardCommand{}, result);
  EXPECT_EQ(answer.status, 201);
  EXPECT_EQ(answer.location, "/v1/events/a%20b%2Fc");
  const auto json = body_of(answer);
  for (const char* field :
       {"id", "capacity", "per_user_max", "hold_ttl_ms", "waitlist", "waitlist_max", "opens_at",
        "closes_at", "rate_per_s", "rate_burst", "state", "version", "available", "held",
        "confirmed", "waitlisted", "watchers"}) {
    EXPECT_TRUE(json.contains(field)) << field;
  }
  EXPECT_EQ(json["opens_at"], "2026-12-01T10:00:00.000Z");
  EXPECT_TRUE(json["closes_at"].is_null());
  EXPECT_EQ(json["state"], "open");
  EXPECT_EQ(shard_answer(Route::update_event, ShardCommand{}, result).status, 200);
}

TEST(Response, BookingsAndPages) {
  BookingPageRecord page;
  BookingRecord booking;
  booking.ref = BookingRef::make(3, 0);
  booking.event.assign("e");
  booking.user.assign("u");
  booking.seats = 1;
  booking.state = BookingState::held;
  booking.created_at_ms = 1000;
  booking.expires_at_ms = 2000;
  page.bookings = {booking, booking};
  page.next_after = booking.ref;
  ShardResult result;
  result.outcome = Outcome::ok;
  result.kind = ResultKind::booking_page;
  result.page = &page;
  auto json = body_of(shard_answer(Route::list_bookings, ShardCommand{}, result));
  EXPECT_EQ(json["bookings"].size(), 2u);
  EXPECT_EQ(json["bookings"][0]["state"], "held");
  EXPECT_EQ(json["bookings"][0]["expires_at"], "1970-01-01T00:00:02.000Z");
  EXPECT_EQ(json["next_after"], std::string(booking.ref.view()));
  result.page = nullptr;
  result.kind = ResultKind::booking;
  result.booking = booking;
  result.outcome = Outcome::booked;  // confirm
  const Answer confirmed = shard_answer(Route::confirm, ShardCommand{}, result);
  EXPECT_EQ(confirmed.status, 200);
  EXPECT_EQ(body_of(confirmed)["ref"], std::string(booking.ref.view()));
}

TEST(Response, RefusalsAndHealth) {
  const Answer answer = refusal(Outcome::invalid, "seats: must be 1..1000000000");
  EXPECT_EQ(answer.status, 400);
  EXPECT_EQ(body_of(answer)["outcome"], "INVALID");
  EXPECT_EQ(body_of(answer)["message"], "seats: must be 1..1000000000");
  EXPECT_EQ(refusal(Outcome::not_found, "route: no such path: /x").status, 404);
  EXPECT_EQ(refusal(Outcome::unauthorized, "token: bad signature", 401).status, 401);
  EXPECT_EQ(health_answer(std::nullopt).status, 200);
  EXPECT_EQ(body_of(health_answer(std::nullopt))["status"], "ok");
  const Answer failed = health_answer(ShardFailure{1, "fsync: I/O error"});
  EXPECT_EQ(failed.status, 503);
  EXPECT_EQ(body_of(failed)["message"], "shard 1: storage failed: fsync: I/O error");
}

TEST(Response, HttpBytes) {
  Answer answer = refusal(Outcome::invalid, "method: DELETE is not allowed here", 405);
  answer.allow = "GET, POST";
  std::string bytes;
  append_answer(&bytes, answer, false);
  EXPECT_TRUE(bytes.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
  EXPECT_NE(bytes.find("\r\nAllow: GET, POST\r\n"), std::string::npos);
  EXPECT_NE(bytes.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_NE(bytes.find("\r\nContent-Length: " + std::to_string(answer.body.size()) + "\r\n"),
            std::string::npos);
  EXPECT_TRUE(bytes.ends_with("\r\n\r\n" + answer.body));
  Answer challenge = refusal(Outcome::unauthorized, "token: missing", 401);
  challenge.bearer_challenge = true;
  bytes.clear();
  append_answer(&bytes, challenge, true);
  EXPECT_NE(bytes.find("\r\nWWW-Authenticate: Bearer\r\n"), std::string::npos);
  EXPECT_EQ(bytes.find("Connection: close"), std::string::npos);
  EXPECT_EQ(bytes.find("Connection: keep-alive"), std::string::npos) << "HTTP/1.1's default";
  bytes.clear();
  append_answer(&bytes, challenge, true, true);  // HTTP/1.0 asked for keep-alive
  EXPECT_NE(bytes.find("\r\nConnection: keep-alive\r\n"), std::string::npos);
  bytes.clear();
  append_answer(&bytes, challenge, false, true);
  EXPECT_NE(bytes.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_EQ(bytes.find("keep-alive"), std::string::npos);
}

TEST(Response, EventPageAndStats) {
  std::vector<EventSnapshot> events(2);
  events[0].id.assign("a");
  events[1].id.assign("b");
  auto json = body_of(event_page_answer(events, true));
  EXPECT_EQ(json["events"].size(), 2u);
  EXPECT_EQ(json["next_after"], "b");
  EXPECT_TRUE(body_of(event_page_answer(events, false))["next_after"].is_null());
  std::vector<ShardStatsCounters> shards(2);
  shards[1].requests = 7;
  json = body_of(stats_answer({shards, "strict", 5, 1024}));
  EXPECT_EQ(json["shards"][1]["requests"], 7);
  EXPECT_EQ(json["durability"], "strict");
  EXPECT_EQ(json["resident_bytes"], 1024);
}

}  // namespace
}  // namespace admit::server::http
