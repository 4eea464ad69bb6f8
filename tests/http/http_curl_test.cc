// A real admitd (2 shards) held to DESIGN.md's HTTP API by libcurl (a client
// nobody here wrote) and by raw sockets for what clients do not send
// (pipelining, 1-byte writes, bad bytes).
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>
#include <tuple>

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

// Asserts the refusal shape of DESIGN.md: status, outcome, a message naming
// `field` (its first word, before the colon).
void expect_refusal(const Reply& r, long status, std::string_view outcome, std::string_view field) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.outcome(), outcome) << r.body;
  EXPECT_TRUE(r.message().starts_with(std::string(field) + ":")) << r.body;
}

// Creates events from JSON bodies over `client`, each answered 201.
void create_events(Client& client, const AdmitdProcess& server,
                   std::initializer_list<std::string_view> bodies) {
  for (const std::string_view body : bodies) {
    const Reply r = client.send("POST", server.http_url("/v1/events"), std::string(body));
    EXPECT_EQ(r.status, 201) << r.body;
  }
}

TEST(HttpCurl, BookingOutcomesOfOneEventWithTheirStatusAndBody) {
  AdmitdProcess server = start_admitd();
  Client client;
  const auto url = [&](std::string_view path) { return server.http_url(path); };
  create_events(client, server, {R"({"id":"main","capacity":3,"per_user_max":2,"waitlist":true})"});
  const std::string main_bookings = url("/v1/events/main/bookings");

  Reply r = client.send("POST", main_bookings, R"({"user":"ann","seats":2})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.outcome(), "BOOKED");
  EXPECT_EQ(r.json()["seats"], 2);
  EXPECT_EQ(r.json()["user"], "ann");
  EXPECT_EQ(r.json()["event"], "main");
  const std::string ref = r.json()["ref"];
  EXPECT_EQ(r.headers["location"], "/v1/bookings/" + ref);
  EXPECT_FALSE(r.json().contains("message")) << "a success carries no message";

  r = client.send("POST", main_bookings, R"({"user":"ann","seats":2})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.outcome(), "ALREADY_BOOKED");
  EXPECT_EQ(r.json()["ref"], ref);
  EXPECT_EQ(r.headers.count("location"), 0u) << "no new resource";

  expect_refusal(client.send("POST", main_bookings, R"({"user":"bob","seats":3})"), 409,
                 "OVER_USER_LIMIT", "seats");
  r = client.send("POST", main_bookings, R"({"user":"bob","seats":2})");
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.outcome(), "WAITLISTED");
  EXPECT_EQ(r.json()["position"], 1);
  r = client.send("POST", main_bookings, R"({"user":"cat","seats":2,"waitlist":"never"})");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(r.outcome(), "SOLD_OUT");
  EXPECT_FALSE(r.message().empty());
  r = client.send("GET", url("/v1/events/main"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["confirmed"], 2);
  EXPECT_EQ(r.json()["available"], 1);
  EXPECT_EQ(r.json()["waitlisted"], 1);
}

TEST(HttpCurl, RefusalsOfCapacityTimeAndRateWithTheirStatusAndBody) {
  AdmitdProcess server = start_admitd();
  Client client;
  const auto url = [&](std::string_view path) { return server.http_url(path); };
  create_events(client, server,
                {R"({"id":"tiny","capacity":1})",
                 R"({"id":"later","capacity":5,"opens_at":"2099-01-01T00:00:00Z"})",
                 R"({"id":"past","capacity":5,"closes_at":1000})",
                 R"({"id":"limited","capacity":50,"rate_per_s":1,"rate_burst":1})"});
  ASSERT_EQ(client.send("POST", url("/v1/events/tiny/bookings"), R"({"user":"u1"})").status, 201);
  Reply r = client.send("POST", url("/v1/events/tiny/bookings"), R"({"user":"u2"})");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(r.outcome(), "SOLD_OUT");

  r = client.send("POST", url("/v1/events/later/bookings"), R"({"user":"u1"})");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(r.outcome(), "NOT_OPEN");
  EXPECT_GT(r.json()["opens_in_ms"].get<std::int64_t>(), 0);
  EXPECT_FALSE(r.message().empty());

  r = client.send("POST", url("/v1/events/past/bookings"), R"({"user":"u1"})");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(r.outcome(), "CLOSED");
  EXPECT_FALSE(r.message().empty());

  ASSERT_EQ(client.send("POST", url("/v1/events/limited/bookings"), R"({"user":"u1"})").status,
            201);
  r = client.send("POST", url("/v1/events/limited/bookings"), R"({"user":"u1"})");
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(r.outcome(), "RATE_LIMITED");
  const std::int64_t retry_after_ms = r.json()["retry_after_ms"].get<std::int64_t>();
  EXPECT_GT(retry_after_ms, 0);
  ASSERT_EQ(r.headers.count("retry-after"), 1u);
  EXPECT_EQ(std::stoll(r.headers["retry-after"]),
            std::max<std::int64_t>(1, (retry_after_ms + 999) / 1000));

  expect_refusal(client.send("POST", url("/v1/events/nowhere/bookings"), R"({"user":"u1"})"), 404,
                 "NOT_FOUND", "event");
}

TEST(HttpCurl, BadInputIs400NamingTheField) {
  AdmitdProcess server = start_admitd();
  Client client;
  const std::string events = server.http_url("/v1/events");
  ASSERT_EQ(client.send("PUT", events + "/e", R"({"capacity":5})").status, 201);
  const std::string bookings = events + "/e/bookings";
  const std::pair<std::string, std::string> bad_bookings[] = {
      {R"({"user":"u","seats":1)", "body"},                       // malformed JSON
      {R"(["u"])", "body"},                                       // not an object
      {R"({"user":"u","seats":"1"})", "seats"},                   // wrong type
      {R"({"user":7})", "user"},                                  // wrong type
      {R"({"user":"u","hold":"yes"})", "hold"},                   // wrong type
      {R"({"user":"u","waitlist":"maybe"})", "waitlist"},         // not one of the names
      {R"({"user":"u","seat":1})", "seat"},                       // unknown field
      {R"({"user":"u","seats":0})", "seats"},                     // past its limit
      {R"({"user":"u","seats":-1})", "seats"},                    // past its limit
      {R"({"user":"u","seats":99999999999999})", "seats"},        // past its limit
      {R"({"user":")" + std::string(65, 'u') + R"("})", "user"},  // past its limit
      {R"({"user":""})", "user"},                                 // past its limit
      {R"({"seats":1})", "user"},                                 // required
  };
  for (const auto& [body, field] : bad_bookings) {
    SCOPED_TRACE(body);
    expect_refusal(client.send("POST", bookings, body), 400, "INVALID", field);
  }
  const std::pair<std::string, std::string> bad_events[] = {
      {R"({"id":"x","capacity":5,)", "body"},
      {R"({"id":"x"})", "capacity"},
      {R"({"capacity":5})", "id"},
      {R"({"id":"x","capacity":true})", "capacity"},
      {R"({"id":"x","capacity":1.5})", "capacity"},
      {R"({"id":"x","capacity":99999999999})", "capacity"},
      {R"({"id":"x","capacity":5,"colour":"red"})", "colour"},
      {R"({"id":"x","capacity":5,"waitlist":"on"})", "waitlist"},
      {R"({"id":"x","capacity":5,"opens_at":"tomorrow"})", "opens_at"},
      {R"({"id":")" + std::string(129, 'i') + R"(","capacity":5})", "id"},
  };
  for (const auto& [body, field] : bad_events) {
    SCOPED_TRACE(body);
    expect_refusal(client.send("POST", events, body), 400, "INVALID", field);
  }
  expect_refusal(client.send("POST", bookings, R"({"user":"u"})",
                             {"Idempotency-Key: " + std::string(65, 'k')}),
                 400, "INVALID", "Idempotency-Key");
  expect_refusal(client.send("GET", events + "?limit=1001"), 400, "INVALID", "limit");
  expect_refusal(client.send("GET", events + "?limit=many"), 400, "INVALID", "limit");
  expect_refusal(client.send("GET", bookings + "?after=nonsense"), 400, "INVALID", "after");
  expect_refusal(client.send("PATCH", events + "/e", R"({"state":"gone"})"), 400, "INVALID",
                 "state");
  const Reply r = client.send("GET", events + "/e");
  EXPECT_EQ(r.json()["available"], 5) << "nothing changed";
  EXPECT_EQ(r.json()["version"], 1);
  EXPECT_EQ(client.send("GET", events).json()["events"].size(), 1u);
}

TEST(HttpCurl, RouteAndMethodRefusals) {
  AdmitdProcess server = start_admitd();
  Client client;
  for (const std::string path :
       {"/index.html", "/v1", "/v2/events", "/v1/events/e/nothing", "/v1/bookings"}) {
    const Reply r = client.send("GET", server.http_url(path));
    EXPECT_EQ(r.status, 404) << path << " " << r.body;
    EXPECT_EQ(r.outcome(), "NOT_FOUND");
    EXPECT_TRUE(r.message().starts_with("route:")) << r.body;
  }
  const std::tuple<std::string, std::string, std::string> wrong[] = {
      {"DELETE", "/v1/events", "GET, POST"},
      {"POST", "/v1/events/e", "GET, PUT, PATCH"},
      {"PUT", "/v1/bookings/BK-AAAAAAA0", "GET, DELETE"},
      {"GET", "/v1/bookings/BK-AAAAAAA0/confirm", "POST"},
      {"PUT", "/v1/events/e/waitlist/u", "GET, DELETE"},
      {"POST", "/healthz", "GET"},
      {"DELETE", "/metrics", "GET"},
  };
  for (const auto& [method, path, allow] : wrong) {
    const Reply r = client.send(method, server.http_url(path));
    EXPECT_EQ(r.status, 405) << method << " " << path << " " << r.body;
    EXPECT_EQ(r.header("allow"), allow) << method << " " << path;
    EXPECT_EQ(r.outcome(), "INVALID");
    EXPECT_FALSE(r.message().empty());
  }
}

TEST(HttpCurl, BodyAndHeaderLimits) {
  AdmitdProcess server = start_admitd();
  Client client;
  // A body just past 64 KiB (valid JSON, so only its size is wrong).
  const std::string big = R"({"id":"e","capacity":1,"x":")" + std::string(64 * 1024, 'x') + "\"}";
  Reply r = client.send("POST", server.http_url("/v1/events"), big);
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(r.outcome(), "INVALID");
  EXPECT_TRUE(r.message().starts_with("body:")) << r.body;
  r = client.send("GET", server.http_url("/healthz"), "", {"X-Filler: " + std::string(9000, 'a')});
  EXPECT_EQ(r.status, 431) << r.body;
  EXPECT_TRUE(r.message().starts_with("headers:")) << r.body;
  // Just under both limits is fine.
  r = client.send("GET", server.http_url("/healthz"), "", {"X-Filler: " + std::string(7000, 'a')});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(client.send("GET", server.http_url("/v1/events")).json()["events"].size(), 0u);
}

// PUT is create-or-same: setup scripts run twice.
TEST(HttpCurl, PutTwiceIsCreateOrSame) {
  AdmitdProcess server = start_admitd();
  Client client;
  const std::string e = server.http_url("/v1/events/gala");
  const std::string settings = R"({"capacity":10,"waitlist":true,"hold_ttl_ms":5000})";
  Reply r = client.send("PUT", e, settings);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.headers["location"], "/v1/events/gala");
  r = client.send("PUT", e, settings);
  EXPECT_EQ(r.status, 200) << "the same settings again: " << r.body;
  EXPECT_EQ(r.json()["id"], "gala");
  EXPECT_EQ(r.json()["capacity"], 10);
  EXPECT_EQ(r.json()["version"], 1) << "nothing changed";
  r = client.send("PUT", e, R"({"capacity":11,"waitlist":true,"hold_ttl_ms":5000})");
  EXPECT_EQ(r.status, 409) << "different settings: " << r.body;
  EXPECT_FALSE(r.outcome().empty()) << r.body;
  EXPECT_FALSE(r.message().empty()) << r.body;
  expect_refusal(client.send("PUT", e, R"({"id":"other","capacity":10})"), 400, "INVALID", "id");
  EXPECT_EQ(
      client.send("POST", server.http_url("/v1/events"), R"({"id":"gala","capacity":10})").status,
      400);
}

