#include "tests/server/wire_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "protocol/framing.h"

namespace admit::test {

using flatbuffers::Offset;

std::string_view text_of(const flatbuffers::String* text) {
  return text == nullptr ? std::string_view{} : std::string_view(text->c_str(), text->size());
}

RequestFrame& RequestFrame::add(std::uint64_t id, wire::Op type, Offset<void> op) {
  requests_.push_back(wire::CreateRequest(builder_, id, type, op));
  return *this;
}

RequestFrame& RequestFrame::hello(std::uint64_t id, std::uint32_t version, std::string_view token) {
  const auto text = token.empty() ? 0 : builder_.CreateString(token);
  return add(id, wire::Op::Hello, wire::CreateHello(builder_, version, text).Union());
}

RequestFrame& RequestFrame::create_event(std::uint64_t id, std::string_view event,
                                         std::uint32_t capacity, std::uint32_t hold_ttl_ms,
                                         bool waitlist) {
  const auto name = builder_.CreateString(event);
  return add(id, wire::Op::CreateEvent,
             wire::CreateCreateEvent(builder_, name, capacity, 0, hold_ttl_ms, waitlist).Union());
}

RequestFrame& RequestFrame::get_event(std::uint64_t id, std::string_view event) {
  const auto name = builder_.CreateString(event);
  return add(id, wire::Op::GetEvent, wire::CreateGetEvent(builder_, name).Union());
}

RequestFrame& RequestFrame::list_events(std::uint64_t id, std::string_view after,
                                        std::uint32_t limit) {
  const auto cursor = builder_.CreateString(after);
  return add(id, wire::Op::ListEvents, wire::CreateListEvents(builder_, cursor, limit).Union());
}

RequestFrame& RequestFrame::book(std::uint64_t id, std::string_view event, std::string_view user,
                                 std::uint32_t seats, bool hold) {
  const auto name = builder_.CreateString(event);
  const auto who = builder_.CreateString(user);
  return add(id, wire::Op::Book, wire::CreateBook(builder_, name, who, seats, hold).Union());
}

RequestFrame& RequestFrame::book_batch(std::uint64_t id, std::string_view event,
                                       const std::vector<BatchItem>& items, std::size_t texts_cut) {
  std::vector<wire::BookItem> structs;
  std::string texts;
  for (const BatchItem& item : items) {
    structs.emplace_back(item.seats, static_cast<std::uint8_t>(item.user.size()),
                         static_cast<std::uint8_t>(item.request_id.size()), false,
                         wire::WaitlistChoice::Default);
    texts += item.user + item.request_id;
  }
  texts.resize(texts.size() - texts_cut);
  const auto name = builder_.CreateString(event);
  const auto items_offset = builder_.CreateVectorOfStructs(structs);
  const auto texts_offset =
      builder_.CreateVector(reinterpret_cast<const std::uint8_t*>(texts.data()), texts.size());
  return add(id, wire::Op::BookBatch,
             wire::CreateBookBatch(builder_, name, items_offset, texts_offset).Union());
}

RequestFrame& RequestFrame::confirm(std::uint64_t id, std::string_view ref) {
  const auto text = builder_.CreateString(ref);
  return add(id, wire::Op::Confirm, wire::CreateConfirm(builder_, text).Union());
}

RequestFrame& RequestFrame::cancel(std::uint64_t id, std::string_view ref) {
  const auto text = builder_.CreateString(ref);
  return add(id, wire::Op::Cancel, wire::CreateCancel(builder_, text).Union());
}

RequestFrame& RequestFrame::get_booking(std::uint64_t id, std::string_view ref) {
  const auto text = builder_.CreateString(ref);
  return add(id, wire::Op::GetBooking, wire::CreateGetBooking(builder_, text).Union());
}

RequestFrame& RequestFrame::list_bookings(std::uint64_t id, std::string_view event,
                                          std::string_view after, std::uint32_t limit) {
  const auto name = builder_.CreateString(event);
  const auto cursor = after.empty() ? 0 : builder_.CreateString(after);
  return add(id, wire::Op::ListBookings,
             wire::CreateListBookings(builder_, name, cursor, limit).Union());
}

RequestFrame& RequestFrame::waitlist_position(std::uint64_t id, std::string_view event,
                                              std::string_view user) {
  const auto name = builder_.CreateString(event);
  const auto who = builder_.CreateString(user);
  return add(id, wire::Op::WaitlistPosition,
             wire::CreateWaitlistPosition(builder_, name, who).Union());
}

RequestFrame& RequestFrame::stats(std::uint64_t id) {
  return add(id, wire::Op::Stats, wire::CreateStats(builder_).Union());
}

std::vector<std::uint8_t> RequestFrame::bytes() {
  const auto vector = builder_.CreateVector(requests_);
  finish_frame(builder_, wire::CreateFrame(builder_, vector, 0));
  const auto span = builder_.GetBufferSpan();
  return {span.begin(), span.end()};
}

WireClient::WireClient(std::uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd_);
    throw std::runtime_error("connect to port " + std::to_string(port) + " failed: " + why);
  }
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

WireClient::~WireClient() { ::close(fd_); }

bool WireClient::send(std::span<const std::uint8_t> bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

bool WireClient::send(RequestFrame& frame) {
  const auto bytes = frame.bytes();
  return send(bytes);
}

bool WireClient::read_some(int timeout_ms) {
  if (closed_) return false;
  pollfd waiting{fd_, POLLIN, 0};
  if (::poll(&waiting, 1, timeout_ms) <= 0) return false;
  std::uint8_t chunk[64 * 1024];
  const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
  if (n <= 0) {
    closed_ = true;
    return false;
  }
  input_.insert(input_.end(), chunk, chunk + n);
  take_frames();
  return true;
}

// Moves each whole frame out of input_, verifies it, and indexes its replies.
void WireClient::take_frames() {
  while (true) {
    const FrameScan scan = scan_frame(input_);
    if (scan.status != FrameScanStatus::complete) {
      if (scan.status != FrameScanStatus::incomplete) throw std::runtime_error("bad frame length");
      return;
    }
    // The prefix comes along: the verifier wants the whole frame, aligned.
    frames_.emplace_back(input_.begin(),
                         input_.begin() + static_cast<std::ptrdiff_t>(4 + scan.payload_size));
    input_.erase(input_.begin(),
                 input_.begin() + static_cast<std::ptrdiff_t>(4 + scan.payload_size));
    std::string why;
    const wire::Frame* frame = verify_frame(frames_.back(), &why);
    if (frame == nullptr) throw std::runtime_error("server sent a bad frame: " + why);
    if (frame->replies() == nullptr) continue;
    for (const wire::Reply* reply : *frame->replies()) by_id_[reply->id()] = reply;
  }
}

const wire::Reply* WireClient::reply(std::uint64_t id, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    const auto found = by_id_.find(id);
    if (found != by_id_.end()) return found->second;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !read_some(static_cast<int>(left.count()))) {
      const auto late = by_id_.find(id);
      return late == by_id_.end() ? nullptr : late->second;
    }
  }
}

const wire::Reply* WireClient::call(RequestFrame& frame, std::uint64_t id) {
  if (!send(frame)) return nullptr;
  return reply(id);
}

bool WireClient::wait_closed(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!closed_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    read_some(static_cast<int>(left.count()));
  }
  return true;
}

}  // namespace admit::test
