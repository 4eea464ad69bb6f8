// admitd's limits: connections past --max-connections are told OVERLOADED
// and closed; a client that never reads is paused and then dropped, and the
// others keep being served; a peer that stops mid-frame is closed after
// --frame-timeout-ms; an idle connection holds little memory, and abandoned
// ones leave none behind.
#include "server/server_limits.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <thread>

#include "tests/server/server_test_support.h"

namespace admit::test {
namespace {

// A process's resident memory: /proc/PID/statm's second field (pages).
std::uint64_t resident_bytes_of(pid_t pid) {
  std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
  std::uint64_t size_pages = 0, resident_pages = 0;
  statm >> size_pages >> resident_pages;
  return resident_pages * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

TEST(AdmitdLimits, ConnectionPastMaxConnectionsGetsOverloadedThenClose) {
  AdmitdProcess server(admitd_options(2, {"--max-connections", "4"}));
  std::vector<std::unique_ptr<WireClient>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<WireClient>(i % 2 ? server.port() : server.shard_port(0)));
    RequestFrame hello;
    hello.hello(1);
    ASSERT_NE(clients.back()->call(hello, 1), nullptr) << "connection " << i;
  }
  WireClient fifth(server.port());
  const wire::Reply* refusal = fifth.reply(0);
  ASSERT_NE(refusal, nullptr);
  EXPECT_EQ(outcome_of(refusal), Outcome::overloaded) << describe(refusal);
  EXPECT_NE(text_of(refusal->message()).find("--max-connections (4)"), std::string::npos)
      << describe(refusal);
  EXPECT_TRUE(fifth.wait_closed());

