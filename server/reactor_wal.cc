// Reactor: the shard's write-ahead log (storage/wal/wal.h) as io_uring sees
// it: opened and replayed at start, its completion eventfd read, closed at
// the end, and the connection side of releasing durable answers. What goes
// into the log and what waits for it is ShardCore's (shard_core.h).
#include <charconv>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/assertions.h"
#include "server/completion_tag.h"
#include "server/http/response.h"
#include "server/reactor.h"

namespace admit::server {
namespace wal = storage::wal;
namespace {

wal::Options wal_options(const ServerOptions& options, std::uint32_t shard,
                         const storage::Options& machine, ShardMetrics& metrics) {
  wal::Options wal;
  wal.dir = options.data_dir;
  wal.shard = shard;
  wal.shards = options.shards;
  wal.mode = options.durability == Durability::batched ? wal::Mode::batched : wal::Mode::strict;
  wal.sync_interval_ms = options.sync_interval_ms;
  wal.map_size_bytes = options.map_size_bytes;
  wal.map_size_max_bytes = options.map_size_max_bytes;
  wal.sealed_batches_max = wal_sealed_batches_max;
  wal.sealed_bytes_max = wal_sealed_bytes_max;
  wal.checkpoint_every_records = options.checkpoint_records;
  wal.checkpoint_every_ms = std::int64_t{options.checkpoint_seconds} * 1000;
  wal.machine = machine;
  wal.log = [](const std::string& line) { std::fprintf(stderr, "admitd: %s\n", line.c_str()); };
  wal.sync_latency = &metrics.wal_sync;
  return wal;
}

std::vector<std::uint8_t> refused_http_answers(std::span<const std::uint8_t> bytes,
                                               std::string_view message) {
  constexpr std::string_view header_end = "\r\n\r\n";
  constexpr std::string_view length_field = "\r\nContent-Length: ";
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const http::Answer refusal = http::refusal(Outcome::unavailable, message);
  std::string out;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t head_end = text.find(header_end, at);
    ADMIT_ASSERT(head_end != std::string_view::npos);  // whole answers this server wrote
    const std::string_view head = text.substr(at, head_end - at);
    const std::size_t length_at = head.find(length_field);
    if (length_at == std::string_view::npos) {  // no body here, reflects nothing
      out.append(text.substr(at, head_end + header_end.size() - at));
      at = head_end + header_end.size();
      continue;
    }
    std::size_t length = 0;
    const std::string_view digits = head.substr(length_at + length_field.size());
    std::from_chars(digits.data(), digits.data() + digits.size(), length);
    const bool keep_alive = head.find("\r\nConnection: close") == std::string_view::npos;
    http::append_answer(&out, refusal, keep_alive);
    at = head_end + header_end.size() + length;
  }
  return {out.begin(), out.end()};
}

}  // namespace

bool Reactor::open_wal(std::string* why) {
  // Without a log, changes are still published once per turn (the last view
  // of each event), not once per change: every batch counts as durable.
  if (options_.durability == Durability::off) return true;
  wal_ = wal::ShardWal::open(
      wal_options(options_, shard_, core_.machine().options(), shared_.metrics[shard_]), why);
  if (wal_ == nullptr || !recover_wal(why)) return false;
  core_.attach_log(wal_.get());
  return true;
}

// Replays the log into the fresh machine, then publishes every event (all of
// it is durable). `why` names the shard, LSN and file.
bool Reactor::recover_wal(std::string* why) {
  const auto progress = [this](std::uint64_t records) {
    std::fprintf(stderr, "admitd: shard %u: recovering, %llu records replayed so far\n", shard_,
                 static_cast<unsigned long long>(records));
  };
  wal::RecoveryReport report;
  if (!wal_->recover(core_.machine_for_replay(), progress, &report, why)) return false;
  core_.replayed();
  const std::int64_t elapsed_ms = std::max<std::int64_t>(report.elapsed_ms, 1);
  std::fprintf(
      stderr,
      "admitd: shard %u: recovered %llu records (checkpoint LSN %llu, last LSN %llu) "
      "in %lld ms, %.0f records/s\n",
      shard_, static_cast<unsigned long long>(report.records_replayed),
      static_cast<unsigned long long>(report.checkpoint_lsn),
      static_cast<unsigned long long>(report.last_lsn), static_cast<long long>(report.elapsed_ms),
      static_cast<double>(report.records_replayed) * 1000.0 / static_cast<double>(elapsed_ms));
  return true;
}

