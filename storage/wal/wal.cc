#include "storage/wal/wal.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>

#include "admit/limits.h"
#include "protocol/assertions.h"

namespace admit::storage::wal {
namespace {

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::array<std::uint8_t, 4> u32_bytes(std::uint32_t v) {
  return {static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8),
          static_cast<std::uint8_t>(v >> 16), static_cast<std::uint8_t>(v >> 24)};
}

int put_u32(MDB_txn* txn, MDB_dbi db, std::string_view key, std::uint32_t value) {
  const auto bytes = u32_bytes(value);
  MDB_val k = to_val(key), v = to_val(std::span<const std::uint8_t>(bytes));
  return mdb_put(txn, db, &k, &v, 0);
}

// Deletes the chunks of every checkpoint but the current one: the ones a
// crash or a close left while writing a checkpoint, and, once the next is
// current, the last one's. A malformed head deletes nothing (recovery
// refuses it).
int delete_staged_chunks(MDB_txn* txn, MDB_dbi checkpoint_db) {
  std::optional<CheckpointHead> head;
  std::string malformed;
  if (!read_checkpoint(txn, checkpoint_db, &head, nullptr, &malformed)) return MDB_SUCCESS;
  MDB_cursor* cursor;
  int rc = mdb_cursor_open(txn, checkpoint_db, &cursor);
  if (rc != MDB_SUCCESS) return rc;
  const std::uint8_t first = checkpoint_chunk_tag;
  MDB_val k{1, const_cast<std::uint8_t*>(&first)}, v;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE); rc == MDB_SUCCESS;) {
    const auto chunk = checkpoint_chunk_of_key(k);
    if (!chunk) break;
    if (head && !head->legacy && chunk->lsn == head->lsn) {
      rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
      continue;
    }
    // Sought again from the deleted key: the next one, whatever the cursor
    // points at after a delete.
    const ChunkKey deleted = checkpoint_chunk_key(chunk->lsn, chunk->index);
    if ((rc = mdb_cursor_del(cursor, 0)) != MDB_SUCCESS) break;
    k = to_val(std::span<const std::uint8_t>(deleted));
    rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
  }
  mdb_cursor_close(cursor);
  return rc == MDB_NOTFOUND || rc == MDB_SUCCESS ? MDB_SUCCESS : rc;
}

bool is_space_error(int rc) { return rc == ENOSPC || rc == EDQUOT || rc == EFBIG; }

// Records replayed between looks at the clock for the progress callback.
constexpr std::uint64_t progress_check_records = 4096;
// A checkpoint is stored in pieces of at most this size: LMDB keeps a value
// up to about half a 4 KiB page in a leaf page. A larger one takes
// contiguous overflow pages, whose allocation searches (and merges) the
// free list, taking seconds in a file of gigabytes with a fragmented one.
constexpr std::size_t checkpoint_piece_bytes_max = 2000;
// A commit writes its records plus B-tree pages and the free list: at most
// this many times the records' bytes, plus a few pages.
constexpr std::uint64_t commit_bytes_factor = 2;
constexpr std::uint64_t commit_overhead_bytes = 1 << 20;
// How much lower than the reactor's the checkpointer's CPU priority is.
constexpr int checkpointer_nice_increment = 10;
constexpr int nice_lowest = 19;
// Pages a commit touches besides its records' (branch pages, the named
// databases' roots, the free list, the meta page), twice: what waits may
// take two transactions.
constexpr std::size_t commit_overhead_pages = 16;

}  // namespace

// A snapshot the checkpointer made, waiting to be handed to a batch.
struct ShardWal::Checkpoint {
  std::vector<std::uint8_t> state;
  std::uint64_t lsn = 0;      // it covers the records <= lsn, exactly
  std::size_t log_bytes = 0;  // the records it makes redundant (after the last checkpoint's)
  bool failed = false;        // none made for an error (said in the log), not for lack of records
};

// The checkpoint the syncer is writing, a chunk (pieces_per_chunk pieces)
// a transaction, then the last one's pieces it deletes.
struct ShardWal::Staging {
  std::vector<std::uint8_t> state;
  std::uint64_t lsn = 0;
  std::size_t piece_bytes;
  std::size_t pieces_per_chunk;
  std::uint32_t pieces = 0;
  std::uint32_t next_piece = 0;
  std::uint32_t chunks_written = 0;  // transactions, writing or deleting
  bool current = false;              // the head names it: the last one's pieces go
  // Over pieces 0..hashed-1: each is hashed once as it is written, so the
  // syncer never hashes the whole snapshot at once.
  XXH3_state_t* checksum = XXH3_createState();
  std::uint32_t hashed = 0;

  Staging(std::vector<std::uint8_t> bytes, std::uint64_t at, std::size_t piece,
          std::size_t per_chunk)
      : state(std::move(bytes)),
        lsn(at),
        piece_bytes(piece),
        pieces_per_chunk(per_chunk),
        pieces(static_cast<std::uint32_t>((state.size() + piece - 1) / piece)) {
    XXH3_64bits_reset(checksum);
  }
  ~Staging() { XXH3_freeState(checksum); }
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;
};

struct ShardWal::Batch {
  std::vector<std::uint8_t> bytes;  // the records, back to back
  std::vector<std::uint32_t> ends;  // record i is bytes[ends[i-1], ends[i])
  std::uint64_t first_lsn = 0;
  bool has_checkpoint = false;
  std::uint64_t checkpoint_lsn = 0;
  std::vector<std::uint8_t> checkpoint_state;

  bool empty() const { return ends.empty() && !has_checkpoint; }
  // Keeps the record buffers' capacity (no allocation per turn once warm).
  // The snapshot was freed by the syncer once written (freeing hundreds of
  // megabytes would stall the reactor).
  void clear() {
    bytes.clear();
    ends.clear();
    first_lsn = 0;
    has_checkpoint = false;
    checkpoint_lsn = 0;
    checkpoint_state = {};
  }
};

ShardWal::Batch& ShardWal::slot(std::uint64_t batch) { return slots_[batch % slots_.size()]; }

ShardWal::ShardWal(Options options)
    : options_(std::move(options)),
      slots_(options_.sealed_batches_max + 1),
      reserve_supported_(options_.reserve_ahead_bytes > 0) {}