  // The four are still served; once one leaves, a newcomer is let in.
  RequestFrame hello;
  hello.hello(2);
  EXPECT_NE(clients[0]->call(hello, 2), nullptr);
  clients.pop_back();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  bool admitted = false;
  while (!admitted && std::chrono::steady_clock::now() < deadline) {
    WireClient newcomer(server.port());
    RequestFrame again;
    again.hello(3);
    const wire::Reply* reply = newcomer.call(again, 3);
    admitted = reply != nullptr && outcome_of(reply) == Outcome::ok;
  }
  EXPECT_TRUE(admitted);
  expect_clean_stop(server);
}

// The reader never reads: replies fill its socket, then the server's send
// queue (64 KiB here), the server stops reading it and finally drops it.
TEST(AdmitdLimits, ClientThatNeverReadsIsDroppedAndOthersAreServed) {
  AdmitdProcess server(admitd_options(2, {"--max-send-queue-bytes", "65536"}));
  WireClient good(server.port());
  RequestFrame create;
  create.create_event(1, "slow-reader-event", 100);
  ASSERT_EQ(outcome_of(good.call(create, 1)), Outcome::ok);

  WireClient slow(server.port());
  const int small = 4096;
  ::setsockopt(slow.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  RequestFrame batch;  // ~1000 GetEvent replies of ~150 bytes each per frame
  for (int i = 0; i < 1000; ++i) batch.get_event(i, "slow-reader-event");
  const std::vector<std::uint8_t> bytes = batch.bytes();

  // Write without ever reading until the server stops taking bytes (or drops
  // us); bounded in bytes and in time. Partial writes continue where they
  // stopped, so the stream stays well framed.
  bool dropped = false;
  std::size_t offset = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int frames = 0; frames < 2000 && !dropped;) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    const ssize_t n = ::send(slow.fd(), bytes.data() + offset, bytes.size() - offset,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      dropped = true;
    } else if (n < 0) {
      pollfd writable{slow.fd(), POLLOUT, 0};
      if (::poll(&writable, 1, 3000) == 0) break;  // the server stopped reading us
    } else {
      offset += static_cast<std::size_t>(n);
      if (offset == bytes.size()) {
        offset = 0;
        ++frames;
      }
    }
  }
  RequestFrame ping;  // meanwhile the good client is served
  ping.hello(1000);
  ASSERT_NE(good.call(ping, 1000), nullptr);
  // Paused; now it must be dropped (slow_reader_timeout_ms plus slack), which
  // shows as a hang-up or reset on a socket we never read from.
  for (int waited_ms = 0; !dropped && waited_ms < 30'000; waited_ms += 100) {
    pollfd hangup{slow.fd(), POLLRDHUP, 0};
    dropped =
        ::poll(&hangup, 1, 100) > 0 && (hangup.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }
  EXPECT_TRUE(dropped) << server.output();
  RequestFrame hello;
  hello.hello(5000);
  EXPECT_NE(good.call(hello, 5000), nullptr);
  WireClient fresh(server.port());
  RequestFrame again;
  again.hello(1);
  EXPECT_NE(fresh.call(again, 1), nullptr);
  expect_clean_stop(server);
}

// --max-inflight 1: after each forwarded request the server stops reading
// the connection until the answer is out, then resumes; nothing is lost.
TEST(AdmitdLimits, InflightLimitPausesReadingAndResumes) {
  AdmitdProcess server(admitd_options(2, {"--max-inflight", "1"}));
  const std::string event = event_on_shard("inflight", 1, 2);
  WireClient client(server.shard_port(0));  // every request is forwarded
  RequestFrame create;
  create.create_event(1, event, 1000);
  ASSERT_EQ(outcome_of(client.call(create, 1)), Outcome::ok);
  std::vector<std::uint8_t> burst;
  for (int i = 0; i < 200; ++i) {
    RequestFrame book;
    book.book(100 + i, event, "user-" + std::to_string(i));
    const auto bytes = book.bytes();
    burst.insert(burst.end(), bytes.begin(), bytes.end());
  }
  ASSERT_TRUE(client.send(burst));
  for (int i = 0; i < 200; ++i) {
    const wire::Reply* reply = client.reply(100 + i);
    ASSERT_NE(reply, nullptr) << "request " << 100 + i;
    EXPECT_EQ(outcome_of(reply), Outcome::booked) << describe(reply);
  }
  expect_clean_stop(server);
}

// --ring-size 16: a batch of 600 forwarded bookings overflows the ring; the
// overflow is answered OVERLOADED, the rest are booked, every request answered.
TEST(AdmitdLimits, FullRingAnswersOverloaded) {
  AdmitdProcess server(admitd_options(2, {"--ring-size", "16"}));
  const std::string event = event_on_shard("ring", 1, 2);
  WireClient client(server.shard_port(0));
  RequestFrame create;
  create.create_event(1, event, 1000);
  ASSERT_EQ(outcome_of(client.call(create, 1)), Outcome::ok);
  RequestFrame batch;
  constexpr int requests = 600;
  for (int i = 0; i < requests; ++i) batch.book(100 + i, event, "u" + std::to_string(i));
  ASSERT_TRUE(client.send(batch));
  int booked = 0;
  int overloaded = 0;
  for (int i = 0; i < requests; ++i) {
    const wire::Reply* reply = client.reply(100 + i);
    ASSERT_NE(reply, nullptr);
    if (outcome_of(reply) == Outcome::booked) ++booked;
    if (outcome_of(reply) == Outcome::overloaded) {
      ++overloaded;
      EXPECT_EQ(text_of(reply->message()).rfind("ring:", 0), 0u) << describe(reply);
    }
  }
  EXPECT_EQ(booked + overloaded, requests);
  EXPECT_GT(overloaded, 0);
  EXPECT_GE(booked, 16);
  const wire::EventInfo* info = get_event(client, 2, event);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->confirmed(), static_cast<std::uint32_t>(booked));
  expect_clean_stop(server);
}

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
// A sanitizer's shadow memory, redzones and quarantine grow with every byte
// admitd touches, so RSS does not measure admitd's own memory there; every
// other build checks it.
constexpr bool rss_measures_admitd = false;
#else
constexpr bool rss_measures_admitd = true;
#endif

// admitd's resident memory grew by at most `bytes_max` per connection since
// `before` (not checked where RSS is a sanitizer's).
void expect_memory_per_connection(const AdmitdProcess& server, std::uint64_t before,
                                  std::uint64_t connections, std::uint64_t bytes_max) {
  const std::uint64_t after = resident_bytes_of(server.pid());
  ASSERT_GT(before, 0u);
  if (!rss_measures_admitd) return;
  EXPECT_LE((after - std::min(after, before)) / connections, bytes_max)
      << before << " bytes resident before, " << after << " after";
}