// PATCH changes settings; absent fields stay.
TEST(HttpCurl, PatchChangesSettingsAndState) {
  AdmitdProcess server = start_admitd();
  Client client;
  const std::string e = server.http_url("/v1/events/gala");
  ASSERT_EQ(client.send("PUT", e, R"({"capacity":10,"waitlist":true,"hold_ttl_ms":5000})").status,
            201);
  ASSERT_EQ(client.send("POST", e + "/bookings", R"({"user":"u1","seats":4})").status, 201);
  Reply r = client.send("PATCH", e, R"({"capacity":20,"per_user_max":3,"rate_per_s":7})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["capacity"], 20);
  EXPECT_EQ(r.json()["per_user_max"], 3);
  EXPECT_EQ(r.json()["rate_per_s"], 7);
  EXPECT_EQ(r.json()["hold_ttl_ms"], 5000) << "absent fields stay";
  EXPECT_EQ(r.json()["version"], 2);
  EXPECT_EQ(r.json()["available"], 16);
  r = client.send("PATCH", e, R"({"state":"paused"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["state"], "paused");
  EXPECT_EQ(client.send("POST", e + "/bookings", R"({"user":"u2"})").status, 409);
  r = client.send("PATCH", e, R"({"state":"closed"})");
  EXPECT_EQ(r.json()["state"], "closed");
  r = client.send("POST", e + "/bookings", R"({"user":"u2"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.outcome(), "CLOSED");
  EXPECT_EQ(client.send("PATCH", e, R"({"state":"open"})").status, 200);
  EXPECT_EQ(client.send("POST", e + "/bookings", R"({"user":"u2"})").status, 201);
  expect_refusal(client.send("PATCH", server.http_url("/v1/events/none"), R"({"capacity":1})"), 404,
                 "NOT_FOUND", "event");
  r = client.send("GET", e);
  EXPECT_EQ(r.json()["confirmed"], 5);
  EXPECT_EQ(r.json()["version"], 5);
}

TEST(HttpCurl, CursorPagination) {
  AdmitdProcess server = start_admitd();
  Client client;
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) ids.push_back("ev-" + std::to_string(i));
  for (const std::string& id : ids) {
    ASSERT_EQ(client.send("PUT", server.http_url("/v1/events/" + id), R"({"capacity":9})").status,
              201);
  }
  std::vector<std::string> seen;
  std::string after;
  for (int page = 0; page < 10; ++page) {
    const Reply r = client.send(
        "GET", server.http_url("/v1/events?limit=3" + (after.empty() ? "" : "&after=" + after)));
    ASSERT_EQ(r.status, 200) << r.body;
    const nlohmann::json body = r.json();
    EXPECT_LE(body["events"].size(), 3u);
    for (const auto& event : body["events"]) seen.push_back(event["id"]);
    if (body["next_after"].is_null()) break;
    after = body["next_after"];
  }
  EXPECT_EQ(seen, ids) << "every event once, in id order";

  const std::string bookings = server.http_url("/v1/events/ev-3/bookings");
  std::vector<std::string> refs;
  for (int i = 0; i < 5; ++i) {
    const Reply r = client.send("POST", bookings, R"({"user":"u)" + std::to_string(i) + "\"}");
    ASSERT_EQ(r.status, 201) << r.body;
    refs.push_back(r.json()["ref"]);
  }
  std::vector<std::string> listed;
  after.clear();
  for (int page = 0; page < 10; ++page) {
    const Reply r =
        client.send("GET", bookings + "?limit=2" + (after.empty() ? "" : "&after=" + after));
    ASSERT_EQ(r.status, 200) << r.body;
    const nlohmann::json body = r.json();
    EXPECT_LE(body["bookings"].size(), 2u);
    for (const auto& booking : body["bookings"]) {
      listed.push_back(booking["ref"]);
      EXPECT_EQ(booking["event"], "ev-3");
      EXPECT_EQ(booking["state"], "confirmed");
    }
    if (body["next_after"].is_null()) break;
    after = body["next_after"];
  }
  EXPECT_EQ(listed, refs) << "every booking once, in creation order";
  expect_refusal(client.send("GET", server.http_url("/v1/events/none/bookings")), 404, "NOT_FOUND",
                 "event");
}

TEST(HttpCurl, HoldConfirmCancelAndTheWaitlist) {
  AdmitdProcess server = start_admitd();
  Client client;
  const std::string e = server.http_url("/v1/events/show");
  ASSERT_EQ(client.send("PUT", e, R"({"capacity":2,"hold_ttl_ms":60000,"waitlist":true})").status,
            201);
  Reply r = client.send("POST", e + "/bookings", R"({"user":"a","hold":true})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.outcome(), "HELD");
  EXPECT_TRUE(r.json().contains("expires_at")) << r.body;
  const std::string held = r.json()["ref"];
  EXPECT_EQ(r.headers["location"], "/v1/bookings/" + held);
  r = client.send("GET", server.http_url("/v1/bookings/" + held));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["state"], "held");
  EXPECT_EQ(r.json()["user"], "a");
  EXPECT_EQ(client.send("GET", e).json()["held"], 1);

  r = client.send("POST", server.http_url("/v1/bookings/" + held + "/confirm"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["state"], "confirmed");
  EXPECT_EQ(r.json()["ref"], held);
  r = client.send("GET", e);
  EXPECT_EQ(r.json()["held"], 0);
  EXPECT_EQ(r.json()["confirmed"], 1);

  r = client.send("POST", e + "/bookings", R"({"user":"b"})");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string b_ref = r.json()["ref"];
  for (const std::string user : {"c", "d", "e"}) {
    r = client.send("POST", e + "/bookings", R"({"user":")" + user + "\"}");
    EXPECT_EQ(r.status, 202) << r.body;
  }
  r = client.send("GET", e + "/waitlist/d");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["position"], 2);
  r = client.send("DELETE", e + "/waitlist/c");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(client.send("GET", e + "/waitlist/c").json()["position"], 0);
  EXPECT_EQ(client.send("GET", e + "/waitlist/d").json()["position"], 1);
  EXPECT_EQ(client.send("GET", e + "/waitlist/e").json()["position"], 2);
  expect_refusal(client.send("DELETE", e + "/waitlist/c"), 404, "NOT_FOUND", "user");
  EXPECT_EQ(client.send("GET", e).json()["waitlisted"], 2);

  r = client.send("DELETE", server.http_url("/v1/bookings/" + b_ref));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["state"], "cancelled");
  r = client.send("GET", e + "/waitlist/d");  // promoted, to a hold (the event uses holds)
  EXPECT_EQ(r.json()["position"], 0) << r.body;
  ASSERT_TRUE(r.json().contains("ref")) << r.body;
  r = client.send("GET", server.http_url("/v1/bookings/" + r.json()["ref"].get<std::string>()));
  EXPECT_EQ(r.json()["user"], "d");
  EXPECT_EQ(r.json()["state"], "held");
  EXPECT_EQ(client.send("GET", e + "/waitlist/e").json()["position"], 1);
  r = client.send("GET", e);
  EXPECT_EQ(r.json()["waitlisted"], 1);
  EXPECT_EQ(r.json()["held"], 1);
  EXPECT_EQ(r.json()["confirmed"], 1);
  EXPECT_EQ(r.json()["available"], 0);

  expect_refusal(client.send("GET", server.http_url("/v1/bookings/BK-ZZZZZZZ0")), 404, "NOT_FOUND",
                 "ref");
  expect_refusal(client.send("POST", server.http_url("/v1/bookings/BK-ZZZZZZZ0/confirm")), 404,
                 "NOT_FOUND", "ref");
}

