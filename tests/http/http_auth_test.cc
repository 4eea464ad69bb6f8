// Auth against a real admitd --auth-secret (2 shards), on both protocols:
// 401 for every missing or bad token (HTTP, with WWW-Authenticate) and
// UNAUTHORIZED for everything but Hello (binary); 403 for a good token whose
// role or sub does not allow the request, and nothing changes; refusal to
// start beyond loopback without a secret.
#include <admit/client.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "protocol/token.h"
#include "server/http/auth.h"
#include "tests/http/http_test_client.h"
#include "tests/support/admitd_process.h"

namespace admit::test {
namespace {

using server::http::Role;

constexpr std::uint32_t shards = 2;
const std::string secret = "s3cret: the HS256 key of these tests";

AdmitdProcess start_admitd() {
  AdmitdOptions options;
  options.shards = shards;
  options.auth_secret = secret;
  return AdmitdProcess(options);
}

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string token(Role role, std::string sub = {}, std::optional<std::int64_t> exp_s = {}) {
  return server::http::mint_token(secret, {role, std::move(sub), exp_s});
}

std::vector<std::string> parts_of(const std::string& jwt) {
  const std::size_t first = jwt.find('.');
  const std::size_t second = jwt.find('.', first + 1);
  return {jwt.substr(0, first), jwt.substr(first + 1, second - first - 1), jwt.substr(second + 1)};
}

// A token with this header and these claims, signed with the right secret.
std::string signed_token(const std::string& header, std::string_view claims) {
  const std::string signing_input = header + "." + jwt::base64url_encode(claims);
  const jwt::Signature signature = jwt::hmac_sha256(secret, signing_input);
  return signing_input + "." +
         jwt::base64url_encode({reinterpret_cast<const char*>(signature.data()), signature.size()});
}

// Tokens that must all be refused: name and token.
std::vector<std::pair<std::string, std::string>> bad_tokens() {
  const std::vector<std::string> admin = parts_of(token(Role::admin));
  const std::vector<std::string> read = parts_of(token(Role::read));
  const std::string none_header = jwt::base64url_encode(R"({"alg":"none","typ":"JWT"})");
  std::string flipped = token(Role::admin);
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  return {
      {"empty", ""},
      {"not a JWT", "hello"},
      {"two parts", admin[0] + "." + admin[1]},
      {"not base64url", "!!!.???.***"},
      {"expired", token(Role::admin, "", now_s() - 60)},
      {"tampered payload (read's signature on admin's claims)",
       read[0] + "." + admin[1] + "." + read[2]},
      {"tampered signature", flipped},
      {"wrong secret", server::http::mint_token("another secret", {Role::admin, "", {}})},
      {"alg none, no signature", none_header + "." + admin[1] + "."},
      {"alg none, a signature", none_header + "." + admin[1] + "." + admin[2]},
      {"unknown role, well signed", signed_token(admin[0], R"({"role":"root"})")},
      {"no role, well signed", signed_token(admin[0], R"({"sub":"eve"})")},
      {"payload not JSON, well signed", signed_token(admin[0], "role=admin")},
  };
}

std::string auth(const std::string& jwt) { return "Authorization: Bearer " + jwt; }

class HttpAuth : public ::testing::Test {
 protected:
  void SetUp() override {
    admin_ = {auth(token(Role::admin))};
    ASSERT_EQ(put("/v1/events/show", R"({"capacity":5,"hold_ttl_ms":60000,"waitlist":true})"), 201);
    ASSERT_EQ(put("/v1/events/full", R"({"capacity":1,"waitlist":true})"), 201);
    ann_ref_ = book("show", "ann", false);
    bob_hold_ = book("show", "bob", true);
    book("full", "cat", false);
    Reply r = client_.send("POST", url("/v1/events/full/bookings"), R"({"user":"dan"})", admin_);
    ASSERT_EQ(r.status, 202) << r.body;
  }

  std::string url(std::string_view path) const { return server_.http_url(path); }
  long put(const std::string& path, const std::string& body) {
    return client_.send("PUT", url(path), body, admin_).status;
  }
  std::string book(const std::string& event, const std::string& user, bool hold) {
    const Reply r = client_.send(
        "POST", url("/v1/events/" + event + "/bookings"),
        R"({"user":")" + user + R"(","hold":)" + (hold ? "true" : "false") + "}", admin_);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json().value("ref", "");
  }
  // Everything a request could have changed, read as admin.
  nlohmann::json state() {
    nlohmann::json all;
    for (const std::string path : {"/v1/events", "/v1/events/show/bookings",
                                   "/v1/events/full/bookings", "/v1/events/full/waitlist/dan"}) {
      const Reply r = client_.send("GET", url(path), "", admin_);
      EXPECT_EQ(r.status, 200) << path << " " << r.body;
      all[path] = r.json();
    }
    return all;
  }

