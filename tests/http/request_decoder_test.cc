// RequestDecoder: HTTP requests into the ShardCommand of their binary twin,
// refusals naming the field.
#include "server/http/request_decoder.h"

#include <gtest/gtest.h>

#include "protocol/shard.h"

namespace admit::server::http {
namespace {

constexpr std::uint32_t shards = 4;

struct Decoded {
  DecodedHttpRequest result;
  ShardCommand command;
};

Decoded decode(Method method, std::string_view target_text, std::string_view body,
               std::string_view key = {}, bool has_key = false, std::string_view sub = {}) {
  Target target;
  RouteError error;
  EXPECT_TRUE(route(method, target_text, &target, &error)) << error.message;
  ParsedRequest request;
  request.method = method;
  request.bytes = std::string(key) + std::string(body);
  request.has_idempotency_key = has_key || !key.empty();
  request.idempotency_key = {0, static_cast<std::uint32_t>(key.size())};
  request.body = {static_cast<std::uint32_t>(key.size()), static_cast<std::uint32_t>(body.size())};
  RequestDecoder decoder;
  Decoded out;
  out.result = decoder.decode(target, request, shards, sub, &out.command);
  return out;
}

std::string refusal(Method method, std::string_view target, std::string_view body,
                    std::string_view key = {}, bool has_key = false) {
  const Decoded d = decode(method, target, body, key, has_key);
  EXPECT_EQ(d.result.dispatch, Dispatch::refused) << body;
  EXPECT_EQ(d.result.status, 400) << body;
  return d.result.message;
}

TEST(RequestDecoder, CreateEventBecomesTheBinaryCommand) {
  const Decoded d = decode(Method::post, "/v1/events",
                           R"({"id":"tour","capacity":500,"per_user_max":4,"hold_ttl_ms":60000,
                               "waitlist":true,"waitlist_max":100,
                               "opens_at":"2026-12-01T10:00:00Z","closes_at":1796205600000,
                               "rate_per_s":5,"rate_burst":10})");
  ASSERT_EQ(d.result.dispatch, Dispatch::owned) << d.result.message;
  EXPECT_EQ(d.result.owner, owner_shard("tour", shards));
  EXPECT_EQ(d.command.op, Op::create_event);
  EXPECT_EQ(d.command.event.view(), "tour");
  const storage::EventConfig& c = d.command.config;
  EXPECT_EQ(c.capacity, 500u);
  EXPECT_EQ(c.per_user_max, 4u);
  EXPECT_EQ(c.hold_ttl_ms, 60000u);
  EXPECT_TRUE(c.waitlist);
  EXPECT_EQ(c.waitlist_max, 100u);
  EXPECT_EQ(c.opens_at_ms, 1'796'119'200'000);
  EXPECT_EQ(c.closes_at_ms, 1'796'205'600'000);
  EXPECT_EQ(c.rate_per_s, 5u);
  EXPECT_EQ(c.rate_burst, 10u);
  EXPECT_EQ(c.state, EventState::open);
}

TEST(RequestDecoder, PutTakesTheIdFromThePath) {
  Decoded d = decode(Method::put, "/v1/events/t%C3%A9", R"({"capacity":3})");
  ASSERT_EQ(d.result.dispatch, Dispatch::owned);
  EXPECT_EQ(d.command.event.view(), "t\xC3\xA9");
  d = decode(Method::put, "/v1/events/a", R"({"id":"b","capacity":3})");
  EXPECT_EQ(d.result.message, "id: must match the path's id");
}

TEST(RequestDecoder, BadBodiesAre400NamingTheField) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {R"({"id":"x","capacity":5,"colour":"red"})", "colour: unknown field"},
      {R"({"id":"x","capacity":"5"})", "capacity: must be a whole number"},
      {R"({"id":"x","capacity":-1})", "capacity: must not be negative"},
      {R"({"id":"x","capacity":1.5})", "capacity: must be a whole number"},
      {R"({"id":"x","capacity":1000000001})", "capacity: must be 0..1000000000"},
      {R"({"id":"x","capacity":99999999999999})", "capacity: must be 0..1000000000"},
      {R"({"id":"x","capacity":5,"capacity":6})", "capacity: given twice"},
      {R"({"id":"x","capacity":5,"waitlist":1})", "waitlist: must be true or false"},
      {R"({"id":"x","capacity":5,"opens_at":"tomorrow"})", "opens_at: must be RFC 3339"},
      {R"({"id":"x","capacity":5,"hold_ttl_ms":86400001})", "hold_ttl_ms: must be 0..86400000"},
      {R"({"id":7,"capacity":5})", "id: must be a string"},
      {R"({"capacity":5})", "id: required"},
      {R"({"id":"x"})", "capacity: required"},
      {R"({"id":"","capacity":5})", "id: must be 1..128 bytes"},
      {R"({"id":"x","capacity":5)", "body: malformed JSON"},
      {R"([1,2])", "body: must be a JSON object"},
      {"", "body: a JSON object is required"},
  };
  for (const auto& [body, starts] : cases) {
    const std::string message = refusal(Method::post, "/v1/events", body);
    EXPECT_TRUE(message.starts_with(starts)) << body << " -> " << message;
  }
  const std::string long_id = R"({"capacity":1,"id":")" + std::string(129, 'a') + "\"}";
  EXPECT_TRUE(refusal(Method::post, "/v1/events", long_id).starts_with("id:"));
}

