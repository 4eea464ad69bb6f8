#include "connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <optional>

#include "codec.h"
#include "protocol/assertions.h"
#include "protocol/framing.h"

namespace admit {
namespace {

constexpr std::size_t in_buffer_initial_size = 64 * 1024;
constexpr std::size_t read_chunk_min = 16 * 1024;

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(left.count());
}

std::string errno_text() { return std::strerror(errno); }

}  // namespace

Connection::Connection(const ClientOptions& options, std::uint16_t port, UpdateSink* updates)
    : options_(options), port_(port), updates_(updates), pipeline_(options) {}

Connection::~Connection() { close(ClientError::connection_lost, "client closed"); }

std::string Connection::address() const { return options_.host + ":" + std::to_string(port_); }

Status Connection::connect_socket(Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port_);
  if (int rc = ::getaddrinfo(options_.host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return Status::failure(ClientError::could_not_connect, address() + ": " + ::gai_strerror(rc));
  }
  std::string why = "no address";
  for (addrinfo* a = found; a != nullptr && fd_ < 0; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      why = errno_text();
      continue;
    }
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, remaining_ms(deadline));
      int error = 0;
      socklen_t len = sizeof error;
      if (rc == 0) {
        error = ETIMEDOUT;
      } else if (rc > 0) {
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
      } else {
        error = errno;
      }
      errno = error;
      rc = error == 0 ? 0 : -1;
    }
    if (rc != 0) {
      why = errno_text();
      ::close(fd);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fd_ = fd;
  }
  ::freeaddrinfo(found);
  if (fd_ < 0) return Status::failure(ClientError::could_not_connect, address() + ": " + why);
  return Status();
}

Result<HelloInfo> Connection::open() {
  if (is_open()) return Result<HelloInfo>(Status(), HelloInfo{1, 0, shard_});
  if (dispatching()) {
    return Status::failure(ClientError::could_not_connect,
                           address() +
                               ": closed during the callbacks of its replies; "
                               "reconnects once they return");
  }
  if (options_.token.size() > token_size_max) {
    return Status::failure(ClientError::invalid_argument,
                           "token: longer than " + std::to_string(token_size_max) + " bytes");
  }
  const auto connect_deadline = Clock::now() + options_.connect_timeout;
  if (Status s = connect_socket(connect_deadline); !s.answered()) return s;
  static std::atomic<std::uint64_t> links{0};
  link_ = ++links;
  in_size_ = 0;
  Result<HelloInfo> hello;
  bool done = false;
  add([this](codec::Builder& b) { return codec::encode_hello(b, options_.token); },
      [&hello, &done](const ReplyView& reply) {
        hello = Result<HelloInfo>(reply.status(), reply.hello());
        done = true;
      });
  await(done, Clock::now() + options_.request_timeout);
  if (hello.error() == ClientError::connection_lost || hello.error() == ClientError::timed_out) {
    // The port accepted and then said nothing useful: as good as unreachable.
    return Status::failure(ClientError::could_not_connect,
                           address() + ": no Hello answer (" + hello.message() + ")");
  }
  if (!hello.ok()) {
    close(ClientError::could_not_connect, "Hello refused");
    return hello;
  }
  shard_ = hello->shard;
  return hello;
}

void Connection::close(ClientError error, std::string_view why) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  pushes_expected_ = false;
  out_sent_ = 0;
  in_size_ = 0;
  pipeline_.fail_all(error, address() + ": " + std::string(why));
}

