// Raw sockets against a real admitd (2 shards): what client libraries will
// not send. Pipelining across shards, every bad input of DESIGN.md's HTTP
// limits (its status, then the server still answers and nothing changed),
// slowloris and idle connections, --max-connections shared with the binary
// port.
#include <admit/client.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "tests/http/http_test_client.h"
#include "tests/support/admitd_process.h"

namespace admit::test {
namespace {

constexpr std::uint32_t shards = 2;

AdmitdProcess start_admitd(std::vector<std::string> extra_args = {}) {
  AdmitdOptions options;
  options.shards = shards;
  options.extra_args = std::move(extra_args);
  return AdmitdProcess(options);
}

nlohmann::json get_json(const AdmitdProcess& server, const std::string& path) {
  Client client;
  const Reply r = client.send("GET", server.http_url(path));
  EXPECT_EQ(r.status, 200) << path << " " << r.body;
  return r.json();
}

// Answers on one connection leave in request order, whichever shard owns
// each request's event and whichever answers first.
TEST(HttpRaw, ManyPipelinedRequestsAnsweredInOrderAcrossShards) {
  AdmitdProcess server = start_admitd();
  const std::string on0 = event_on(0, shards, "p"), on1 = event_on(1, shards, "p");
  Client client;
  for (const std::string& id : {on0, on1}) {
    ASSERT_EQ(client.send("PUT", server.http_url("/v1/events/" + id), R"({"capacity":100})").status,
              201);
  }
  constexpr int count = 40;
  std::string requests;
  std::vector<std::string> expected;  // what identifies each answer
  for (int i = 0; i < count; ++i) {
    const std::string user = "user-" + std::to_string(i);
    const std::string& event = i % 3 == 0 ? on1 : on0;
    requests +=
        raw_request("POST", "/v1/events/" + event + "/bookings", R"({"user":")" + user + R"("})");
    expected.push_back("BOOKED " + user);
    if (i == 10) {
      requests += raw_request("GET", "/healthz", "");
      expected.push_back("health");
    }
    if (i == 20) {
      requests += raw_request("GET", "/v1/nowhere", "");
      expected.push_back("NOT_FOUND");
    }
    if (i == 30) {
      requests += raw_request("GET", "/v1/events/" + on1, "");
      expected.push_back("event " + on1);
    }
  }
  Raw raw(server.http_port());
  ASSERT_TRUE(raw.send(requests));
  const std::vector<RawAnswer> answers = split_answers(raw.read_answers(expected.size()));
  ASSERT_EQ(answers.size(), expected.size());
  for (std::size_t i = 0; i < answers.size(); ++i) {
    const nlohmann::json body = answers[i].json();
    std::string seen;
    if (body.contains("status")) {
      seen = "health";
    } else if (body.contains("capacity")) {
      seen = "event " + body["id"].get<std::string>();
    } else if (body.contains("user")) {
      seen = body["outcome"].get<std::string>() + " " + body["user"].get<std::string>();
    } else {
      seen = body.value("outcome", answers[i].body);
    }
    EXPECT_EQ(seen, expected[i]) << "answer " << i;
  }
  EXPECT_EQ(get_json(server, "/v1/events/" + on0)["confirmed"].get<int>() +
                get_json(server, "/v1/events/" + on1)["confirmed"].get<int>(),
            count);
}

// RFC 9112 9.3.2: only safe requests may be processed in parallel; a
// pipelined GET after a PUT or a booking on the same connection must see
// their effect (its answer comes after theirs).
TEST(HttpRaw, APipelinedReadSeesTheWritesBeforeIt) {
  AdmitdProcess server = start_admitd();
  for (std::uint32_t shard = 0; shard < shards; ++shard) {
    SCOPED_TRACE("event on shard " + std::to_string(shard));
    const std::string event = event_on(shard, shards, "ryw");
    Raw raw(server.http_port());
    ASSERT_TRUE(raw.send(
        raw_request("PUT", "/v1/events/" + event, R"({"capacity":5})") +
        raw_request("GET", "/v1/events/" + event, "") +
        raw_request("POST", "/v1/events/" + event + "/bookings", R"({"user":"u","seats":2})") +
        raw_request("GET", "/v1/events/" + event, "")));
    const std::vector<RawAnswer> answers = split_answers(raw.read_answers(4));
    ASSERT_EQ(answers.size(), 4u);
    EXPECT_EQ(answers[0].status, 201);
    EXPECT_EQ(answers[1].status, 200) << answers[1].body;
    EXPECT_EQ(answers[1].json()["available"], 5);
    EXPECT_EQ(answers[2].status, 201);
    EXPECT_EQ(answers[3].json()["confirmed"], 2) << answers[3].body;
    EXPECT_EQ(answers[3].json()["available"], 3);
  }
}

// Pipelined requests after a `Connection: close` request, or after one the
// server cannot frame, are never run: the answers before them go out, then
// the connection closes.
TEST(HttpRaw, NothingAfterTheLastAnswerOfAConnectionRuns) {
  AdmitdProcess server = start_admitd();
  const std::string event = event_on(1, shards, "last");
  Client client;
  ASSERT_EQ(client.send("PUT", server.http_url("/v1/events/" + event), R"({"capacity":9})").status,
            201);
  const std::string bookings = "/v1/events/" + event + "/bookings";
  const auto book = [&](const std::string& user, std::string_view extra = {}) {
    return raw_request("POST", bookings, R"({"user":")" + user + R"("})", extra);
  };
  const std::pair<std::string, std::string> endings[] = {
      {"Connection: close", book("b", "Connection: close\r\n")},
      {"413", "POST " + bookings + " HTTP/1.1\r\nContent-Length: 70000\r\n\r\n"},
      {"431", raw_request("GET", "/healthz", "", "X-Pad: " + std::string(9000, 'h') + "\r\n")},
  };
  int booked = 0;
  for (const auto& [name, ending] : endings) {
    SCOPED_TRACE(name);
    const std::string first = "first-" + name.substr(0, 3), never = "never-" + name.substr(0, 3);
    Raw raw(server.http_port());
    ASSERT_TRUE(raw.send(book(first) + ending + book(never)));
    bool timed_out = false;
    const std::vector<RawAnswer> answers = split_answers(raw.read_all(&timed_out));
    EXPECT_FALSE(timed_out);
    ASSERT_EQ(answers.size(), 2u);
    EXPECT_EQ(answers[0].json()["user"], first);
    EXPECT_NE(answers[1].head.find("Connection: close"), std::string::npos);
    booked += name == "Connection: close" ? 2 : 1;
    const Reply never_booked =
        client.send("GET", server.http_url("/v1/events/" + event + "/waitlist/" + never));
    EXPECT_EQ(never_booked.json()["position"], 0);
    EXPECT_FALSE(never_booked.json().contains("ref")) << never << " never booked";
  }
  EXPECT_EQ(get_json(server, "/v1/events/" + event)["confirmed"], booked);
}

// A keep-alive request split into 1-byte writes, then another in the same way.
TEST(HttpRaw, OneByteWritesKeepAlive) {
  AdmitdProcess server = start_admitd();
  Raw raw(server.http_port());
  const std::string requests = raw_request("PUT", "/v1/events/drip", R"({"capacity":3})") +
                               raw_request("POST", "/v1/events/drip/bookings", R"({"user":"slow"})",
                                           "Connection: close\r\n");
  for (const char c : requests) ASSERT_TRUE(raw.send({&c, 1}));
  bool timed_out = false;
  const std::vector<RawAnswer> answers = split_answers(raw.read_all(&timed_out));
  EXPECT_FALSE(timed_out) << "closed after the Connection: close request";
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0].status, 201);
  EXPECT_EQ(answers[1].status, 201);
  EXPECT_EQ(answers[1].json()["outcome"], "BOOKED");
}

