// The write-ahead log of one shard: an LMDB environment under
// DIR/shard-<i>/ (layout in format.h), group commit on a syncer thread,
// checkpoints that trim the log, and recovery at start.
//
// Threads: everything below is called from the shard's reactor thread only
// (one producer), except stats(), durable_batch() and failure(), which any
// thread may call. Between recover() and close() no call blocks on the disk:
// the syncer thread does every LMDB write and sync, and the checkpointer
// thread makes the checkpoints. open(), recover() and close() do block
// (start and shutdown).
//
// The reactor's turn, in order:
//   1. before applying a mutating command: admission() must be `accept`,
//      else answer OVERLOADED / UNAVAILABLE and leave the machine alone;
//   2. apply(machine, kind, command, now_ms) (storage/command.h); if
//      change_count() moved, append(kind, command, now_ms);
//   3. checkpoint(now_ms), once a turn at any point of it: checkpoints are
//      made off the reactor (see checkpoint()), so this only starts one when
//      due and hands a finished one to the open batch;
//   4. at the end of the turn: seal() -> batch number B; hold every answer
//      of the turn until durable_batch() >= B;
//   5. keep an io_uring read of 8 bytes posted on completion_fd() (an
//      eventfd, blocking mode: never read(2) it without a poll saying it is
//      readable); when it completes, read durable_batch(), release the
//      answers of batches <= it, check admission() again (the WAL may have
//      failed or recovered), and post the read again.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "storage/state_machine.h"
#include "storage/wal/command.h"
#include "storage/wal/format.h"
#include "storage/wal/latency_histogram.h"

namespace admit::storage::wal {

// `off` is not a mode here: with durability off the server opens no ShardWal.
enum class Mode : std::uint8_t {
  strict,   // answers wait for the commit's fsync
  batched,  // answers wait for the in-memory commit; fsync every sync_interval_ms
};

struct Options {
  std::filesystem::path dir;  // the data folder; this shard's files are in DIR/shard-<shard>/
  std::uint32_t shard = 0;
  std::uint32_t shards = 1;  // refused if the folder was written with another count
  Mode mode = Mode::strict;
  std::uint32_t sync_interval_ms = 100;                    // batched only
  std::size_t map_size_bytes = std::size_t{64} << 20;      // initial LMDB map (--map-size)
  std::size_t map_size_max_bytes = std::size_t{64} << 30;  // doubling stops here
  std::uint32_t sealed_batches_max = 64;                   // sealed but not yet committed
  std::size_t sealed_bytes_max = std::size_t{64} << 20;    // their records' bytes
  std::uint64_t checkpoint_every_records = 1'000'000;      // whichever comes first
  std::int64_t checkpoint_every_ms = 5 * 60 * 1000;
  // A checkpoint is written in chunks of at most this many bytes, one LMDB
  // transaction each, between the log's commits: a commit that answers wait
  // for waits for one chunk at most, never for the whole snapshot. The last
  // checkpoint's pieces are then deleted as many a transaction.
  std::size_t checkpoint_chunk_bytes = std::size_t{8} << 20;
  // Tests: called on the syncer thread after each such transaction commits
  // (its index in this checkpoint's; `current`: the checkpoint is current).
  std::function<void(std::uint32_t index, bool current)> on_checkpoint_chunk;
  // The live machine's options: the checkpointer replays the log into a
  // machine of its own built with them, which must decide as the live one.
  storage::Options machine;
  std::uint32_t failed_retry_ms = 1000;  // a WAL out of space retries its commit this often
  // The data file is allocated this far ahead of the log's use (and at most
  // to map_size_max_bytes): a full disk then shows when the reserve cannot
  // grow, and writes are refused before a change is applied, instead of
  // inside a commit whose changes are applied already. 0: no reserve (a
  // full disk then fails a commit, which is retried).
  std::size_t reserve_ahead_bytes = std::size_t{16} << 20;
  std::uint32_t recovery_progress_ms = 1000;  // recover() reports progress this often
  // Told once when the WAL fails (with the cause) and once when it recovers,
  // and when a checkpoint could not be made. Called on the syncer or the
  // checkpointer thread, one call at a time. Default: a line on stderr.
  std::function<void(const std::string& line)> log;
  // When set (it outlives the WAL): how long each durable commit took
  // (strict: the commit with its fsync; batched: each flush). Syncer thread.
  LatencyHistogram* sync_latency = nullptr;
};

struct RecoveryReport {
  std::uint64_t checkpoint_lsn = 0;  // 0: no checkpoint
  std::uint64_t records_replayed = 0;
  std::uint64_t records_bytes = 0;  // their encoded size, as in the log
  std::uint64_t last_lsn = 0;       // the next append gets last_lsn + 1
  std::int64_t elapsed_ms = 0;
};

// Counters for metrics and benchmarks; any thread may read them.
struct WalStats {
  std::uint64_t records_committed = 0;
  std::uint64_t batches_committed = 0;
  std::uint64_t transactions = 0;  // LMDB write transactions committing batches
  std::uint64_t syncs = 0;         // strict: durable batch commits; batched: mdb_env_sync calls
  std::uint64_t checkpoints = 0;   // made current
  std::uint64_t checkpoint_chunks = 0;  // transactions writing a checkpoint chunk
  std::uint64_t map_resizes = 0;
  std::size_t map_size_bytes = 0;
  bool failed = false;
  bool failed_for_good = false;  // an I/O error: not retried, writes refused until a restart
};

enum class Admission : std::uint8_t {
  accept,
  overloaded,  // too many sealed batches or bytes waiting for the disk: OVERLOADED
  // The storage failed (an I/O error, a commit that failed), or what is
  // waiting would not fit in the space left (disk or map full):
  // UNAVAILABLE, reads still served.
  unavailable,
};

class ShardWal {
 public:
  // Opens (or creates) DIR/shard-<shard>. Refuses a folder written for another
  // shard count or format, naming both. nullptr with `why` on failure.
  static std::unique_ptr<ShardWal> open(Options options, std::string* why);
  // close()s if the caller did not.
  ~ShardWal();
  ShardWal(const ShardWal&) = delete;
  ShardWal& operator=(const ShardWal&) = delete;

