// Preparer (route, token, body, authorization) and AnswerOrder.
#include "server/http/exchange.h"

#include <gtest/gtest.h>

#include "protocol/shard.h"

namespace admit::server::http {
namespace {

ParsedRequest parsed(std::string_view bytes) {
  RequestParser parser;
  EXPECT_EQ(parser.parse(bytes).state, RequestParser::State::request_ready) << bytes;
  return parser.take();
}

Prepared prepare(Preparer& preparer, std::string_view bytes) {
  ParsedRequest request = parsed(bytes);
  Prepared out;
  preparer.prepare(request, 1'800'000'000'000, &out);
  return out;
}

TEST(Preparer, WithoutAuthEveryoneIsAdmin) {
  Preparer preparer(4, std::nullopt);
  Prepared p =
      prepare(preparer, "PUT /v1/events/e HTTP/1.1\r\nContent-Length: 14\r\n\r\n{\"capacity\":1}");
  EXPECT_EQ(p.next, Next::owned);
  EXPECT_EQ(p.owner, owner_shard("e", 4));
  EXPECT_EQ(p.command.op, Op::create_event);
  p = prepare(preparer, "GET /v1/events/e HTTP/1.1\r\n\r\n");
  EXPECT_EQ(p.next, Next::local);
  EXPECT_EQ(p.target.route, Route::get_event);
  p = prepare(preparer, "GET /v1/nope HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(p.next, Next::answer);
  EXPECT_EQ(p.answer.status, 404);
  EXPECT_FALSE(p.keep_alive);
  p = prepare(preparer, "PATCH /v1/bookings/BK-7M2Q9XK4 HTTP/1.1\r\n\r\n");
  EXPECT_EQ(p.answer.status, 405);
  EXPECT_EQ(p.answer.allow, "GET, DELETE");
}

TEST(Preparer, TokensAndTheirLimits) {
  const std::string secret = "k";
  Preparer preparer(2, secret);
  const auto with = [&](Role role, std::string sub, const std::string& head,
                        std::string_view body) {
    const std::string token = mint_token(secret, {role, std::move(sub), std::nullopt});
    return prepare(preparer, std::string(head) + "\r\nAuthorization: Bearer " + token +
                                 "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                                 std::string(body));
  };
  Prepared p = prepare(preparer, "GET /v1/events HTTP/1.1\r\n\r\n");
  EXPECT_EQ(p.answer.status, 401);
  EXPECT_TRUE(p.answer.bearer_challenge);
  EXPECT_EQ(prepare(preparer, "GET /healthz HTTP/1.1\r\n\r\n").next, Next::local);
  // The live page is public; the API calls its script makes are not.
  p = prepare(preparer, "GET /?event=e HTTP/1.1\r\n\r\n");
  EXPECT_EQ(p.next, Next::local);
  EXPECT_EQ(p.target.route, Route::page);
  EXPECT_EQ(prepare(preparer, "GET /v1/events/e/watch HTTP/1.1\r\n\r\n").answer.status, 401);
  p = with(Role::app, "u1", "POST /v1/events/e/bookings HTTP/1.1", R"({"user":"u2"})");
  EXPECT_EQ(p.answer.status, 403);
  p = with(Role::app, "u1", "POST /v1/events/e/bookings HTTP/1.1", "");
  ASSERT_EQ(p.next, Next::owned);
  EXPECT_EQ(p.command.user.view(), "u1");
  const std::string ref(BookingRef::make(5, 1).view());
  p = with(Role::app, "u1", "DELETE /v1/bookings/" + ref + " HTTP/1.1", "");
  ASSERT_EQ(p.next, Next::owned);
  EXPECT_EQ(p.command.acting_user.view(), "u1");  // the owner checks the booking's user
  p = with(Role::app, "", "DELETE /v1/bookings/" + ref + " HTTP/1.1", "");
  ASSERT_EQ(p.next, Next::owned);
  EXPECT_EQ(p.command.acting_user.size, 0u);
}

TEST(AnswerOrder, AnswersLeaveInTicketOrder) {
  AnswerOrder order;
  const auto a = order.take_ticket(), b = order.take_ticket(), c = order.take_ticket();
  std::string out;
  order.fill(c, refusal(Outcome::invalid, "c", 400), true);
  order.fill(b, refusal(Outcome::invalid, "b", 400), true);
  order.drain(&out);
  EXPECT_EQ(out, "");
  EXPECT_EQ(order.waiting(), 3u);
  order.fill(a, refusal(Outcome::invalid, "a", 400), true);
  order.drain(&out);
  const std::size_t at_a = out.find("\"a\""), at_b = out.find("\"b\""), at_c = out.find("\"c\"");
  EXPECT_LT(at_a, at_b);
  EXPECT_LT(at_b, at_c);
  EXPECT_NE(at_c, std::string::npos);
  EXPECT_EQ(order.waiting(), 0u);
  for (std::size_t i = 0; i < pipelined_requests_max; ++i) order.take_ticket();
  EXPECT_TRUE(order.full());
}

}  // namespace
}  // namespace admit::server::http