Status Connection::flush(std::chrono::milliseconds wait_max) {
  pipeline_.close_frame();
  // One clock read per flush that hands new requests over, none per request.
  if (pipeline_.has_unstamped()) pipeline_.stamp(Clock::now() + options_.request_timeout);
  // Read the clock for the send only when the socket is full: flushing is per
  // poll, and under load most polls never wait.
  std::optional<Clock::time_point> deadline;
  std::vector<std::uint8_t>& out = pipeline_.output();
  while (is_open() && out_sent_ < out.size()) {
    const ssize_t n = ::send(fd_, out.data() + out_sent_, out.size() - out_sent_, MSG_NOSIGNAL);
    if (n > 0) {
      out_sent_ += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // Replies may be what fills the pipe: drain them while waiting to write
      // (unless a callback is flushing: then the caller's dispatch drains them).
      const bool in_callback = dispatching();
      if (!in_callback) read_and_dispatch();
      if (!is_open()) break;
      pollfd p{fd_, static_cast<short>(in_callback ? POLLOUT : POLLOUT | POLLIN), 0};
      if (!deadline) deadline = Clock::now() + wait_max;
      if (::poll(&p, 1, remaining_ms(*deadline)) == 0) {
        close(ClientError::timed_out, "send timed out");
        return Status::failure(ClientError::timed_out, address() + ": send timed out");
      }
      continue;
    }
    const std::string why = "send: " + errno_text();
    close(ClientError::connection_lost, why);
    return Status::failure(ClientError::connection_lost, address() + ": " + why);
  }
  if (!is_open()) return Status::failure(ClientError::connection_lost, address() + ": closed");
  out.clear();
  out_sent_ = 0;
  return Status();
}

std::size_t Connection::expire(Clock::time_point now) {
  Clock::time_point deadline;
  if (!pipeline_.next_deadline(&deadline) || deadline > now) return 0;
  std::size_t ran = 0;
  pipeline_.expire(now, address() + ": no answer within the request timeout", &ran);
  return ran;
}

std::size_t Connection::read_and_dispatch() {
  ADMIT_ASSERT(!pipeline_.dispatching());  // callbacks must not poll
  std::size_t ran = 0;
  while (is_open()) {
    if (in_.size() - in_size_ < read_chunk_min) {
      in_.resize(std::max(in_.size() * 2, in_buffer_initial_size));
    }
    const std::size_t room = in_.size() - in_size_;
    const ssize_t n = ::recv(fd_, in_.data() + in_size_, room, 0);
    if (n > 0) {
      in_size_ += static_cast<std::size_t>(n);
      ran += dispatch_buffered(Clock::now());
      // A short read drained the socket: skip the recv that would say EAGAIN.
      if (static_cast<std::size_t>(n) < room) break;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    close(ClientError::connection_lost,
          n == 0 ? "server closed the connection" : "recv: " + errno_text());
  }
  return ran;
}

std::size_t Connection::dispatch_buffered(Clock::time_point received_at) {
  std::size_t ran = 0;
  std::size_t start = 0;
  while (is_open()) {
    const FrameScan scan =
        scan_frame(std::span<const std::uint8_t>(in_.data() + start, in_size_ - start));
    if (scan.status == FrameScanStatus::incomplete) {
      // Make room for a frame larger than the buffer; frame_size_max bounds it.
      const std::size_t need = frame_header_size + scan.payload_size;
      if (need > in_.size()) in_.resize(need + read_chunk_min);
      break;
    }
    if (scan.status != FrameScanStatus::complete) {
      close(ClientError::protocol_error, "bad frame length from server");
      return ran;
    }
    const std::uint8_t* frame = in_.data() + start;
    const std::size_t frame_size = frame_header_size + scan.payload_size;
    start += frame_size;
    if (reinterpret_cast<std::uintptr_t>(frame) % alignof(std::uint64_t) != 0) {
      // FlatBuffers aligns fields relative to the frame start: verify an aligned copy.
      aligned_copy_.resize((frame_size + 7) / 8);
      std::memcpy(aligned_copy_.data(), frame, frame_size);
      frame = reinterpret_cast<const std::uint8_t*>(aligned_copy_.data());
    }
    std::string why;
    if (!pipeline_.dispatch_frame(std::span<const std::uint8_t>(frame, frame_size), received_at,
                                  &ran, &why, updates_, link_)) {
      close(ClientError::protocol_error, why);
      return ran;
    }
  }
  if (!is_open()) return ran;
  std::memmove(in_.data(), in_.data() + start, in_size_ - start);
  in_size_ -= start;
  return ran;
}

void Connection::await(const bool& done, Clock::time_point deadline) {
  if (!done && is_open()) {
    flush(std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()));
  }
  while (!done && is_open()) {
    read_and_dispatch();
    if (done || !is_open()) break;
    pollfd p{fd_, POLLIN, 0};
    const int rc = ::poll(&p, 1, remaining_ms(deadline));
    if (rc == 0) close(ClientError::timed_out, "no answer within the request timeout");
  }
  ADMIT_ASSERT(done);  // every path either answers or closes, and closing answers
}

}  // namespace admit