// A hold not confirmed within hold_ttl_ms expires: its seats come back and
// it can no longer be confirmed (polled, bounded: no timing assertion).
TEST(HttpCurl, AHoldExpires) {
  AdmitdProcess server = start_admitd();
  Client client;
  const std::string e = server.http_url("/v1/events/brief");
  ASSERT_EQ(client.send("PUT", e, R"({"capacity":2,"hold_ttl_ms":100})").status, 201);
  Reply r = client.send("POST", e + "/bookings", R"({"user":"a","hold":true,"seats":2})");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string booking = server.http_url("/v1/bookings/" + r.json()["ref"].get<std::string>());
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(http_timeout_ms);
  while (client.send("GET", booking).json()["state"] == "held" &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  r = client.send("GET", booking);
  EXPECT_EQ(r.json()["state"], "expired") << r.body;
  r = client.send("GET", e);
  EXPECT_EQ(r.json()["held"], 0);
  EXPECT_EQ(r.json()["available"], 2);
  expect_refusal(client.send("POST", booking + "/confirm"), 400, "INVALID", "ref");
  EXPECT_EQ(client.send("GET", e).json()["confirmed"], 0);
}

// GET /v1/events/{id}/watch through libcurl: one streaming transfer driven
// by curl multi, its Server-Sent Events parsed as they come.
class SseStream {
 public:
  explicit SseStream(const std::string& url) : multi_(curl_multi_init()), curl_(curl_easy_init()) {
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, on_bytes);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &bytes_);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_multi_add_handle(multi_, curl_);
  }
  ~SseStream() { close(); }

  // Drives the transfer until `done(events)` or http_timeout_ms; the events
  // (the JSON of each `data:` with its `event:` and `id:`) so far.
  template <typename Done>
  std::vector<nlohmann::json> until(Done done) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(http_timeout_ms);
    int running = 1;
    while (!done(events()) && running > 0 && std::chrono::steady_clock::now() < deadline) {
      curl_multi_perform(multi_, &running);
      curl_multi_poll(multi_, nullptr, 0, 20, nullptr);
    }
    return events();
  }
  long status() const {
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    return status;
  }
  std::string content_type() const {
    char* type = nullptr;
    curl_easy_getinfo(curl_, CURLINFO_CONTENT_TYPE, &type);
    return type != nullptr ? type : "";
  }
  void close() {
    if (curl_ == nullptr) return;
    curl_multi_remove_handle(multi_, curl_);
    curl_easy_cleanup(curl_);
    curl_multi_cleanup(multi_);
    curl_ = nullptr;
  }

 private:
  static std::size_t on_bytes(char* data, std::size_t size, std::size_t count, void* out) {
    static_cast<std::string*>(out)->append(data, size * count);
    return size * count;
  }
  // Whole events ("...\n\n") of the stream: {"event", "id", "data"}.
  std::vector<nlohmann::json> events() const {
    std::vector<nlohmann::json> out;
    std::size_t at = 0;
    for (std::size_t end; (end = bytes_.find("\n\n", at)) != std::string::npos; at = end + 2) {
      nlohmann::json event;
      std::size_t line_at = at;
      while (line_at < end) {
        const std::size_t line_end = std::min(bytes_.find('\n', line_at), end);
        const std::string line = bytes_.substr(line_at, line_end - line_at);
        const std::size_t colon = line.find(": ");
        if (colon != std::string::npos) {
          const std::string field = line.substr(0, colon), value = line.substr(colon + 2);
          event[field] = field == "data" ? nlohmann::json::parse(value, nullptr, false)
                                         : nlohmann::json(value);
        }
        line_at = line_end + 1;
      }
      if (event.contains("data")) out.push_back(event);  // not a heartbeat comment
    }
    return out;
  }

  CURLM* multi_;
  CURL* curl_;
  std::string bytes_;
};