std::unique_ptr<ShardWal> ShardWal::open(Options options, std::string* why) {
  if (options.shards == 0 || options.shards > shards_max || options.shard >= options.shards) {
    *why = "shard " + std::to_string(options.shard) + " of " + std::to_string(options.shards) +
           ": shards must be 1.." + std::to_string(shards_max);
    return nullptr;
  }
  if (options.sealed_batches_max == 0 || options.sealed_bytes_max == 0 ||
      options.map_size_bytes == 0 || options.map_size_max_bytes < options.map_size_bytes) {
    *why =
        "WAL options: sealed_batches_max, sealed_bytes_max and map_size_bytes must be > 0 "
        "and map_size_max_bytes >= map_size_bytes";
    return nullptr;
  }
  if (!options.log) {
    options.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  }
  std::unique_ptr<ShardWal> wal(new ShardWal(std::move(options)));
  if (!wal->open_env(why)) return nullptr;
  wal->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  // Blocking on purpose: io_uring answers a read of an O_NONBLOCK file with
  // -EAGAIN instead of waiting for it to become readable.
  wal->completion_fd_ = eventfd(0, EFD_CLOEXEC);
  if (wal->wake_fd_ < 0 || wal->completion_fd_ < 0) {
    *why = std::string("eventfd: ") + std::strerror(errno);
    return nullptr;
  }
  return wal;
}

bool ShardWal::open_env(std::string* why) {
  const auto path = shard_path(options_.dir, options_.shard);
  const std::string where = "shard " + std::to_string(options_.shard) + " (" + path.string() + ")";
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    *why = where + ": " + ec.message();
    return false;
  }
  // LMDB lets two processes write one environment; two servers on one
  // folder would interleave LSNs. An exclusive lock on a side file refuses it.
  lock_fd_ = ::open((path / "wal.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0 || flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    *why = where + ": in use by another process (" + std::strerror(errno) + ")";
    return false;
  }
  // strict keeps LMDB's default: each commit flushes the data pages, then the
  // meta page. MDB_NOMETASYNC would save the second flush and keep the file
  // consistent, but a crash could then lose the last commit, whose answers
  // strict mode has already released: invariant 5 forbids that. batched
  // uses MDB_NOSYNC and flushes every sync_interval_ms instead.
  const unsigned flags = options_.mode == Mode::batched ? MDB_NOSYNC : 0;
  int rc = mdb_env_create(&env_);
  if (rc == MDB_SUCCESS) rc = mdb_env_set_maxdbs(env_, named_dbs_max);
  if (rc == MDB_SUCCESS) rc = mdb_env_set_mapsize(env_, options_.map_size_bytes);
  if (rc == MDB_SUCCESS) rc = mdb_env_open(env_, path.c_str(), flags, 0644);
  if (rc != MDB_SUCCESS) {
    *why = where + ": " + lmdb_error("mdb_env_open", rc);
    return false;
  }
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  map_size_bytes_.store(info.me_mapsize);
  return check_or_write_meta(where, why);
}

bool ShardWal::check_or_write_meta(const std::string& where, std::string* why) {
  MDB_txn* txn;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc != MDB_SUCCESS) {
    *why = where + ": " + lmdb_error("mdb_txn_begin", rc);
    return false;
  }
  rc = mdb_dbi_open(txn, log_db_name, MDB_CREATE, &log_db_);
  if (rc == MDB_SUCCESS) rc = mdb_dbi_open(txn, checkpoint_db_name, MDB_CREATE, &checkpoint_db_);
  if (rc == MDB_SUCCESS) rc = mdb_dbi_open(txn, meta_db_name, MDB_CREATE, &meta_db_);
  MDB_stat stat{};
  if (rc == MDB_SUCCESS) rc = mdb_stat(txn, meta_db_, &stat);
  if (rc != MDB_SUCCESS) {
    *why = where + ": " + lmdb_error("mdb_dbi_open", rc);
    mdb_txn_abort(txn);
    return false;
  }
  if (stat.ms_entries == 0) {  // a new environment
    rc = put_u32(txn, meta_db_, meta_format_version_key, wal_format_version);
    if (rc == MDB_SUCCESS) rc = put_u32(txn, meta_db_, meta_shard_key, options_.shard);
    if (rc == MDB_SUCCESS) rc = put_u32(txn, meta_db_, meta_shards_key, options_.shards);
  } else if (auto meta = read_meta(txn, meta_db_, why); !meta) {
    *why = where + ": " + *why;
  } else if (meta->format_version < wal_format_version_oldest ||
             meta->format_version > wal_format_version) {
    *why = where + ": WAL format version " + std::to_string(meta->format_version) +
           ", this build reads versions " + std::to_string(wal_format_version_oldest) + " to " +
           std::to_string(wal_format_version);
  } else if (meta->shards != options_.shards || meta->shard != options_.shard) {
    *why = where + ": the data folder was written with --shards " + std::to_string(meta->shards) +
           " (this is its shard " + std::to_string(meta->shard) + ") but this start asks for " +
           "--shards " + std::to_string(options_.shards) + "; start with --shards " +
           std::to_string(meta->shards) + " or use a new folder";
  } else {
    why->clear();
  }
  const bool meta_ok = stat.ms_entries == 0 || why->empty();
  if (meta_ok && rc == MDB_SUCCESS) rc = delete_staged_chunks(txn, checkpoint_db_);
  if (meta_ok && rc == MDB_SUCCESS)
    rc = mdb_txn_commit(txn);
  else
    mdb_txn_abort(txn);
  if (meta_ok && rc != MDB_SUCCESS) *why = where + ": " + lmdb_error("writing meta", rc);
  return meta_ok && rc == MDB_SUCCESS;
}

ShardWal::~ShardWal() {
  close();
  if (env_ != nullptr) mdb_env_close(env_);
  for (int fd : {wake_fd_, completion_fd_, lock_fd_}) {
    if (fd >= 0) ::close(fd);
  }
}

// ---- recovery ----

