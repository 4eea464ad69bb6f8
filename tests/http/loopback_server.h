// A test server for the HTTP adapter's library: one thread, poll(), two
// state machines standing for two shards, no WAL. It runs the adapter's
// path the way the reactor will (RequestParser -> Preparer -> command ->
// finish -> AnswerOrder) so that a real client (libcurl) and raw sockets
// can hold the library to DESIGN.md before admitd serves HTTP. Results of
// shard 1 are delivered after those of shard 0 in each turn, so pipelined
// answers really complete out of order.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>

namespace admit::server::http {

class LoopbackServer {
 public:
  // `secret` set: auth on.
  explicit LoopbackServer(std::optional<std::string> secret = std::nullopt);
  ~LoopbackServer();
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(std::string_view path) const;
  // Connections the server holds right now.
  int connections() const { return connections_.load(); }

 private:
  void run(std::optional<std::string> secret);

  int listen_fd_ = -1;
  int stop_fd_ = -1;  // eventfd: wakes the loop to stop
  std::uint16_t port_ = 0;
  std::atomic<int> connections_{0};
  std::thread thread_;
};

}  // namespace admit::server::http
