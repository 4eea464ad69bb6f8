#include "bench/admit-bench/sse_watcher.h"

#include <fmt/format.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace admit::bench {
namespace {

constexpr std::string_view head_end = "\r\n\r\n";
constexpr std::string_view status_ok = "HTTP/1.1 200";
constexpr std::size_t read_chunk = 16 * 1024;

}  // namespace

SseWatcher::~SseWatcher() { close(); }

SseWatcher::SseWatcher(SseWatcher&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), accepted_(other.accepted_), in_(std::move(other.in_)) {}

void SseWatcher::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool SseWatcher::open(const std::string& host, std::uint16_t port, std::string_view event,
                      std::string_view token, std::string* why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    *why = fmt::format("{}:{}: {}", host, port, ::gai_strerror(rc));
    return false;
  }
  for (addrinfo* a = found; a != nullptr && fd_ < 0; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      fd_ = fd;
    } else {
      *why = fmt::format("{}:{}: {}", host, port, std::strerror(errno));
      ::close(fd);
    }
  }
  ::freeaddrinfo(found);
  if (fd_ < 0) return false;
  std::string request = fmt::format(
      "GET /v1/events/{}/watch HTTP/1.1\r\nHost: {}:{}\r\nAccept: text/event-stream\r\n", event,
      host, port);
  if (!token.empty()) request += fmt::format("Authorization: Bearer {}\r\n", token);
  request += "\r\n";
  if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    *why = fmt::format("{}:{}: send: {}", host, port, std::strerror(errno));
    close();
    return false;
  }
  return true;
}

bool SseWatcher::read(const std::function<void(std::string_view data)>& on_event,
                      std::string* why) {
  char buffer[read_chunk];
  while (fd_ >= 0) {
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n > 0) {
      in_.append(buffer, static_cast<std::size_t>(n));
      if (!parse(on_event, why)) {
        close();
        return false;
      }
      if (static_cast<std::size_t>(n) < sizeof buffer) return true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    *why = n == 0 ? "the server closed the stream" : std::string("recv: ") + std::strerror(errno);
    close();
    return false;
  }
  return false;
}

bool SseWatcher::parse(const std::function<void(std::string_view data)>& on_event,
                       std::string* why) {
  std::size_t start = 0;
  if (!accepted_) {
    const std::size_t end = in_.find(head_end);
    if (end == std::string::npos) return true;
    if (in_.compare(0, status_ok.size(), status_ok) != 0) {
      *why = "not an event stream: " + in_.substr(0, in_.find("\r\n"));
      return false;
    }
    accepted_ = true;
    start = end + head_end.size();
  }
  // Events end with a blank line; comments (": heartbeat") carry no data.
  while (true) {
    const std::size_t end = in_.find("\n\n", start);
    if (end == std::string::npos) break;
    const std::string_view block(in_.data() + start, end - start);
    for (std::size_t line_start = 0; line_start <= block.size();) {
      std::size_t line_end = block.find('\n', line_start);
      if (line_end == std::string_view::npos) line_end = block.size();
      const std::string_view line = block.substr(line_start, line_end - line_start);
      if (line.starts_with("data:")) on_event(line.substr(line.starts_with("data: ") ? 6 : 5));
      line_start = line_end + 1;
    }
    start = end + 2;
  }
  in_.erase(0, start);
  return true;
}

}  // namespace admit::bench
