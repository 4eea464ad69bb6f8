#include "server/reactor.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "protocol/assertions.h"
#include "server/completion_tag.h"

namespace admit::server {
namespace {

// The flag sets to try, best first; the kernel answers EINVAL to those it lacks.
constexpr unsigned uring_flag_sets[] = {
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
    IORING_SETUP_COOP_TASKRUN,
    0,
};

}  // namespace

Reactor::Reactor(SharedState& shared, std::uint32_t shard, int base_listener, int shard_listener,
                 int http_listener, int stop_fd)
    : shared_(shared),
      options_(shared.options),
      shard_(shard),
      listeners_{base_listener, shard_listener, http_listener},
      stop_fd_(stop_fd),
      core_(shared, shard),
      preparer_(shared.options.shards, shared.options.auth_secret) {}

Reactor::~Reactor() {
  if (ring_ready_) io_uring_queue_exit(&ring_);
  if (buffer_ring_ != nullptr) ::munmap(buffer_ring_, recv_buffer_count * sizeof(io_uring_buf));
  std::free(buffers_);
}

bool Reactor::setup(std::string* why) {
  int rc = -EINVAL;
  for (const unsigned flags : uring_flag_sets) {
    io_uring_params params{};
    params.flags = flags | IORING_SETUP_CQSIZE;
    params.cq_entries = uring_cq_entries;
    rc = io_uring_queue_init_params(uring_sq_entries, &ring_, &params);
    if (rc != -EINVAL) break;
  }
  if (rc < 0) {
    *why = "shard " + std::to_string(shard_) + ": io_uring setup failed: " + std::strerror(-rc);
    return false;
  }
  ring_ready_ = true;

  // The provided-buffer ring, by hand (liburing 2.3 has no io_uring_setup_buf_ring).
  void* ring_memory = ::mmap(nullptr, recv_buffer_count * sizeof(io_uring_buf),
                             PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (ring_memory == MAP_FAILED) {
    *why = "shard " + std::to_string(shard_) + ": cannot map the receive buffer ring";
    return false;
  }
  buffer_ring_ = static_cast<io_uring_buf_ring*>(ring_memory);
  io_uring_buf_reg registration{};
  registration.ring_addr = reinterpret_cast<std::uint64_t>(ring_memory);
  registration.ring_entries = recv_buffer_count;
  registration.bgid = receive_buffer_group;
  rc = io_uring_register_buf_ring(&ring_, &registration, 0);
  if (rc < 0) {
    *why = "shard " + std::to_string(shard_) +
           ": cannot register receive buffers: " + std::strerror(-rc);
    return false;
  }
  io_uring_buf_ring_init(buffer_ring_);
  buffers_ = static_cast<std::uint8_t*>(
      std::aligned_alloc(4096, std::size_t{recv_buffer_count} * recv_buffer_size));
  if (buffers_ == nullptr) {
    *why = "shard " + std::to_string(shard_) + ": cannot allocate receive buffers";
    return false;
  }
  for (std::uint32_t id = 0; id < recv_buffer_count; ++id) {
    io_uring_buf_ring_add(buffer_ring_, buffers_ + std::size_t{id} * recv_buffer_size,
                          recv_buffer_size, static_cast<std::uint16_t>(id),
                          io_uring_buf_ring_mask(recv_buffer_count), static_cast<int>(id));
  }
  io_uring_buf_ring_advance(buffer_ring_, recv_buffer_count);
  aligned_frame_ = std::make_unique<std::uint64_t[]>((frame_header_size + frame_size_max) / 8 + 1);
  if (!open_wal(why)) return false;
  shared_.ring_fds[shard_] = ring_.ring_fd;
  return true;
}

void Reactor::return_buffer(std::uint16_t buffer_id) {
  io_uring_buf_ring_add(buffer_ring_, buffers_ + std::size_t{buffer_id} * recv_buffer_size,
                        recv_buffer_size, buffer_id, io_uring_buf_ring_mask(recv_buffer_count), 0);
  io_uring_buf_ring_advance(buffer_ring_, 1);
}

io_uring_sqe* Reactor::next_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe != nullptr) return sqe;
  // The queue is full: hand it to the kernel and go on.
  const int submitted = io_uring_submit(&ring_);
  sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    fail_stop("no submission queue entry free after io_uring_submit",
              submitted < 0 ? -submitted : 0);
  }
  return sqe;
}