// HTTP/1.0 keeps a connection only when asked, and the answer says so (or
// an HTTP/1.0 client such as ab -k waits for a close that never comes).
TEST(HttpRaw, Http10KeepAliveIsAnnounced) {
  AdmitdProcess server = start_admitd();
  Raw raw(server.http_port());
  ASSERT_TRUE(
      raw.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
               "GET /healthz HTTP/1.0\r\n\r\n"));
  bool timed_out = false;
  const std::vector<RawAnswer> answers = split_answers(raw.read_all(&timed_out));
  EXPECT_FALSE(timed_out) << "closed after the request without keep-alive";
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0].status, 200);
  EXPECT_NE(answers[0].head.find("\r\nConnection: keep-alive"), std::string::npos)
      << answers[0].head;
  EXPECT_EQ(answers[1].status, 200);
  EXPECT_NE(answers[1].head.find("\r\nConnection: close"), std::string::npos) << answers[1].head;
}

// RFC 9112 3.2.2: a request target in absolute form is served like its path.
TEST(HttpRaw, AbsoluteFormTargetsAreServed) {
  AdmitdProcess server = start_admitd();
  Raw raw(server.http_port());
  const std::string origin = "http://127.0.0.1:" + std::to_string(server.http_port());
  ASSERT_TRUE(raw.send(raw_request("PUT", origin + "/v1/events/abs", R"({"capacity":2})") +
                       raw_request("GET", origin + "/v1/events/abs", "")));
  const std::vector<RawAnswer> answers = split_answers(raw.read_answers(2));
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0].status, 201) << answers[0].body;
  EXPECT_EQ(answers[0].json()["id"], "abs");
  EXPECT_EQ(get_json(server, "/v1/events/abs")["capacity"], 2);
}