bool ShardWal::recover(StateMachine& machine, const Progress& progress, RecoveryReport* report,
                       std::string* why) {
  ADMIT_ASSERT(!recovered_ && !closed_);
  const std::int64_t start_ms = steady_ms();
  MDB_txn* txn;
  const int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
  if (rc != MDB_SUCCESS) {
    *why = "shard " + std::to_string(options_.shard) + ": " + lmdb_error("mdb_txn_begin", rc);
    return false;
  }
  *report = RecoveryReport{};
  const bool ok = replay(txn, machine, progress, report, why);
  mdb_txn_abort(txn);
  if (!ok) return false;
  report->elapsed_ms = steady_ms() - start_ms;
  next_lsn_ = report->last_lsn + 1;
  records_since_checkpoint_ = report->records_replayed;
  bytes_since_checkpoint_ = report->records_bytes;
  MDB_stat stat{};
  if (mdb_env_stat(env_, &stat) == MDB_SUCCESS) page_bytes_ = stat.ms_psize;
  reserve_space();  // before the first admission(): the room is known from the start
  recovered_ = true;
  syncer_ = std::thread([this] { run_syncer(); });
  checkpointer_ = std::thread([this] { run_checkpointer(); });
  return true;
}

bool ShardWal::replay(MDB_txn* txn, StateMachine& machine, const Progress& progress,
                      RecoveryReport* report, std::string* why, const std::atomic<bool>* stop) {
  const std::string file = shard_data_file(options_.dir, options_.shard).string();
  auto refuse = [&](std::uint64_t lsn, const std::string& reason) {
    *why = "shard " + std::to_string(options_.shard) + ": WAL record at LSN " +
           std::to_string(lsn) + " in " + file + ": " + reason +
           "; recovery stopped, nothing skipped (inspect: admit-wal " + options_.dir.string() +
           " dump --shard " + std::to_string(options_.shard) + " --from " + std::to_string(lsn) +
           ")";
    return false;
  };
  {
    std::optional<CheckpointHead> head;
    std::vector<std::uint8_t> state;  // freed before the log's replay
    std::string reason;
    bool ok = read_checkpoint(txn, checkpoint_db_, &head, &state, &reason);
    if (ok && head && !machine.restore(state, &reason)) {
      reason = "the checkpoint at LSN " + std::to_string(head->lsn) + ": " + reason;
      ok = false;
    }
    if (!ok) {
      *why = "shard " + std::to_string(options_.shard) + ": checkpoint in " + file + ": " + reason +
             "; recovery stopped";
      return false;
    }
    if (head) report->checkpoint_lsn = head->lsn;
  }
  MDB_val k, v;
  MDB_cursor* cursor;
  if (mdb_cursor_open(txn, log_db_, &cursor) != MDB_SUCCESS) return refuse(0, "no cursor");
  std::uint64_t expected = report->checkpoint_lsn + 1;
  std::int64_t last_progress_ms = steady_ms();
  Record record;
  std::string reason;
  int rc;
  bool ok = true;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == MDB_SUCCESS && ok;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    const auto lsn = lsn_from_bytes(k);
    if (!lsn) {
      ok = refuse(expected, "a log key of " + std::to_string(k.mv_size) + " bytes");
    } else if (*lsn != expected) {
      ok = refuse(expected, "missing (the next record has LSN " + std::to_string(*lsn) + ")");
    } else if (!decode(to_span(v), record, &reason)) {
      ok = refuse(*lsn, reason);
    } else {
      const std::uint64_t before = machine.change_count();
      apply(machine, record.kind, record.command, record.now_ms);
      if (machine.change_count() == before) {
        ok = refuse(*lsn, std::string(command_name(record.kind)) +
                              " changed nothing on replay: the state machine diverged");
      }
      ++expected;
      ++report->records_replayed;
      report->records_bytes += v.mv_size;
      if (report->records_replayed % progress_check_records != 0) continue;
      if (stop != nullptr && stop->load(std::memory_order_relaxed)) {
        *why = "stopped";
        ok = false;
      } else if (progress && steady_ms() - last_progress_ms >= options_.recovery_progress_ms) {
        last_progress_ms = steady_ms();
        progress(report->records_replayed);
      }
    }
  }
  mdb_cursor_close(cursor);
  if (ok && rc != MDB_NOTFOUND) ok = refuse(expected, lmdb_error("mdb_cursor_get", rc));
  report->last_lsn = expected - 1;
  return ok;
}

// ---- the reactor side ----

void ShardWal::reclaim() {
  const std::uint64_t durable = durable_batch();
  for (; reclaimed_ < durable; ++reclaimed_) {
    const Batch& batch = slot(reclaimed_ + 1);
    ADMIT_ASSERT(in_flight_bytes_ >= batch.bytes.size());
    in_flight_bytes_ -= batch.bytes.size();
  }
}

std::size_t ShardWal::commit_need(std::size_t bytes) const {
  return bytes * commit_bytes_factor + commit_overhead_pages * page_bytes_;
}

// After reclaim(): the room is published before durable_batch() moves, so
// a batch that left in_flight_bytes_ is in the file's use already.
bool ShardWal::fits(std::size_t extra_bytes) {
  // What the checkpoint in flight has still to write.
  std::size_t checkpoint = 0;
  if (checkpoints_handed_ > checkpoints_.load(std::memory_order_acquire)) {
    const std::size_t written =
        checkpoint_bytes_written_.load(std::memory_order_acquire) - checkpoint_written_base_;
    checkpoint = pending_checkpoint_bytes_ - std::min(written, pending_checkpoint_bytes_);
  }
  return commit_need(in_flight_bytes_ + checkpoint + extra_bytes) <=
         room_bytes_.load(std::memory_order_acquire);
}

Admission ShardWal::admission() {
  ADMIT_ASSERT(recovered_ && !closed_);
  reclaim();
  if (failed_.load(std::memory_order_acquire)) return Admission::unavailable;
  const Batch& open = slot(sealed_ + 1);
  const bool refusing = !fits(open.bytes.size()) && space_short_.load();
  if (refusing != space_refusing_.load(std::memory_order_relaxed)) {
    space_refusing_.store(refusing, std::memory_order_relaxed);
  }
  if (refusing) return Admission::unavailable;
  if (!fits(open.bytes.size())) return Admission::overloaded;  // the reserve is growing
  if (sealed_ - durable_batch() >= options_.sealed_batches_max ||
      in_flight_bytes_ + open.bytes.size() >= options_.sealed_bytes_max) {
    return Admission::overloaded;
  }
  return Admission::accept;
}