  // Once, right after open(), into a freshly constructed machine: loads the
  // checkpoint and replays the log tail through apply(). progress(records so
  // far) is called about every recovery_progress_ms. Stops at the first corrupt,
  // undecodable or missing record, with `why` naming the shard, the LSN and
  // the file; nothing is skipped. On success starts the syncer thread.
  using Progress = std::function<void(std::uint64_t records_replayed)>;
  bool recover(StateMachine& machine, const Progress& progress, RecoveryReport* report,
               std::string* why);

  Admission admission();
  // The command that moved change_count(), with the now_ms apply() used.
  // Precondition: admission() was `accept` earlier in this turn.
  void append(CommandKind kind, const Command& command, std::int64_t now_ms);
  // Ends the turn's batch; returns the batch number its answers wait for.
  // An empty turn returns the last sealed number (its answers may still
  // reflect state of batches in flight).
  std::uint64_t seal();

  int completion_fd() const { return completion_fd_; }
  // Every batch <= this is committed (strict: on disk; batched: in LMDB).
  std::uint64_t durable_batch() const { return durable_batch_.load(std::memory_order_acquire); }

  // Checkpoints never stall the reactor: the checkpointer thread opens an
  // LMDB read transaction (MVCC: the syncer keeps committing beside it),
  // loads the last checkpoint and replays the committed log into a machine
  // of its own (Options::machine), up to the last committed LSN X, snapshots
  // it and hands it back. The snapshot covers exactly the records <= X;
  // it goes with the open batch, and once that batch is committed the
  // syncer writes it in chunks between the log's commits; the last chunk's
  // transaction makes it current and deletes the log up to X (the records
  // after X stay for the next one).
  // Costs: a second state in memory while one is made, and the CPU of
  // loading and replaying it (the thread runs 10 nice levels below the
  // one that called recover()).
  //
  // Call once a turn, anywhere in it. Starts a checkpoint when enough records
  // (checkpoint_every_records) or time (checkpoint_every_ms) passed since the
  // last start and none is in flight; hands a finished one to the open batch
  // once admission() accepts and it fits in the room left (else it waits
  // for a later turn; see fits_checkpoint()). True when one was handed over.
  bool checkpoint(std::int64_t now_ms);

  // The cause while admission() is `unavailable`, else empty.
  std::string failure() const;
  // A commit or flush failed: the sealed batches after durable_batch() may
  // never commit (a full disk or map alone refuses new writes, see
  // admission(), but what was admitted still fits and commits).
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  std::uint64_t last_lsn() const { return next_lsn_ - 1; }
  WalStats stats() const;