  AdmitdProcess server_ = start_admitd();
  Client client_;
  std::vector<std::string> admin_;
  std::string ann_ref_, bob_hold_;
};

// Every route a token guards, as (method, path, body).
std::vector<std::tuple<std::string, std::string, std::string>> guarded(
    const std::string& ann_ref, const std::string& bob_hold) {
  return {
      {"GET", "/v1/events", ""},
      {"GET", "/v1/events/show", ""},
      {"POST", "/v1/events", R"({"id":"new","capacity":1})"},
      {"PUT", "/v1/events/new", R"({"capacity":1})"},
      {"PATCH", "/v1/events/show", R"({"capacity":50})"},
      {"POST", "/v1/events/show/bookings", R"({"user":"eve"})"},
      {"GET", "/v1/events/show/bookings", ""},
      {"GET", "/v1/bookings/" + ann_ref, ""},
      {"POST", "/v1/bookings/" + bob_hold + "/confirm", ""},
      {"DELETE", "/v1/bookings/" + ann_ref, ""},
      {"GET", "/v1/events/full/waitlist/dan", ""},
      {"DELETE", "/v1/events/full/waitlist/dan", ""},
      {"GET", "/v1/stats", ""},
      {"GET", "/metrics", ""},
  };
}

TEST_F(HttpAuth, MissingOrBadTokensAre401WithAChallengeAndChangeNothing) {
  const nlohmann::json before = state();
  std::vector<std::pair<std::string, std::vector<std::string>>> headers = {
      {"no Authorization", {}},
      {"Basic scheme", {"Authorization: Basic YWRtaW46YWRtaW4="}},
      {"Bearer alone", {"Authorization: Bearer"}},
  };
  for (const auto& [name, jwt] : bad_tokens()) headers.push_back({name, {auth(jwt)}});
  for (const auto& [name, header] : headers) {
    for (const auto& [method, path, body] : guarded(ann_ref_, bob_hold_)) {
      SCOPED_TRACE(name + ": " + method + " " + path);
      const Reply r = client_.send(method, url(path), body, header);
      EXPECT_EQ(r.status, 401) << r.body;
      EXPECT_EQ(r.header("www-authenticate").rfind("Bearer", 0), 0u)
          << r.header("www-authenticate");
      EXPECT_EQ(r.outcome(), "UNAUTHORIZED");
      EXPECT_TRUE(r.message().starts_with("token")) << r.body;
    }
  }
  EXPECT_EQ(state(), before);
  EXPECT_EQ(client_.send("GET", url("/healthz")).status, 200) << "/healthz needs no token";
}

TEST_F(HttpAuth, RolesAllowWhatTheyShouldAndRefuseTheRestWith403) {
  const nlohmann::json before = state();
  const std::vector<std::string> read = {auth(token(Role::read))};
  const std::vector<std::string> app = {auth(token(Role::app))};
  // read: reads only.
  for (const auto& [method, path, body] : guarded(ann_ref_, bob_hold_)) {
    SCOPED_TRACE("read: " + method + " " + path);
    const Reply r = client_.send(method, url(path), body, read);
    if (method == "GET") {
      EXPECT_EQ(r.status, 200) << r.body;
    } else {
      EXPECT_EQ(r.status, 403) << r.body;
      EXPECT_EQ(r.outcome(), "UNAUTHORIZED");
      EXPECT_FALSE(r.message().empty());
      EXPECT_TRUE(r.header("www-authenticate").empty()) << "a good token: no challenge";
    }
  }
  // app: no event changes.
  for (const auto& [method, path, body] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"POST", "/v1/events", R"({"id":"new","capacity":1})"},
           {"PUT", "/v1/events/new", R"({"capacity":1})"},
           {"PATCH", "/v1/events/show", R"({"capacity":50})"}}) {
    SCOPED_TRACE("app: " + method + " " + path);
    const Reply r = client_.send(method, url(path), body, app);
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_EQ(r.outcome(), "UNAUTHORIZED");
  }
  EXPECT_EQ(state(), before) << "no refused request changed anything";
  // app without sub acts for any user (a back end).
  Reply r = client_.send("POST", url("/v1/events/show/bookings"), R"({"user":"eve"})", app);
  EXPECT_EQ(r.status, 201) << r.body;
  r = client_.send("POST", url("/v1/bookings/" + bob_hold_ + "/confirm"), "", app);
  EXPECT_EQ(r.status, 200) << r.body;
  r = client_.send("DELETE", url("/v1/bookings/" + ann_ref_), "", app);
  EXPECT_EQ(r.status, 200) << r.body;
  r = client_.send("DELETE", url("/v1/events/full/waitlist/dan"), "", app);
  EXPECT_EQ(r.status, 200) << r.body;
}