void ShardWal::append(CommandKind kind, const Command& command, std::int64_t now_ms) {
  ADMIT_ASSERT(recovered_ && !closed_);
  ADMIT_ASSERT(sealed_ - durable_batch() < options_.sealed_batches_max);
  Batch& batch = slot(sealed_ + 1);
  if (batch.ends.empty()) batch.first_lsn = next_lsn_;
  const std::size_t start = batch.bytes.size();
  encode(kind, command, now_ms, batch.bytes);
  bytes_since_checkpoint_ += batch.bytes.size() - start;
  batch.ends.push_back(static_cast<std::uint32_t>(batch.bytes.size()));
  ++next_lsn_;
  ++records_since_checkpoint_;
}

std::uint64_t ShardWal::seal() {
  ADMIT_ASSERT(recovered_);
  Batch& batch = slot(sealed_ + 1);
  if (batch.empty()) return sealed_;
  reclaim();
  in_flight_bytes_ += batch.bytes.size();
  ++sealed_;
  ADMIT_ASSERT(sealed_ - durable_batch() <= options_.sealed_batches_max);
  sealed_batch_.store(sealed_, std::memory_order_release);
  const std::uint64_t one = 1;
  const ssize_t n = ::write(wake_fd_, &one, sizeof one);
  ADMIT_ASSERT(n == sizeof one);
  // The next open batch reuses the slot of batch sealed_ + 1 - slots, which
  // is committed (sealed_ - durable <= sealed_batches_max) and reclaimed.
  reclaim();
  ADMIT_ASSERT(reclaimed_ + slots_.size() >= sealed_ + 1);
  slot(sealed_ + 1).clear();
  return sealed_;
}

bool ShardWal::checkpoint(std::int64_t now_ms) {
  ADMIT_ASSERT(recovered_ && !closed_);
  if (last_checkpoint_ms_ < 0) last_checkpoint_ms_ = now_ms;
  if (checkpoint_running_) return hand_over_checkpoint(now_ms);
  if (checkpoint_due(now_ms)) start_checkpoint(now_ms);
  return false;
}

// Not while the last one is still to be written (until it is current): the
// checkpointer must read it (a read transaction sees the current checkpoint
// with its log, but the next one's LSN must not fall behind the one in
// flight). Not while the log refuses writes: it would be made in vain.
bool ShardWal::checkpoint_due(std::int64_t now_ms) {
  const std::uint64_t durable = durable_batch();
  if (checkpoints_handed_ > checkpoints_.load(std::memory_order_acquire) ||
      checkpoint_retry_batch_ > durable || now_ms < checkpoint_not_before_ms_ ||
      admission() != Admission::accept) {
    return false;
  }
  const bool due = records_since_checkpoint_ >= options_.checkpoint_every_records ||
                   (records_since_checkpoint_ > 0 &&
                    now_ms - last_checkpoint_ms_ >= options_.checkpoint_every_ms);
  // Not while the last snapshot's size would not fit (taken in vain): the
  // syncer is asked for the room first.
  return due && fits_checkpoint(checkpoint_bytes(last_snapshot_bytes_));
}

bool ShardWal::fits_checkpoint(std::size_t bytes) {
  const std::size_t open = slot(sealed_ + 1).bytes.size();
  if (fits(open + bytes)) return true;
  const std::size_t wanted = commit_need(in_flight_bytes_ + open + bytes);
  if (wanted_room_.exchange(wanted) != wanted) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }
  return false;
}

// The snapshot, and the log's pages, each rewritten once as its records go.
std::size_t ShardWal::checkpoint_bytes(std::size_t snapshot_bytes) const {
  return snapshot_bytes + bytes_since_checkpoint_;
}

void ShardWal::start_checkpoint(std::int64_t now_ms) {
  checkpoint_running_ = true;
  last_checkpoint_ms_ = now_ms;
  {
    std::lock_guard lock(checkpointer_mutex_);
    checkpoint_wanted_ = true;
  }
  checkpointer_wake_.notify_one();
}

// Moves the finished snapshot into the open batch: O(1), whatever its size.
bool ShardWal::hand_over_checkpoint(std::int64_t now_ms) {
  if (!checkpoint_ready_.load(std::memory_order_acquire)) return false;
  Checkpoint& made = *checkpoint_made_;
  if (made.lsn == 0) {
    // Nothing committed since the last one: tried again once what is sealed
    // now is durable. An error: not before the interval, so a broken log is
    // not read again every turn.
    if (made.failed) checkpoint_not_before_ms_ = now_ms + options_.checkpoint_every_ms;
    checkpoint_retry_batch_ = sealed_;
    checkpoint_made_.reset();
    checkpoint_ready_.store(false, std::memory_order_release);
    checkpoint_running_ = false;
    return false;
  }
  last_snapshot_bytes_ = made.state.size();
  // It writes the snapshot and rewrites the log's pages it trims.
  const std::size_t bytes = made.state.size() + made.log_bytes;
  // Kept until the log accepts and it fits: it stays exact, since no other
  // checkpoint is written meanwhile and the records after its LSN stay.
  if (admission() != Admission::accept || !fits_checkpoint(bytes)) return false;
  // The next checkpoint, a little larger, finds its room reserved already:
  // no snapshot made in vain.
  wanted_room_.store(commit_need(bytes + bytes / 4));
  pending_checkpoint_bytes_ = bytes;
  // The last checkpoint is current (checkpoint_due()): this count is still.
  checkpoint_written_base_ = checkpoint_bytes_written_.load(std::memory_order_acquire);
  ++checkpoints_handed_;
  ADMIT_ASSERT(made.lsn < next_lsn_ && records_since_checkpoint_ >= next_lsn_ - 1 - made.lsn);
  ADMIT_ASSERT(bytes_since_checkpoint_ >= made.log_bytes);
  records_since_checkpoint_ = next_lsn_ - 1 - made.lsn;
  bytes_since_checkpoint_ -= made.log_bytes;
  Batch& batch = slot(sealed_ + 1);
  batch.has_checkpoint = true;
  batch.checkpoint_lsn = made.lsn;
  batch.checkpoint_state = std::move(made.state);
  checkpoint_made_.reset();  // its state moved out: nothing large is freed here
  checkpoint_ready_.store(false, std::memory_order_release);
  checkpoint_running_ = false;
  return true;
}