struct BadInput {
  std::string name;
  std::string bytes;
  int status;
  std::string message_starts;  // the field or limit named
  bool closes;                 // the server answers, then closes
};

// The first bytes of a TLS ClientHello, NULs included, then line ends.
constexpr char tls_hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n";

std::vector<BadInput> bad_inputs(const std::string& event) {
  const std::string bookings = "/v1/events/" + event + "/bookings";
  const std::string chunk = std::string(16 * 1024, ' ');
  std::string chunked = "POST /v1/events HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 5; ++i) chunked += "4000\r\n" + chunk + "\r\n";
  chunked += "0\r\n\r\n";
  return {
      {"malformed JSON", raw_request("POST", bookings, R"({"user":"x",)"), 400, "body:", false},
      {"not an object", raw_request("POST", bookings, R"("x")"), 400, "body:", false},
      {"wrong type", raw_request("POST", bookings, R"({"user":"x","seats":true})"), 400,
       "seats:", false},
      {"unknown field", raw_request("POST", bookings, R"({"user":"x","vip":1})"), 400,
       "vip:", false},
      {"seats past the limit", raw_request("POST", bookings, R"({"user":"x","seats":0})"), 400,
       "seats:", false},
      {"user past the limit",
       raw_request("POST", bookings, R"({"user":")" + std::string(65, 'x') + R"("})"), 400,
       "user:", false},
      // JSON is UTF-8: the body as a whole is refused.
      {"invalid UTF-8", raw_request("POST", bookings, "{\"user\":\"\xff\xfe\"}"), 400,
       "body:", false},
      {"Idempotency-Key past the limit",
       raw_request("POST", bookings, R"({"user":"x"})",
                   "Idempotency-Key: " + std::string(65, 'k') + "\r\n"),
       400, "Idempotency-Key:", false},
      {"bad create", raw_request("POST", "/v1/events", R"({"id":"new","capacity":-1})"), 400,
       "capacity:", false},
      {"route", raw_request("GET", "/v1/events/" + event + "/nothing", ""), 404, "route:", false},
      {"method", raw_request("DELETE", bookings, ""), 405, "method:", false},
      {"body over 64 KiB",
       raw_request("POST", bookings, R"({"user":"x","pad":")" + std::string(70'000, 'p') + "\"}"),
       413, "body:", true},
      {"chunked body over 64 KiB", chunked, 413, "body:", true},
      {"headers over 8 KiB",
       raw_request("POST", bookings, R"({"user":"x"})",
                   "X-Pad: " + std::string(9000, 'h') + "\r\n"),
       431, "headers:", true},
      {"garbage (a TLS hello)", std::string(tls_hello, sizeof tls_hello - 1), 400, "", true},
      {"NUL bytes", std::string(64, '\0'), 400, "", true},
      {"no colon", "POST " + bookings + " HTTP/1.1\r\nNoColonHere\r\n\r\n", 400, "", true},
      {"space before a header's colon (smuggling)",
       "POST " + bookings + " HTTP/1.1\r\nContent-Length : 12\r\n\r\n{\"user\":\"x\"}", 400,
       "headers:", true},
      {"bad Content-Length", "POST " + bookings + " HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400,
       "", true},
  };
}

