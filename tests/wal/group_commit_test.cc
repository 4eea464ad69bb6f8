// Group commit across threads: a producer thread plays the reactor (append,
// seal, wait on the eventfd) while the syncer commits; run under TSan too.
#include <gtest/gtest.h>
#include <poll.h>

#include <thread>

#include "tests/wal/wal_fixture.h"
#include "tests/wal/workload.h"

namespace admit::storage::wal::testing {
namespace {

storage::Options machine_options() { return storage::Options{.shard = 0}; }

class GroupCommit : public WalTest {};

// Waits on the completion eventfd (as the reactor would through io_uring)
// until `batch` is durable.
void await_durable(ShardWal& wal, std::uint64_t batch) {
  while (wal.durable_batch() < batch) {
    pollfd done{.fd = wal.completion_fd(), .events = POLLIN, .revents = 0};
    ASSERT_GE(::poll(&done, 1, 100), 0);
    std::uint64_t count;
    if ((done.revents & POLLIN) != 0) {
      ASSERT_EQ(::read(done.fd, &count, 8), 8);
    }
  }
}

void run_producer(const Options& o, StateMachine& live, std::vector<Logged>& logged,
                  WalStats& stats) {
  std::string why;
  auto wal = ShardWal::open(o, &why);
  ASSERT_NE(wal, nullptr) << why;
  RecoveryReport report;
  ASSERT_TRUE(wal->recover(live, {}, &report, &why)) << why;
  Workload workload(/*seed=*/21);
  std::uint64_t durable_seen = 0;
  for (int round = 0; round < 20; ++round) {
    ASSERT_TRUE(drive(live, wal.get(), workload, 500, /*turn=*/3, &logged, true));
    const std::uint64_t durable = wal->durable_batch();
    EXPECT_GE(durable, durable_seen);  // monotonic
    durable_seen = durable;
  }
  const std::uint64_t last = wal->seal();
  await_durable(*wal, last);
  EXPECT_EQ(last, logged.back().batch);
  wal->close();
  stats = wal->stats();
}

TEST_F(GroupCommit, ProducerThreadWithSyncerRunningLosesNothing) {
  Options o = options();
  o.sealed_batches_max = 4;  // small, so the producer meets OVERLOADED and waits
  o.checkpoint_every_records = 2000;
  StateMachine live(machine_options());
  std::vector<Logged> logged;
  WalStats stats;
  std::thread producer([&] { run_producer(o, live, logged, stats); });
  producer.join();
  ASSERT_FALSE(HasFailure());

  EXPECT_EQ(stats.records_committed, logged.size());
  EXPECT_EQ(stats.batches_committed, logged.back().batch);
  EXPECT_LE(stats.transactions, stats.batches_committed);
  EXPECT_EQ(stats.syncs, stats.transactions);  // strict: every commit synced
  EXPECT_GE(stats.checkpoints, 1u);
  EXPECT_FALSE(stats.failed);
  std::printf("%llu records, %llu batches, %llu transactions\n",
              static_cast<unsigned long long>(stats.records_committed),
              static_cast<unsigned long long>(stats.batches_committed),
              static_cast<unsigned long long>(stats.transactions));

  StateMachine recovered(machine_options());
  ASSERT_NE(open_recovered(o, recovered), nullptr);
  EXPECT_EQ(recovered.dump(), live.dump());
}

TEST_F(GroupCommit, OverloadIsReportedBeforeTheQueueGrowsPastItsBound) {
  Options o = options();
  o.sealed_bytes_max = 1024;  // a few records
  StateMachine live(machine_options());
  auto wal = open_recovered(o, live);
  ASSERT_NE(wal, nullptr);
  Workload workload(/*seed=*/22);
  std::uint64_t overloaded = 0;
  for (int i = 0; i < 3000; ++i) {
    const Admission admission = wal->admission();
    ASSERT_NE(admission, Admission::unavailable);
    if (admission == Admission::overloaded) {
      ++overloaded;  // a reactor answers OVERLOADED here; the test just waits
      const std::uint64_t sealed = wal->seal();
      await_durable(*wal, std::min(sealed, wal->durable_batch() + 1));
      continue;
    }
    const Record record = workload.next();
    const std::uint64_t before = live.change_count();
    workload.observe(apply(live, record));
    if (live.change_count() != before) wal->append(record.kind, record.command, record.now_ms);
  }
  wal->close();
  EXPECT_GT(overloaded, 0u);  // one unsealed batch of 3000 commands exceeds 1 KiB
  StateMachine recovered(machine_options());
  wal.reset();
  ASSERT_NE(open_recovered(o, recovered), nullptr);
  EXPECT_EQ(recovered.dump(), live.dump());
}

}  // namespace
}  // namespace admit::storage::wal::testing