std::string ShardWal::failure() const {
  std::lock_guard lock(failure_mutex_);
  return failed_.load() || !space_refusing_.load() ? failure_ : space_shortage_;
}

WalStats ShardWal::stats() const {
  return WalStats{.records_committed = records_committed_.load(),
                  .batches_committed = batches_committed_.load(),
                  .transactions = transactions_.load(),
                  .syncs = syncs_.load(),
                  .checkpoints = checkpoints_.load(),
                  .checkpoint_chunks = checkpoint_chunks_.load(),
                  .map_resizes = map_resizes_.load(),
                  .map_size_bytes = map_size_bytes_.load(),
                  .failed = failed_.load(),
                  .failed_for_good = failed_for_good_.load()};
}

void ShardWal::close() {
  if (closed_) return;
  if (checkpointer_.joinable()) {
    {
      std::lock_guard lock(checkpointer_mutex_);
      checkpointer_stop_.store(true);
    }
    checkpointer_wake_.notify_one();
    checkpointer_.join();
  }
  if (syncer_.joinable()) {
    seal();
    stop_.store(true, std::memory_order_release);
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
    syncer_.join();
  }
  closed_ = true;
}

// ---- the checkpointer thread ----

void ShardWal::run_checkpointer() {
  // Background work, below the reactor's CPU priority: with as many shards
  // as cores, the reactor gets the core when both want it (nice is per
  // thread on Linux). Best effort: a failure leaves it at the reactor's.
  errno = 0;
  const int reactor_nice = ::getpriority(PRIO_PROCESS, 0);
  if (errno == 0) {
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()),
                  std::min(reactor_nice + checkpointer_nice_increment, nice_lowest));
  }
  std::unique_lock lock(checkpointer_mutex_);
  for (;;) {
    checkpointer_wake_.wait(lock,
                            [this] { return checkpoint_wanted_ || checkpointer_stop_.load(); });
    if (checkpointer_stop_.load()) return;
    checkpoint_wanted_ = false;
    lock.unlock();
    auto made = std::make_unique<Checkpoint>();
    std::string why;
    if (!make_checkpoint(made.get(), &why)) {
      *made = Checkpoint{};
      made->failed = !why.empty();
      if (made->failed && !checkpointer_stop_.load()) {
        say(": checkpoint not made: " + why + "; the log keeps growing, next try in " +
            std::to_string(options_.checkpoint_every_ms) + " ms");
      }
    }
    // The reactor cleared checkpoint_ready_ before asking again.
    ADMIT_ASSERT(!checkpoint_ready_.load());
    checkpoint_made_ = std::move(made);
    checkpoint_ready_.store(true, std::memory_order_release);
    signal_completion();  // the reactor gets a turn to hand it over
    lock.lock();
  }
}

// Recovery's own path, off the reactor: what recovery would rebuild from the
// folder now, snapshotted. The machine (a second state, as large as the live
// one) is freed here, on this thread.
bool ShardWal::make_checkpoint(Checkpoint* made, std::string* why) {
  std::optional<StateMachine> machine;
  RecoveryReport report;
  {
    std::lock_guard map(map_mutex_);
    MDB_txn* txn;
    const int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
    if (rc != MDB_SUCCESS) {
      *why = lmdb_error("mdb_txn_begin", rc);
      return false;
    }
    bool ok = has_records_past_checkpoint(txn);
    if (ok) {
      machine.emplace(options_.machine);
      ok = replay(txn, *machine, {}, &report, why, &checkpointer_stop_);
    }
    // The machine holds copies: the read transaction (which keeps the pages
    // it sees from reuse) ends before the snapshot.
    mdb_txn_abort(txn);
    if (!ok) {
      if (checkpointer_stop_.load()) why->clear();
      return false;
    }
  }
  made->state = machine->snapshot();
  made->lsn = report.last_lsn;
  made->log_bytes = report.records_bytes;
  return true;
}

// Whether the log holds a record after the checkpoint's LSN: a look at two
// keys, before loading anything.
bool ShardWal::has_records_past_checkpoint(MDB_txn* txn) {
  std::optional<CheckpointHead> head;
  std::string malformed;  // replay says why
  if (!read_checkpoint(txn, checkpoint_db_, &head, nullptr, &malformed)) return true;
  const std::uint64_t checkpoint_lsn = head ? head->lsn : 0;
  MDB_val k, v;
  MDB_cursor* cursor;
  if (mdb_cursor_open(txn, log_db_, &cursor) != MDB_SUCCESS) return true;  // replay says why
  const int rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST);
  mdb_cursor_close(cursor);
  return rc != MDB_SUCCESS || lsn_from_bytes(k).value_or(~std::uint64_t{0}) > checkpoint_lsn;
}

// ---- the syncer thread ----

void ShardWal::run_syncer() {
  last_sync_ms_ = steady_ms();
  for (;;) {
    const bool stopping = stop_.load(std::memory_order_acquire);
    const std::uint64_t sealed = sealed_batch_.load(std::memory_order_acquire);
    // Failed for good: never written or flushed again (a flush that failed
    // once may have dropped pages that a later one would report as synced).
    bool ok = !failed_for_good_.load();
    if (ok) reserve_space();
    if (ok && durable_batch() < sealed) ok = commit_pending(sealed);
    // One chunk, then the batches sealed meanwhile: a commit that answers
    // wait for never waits for more than one chunk.
    if (ok && chunk_due()) ok = write_checkpoint_chunk();
    if (ok) ok = sync_if_due(stopping || failed_.load());
    // A checkpoint being written is finished at close; a failed WAL leaves
    // its chunks to the next open, which deletes them.
    if (stopping && (!ok || (durable_batch() == sealed && !staging_))) return;

    int timeout_ms = -1;
    if (failed_for_good_.load()) {
      timeout_ms = -1;  // until told to stop
    } else if (failed_.load()) {
      timeout_ms = static_cast<int>(options_.failed_retry_ms);
    } else if (chunk_due()) {
      timeout_ms = 0;  // the next chunk (its room was counted when it was handed over)
    } else if (space_short_.load()) {
      timeout_ms = static_cast<int>(options_.failed_retry_ms);
    } else if (unsynced_) {
      const std::int64_t due = last_sync_ms_ + options_.sync_interval_ms - steady_ms();
      timeout_ms = static_cast<int>(std::max<std::int64_t>(0, due));
    }
    pollfd wake{.fd = wake_fd_, .events = POLLIN, .revents = 0};
    if (::poll(&wake, 1, timeout_ms) > 0) {
      std::uint64_t count;
      [[maybe_unused]] const ssize_t n = ::read(wake_fd_, &count, sizeof count);
    }
  }
}

