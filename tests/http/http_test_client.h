// Clients for the HTTP tests against a real admitd: libcurl (a client nobody
// here wrote) for what clients send, raw sockets for what they do not.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/http/auth.h"

namespace admit::test {

// Every wait in these tests is bounded by this (a hung server fails the test).
inline constexpr long http_timeout_ms = 15'000;

struct Reply {
  long status = 0;  // 0: no answer (the transfer failed)
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  long new_connections = 0;
  nlohmann::json json() const;  // the body, or a "not JSON" marker object
  std::string outcome() const;  // json()["outcome"] or empty
  std::string message() const;  // json()["message"] or empty
  std::string header(const std::string& lower_case_name) const;  // empty when absent
};

// One curl handle: its connection is kept alive across requests.
class Client {
 public:
  Client();
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // A failed transfer (no answer) adds a test failure unless `may_fail`.
  Reply send(const std::string& method, const std::string& url, const std::string& body = "",
             const std::vector<std::string>& headers = {}, bool may_fail = false);

 private:
  void* curl_;
};

struct Request {
  std::string method;
  std::string url;
  std::string body;
  std::vector<std::string> headers;
};

// Sends every request at once over its own connection (curl multi: as many
// connections open and in flight together as there are requests) and
// returns the replies in request order. A transfer that fails adds a test
// failure (its Reply has status 0).
std::vector<Reply> send_concurrently(const std::vector<Request>& requests);

// A bearer header for a token signed with `secret`.
std::string bearer(std::string_view secret, server::http::Role role, std::string sub = {},
                   std::optional<std::int64_t> exp_s = std::nullopt);

// A blocking loopback TCP connection with a receive timeout.
class Raw {
 public:
  explicit Raw(std::uint16_t port, int receive_timeout_ms = http_timeout_ms);
  ~Raw();
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;

  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  // False when the bytes could not all be sent (the server closed).
  bool send(std::string_view bytes);
  // Everything until the server closes (or the receive timeout: then `timed_out`).
  std::string read_all(bool* timed_out = nullptr);
  // Reads until `count` whole answers (headers and Content-Length body) came,
  // the server closed or the timeout passed.
  std::string read_answers(std::size_t count);
  // True when the server has closed: recv() gives 0 or a reset within the timeout.
  bool closed_by_server();
  // Sends what the kernel takes without blocking; the bytes sent.
  std::size_t send_some(std::string_view bytes);
  // Without reading: whether the server closed or reset the connection
  // (TCP state no longer ESTABLISHED), waiting up to `wait_ms` for it.
  bool gone_without_reading(int wait_ms);

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// "HTTP/1.1 201" of every answer in `bytes`, in order.
std::vector<std::string> status_lines(const std::string& bytes);
// Whole answers in `bytes` (status line, headers, Content-Length body).
std::size_t complete_answers(const std::string& bytes);
struct RawAnswer {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
  nlohmann::json json() const;  // the body, or a "not JSON" marker object
};
// The whole answers in `bytes`, in order.
std::vector<RawAnswer> split_answers(const std::string& bytes);
// A raw request with a body and its Content-Length.
std::string raw_request(std::string_view method, std::string_view target, std::string_view body,
                        std::string_view extra_headers = {});

// An event id that shard `shard` of `shards` owns, distinct per `tag`.
std::string event_on(std::uint32_t shard, std::uint32_t shards, std::string_view tag);

}  // namespace admit::test