  // Stops the checkpointer (a checkpoint being made is dropped: its replay
  // stops within a few thousand records, but loading the last checkpoint or
  // snapshotting, once begun, is finished first), seals the open batch,
  // lets the syncer commit everything sealed and finish the checkpoint it is
  // writing in chunks (one try if out of space, none if failed for good:
  // the next open deletes the chunks) and a final sync, stops it. Idempotent.
  void close();

 private:
  struct Batch;
  struct Staging;  // a checkpoint being written
  explicit ShardWal(Options options);
  bool open_env(std::string* why);
  bool check_or_write_meta(const std::string& where, std::string* why);
  Batch& slot(std::uint64_t batch);
  void reclaim();
  // `stop` (may be null): gives up, with `why` "stopped", once it is set.
  bool replay(MDB_txn* txn, StateMachine& machine, const Progress& progress, RecoveryReport* report,
              std::string* why, const std::atomic<bool>* stop = nullptr);

  // Checkpoints, reactor side.
  struct Checkpoint;
  bool checkpoint_due(std::int64_t now_ms);
  void start_checkpoint(std::int64_t now_ms);
  bool hand_over_checkpoint(std::int64_t now_ms);

  // Checkpointer thread.
  void run_checkpointer();
  // False when none was made: nothing committed since the last, stopped, or
  // an error (in `why`).
  bool make_checkpoint(Checkpoint* made, std::string* why);
  bool has_records_past_checkpoint(MDB_txn* txn);

  // Syncer thread.
  void run_syncer();
  bool commit_pending(std::uint64_t last);
  int write_batches(MDB_txn* txn, std::uint64_t first, std::uint64_t last);
  // Runs `write` in a write transaction and commits it, doubling the map on
  // MDB_MAP_FULL (up to map_size_max_bytes). The LMDB result; `call` names
  // the call that failed. `timed`: the commit goes in Options::sync_latency
  // (the log's commits, not checkpoint chunks).
  int commit_txn(const std::function<int(MDB_txn*)>& write, bool timed, std::string* call);
  // A committed batch's snapshot becomes the one being written.
  void stage_checkpoint(Batch& batch);
  // One chunk of it, in a transaction of its own; the last one's makes it
  // current (head, the log up to its LSN and the last one's chunks deleted).
  bool write_checkpoint_chunk();
  bool delete_old_pieces();
  void chunk_committed(Staging& staging);
  bool chunk_due() const;
  int make_checkpoint_current(MDB_txn* txn);
  bool sync_if_due(bool force);
  // `retried`: out of space (ENOSPC, EDQUOT, the map at its maximum), the
  // commit is tried again every failed_retry_ms. Otherwise (an I/O error, a
  // failed flush) the WAL is failed for good: nothing is written or flushed
  // again until a restart, whose recovery reads what the disk really holds.
  void enter_failed(const std::string& cause, bool retried);
  void leave_failed();
  bool out_of_space(int rc, std::size_t bytes);
  // After a commit that failed: enter_failed() with the cause, retried when
  // out of space.
  void commit_failed(int rc, const std::string& call, std::size_t bytes);
  // Bytes a commit of `bytes` of records and snapshots may add to the file.
  std::size_t commit_need(std::size_t bytes) const;
  bool fits(std::size_t extra_bytes);  // reactor: what waits, plus `extra_bytes`
  std::size_t checkpoint_bytes(std::size_t snapshot_bytes) const;
  // Whether a checkpoint of `bytes` fits now; if not, asks the syncer to
  // reserve room for it.
  bool fits_checkpoint(std::size_t bytes);
  // Grows the file's reserve to reserve_ahead_bytes past its use and
  // publishes the room left; says once when space runs short and returns.
  void reserve_space();
  void publish_room();
  void say(std::string_view what);  // `what` follows "admit wal shard <i>"
  void signal_completion();

  Options options_;
  MDB_env* env_ = nullptr;
  MDB_dbi log_db_ = 0, checkpoint_db_ = 0, meta_db_ = 0;
  std::vector<Batch> slots_;  // sealed_batches_max + 1: the open batch never waits for a slot
  int wake_fd_ = -1;          // eventfd: reactor -> syncer ("sealed", "stop")
  int completion_fd_ = -1;    // eventfd: syncer -> reactor ("durable moved", "failed")
  int lock_fd_ = -1;          // flock on DIR/shard-<i>/wal.lock: one process per folder
  std::thread syncer_;
  std::thread checkpointer_;