// Each bad input gets its status and a JSON refusal naming what is wrong;
// the connection then answers the next request (or is closed after a
// framing error); nothing changes.
TEST(HttpRaw, EveryBadInputGetsItsStatusAndChangesNothing) {
  AdmitdProcess server = start_admitd();
  const std::string event = event_on(1, shards, "guarded");
  Client client;
  ASSERT_EQ(client.send("PUT", server.http_url("/v1/events/" + event), R"({"capacity":5})").status,
            201);
  ASSERT_EQ(
      client
          .send("POST", server.http_url("/v1/events/" + event + "/bookings"), R"({"user":"first"})")
          .status,
      201);
  const nlohmann::json before = get_json(server, "/v1/events/" + event);
  const nlohmann::json events_before = get_json(server, "/v1/events");
  const std::string follow_up = raw_request("GET", "/v1/events/" + event, "");
  for (const BadInput& bad : bad_inputs(event)) {
    SCOPED_TRACE(bad.name);
    Raw raw(server.http_port());
    ASSERT_TRUE(raw.send(bad.bytes + (bad.closes ? "" : follow_up)));
    bool timed_out = false;
    const std::string bytes = bad.closes ? raw.read_all(&timed_out) : raw.read_answers(2);
    EXPECT_FALSE(timed_out) << "the server closes after " << bad.name;
    const std::vector<RawAnswer> answers = split_answers(bytes);
    ASSERT_EQ(answers.size(), bad.closes ? 1u : 2u) << bytes.substr(0, 400);
    EXPECT_EQ(answers[0].status, bad.status) << answers[0].head;
    const nlohmann::json refusal = answers[0].json();
    EXPECT_TRUE(refusal.contains("outcome")) << answers[0].body;
    const std::string message = refusal.value("message", "");
    EXPECT_FALSE(message.empty()) << answers[0].body;
    EXPECT_TRUE(message.starts_with(bad.message_starts)) << message;
    if (bad.closes) {
      EXPECT_NE(answers[0].head.find("Connection: close"), std::string::npos);
    } else {
      EXPECT_EQ(answers[1].status, 200) << "the same connection still serves";
      EXPECT_EQ(answers[1].json(), before);
    }
    EXPECT_EQ(get_json(server, "/v1/events/" + event), before) << "nothing changed";
  }
  EXPECT_EQ(get_json(server, "/v1/events"), events_before);
  EXPECT_EQ(get_json(server, "/healthz")["status"], "ok");
}