void Reactor::arm_wal_completion() {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_read(sqe, wal_->completion_fd(), &wal_completion_value_,
                     sizeof wal_completion_value_, 0);
  io_uring_sqe_set_data64(sqe, CompletionTag{CompletionKind::wal_durable, 0, 0}.encode());
}

bool Reactor::release_client(std::uint32_t index, std::uint32_t generation, std::size_t bytes) {
  Connection& connection = *connections_[index];
  // A closed connection's answers go nowhere; its slot may serve another now.
  if (!connection.live() || connection.generation != generation) {
    return false;
  }
  connection.latency_marks.release(
      bytes, release_ns_,
      shared_.metrics[shard_].latency[static_cast<std::size_t>(connection.protocol())]);
  std::vector<std::uint8_t>& awaiting = connection.awaiting_durable;
  if (bytes == awaiting.size() && connection.send_queued.empty()) {
    connection.send_queued.swap(awaiting);  // the common case: no copy
    awaiting.clear();
  } else {
    const auto end = awaiting.begin() + static_cast<std::ptrdiff_t>(bytes);
    connection.send_queued.insert(connection.send_queued.end(), awaiting.begin(), end);
    awaiting.erase(awaiting.begin(), end);
  }
  submit_send(connection);
  attend(connection);
  return true;
}

// Answers of a failed batch, each replaced by a refusal: binary reply frames
// (request_codec.h), or HTTP answers (each as this server writes them, with
// Content-Length; a head without one, 100 Continue or an SSE stream's, stays).
bool Reactor::fail_client(std::uint32_t index, std::uint32_t generation, std::size_t bytes,
                          std::string_view message) {
  Connection& connection = *connections_[index];
  if (!connection.live() || connection.generation != generation) return false;
  connection.latency_marks.release(
      bytes, release_ns_,
      shared_.metrics[shard_].latency[static_cast<std::size_t>(connection.protocol())]);
  std::vector<std::uint8_t>& awaiting = connection.awaiting_durable;
  const std::span<const std::uint8_t> failed{awaiting.data(), bytes};
  const std::vector<std::uint8_t> refused =
      connection.http ? refused_http_answers(failed, message)
                      : refused_reply_frames(failed, Outcome::unavailable, message);
  awaiting.erase(awaiting.begin(), awaiting.begin() + static_cast<std::ptrdiff_t>(bytes));
  connection.send_queued.insert(connection.send_queued.end(), refused.begin(), refused.end());
  submit_send(connection);
  attend(connection);
  return true;
}

// Commits and syncs what was sealed, then says what the log did. Answers
// never made visible in the response rings are dropped (the shards are
// stopping).
void Reactor::close_wal() {
  core_.close();
  if (!wal_) return;
  wal_->close();
  const wal::WalStats stats = wal_->stats();
  std::fprintf(stderr,
               "admitd: shard %u: WAL closed: %llu records in %llu batches, %llu transactions, "
               "%llu syncs, %llu checkpoints, map %zu bytes%s\n",
               shard_, static_cast<unsigned long long>(stats.records_committed),
               static_cast<unsigned long long>(stats.batches_committed),
               static_cast<unsigned long long>(stats.transactions),
               static_cast<unsigned long long>(stats.syncs),
               static_cast<unsigned long long>(stats.checkpoints), stats.map_size_bytes,
               stats.failed ? " (failed)" : "");
}

}  // namespace admit::server
