// Checkpoints written in chunks: the syncer writes one chunk per transaction
// between the log's commits, and the last chunk's transaction makes the
// checkpoint current. Commits go on between chunks; a kill -9 while chunks
// are written recovers the last current checkpoint and the whole log; a
// damaged chunk is refused; a format 1 folder still recovers.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>

#include "storage/wal/inspect.h"
#include "tests/wal/wal_fixture.h"
#include "tests/wal/workload.h"

namespace admit::storage::wal::testing {
namespace {

storage::Options machine_options() { return storage::Options{.shard = 0}; }

// Small chunks: a test state of a few kilobytes takes many of them.
constexpr std::size_t small_chunk_bytes = 256;
constexpr std::uint64_t workload_seed = 61;
constexpr int turn_commands = 5;
// How long a chunk hook waits for the writer to seal another batch.
constexpr auto seal_wait = std::chrono::seconds(2);

ShardSummary summary_of(const std::filesystem::path& dir) {
  std::string why;
  auto reader = ReadOnlyShard::open(shard_path(dir, 0), &why);
  EXPECT_NE(reader, nullptr) << why;
  ShardSummary summary;
  if (reader != nullptr) {
    EXPECT_TRUE(reader->summary(&summary, &why)) << why;
  }
  return summary;
}

// The first `lsn` records of `logged`, applied to a fresh machine.
std::string dump_at(const std::vector<Logged>& logged, std::uint64_t lsn) {
  StateMachine machine(machine_options());
  for (std::uint64_t i = 0; i < lsn; ++i) apply(machine, logged[i].record);
  return machine.dump();
}

class Checkpoint : public WalTest {};

struct ChunkSeen {
  std::uint32_t index;
  bool current;
  std::uint64_t batches_committed;
};

TEST_F(Checkpoint, ChunksAreWrittenBetweenTheLogsCommits) {
  Options o = options();
  o.checkpoint_chunk_bytes = small_chunk_bytes;
  o.checkpoint_every_records = 400;
  std::atomic<ShardWal*> wal_seen{nullptr};
  std::atomic<std::uint64_t> last_sealed{0};  // the writer's last sealed batch
  std::mutex seen_mutex;
  std::vector<ChunkSeen> seen;  // the first checkpoint's chunks
  o.on_checkpoint_chunk = [&](std::uint32_t index, bool current) {
    {
      std::lock_guard lock(seen_mutex);
      if (!seen.empty() && seen.back().current) return;  // the first only
      seen.push_back({index, current, wal_seen.load()->stats().batches_committed});
    }
    // The writer seals a batch that is not committed yet, which the syncer
    // must then commit before the next chunk.
    const auto deadline = std::chrono::steady_clock::now() + seal_wait;
    while (last_sealed.load() <= wal_seen.load()->durable_batch() &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  };
  StateMachine live(machine_options());
  Workload workload(workload_seed);
  {
    auto wal = open_recovered(o, live);
    ASSERT_NE(wal, nullptr);
    wal_seen.store(wal.get());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (wal->stats().checkpoints < 1 && std::chrono::steady_clock::now() < deadline) {
      ASSERT_TRUE(drive(live, wal.get(), workload, turn_commands, turn_commands, nullptr, true));
      last_sealed.store(wal->seal());
    }
    EXPECT_EQ(wal->stats().checkpoints, 1u);
    EXPECT_GT(wal->stats().checkpoint_chunks, 2u);
    wal->close();
  }
  ASSERT_GT(seen.size(), 2u);
  EXPECT_TRUE(seen.back().current);
  for (std::size_t i = 1; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].index, i);
    EXPECT_GT(seen[i].batches_committed, seen[i - 1].batches_committed)
        << "no commit between chunks " << i - 1 << " and " << i;
  }
  const ShardSummary summary = summary_of(dir_);
  EXPECT_EQ(summary.checkpoint_chunks, seen.size());  // a piece a chunk, this small
  EXPECT_EQ(summary.staging_chunks, 0u);
  EXPECT_EQ(summary.meta.format_version, wal_format_version);

