// A real admitd (2 shards) held to DESIGN.md's HTTP API by libcurl (a client
// nobody here wrote) and by raw sockets for what clients do not send
// (pipelining, 1-byte writes, bad bytes).
#include <gtest/gtest.h>

#include "server/http/auth.h"
#include "tests/http/http_test_client.h"
#include "tests/support/admitd_process.h"

namespace admit::test {
namespace {

using server::http::Role;

constexpr std::uint32_t shards = 2;  // requests are forwarded between them

AdmitdProcess start_admitd(std::string auth_secret = {}) {
  AdmitdOptions options;
  options.shards = shards;
  options.auth_secret = std::move(auth_secret);
  return AdmitdProcess(options);
}

TEST(HttpCurl, CreateBookWaitlistCancel) {
  AdmitdProcess server = start_admitd();
  Client client;
  Reply r = client.send("POST", server.http_url("/v1/events"),
                        R"({"id":"tour vip","capacity":2,"waitlist":true})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.headers["location"], "/v1/events/tour%20vip");
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.json()["available"], 2);
  r = client.send("GET", server.http_url("/v1/events/tour%20vip"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["capacity"], 2);
  EXPECT_EQ(r.new_connections, 0) << "keep-alive: the connection is reused";

  const std::string bookings = server.http_url("/v1/events/tour%20vip/bookings");
  r = client.send("POST", bookings, R"({"user":"u1"})", {"Idempotency-Key: first"});
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string ref = r.json()["ref"];
  EXPECT_EQ(r.headers["location"], "/v1/bookings/" + ref);
  EXPECT_EQ(r.json()["request_id"], "first");
  r = client.send("POST", bookings, R"({"user":"u1"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["outcome"], "ALREADY_BOOKED");
  EXPECT_EQ(r.json()["ref"], ref);
  EXPECT_EQ(client.send("POST", bookings, R"({"user":"u2"})").status, 201);
  r = client.send("POST", bookings, R"({"user":"u3"})");
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.json()["position"], 1);
  r = client.send("POST", bookings, R"({"user":"u4","waitlist":"never"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.json()["outcome"], "SOLD_OUT");
  EXPECT_FALSE(r.json()["message"].get<std::string>().empty());

  const std::string u3 = server.http_url("/v1/events/tour%20vip/waitlist/u3");
  EXPECT_EQ(client.send("GET", u3).json()["position"], 1);
  r = client.send("DELETE", server.http_url("/v1/bookings/" + ref));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["state"], "cancelled");
  r = client.send("GET", u3);
  EXPECT_EQ(r.json()["position"], 0);
  EXPECT_TRUE(r.json().contains("ref")) << r.body;
  r = client.send("GET", bookings + "?limit=2");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["bookings"].size(), 2u);
  r = client.send("GET", server.http_url("/v1/events"));
  EXPECT_EQ(r.json()["events"][0]["id"], "tour vip");
}

TEST(HttpCurl, RefusalsAreJsonWithTheirStatus) {
  AdmitdProcess server = start_admitd();
  Client client;
  Reply r = client.send("GET", server.http_url("/v1/nothing"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.json()["outcome"], "NOT_FOUND");
  EXPECT_TRUE(r.json()["message"].get<std::string>().starts_with("route:"));
  r = client.send("DELETE", server.http_url("/v1/events"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["allow"], "GET, POST");
  r = client.send("POST", server.http_url("/v1/events"), R"({"id":"e","capacity":"many"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["outcome"], "INVALID");
  EXPECT_TRUE(r.json()["message"].get<std::string>().starts_with("capacity:"));
  r = client.send("POST", server.http_url("/v1/events/nope/bookings"), R"({"user":"u"})",
                  {"Idempotency-Key: " + std::string(65, 'k')});
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(r.json()["message"].get<std::string>().starts_with("Idempotency-Key:"));
  r = client.send("POST", server.http_url("/v1/events/nope/bookings"), R"({"user":"u"})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(client.send("GET", server.http_url("/healthz")).json()["status"], "ok");
  r = client.send("GET", server.http_url("/metrics"));
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.headers["content-type"].starts_with("text/plain; version=0.0.4"));
}

TEST(HttpCurl, ExpectContinueGetsItsInterimAnswer) {
  AdmitdProcess server = start_admitd();
  Client client;
  ASSERT_EQ(client.send("PUT", server.http_url("/v1/events/e"), R"({"capacity":5})").status, 201);
  const Reply r = client.send("POST", server.http_url("/v1/events/e/bookings"), R"({"user":"u"})",
                              {"Expect: 100-continue"});
  EXPECT_EQ(r.status, 201) << r.body;
}

TEST(HttpCurl, AuthRolesAndSubs) {
  const std::string secret = "test secret";
  AdmitdProcess server = start_admitd(secret);
  Client client;
  const auto bearer = [&](Role role, std::string sub) { return test::bearer(secret, role, sub); };
  Reply r = client.send("GET", server.http_url("/v1/events"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.headers["www-authenticate"], "Bearer");
  EXPECT_EQ(r.json()["outcome"], "UNAUTHORIZED");
  EXPECT_EQ(client.send("GET", server.http_url("/healthz")).status, 200);
  EXPECT_EQ(
      client.send("GET", server.http_url("/v1/events"), "", {"Authorization: Bearer x.y.z"}).status,
      401);
  EXPECT_EQ(client
                .send("GET", server.http_url("/v1/events"), "",
                      {"Authorization: Bearer " +
                       server::http::mint_token("another secret", {Role::admin, "", std::nullopt})})
                .status,
            401);
  EXPECT_EQ(client
                .send("PUT", server.http_url("/v1/events/e"), R"({"capacity":5})",
                      {bearer(Role::app, "")})
                .status,
            403);
  ASSERT_EQ(client
                .send("PUT", server.http_url("/v1/events/e"), R"({"capacity":5})",
                      {bearer(Role::admin, "")})
                .status,
            201);
  const std::string bookings = server.http_url("/v1/events/e/bookings");
  EXPECT_EQ(client.send("POST", bookings, R"({"user":"u2"})", {bearer(Role::app, "u1")}).status,
            403);
  EXPECT_EQ(client.send("POST", bookings, R"({"user":"u2"})", {bearer(Role::read, "")}).status,
            403);
  r = client.send("POST", bookings, "", {bearer(Role::app, "u1")});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json()["user"], "u1");
  const std::string booking = server.http_url("/v1/bookings/" + r.json()["ref"].get<std::string>());
  EXPECT_EQ(client.send("GET", booking, "", {bearer(Role::app, "u2")}).status, 403);
  EXPECT_EQ(client.send("GET", booking, "", {bearer(Role::read, "u1")}).status, 200);
  EXPECT_EQ(client.send("GET", bookings, "", {bearer(Role::app, "u1")}).status, 403);
  EXPECT_EQ(client.send("GET", bookings, "", {bearer(Role::app, "")}).status, 200);
}

// Raw sockets: what a client library will not send.
TEST(HttpRaw, PipelinedAnswersLeaveInRequestOrderAcrossShards) {
  AdmitdProcess server = start_admitd();
  const std::string on1 = event_on(1, shards, "ev1"), on0 = event_on(0, shards, "ev2");
  const std::string on1_again = event_on(1, shards, "ev3");
  std::string requests;
  const auto put = [&](const std::string& id, int capacity) {
    const std::string body = R"({"capacity":)" + std::to_string(capacity) + "}";
    requests += "PUT /v1/events/" + id +
                " HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  put(on1, 1);  // forwarded by shard 0, or answered by 1 while 0 forwards the next
  put(on0, 2);
  put(on1_again, 3);
  requests += "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n";
  Raw raw(server.http_port());
  raw.send(requests);
  const std::string answers = raw.read_all();
  EXPECT_EQ(status_lines(answers), (std::vector<std::string>{"HTTP/1.1 201", "HTTP/1.1 201",
                                                             "HTTP/1.1 201", "HTTP/1.1 200"}));
  const std::size_t first = answers.find("\"id\":\"" + on1 + "\"");
  const std::size_t second = answers.find("\"id\":\"" + on0 + "\"");
  const std::size_t third = answers.find("\"id\":\"" + on1_again + "\"");
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
  EXPECT_NE(third, std::string::npos);
}

TEST(HttpRaw, OneByteWrites) {
  AdmitdProcess server = start_admitd();
  Raw raw(server.http_port());
  const std::string request =
      "PUT /v1/events/slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 14\r\n\r\n"
      "{\"capacity\":1}";
  for (const char c : request) raw.send({&c, 1});
  EXPECT_EQ(status_lines(raw.read_all()), std::vector<std::string>{"HTTP/1.1 201"});
}

TEST(HttpRaw, BadBytesGetTheirStatusThenClose) {
  AdmitdProcess server = start_admitd();
  const std::pair<std::string, std::string> cases[] = {
      {"\x16\x03\x01\x00\x05hello", "HTTP/1.1 400"},
      {"GET /healthz HTTP/1.1\r\nX: " + std::string(9000, 'a') + "\r\n\r\n", "HTTP/1.1 431"},
      {"POST /v1/events HTTP/1.1\r\nContent-Length: 70000\r\n\r\n", "HTTP/1.1 413"},
  };
  for (const auto& [bytes, status] : cases) {
    Raw raw(server.http_port());
    raw.send(bytes);
    const std::string answer = raw.read_all();  // returns: the server closed
    EXPECT_TRUE(answer.starts_with(status)) << answer;
    EXPECT_NE(answer.find("Connection: close"), std::string::npos);
    EXPECT_NE(answer.find("\"outcome\":\"INVALID\""), std::string::npos) << answer;
  }
  Client client;
  EXPECT_EQ(client.send("GET", server.http_url("/healthz")).status, 200);
}

}  // namespace
}  // namespace admit::test