// Slowloris: headers trickling in are closed after --http-header-timeout-ms,
// while other connections are served meanwhile; the trickled request never
// runs.
TEST(HttpRaw, SlowHeadersAreClosedWhileOthersAreServed) {
  AdmitdProcess server = start_admitd({"--http-header-timeout-ms", "300"});
  const std::string event = event_on(0, shards, "slow");
  Client client;
  ASSERT_EQ(client.send("PUT", server.http_url("/v1/events/" + event), R"({"capacity":5})").status,
            201);
  const nlohmann::json before = get_json(server, "/v1/events/" + event);
  Raw slow(server.http_port(), 50);
  const std::string request =
      raw_request("POST", "/v1/events/" + event + "/bookings", R"({"user":"loris"})");
  // All but the last bytes (the request never completes), 50 ms apart: about
  // 4 s, far past the 300 ms timeout.
  const int drips_max = static_cast<int>(request.size()) - 20;
  bool closed = false;
  int drips = 0;
  for (; drips < drips_max && !closed; ++drips) {
    if (!slow.send(request.substr(drips, 1))) {
      closed = true;
      break;
    }
    closed = slow.closed_by_server();  // waits 50 ms (the receive timeout) for a close
    if (drips % 4 == 0) {
      EXPECT_EQ(client.send("GET", server.http_url("/healthz")).status, 200) << "others served";
    }
  }
  EXPECT_TRUE(closed) << "still open after " << drips << " slow writes";
  EXPECT_EQ(get_json(server, "/v1/events/" + event), before) << "the slow request never ran";
}

// An idle keep-alive connection is closed after --http-idle-timeout-ms.
TEST(HttpRaw, IdleKeepAliveIsClosed) {
  AdmitdProcess server = start_admitd({"--http-idle-timeout-ms", "300"});
  Raw raw(server.http_port(), static_cast<int>(http_timeout_ms));
  ASSERT_TRUE(raw.send(raw_request("GET", "/healthz", "")));
  const std::vector<RawAnswer> answers = split_answers(raw.read_answers(1));
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].status, 200);
  EXPECT_EQ(answers[0].head.find("Connection: close"), std::string::npos) << "kept alive at first";
  EXPECT_TRUE(raw.closed_by_server()) << "closed within " << http_timeout_ms << " ms";
  Client client;
  EXPECT_EQ(client.send("GET", server.http_url("/healthz")).status, 200);
}