  // Reactor thread only.
  std::uint64_t next_lsn_ = 1;
  std::uint64_t sealed_ = 0;
  std::uint64_t reclaimed_ = 0;  // batches whose bytes left in_flight_bytes_
  std::size_t in_flight_bytes_ = 0;
  std::uint64_t checkpoints_handed_ = 0;     // handed to a batch; done once checkpoints_ reaches it
  std::size_t checkpoint_written_base_ = 0;  // checkpoint_bytes_written_ at the last hand-over
  bool checkpoint_running_ = false;          // started, not yet handed over
  // The log after the last checkpoint's LSN (what the next one trims; a
  // checkpoint rewrites the log's pages to trim it).
  std::uint64_t records_since_checkpoint_ = 0;
  std::size_t bytes_since_checkpoint_ = 0;
  std::size_t last_snapshot_bytes_ = 0;
  std::size_t pending_checkpoint_bytes_ = 0;   // checkpoint_bytes() of the one in flight
  std::int64_t last_checkpoint_ms_ = -1;       // the last start; -1: count from the first turn
  std::int64_t checkpoint_not_before_ms_ = 0;  // after a checkpoint failed
  std::uint64_t checkpoint_retry_batch_ = 0;   // after none was made: not before it is durable
  bool recovered_ = false;
  bool closed_ = false;

  // Shared.
  std::atomic<std::uint64_t> sealed_batch_{0};
  std::atomic<std::uint64_t> durable_batch_{0};
  std::atomic<bool> failed_{false};
  std::atomic<bool> failed_for_good_{false};
  std::atomic<bool> stop_{false};
  mutable std::mutex failure_mutex_;
  std::string failure_;  // guarded by failure_mutex_
  std::atomic<std::uint64_t> records_committed_{0}, batches_committed_{0}, transactions_{0},
      syncs_{0}, checkpoints_{0}, checkpoint_chunks_{0}, map_resizes_{0};
  // Chunk bytes written, all checkpoints together: the reactor counts what
  // the one in flight has still to write (published after the room).
  std::atomic<std::size_t> checkpoint_bytes_written_{0};
  std::atomic<std::size_t> map_size_bytes_{0};
  std::atomic<std::size_t> room_bytes_{0};   // reserved (or map) bytes past the file's use
  std::atomic<bool> space_short_{false};     // the reserve cannot grow: room_bytes_ is all
  std::atomic<std::size_t> wanted_room_{0};  // reactor -> syncer: a checkpoint's need
  std::atomic<bool> space_refusing_{false};  // admission() refuses for lack of room now
  std::string space_shortage_;               // why, guarded by failure_mutex_
  std::mutex log_mutex_;                     // one Options::log call at a time

  // Reactor <-> checkpointer. The reactor asks under the mutex (once per
  // checkpoint); the checkpointer sets checkpoint_ready_ with the result in
  // checkpoint_made_, which the reactor alone then reads until it clears it.
  std::mutex checkpointer_mutex_;
  std::condition_variable checkpointer_wake_;
  bool checkpoint_wanted_ = false;  // guarded by checkpointer_mutex_
  std::atomic<bool> checkpointer_stop_{false};
  std::atomic<bool> checkpoint_ready_{false};
  std::unique_ptr<Checkpoint> checkpoint_made_;  // null: none was made
  // The checkpointer's read transaction against the syncer's
  // mdb_env_set_mapsize(), which LMDB allows only with no transaction open
  // in the process (it moves the map under the reader).
  std::mutex map_mutex_;

  // Syncer thread only (and recover(), before it starts).
  std::unique_ptr<Staging> staging_;  // the checkpoint being written, if any
  std::size_t page_bytes_ = 4096;
  std::size_t reserved_bytes_ = 0;  // allocated in the data file
  bool reserve_supported_;          // reserving, and the file system can (fallocate)
  bool disk_short_ = false;         // the last reservation stopped short...
  int short_error_ = 0;             // ...with this error (ENOSPC, EDQUOT, EFBIG)
  std::int64_t last_reserve_try_ms_ = 0;
  bool unsynced_ = false;        // batched: commits since the last mdb_env_sync
  bool chunk_unsynced_ = false;  // batched: a checkpoint chunk among them
  std::int64_t last_sync_ms_ = 0;
};

}  // namespace admit::storage::wal
