// One TCP connection to one admitd port: the frame being built, the bytes
// waiting to be written, the received bytes, and the table of requests in
// flight (request id -> callback). Private to client-lib.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "admit/client.h"
#include "protocol/admit_generated.h"
#include "protocol/protocol_limits.h"

namespace admit {

using Clock = std::chrono::steady_clock;

// An encoded operation, ready to be wrapped in a Request.
struct EncodedOp {
  wire::Op type = wire::Op::NONE;
  flatbuffers::Offset<void> offset;
};

class Connection {
 public:
  Connection(const ClientOptions& options, std::uint16_t port);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects (within connect_timeout) and says Hello (within request_timeout).
  Result<HelloInfo> open();
  bool is_open() const { return fd_ >= 0; }
  // Closes the socket; every request in flight gets `error` and `why`.
  void close(ClientError error, std::string_view why);

  std::uint16_t port() const { return port_; }
  // The shard the server said is behind this port (-1: base port).
  std::int32_t shard() const { return shard_; }
  std::size_t in_flight() const { return slots_used_; }
  bool full() const { return slots_used_ >= options_.in_flight_max; }

  // Adds one request to the frame being built: `encode(builder)` writes the
  // operation; `callback` runs once with its answer. Requires is_open() && !full().
  template <typename Encode>
  void add(Encode&& encode, ReplyCallback callback) {
    prepare_room();
    const EncodedOp op = encode(builder_);
    const std::uint64_t id = take_slot(std::move(callback));
    request_offsets_.push_back(wire::CreateRequest(builder_, id, op.type, op.offset));
    if (request_offsets_.size() >= frame_requests_max) close_frame();
  }

  // Writes every built frame, waiting until `deadline` while the socket is full.
  // On failure the connection is closed (callbacks get the error).
  Status flush(Clock::time_point deadline);
  bool has_output() const { return !request_offsets_.empty() || out_sent_ < out_.size(); }
  // Reads whatever has arrived (never blocks) and runs the callbacks of the
  // answers in it. Returns how many ran. Closes the connection on EOF or garbage.
  std::size_t read_and_dispatch();
  // Flushes, then reads and dispatches until `done` turns true or `deadline`
  // passes (then the connection is closed with timed_out, which sets `done`
  // through the callbacks). Returns the failure if the connection broke.
  void await(const bool& done, Clock::time_point deadline);
  int fd() const { return fd_; }
  std::string address() const;

 private:
  struct Slot {
    ReplyCallback callback;
    // Bumped at every release, so stale replies are dropped; starts at 1 so that
    // no request id is 0 (the id of the server's answer to an unreadable frame).
    std::uint32_t generation = 1;
    std::uint32_t epoch = 0;       // the connection epoch it was taken in
    bool busy = false;
  };

  Status connect_socket(Clock::time_point deadline);
  void prepare_room();
  void close_frame();
  std::uint64_t take_slot(ReplyCallback callback);
  void release_slot(std::uint32_t index);
  // Runs the callbacks of one received frame (prefix included, 8-byte aligned);
  // false if it is not a valid reply frame (the connection is then closed).
  bool dispatch_frame(const std::uint8_t* bytes, std::size_t size, std::size_t* ran);
  std::size_t dispatch_buffered();

  const ClientOptions& options_;
  const std::uint16_t port_;
  std::int32_t shard_ = -1;
  int fd_ = -1;

  flatbuffers::FlatBufferBuilder builder_;
  std::vector<flatbuffers::Offset<wire::Request>> request_offsets_;
  std::vector<std::uint8_t> out_;  // whole frames waiting to be written
  std::size_t out_sent_ = 0;
  std::vector<std::uint8_t> in_;   // received bytes; [0, in_size_) are valid
  std::size_t in_size_ = 0;
  std::vector<std::uint64_t> aligned_copy_;  // for a frame that arrived misaligned

  std::vector<Slot> slots_;        // grows up to in_flight_max, never shrinks
  std::vector<std::uint32_t> free_slots_;
  std::size_t slots_used_ = 0;
  std::uint32_t epoch_ = 0;        // bumped by every close
  bool dispatching_ = false;
};

}  // namespace admit
