// Idempotent retries through a faulty link: a proxy between the client and a
// real admitd loses the answer to a booking (drops the connection, or holds the
// answer until the client times out). The client reconnects and retries with
// the same request id, so the server answers BOOKED with the original ref, not
// ALREADY_BOOKED, and books nothing twice.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include <gtest/gtest.h>

#include "admit/client.h"
#include "tests/support/admitd_process.h"

namespace admit {
namespace {

enum class Fault { drop_connection, hold_answer };

// Relays one client connection at a time to the server's base port. The server
// frame numbered `lost_frame` (counting from 0 over all connections; -1: none) never
// reaches the client: the link drops, or goes silent until the client hangs up.
class LossyProxy {
 public:
  LossyProxy(std::uint16_t server_port, Fault fault, int lost_frame)
      : server_port_(server_port), fault_(fault), lost_frame_(lost_frame) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address = loopback(0);
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(::listen(listener_, 8), 0);
    socklen_t size = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~LossyProxy() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
  }
  std::uint16_t port() const { return port_; }
  int connections() const { return connections_; }

 private:
  static sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    return address;
  }

  void serve() {
    while (!stop_) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int client = ::accept(listener_, nullptr, nullptr);
      const int server = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in address = loopback(server_port_);
      if (::connect(server, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
        ++connections_;
        relay(client, server);
      }
      ::close(client);
      ::close(server);
    }
  }

  // Until either side hangs up (or the fault strikes).
  void relay(int client, int server) {
    std::string from_server;
    bool silent = false;
    char buffer[64 * 1024];
    while (!stop_) {
      pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (::poll(fds, 2, 50) <= 0) continue;
      if (fds[0].revents != 0) {
        const ssize_t n = ::read(client, buffer, sizeof buffer);
        if (n <= 0) return;
        if (::write(server, buffer, n) != n) return;
      }
      if (fds[1].revents != 0) {
        const ssize_t n = ::read(server, buffer, sizeof buffer);
        if (n <= 0) return;
        if (silent) continue;
        from_server.append(buffer, n);
        if (!forward_frames(client, &from_server, &silent)) return;
      }
    }
  }

  // Sends the whole frames of *bytes to the client; false to drop the link.
  bool forward_frames(int client, std::string* bytes, bool* silent) {
    while (bytes->size() >= 4) {
      std::uint32_t length = 0;
      std::memcpy(&length, bytes->data(), 4);  // little-endian host
      if (bytes->size() < 4 + length) break;
      if (frames_++ == lost_frame_) {
        if (fault_ == Fault::drop_connection) return false;
        *silent = true;
        return true;
      }
      if (::write(client, bytes->data(), 4 + length) != static_cast<ssize_t>(4 + length)) {
        return false;
      }
      bytes->erase(0, 4 + length);
    }
    return true;
  }

  const std::uint16_t server_port_;
  const Fault fault_;
  const int lost_frame_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  int frames_ = 0;
  std::thread thread_;
};

// One admitd for the whole binary, stopped at exit.
test::AdmitdProcess& server() {
  static test::AdmitdProcess process;
  return process;
}

class Retry : public ::testing::TestWithParam<Fault> {};

TEST_P(Retry, LostAnswerIsRetriedWithTheSameRequestId) {
  const std::string event = GetParam() == Fault::drop_connection ? "retry-drop" : "retry-hold";
  ClientOptions direct;
  direct.port = server().port();
  Client setup(direct);
  ASSERT_TRUE(setup.create_event({.id = event, .capacity = 10}).ok());

  // Frame 0 is the Hello answer; frame 1 the answer to the booking.
  LossyProxy proxy(server().port(), GetParam(), 1);
  ClientOptions through_proxy;
  through_proxy.port = proxy.port();
  through_proxy.shard_aware = false;  // the proxy fronts the base port only
  through_proxy.request_timeout = std::chrono::milliseconds(1000);
  through_proxy.retry_backoff = std::chrono::milliseconds(10);
  Client client(through_proxy);
  const Result<BookReply> booked = client.book({.event = event, .user = "ann", .seats = 3});
  ASSERT_EQ(booked.outcome(), Outcome::booked) << booked.status().to_string();
  EXPECT_EQ(proxy.connections(), 2);  // the answer was lost once, then retried

  // The first attempt did book: its answer is what the retry got back.
  const Result<BookingPage> bookings = setup.list_bookings(event);
  ASSERT_EQ(bookings->bookings.size(), 1u);
  EXPECT_EQ(bookings->bookings[0].ref, booked->ref);
  EXPECT_EQ(setup.get_event(event)->confirmed, 3u);
}

INSTANTIATE_TEST_SUITE_P(Faults, Retry,
                         ::testing::Values(Fault::drop_connection, Fault::hold_answer));

TEST(ShardFallback, UnreachableShardPortsFallBackToTheBasePort) {
  ClientOptions direct;
  direct.port = server().port();
  Client setup(direct);
  ASSERT_TRUE(setup.create_event({.id = "fallback", .capacity = 5}).ok());
  // The proxy's port + 1 + shard is not admitd: the client must use the base port.
  LossyProxy proxy(server().port(), Fault::drop_connection, -1);
  ClientOptions options;
  options.port = proxy.port();
  Client client(options);
  const Result<BookReply> booked = client.book({.event = "fallback", .user = "u"});
  ASSERT_EQ(booked.outcome(), Outcome::booked) << booked.status().to_string();
  EXPECT_EQ(client.last_port(), proxy.port());
  EXPECT_EQ(client.last_shard(), -1);
  EXPECT_TRUE(client.get_booking(booked->ref).ok());
  EXPECT_EQ(client.last_port(), proxy.port());
}

}  // namespace
}  // namespace admit