int ShardWal::commit_txn(const std::function<int(MDB_txn*)>& write, bool timed, std::string* call) {
  for (;;) {
    MDB_txn* txn;
    int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc != MDB_SUCCESS) {  // MDB_PANIC: LMDB itself gave up after a failed write
      *call = "mdb_txn_begin";
      return rc;
    }
    rc = write(txn);
    if (rc == MDB_SUCCESS) {
      const std::int64_t commit_start_ns = steady_ns();
      rc = mdb_txn_commit(txn);
      if (rc == MDB_SUCCESS && timed && options_.mode == Mode::strict && options_.sync_latency) {
        options_.sync_latency->observe(steady_ns() - commit_start_ns);
      }
    } else {
      mdb_txn_abort(txn);
    }
    if (rc == MDB_SUCCESS) return rc;
    *call = "commit";
    const std::size_t map_size = map_size_bytes_.load();
    if (rc != MDB_MAP_FULL || map_size >= options_.map_size_max_bytes) return rc;
    const std::size_t grown = std::min(map_size * 2, options_.map_size_max_bytes);
    // Waits for a checkpoint being read (rare: the map doubles).
    std::lock_guard map(map_mutex_);
    rc = mdb_env_set_mapsize(env_, grown);
    if (rc != MDB_SUCCESS) return rc;
    map_size_bytes_.store(grown);
    map_resizes_.fetch_add(1);
  }
}

void ShardWal::commit_failed(int rc, const std::string& call, std::size_t bytes) {
  if (rc == MDB_MAP_FULL) {
    enter_failed("the WAL map is full at map_size_max_bytes = " +
                     std::to_string(map_size_bytes_.load()) + " bytes",
                 true);
  } else {
    enter_failed(lmdb_error(call.c_str(), rc), call != "mdb_txn_begin" && out_of_space(rc, bytes));
  }
}

// Commits batches durable+1..last in one write transaction. On an error the
// transaction is aborted (nothing of it is acknowledged) and the WAL is
// failed: until a retry succeeds when it is out of space, for good otherwise.
bool ShardWal::commit_pending(std::uint64_t last) {
  const std::uint64_t first = durable_batch() + 1;
  std::string call;
  const int rc = commit_txn([&](MDB_txn* txn) { return write_batches(txn, first, last); },
                            /*timed=*/true, &call);
  if (rc != MDB_SUCCESS) {
    std::size_t bytes = 0;
    for (std::uint64_t b = first; b <= last; ++b) bytes += slot(b).bytes.size();
    commit_failed(rc, call, bytes);
    return false;
  }
  std::uint64_t records = 0;
  for (std::uint64_t b = first; b <= last; ++b) {
    records += slot(b).ends.size();
    if (slot(b).has_checkpoint) stage_checkpoint(slot(b));
  }
  records_committed_.fetch_add(records);
  batches_committed_.fetch_add(last - first + 1);
  transactions_.fetch_add(1);
  publish_room();  // before durable moves: admission() then counts these pages as used
  durable_batch_.store(last, std::memory_order_release);
  if (options_.mode == Mode::strict) {
    syncs_.fetch_add(1);
    leave_failed();  // after durable moved: a healthy WAL has no stale acknowledgement
  } else {
    unsynced_ = true;
  }
  signal_completion();
  return true;
}

int ShardWal::write_batches(MDB_txn* txn, std::uint64_t first, std::uint64_t last) {
  for (std::uint64_t b = first; b <= last; ++b) {
    const Batch& batch = slot(b);
    std::uint32_t start = 0;
    std::uint64_t lsn = batch.first_lsn;
    for (const std::uint32_t end : batch.ends) {
      const LsnKey key = lsn_key(lsn++);
      MDB_val k = to_val(std::span<const std::uint8_t>(key));
      MDB_val v{end - start, const_cast<std::uint8_t*>(batch.bytes.data() + start)};
      // LSNs only grow, so MDB_APPEND skips the search (and refuses a bug).
      if (const int rc = mdb_put(txn, log_db_, &k, &v, MDB_APPEND); rc != MDB_SUCCESS) return rc;
      start = end;
    }
  }
  return MDB_SUCCESS;
}

// The snapshot leaves the slot here, not on the reactor, which reuses the
// slot once durable (and would stall freeing hundreds of megabytes). One
// checkpoint at a time: the reactor hands over the next once this one is
// current and the last one's pieces are deleted.
void ShardWal::stage_checkpoint(Batch& batch) {
  ADMIT_ASSERT(!staging_);
  const std::size_t chunk_bytes = std::max<std::size_t>(options_.checkpoint_chunk_bytes, 1);
  const std::size_t piece_bytes = std::min(checkpoint_piece_bytes_max, chunk_bytes);
  staging_ =
      std::make_unique<Staging>(std::move(batch.checkpoint_state), batch.checkpoint_lsn,
                                piece_bytes, std::max<std::size_t>(1, chunk_bytes / piece_bytes));
  batch.checkpoint_state = {};
}

// batched: one chunk per flush (sync_interval_ms), so that a flush, which
// the log's commits wait behind, writes one chunk at most; strict commits
// flush each chunk themselves.
bool ShardWal::chunk_due() const { return staging_ && !chunk_unsynced_; }