TEST(RequestDecoder, PatchSetsOnlyWhatIsGiven) {
  Decoded d =
      decode(Method::patch, "/v1/events/e", R"({"capacity":10,"state":"paused","opens_at":null})");
  ASSERT_EQ(d.result.dispatch, Dispatch::owned) << d.result.message;
  EXPECT_EQ(d.command.op, Op::update_event);
  EXPECT_EQ(d.command.patch.capacity, 10u);
  EXPECT_EQ(d.command.patch.state, EventState::paused);
  EXPECT_EQ(d.command.patch.opens_at_ms, 0);
  EXPECT_FALSE(d.command.patch.per_user_max.has_value());
  EXPECT_TRUE(refusal(Method::patch, "/v1/events/e", R"({"state":"gone"})").starts_with("state:"));
  EXPECT_TRUE(refusal(Method::patch, "/v1/events/e", R"({"id":"e"})").starts_with("id: unknown"));
}

TEST(RequestDecoder, BookingWithIdempotencyKey) {
  Decoded d = decode(Method::post, "/v1/events/e/bookings",
                     R"({"user":"u1","seats":2,"hold":true,"waitlist":"join"})", "key-1");
  ASSERT_EQ(d.result.dispatch, Dispatch::owned) << d.result.message;
  EXPECT_EQ(d.result.owner, owner_shard("e", shards));
  EXPECT_EQ(d.command.op, Op::book);
  EXPECT_EQ(d.command.user.view(), "u1");
  EXPECT_EQ(d.command.seats, 2u);
  EXPECT_TRUE(d.command.hold);
  EXPECT_EQ(d.command.waitlist, WaitlistChoice::join);
  EXPECT_EQ(d.command.request_id.view(), "key-1");
  d = decode(Method::post, "/v1/events/e/bookings", R"({"user":"u1"})");
  EXPECT_EQ(d.command.seats, 1u);  // the default
  EXPECT_EQ(d.command.request_id.size, 0u);
}

