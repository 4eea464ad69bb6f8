// One shard: a thread with its own io_uring, its own listening sockets, its
// connections and its state machine. Everything here runs on that thread; the
// only ways in from other threads are the SPSC rings of SharedState (with an
// io_uring msg_ring wake) and the stop eventfd.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/container/inlined_vector.h>
#include <flatbuffers/flatbuffers.h>
#include <liburing.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "server/request_codec.h"
#include "server/server.h"
#include "storage/state_machine.h"
#include "storage/wal/wal.h"

namespace admit::server {

// Reply bytes of one connection up to `end` (in Connection::held) wait for WAL
// batch `batch` to be durable.
struct HeldMark {
  std::uint64_t batch = 0;
  std::size_t end = 0;
};

// The replies of one connection's turn being built. Lent from the reactor's
// spares at the connection's first reply of a turn and given back when the
// frame is finished, so an idle connection holds none.
struct ReplyDraft {
  ReplyFrameBuilder builder;
  std::vector<ReplyOffset> replies;
};

// An idle connection holds nothing but this struct: its byte buffers are
// given back to the reactor's spares when emptied (Reactor::release_idle_buffers)
// and its reply draft when its frame is finished.
struct Connection {
  int fd = -1;
  std::uint32_t index = 0;       // slot in the reactor's connection table
  std::uint32_t generation = 0;  // bumped when the slot is reused; stale handles miss
  int listener_shard = -1;       // HelloReply.shard: -1 on the base port
  bool in_use = false;
  bool counted = false;     // counts against --max-connections
  bool recv_armed = false;  // a multishot receive is outstanding
  bool recv_cancel_sent = false;
  bool send_in_flight = false;
  bool paused = false;       // stopped reading: --max-inflight or --max-send-queue-bytes
  bool read_closed = false;  // the peer sent EOF
  bool close_after_flush = false;
  bool closing = false;  // cancelled; freed once `ops` reaches 0
  bool attention_queued = false;
  bool dirty = false;          // has replies to flush at the end of this turn
  std::uint32_t ops = 0;       // io_uring operations in flight on `fd`
  std::uint32_t inflight = 0;  // requests forwarded and not yet answered
  std::int64_t last_send_progress_ms = 0;

  std::vector<std::uint8_t> pending;  // bytes of an unfinished frame (or unread while paused)
  // Whole reply frames waiting for the WAL batch of the turn that made them
  // (every answer of a turn waits, reads and refusals included: they may
  // reflect state that is not durable yet). Oldest first.
  std::vector<std::uint8_t> held;
  // Oldest first. A connection answered once per batch has one mark, kept
  // inline (no allocation); more, under pipelined load, spill to the heap.
  absl::InlinedVector<HeldMark, 1> held_marks;
  std::vector<std::uint8_t> send_queued;
  std::vector<std::uint8_t> send_active;  // owned by the kernel while send_in_flight
  std::size_t send_offset = 0;
  std::unique_ptr<ReplyDraft> draft;  // this turn's replies; null without any

  std::size_t queued_bytes() const {
    return held.size() + send_queued.size() + (send_active.size() - send_offset) +
           (draft ? draft->builder.GetSize() : 0);
  }
};

class Reactor : public storage::EventObserver {
 public:
  Reactor(SharedState& shared, std::uint32_t shard, int base_listener, int shard_listener,
          int stop_fd);
  ~Reactor() override;

  // On the reactor thread, before run(): the io_uring and the receive
  // buffers. False with a reason.
  bool setup(std::string* why);
  // Serves until told to stop through the stop eventfd.
  void run();

  void on_event_changed(const storage::EventView& event) override;

 private:
  // Counters and event snapshots of one turn, published in the directory once
  // the turn's batch is durable (readers never see what a crash could undo).
  struct Publication {
    std::uint64_t batch = 0;
    std::vector<EventSnapshot> events;  // the last snapshot of each event changed
    bool has_counters = false;
    storage::ShardCounters counters;
  };
  // Answers to another shard, filled in its response ring and made visible
  // (commit_push) once batch `batch` is durable.
  struct RingMark {
    std::uint64_t batch = 0;
    std::uint32_t count = 0;
  };

  // reactor_wal.cc: the write-ahead log, answers held until durable
  bool open_wal(std::string* why);
  bool recover_wal(std::string* why);
  void apply_owned(const ShardCommand& command, ShardResult* result);
  bool run_expire();
  void arm_wal_completion();
  void maybe_checkpoint();
  void seal_turn();
  void hold_turn_answers();
  void queue_publication();
  void release_durable();
  void release_connection(Connection& connection, std::uint64_t durable);
  void publish(Publication& publication);
  void close_wal();

  // reactor.cc: the loop, accepts, timers, cross-shard traffic
  io_uring_sqe* next_sqe();
  void handle_completion(const io_uring_cqe& cqe);
  void end_turn();
  void arm_accept(int listener_index);
  void cancel_accepts();
  void on_accept(int listener_index, const io_uring_cqe& cqe);
  void arm_housekeeping();
  void on_housekeeping();
  void arm_expiry_timer();
  void arm_stop_read();
  void drain_requests(std::uint32_t origin);
  void drain_responses(std::uint32_t owner);
  void send_wakes();
  void publish_connection_stats();
  void shut_down();