bool ShardWal::write_checkpoint_chunk() {
  Staging& staging = *staging_;
  if (staging.current) return delete_old_pieces();
  const std::uint32_t first = staging.next_piece;
  const std::uint32_t end = static_cast<std::uint32_t>(
      std::min<std::size_t>(staging.pieces, first + staging.pieces_per_chunk));
  const bool last = end >= staging.pieces;
  const std::size_t from = std::min(staging.state.size(), first * staging.piece_bytes);
  const std::size_t to = std::min(staging.state.size(), end * staging.piece_bytes);
  if (staging.hashed == first) {  // not again when a failed chunk is retried
    XXH3_64bits_update(staging.checksum, staging.state.data() + from, to - from);
    staging.hashed = end;
  }
  std::string call;
  const int rc = commit_txn(
      [&](MDB_txn* txn) {
        int put = MDB_SUCCESS;
        for (std::uint32_t i = first; i < end && put == MDB_SUCCESS; ++i) {
          const std::size_t at = i * staging.piece_bytes;
          const ChunkKey key = checkpoint_chunk_key(staging.lsn, i);
          MDB_val k = to_val(std::span<const std::uint8_t>(key));
          MDB_val v{std::min(staging.piece_bytes, staging.state.size() - at),
                    staging.state.data() + at};
          // The pieces' keys grow (the LSN, then the index, after every
          // other key): appended, the leaf pages fill up, none is split.
          put = mdb_put(txn, checkpoint_db_, &k, &v, MDB_APPEND);
          if (put == MDB_KEYEXIST) put = mdb_put(txn, checkpoint_db_, &k, &v, 0);
        }
        return put == MDB_SUCCESS && last ? make_checkpoint_current(txn) : put;
      },
      /*timed=*/false, &call);
  if (rc != MDB_SUCCESS) {
    commit_failed(rc, call, to - from);
    return false;
  }
  staging.next_piece = end;
  staging.current = last;
  chunk_committed(staging);
  publish_room();  // before the bytes written: the reactor never counts them twice too few
  checkpoint_bytes_written_.fetch_add(to - from, std::memory_order_release);
  return true;
}

// After a chunk's commit: counted, flushed (strict) or to be (batched).
void ShardWal::chunk_committed(Staging& staging) {
  ++staging.chunks_written;
  checkpoint_chunks_.fetch_add(1);  // not in transactions_ nor syncs_: those count the log's
  if (options_.mode == Mode::strict) {
    leave_failed();
  } else {
    unsynced_ = true;
    chunk_unsynced_ = true;
  }
  if (options_.on_checkpoint_chunk) {
    options_.on_checkpoint_chunk(staging.chunks_written - 1, staging.current);
  }
}

// Once the checkpoint is current, the last one's pieces go, at most a
// chunk's worth a transaction. A crash meanwhile leaves them to the next
// open, which deletes every piece but the current checkpoint's.
bool ShardWal::delete_old_pieces() {
  Staging& staging = *staging_;
  std::size_t deleted = 0;
  bool done = false;
  std::string call;
  const int rc = commit_txn(
      [&](MDB_txn* txn) {
        deleted = 0;
        MDB_cursor* cursor;
        int rc = mdb_cursor_open(txn, checkpoint_db_, &cursor);
        if (rc != MDB_SUCCESS) return rc;
        const std::uint8_t tag = checkpoint_chunk_tag;
        MDB_val k{1, const_cast<std::uint8_t*>(&tag)}, v;
        done = true;
        // The old pieces sort first (their LSN is lower); a piece of the
        // current checkpoint ends the run.
        while ((rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE)) == MDB_SUCCESS) {
          const auto piece = checkpoint_chunk_of_key(k);
          if (!piece || piece->lsn == staging.lsn) break;
          if (deleted == staging.pieces_per_chunk) {
            done = false;
            break;
          }
          if ((rc = mdb_cursor_del(cursor, 0)) != MDB_SUCCESS) break;
          ++deleted;
          k = MDB_val{1, const_cast<std::uint8_t*>(&tag)};
        }
        mdb_cursor_close(cursor);
        return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
      },
      /*timed=*/false, &call);
  if (rc != MDB_SUCCESS) {
    commit_failed(rc, call, 0);
    return false;
  }
  if (deleted > 0) chunk_committed(staging);
  if (!done) return true;
  // Freed here, on the syncer: hundreds of megabytes.
  staging_.reset();
  checkpoints_.fetch_add(1, std::memory_order_release);
  signal_completion();  // the reactor may start the next one
  return true;
}

// In the last chunk's transaction: the head names the new checkpoint, and
// the log up to its LSN and format 1's keys go (the last checkpoint's
// pieces go after, delete_old_pieces()). Before it commits, recovery reads
// the last checkpoint and the whole log; after, the new one and the rest.
int ShardWal::make_checkpoint_current(MDB_txn* txn) {
  Staging& staging = *staging_;
  const CheckpointHead head{.lsn = staging.lsn,
                            .bytes = staging.state.size(),
                            .chunks = staging.pieces,
                            .xxh3 = XXH3_64bits_digest(staging.checksum)};
  const CheckpointHeadBytes head_bytes = encode_checkpoint_head(head);
  MDB_val k = to_val(checkpoint_head_key), v = to_val(std::span<const std::uint8_t>(head_bytes));
  int rc = mdb_put(txn, checkpoint_db_, &k, &v, 0);
  for (const std::string_view legacy : {legacy_checkpoint_lsn_key, legacy_checkpoint_state_key}) {
    k = to_val(legacy);
    if (rc == MDB_SUCCESS && (rc = mdb_del(txn, checkpoint_db_, &k, nullptr)) == MDB_NOTFOUND) {
      rc = MDB_SUCCESS;
    }
  }
  if (rc == MDB_SUCCESS) rc = put_u32(txn, meta_db_, meta_format_version_key, wal_format_version);
  MDB_cursor* cursor;
  if (rc == MDB_SUCCESS) rc = mdb_cursor_open(txn, log_db_, &cursor);
  if (rc != MDB_SUCCESS) return rc;
  while ((rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST)) == MDB_SUCCESS) {
    const auto key_lsn = lsn_from_bytes(k);
    if (key_lsn && *key_lsn > staging.lsn) break;
    if ((rc = mdb_cursor_del(cursor, 0)) != MDB_SUCCESS) break;
  }
  mdb_cursor_close(cursor);
  return rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

// batched: flushes the commits since the last sync when the interval is up
// (or at once when `force`). strict commits are synced already.
bool ShardWal::sync_if_due(bool force) {
  if (options_.mode != Mode::batched || !unsynced_) return true;
  const std::int64_t now_ms = steady_ms();
  if (!force && now_ms - last_sync_ms_ < options_.sync_interval_ms) return true;
  last_sync_ms_ = now_ms;
  const std::int64_t sync_start_ns = steady_ns();
  // Never retried: the commits it covered were answered already, and a
  // later flush that succeeds says nothing of the pages this one dropped.
  if (const int rc = mdb_env_sync(env_, 1); rc != MDB_SUCCESS) {
    enter_failed(lmdb_error("mdb_env_sync", rc), false);
    return false;
  }
  if (options_.sync_latency) options_.sync_latency->observe(steady_ns() - sync_start_ns);
  unsynced_ = false;
  chunk_unsynced_ = false;
  syncs_.fetch_add(1);
  leave_failed();
  return true;
}

