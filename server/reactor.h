// One shard: a thread with its own io_uring, its own listening sockets, its
// connections and its state machine. Everything here runs on that thread; the
// only ways in from other threads are the SPSC rings of SharedState (with an
// io_uring msg_ring wake) and the stop eventfd.
#pragma once

#include <flatbuffers/flatbuffers.h>
#include <liburing.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/http/exchange.h"
#include "server/request_codec.h"
#include "server/server.h"
#include "server/shard_core.h"
#include "server/watches.h"
#include "storage/state_machine.h"
#include "storage/wal/wal.h"

namespace admit::server {

inline constexpr std::string_view ring_full_message =
    "ring: the owner shard's queue is full (--ring-size); retry";

// The replies of one connection's turn being built. Lent from the reactor's
// spares at the connection's first reply of a turn and given back when the
// frame is finished, so an idle connection holds none.
struct ReplyDraft {
  ReplyFrameBuilder builder;
  std::vector<ReplyOffset> replies;
};

// For the request latency of /metrics: each flush of a connection's answers
// still waiting to be released, where its bytes end in awaiting_durable, how
// many answers it holds and when the oldest request among them arrived (so
// each answer counts the wait of the oldest of its flush: an upper bound).
// Bounded: past `capacity` flushes the newest marks merge.
class LatencyMarks {
 public:
  static constexpr std::size_t capacity = 4;
  void push(std::size_t end, std::uint32_t answers, std::int64_t arrived_ns);
  // The first `bytes` of awaiting_durable leave at `now_ns`.
  void release(std::size_t bytes, std::int64_t now_ns, storage::wal::LatencyHistogram& latency);

 private:
  struct Mark {
    std::size_t end;
    std::uint32_t answers;
    std::int64_t arrived_ns;
  };
  std::array<Mark, capacity> marks_{};
  std::uint8_t size_ = 0;
};

// A connection's lifecycle. Connection::enter() checks every transition, in
// every build:
//   free -> open                         accepted
//   open -> read_closed                  the peer sent EOF: answers still go out
//   open, read_closed -> last_answer     a last answer goes out (a refusal, or an HTTP
//                                        answer with Connection: close), nothing more is read
//   open, read_closed, last_answer -> closing   cancelled; freed once no operation is in flight
//   closing -> free                      the slot is given a fresh Connection
enum class ConnectionState : std::uint8_t { free, open, read_closed, last_answer, closing };

// The HTTP side of a connection accepted on --http: parsing, and answers
// leaving in request order whichever shard answers first.
struct HttpSession {
  http::RequestParser parser;
  http::AnswerOrder order;
  // Requests forwarded to their owner, by ticket (at most
  // pipelined_requests_max): what finish() needs once the answer is back.
  std::vector<std::pair<std::uint64_t, std::unique_ptr<http::Prepared>>> forwarded;
  std::int64_t request_started_ms = 0;  // the first byte of the request being read
  std::int64_t last_activity_ms = 0;    // bytes in or answers out
  // Answering GET /v1/events/{id}/watch: the answer never ends (Server-Sent
  // Events); requests after it are not read, only the peer's close.
  bool streaming = false;
};

// The connection's multishot receive.
enum class Receive : std::uint8_t { idle, armed, cancelling };

// An idle connection holds nothing but this struct: its byte buffers are
// given back to the reactor's spares when emptied (Reactor::release_idle_buffers)
// and its reply draft when its frame is finished.
struct Connection {
  int fd = -1;
  std::uint32_t index = 0;       // slot in the reactor's connection table
  std::uint32_t generation = 0;  // bumped when the slot is reused; stale handles miss
  int listener_shard = -1;       // HelloReply.shard: -1 on the base port
  ConnectionState state = ConnectionState::free;
  Receive receive = Receive::idle;
  bool counted = false;           // counts against --max-connections
  bool send_in_flight = false;    // send_active is the kernel's
  bool paused = false;            // stopped reading: --max-inflight or --max-send-queue-bytes
  bool attention_queued = false;  // in Reactor::attention_
  bool dirty = false;             // in Reactor::dirty_: replies to flush at the end of this turn
  // Some reply not yet flushed is this shard's machine's answer: it waits for
  // the turn's batch (ShardCore::flush_client).
  bool reflects_turn = false;
  std::uint32_t ops = 0;       // io_uring operations in flight on `fd`
  std::uint32_t inflight = 0;  // requests forwarded and not yet answered
  std::int64_t last_send_progress_ms = 0;

