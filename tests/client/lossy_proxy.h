// A faulty link for retry tests: relays one client connection at a time to
// an admitd port and does something to one frame the server sends (counting
// from 0 over all connections; Hello's answer is the first of each): drops
// the link there (optionally after half the frame), goes silent, loses just
// that frame, or holds it back for a while. Every wait is bounded.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

namespace admit::test {

enum class Fault {
  drop_connection,  // the frame never arrives: the link closes there
  cut_frame,        // half the frame arrives, then the link closes
  hold_answer,      // the frame and everything after it on this link never arrive
  lose_frame,       // only that frame is lost; the link goes on
  delay_frame,      // that frame arrives `delay` late; the others pass at once
};

class LossyProxy {
 public:
  LossyProxy(std::uint16_t server_port, Fault fault, int lost_frame,
             std::chrono::milliseconds delay = std::chrono::milliseconds(0))
      : server_port_(server_port), fault_(fault), lost_frame_(lost_frame), delay_(delay) {
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
  LossyProxy(const LossyProxy&) = delete;
  LossyProxy& operator=(const LossyProxy&) = delete;

  std::uint16_t port() const { return port_; }
  int connections() const { return connections_; }
  // The faulty frame was met (and, for delay_frame, finally sent).
  bool struck() const { return struck_; }

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr int poll_ms = 10;

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
      if (::poll(&p, 1, poll_ms) <= 0) continue;
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
    silent_ = false;
    held_.clear();
    char buffer[64 * 1024];
    while (!stop_) {
      if (!held_.empty() && Clock::now() >= held_until_) {
        if (!write_all(client, held_)) return;
        held_.clear();
        struck_ = true;
      }
      pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (::poll(fds, 2, poll_ms) <= 0) continue;
      if (fds[0].revents != 0) {
        const ssize_t n = ::read(client, buffer, sizeof buffer);
        if (n <= 0) return;
        if (!write_all(server, std::string_view(buffer, static_cast<std::size_t>(n)))) return;
      }
      if (fds[1].revents != 0) {
        const ssize_t n = ::read(server, buffer, sizeof buffer);
        if (n <= 0) return;
        if (silent_) continue;
        from_server.append(buffer, static_cast<std::size_t>(n));
        if (!forward_frames(client, &from_server)) return;
      }
    }
  }

  static bool write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd, bytes.data(), bytes.size());
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Sends the whole frames of *bytes to the client; false to drop the link.
  bool forward_frames(int client, std::string* bytes) {
    while (bytes->size() >= 4) {
      std::uint32_t length = 0;
      std::memcpy(&length, bytes->data(), 4);  // little-endian host
      if (bytes->size() < 4 + length) break;
      const std::string_view frame(bytes->data(), 4 + length);
      if (frames_++ == lost_frame_) {
        switch (fault_) {
          case Fault::drop_connection:
            struck_ = true;
            return false;
          case Fault::cut_frame:
            write_all(client, frame.substr(0, frame.size() / 2));
            struck_ = true;
            return false;
          case Fault::hold_answer:
            silent_ = true;
            struck_ = true;
            return true;
          case Fault::lose_frame:
            struck_ = true;
            break;
          case Fault::delay_frame:
            held_.assign(frame);
            held_until_ = Clock::now() + delay_;
            break;
        }
      } else if (!write_all(client, frame)) {
        return false;
      }
      bytes->erase(0, frame.size());
    }
    return true;
  }

  const std::uint16_t server_port_;
  const Fault fault_;
  const int lost_frame_;
  const std::chrono::milliseconds delay_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<bool> struck_{false};
  int frames_ = 0;
  bool silent_ = false;
  std::string held_;  // delay_frame: the frame held back, sent at held_until_
  Clock::time_point held_until_{};
  std::thread thread_;
};

}  // namespace admit::test