// A client that pipelines requests and never reads its answers is dropped
// once its send queue stays full; everyone else is served meanwhile.
TEST(HttpRaw, AClientThatNeverReadsIsDroppedWhileOthersAreServed) {
  AdmitdProcess server = start_admitd({"--max-send-queue-bytes", "65536"});
  Client client;
  for (int i = 0; i < 20; ++i) {  // a page of 20 events: a few KiB per answer
    ASSERT_EQ(
        client
            .send("PUT", server.http_url("/v1/events/ev-" + std::to_string(i)), R"({"capacity":5})")
            .status,
        201);
  }
  Raw stuck(server.http_port());
  int small = 4096;
  ::setsockopt(stuck.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  std::string requests;
  for (int i = 0; i < 2000; ++i) requests += raw_request("GET", "/v1/events", "");
  std::size_t sent = 0;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(http_timeout_ms);
  bool gone = false;
  while (!gone && std::chrono::steady_clock::now() < deadline) {
    sent += stuck.send_some(std::string_view(requests).substr(sent % requests.size()));
    EXPECT_EQ(client.send("GET", server.http_url("/healthz")).status, 200) << "others served";
    gone = stuck.gone_without_reading(100);
  }
  EXPECT_TRUE(gone) << "still connected after " << sent << " bytes of requests";
  EXPECT_EQ(get_json(server, "/v1/events")["events"].size(), 20u);
}

// Connections the server closed (bad input, slowloris, clients gone
// mid-request) give their places back: --max-connections stays usable.
TEST(HttpRaw, ClosedConnectionsGiveTheirPlacesBack) {
  AdmitdProcess server =
      start_admitd({"--max-connections", "3", "--http-header-timeout-ms", "200"});
  for (int i = 0; i < 8; ++i) {
    Raw garbage(server.http_port());
    garbage.send(std::string(tls_hello, sizeof tls_hello - 1));
    garbage.read_all();
    Raw slow(server.http_port());
    slow.send("GET /healthz HTTP/1.1\r\n");
    slow.read_all();  // until the header timeout closes it
    Raw gone(server.http_port());
    gone.send("POST /v1/events HTTP/1.1\r\nContent-Length: 100\r\n\r\n{");
  }  // the last ones are closed by the client, mid-request
  // All three places come back (the server notices the last closes soon).
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(http_timeout_ms);
  bool all_served = false;
  while (!all_served && std::chrono::steady_clock::now() < deadline) {
    std::vector<std::unique_ptr<Raw>> open;
    all_served = true;
    for (int i = 0; i < 3 && all_served; ++i) {
      open.push_back(std::make_unique<Raw>(server.http_port()));
      open.back()->send(raw_request("GET", "/healthz", ""));
      const std::vector<RawAnswer> answers = split_answers(open.back()->read_answers(1));
      all_served = answers.size() == 1 && answers[0].status == 200;
    }
    if (!all_served) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(all_served) << "three connections at once, as --max-connections allows";
}

ClientOptions binary_options(const AdmitdProcess& server);

// --http off: no HTTP port; the binary protocol serves as before.
TEST(HttpRaw, HttpOff) {
  AdmitdProcess server = start_admitd({"--http", "off"});
  EXPECT_EQ(server.ready_line().find("http 127.0.0.1"), std::string::npos) << server.ready_line();
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(server.http_port());
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_NE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ::close(fd);
  admit::Client binary(binary_options(server));
  EXPECT_TRUE(binary.connect().ok());
}

ClientOptions binary_options(const AdmitdProcess& server) {
  ClientOptions options;
  options.port = server.port();
  options.shard_aware = false;  // one connection each
  options.attempts_max = 1;
  return options;
}

// --max-connections counts both protocols: past it an HTTP connection gets
// 503 OVERLOADED, then is closed; a freed place serves again.
TEST(HttpRaw, MaxConnectionsSharedWithTheBinaryPort) {
  AdmitdProcess server = start_admitd({"--max-connections", "4"});
  admit::Client binary_a(binary_options(server));
  admit::Client binary_b(binary_options(server));
  ASSERT_TRUE(binary_a.connect().ok());
  ASSERT_TRUE(binary_b.connect().ok());
  std::vector<std::unique_ptr<Raw>> http;
  for (int i = 0; i < 2; ++i) {
    http.push_back(std::make_unique<Raw>(server.http_port()));
    ASSERT_TRUE(http.back()->send(raw_request("GET", "/healthz", "")));
    ASSERT_EQ(split_answers(http.back()->read_answers(1)).size(), 1u) << "connection " << i;
  }
  {
    Raw over(server.http_port());
    bool timed_out = false;
    const std::vector<RawAnswer> answers = split_answers(over.read_all(&timed_out));
    EXPECT_FALSE(timed_out) << "closed after the refusal";
    ASSERT_EQ(answers.size(), 1u);
    EXPECT_EQ(answers[0].status, 503);
    EXPECT_EQ(answers[0].json()["outcome"], "OVERLOADED");
    EXPECT_NE(answers[0].head.find("Connection: close"), std::string::npos);
  }
  {
    admit::Client binary_over(binary_options(server));
    const auto hello = binary_over.connect();
    EXPECT_FALSE(hello.ok()) << "a fifth binary connection is refused too";
    if (hello.answered()) {
      EXPECT_EQ(hello.outcome(), Outcome::overloaded);
    }
  }
  http.pop_back();  // a place frees up (the server sees the close soon)
  bool served = false;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(http_timeout_ms);
  while (!served && std::chrono::steady_clock::now() < deadline) {
    Raw again(server.http_port());
    again.send(raw_request("GET", "/healthz", ""));
    const std::vector<RawAnswer> answers = split_answers(again.read_answers(1));
    served = answers.size() == 1 && answers[0].status == 200;
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(served);
  EXPECT_TRUE(binary_a.get_event("none").answered()) << "the first ones still served";
}

}  // namespace
}  // namespace admit::test