  std::vector<std::uint8_t> pending;  // bytes of an unfinished frame (or unread while paused)
  std::int64_t frame_started_ms = 0;  // binary: when the unfinished frame in `pending` began
  // Whole reply frames waiting for the WAL batch they reflect to be durable
  // (the shard's DurabilityLedger holds the marks). Oldest first.
  std::vector<std::uint8_t> awaiting_durable;
  std::vector<std::uint8_t> send_queued;
  std::vector<std::uint8_t> send_active;  // owned by the kernel while send_in_flight
  std::size_t send_offset = 0;
  std::unique_ptr<ReplyDraft> draft;  // this turn's replies; null without any
  std::unique_ptr<HttpSession> http;  // set iff accepted on --http
  Protocol protocol() const { return http ? Protocol::http : Protocol::binary; }
  // Request latency: the arrival (monotonic ns) of the oldest request whose
  // answer is not flushed yet (0: none), and answers since the last flush.
  std::int64_t waiting_since_ns = 0;
  std::uint32_t answers_unflushed = 0;
  LatencyMarks latency_marks;
  // Who the binary requests act as: admin without --auth-secret; with it,
  // unset until a Hello with a good token (only Hello is answered before).
  std::optional<http::Principal> principal;

  // Not free and not closing: its answers still go out.
  bool live() const {
    return state == ConnectionState::open || state == ConnectionState::read_closed ||
           state == ConnectionState::last_answer;
  }
  // Requests already received are still served (after EOF too).
  bool takes_requests() const {
    return state == ConnectionState::open || state == ConnectionState::read_closed;
  }
  // Closes once nothing is owed to it.
  bool winding_down() const {
    return state == ConnectionState::read_closed || state == ConnectionState::last_answer;
  }
  void enter(ConnectionState next);

  std::size_t queued_bytes() const {
    return awaiting_durable.size() + send_queued.size() + (send_active.size() - send_offset) +
           (draft ? draft->builder.GetSize() : 0);
  }
};

class Reactor {
 public:
  // `http_listener` -1: no HTTP.
  Reactor(SharedState& shared, std::uint32_t shard, int base_listener, int shard_listener,
          int http_listener, int stop_fd);
  ~Reactor();

  // On the reactor thread, before run(): the io_uring and the receive
  // buffers. False with a reason.
  bool setup(std::string* why);
  // Serves until told to stop through the stop eventfd.
  void run();

  // For ShardCore::release(): the first `bytes` of the connection's
  // awaiting_durable bytes are durable now and go out. False when the
  // connection is gone.
  bool release_client(std::uint32_t index, std::uint32_t generation, std::size_t bytes);
  // For ShardCore::release() while the log is failed: the first `bytes`
  // reflect batches that may never commit; each of their replies goes as
  // UNAVAILABLE with `message` instead. False when the connection is gone.
  bool fail_client(std::uint32_t index, std::uint32_t generation, std::size_t bytes,
                   std::string_view message);

 private:
  // reactor_wal.cc: opening, recovering and closing the write-ahead log
  bool open_wal(std::string* why);
  bool recover_wal(std::string* why);
  void arm_wal_completion();
  void close_wal();

  // reactor.cc: the loop, accepts, timers, cross-shard traffic
  io_uring_sqe* next_sqe();
  // An io_uring that fails leaves a shard that cannot serve, while the other
  // shards would go on forwarding to it: the whole process stops instead.
  [[noreturn]] void fail_stop(const char* what, int error) const;
  void handle_completion(const io_uring_cqe& cqe);
  void end_turn();
  void arm_accept(int listener_index);
  void cancel_accepts();
  void on_accept(int listener_index, const io_uring_cqe& cqe);
  void arm_housekeeping();
  void on_housekeeping();
  void arm_expiry_timer();
  void run_expiry();
  void arm_stop_read();
  void send_wakes();
  void publish_connection_stats();
  void observe_turn(std::int64_t turn_ns);
  StatsView stats_view() const;  // what Stats answers now
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
  void deliver(std::uint64_t handle, std::uint64_t id, ShardResult& result);
  ReplyFrameBuilder& builder_of(Connection& connection);
  void add_reply(Connection& connection, ReplyOffset reply);
  void finish_reply_frame(Connection& connection);
  void take_spare_buffer(std::vector<std::uint8_t>& buffer);
  void give_back_buffer(std::vector<std::uint8_t>& buffer);
  void release_idle_buffers(Connection& connection);
  void refuse_and_close(Connection& connection, Outcome outcome, std::string_view message);
  void mark_dirty(Connection& connection);
  void note_arrival(Connection& connection);
  void count_request(Protocol protocol, MetricOp op, Outcome outcome) {
    shared_.metrics[shard_].count(protocol, op, outcome);
  }
  void append_out(Connection& connection, std::span<const std::uint8_t> bytes);
  std::size_t process_bytes(Connection& connection, std::span<const std::uint8_t> bytes);
  // Binary auth (--auth-secret): Hello's token, then each request's right.
  void hello(Connection& connection, std::uint64_t id, const wire::Hello& request);
  bool authorized(Connection& connection, std::uint64_t id, Op op, ShardCommand* command);
  void apply_owned(Connection& connection, std::uint64_t id, std::uint32_t owner,
                   const ShardCommand& command);
  void apply_batch_owned(Connection& connection, std::uint64_t id, const DecodedRequest& decoded,
                         ShardCommand& command);
  // A binary answer's metrics: a BookBatch's items count as the Books they are.
  void count_answer(const ShardResult& result);