  StateMachine recovered(machine_options());
  RecoveryReport report;
  ASSERT_NE(open_recovered(o, recovered, &report), nullptr);
  EXPECT_GT(report.checkpoint_lsn, 0u);
  EXPECT_EQ(recovered.dump(), live.dump());
}

// batched: a flush, which commits wait behind, writes one chunk at most.
TEST_F(Checkpoint, BatchedModeWritesOneChunkPerFlush) {
  Options o = options();
  o.mode = Mode::batched;
  o.sync_interval_ms = 2;
  o.checkpoint_chunk_bytes = small_chunk_bytes;
  o.checkpoint_every_records = 300;
  StateMachine live(machine_options());
  Workload workload(workload_seed);
  WalStats stats;
  {
    auto wal = open_recovered(o, live);
    ASSERT_NE(wal, nullptr);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (wal->stats().checkpoints < 1 && std::chrono::steady_clock::now() < deadline) {
      ASSERT_TRUE(drive(live, wal.get(), workload, turn_commands, turn_commands, nullptr, true));
    }
    stats = wal->stats();
    wal->close();
  }
  ASSERT_EQ(stats.checkpoints, 1u);
  EXPECT_GT(stats.checkpoint_chunks, 2u);
  EXPECT_GE(stats.syncs + 1, stats.checkpoint_chunks);
  StateMachine recovered(machine_options());
  RecoveryReport report;
  ASSERT_NE(open_recovered(o, recovered, &report), nullptr);
  EXPECT_GT(report.checkpoint_lsn, 0u);
  EXPECT_EQ(recovered.dump(), live.dump());
}

// The child plays the reactor in strict mode and reports each LSN it may
// acknowledge; it kills itself (kill -9) in its second checkpoint's
// transactions: after chunk `kill_at_chunk` (one checkpoint current, the
// next half written), or after the first that deletes the last one's
// pieces (the second current, the first half deleted).
constexpr std::uint32_t kill_at_chunk = 3;
enum class KillWhile { writing, deleting };

[[noreturn]] void run_child(Options o, KillWhile kill_while, int report_fd) {
  int checkpoints_begun = 0;
  bool was_current = false;
  o.on_checkpoint_chunk = [&](std::uint32_t index, bool current) {
    if (index == 0) ++checkpoints_begun;
    if (checkpoints_begun != 2) return;
    if ((kill_while == KillWhile::writing && index == kill_at_chunk && !current) ||
        (kill_while == KillWhile::deleting && was_current)) {
      ::kill(::getpid(), SIGKILL);
    }
    was_current = current;
  };
  StateMachine machine(machine_options());
  std::string why;
  auto wal = ShardWal::open(o, &why);
  RecoveryReport report;
  if (wal == nullptr || !wal->recover(machine, {}, &report, &why)) _exit(2);
  Workload workload(workload_seed);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> sealed;  // (batch, its last LSN)
  for (int turn = 0; turn < 1'000'000; ++turn) {
    if (!drive(machine, wal.get(), workload, turn_commands, turn_commands, nullptr, true)) _exit(3);
    sealed.emplace_back(wal->seal(), wal->last_lsn());
    std::uint64_t acknowledged = 0;
    std::size_t done = 0;
    for (; done < sealed.size() && sealed[done].first <= wal->durable_batch(); ++done) {
      acknowledged = sealed[done].second;
    }
    sealed.erase(sealed.begin(), sealed.begin() + static_cast<std::ptrdiff_t>(done));
    if (acknowledged > 0 && ::write(report_fd, &acknowledged, 8) != 8) _exit(4);
  }
  _exit(0);
}

class CheckpointCrash : public Checkpoint, public ::testing::WithParamInterface<KillWhile> {
 protected:
  // After a crash recovery: the next checkpoint is written and recovered as
  // usual, past `checkpoint_lsn`.
  void expect_next_checkpoint_recovers(const Options& o, std::uint64_t checkpoint_lsn) {
    Options next = o;
    next.on_checkpoint_chunk = {};
    StateMachine live(machine_options());
    auto wal = open_recovered(next, live);
    ASSERT_NE(wal, nullptr);
    Workload more(workload_seed + 1);
    ASSERT_TRUE(drive(live, wal.get(), more, 400, turn_commands, nullptr, true));
    ASSERT_TRUE(await_checkpoints(*wal, more.now_ms(), 1));
    wal->close();
    StateMachine again(machine_options());
    RecoveryReport last;
    wal.reset();
    ASSERT_NE(open_recovered(next, again, &last), nullptr);
    EXPECT_GT(last.checkpoint_lsn, checkpoint_lsn);
    EXPECT_EQ(again.dump(), live.dump());
  }
};

TEST_P(CheckpointCrash, KillNineRecoversTheCurrentCheckpointAndTheLog) {
  const KillWhile kill_while = GetParam();
  Options o = options();
  o.checkpoint_chunk_bytes = small_chunk_bytes;
  o.checkpoint_every_records = 300;
  const ReportingChild child =
      fork_reporting_child([&](int report_fd) { run_child(o, kill_while, report_fd); });
  ASSERT_GE(child.pid, 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child.pid, &status, 0), child.pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
  const std::uint64_t acknowledged = last_reported_lsn(child.reports);

  // One checkpoint current, the next one's first pieces or the last one's
  // remaining ones beside it.
  const ShardSummary before = summary_of(dir_);
  ASSERT_TRUE(before.checkpoint_lsn.has_value());
  if (kill_while == KillWhile::writing) {
    EXPECT_EQ(before.staging_chunks, kill_at_chunk + 1);
  } else {
    EXPECT_GT(before.staging_chunks, 0u);
  }
  ASSERT_TRUE(before.first_lsn.has_value());
  EXPECT_EQ(*before.first_lsn, *before.checkpoint_lsn + 1);

  // The same history, computed here.
  StateMachine expected(machine_options());
  Workload workload(workload_seed);
  std::vector<Logged> logged;
  while (logged.size() < *before.last_lsn) {
    drive(expected, nullptr, workload, turn_commands, turn_commands, &logged);
  }

  StateMachine recovered(machine_options());
  RecoveryReport recovery;
  {
    auto wal = open_recovered(o, recovered, &recovery);
    ASSERT_NE(wal, nullptr);
    EXPECT_EQ(recovery.checkpoint_lsn, *before.checkpoint_lsn);
    EXPECT_GE(recovery.last_lsn, acknowledged);
    EXPECT_EQ(recovery.last_lsn, *before.last_lsn);
    EXPECT_EQ(recovered.dump(), dump_at(logged, recovery.last_lsn));
  }
  // open() deleted the pieces of other checkpoints.
  const ShardSummary after = summary_of(dir_);
  EXPECT_EQ(after.staging_chunks, 0u);
  EXPECT_EQ(after.checkpoint_lsn, before.checkpoint_lsn);

  expect_next_checkpoint_recovers(o, *before.checkpoint_lsn);
}

INSTANTIATE_TEST_SUITE_P(WhileWritingOrDeleting, CheckpointCrash,
                         ::testing::Values(KillWhile::writing, KillWhile::deleting));

// Runs `edit` in a write transaction on shard 0's checkpoint and meta
// databases; the shard's ShardWal must be closed.
void edit_checkpoint(const std::filesystem::path& dir,
                     const std::function<void(MDB_txn*, MDB_dbi, MDB_dbi)>& edit) {
  MDB_env* env;
  ASSERT_EQ(mdb_env_create(&env), MDB_SUCCESS);
  ASSERT_EQ(mdb_env_set_maxdbs(env, named_dbs_max), MDB_SUCCESS);
  ASSERT_EQ(mdb_env_open(env, shard_path(dir, 0).c_str(), 0, 0644), MDB_SUCCESS);
  MDB_txn* txn;
  MDB_dbi checkpoint, meta;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), MDB_SUCCESS);
  ASSERT_EQ(mdb_dbi_open(txn, checkpoint_db_name, 0, &checkpoint), MDB_SUCCESS);
  ASSERT_EQ(mdb_dbi_open(txn, meta_db_name, 0, &meta), MDB_SUCCESS);
  edit(txn, checkpoint, meta);
  EXPECT_EQ(mdb_txn_commit(txn), MDB_SUCCESS);
  mdb_env_close(env);
}