TEST(RequestDecoder, BookingRefusals) {
  const std::string_view target = "/v1/events/e/bookings";
  EXPECT_TRUE(refusal(Method::post, target, R"({"seats":1})").starts_with("user: required"));
  EXPECT_TRUE(refusal(Method::post, target, R"({"user":"u","seats":0})").starts_with("seats:"));
  EXPECT_TRUE(
      refusal(Method::post, target, R"({"user":"u","waitlist":"maybe"})").starts_with("waitlist:"));
  const std::string long_user = R"({"user":")" + std::string(65, 'u') + "\"}";
  EXPECT_TRUE(refusal(Method::post, target, long_user).starts_with("user:"));
  EXPECT_TRUE(refusal(Method::post, target, R"({"user":"u"})", std::string(65, 'k'))
                  .starts_with("Idempotency-Key:"));
  EXPECT_TRUE(
      refusal(Method::post, target, R"({"user":"u"})", "", true).starts_with("Idempotency-Key:"));
  EXPECT_EQ(decode(Method::post, target, R"({"user":"u"})", std::string(64, 'k')).result.dispatch,
            Dispatch::owned);
}

TEST(RequestDecoder, TheTokensSubIsTheDefaultUser) {
  const Decoded d = decode(Method::post, "/v1/events/e/bookings", "", {}, false, "sub-1");
  ASSERT_EQ(d.result.dispatch, Dispatch::owned) << d.result.message;
  EXPECT_EQ(d.command.user.view(), "sub-1");
}

TEST(RequestDecoder, RefRoutesGoToTheShardInTheRef) {
  const BookingRef ref = BookingRef::make(77, 2);
  const std::string path = "/v1/bookings/" + std::string(ref.view());
  Decoded d = decode(Method::delete_, path, "", "k");
  ASSERT_EQ(d.result.dispatch, Dispatch::owned);
  EXPECT_EQ(d.result.owner, 2u);
  EXPECT_EQ(d.command.op, Op::cancel);
  EXPECT_EQ(d.command.ref.view(), ref.view());
  EXPECT_EQ(d.command.request_id.view(), "k");
  d = decode(Method::post, path + "/confirm", "");
  EXPECT_EQ(d.command.op, Op::confirm);
  d = decode(Method::get, "/v1/bookings/" + std::string(BookingRef::make(1, 9).view()), "");
  EXPECT_EQ(d.result.status, 404);
  EXPECT_EQ(d.result.outcome, Outcome::not_found);
  EXPECT_TRUE(refusal(Method::delete_, path, "{}").starts_with("body:"));
}

TEST(RequestDecoder, ListsAndWaitlists) {
  Decoded d = decode(Method::get, "/v1/events/e/bookings?limit=5&after=BK-7M2Q9XK4", "");
  ASSERT_EQ(d.result.dispatch, Dispatch::owned) << d.result.message;
  EXPECT_EQ(d.command.op, Op::list_bookings);
  EXPECT_EQ(d.command.limit, 5u);
  EXPECT_EQ(d.command.ref.view(), "BK-7M2Q9XK4");
  d = decode(Method::get, "/v1/events/e/bookings", "");
  EXPECT_EQ(d.command.limit, list_limit_default);
  EXPECT_TRUE(refusal(Method::get, "/v1/events/e/bookings?limit=1001", "").starts_with("limit:"));
  EXPECT_TRUE(refusal(Method::get, "/v1/events/e/bookings?after=zz", "").starts_with("after:"));
  EXPECT_TRUE(refusal(Method::get, "/v1/events?limit=1001", "").starts_with("limit:"));
  EXPECT_EQ(decode(Method::get, "/v1/events?limit=10", "").result.dispatch, Dispatch::local);
  d = decode(Method::delete_, "/v1/events/e/waitlist/u%201", "", "k2");
  ASSERT_EQ(d.result.dispatch, Dispatch::owned);
  EXPECT_EQ(d.command.op, Op::leave_waitlist);
  EXPECT_EQ(d.command.user.view(), "u 1");
  EXPECT_EQ(d.command.request_id.view(), "k2");
  d = decode(Method::get, "/v1/events/e/waitlist/u", "");
  EXPECT_EQ(d.command.op, Op::waitlist_position);
  EXPECT_TRUE(refusal(Method::get, "/v1/events/%FF", "").starts_with("id:"));
  EXPECT_EQ(decode(Method::get, "/v1/events/e", "").result.dispatch, Dispatch::local);
}

}  // namespace
}  // namespace admit::server::http
