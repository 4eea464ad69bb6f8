// Test side of the wire: builds request frames by hand and talks to a real
// admitd over a raw blocking socket, matching replies by id. Every wait is
// bounded; a missing reply is a test failure, not a hang.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/admit_generated.h"

namespace admit::test {

// One item of a BookBatch.
struct BatchItem {
  BatchItem(std::string user_in, std::uint32_t seats_in = 1, std::string request_id_in = {})
      : user(std::move(user_in)), seats(seats_in), request_id(std::move(request_id_in)) {}
  std::string user;
  std::uint32_t seats;
  std::string request_id;
};

// One frame of requests: add requests, then bytes().
class RequestFrame {
 public:
  using Builder = flatbuffers::FlatBufferBuilder;

  RequestFrame& hello(std::uint64_t id, std::uint32_t version = 1, std::string_view token = {});
  RequestFrame& create_event(std::uint64_t id, std::string_view event, std::uint32_t capacity,
                             std::uint32_t hold_ttl_ms = 0, bool waitlist = false);
  RequestFrame& get_event(std::uint64_t id, std::string_view event);
  RequestFrame& list_events(std::uint64_t id, std::string_view after, std::uint32_t limit);
  RequestFrame& book(std::uint64_t id, std::string_view event, std::string_view user,
                     std::uint32_t seats = 1, bool hold = false);
  // `texts_cut`: that many bytes fewer in texts than the items say (a bad layout).
  RequestFrame& book_batch(std::uint64_t id, std::string_view event,
                           const std::vector<BatchItem>& items, std::size_t texts_cut = 0);
  RequestFrame& confirm(std::uint64_t id, std::string_view ref);
  RequestFrame& cancel(std::uint64_t id, std::string_view ref);
  RequestFrame& get_booking(std::uint64_t id, std::string_view ref);
  RequestFrame& list_bookings(std::uint64_t id, std::string_view event, std::string_view after,
                              std::uint32_t limit);
  RequestFrame& waitlist_position(std::uint64_t id, std::string_view event, std::string_view user);
  RequestFrame& stats(std::uint64_t id);

  std::size_t size() const { return requests_.size(); }
  // The wire bytes: length prefix and FlatBuffer. Ends the frame.
  std::vector<std::uint8_t> bytes();

 private:
  RequestFrame& add(std::uint64_t id, wire::Op type, flatbuffers::Offset<void> op);

  Builder builder_;
  std::vector<flatbuffers::Offset<wire::Request>> requests_;
};

class WireClient {
 public:
  static constexpr int reply_timeout_ms = 20'000;

  explicit WireClient(std::uint16_t port);  // connects to 127.0.0.1:port; throws on failure
  ~WireClient();
  WireClient(const WireClient&) = delete;
  WireClient& operator=(const WireClient&) = delete;

  // Writes all of `bytes` (blocking). False if the server closed the connection.
  bool send(std::span<const std::uint8_t> bytes);
  bool send(RequestFrame& frame);
  // The reply with `id`, reading as needed; nullptr on EOF, reset or timeout.
  const wire::Reply* reply(std::uint64_t id, int timeout_ms = reply_timeout_ms);
  // Shorthand: sends one frame with one request and waits for its reply.
  const wire::Reply* call(RequestFrame& frame, std::uint64_t id);
  // True once the server closed the connection (EOF or reset) within the time.
  bool wait_closed(int timeout_ms = reply_timeout_ms);
  std::size_t replies_received() const { return by_id_.size(); }
  int fd() const { return fd_; }

 private:
  // Reads once (up to timeout); false on EOF/error/timeout.
  bool read_some(int timeout_ms);
  void take_frames();

  int fd_ = -1;
  bool closed_ = false;
  std::vector<std::uint8_t> input_;
  std::deque<std::vector<std::uint8_t>> frames_;  // verified payloads, kept for the pointers
  std::map<std::uint64_t, const wire::Reply*> by_id_;
};

std::string_view text_of(const flatbuffers::String* text);

}  // namespace admit::test