// A folder with one chunked checkpoint and the live state it should recover to.
class CheckpointOnDisk : public Checkpoint {
 protected:
  void SetUp() override {
    Checkpoint::SetUp();
    o_ = options();
    o_.checkpoint_chunk_bytes = small_chunk_bytes;
    o_.checkpoint_every_records = 1'000'000;
    Workload workload(workload_seed);
    auto wal = open_recovered(o_, live_);
    ASSERT_NE(wal, nullptr);
    ASSERT_TRUE(drive(live_, wal.get(), workload, 300, turn_commands));
    wal->close();
    wal.reset();
    // checkpoint_every_records = 1: the next turn's records start one.
    o_.checkpoint_every_records = 1;
    StateMachine reopened(machine_options());
    wal = open_recovered(o_, reopened);
    ASSERT_NE(wal, nullptr);
    ASSERT_TRUE(drive(live_, wal.get(), workload, 5, turn_commands, nullptr, true));
    ASSERT_TRUE(await_checkpoints(*wal, workload.now_ms(), 1));
    wal->close();
    const ShardSummary summary = summary_of(dir_);
    ASSERT_TRUE(summary.checkpoint_lsn.has_value());
    ASSERT_GT(summary.checkpoint_chunks, 2u);
    lsn_ = *summary.checkpoint_lsn;
  }