// A token with a sub acts as that user only: another user's bookings and
// waitlist places are 403 and stay as they were.
TEST_F(HttpAuth, ASubActsOnlyAsItsUser) {
  const nlohmann::json before = state();
  const std::vector<std::string> as_eve = {auth(token(Role::app, "eve"))};
  const std::vector<std::pair<std::string, std::pair<std::string, std::string>>> others = {
      {"POST", {"/v1/events/show/bookings", R"({"user":"ann"})"}},
      {"POST", {"/v1/bookings/" + bob_hold_ + "/confirm", ""}},
      {"DELETE", {"/v1/bookings/" + ann_ref_, ""}},
      {"GET", {"/v1/bookings/" + ann_ref_, ""}},
      {"GET", {"/v1/events/full/waitlist/dan", ""}},
      {"DELETE", {"/v1/events/full/waitlist/dan", ""}},
      {"GET", {"/v1/events/show/bookings", ""}},
  };
  for (const auto& [method, target] : others) {
    SCOPED_TRACE(method + " " + target.first);
    const Reply r = client_.send(method, url(target.first), target.second, as_eve);
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_EQ(r.outcome(), "UNAUTHORIZED");
    EXPECT_FALSE(r.message().empty());
  }
  EXPECT_EQ(state(), before) << "bob's hold still held, ann's booking live, dan still waiting";
  Reply r = client_.send("GET", url("/v1/bookings/" + bob_hold_), "", admin_);
  EXPECT_EQ(r.json()["state"], "held");
  r = client_.send("GET", url("/v1/bookings/" + ann_ref_), "", admin_);
  EXPECT_EQ(r.json()["state"], "confirmed");

  // As itself: books (the user defaults to the sub), reads, confirms, cancels.
  r = client_.send("POST", url("/v1/events/show/bookings"), R"({"hold":true})", as_eve);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json()["user"], "eve");
  const std::string eve_ref = r.json()["ref"];
  EXPECT_EQ(client_.send("GET", url("/v1/bookings/" + eve_ref), "", as_eve).status, 200);
  r = client_.send("POST", url("/v1/bookings/" + eve_ref + "/confirm"), "", as_eve);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["state"], "confirmed");
  r = client_.send("POST", url("/v1/events/full/bookings"), R"({"user":"eve"})", as_eve);
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(client_.send("GET", url("/v1/events/full/waitlist/eve"), "", as_eve).json()["position"],
            2);
  EXPECT_EQ(client_.send("DELETE", url("/v1/events/full/waitlist/eve"), "", as_eve).status, 200);
  r = client_.send("DELETE", url("/v1/bookings/" + eve_ref), "", as_eve);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["state"], "cancelled");
  // A read token with a sub reads its own booking only.
  const std::vector<std::string> read_as_ann = {auth(token(Role::read, "ann"))};
  EXPECT_EQ(client_.send("GET", url("/v1/bookings/" + ann_ref_), "", read_as_ann).status, 200);
  EXPECT_EQ(client_.send("GET", url("/v1/bookings/" + bob_hold_), "", read_as_ann).status, 403);
}

// The secret is the file's bytes without a trailing newline.
TEST(HttpAuthSecret, ATrailingNewlineIsNotPartOfTheKey) {
  const std::string path = ::testing::TempDir() + "admit-secret-with-newline";
  std::ofstream(path) << secret << "\n";
  AdmitdOptions options;
  options.shards = shards;
  options.extra_args = {"--auth-secret", path};
  AdmitdProcess server(options);
  Client client;
  EXPECT_EQ(client.send("GET", server.http_url("/v1/events"), "", {auth(token(Role::read))}).status,
            200);
  std::filesystem::remove(path);
}

// ---- the binary protocol (libadmit, Hello.token) ----

ClientOptions binary(const AdmitdProcess& server, std::string jwt) {
  ClientOptions options;
  options.port = server.port();
  options.token = std::move(jwt);
  options.attempts_max = 1;
  return options;
}

void expect_unauthorized(const Status& status, std::string_view what) {
  EXPECT_TRUE(status.answered()) << what << ": " << status.to_string();
  EXPECT_EQ(status.outcome(), Outcome::unauthorized) << what << ": " << status.to_string();
}

