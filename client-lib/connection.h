// One TCP connection to one admitd port: the socket, the bytes received, and
// a RequestPipeline (frames being built and written, requests in flight).
// Private to client-lib.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "admit/async_client.h"
#include "protocol/assertions.h"
#include "request_pipeline.h"

namespace admit {

class Connection {
 public:
  // `updates` receives the updates pushed on this connection (may be null).
  Connection(const ClientOptions& options, std::uint16_t port, UpdateSink* updates = nullptr);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects (within connect_timeout) and says Hello (within request_timeout).
  // Refused (could_not_connect) while the callbacks of this connection's
  // replies run: the bytes being dispatched belong to the old socket, and the
  // new one's Hello answer would be read over them.
  Result<HelloInfo> open();
  bool is_open() const { return fd_ >= 0; }
  // Names this connection's current socket, unique in the process: a new one
  // at every open(), so a watch sent on an earlier socket is told apart.
  std::uint64_t link() const { return link_; }
  // A Watch was sent on this socket: it is polled for pushed updates even
  // with nothing in flight, until it closes.
  void expect_pushes() { pushes_expected_ = true; }
  bool awaits_input() const { return is_open() && (in_flight() > 0 || pushes_expected_); }
  // Closes the socket; every request in flight gets `error` and `why`.
  void close(ClientError error, std::string_view why);

  std::uint16_t port() const { return port_; }
  // The shard the server said is behind this port (-1: base port).
  std::int32_t shard() const { return shard_; }
  std::size_t in_flight() const { return pipeline_.in_flight(); }
  bool full() const { return pipeline_.full(); }
  // True while the callbacks of this connection's replies run.
  bool dispatching() const { return pipeline_.dispatching(); }

  // Adds one request to the frame being built: `encode(builder)` writes the
  // operation; `callback` runs once with its answer. Requires is_open() && !full().
  template <typename Encode>
  void add(Encode&& encode, ReplyCallback&& callback) {
    ADMIT_ASSERT(is_open());
    pipeline_.add(encode, std::move(callback));
  }

  // Adds one booking to the BookBatch being gathered (RequestPipeline::add_book).
  // Requires is_open() && !full().
  void add_book(const BookRequest& request, ReplyCallback&& callback) {
    ADMIT_ASSERT(is_open());
    pipeline_.add_book(request, std::move(callback));
  }

  // Writes every built frame, waiting up to `wait_max` from the moment the
  // socket is first full. On failure the connection is closed (callbacks get
  // the error).
  Status flush(std::chrono::milliseconds wait_max);
  bool has_output() const {
    return pipeline_.has_open_frame() || out_sent_ < pipeline_.output().size();
  }
  // Requests handed to the socket by flush() must be answered within
  // request_timeout: the oldest one's deadline, if any is in flight.
  bool next_deadline(Clock::time_point* deadline) const {
    return pipeline_.next_deadline(deadline);
  }
  // Fails with timed_out the requests past their deadline at `now` (the
  // connection stays: a late answer is dropped). Returns how many callbacks ran.
  std::size_t expire(Clock::time_point now);
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
  Status connect_socket(Clock::time_point deadline);
  // Runs the callbacks of the whole frames received (all read at `received_at`).
  std::size_t dispatch_buffered(Clock::time_point received_at);

  const ClientOptions& options_;
  const std::uint16_t port_;
  std::int32_t shard_ = -1;
  int fd_ = -1;
  std::uint64_t link_ = 0;
  bool pushes_expected_ = false;
  UpdateSink* const updates_;

  RequestPipeline pipeline_;
  std::size_t out_sent_ = 0;      // bytes of pipeline_.output() written
  std::vector<std::uint8_t> in_;  // received bytes; [0, in_size_) are valid
  std::size_t in_size_ = 0;
  std::vector<std::uint64_t> aligned_copy_;  // for a frame that arrived misaligned
};

}  // namespace admit