  // reactor_http.cc: HTTP connections (server/http/ does the parsing and answers)
  std::size_t process_http(Connection& connection, std::span<const std::uint8_t> bytes);
  void handle_http_request(Connection& connection, http::ParsedRequest& request,
                           std::uint64_t ticket);
  http::Answer local_http_answer(const http::Target& target);
  http::Answer metrics_answer();
  void deliver_http(Connection& connection, std::uint64_t ticket, const ShardResult& result);
  void fill_http(Connection& connection, std::uint64_t ticket, const http::Answer& answer,
                 bool keep_alive, MetricOp op);
  void flush_http(Connection& connection);
  void close_stalled_http();
  void start_sse(Connection& connection, std::uint64_t ticket, const http::Prepared& prepared);
  void apply_or_forward(Connection& connection, std::uint64_t ticket,
                        const http::Prepared& prepared, MetricOp op);
  bool owes_earlier_answers(const Connection& connection) const;

  // reactor_watch.cc: watches of both protocols (server/watches.h)
  void watch(Connection& connection, std::uint64_t id, std::string_view event, MetricOp op);
  void unwatch(Connection& connection, std::uint64_t id, std::string_view event);
  Watches::Watcher watcher_of(const Connection& connection) const {
    return {connection.index, connection.generation, connection.protocol()};
  }
  void push_watches();
  bool push_update(const Watches::Watcher& watcher, std::span<const std::uint8_t> bytes);
  void arm_watch_timer();
  void send_sse_heartbeats();
  void submit_send(Connection& connection);
  void on_send(Connection& connection, const io_uring_cqe& cqe);
  bool should_pause(const Connection& connection) const;
  void attend(Connection& connection);
  void attend_queued();
  void close_connection(Connection& connection);
  void free_closed();
  void flush_dirty();
  void drop_slow_readers();
  void close_stalled_frames();

  SharedState& shared_;
  const ServerOptions& options_;
  const std::uint32_t shard_;
  // [0] base port (shared), [1] this shard's own port, [2] HTTP (shared; -1: off)
  static constexpr int listener_count = 3;
  static constexpr int http_listener_index = 2;
  const int listeners_[listener_count];
  const int stop_fd_;

  io_uring ring_{};
  bool ring_ready_ = false;
  io_uring_buf_ring* buffer_ring_ = nullptr;
  std::uint8_t* buffers_ = nullptr;
  // A frame not on an 8-byte boundary is copied here before verification
  // (frame_header_size + frame_size_max bytes, aligned).
  std::unique_ptr<std::uint64_t[]> aligned_frame_;

  // Durability: null when off (core_ is given it once opened).
  std::unique_ptr<storage::wal::ShardWal> wal_;
  using Core = ShardCore<storage::wal::ShardWal>;
  Core core_;
  std::int64_t now_ms_ = 0;
  std::int64_t turn_ns_ = 0;     // monotonic, when the turn's completions were reaped
  std::int64_t release_ns_ = 0;  // monotonic, when the turn's durable answers are released
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

  bool accept_armed_[listener_count] = {false, false, false};

  __kernel_timespec housekeeping_interval_{};
  std::uint64_t housekeeping_ticks_ = 0;
  __kernel_timespec expiry_deadline_{};
  std::optional<std::int64_t> expiry_armed_ms_;
  std::uint32_t expiry_generation_ = 0;
  std::uint64_t stop_value_ = 0;

  std::uint64_t wal_completion_value_ = 0;
  bool expiry_blocked_ = false;   // the WAL refused an Expire: retried on the housekeeping tick
  bool expiry_more_due_ = false;  // the last Expire stopped at its bound: the timer fires at once

  std::uint64_t requests_ = 0, overloaded_ = 0;  // the core counts its own refusals
  std::uint64_t receives_ = 0, bytes_received_ = 0, sends_ = 0, bytes_sent_ = 0;
  ShardResult scratch_result_;       // for requests applied on this shard
  BookBatchRecord scratch_batch_;    // for a BookBatch applied on this shard
  http::Preparer preparer_;          // HTTP requests, and binary tokens
  http::Prepared scratch_prepared_;  // the HTTP request being handled
  std::string scratch_http_out_;     // answers drained at a flush
  std::uint32_t http_connections_ = 0;
  std::string storage_failure_;  // as last copied to SharedState

  Watches watches_;
  bool watch_round_due_ = false;  // a watch was added: its first update goes at once
  std::int64_t last_watch_round_ms_ = 0;
  bool watch_timer_armed_ = false;
  __kernel_timespec watch_interval_{};
};

}  // namespace admit::server