TEST_F(HttpAuth, BinaryWithoutAGoodTokenIsUnauthorizedForEverythingButHello) {
  const nlohmann::json before = state();
  std::vector<std::pair<std::string, std::string>> tokens = {{"no token", ""}};
  for (const auto& bad : bad_tokens()) {
    if (!bad.second.empty()) tokens.push_back(bad);
  }
  for (const auto& [name, jwt] : tokens) {
    SCOPED_TRACE(name);
    admit::Client client(binary(server_, jwt));
    expect_unauthorized(client.connect().status(), "hello");
    expect_unauthorized(client.get_event("show").status(), "get_event");
    expect_unauthorized(client.list_events().status(), "list_events");
    expect_unauthorized(client.create_event({.id = "new", .capacity = 1}).status(), "create");
    expect_unauthorized(client.book({.event = "show", .user = "eve"}).status(), "book");
    expect_unauthorized(client.cancel(ann_ref_).status(), "cancel");
    expect_unauthorized(client.confirm(bob_hold_).status(), "confirm");
    expect_unauthorized(client.get_booking(ann_ref_).status(), "get_booking");
    expect_unauthorized(client.leave_waitlist("full", "dan").status(), "leave_waitlist");
    expect_unauthorized(client.stats().status(), "stats");
  }
  EXPECT_EQ(state(), before);
}

TEST_F(HttpAuth, BinaryRolesAndSubsFollowTheSameRules) {
  const nlohmann::json before = state();
  {
    admit::Client read(binary(server_, token(Role::read)));
    ASSERT_TRUE(read.connect().ok()) << read.connect().status().to_string();
    EXPECT_TRUE(read.get_event("show").ok());
    EXPECT_TRUE(read.list_events().ok());
    expect_unauthorized(read.book({.event = "show", .user = "eve"}).status(), "read books");
    expect_unauthorized(read.cancel(ann_ref_).status(), "read cancels");
    admit::Client app(binary(server_, token(Role::app)));
    expect_unauthorized(app.create_event({.id = "new", .capacity = 1}).status(), "app creates");
    expect_unauthorized(app.update_event({.id = "show", .capacity = 50}).status(), "app updates");
    admit::Client eve(binary(server_, token(Role::app, "eve")));
    expect_unauthorized(eve.book({.event = "show", .user = "ann"}).status(), "book as another");
    expect_unauthorized(eve.cancel(ann_ref_).status(), "cancel another's");
    expect_unauthorized(eve.confirm(bob_hold_).status(), "confirm another's");
    expect_unauthorized(eve.get_booking(ann_ref_).status(), "read another's");
    expect_unauthorized(eve.waitlist_position("full", "dan").status(), "another's place");
    expect_unauthorized(eve.leave_waitlist("full", "dan").status(), "another leaves");
  }
  EXPECT_EQ(state(), before) << "nothing refused changed anything";

  admit::Client eve(binary(server_, token(Role::app, "eve")));
  const auto booked = eve.book({.event = "show", .user = "eve"});
  ASSERT_TRUE(booked.ok()) << booked.status().to_string();
  EXPECT_TRUE(eve.get_booking(booked->ref).ok());
  EXPECT_TRUE(eve.cancel(booked->ref).ok());
  admit::Client admin(binary(server_, token(Role::admin)));
  EXPECT_TRUE(admin.create_event({.id = "by-admin", .capacity = 3}).ok());
  EXPECT_TRUE(admin.cancel(ann_ref_).ok()) << "admin acts for anyone";
  const Reply r = client_.send("GET", url("/v1/bookings/" + ann_ref_), "", admin_);
  EXPECT_EQ(r.json()["state"], "cancelled");
}

// ---- start-up ----

TEST(AuthStartUp, RefusesToListenBeyondLoopbackWithoutASecret) {
  const std::string data = ::testing::TempDir() + "admit-auth-refusal";
  for (const std::string& where : {std::string("--listen 0.0.0.0:24100"),
                                   std::string("--listen 127.0.0.1:24100 --http 0.0.0.0:24200")}) {
    SCOPED_TRACE(where);
    const AdmitdRun run = run_admitd(where + " --shards 1 --durability off --data " + data, 10);
    EXPECT_NE(run.exit_code, 0) << run.output;
    EXPECT_NE(run.output.find("--auth-secret"), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("0.0.0.0"), std::string::npos) << "names the address: " << run.output;
    EXPECT_EQ(run.output.find("admitd ready"), std::string::npos) << run.output;
  }
  const std::string empty = ::testing::TempDir() + "admit-empty-secret";
  std::ofstream(empty).flush();
  const AdmitdRun run = run_admitd("--listen 0.0.0.0:24100 --shards 1 --durability off --data " +
                                       data + " --auth-secret " + empty,
                                   10);
  EXPECT_NE(run.exit_code, 0) << "an empty secret is no key: " << run.output;
  EXPECT_NE(run.output.find("--auth-secret"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("admitd ready"), std::string::npos) << run.output;
  std::filesystem::remove(empty);
  std::filesystem::remove_all(data);
}

}  // namespace
}  // namespace admit::test