  std::string recovery_error() {
    StateMachine machine(machine_options());
    auto wal = open_wal(o_);
    if (wal == nullptr) return "open failed";
    RecoveryReport report;
    std::string why;
    EXPECT_FALSE(wal->recover(machine, {}, &report, &why));
    return why;
  }

  Options o_;
  StateMachine live_{machine_options()};
  std::uint64_t lsn_ = 0;
};

TEST_F(CheckpointOnDisk, DamagedChunkIsRefusedNamingShardLsnAndFile) {
  edit_checkpoint(dir_, [&](MDB_txn* txn, MDB_dbi checkpoint, MDB_dbi) {
    const ChunkKey key = checkpoint_chunk_key(lsn_, 1);
    MDB_val k = to_val(std::span<const std::uint8_t>(key)), v;
    ASSERT_EQ(mdb_get(txn, checkpoint, &k, &v), MDB_SUCCESS);
    std::vector<std::uint8_t> bytes(to_span(v).begin(), to_span(v).end());
    bytes[bytes.size() / 2] ^= 0x40;
    v = to_val(std::span<const std::uint8_t>(bytes));
    ASSERT_EQ(mdb_put(txn, checkpoint, &k, &v, 0), MDB_SUCCESS);
  });
  const std::string why = recovery_error();
  EXPECT_NE(why.find("shard 0"), std::string::npos) << why;
  EXPECT_NE(why.find("checkpoint at LSN " + std::to_string(lsn_)), std::string::npos) << why;
  EXPECT_NE(why.find("checksum"), std::string::npos) << why;
  EXPECT_NE(why.find(shard_data_file(dir_, 0).string()), std::string::npos) << why;
}

TEST_F(CheckpointOnDisk, MissingChunkIsRefused) {
  edit_checkpoint(dir_, [&](MDB_txn* txn, MDB_dbi checkpoint, MDB_dbi) {
    const ChunkKey key = checkpoint_chunk_key(lsn_, 2);
    MDB_val k = to_val(std::span<const std::uint8_t>(key));
    ASSERT_EQ(mdb_del(txn, checkpoint, &k, nullptr), MDB_SUCCESS);
  });
  const std::string why = recovery_error();
  EXPECT_NE(why.find("piece 2 of"), std::string::npos) << why;
  EXPECT_NE(why.find("is missing"), std::string::npos) << why;
}