// Answered and idle, a connection keeps only its struct (about 200 bytes):
// reply drafts and byte buffers go back to the shard's spares (issue target:
// at most 4 KiB per idle connection).
TEST(AdmitdLimits, IdleConnectionsHoldNoBuffers) {
  AdmitdProcess server(admitd_options(2));
  // Each shard's provided receive buffers are used in ring order, one per
  // receive: touched once here, so that their pages (a fixed cost of a few
  // MiB) are not counted against the connections below.
  for (std::uint32_t shard = 0; shard < 2; ++shard) {
    WireClient warm(server.shard_port(shard));
    for (std::uint64_t id = 1; id <= server::recv_buffer_count + 16; ++id) {
      RequestFrame frame;
      frame.get_event(id, "missing");
      ASSERT_NE(warm.call(frame, id), nullptr);
    }
  }
  const std::uint64_t before = resident_bytes_of(server.pid());
  constexpr std::uint64_t connections = 800;  // within a default limit of 1024 descriptors
  constexpr std::uint64_t bytes_per_connection_max = 1024;
  std::vector<std::unique_ptr<WireClient>> idle;
  for (std::uint64_t i = 0; i < connections; ++i) {
    idle.push_back(std::make_unique<WireClient>(server.port()));
    RequestFrame frame;
    frame.get_event(1, "missing");
    ASSERT_NE(idle.back()->call(frame, 1), nullptr) << "connection " << i;
  }
  expect_memory_per_connection(server, before, connections, bytes_per_connection_max);
  idle.clear();
  expect_clean_stop(server);
}

// An HTTP keep-alive connection, answered once, then left open.
class IdleHttp {
 public:
  // `requests` keep-alive requests, one after the other.
  explicit IdleHttp(std::uint16_t port, std::uint32_t requests = 1)
      : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    answered_ =
        fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    for (std::uint32_t i = 0; i < requests && answered_; ++i) {
      answered_ = ask("GET /healthz HTTP/1.1\r\nHost: admit\r\n\r\n");
    }
  }
  ~IdleHttp() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool answered() const { return answered_; }

 private:
  // Sends the request and reads until the answer's JSON body ends (bounded).
  bool ask(std::string_view request) {
    if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size())) {
      return false;
    }
    std::string answer;
    char bytes[1024];
    while (answer.find("}") == std::string::npos) {
      pollfd ready{fd_, POLLIN, 0};
      if (::poll(&ready, 1, 20'000) != 1) return false;
      const ssize_t got = ::recv(fd_, bytes, sizeof bytes, 0);
      if (got <= 0) return false;
      answer.append(bytes, static_cast<std::size_t>(got));
    }
    return answer.starts_with("HTTP/1.1 200");
  }

  int fd_;
  bool answered_ = false;
};

// Issue target: an idle HTTP connection costs no more than an idle binary
// one (at most 4 KiB; its parser and answer order hold no buffers).
TEST(AdmitdLimits, IdleHttpConnectionsHoldLittle) {
  AdmitdProcess server(admitd_options(2));
  // As above, every receive buffer touched first: 16 connections, spread
  // over both shards by the kernel, each reading more than all of them.
  for (int warm = 0; warm < 16; ++warm) {
    ASSERT_TRUE(IdleHttp(server.http_port(), server::recv_buffer_count + 16).answered());
  }
  const std::uint64_t before = resident_bytes_of(server.pid());
  constexpr std::uint64_t connections = 800;  // within a default limit of 1024 descriptors
  constexpr std::uint64_t bytes_per_connection_max = 4096;
  std::vector<std::unique_ptr<IdleHttp>> idle;
  for (std::uint64_t i = 0; i < connections; ++i) {
    idle.push_back(std::make_unique<IdleHttp>(server.http_port()));
    ASSERT_TRUE(idle.back()->answered()) << "connection " << i;
  }
  expect_memory_per_connection(server, before, connections, bytes_per_connection_max);
  idle.clear();
  expect_clean_stop(server);
}

// A frame of `declared` payload bytes of which only `sent` arrive (0: only
// the first 2 bytes of the length prefix).
std::vector<std::uint8_t> partial_frame(std::uint32_t declared, std::size_t sent) {
  if (sent == 0)
    return {static_cast<std::uint8_t>(declared), static_cast<std::uint8_t>(declared >> 8)};
  std::vector<std::uint8_t> bytes(frame_header_size + sent, 0);
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<std::uint8_t>(declared >> (8 * i));
  return bytes;
}

constexpr int frame_timeout_test_ms = 300;
const std::string frame_timeout_flag = std::to_string(frame_timeout_test_ms);

