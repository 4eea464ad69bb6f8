// The socket-free half of a connection: operations encoded into request
// frames, and the table of requests in flight (request id -> callback) that
// reply frames are dispatched through. Apart from the socket so that the
// client's own cost per request can be measured alone
// (bench/hotpath/client_bench.cc). Private to client-lib.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <chrono>
#include <climits>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "admit/async_client.h"
#include "admit/limits.h"
#include "codec.h"
#include "frame_builder.h"
#include "protocol/admit_generated.h"

namespace admit {

using Clock = std::chrono::steady_clock;

// Where the updates pushed in received frames go (Frame.updates). `link`
// names the connection they came on (Connection::link()), so that an update
// from a connection the watch no longer lives on is told apart.
class UpdateSink {
 public:
  virtual void deliver(const wire::Update& update, std::uint64_t link,
                       Clock::time_point received_at) = 0;

 protected:
  ~UpdateSink() = default;
};

class RequestPipeline {
 public:
  explicit RequestPipeline(const ClientOptions& options);

  std::size_t in_flight() const { return slots_used_; }
  bool full() const { return slots_used_ >= in_flight_max_; }

  // Adds one request to the frame being built: `encode(builder)` writes the
  // operation; `callback` runs once with its answer. Returns the request id.
  // Requires !full().
  template <typename Encode>
  std::uint64_t add(Encode&& encode, ReplyCallback&& callback) {
    prepare_room();
    const EncodedOp op = encode(builder_);
    const std::uint64_t id = take_slot(std::move(callback));
    request_offsets_.push_back(wire::CreateRequest(builder_, id, op.type, op.offset));
    if (request_offsets_.size() >= frame_requests_max) close_frame();
    return id;
  }
  // Adds one booking (checked by codec::check_book) to the BookBatch being
  // gathered when that batch is for the same event and has room; else closes
  // that batch and starts another. `callback` runs once with the booking's own
  // answer, read as a Book's. Returns the id of the request carrying it (the
  // batch's, known to the server). Requires !full(). A batch closes at the
  // next add(), a booking of another event, book_batch_items_max bookings,
  // close_frame() (every flush), or when the frame is full.
  std::uint64_t add_book(const BookRequest& request, ReplyCallback&& callback);
  // Appends the frame being built (if any) to output().
  void close_frame();
  bool has_open_frame() const { return !request_offsets_.empty() || !batch_.empty(); }
  // Whole request frames, prefixes included, waiting to be written.
  std::vector<std::uint8_t>& output() { return out_; }
  const std::vector<std::uint8_t>& output() const { return out_; }

  // Runs the callbacks of one received frame (prefix included, 8-byte
  // aligned) read at `received_at`: its replies, then its updates (to `sink`,
  // with `link`; counted in `ran`). False (and `why`) if it is not a valid
  // frame from a server. Stops early when a callback failed every request
  // (fail_all: the connection was closed under it).
  bool dispatch_frame(std::span<const std::uint8_t> frame, Clock::time_point received_at,
                      std::size_t* ran, std::string* why, UpdateSink* sink = nullptr,
                      std::uint64_t link = 0);
  // True while dispatch_frame runs callbacks.
  bool dispatching() const { return dispatching_; }

  // Drops the frames not yet written; every request in flight gets `error`
  // and `message`. Callbacks may add requests again: those are kept.
  void fail_all(ClientError error, std::string_view message);

  // ---- per-request timeouts ----
  // Requests are kept in the order they were added, so the oldest one's
  // deadline is the only one to check: no timer, no allocation per request.
  // A request's deadline is set when it is handed to the socket (stamp()).
  bool has_unstamped() const { return unstamped_ != none; }
  // Every request added since the last stamp() must be answered by `deadline`.
  void stamp(Clock::time_point deadline);
  // The deadline of the oldest stamped request in flight, if any.
  bool next_deadline(Clock::time_point* deadline) const {
    if (oldest_ == none || oldest_ == unstamped_) return false;
    *deadline = slots_[oldest_].deadline;
    return true;
  }
  // Fails with timed_out (and `message`) every request whose deadline is at
  // or before `now`, oldest first; each slot is released before its callback
  // runs, so an answer arriving later finds a stale id and is dropped. Counts
  // the callbacks in `ran`.
  void expire(Clock::time_point now, std::string_view message, std::size_t* ran);

 private:
  static constexpr std::uint32_t none = UINT32_MAX;
  static constexpr std::uint32_t batch_follower = UINT32_MAX;  // Slot::batch_items

  struct Slot {
    ReplyCallback callback;
    // Bumped at every release, so stale replies are dropped; starts at 1 so that
    // no request id is 0 (the id of the server's answer to an unreadable frame).
    std::uint32_t generation = 1;
    std::uint32_t epoch = 0;  // the fail_all epoch it was taken in
    // The first booking of a BookBatch: how many it carries (itself included),
    // the others being the next ones in the order below; batch_follower for
    // those others (their ids were never sent); 0 for any other request.
    std::uint32_t batch_items = 0;
    bool busy = false;
    // The requests in flight in the order they were added (oldest_ to newest_).
    std::uint32_t older = none, newer = none;
    Clock::time_point deadline{};  // set by stamp()
  };

  void dispatch_replies(const flatbuffers::Vector<flatbuffers::Offset<wire::Reply>>& replies,
                        Clock::time_point received_at, std::size_t* ran);
  void dispatch_batch(const wire::Reply& reply, std::uint32_t first, Clock::time_point received_at,
                      std::size_t* ran);
  // Before any request but a booking: closes the batch being gathered, and
  // the frame when it is near its size limit.
  void prepare_room();
  // Encodes the batch being gathered (if any) as one request of the frame.
  void close_batch();
  std::uint64_t take_slot(ReplyCallback&& callback);
  void release_slot(std::uint32_t index);

  const std::size_t in_flight_max_;
  FrameBuilder builder_;
  std::vector<flatbuffers::Offset<wire::Request>> request_offsets_;
  std::vector<std::uint8_t> out_;
  codec::BookBatchDraft batch_;  // bookings gathered, not yet encoded
  std::uint64_t batch_id_ = 0;   // the request id of its first booking, the batch's

  std::vector<Slot> slots_;  // grows up to in_flight_max, never shrinks
  std::vector<std::uint32_t> free_slots_;
  std::size_t slots_used_ = 0;
  std::uint32_t oldest_ = none, newest_ = none;
  std::uint32_t unstamped_ = none;  // the oldest request without a deadline yet
  std::uint32_t epoch_ = 0;         // bumped by every fail_all
  bool dispatching_ = false;
};

}  // namespace admit