// Format 1 kept the whole snapshot under "lsn" and "state": such a folder
// recovers, and its first chunked checkpoint replaces them and says format 2.
TEST_F(CheckpointOnDisk, FormatOneFolderRecoversAndIsRewritten) {
  edit_checkpoint(dir_, [&](MDB_txn* txn, MDB_dbi checkpoint, MDB_dbi meta) {
    std::optional<CheckpointHead> head;
    std::vector<std::uint8_t> state;
    std::string why;
    ASSERT_TRUE(read_checkpoint(txn, checkpoint, &head, &state, &why)) << why;
    ASSERT_EQ(mdb_drop(txn, checkpoint, 0), MDB_SUCCESS);  // empties it
    const LsnKey lsn = lsn_key(head->lsn);
    MDB_val k = to_val(legacy_checkpoint_lsn_key), v = to_val(std::span<const std::uint8_t>(lsn));
    ASSERT_EQ(mdb_put(txn, checkpoint, &k, &v, 0), MDB_SUCCESS);
    k = to_val(legacy_checkpoint_state_key);
    v = to_val(std::span<const std::uint8_t>(state));
    ASSERT_EQ(mdb_put(txn, checkpoint, &k, &v, 0), MDB_SUCCESS);
    const std::uint8_t one[4] = {1, 0, 0, 0};
    k = to_val(meta_format_version_key);
    v = to_val(std::span<const std::uint8_t>(one));
    ASSERT_EQ(mdb_put(txn, meta, &k, &v, 0), MDB_SUCCESS);
  });
  ShardSummary summary = summary_of(dir_);
  EXPECT_EQ(summary.meta.format_version, 1u);
  EXPECT_EQ(summary.checkpoint_lsn, lsn_);
  EXPECT_EQ(summary.checkpoint_chunks, 0u);
  std::string why;
  ASSERT_TRUE(check_data_folder(dir_, 1, &why)) << why;

  StateMachine recovered(machine_options());
  RecoveryReport report;
  {
    auto wal = open_recovered(o_, recovered, &report);
    ASSERT_NE(wal, nullptr);
    EXPECT_EQ(report.checkpoint_lsn, lsn_);
    EXPECT_EQ(recovered.dump(), live_.dump());
    Workload more(workload_seed + 1);
    ASSERT_TRUE(drive(recovered, wal.get(), more, 20, turn_commands));
    // Durable first: a checkpoint asked for before the new records commit
    // rewrites the old one at its own LSN (format 2, still correct), and the
    // LSN check below would race with the syncer.
    ASSERT_TRUE(await_durable(*wal));
    ASSERT_TRUE(await_checkpoints(*wal, more.now_ms(), 1));
    wal->close();
  }
  summary = summary_of(dir_);
  EXPECT_EQ(summary.meta.format_version, wal_format_version);
  EXPECT_GT(*summary.checkpoint_lsn, lsn_);
  EXPECT_GT(summary.checkpoint_chunks, 0u);
  edit_checkpoint(dir_, [&](MDB_txn* txn, MDB_dbi checkpoint, MDB_dbi) {
    MDB_val k = to_val(legacy_checkpoint_state_key), v;
    EXPECT_EQ(mdb_get(txn, checkpoint, &k, &v), MDB_NOTFOUND);
  });
  StateMachine again(machine_options());
  ASSERT_NE(open_recovered(o_, again), nullptr);
  EXPECT_EQ(again.dump(), recovered.dump());
}

TEST_F(Checkpoint, FolderOfANewerFormatIsRefusedNamingBothVersions) {
  { ASSERT_NE(open_wal(options()), nullptr); }
  edit_checkpoint(dir_, [&](MDB_txn* txn, MDB_dbi, MDB_dbi meta) {
    const std::uint8_t three[4] = {3, 0, 0, 0};
    MDB_val k = to_val(meta_format_version_key), v = to_val(std::span<const std::uint8_t>(three));
    ASSERT_EQ(mdb_put(txn, meta, &k, &v, 0), MDB_SUCCESS);
  });
  std::string why;
  EXPECT_EQ(ShardWal::open(options(), &why), nullptr);
  EXPECT_NE(why.find("WAL format version 3, this build reads versions 1 to 2"), std::string::npos)
      << why;
}

}  // namespace
}  // namespace admit::storage::wal::testing