void ShardWal::reserve_space() {
  MDB_envinfo info{};
  mdb_env_info(env_, &info);
  const std::size_t used = (info.me_last_pgno + 1) * page_bytes_;
  const std::size_t map_max = options_.map_size_max_bytes;
  // And the room a checkpoint waits for.
  const std::size_t wanted = wanted_room_.load();
  const std::size_t target = std::min(map_max, used + options_.reserve_ahead_bytes + wanted);
  int fd = -1;
  struct stat file {};
  // The file's size is what an earlier run reserved (LMDB only ever writes
  // the pages it uses).
  if (reserved_bytes_ == 0 && mdb_env_get_fd(env_, &fd) == MDB_SUCCESS && ::fstat(fd, &file) == 0) {
    reserved_bytes_ = static_cast<std::size_t>(file.st_size);
  }
  // In steps of half the reserve, not a call per commit; while the disk is
  // short, once per retry interval (a failed fallocate may cost as much as
  // a successful one: tmpfs allocates, then gives back).
  const std::size_t low = std::min(map_max, used + options_.reserve_ahead_bytes / 2 + wanted);
  const std::int64_t now_ms = steady_ms();
  const bool try_now = disk_short_ ? now_ms - last_reserve_try_ms_ >= options_.failed_retry_ms
                                   : reserved_bytes_ < low;
  if (reserve_supported_ && try_now && reserved_bytes_ < target &&
      mdb_env_get_fd(env_, &fd) == MDB_SUCCESS) {
    last_reserve_try_ms_ = now_ms;
    disk_short_ = false;
    // Short of space: as much as the disk has left, in halving steps.
    for (std::size_t step = target - reserved_bytes_; step >= page_bytes_; step /= 2) {
      const int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(reserved_bytes_ + step));
      if (rc == 0) {
        reserved_bytes_ += step;
        break;
      }
      if (!is_space_error(rc)) {
        reserve_supported_ = false;  // commits find out, and out_of_space() says which
        break;
      }
      disk_short_ = true;
      short_error_ = rc;
    }
  }
  std::string shortage;
  if (disk_short_) {
    shortage = "out of disk space: cannot reserve " + std::to_string(target - reserved_bytes_) +
               " more bytes for the log in " + shard_path(options_.dir, options_.shard).string() +
               " (" + std::strerror(short_error_) + ")";
  } else if (used + options_.reserve_ahead_bytes > map_max) {
    shortage = "the WAL map is nearly full: " + std::to_string(used) +
               " bytes used of map_size_max_bytes = " + std::to_string(map_max);
  }
  publish_room();
  const bool was_short = space_short_.load();
  if (!shortage.empty()) {
    std::lock_guard lock(failure_mutex_);
    space_shortage_ = shortage;
  }
  space_short_.store(!shortage.empty());
  if (was_short == !shortage.empty()) return;
  say(": " + (shortage.empty() ? std::string("storage has room again; writes accepted")
                               : "storage short of space: " + shortage +
                                     "; writes answer "
                                     "UNAVAILABLE once what waits would not fit in the " +
                                     std::to_string(room_bytes_.load()) +
                                     " bytes left, reads go on; retrying every " +
                                     std::to_string(options_.failed_retry_ms) + " ms"));
  signal_completion();
}

void ShardWal::publish_room() {
  MDB_envinfo info{};
  mdb_env_info(env_, &info);
  const std::size_t used = (info.me_last_pgno + 1) * page_bytes_;
  const std::size_t limit = reserve_supported_
                                ? std::min(reserved_bytes_, options_.map_size_max_bytes)
                                : options_.map_size_max_bytes;
  room_bytes_.store(limit > used ? limit - used : 0, std::memory_order_release);
}

// ENOSPC, EDQUOT and EFBIG (a file size limit) say so. LMDB reports a short page write as EIO
// ("short write, filesystem full?"): with less free space than the commit needs, that is the full
// disk too. A retry is a new transaction that writes and flushes every one of its pages again,
// never relying on the failed writes; a failed meta page write makes LMDB refuse every later
// transaction (MDB_PANIC), which fails the WAL for good.
bool ShardWal::out_of_space(int rc, std::size_t bytes) {
  if (is_space_error(rc)) return true;
  if (rc != EIO) return false;
  struct statvfs fs {};
  if (::statvfs(shard_path(options_.dir, options_.shard).c_str(), &fs) != 0) return false;
  const std::uint64_t free_bytes = std::uint64_t{fs.f_bavail} * fs.f_frsize;
  return free_bytes < bytes * commit_bytes_factor + commit_overhead_bytes;
}

void ShardWal::enter_failed(const std::string& cause, bool retried) {
  if (failed_.load() && (retried || failed_for_good_.load())) return;  // said once
  if (!retried) failed_for_good_.store(true);
  {
    std::lock_guard lock(failure_mutex_);
    failure_ = retried ? cause : cause + " (not retried: restart admitd)";
  }
  failed_.store(true, std::memory_order_release);
  say(": storage failed: " + cause + "; writes answer UNAVAILABLE, reads go on; " +
      (retried ? "retrying every " + std::to_string(options_.failed_retry_ms) + " ms"
               : "a failed write or flush is never retried: restart admitd to recover "
                 "what the disk holds"));
  signal_completion();
}

void ShardWal::leave_failed() {
  if (!failed_.load()) return;
  {
    std::lock_guard lock(failure_mutex_);
    failure_.clear();
  }
  failed_.store(false, std::memory_order_release);
  say(": storage works again; writes accepted");
  signal_completion();
}

// Options::log, one line at a time: the syncer and the checkpointer both say things.
void ShardWal::say(std::string_view what) {
  std::lock_guard lock(log_mutex_);
  options_.log("admit wal shard " + std::to_string(options_.shard) + std::string(what));
}

void ShardWal::signal_completion() {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(completion_fd_, &one, sizeof one);
}

}  // namespace admit::storage::wal
