// Reactor: one connection's bytes in (reassembly, frames, requests) and out
// (replies gathered per turn into one send), its limits and its closing.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "protocol/assertions.h"
#include "protocol/framing.h"
#include "server/completion_tag.h"
#include "server/reactor.h"

namespace admit::server {
namespace {

// Buffers grown past these by one big frame or reply are given back when empty.
constexpr std::size_t send_keep_bytes = 256 * 1024;
constexpr std::size_t builder_keep_bytes = 64 * 1024;

// Spares a shard keeps for reuse (Reactor::spare_buffers_, spare_drafts_).
// Only the connections answered in one turn hold a draft at once, and only
// those with bytes not yet sent hold buffers, so a few hundred cover a busy
// turn; past these bounds memory goes back to malloc.
constexpr std::size_t spare_drafts_max = 256;
constexpr std::size_t spare_buffer_keep_bytes = 4 * recv_buffer_size;  // a bigger one is freed
constexpr std::size_t spare_buffer_bytes_max = 4u << 20;

constexpr std::string_view replies_message = "frame: a client sends requests, not replies";
constexpr std::string_view unauthenticated_message =
    "token: send Hello with a token first (admitd runs with --auth-secret; see admit token)";
constexpr std::string_view missing_token_message =
    "token: missing in Hello (admitd runs with --auth-secret; see admit token)";

CompletionTag tag_of(CompletionKind kind, const Connection& connection) {
  return {kind, connection.index, connection.generation};
}

bool allowed(ConnectionState from, ConnectionState to) {
  using enum ConnectionState;
  switch (to) {
    case open:
      return from == free;
    case read_closed:
      return from == open;
    case last_answer:
      return from == open || from == read_closed;
    case closing:
      return from == open || from == read_closed || from == last_answer;
    case free:
      return from == closing;
  }
  return false;
}

}  // namespace

// A wrong transition is a bug that would serve a freed slot or leak one: it
// stops the process in every build.
void Connection::enter(ConnectionState next) {
  if (!allowed(state, next)) {
    std::fprintf(stderr, "admitd: connection %u: bad lifecycle transition %d -> %d\n", index,
                 static_cast<int>(state), static_cast<int>(next));
    std::abort();
  }
  state = next;
}

Connection* Reactor::open_connection(int fd, int listener_shard) {
  std::uint32_t index = 0;
  if (!free_slots_.empty()) {
    index = free_slots_.back();
    free_slots_.pop_back();
  } else {
    index = static_cast<std::uint32_t>(connections_.size());
    ADMIT_ASSERT(index <= CompletionTag::index_max);
    connections_.push_back(std::make_unique<Connection>());
  }
  Connection& connection = *connections_[index];
  connection.index = index;
  connection.fd = fd;
  connection.listener_shard = listener_shard;
  connection.enter(ConnectionState::open);
  connection.last_send_progress_ms = now_ms_;
  return &connection;
}

std::uint64_t Reactor::handle_of(const Connection& connection) const {
  return std::uint64_t{connection.index} << 32 | connection.generation;
}

Connection* Reactor::lookup(std::uint64_t handle) {
  const auto index = static_cast<std::uint32_t>(handle >> 32);
  if (index >= connections_.size()) return nullptr;
  Connection& connection = *connections_[index];
  if (!connection.live() || connection.generation != static_cast<std::uint32_t>(handle)) {
    return nullptr;
  }
  return &connection;
}

void Reactor::arm_recv(Connection& connection) {
  ADMIT_ASSERT(connection.receive == Receive::idle && connection.state == ConnectionState::open);
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_recv_multishot(sqe, connection.fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = receive_buffer_group;
  io_uring_sqe_set_data64(sqe, tag_of(CompletionKind::recv, connection).encode());
  connection.receive = Receive::armed;
  ++connection.ops;
}

void Reactor::stop_reading(Connection& connection) {
  if (connection.receive != Receive::armed) return;
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_cancel64(sqe, tag_of(CompletionKind::recv, connection).encode(), 0);
  io_uring_sqe_set_data64(sqe, CompletionTag{CompletionKind::ignore, 0, 0}.encode());
  connection.receive = Receive::cancelling;
}

void Reactor::on_recv(Connection& connection, const io_uring_cqe& cqe) {
  const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
  if (!more) {
    connection.receive = Receive::idle;
    --connection.ops;
  }
  if (cqe.res > 0) {
    ADMIT_ASSERT((cqe.flags & IORING_CQE_F_BUFFER) != 0);
    const auto buffer_id = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    const std::uint8_t* bytes = buffers_ + std::size_t{buffer_id} * recv_buffer_size;
    ++receives_;
    bytes_received_ += static_cast<std::uint64_t>(cqe.res);
    consume(connection, {bytes, static_cast<std::size_t>(cqe.res)});
    return_buffer(buffer_id);
  } else if (cqe.res == 0) {
    if (connection.state == ConnectionState::open) connection.enter(ConnectionState::read_closed);
  } else if (cqe.res != -ENOBUFS && cqe.res != -ECANCELED) {
    close_connection(connection);  // reset by the peer, or worse
    return;
  }
  if (!more) attend(connection);
}

void Reactor::consume(Connection& connection, std::span<const std::uint8_t> bytes) {
  if (!connection.takes_requests()) return;  // nothing more is read
  if (connection.pending.empty()) {
    bytes = bytes.subspan(process_bytes(connection, bytes));
    if (bytes.empty() || !connection.takes_requests()) return;
  }
  if (connection.pending.size() + bytes.size() > pending_bytes_max) {
    close_connection(connection);
    return;
  }
  const bool had_pending = !connection.pending.empty();
  if (!had_pending) connection.frame_started_ms = now_ms_;
  take_spare_buffer(connection.pending);
  connection.pending.insert(connection.pending.end(), bytes.begin(), bytes.end());
  if (had_pending) drain_pending(connection);
}

void Reactor::drain_pending(Connection& connection) {
  const std::size_t used = process_bytes(connection, connection.pending);
  connection.pending.erase(connection.pending.begin(),
                           connection.pending.begin() + static_cast<std::ptrdiff_t>(used));
  if (connection.pending.empty()) {
    give_back_buffer(connection.pending);
  } else if (used != 0) {
    connection.frame_started_ms = now_ms_;  // what is left began in the latest read
  }
}

std::size_t Reactor::process_bytes(Connection& connection, std::span<const std::uint8_t> bytes) {
  return connection.http ? process_http(connection, bytes) : process_frames(connection, bytes);
}

// Handles whole frames at the start of `bytes`; returns the bytes used. Stops
// at an incomplete frame, at a limit (the connection pauses) or on a close.
std::size_t Reactor::process_frames(Connection& connection, std::span<const std::uint8_t> bytes) {
  std::size_t used = 0;
  while (connection.takes_requests()) {
    if (should_pause(connection)) {
      connection.paused = true;
      stop_reading(connection);
      break;
    }
    const FrameScan scan = scan_frame(bytes.subspan(used));
    if (scan.status == FrameScanStatus::incomplete) {
      if (scan.payload_size != 0) connection.pending.reserve(frame_header_size + scan.payload_size);
      break;
    }
    if (scan.status != FrameScanStatus::complete) {  // zero or past frame_size_max
      close_connection(connection);
      break;
    }
    handle_frame(connection, bytes.subspan(used, frame_header_size + scan.payload_size));
    used += frame_header_size + scan.payload_size;
  }
  return used;
}

void Reactor::handle_frame(Connection& connection, std::span<const std::uint8_t> frame_bytes) {
  // FlatBuffers aligns fields relative to the length prefix: the verifier
  // needs the frame on an 8-byte boundary. Frames that are not (after an
  // odd-sized frame in the same read) are copied once to aligned memory.
  if (reinterpret_cast<std::uintptr_t>(frame_bytes.data()) % 8 != 0) {
    auto* aligned = reinterpret_cast<std::uint8_t*>(aligned_frame_.get());
    std::memcpy(aligned, frame_bytes.data(), frame_bytes.size());
    frame_bytes = {aligned, frame_bytes.size()};
  }
  std::string why;
  const wire::Frame* frame = verify_frame(frame_bytes, &why);
  if (frame == nullptr) return refuse_and_close(connection, Outcome::invalid, why);
  if (frame->replies() != nullptr) {
    return refuse_and_close(connection, Outcome::invalid, replies_message);
  }
  if (frame->requests() == nullptr) return;
  // A new buyer's user-table line is a cache miss: start loading all of the
  // frame's before booking any, so the misses overlap instead of queueing
  // (a BookBatch's items do the same on their owner, ShardCore::apply_batch).
  storage::BookCommand hint;
  for (const wire::Request* request : *frame->requests()) {
    const wire::Book* book = request->op_as_Book();
    if (book == nullptr || book->user() == nullptr) continue;
    hint.user = {book->user()->data(), book->user()->size()};
    core_.machine().prefetch_book(hint);
  }
  for (const wire::Request* request : *frame->requests()) handle_request(connection, *request);
}

void Reactor::handle_request(Connection& connection, const wire::Request& request) {
  ++requests_;
  note_arrival(connection);
  const std::uint64_t id = request.id();
  const MetricOp op = metric_op_of(op_of(request.op_type()));
  if (!connection.principal && request.op_type() != wire::Op::Hello) {
    count_request(Protocol::binary, op, Outcome::unauthorized);
    return add_reply(connection, encode_refusal(builder_of(connection), id, Outcome::unauthorized,
                                                unauthenticated_message));
  }
  ShardCommand command;
  const DecodedRequest decoded = decode_request(request, options_.shards, &command);
  if (decoded.kind == RequestKind::refused) {
    count_request(Protocol::binary, op, decoded.outcome);
    return add_reply(connection,
                     encode_refusal(builder_of(connection), id, decoded.outcome, decoded.message));
  }
  // Without --auth-secret every connection acts as admin with no sub, which
  // may do anything: no check on the hot path.
  const bool auth_on = preparer_.verifier() != nullptr;
  if (auth_on && least_role(decoded.op) && !authorized(connection, id, decoded.op, &command)) {
    return;
  }
  if (decoded.kind == RequestKind::owned) {
    if (decoded.op == Op::book_batch) return apply_batch_owned(connection, id, decoded, command);
    return apply_owned(connection, id, decoded.owner, command);
  }
  switch (decoded.op) {
    case Op::hello:
      return hello(connection, id, *request.op_as_Hello());
    case Op::get_event: {
      Outcome outcome = Outcome::ok;
      add_reply(connection, encode_get_event(builder_of(connection), id, *request.op_as_GetEvent(),
                                             shared_.directory, &outcome));
      return count_request(Protocol::binary, op, outcome);
    }
    case Op::list_events:
      count_request(Protocol::binary, op, Outcome::ok);
      return add_reply(connection,
                       encode_list_events(builder_of(connection), id, *request.op_as_ListEvents(),
                                          shared_.directory));
    case Op::stats: {
      count_request(Protocol::binary, op, Outcome::ok);
      return add_reply(connection, encode_stats(builder_of(connection), id, stats_view()));
    }
    case Op::watch:
      return watch(connection, id, request.op_as_Watch()->event()->string_view(), op);
    case Op::unwatch:
      return unwatch(connection, id, request.op_as_Unwatch()->event()->string_view());
    case Op::create_event:  // owned: applied above
    case Op::update_event:
    case Op::book:
    case Op::book_batch:
    case Op::confirm:
    case Op::cancel:
    case Op::get_booking:
    case Op::list_bookings:
    case Op::waitlist_position:
    case Op::leave_waitlist:
    case Op::metrics:  // HTTP only
    case Op::healthz:
    case Op::page:
      break;
  }
  ADMIT_UNREACHABLE("decode_request answers every other operation as owned or refused");
}

// An owned request: applied here when this shard owns it, else forwarded.
void Reactor::apply_owned(Connection& connection, std::uint64_t id, std::uint32_t owner,
                          const ShardCommand& command) {
  if (owner != shard_) return forward(connection, id, owner, command);
  core_.apply(command, now_ms_, &scratch_result_);
  connection.reflects_turn = true;
  count_answer(scratch_result_);
  add_reply(connection, encode_result(builder_of(connection), id, scratch_result_));
  delete scratch_result_.take_page();
  scratch_result_.batch = nullptr;  // scratch_batch_, this reactor's own
}

// A BookBatch views the request frame: applied here, through scratch_batch_;
// forwarded, as a copy the ring slots carry (freed with its answer).
void Reactor::apply_batch_owned(Connection& connection, std::uint64_t id,
                                const DecodedRequest& decoded, ShardCommand& command) {
  if (decoded.owner != shard_) {
    command.batch = BookBatchRecord::copy_of(decoded.batch_items, decoded.batch_texts);
    return forward(connection, id, decoded.owner, command);
  }
  scratch_batch_.items = decoded.batch_items;
  scratch_batch_.texts = decoded.batch_texts;
  command.batch = &scratch_batch_;
  apply_owned(connection, id, shard_, command);
}

void Reactor::count_answer(const ShardResult& result) {
  count_request(Protocol::binary, metric_op_of(result.op), result.outcome);
  if (result.kind != ResultKind::book_batch) return;
  for (const wire::BookItemResult& item : result.batch->results) {
    count_request(Protocol::binary, MetricOp::book, from_wire(item.outcome()));
  }
}

// With --auth-secret, a binary connection acts as the token of its Hello.
void Reactor::hello(Connection& connection, std::uint64_t id, const wire::Hello& request) {
  if (http::TokenVerifier* verifier = preparer_.verifier()) {
    const http::Verified verified = request.token() == nullptr || request.token()->size() == 0
                                        ? http::Verified{std::nullopt, missing_token_message}
                                        : verifier->verify(request.token()->string_view(), now_ms_);
    connection.principal = verified.principal;
    if (!verified.principal) {
      count_request(Protocol::binary, MetricOp::hello, Outcome::unauthorized);
      return add_reply(connection, encode_refusal(builder_of(connection), id, Outcome::unauthorized,
                                                  verified.why));
    }
  }
  count_request(Protocol::binary, MetricOp::hello, Outcome::ok);
  add_reply(connection, encode_hello(builder_of(connection), id, request, options_.shards,
                                     connection.listener_shard));
}

// Whether the connection's principal may do `operation` (http::authorize, the
// one table of both protocols); a refusal is answered and counted here.
bool Reactor::authorized(Connection& connection, std::uint64_t id, Op op, ShardCommand* command) {
  const http::AccessDecision access = http::authorize_command(*connection.principal, op, command);
  if (access.access == http::Access::allowed) return true;
  count_request(Protocol::binary, metric_op_of(op), Outcome::unauthorized);
  add_reply(connection,
            encode_refusal(builder_of(connection), id, Outcome::unauthorized, access.message));
  return false;
}

// A request was read: the latency of its answer counts from this turn.
void Reactor::note_arrival(Connection& connection) {
  if (connection.waiting_since_ns == 0) connection.waiting_since_ns = turn_ns_;
}

void Reactor::forward(Connection& connection, std::uint64_t id, std::uint32_t owner,
                      const ShardCommand& command) {
  if (!core_.forward(owner, handle_of(connection), id, command)) {
    delete command.batch;  // a BookBatch's copy: refused with it
    count_request(Protocol::binary, metric_op_of(command.op), Outcome::overloaded);
    return add_reply(connection, encode_refusal(builder_of(connection), id, Outcome::overloaded,
                                                ring_full_message));
  }
  ++connection.inflight;
}

// An owner's answer, durable there already: it waits for nothing here.
void Reactor::deliver(std::uint64_t handle, std::uint64_t id, ShardResult& result) {
  Connection* found = lookup(handle);
  if (found == nullptr) return;  // closed meanwhile
  Connection& connection = *found;
  ADMIT_ASSERT(connection.inflight > 0);
  --connection.inflight;
  if (connection.http) {
    deliver_http(connection, id, result);
  } else {
    count_answer(result);
    add_reply(connection, encode_result(builder_of(connection), id, result));
  }
  attend(connection);
}

// The builder of the connection's draft, lending it one if it has none.
ReplyFrameBuilder& Reactor::builder_of(Connection& connection) {
  if (!connection.draft) {
    if (spare_drafts_.empty()) {
      connection.draft = std::make_unique<ReplyDraft>();
    } else {
      connection.draft = std::move(spare_drafts_.back());
      spare_drafts_.pop_back();
    }
  }
  return connection.draft->builder;
}

void Reactor::add_reply(Connection& connection, ReplyOffset reply) {
  ReplyDraft& draft = *connection.draft;  // the reply was built in it
  draft.replies.push_back(reply);
  ++connection.answers_unflushed;
  mark_dirty(connection);
  if (draft.replies.size() >= frame_requests_max ||
      draft.builder.GetSize() >= reply_frame_bytes_soft_max) {
    finish_reply_frame(connection);
  }
}

void LatencyMarks::push(std::size_t end, std::uint32_t answers, std::int64_t arrived_ns) {
  if (size_ == capacity) {  // the newest absorbs it: its oldest arrival stays the bound
    Mark& last = marks_[size_ - 1];
    last.end = end;
    last.answers += answers;
    return;
  }
  marks_[size_++] = {end, answers, arrived_ns};
}

void LatencyMarks::release(std::size_t bytes, std::int64_t now_ns,
                           storage::wal::LatencyHistogram& latency) {
  std::uint8_t done = 0;
  while (done < size_ && marks_[done].end <= bytes) {
    latency.observe(now_ns - marks_[done].arrived_ns, marks_[done].answers);
    ++done;
  }
  for (std::uint8_t i = done; i < size_; ++i) {
    marks_[i - done] = {marks_[i].end - bytes, marks_[i].answers, marks_[i].arrived_ns};
  }
  size_ = static_cast<std::uint8_t>(size_ - done);
}

// Its replies of this turn are flushed at the end of the turn (flush_dirty).
void Reactor::mark_dirty(Connection& connection) {
  if (connection.dirty) return;
  connection.dirty = true;
  dirty_.push_back(connection.index);
}

// Bytes for the peer, in order after those queued before; they leave once
// what they reflect is durable (flush_dirty, then ShardCore::release).
void Reactor::append_out(Connection& connection, std::span<const std::uint8_t> bytes) {
  take_spare_buffer(connection.awaiting_durable);
  connection.awaiting_durable.insert(connection.awaiting_durable.end(), bytes.begin(), bytes.end());
}

// Closes the frame of replies being built, queues its bytes for sending and
// gives the draft back.
void Reactor::finish_reply_frame(Connection& connection) {
  if (!connection.draft) return;
  ReplyDraft& draft = *connection.draft;
  ADMIT_ASSERT(!draft.replies.empty());  // lent only for a reply
  ReplyFrameBuilder& builder = draft.builder;
  const auto replies = builder.CreateVector(draft.replies);
  finish_frame(builder, wire::CreateFrame(builder, 0, replies));
  ADMIT_ASSERT(builder.GetSize() <= frame_header_size + frame_size_max);
  append_out(connection, builder.GetBufferSpan());
  if (builder.GetSize() > builder_keep_bytes || spare_drafts_.size() >= spare_drafts_max) {
    connection.draft.reset();
    return;
  }
  builder.Clear();
  draft.replies.clear();
  spare_drafts_.push_back(std::move(connection.draft));
}

// Lends an emptied buffer, if one is spare, to `buffer` about to be filled.
void Reactor::take_spare_buffer(std::vector<std::uint8_t>& buffer) {
  if (buffer.capacity() != 0 || spare_buffers_.empty()) return;
  buffer.swap(spare_buffers_.back());
  spare_buffers_.pop_back();
  spare_buffer_bytes_ -= buffer.capacity();
}

// Takes the memory of an emptied buffer: kept as a spare within the bounds,
// freed past them.
void Reactor::give_back_buffer(std::vector<std::uint8_t>& buffer) {
  ADMIT_ASSERT(buffer.empty());
  const std::size_t capacity = buffer.capacity();
  if (capacity == 0) return;
  if (capacity > spare_buffer_keep_bytes ||
      spare_buffer_bytes_ + capacity > spare_buffer_bytes_max) {
    buffer = {};
    return;
  }
  spare_buffers_.emplace_back().swap(buffer);
  spare_buffer_bytes_ += capacity;
}

// A connection with nothing waiting and nothing being sent gives its buffers
// back: idle connections (the many) hold no memory but their struct.
void Reactor::release_idle_buffers(Connection& connection) {
  if (connection.send_in_flight || connection.queued_bytes() != 0) return;
  connection.send_active.clear();
  connection.send_offset = 0;
  give_back_buffer(connection.send_active);
  give_back_buffer(connection.send_queued);
  give_back_buffer(connection.awaiting_durable);
  core_.ledger().trim_client(connection.index);  // frees marks grown past the inline one
}

// One last answer (binary: a reply with id 0; HTTP: after those already
// owed, with Connection: close), then the connection closes once it is
// sent; nothing more is read from it.
void Reactor::refuse_and_close(Connection& connection, Outcome outcome, std::string_view message) {
  if (connection.http) {
    fill_http(connection, connection.http->order.take_ticket(), http::refusal(outcome, message),
              false, MetricOp::other);
  } else {
    finish_reply_frame(connection);
    append_out(connection, single_reply_frame(outcome, message));
  }
  connection.enter(ConnectionState::last_answer);
  stop_reading(connection);
  mark_dirty(connection);
}

// This turn's frames wait for what they reflect (ShardCore::flush_client);
// ShardCore::release() sends them.
void Reactor::flush_dirty() {
  for (const std::uint32_t index : dirty_) {
    Connection& connection = *connections_[index];
    connection.dirty = false;
    if (!connection.live()) continue;
    if (connection.http) {
      flush_http(connection);
    } else {
      finish_reply_frame(connection);
    }
    if (connection.answers_unflushed != 0) {
      connection.latency_marks.push(connection.awaiting_durable.size(),
                                    connection.answers_unflushed, connection.waiting_since_ns);
      connection.answers_unflushed = 0;
      const bool still_waiting =
          connection.inflight != 0 || (connection.http && connection.http->order.waiting() != 0);
      connection.waiting_since_ns = still_waiting ? turn_ns_ : 0;
    }
    core_.flush_client(index, connection.generation, connection.awaiting_durable.size(),
                       connection.reflects_turn);
    // An HTTP answer applied here may still wait behind an earlier request's
    // (AnswerOrder): until none waits, later flushes wait for their turn's
    // batch too, never less than the one it reflects.
    if (!connection.http || connection.http->order.waiting() == 0) connection.reflects_turn = false;
  }
  dirty_.clear();
  attend_queued();  // connections with nothing left to send may close now
}

void Reactor::submit_send(Connection& connection) {
  if (connection.send_in_flight || !connection.live()) return;
  if (connection.send_offset == connection.send_active.size()) {
    if (connection.send_queued.empty()) return;
    connection.send_active.clear();
    connection.send_active.swap(connection.send_queued);
    connection.send_offset = 0;
    connection.last_send_progress_ms = now_ms_;
  }
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_send(sqe, connection.fd, connection.send_active.data() + connection.send_offset,
                     connection.send_active.size() - connection.send_offset, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, tag_of(CompletionKind::send, connection).encode());
  connection.send_in_flight = true;
  ++connection.ops;
}

void Reactor::on_send(Connection& connection, const io_uring_cqe& cqe) {
  connection.send_in_flight = false;
  --connection.ops;
  if (!connection.live()) return;
  if (cqe.res < 0) {
    close_connection(connection);
    return;
  }
  connection.send_offset += static_cast<std::size_t>(cqe.res);
  ++sends_;
  bytes_sent_ += static_cast<std::uint64_t>(cqe.res);
  connection.last_send_progress_ms = now_ms_;
  if (connection.http) connection.http->last_activity_ms = now_ms_;
  ADMIT_ASSERT(connection.send_offset <= connection.send_active.size());
  if (connection.send_offset == connection.send_active.size()) {
    connection.send_active.clear();
    connection.send_offset = 0;
    if (connection.send_active.capacity() > send_keep_bytes) connection.send_active = {};
  }
  submit_send(connection);
  attend(connection);
}

bool Reactor::should_pause(const Connection& connection) const {
  return connection.inflight >= options_.max_inflight ||
         connection.queued_bytes() >= options_.max_send_queue_bytes ||
         (connection.http && connection.http->order.full());
}

void Reactor::attend(Connection& connection) {
  if (connection.attention_queued) return;
  connection.attention_queued = true;
  attention_.push_back(connection.index);
}

// Resumes what a limit paused, re-arms reading, and closes connections that
// are done (EOF or refused) once nothing is owed to them.
void Reactor::attend_queued() {
  for (std::size_t i = 0; i < attention_.size(); ++i) {  // may grow while we go
    Connection& connection = *connections_[attention_[i]];
    connection.attention_queued = false;
    if (!connection.live()) continue;
    if (connection.paused && !should_pause(connection)) {
      connection.paused = false;
      connection.frame_started_ms = now_ms_;  // a pause is the server's wait, not the peer's
      drain_pending(connection);
      if (!connection.live()) continue;
    }
    const bool owes_nothing = connection.inflight == 0 && !connection.send_in_flight &&
                              !connection.dirty && connection.queued_bytes() == 0;
    if (connection.winding_down() && owes_nothing) {
      close_connection(connection);
      continue;
    }
    release_idle_buffers(connection);
    if (!connection.paused && connection.receive == Receive::idle &&
        connection.state == ConnectionState::open) {
      arm_recv(connection);
    }
  }
  attention_.clear();
}

void Reactor::close_connection(Connection& connection) {
  if (connection.state == ConnectionState::closing) return;
  connection.enter(ConnectionState::closing);
  // Its watches end now, counted off exactly once; pushes never find it.
  watches_.forget(watcher_of(connection), shared_.directory);
  if (connection.counted) {
    connection.counted = false;
    shared_.connections.fetch_sub(1, std::memory_order_relaxed);
    --open_connections_;
    if (connection.http) --http_connections_;
  }
  if (connection.ops > 0) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_cancel_fd(sqe, connection.fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, CompletionTag{CompletionKind::ignore, 0, 0}.encode());
  }
  closing_.push_back(connection.index);
}

// Frees closed connections whose operations have all ended; their slots get
// a new generation, so late answers for them find nobody.
void Reactor::free_closed() {
  std::size_t kept = 0;
  for (const std::uint32_t index : closing_) {
    Connection& connection = *connections_[index];
    if (connection.ops > 0) {
      closing_[kept++] = index;
      continue;
    }
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_close(sqe, connection.fd);
    io_uring_sqe_set_data64(sqe, CompletionTag{CompletionKind::ignore, 0, 0}.encode());
    core_.ledger().forget_client(index);
    const std::uint32_t next_generation = connection.generation + 1;
    connection.enter(ConnectionState::free);
    connections_[index] = std::make_unique<Connection>();  // a fresh one, its memory freed
    connections_[index]->index = index;
    connections_[index]->generation = next_generation;
    free_slots_.push_back(index);
  }
  closing_.resize(kept);
}

// A client that stopped reading: its send has not moved for
// slow_reader_timeout_ms while its queue is full (or while we only wait to
// close it). Dropped, so it holds no memory.
void Reactor::drop_slow_readers() {
  for (auto& slot : connections_) {
    Connection& connection = *slot;
    if (!connection.live() || !connection.send_in_flight) continue;
    if (now_ms_ - connection.last_send_progress_ms <= slow_reader_timeout_ms) continue;
    if (connection.state == ConnectionState::last_answer ||
        connection.queued_bytes() >= options_.max_send_queue_bytes) {
      close_connection(connection);
    }
  }
}

// A binary peer that sent part of a frame (some of its length prefix or of
// its body) and then nothing for --frame-timeout-ms: half-open, or trickling
// bytes to hold a slot and a reassembly buffer. Closed. Not while paused:
// then the server is the one not reading.
void Reactor::close_stalled_frames() {
  for (auto& slot : connections_) {
    Connection& connection = *slot;
    if (connection.http || connection.state != ConnectionState::open || connection.paused) {
      continue;
    }
    if (connection.pending.empty()) continue;
    if (now_ms_ - connection.frame_started_ms > options_.frame_timeout_ms) {
      close_connection(connection);
    }
  }
}

}  // namespace admit::server