void Reactor::fail_stop(const char* what, int error) const {
  std::fprintf(stderr, "admitd: shard %u: %s%s%s; stopping admitd\n", shard_, what,
               error != 0 ? ": " : "", error != 0 ? std::strerror(error) : "");
  std::fflush(stderr);
  std::_Exit(1);  // other shards' threads still run: no destructors, no half service
}

void Reactor::run() {
  now_ms_ = wall_clock_ms();
  for (int i = 0; i < listener_count; ++i) {
    if (listeners_[i] >= 0) arm_accept(i);
  }
  arm_housekeeping();
  arm_stop_read();
  if (wal_) arm_wal_completion();
  while (!stopping_) {
    const int rc = io_uring_submit_and_wait(&ring_, 1);
    if (rc < 0 && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN) {
      fail_stop("io_uring_enter failed", -rc);
    }
    now_ms_ = wall_clock_ms();
    turn_ns_ = monotonic_ns();
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      handle_completion(*cqe);
      ++seen;
    }
    io_uring_cq_advance(&ring_, seen);
    end_turn();
  }
  shut_down();
}

void Reactor::handle_completion(const io_uring_cqe& cqe) {
  const CompletionTag tag = CompletionTag::decode(cqe.user_data);
  switch (tag.kind) {
    case CompletionKind::accept:
      return on_accept(static_cast<int>(tag.index), cqe);
    case CompletionKind::recv:
    case CompletionKind::send: {
      ADMIT_ASSERT(tag.index < connections_.size());
      Connection& connection = *connections_[tag.index];
      // A connection slot is reused only after all its operations ended.
      ADMIT_ASSERT(connection.state != ConnectionState::free &&
                   connection.generation == tag.generation);
      if (tag.kind == CompletionKind::recv) return on_recv(connection, cqe);
      return on_send(connection, cqe);
    }
    case CompletionKind::housekeeping:
      return on_housekeeping();
    case CompletionKind::expiry:
      if (tag.generation == expiry_generation_ && cqe.res == -ETIME) {
        expiry_armed_ms_.reset();
        run_expiry();
      }
      return;
    case CompletionKind::watch_tick:  // the round runs at the end of the turn
      watch_timer_armed_ = false;
      return;
    case CompletionKind::wal_durable:  // durable answers are released at the end of the turn
      if (!stopping_) arm_wal_completion();
      return;
    case CompletionKind::stop:
      stopping_ = true;
      return;
    case CompletionKind::wake_in:   // rings are drained at the end of every turn
    case CompletionKind::wake_out:  // a failed wake is made good by the housekeeping tick
    case CompletionKind::ignore:
      return;
  }
}

// The phases of a turn, after its completions were handled (which applied
// the requests of this shard's connections). The order matters:
//  1. peers: requests other shards forwarded are applied and owners' answers
//     delivered before the seal, so those changes join this turn's batch;
//  2. attend: connections a delivery unpaused read again, likewise before
//     the seal;
//  3. checkpoint, then seal (ShardCore::end_turn): the log starts a
//     checkpoint or hands a finished one (made off the reactor) to the
//     batch; the turn's ring answers and publication wait for the sealed
//     batch;
//  4. flush: each connection's replies of the turn are marked with the batch
//     they wait for, known only once sealed;
//  5. release: whatever is durable now goes out (this turn's own answers at
//     once without a log) — after the flush, or they would wait a turn more;
//  6. close what is done, re-arm the expiry timer, publish the server's own
//     counters and wake the shards this one sent news to.
void Reactor::end_turn() {
  core_.serve_peers(now_ms_, [this](std::uint64_t handle, std::uint64_t id, ShardResult& result) {
    deliver(handle, id, result);
  });
  attend_queued();
  core_.end_turn(now_ms_);
  flush_dirty();
  release_ns_ = monotonic_ns();
  core_.release(*this);
  push_watches();   // after the publications: watchers see what is durable now
  attend_queued();  // connections with nothing left to send may close now
  free_closed();
  arm_expiry_timer();
  arm_watch_timer();
  publish_connection_stats();
  send_wakes();
  observe_turn(monotonic_ns() - turn_ns_);
}

void Reactor::observe_turn(std::int64_t turn_ns) {
  ShardMetrics& metrics = shared_.metrics[shard_];
  metrics.turn.observe(turn_ns);
  if (turn_ns > metrics.turn_max_ns.load(std::memory_order_relaxed)) {
    metrics.turn_max_ns.store(turn_ns, std::memory_order_relaxed);
  }
}

