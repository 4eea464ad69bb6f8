// The adapter's library behind a loopback server, held to DESIGN.md's HTTP
// API by libcurl (a client nobody here wrote) and by raw sockets for what
// clients do not send (pipelining, 1-byte writes, bad bytes).
#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>

#include "protocol/shard.h"
#include "server/http/auth.h"
#include "tests/http/loopback_server.h"

namespace admit::server::http {
namespace {

struct Reply {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  long new_connections = 0;
  nlohmann::json json() const { return nlohmann::json::parse(body); }
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* reply) {
  static_cast<Reply*>(reply)->body.append(data, size * count);
  return size * count;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* reply) {
  const std::string line(data, size * count);
  const std::size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    value.erase(value.find_last_not_of("\r\n") + 1);
    static_cast<Reply*>(reply)->headers[name] = value;
  }
  return size * count;
}

// One curl handle: its connection is kept alive across requests.
class Client {
 public:
  Client() : curl_(curl_easy_init()) {}
  ~Client() { curl_easy_cleanup(curl_); }

  Reply send(const std::string& method, const std::string& url, const std::string& body = "",
             std::vector<std::string> headers = {}) {
    Reply reply;
    curl_slist* list = nullptr;
    for (const auto& header : headers) list = curl_slist_append(list, header.c_str());
    curl_easy_reset(curl_);
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (!body.empty()) curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &reply);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, 20'000L);
    // A server that never sends "100 Continue" would stall this request to the timeout.
    curl_easy_setopt(curl_, CURLOPT_EXPECT_100_TIMEOUT_MS, 30'000L);
    const CURLcode code = curl_easy_perform(curl_);
    EXPECT_EQ(code, CURLE_OK) << curl_easy_strerror(code) << " " << method << " " << url;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &reply.status);
    curl_easy_getinfo(curl_, CURLINFO_NUM_CONNECTS, &reply.new_connections);
    curl_slist_free_all(list);
    return reply;
  }

 private:
  CURL* curl_;
};

TEST(HttpCurl, CreateBookWaitlistCancel) {
  LoopbackServer server;
  Client client;
  Reply r = client.send("POST", server.url("/v1/events"),
                        R"({"id":"tour vip","capacity":2,"waitlist":true})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.headers["location"], "/v1/events/tour%20vip");
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.json()["available"], 2);
  r = client.send("GET", server.url("/v1/events/tour%20vip"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["capacity"], 2);
  EXPECT_EQ(r.new_connections, 0) << "keep-alive: the connection is reused";

  const std::string bookings = server.url("/v1/events/tour%20vip/bookings");
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

  const std::string u3 = server.url("/v1/events/tour%20vip/waitlist/u3");
  EXPECT_EQ(client.send("GET", u3).json()["position"], 1);
  r = client.send("DELETE", server.url("/v1/bookings/" + ref));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["state"], "cancelled");
  r = client.send("GET", u3);
  EXPECT_EQ(r.json()["position"], 0);
  EXPECT_TRUE(r.json().contains("ref")) << r.body;
  r = client.send("GET", bookings + "?limit=2");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["bookings"].size(), 2u);
  r = client.send("GET", server.url("/v1/events"));
  EXPECT_EQ(r.json()["events"][0]["id"], "tour vip");
}

