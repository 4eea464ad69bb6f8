// RequestParser on raw bytes: splits, pipelining, keep-alive, limits.
#include "server/http/request_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace admit::server::http {
namespace {

using State = RequestParser::State;

struct Outcome {
  std::vector<ParsedRequest> requests;
  bool failed = false;
  ParseError error;
  int continues = 0;
};

// Feeds `bytes` in pieces of `piece` bytes, keeping unused bytes like a connection does.
Outcome feed(std::string_view bytes, std::size_t piece) {
  RequestParser parser;
  Outcome out;
  std::string pending;
  for (std::size_t at = 0; at < bytes.size() && !out.failed; at += piece) {
    pending.append(bytes.substr(at, piece));
    while (!pending.empty()) {
      const auto step = parser.parse(pending);
      pending.erase(0, step.consumed);
      out.continues += step.send_continue;
      if (step.state == State::failed) {
        out.failed = true;
        out.error = parser.error();
        break;
      }
      if (step.state == State::request_ready) {
        out.requests.push_back(parser.take());
        EXPECT_TRUE(parser.idle());
        continue;
      }
      if (step.consumed == 0 && !step.send_continue) break;
    }
  }
  return out;
}

constexpr std::string_view two_requests =
    "POST /v1/events/e1/bookings HTTP/1.1\r\nHost: x\r\nIdempotency-Key:  k-1 \r\n"
    "Content-Length: 13\r\nauthorization: Bearer abc\r\n\r\n{\"user\":\"u1\"}"
    "GET /v1/events/e1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

void expect_two(const Outcome& out) {
  ASSERT_FALSE(out.failed) << out.error.message;
  ASSERT_EQ(out.requests.size(), 2u);
  const ParsedRequest& post = out.requests[0];
  EXPECT_EQ(post.method, Method::post);
  EXPECT_EQ(post.view(post.target), "/v1/events/e1/bookings");
  EXPECT_TRUE(post.has_idempotency_key);
  EXPECT_NE(post.view(post.idempotency_key).find("k-1"), std::string_view::npos);
  EXPECT_EQ(post.view(post.authorization), "Bearer abc");
  EXPECT_EQ(post.view(post.body), "{\"user\":\"u1\"}");
  EXPECT_TRUE(post.keep_alive);
  const ParsedRequest& get = out.requests[1];
  EXPECT_EQ(get.method, Method::get);
  EXPECT_EQ(get.view(get.target), "/v1/events/e1");
  EXPECT_FALSE(get.has_idempotency_key);
  EXPECT_EQ(get.body.size, 0u);
  EXPECT_FALSE(get.keep_alive);
}

TEST(RequestParser, PipelinedRequestsInOneRead) { expect_two(feed(two_requests, 1 << 20)); }

TEST(RequestParser, EverySplitGivesTheSameRequests) {
  for (std::size_t piece = 1; piece < 40; ++piece) {
    SCOPED_TRACE(piece);
    expect_two(feed(two_requests, piece));
  }
}

TEST(RequestParser, StopsAfterEachRequest) {
  RequestParser parser;
  const auto first = parser.parse(two_requests);
  ASSERT_EQ(first.state, State::request_ready);
  EXPECT_LT(first.consumed, two_requests.size());
  EXPECT_EQ(two_requests.substr(first.consumed).substr(0, 4), "GET ");
  parser.take();
  const auto second = parser.parse(two_requests.substr(first.consumed));
  EXPECT_EQ(second.state, State::request_ready);
  EXPECT_EQ(first.consumed + second.consumed, two_requests.size());
}

TEST(RequestParser, IdleHoldsNoBuffer) {
  RequestParser parser;
  EXPECT_TRUE(parser.idle());
  ASSERT_EQ(parser.parse("GET /healthz HTTP/1.1\r\n").state, State::need_more);
  EXPECT_FALSE(parser.idle());
  ASSERT_EQ(parser.parse("\r\n").state, State::request_ready);
  parser.take();
  EXPECT_TRUE(parser.idle());
  EXPECT_LE(sizeof(RequestParser), 256u);
}

TEST(RequestParser, ChunkedBody) {
  const auto out = feed(
      "POST /v1/events HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n2\r\n\":\r\n"
      "2\r\n1}\r\n0\r\n\r\n",
      3);
  ASSERT_FALSE(out.failed);
  ASSERT_EQ(out.requests.size(), 1u);
  EXPECT_EQ(out.requests[0].view(out.requests[0].body), "{\"a\":1}");
}

TEST(RequestParser, Http10ClosesUnlessKeepAlive) {
  auto out = feed("GET /healthz HTTP/1.0\r\n\r\n", 100);
  ASSERT_EQ(out.requests.size(), 1u);
  EXPECT_FALSE(out.requests[0].keep_alive);
  EXPECT_TRUE(out.requests[0].http_1_0);
  out = feed("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 100);
  ASSERT_EQ(out.requests.size(), 1u);
  EXPECT_TRUE(out.requests[0].keep_alive);
  EXPECT_TRUE(out.requests[0].http_1_0);
  out = feed("GET /healthz HTTP/1.1\r\n\r\n", 100);
  ASSERT_EQ(out.requests.size(), 1u);
  EXPECT_FALSE(out.requests[0].http_1_0);
}

TEST(RequestParser, HeadersAtTheLimitPassAndPastItAre431) {
  const std::string head = "GET /healthz HTTP/1.1\r\nX-Fill: ";
  const std::string end = "\r\n\r\n";
  const std::string fits =
      head + std::string(header_bytes_max - head.size() - end.size(), 'a') + end;
  ASSERT_EQ(fits.size(), header_bytes_max);
  for (const std::size_t piece : {std::size_t{1}, std::size_t{1000}, fits.size()}) {
    EXPECT_EQ(feed(fits, piece).requests.size(), 1u) << piece;
    const auto over = feed(head + "a" + fits.substr(head.size()), piece);
    EXPECT_TRUE(over.failed) << piece;
    EXPECT_EQ(over.error.status, 431);
  }
}

TEST(RequestParser, BodyPastTheLimitIs413BeforeAnyBodyByte) {
  RequestParser parser;
  const std::string head = "POST /v1/events HTTP/1.1\r\nContent-Length: 65537\r\n\r\n";
  const auto step = parser.parse(head);
  EXPECT_EQ(step.state, State::failed);
  EXPECT_EQ(parser.error().status, 413);
  const std::string at_limit = "POST /v1/events HTTP/1.1\r\nContent-Length: 65536\r\n\r\n" +
                               std::string(body_bytes_max, ' ');
  EXPECT_EQ(feed(at_limit, 4096).requests.size(), 1u);
}

TEST(RequestParser, ChunkedBodyPastTheLimitIs413) {
  std::string bytes = "POST /v1/events HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 17; ++i) bytes += "1000\r\n" + std::string(0x1000, 'x') + "\r\n";
  bytes += "0\r\n\r\n";
  const auto out = feed(bytes, 5000);
  EXPECT_TRUE(out.failed);
  EXPECT_EQ(out.error.status, 413);
}

TEST(RequestParser, ExpectContinueIsAnnouncedOnce) {
  const auto out =
      feed("POST /v1/events HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}", 7);
  ASSERT_EQ(out.requests.size(), 1u);
  EXPECT_EQ(out.continues, 1);
  EXPECT_EQ(feed("POST /x HTTP/1.1\r\nExpect: nonsense\r\n\r\n", 100).error.status, 417);
}

TEST(RequestParser, GarbageIs400AndStaysFailed) {
  for (const std::string_view bad :
       {"\x16\x03\x01\x02\x00", "GET / HTTP/9.9\r\n\r\n", "GET\r\n\r\n",
        "GET /a b HTTP/1.1\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nIdempotency-Key: a\r\nIdempotency-Key: b\r\n\r\n",
        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"}) {
    RequestParser parser;
    const auto step = parser.parse(bad);
    EXPECT_EQ(step.state, State::failed) << bad;
    EXPECT_EQ(parser.error().status, bad.find("9.9") == bad.npos ? 400 : 505) << bad;
    EXPECT_FALSE(parser.error().message.empty());
    EXPECT_EQ(parser.parse("GET / HTTP/1.1\r\n\r\n").state, State::failed);
  }
}

// RFC 9112 5.1: a space between a header name and its colon is refused, so
// the body is never framed by a Content-Length a proxy would not see.
TEST(RequestParser, WhitespaceBeforeTheColonIs400) {
  for (const std::string_view bytes : {"POST /v1/events HTTP/1.1\r\nContent-Length : 2\r\n\r\n{}",
                                       "GET /healthz HTTP/1.1\r\nX-Any\t: 1\r\n\r\n"}) {
    RequestParser parser;
    const RequestParser::Step step = parser.parse(bytes);
    EXPECT_EQ(step.state, RequestParser::State::failed) << bytes;
    EXPECT_EQ(parser.error().status, 400);
    EXPECT_FALSE(parser.error().message.empty());
  }
}

TEST(RequestParser, UnknownMethodsParseAsOther) {
  const auto out = feed("OPTIONS /v1/events HTTP/1.1\r\n\r\n", 100);
  ASSERT_EQ(out.requests.size(), 1u);
  EXPECT_EQ(out.requests[0].method, Method::other);
}

}  // namespace
}  // namespace admit::server::http