// SSE: the event's state now, then its changes, newest last, never an older
// state after a newer; the watcher is counted while it watches, and not
// once it is gone.
TEST(HttpCurl, WatchStreamsTheEventsCounters) {
  AdmitdProcess server = start_admitd();
  Client client;
  const std::string e = server.http_url("/v1/events/stage");
  ASSERT_EQ(client.send("PUT", e, R"({"capacity":5})").status, 201);
  SseStream stream(e + "/watch");
  std::vector<nlohmann::json> events =
      stream.until([](const std::vector<nlohmann::json>& got) { return !got.empty(); });
  ASSERT_FALSE(events.empty()) << "the current state first";
  EXPECT_EQ(stream.status(), 200);
  EXPECT_TRUE(stream.content_type().starts_with("text/event-stream")) << stream.content_type();
  EXPECT_EQ(events[0]["event"], "availability");
  EXPECT_EQ(events[0]["data"]["available"], 5);
  EXPECT_EQ(events[0]["data"]["id"], "stage");
  EXPECT_EQ(client.send("GET", e).json()["watchers"], 1);

  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(
        client.send("POST", e + "/bookings", R"({"user":"u)" + std::to_string(i) + "\"}").status,
        201);
  }
  events = stream.until([](const std::vector<nlohmann::json>& got) {
    return !got.empty() && got.back()["data"].value("confirmed", 0) == 5;
  });
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back()["data"]["confirmed"], 5) << "the latest state arrives";
  EXPECT_EQ(events.back()["data"]["available"], 0);
  for (std::size_t i = 1; i < events.size(); ++i) {
    EXPECT_GT(events[i]["data"]["seq"].get<std::uint64_t>(),
              events[i - 1]["data"]["seq"].get<std::uint64_t>());
    EXPECT_EQ(events[i]["id"], std::to_string(events[i]["data"]["seq"].get<std::uint64_t>()));
    EXPECT_GE(events[i]["data"]["confirmed"].get<int>(),
              events[i - 1]["data"]["confirmed"].get<int>())
        << "never an older state after a newer";
  }
  stream.close();
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(http_timeout_ms);
  while (client.send("GET", e).json()["watchers"] != 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(client.send("GET", e).json()["watchers"], 0) << "a closed watcher is not counted";
  expect_refusal(client.send("GET", server.http_url("/v1/events/none/watch")), 404, "NOT_FOUND",
                 "id");  // the path's {id}, as GET /v1/events/{id} names it
}