void Reactor::arm_accept(int listener_index) {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_multishot_accept(sqe, listeners_[listener_index], nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(
      sqe, CompletionTag{CompletionKind::accept, static_cast<std::uint32_t>(listener_index), 0}
               .encode());
  accept_armed_[listener_index] = true;
}

void Reactor::on_accept(int listener_index, const io_uring_cqe& cqe) {
  if ((cqe.flags & IORING_CQE_F_MORE) == 0) accept_armed_[listener_index] = false;
  if (cqe.res < 0) return;  // e.g. EMFILE: the housekeeping tick re-arms
  const int fd = cqe.res;
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  Connection& connection =
      *open_connection(fd, listener_index == 1 ? static_cast<int>(shard_) : -1);
  if (listener_index == http_listener_index) {
    connection.http = std::make_unique<HttpSession>();
    connection.http->last_activity_ms = now_ms_;
  } else if (!options_.auth_secret) {
    connection.principal = http::Principal{};  // no auth: acts as admin
  }
  const std::uint32_t before = shared_.connections.fetch_add(1, std::memory_order_relaxed);
  if (before >= options_.max_connections) {
    shared_.connections.fetch_sub(1, std::memory_order_relaxed);
    ++overloaded_;
    refuse_and_close(connection, Outcome::overloaded,
                     "connections: the server is at --max-connections (" +
                         std::to_string(options_.max_connections) + "); retry later");
  } else {
    connection.counted = true;
    ++open_connections_;
    if (connection.http) ++http_connections_;
    arm_recv(connection);
  }
  if (!accept_armed_[listener_index] && !stopping_) arm_accept(listener_index);
}

// A multishot accept holds its listening socket until its last completion:
// without this, the port stays taken after admitd exits, until the kernel
// tears the ring down. Waits at most shutdown_accept_wait_ms for them.
void Reactor::cancel_accepts() {
  for (int i = 0; i < listener_count; ++i) {
    if (!accept_armed_[i]) continue;
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_cancel64(
        sqe, CompletionTag{CompletionKind::accept, static_cast<std::uint32_t>(i), 0}.encode(), 0);
    io_uring_sqe_set_data64(sqe, CompletionTag{CompletionKind::ignore, 0, 0}.encode());
  }
  const std::int64_t deadline_ms = wall_clock_ms() + shutdown_accept_wait_ms;
  const auto any_armed = [this] {
    return accept_armed_[0] || accept_armed_[1] || accept_armed_[2];
  };
  while (any_armed() && wall_clock_ms() < deadline_ms) {
    __kernel_timespec wait{0, 10'000'000};
    io_uring_cqe* cqe = nullptr;
    io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &wait, nullptr);
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      const CompletionTag tag = CompletionTag::decode(cqe->user_data);
      if (tag.kind != CompletionKind::accept) continue;  // the shard is stopping: nothing to do
      if (cqe->res >= 0) ::close(cqe->res);              // accepted just before the cancel
      if ((cqe->flags & IORING_CQE_F_MORE) == 0) accept_armed_[tag.index] = false;
    }
    io_uring_cq_advance(&ring_, seen);
  }
}

void Reactor::arm_housekeeping() {
  housekeeping_interval_.tv_sec = 0;
  housekeeping_interval_.tv_nsec = housekeeping_interval_ms * 1'000'000;
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_timeout(sqe, &housekeeping_interval_, 0, 0);
  io_uring_sqe_set_data64(sqe, CompletionTag{CompletionKind::housekeeping, 0, 0}.encode());
}

void Reactor::on_housekeeping() {
  arm_housekeeping();
  for (int i = 0; i < listener_count; ++i) {
    if (listeners_[i] >= 0 && !accept_armed_[i] && !stopping_) arm_accept(i);
  }
  drop_slow_readers();
  close_stalled_frames();
  close_stalled_http();
  send_sse_heartbeats();
  // For /healthz on any shard; failure() takes the log's lock: not per turn.
  if (wal_) {
    const storage::wal::WalStats wal = wal_->stats();
    ShardMetrics& metrics = shared_.metrics[shard_];
    metrics.wal_records.store(wal.records_committed, std::memory_order_relaxed);
    metrics.wal_commits.store(wal.transactions, std::memory_order_relaxed);
    metrics.wal_syncs.store(wal.syncs, std::memory_order_relaxed);
    std::string failure = wal_->failure();
    if (failure != storage_failure_) {
      shared_.set_storage_failure(shard_, failure);
      storage_failure_ = std::move(failure);
    }
  }
  // Request ids past their retention go once a second; holds go on their own
  // timer, or here while the WAL refused their Expire.
  constexpr std::uint64_t ticks_per_retention_sweep = 1000 / housekeeping_interval_ms;
  const bool sweep = ++housekeeping_ticks_ % ticks_per_retention_sweep == 0;
  if (sweep || expiry_blocked_) run_expiry();
}