// Half a length prefix, or a prefix and part of the body, and then silence:
// closed after --frame-timeout-ms, not before. A connection that sent nothing
// (idle, not mid-frame) stays, and so does one whose frame arrives in pieces
// within the timeout.
TEST(AdmitdLimits, PeerStoppingMidFrameIsClosedAfterTheFrameTimeout) {
  AdmitdProcess server(admitd_options(2, {"--frame-timeout-ms", frame_timeout_flag}));
  WireClient idle(server.port());
  WireClient half_prefix(server.port());
  WireClient half_body(server.shard_port(1));
  const auto sent_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(half_prefix.send(partial_frame(64, 0)));
  ASSERT_TRUE(half_body.send(partial_frame(4096, 1000)));

  // A whole frame in two pieces, 100 ms apart: served.
  WireClient pieces(server.port());
  RequestFrame hello;
  hello.hello(7);
  const std::vector<std::uint8_t> bytes = hello.bytes();
  const std::size_t half = bytes.size() / 2;
  ASSERT_TRUE(pieces.send(std::span(bytes).first(half)));
  std::this_thread::sleep_for(std::chrono::milliseconds(frame_timeout_test_ms / 3));
  ASSERT_TRUE(pieces.send(std::span(bytes).subspan(half)));
  ASSERT_NE(pieces.reply(7), nullptr);

  EXPECT_TRUE(half_prefix.wait_closed(10 * frame_timeout_test_ms));
  EXPECT_TRUE(half_body.wait_closed(10 * frame_timeout_test_ms));
  const auto waited = std::chrono::steady_clock::now() - sent_at;
  EXPECT_GE(waited, std::chrono::milliseconds(frame_timeout_test_ms - 50));

  RequestFrame again;
  again.hello(8);
  EXPECT_NE(idle.call(again, 8), nullptr) << "an idle connection is not mid-frame";
  expect_clean_stop(server);
}

// 500 connections that each send part of a frame and are then abandoned
// (left open, silent) are closed by the frame timeout and leave admitd's
// memory where it was: their slots and reassembly buffers are freed or
// reused, not kept. One round first warms the heap and the slot table; two
// more rounds must then add at most a little (a leak of their 8 KiB buffers
// would be 8 MiB).
TEST(AdmitdLimits, ConnectionsAbandonedMidFrameLeaveNoMemoryBehind) {
  AdmitdProcess server(admitd_options(2, {"--frame-timeout-ms", frame_timeout_flag}));
  constexpr int connections = 500;  // within a default limit of 1024 descriptors
  constexpr std::uint64_t growth_max = 512 * 1024;
  const auto abandon_round = [&server] {
    std::vector<std::unique_ptr<WireClient>> abandoned;
    for (int i = 0; i < connections; ++i) {
      abandoned.push_back(std::make_unique<WireClient>(
          i % 3 == 0 ? server.port() : server.shard_port(static_cast<std::uint32_t>(i) % 2)));
      ASSERT_TRUE(abandoned.back()->send(partial_frame(8192, 4096))) << "connection " << i;
    }
    for (int i = 0; i < connections; ++i) {
      ASSERT_TRUE(abandoned[i]->wait_closed(20 * frame_timeout_test_ms)) << "connection " << i;
    }
  };
  // Every receive buffer's first two pages touched (as the partial frames
  // below touch them), so that their fixed cost is not counted.
  for (std::uint32_t shard = 0; shard < 2; ++shard) {
    WireClient warm(server.shard_port(shard));
    for (std::uint64_t call = 1; call <= server::recv_buffer_count + 16; ++call) {
      RequestFrame frame;
      for (std::uint64_t id = call * 100; id < call * 100 + 32; ++id) {
        frame.get_event(id, std::string(event_id_size_max, 'w'));
      }
      ASSERT_NE(warm.call(frame, call * 100), nullptr);
    }
  }
  abandon_round();
  const std::uint64_t before = resident_bytes_of(server.pid());
  abandon_round();
  abandon_round();
  const std::uint64_t after = resident_bytes_of(server.pid());
  ASSERT_GT(before, 0u);
  if (rss_measures_admitd) {
    EXPECT_LE(after - std::min(after, before), growth_max)
        << before << " bytes resident before, " << after << " after";
  }
  WireClient fresh(server.port());
  RequestFrame hello;
  hello.hello(1);
  EXPECT_NE(fresh.call(hello, 1), nullptr);
  expect_clean_stop(server);
}

}  // namespace
}  // namespace admit::test