TEST(HttpCurl, StatsHealthAndMetricsPassPromtool) {
  AdmitdProcess server = start_admitd();
  Client client;
  ASSERT_EQ(client.send("PUT", server.http_url("/v1/events/m"), R"({"capacity":3})").status, 201);
  for (int i = 0; i < 5; ++i) {
    client.send("POST", server.http_url("/v1/events/m/bookings"),
                R"({"user":"u)" + std::to_string(i) + "\"}");
  }
  client.send("GET", server.http_url("/v1/nothing"));
  Reply r = client.send("GET", server.http_url("/v1/stats"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["shards"].size(), shards);
  EXPECT_EQ(r.json()["durability"], "off");
  const nlohmann::json stats = r.json();  // one parse: the loop below iterates it
  EXPECT_GT(stats["cpu_user_us"].get<std::uint64_t>() + stats["cpu_system_us"].get<std::uint64_t>(),
            0u);
  std::uint64_t bytes_received = 0;
  for (const auto& shard : stats["shards"]) {
    bytes_received += shard["bytes_received"].get<std::uint64_t>();
  }
  EXPECT_GT(bytes_received, 0u);  // the PUT and POSTs above
  r = client.send("GET", server.http_url("/healthz"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json(), nlohmann::json::parse(R"({"status":"ok"})"));

  r = client.send("GET", server.http_url("/metrics"));
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(r.headers["content-type"].starts_with("text/plain; version=0.0.4"));
  EXPECT_NE(r.body.find("admit_event_confirmed_seats{event=\"m\"} 3"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("admit_reactor_turn_seconds_count{shard=\"0\"} "), std::string::npos);
  EXPECT_NE(r.body.find("admit_cpu_seconds_total{mode=\"user\"} "), std::string::npos);
  const char* promtool = std::getenv("PROMTOOL");
  ASSERT_NE(promtool, nullptr) << "tests/http/meson.build sets PROMTOOL";
  const std::string path = ::testing::TempDir() + "admit-metrics.txt";
  { std::ofstream(path) << r.body; }
  const std::string command = std::string(promtool) + " check metrics < " + path + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string said;
  char chunk[512];
  while (std::fgets(chunk, sizeof chunk, pipe) != nullptr) said += chunk;
  const int status = ::pclose(pipe);
  EXPECT_EQ(status, 0) << said << "\n" << r.body;
  std::remove(path.c_str());
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