// One bounded expire(). Work left over re-arms the timer at once (the next
// turn takes the next step), so requests are served in between.
void Reactor::run_expiry() {
  const auto step = core_.expire(now_ms_);
  expiry_blocked_ = step == Core::ExpireStep::refused;
  expiry_more_due_ = step == Core::ExpireStep::more_due;
}

// Keeps one timer armed for the earliest hold expiry. A later deadline does
// not need a new timer: the earlier one fires, expire() runs, and this re-arms.
void Reactor::arm_expiry_timer() {
  if (expiry_blocked_) return;  // a past deadline would fire at once, every turn
  const std::optional<std::int64_t> next =
      expiry_more_due_ ? std::optional(now_ms_) : core_.machine().next_expiry_ms();
  if (!next || (expiry_armed_ms_ && *expiry_armed_ms_ <= *next)) return;
  if (expiry_armed_ms_) {
    io_uring_sqe* remove = next_sqe();
    io_uring_prep_timeout_remove(
        remove, CompletionTag{CompletionKind::expiry, 0, expiry_generation_}.encode(), 0);
    io_uring_sqe_set_data64(remove, CompletionTag{CompletionKind::ignore, 0, 0}.encode());
  }
  ++expiry_generation_;
  expiry_deadline_.tv_sec = *next / 1000;
  expiry_deadline_.tv_nsec = (*next % 1000) * 1'000'000;
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_timeout(sqe, &expiry_deadline_, 0, IORING_TIMEOUT_ABS | IORING_TIMEOUT_REALTIME);
  io_uring_sqe_set_data64(sqe,
                          CompletionTag{CompletionKind::expiry, 0, expiry_generation_}.encode());
  expiry_armed_ms_ = *next;
}

void Reactor::arm_stop_read() {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_read(sqe, stop_fd_, &stop_value_, sizeof stop_value_, 0);
  io_uring_sqe_set_data64(sqe, CompletionTag{CompletionKind::stop, 0, 0}.encode());
}

void Reactor::send_wakes() {
  for (std::uint64_t wakes = core_.peers().take_wakes(), target = 0; wakes != 0;
       ++target, wakes >>= 1) {
    if ((wakes & 1) == 0) continue;
    ADMIT_ASSERT(target != shard_);
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_msg_ring(sqe, shared_.ring_fds[target], 0,
                           CompletionTag{CompletionKind::wake_in, 0, 0}.encode(), 0);
    io_uring_sqe_set_data64(sqe, CompletionTag{CompletionKind::wake_out, 0, 0}.encode());
    // Only a failed wake needs a completion: a successful one would cost this
    // shard a turn of its own for nothing.
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
  }
}

// The counters of the shard's state go with the turn's publication
// (ShardCore), once durable; these describe the server itself.
void Reactor::publish_connection_stats() {
  constexpr auto relaxed = std::memory_order_relaxed;
  ShardStatsCounters& stats = shared_.stats[shard_];
  stats.connections.store(open_connections_, relaxed);
  stats.http_connections.store(http_connections_, relaxed);
  stats.requests.store(requests_, relaxed);
  stats.forwarded.store(core_.peers().forwarded(), relaxed);
  stats.overloaded.store(overloaded_ + core_.overloaded(), relaxed);
  stats.receives.store(receives_, relaxed);
  stats.bytes_received.store(bytes_received_, relaxed);
  stats.sends.store(sends_, relaxed);
  stats.bytes_sent.store(bytes_sent_, relaxed);
}

StatsView Reactor::stats_view() const {
  const ProcessCpu cpu = process_cpu();
  return {{shared_.stats.get(), options_.shards},
          durability_name(options_.durability),
          now_ms_ - shared_.started_at_ms,
          resident_bytes(),
          cpu.user_us,
          cpu.system_us};
}

void Reactor::shut_down() {
  cancel_accepts();
  close_wal();
  for (auto& connection : connections_) {
    if (connection->state != ConnectionState::free) ::close(connection->fd);
  }
  open_connections_ = 0;
  publish_connection_stats();
}

}  // namespace admit::server
