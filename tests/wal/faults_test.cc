// Storage faults and refusals: a full map grows, or refuses writes near its
// maximum before they are applied; a file size limit refuses them until
// lifted, losing nothing; a folder written with another shard count, or
// already open, is refused with a message that says why.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include "tests/wal/wal_fixture.h"
#include "tests/wal/workload.h"

namespace admit::storage::wal::testing {
namespace {

storage::Options machine_options() { return storage::Options{.shard = 0}; }

class Faults : public WalTest {};

TEST_F(Faults, FullMapGrowsAndNothingIsLost) {
  Options o = options();
  o.map_size_bytes = 64 << 10;
  o.map_size_max_bytes = 64 << 20;
  StateMachine live(machine_options());
  Workload workload(/*seed=*/11);
  {
    auto wal = open_recovered(o, live);
    ASSERT_NE(wal, nullptr);
    ASSERT_TRUE(drive(live, wal.get(), workload, 12000, /*turn=*/13));
    wal->close();
    EXPECT_GE(wal->stats().map_resizes, 1u);
    EXPECT_GT(wal->stats().map_size_bytes, o.map_size_bytes);
    EXPECT_FALSE(wal->stats().failed);
  }
  StateMachine recovered(machine_options());
  ASSERT_NE(open_recovered(o, recovered), nullptr);
  EXPECT_EQ(recovered.dump(), live.dump());
}

TEST_F(Faults, MapNearlyFullAtTheMaximumRefusesWritesAndCommitsWhatItAdmitted) {
  Options o = options();
  o.map_size_bytes = 64 << 10;
  o.map_size_max_bytes = 128 << 10;
  o.failed_retry_ms = 5;
  std::vector<std::string> lines;
  o.log = [&lines](const std::string& line) { lines.push_back(line); };
  StateMachine live(machine_options());
  Workload workload(/*seed=*/12);
  std::vector<Logged> logged;
  std::uint64_t durable_before_close = 0, durable_after_close = 0;
  {
    auto wal = open_recovered(o, live);
    ASSERT_NE(wal, nullptr);
    // Far more than 128 KiB of records: the drive must stop on the refusal.
    EXPECT_FALSE(drive(live, wal.get(), workload, 200000, /*turn=*/13, &logged));
    EXPECT_EQ(wal->admission(), Admission::unavailable);
    EXPECT_NE(wal->failure().find("map is nearly full"), std::string::npos) << wal->failure();
    EXPECT_FALSE(wal->stats().failed);  // refused before applied: no commit failed
    durable_before_close = wal->durable_batch();
    wal->close();
    durable_after_close = wal->durable_batch();
  }
  EXPECT_GE(durable_after_close, durable_before_close);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.size(), 1u) << "the cause is logged once, not per retry";
  EXPECT_NE(lines[0].find("short of space"), std::string::npos) << lines[0];

  o.map_size_max_bytes = 64 << 20;  // the operator gave it room
  StateMachine recovered(machine_options());
  ASSERT_NE(open_recovered(o, recovered), nullptr);
  StateMachine acknowledged(machine_options());
  replay_acknowledged(acknowledged, logged, durable_after_close);
  EXPECT_EQ(recovered.dump(), acknowledged.dump());
  // Everything admitted fit, and committed.
  EXPECT_EQ(durable_after_close, logged.back().batch);
  EXPECT_EQ(recovered.dump(), live.dump());
}

// RLIMIT_FSIZE makes the reservation of the data file's growth fail with
// EFBIG, a limit like ENOSPC: writes are refused before they are applied,
// what was admitted commits, and writes come back by themselves once a
// retried reservation succeeds.
TEST_F(Faults, FileSizeLimitRefusesWritesUntilLifted) {
  Options o = options();
  o.failed_retry_ms = 5;
  o.reserve_ahead_bytes = 1 << 20;  // used up well within the drive below
  std::vector<std::string> lines;
  std::mutex lines_mutex;
  o.log = [&](const std::string& line) {
    std::lock_guard lock(lines_mutex);
    lines.push_back(line);
  };
  StateMachine live(machine_options());
  Workload workload(/*seed=*/13);
  std::vector<Logged> logged;
  auto wal = open_recovered(o, live);
  ASSERT_NE(wal, nullptr);
  ASSERT_TRUE(drive(live, wal.get(), workload, 200, /*turn=*/5, &logged));

  ASSERT_NE(signal(SIGXFSZ, SIG_IGN), SIG_ERR);
  rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  rlimit tight = saved;
  tight.rlim_cur = std::filesystem::file_size(dir_ / "shard-0" / "data.mdb");
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &tight), 0);
  const bool stopped = !drive(live, wal.get(), workload, 200000, /*turn=*/5, &logged);
  const std::uint64_t durable_when_failed = wal->durable_batch();
  const std::string failure = wal->failure();
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &saved), 0);
  ASSERT_TRUE(stopped);
  EXPECT_NE(failure.find("File too large"), std::string::npos) << failure;
  EXPECT_FALSE(wal->stats().failed);
  EXPECT_LE(durable_when_failed, logged.back().batch);

  // The syncer retries every failed_retry_ms; writes are accepted again.
  while (wal->admission() != Admission::accept) std::this_thread::yield();
  while (wal->durable_batch() < logged.back().batch) std::this_thread::yield();
  ASSERT_TRUE(drive(live, wal.get(), workload, 200, /*turn=*/5, &logged));
  wal->close();
  {
    std::lock_guard lock(lines_mutex);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_NE(lines[0].find("short of space"), std::string::npos) << lines[0];
    EXPECT_NE(lines[1].find("room again"), std::string::npos) << lines[1];
  }
  wal.reset();
  StateMachine recovered(machine_options());
  ASSERT_NE(open_recovered(o, recovered), nullptr);
  EXPECT_EQ(recovered.dump(), live.dump());
}

TEST_F(Faults, ChangedShardCountIsRefusedNamingBothCounts) {
  for (std::uint32_t shard = 0; shard < 2; ++shard) {
    StateMachine machine(storage::Options{.shard = shard});
    ASSERT_NE(open_recovered(options(shard, 2), machine), nullptr);
  }
  std::string why;
  EXPECT_EQ(ShardWal::open(options(0, 3), &why), nullptr);
  EXPECT_NE(why.find("--shards 2"), std::string::npos) << why;
  EXPECT_NE(why.find("--shards 3"), std::string::npos) << why;

  EXPECT_FALSE(check_data_folder(dir_, 3, &why));
  EXPECT_NE(why.find("--shards 2"), std::string::npos) << why;
  EXPECT_NE(why.find("--shards 3"), std::string::npos) << why;
  EXPECT_FALSE(check_data_folder(dir_, 1, &why));
  EXPECT_TRUE(check_data_folder(dir_, 2, &why)) << why;
  EXPECT_TRUE(check_data_folder(dir_ / "does-not-exist", 5, &why)) << why;
}

TEST_F(Faults, ASecondOpenOfTheSameShardIsRefused) {
  auto first = open_wal(options());
  ASSERT_NE(first, nullptr);
  std::string why;
  EXPECT_EQ(ShardWal::open(options(), &why), nullptr);
  EXPECT_NE(why.find("in use by another process"), std::string::npos) << why;
}

TEST_F(Faults, UnwritableFolderIsRefusedAtOpen) {
  Options o = options();
  o.dir = "/proc/admit-wal-cannot-exist";
  std::string why;
  EXPECT_EQ(ShardWal::open(o, &why), nullptr);
  EXPECT_NE(why.find("shard 0"), std::string::npos) << why;
}

}  // namespace
}  // namespace admit::storage::wal::testing