TEST(HttpCurl, RefusalsAreJsonWithTheirStatus) {
  LoopbackServer server;
  Client client;
  Reply r = client.send("GET", server.url("/v1/nothing"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.json()["outcome"], "NOT_FOUND");
  EXPECT_TRUE(r.json()["message"].get<std::string>().starts_with("route:"));
  r = client.send("DELETE", server.url("/v1/events"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["allow"], "GET, POST");
  r = client.send("POST", server.url("/v1/events"), R"({"id":"e","capacity":"many"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["outcome"], "INVALID");
  EXPECT_TRUE(r.json()["message"].get<std::string>().starts_with("capacity:"));
  r = client.send("POST", server.url("/v1/events/nope/bookings"), R"({"user":"u"})",
                  {"Idempotency-Key: " + std::string(65, 'k')});
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(r.json()["message"].get<std::string>().starts_with("Idempotency-Key:"));
  r = client.send("POST", server.url("/v1/events/nope/bookings"), R"({"user":"u"})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(client.send("GET", server.url("/healthz")).json()["status"], "ok");
  r = client.send("GET", server.url("/metrics"));
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.headers["content-type"].starts_with("text/plain; version=0.0.4"));
}

TEST(HttpCurl, ExpectContinueGetsItsInterimAnswer) {
  LoopbackServer server;
  Client client;
  ASSERT_EQ(client.send("PUT", server.url("/v1/events/e"), R"({"capacity":5})").status, 201);
  const Reply r = client.send("POST", server.url("/v1/events/e/bookings"), R"({"user":"u"})",
                              {"Expect: 100-continue"});
  EXPECT_EQ(r.status, 201) << r.body;
}

TEST(HttpCurl, AuthRolesAndSubs) {
  const std::string secret = "test secret";
  LoopbackServer server(secret);
  Client client;
  const auto bearer = [&](Role role, std::string sub) {
    return "Authorization: Bearer " + mint_token(secret, {role, std::move(sub), std::nullopt});
  };
  Reply r = client.send("GET", server.url("/v1/events"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.headers["www-authenticate"], "Bearer");
  EXPECT_EQ(r.json()["outcome"], "UNAUTHORIZED");
  EXPECT_EQ(client.send("GET", server.url("/healthz")).status, 200);
  EXPECT_EQ(
      client.send("GET", server.url("/v1/events"), "", {"Authorization: Bearer x.y.z"}).status,
      401);
  EXPECT_EQ(client
                .send("GET", server.url("/v1/events"), "",
                      {"Authorization: Bearer " +
                       mint_token("another secret", {Role::admin, "", std::nullopt})})
                .status,
            401);
  EXPECT_EQ(
      client.send("PUT", server.url("/v1/events/e"), R"({"capacity":5})", {bearer(Role::app, "")})
          .status,
      403);
  ASSERT_EQ(
      client.send("PUT", server.url("/v1/events/e"), R"({"capacity":5})", {bearer(Role::admin, "")})
          .status,
      201);
  const std::string bookings = server.url("/v1/events/e/bookings");
  EXPECT_EQ(client.send("POST", bookings, R"({"user":"u2"})", {bearer(Role::app, "u1")}).status,
            403);
  EXPECT_EQ(client.send("POST", bookings, R"({"user":"u2"})", {bearer(Role::read, "")}).status,
            403);
  r = client.send("POST", bookings, "", {bearer(Role::app, "u1")});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json()["user"], "u1");
  const std::string booking = server.url("/v1/bookings/" + r.json()["ref"].get<std::string>());
  EXPECT_EQ(client.send("GET", booking, "", {bearer(Role::app, "u2")}).status, 403);
  EXPECT_EQ(client.send("GET", booking, "", {bearer(Role::read, "u1")}).status, 200);
  EXPECT_EQ(client.send("GET", bookings, "", {bearer(Role::app, "u1")}).status, 403);
  EXPECT_EQ(client.send("GET", bookings, "", {bearer(Role::app, "")}).status, 200);
}

// Raw sockets: what a client library will not send.
class Raw {
 public:
  explicit Raw(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval timeout{20, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  }
  ~Raw() { ::close(fd_); }
  void send(std::string_view bytes) {
    EXPECT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  // Everything until the server closes.
  std::string read_all() {
    std::string out;
    char chunk[4096];
    ssize_t got;
    while ((got = ::recv(fd_, chunk, sizeof chunk, 0)) > 0) out.append(chunk, got);
    return out;
  }

 private:
  int fd_;
};

std::vector<std::string> status_lines(const std::string& bytes) {
  std::vector<std::string> lines;
  for (std::size_t at = bytes.find("HTTP/1.1 "); at != std::string::npos;
       at = bytes.find("HTTP/1.1 ", at + 1)) {
    lines.push_back(bytes.substr(at, 12));
  }
  return lines;
}

// An event id owned by `shard` of the loopback server's 2.
std::string event_on(std::uint32_t shard, int n) {
  for (int i = 0;; ++i) {
    const std::string id = "ev" + std::to_string(n) + "-" + std::to_string(i);
    if (owner_shard(id, 2) == shard) return id;
  }
}

TEST(HttpRaw, PipelinedAnswersLeaveInRequestOrderAcrossShards) {
  LoopbackServer server;
  const std::string on1 = event_on(1, 1), on0 = event_on(0, 2);
  std::string requests;
  const auto put = [&](const std::string& id, int capacity) {
    const std::string body = R"({"capacity":)" + std::to_string(capacity) + "}";
    requests += "PUT /v1/events/" + id +
                " HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  put(on1, 1);  // shard 1 answers after shard 0 in the server's turn
  put(on0, 2);
  put(on1 + "x", 3);
  requests += "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n";
  Raw raw(server.port());
  raw.send(requests);
  const std::string answers = raw.read_all();
  EXPECT_EQ(status_lines(answers), (std::vector<std::string>{"HTTP/1.1 201", "HTTP/1.1 201",
                                                             "HTTP/1.1 201", "HTTP/1.1 200"}));
  const std::size_t first = answers.find("\"id\":\"" + on1 + "\"");
  const std::size_t second = answers.find("\"id\":\"" + on0 + "\"");
  const std::size_t third = answers.find("\"id\":\"" + on1 + "x\"");
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
  EXPECT_NE(third, std::string::npos);
}

TEST(HttpRaw, OneByteWrites) {
  LoopbackServer server;
  Raw raw(server.port());
  const std::string request =
      "PUT /v1/events/slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 14\r\n\r\n"
      "{\"capacity\":1}";
  for (const char c : request) raw.send({&c, 1});
  EXPECT_EQ(status_lines(raw.read_all()), std::vector<std::string>{"HTTP/1.1 201"});
}

TEST(HttpRaw, BadBytesGetTheirStatusThenClose) {
  LoopbackServer server;
  const std::pair<std::string, std::string> cases[] = {
      {"\x16\x03\x01\x00\x05hello", "HTTP/1.1 400"},
      {"GET /healthz HTTP/1.1\r\nX: " + std::string(9000, 'a') + "\r\n\r\n", "HTTP/1.1 431"},
      {"POST /v1/events HTTP/1.1\r\nContent-Length: 70000\r\n\r\n", "HTTP/1.1 413"},
  };
  for (const auto& [bytes, status] : cases) {
    Raw raw(server.port());
    raw.send(bytes);
    const std::string answer = raw.read_all();  // returns: the server closed
    EXPECT_TRUE(answer.starts_with(status)) << answer;
    EXPECT_NE(answer.find("Connection: close"), std::string::npos);
    EXPECT_NE(answer.find("\"outcome\":\"INVALID\""), std::string::npos) << answer;
  }
  Client client;
  EXPECT_EQ(client.send("GET", server.url("/healthz")).status, 200);
}

}  // namespace
}  // namespace admit::server::http