  // reactor_connections.cc: one connection's bytes in and out
  Connection* open_connection(int fd, int listener_shard);
  Connection* lookup(std::uint64_t handle);
  std::uint64_t handle_of(const Connection& connection) const;
  void arm_recv(Connection& connection);
  void stop_reading(Connection& connection);
  void on_recv(Connection& connection, const io_uring_cqe& cqe);
  void consume(Connection& connection, std::span<const std::uint8_t> bytes);
  void drain_pending(Connection& connection);
  void return_buffer(std::uint16_t buffer_id);
  std::size_t process_frames(Connection& connection, std::span<const std::uint8_t> bytes);
  void handle_frame(Connection& connection, std::span<const std::uint8_t> frame_bytes);
  void handle_request(Connection& connection, const wire::Request& request);
  void forward(Connection& connection, std::uint64_t id, std::uint32_t owner,
               const ShardCommand& command);
  void deliver(Connection& connection, std::uint64_t id, ShardResult& result);
  ReplyFrameBuilder& builder_of(Connection& connection);
  void add_reply(Connection& connection, ReplyOffset reply);
  void finish_reply_frame(Connection& connection);
  void take_spare_buffer(std::vector<std::uint8_t>& buffer);
  void give_back_buffer(std::vector<std::uint8_t>& buffer);
  void release_idle_buffers(Connection& connection);
  void refuse_and_close(Connection& connection, Outcome outcome, std::string_view message);
  void submit_send(Connection& connection);
  void on_send(Connection& connection, const io_uring_cqe& cqe);
  bool should_pause(const Connection& connection) const;
  void attend(Connection& connection);
  void attend_queued();
  void close_connection(Connection& connection);
  void free_closed();
  void flush_dirty();
  void drop_slow_readers();

  SharedState& shared_;
  const ServerOptions& options_;
  const std::uint32_t shard_;
  const int listeners_[2];  // [0] base port (shared), [1] this shard's own port
  const int stop_fd_;

  io_uring ring_{};
  bool ring_ready_ = false;
  io_uring_buf_ring* buffer_ring_ = nullptr;
  std::uint8_t* buffers_ = nullptr;
  // A frame not on an 8-byte boundary is copied here before verification
  // (frame_header_size + frame_size_max bytes, aligned).
  std::unique_ptr<std::uint64_t[]> aligned_frame_;

  storage::StateMachine machine_;
  std::int64_t now_ms_ = 0;
  bool stopping_ = false;

  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<std::uint32_t> free_slots_;
  std::vector<std::uint32_t> dirty_;      // connections with replies to send this turn
  std::vector<std::uint32_t> attention_;  // connections whose limits or reading changed
  std::vector<std::uint32_t> closing_;    // closed, waiting for their operations to end
  std::uint32_t open_connections_ = 0;
  // Emptied connection buffers and finished reply drafts, kept for the next
  // connection that needs one (bounds in reactor_connections.cc).
  std::vector<std::vector<std::uint8_t>> spare_buffers_;
  std::size_t spare_buffer_bytes_ = 0;  // their capacities, summed
  std::vector<std::unique_ptr<ReplyDraft>> spare_drafts_;

  std::vector<std::uint32_t> outstanding_;  // per owner: forwarded requests not yet answered
  std::uint64_t wake_mask_ = 0;             // shards to wake at the end of this turn
  bool accept_armed_[2] = {false, false};

  __kernel_timespec housekeeping_interval_{};
  std::uint64_t housekeeping_ticks_ = 0;
  __kernel_timespec expiry_deadline_{};
  std::optional<std::int64_t> expiry_armed_ms_;
  std::uint32_t expiry_generation_ = 0;
  std::uint64_t stop_value_ = 0;

  // Durability: null when off. Every answer of a turn waits for turn_batch_.
  std::unique_ptr<storage::wal::ShardWal> wal_;
  storage::wal::Command wal_command_;  // reused: its strings keep their capacity
  std::uint64_t wal_completion_value_ = 0;
  std::uint64_t turn_batch_ = 0;
  bool turn_appended_ = false;
  bool expiry_blocked_ = false;   // the WAL refused an Expire: retried on the housekeeping tick
  bool publish_at_once_ = true;   // during recovery: nothing to wait for
  std::uint32_t events_owned_ = 0;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> holding_;  // (index, generation)
  std::vector<std::uint32_t> ring_uncommitted_;        // per origin: answers filled, not visible
  std::vector<std::uint32_t> ring_turn_;               // per origin: of them, this turn's
  std::vector<std::deque<RingMark>> ring_marks_;       // per origin, oldest first
  Publication turn_publication_;
  absl::flat_hash_map<std::uint64_t, std::uint32_t> turn_event_index_;  // xxh3(id) -> index
  std::uint32_t turn_last_event_ = 0;  // index of the event changed last (a hint)
  std::deque<Publication> publications_;               // waiting for their batch
  std::vector<std::vector<EventSnapshot>> spare_event_vectors_;

  std::uint64_t last_change_count_ = ~std::uint64_t{0};
  std::uint64_t requests_ = 0, forwarded_ = 0, overloaded_ = 0;
  ShardResult scratch_result_;  // for requests applied on this shard
};

}  // namespace admit::server
