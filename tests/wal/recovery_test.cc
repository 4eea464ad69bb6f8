// Recovery equals history: a live machine logs what changed it; a fresh
// machine recovered from the WAL (checkpoint + log tail) has the same dump.
#include <gtest/gtest.h>

#include <optional>
#include <thread>

#include "storage/wal/inspect.h"
#include "tests/wal/wal_fixture.h"
#include "tests/wal/workload.h"

namespace admit::storage::wal::testing {
namespace {

storage::Options machine_options() { return storage::Options{.shard = 0}; }

class Recovery : public WalTest {};

TEST_F(Recovery, EqualsHistoryInStrictMode) {
  StateMachine live(machine_options());
  Workload workload(/*seed=*/1);
  std::vector<Logged> logged;
  {
    auto wal = open_recovered(options(), live);
    ASSERT_NE(wal, nullptr);
    ASSERT_TRUE(drive(live, wal.get(), workload, 3000, /*turn=*/7, &logged));
  }
  ASSERT_GT(logged.size(), 500u);

  StateMachine recovered(machine_options());
  RecoveryReport report;
  auto wal = open_recovered(options(), recovered, &report);
  ASSERT_NE(wal, nullptr);
  EXPECT_EQ(report.records_replayed, logged.size());
  EXPECT_EQ(report.last_lsn, logged.size());
  EXPECT_EQ(report.checkpoint_lsn, 0u);
  EXPECT_EQ(recovered.dump(), live.dump());
  recovered.check_invariants();
}

TEST_F(Recovery, ContinuesTheLogAcrossRestarts) {
  StateMachine live(machine_options());
  Workload workload(/*seed=*/2);
  std::vector<Logged> logged;
  for (int run = 0; run < 3; ++run) {
    StateMachine machine(machine_options());
    auto wal = open_recovered(options(), machine);
    ASSERT_NE(wal, nullptr);
    ASSERT_EQ(machine.dump(), live.dump()) << "run " << run;
    EXPECT_EQ(wal->last_lsn(), logged.size());
    ASSERT_TRUE(drive(live, wal.get(), workload, 500, /*turn=*/5, &logged));
  }
  StateMachine recovered(machine_options());
  ASSERT_NE(open_recovered(options(), recovered), nullptr);
  EXPECT_EQ(recovered.dump(), live.dump());
}

TEST_F(Recovery, EqualsHistoryInBatchedMode) {
  Options o = options();
  o.mode = Mode::batched;
  o.sync_interval_ms = 5;
  StateMachine live(machine_options());
  Workload workload(/*seed=*/3);
  {
    auto wal = open_recovered(o, live);
    ASSERT_NE(wal, nullptr);
    ASSERT_TRUE(drive(live, wal.get(), workload, 3000, /*turn=*/11));
    wal->close();
    EXPECT_GE(wal->stats().syncs, 1u);  // close() flushes what the interval did not
    EXPECT_GE(wal->stats().batches_committed, wal->stats().transactions);
  }
  StateMachine recovered(machine_options());
  ASSERT_NE(open_recovered(o, recovered), nullptr);
  EXPECT_EQ(recovered.dump(), live.dump());
}

TEST_F(Recovery, CheckpointTrimsTheLogAndRecoveryStartsFromIt) {
  Options o = options();
  o.checkpoint_every_records = 150;
  StateMachine live(machine_options());
  Workload workload(/*seed=*/4);
  std::vector<Logged> logged;
  std::uint64_t checkpoints = 0;
  {
    auto wal = open_recovered(o, live);
    ASSERT_NE(wal, nullptr);
    // Checkpoints are made off this thread: each round ends once one more
    // is written, so at least 3 are, however slow the machine.
    for (std::uint64_t round = 1; round <= 4; ++round) {
      ASSERT_TRUE(drive(live, wal.get(), workload, 1000, /*turn=*/9, &logged, true));
      ASSERT_TRUE(await_checkpoints(*wal, workload.now_ms(), round));
    }
    wal->close();
    checkpoints = wal->stats().checkpoints;
  }
  EXPECT_GE(checkpoints, 3u);

  std::string why;
  auto reader = ReadOnlyShard::open(shard_path(dir_, 0), &why);
  ASSERT_NE(reader, nullptr) << why;
  ShardSummary summary;
  ASSERT_TRUE(reader->summary(&summary, &why)) << why;
  reader.reset();
  ASSERT_TRUE(summary.checkpoint_lsn.has_value());
  EXPECT_GT(*summary.checkpoint_lsn, 0u);
  EXPECT_GT(summary.checkpoint_bytes, 0u);
  EXPECT_LT(summary.records, logged.size());  // the log shrank
  EXPECT_EQ(summary.records, logged.size() - *summary.checkpoint_lsn);
  if (summary.records > 0) {
    EXPECT_EQ(summary.first_lsn, *summary.checkpoint_lsn + 1);
  }

  StateMachine recovered(machine_options());
  RecoveryReport report;
  ASSERT_NE(open_recovered(o, recovered, &report), nullptr);
  EXPECT_EQ(report.checkpoint_lsn, *summary.checkpoint_lsn);
  EXPECT_EQ(report.records_replayed, summary.records);
  EXPECT_EQ(report.last_lsn, logged.size());
  EXPECT_EQ(recovered.dump(), live.dump());
}

// Checkpoints are made off the reactor from the committed log, while the
// writes go on: each must hold exactly the state after its LSN's record (the
// history replayed up to it, snapshot byte for byte), and recovery from the
// last one plus the records after it must give the live state, byte for byte.
TEST_F(Recovery, CheckpointsMadeWhileWritingCoverExactlyTheirLsn) {
  Options o = options();
  o.checkpoint_every_records = 100;
  StateMachine live(machine_options());
  Workload workload(/*seed=*/8);
  std::vector<Logged> logged;
  std::uint64_t checkpoints = 0;
  {
    auto wal = open_recovered(o, live);
    ASSERT_NE(wal, nullptr);
    for (int round = 1; round <= 40; ++round) {
      ASSERT_TRUE(drive(live, wal.get(), workload, 150, /*turn=*/5, &logged, true));
      // Writing goes on while checkpoints are made, but at least 3 are.
      if (round % 10 == 0) ASSERT_TRUE(await_checkpoints(*wal, workload.now_ms(), round / 10));
    }
    wal->close();
    checkpoints = wal->stats().checkpoints;
  }
  EXPECT_GE(checkpoints, 3u);

  std::string why;
  auto reader = ReadOnlyShard::open(shard_path(dir_, 0), &why);
  ASSERT_NE(reader, nullptr) << why;
  ShardSummary summary;
  std::optional<std::vector<std::uint8_t>> state;
  ASSERT_TRUE(reader->summary(&summary, &why)) << why;
  ASSERT_TRUE(reader->checkpoint_state(&state, &why)) << why;
  reader.reset();
  ASSERT_TRUE(summary.checkpoint_lsn.has_value() && state.has_value());
  EXPECT_EQ(summary.records, logged.size() - *summary.checkpoint_lsn);
  StateMachine at_checkpoint(machine_options());
  for (std::uint64_t lsn = 1; lsn <= *summary.checkpoint_lsn; ++lsn) {
    apply(at_checkpoint, logged[lsn - 1].record);
  }
  EXPECT_TRUE(at_checkpoint.snapshot() == *state) << "checkpoint LSN " << *summary.checkpoint_lsn;

  StateMachine recovered(machine_options());
  ASSERT_NE(open_recovered(o, recovered), nullptr);
  EXPECT_TRUE(recovered.snapshot() == live.snapshot());
  EXPECT_EQ(recovered.dump(), live.dump());
}

// close() while a checkpoint is being made: the checkpointer stops, nothing
// half-made is written, and the folder recovers to the live state.
TEST_F(Recovery, CloseStopsACheckpointBeingMade) {
  Options o = options();
  o.checkpoint_every_records = 20000;
  StateMachine live(machine_options());
  Workload workload(/*seed=*/9, /*events=*/8, /*users=*/5000);
  {
    auto wal = open_recovered(o, live);
    ASSERT_NE(wal, nullptr);
    ASSERT_TRUE(drive(live, wal.get(), workload, 60000, /*turn=*/50));
    while (wal->durable_batch() < wal->seal()) std::this_thread::yield();
    EXPECT_FALSE(wal->checkpoint(workload.now_ms()));  // starts one
    wal->close();
    EXPECT_EQ(wal->stats().checkpoints, 0u);
  }
  StateMachine recovered(machine_options());
  RecoveryReport report;
  ASSERT_NE(open_recovered(o, recovered, &report), nullptr);
  EXPECT_EQ(report.checkpoint_lsn, 0u);
  EXPECT_TRUE(recovered.snapshot() == live.snapshot());
}

TEST_F(Recovery, RetriedRequestIdAfterACrashGetsTheSameAnswer) {
  StateMachine live(machine_options());
  const std::int64_t now_ms = 1'700'000'000'000;
  const Record create{
      .kind = CommandKind::create_event,
      .command = command_of(CreateEventCommand{.id = "gig", .config = {.capacity = 10}}),
      .now_ms = now_ms};
  const Record book{.kind = CommandKind::book,
                    .command = command_of(BookCommand{.event = "gig",
                                                      .user = "ann",
                                                      .seats = 2,
                                                      .hold = false,
                                                      .waitlist = WaitlistChoice::by_default,
                                                      .request_id = "req-7"}),
                    .now_ms = now_ms};
  BookResult first;
  {
    auto wal = open_recovered(options(), live);
    ASSERT_NE(wal, nullptr);
    for (const Record* record : {&create, &book}) {
      ASSERT_EQ(wal->admission(), Admission::accept);
      const std::uint64_t before = live.change_count();
      const CommandResult result = apply(live, *record);
      if (record == &book) first = std::get<BookResult>(result);
      ASSERT_NE(live.change_count(), before);
      wal->append(record->kind, record->command, record->now_ms);
    }
    const std::uint64_t batch = wal->seal();
    while (wal->durable_batch() < batch) std::this_thread::yield();
    // The answer may go out now; then the process dies without a checkpoint.
  }
  ASSERT_EQ(first.outcome, Outcome::booked);

  StateMachine recovered(machine_options());
  ASSERT_NE(open_recovered(options(), recovered), nullptr);
  const std::string before = recovered.dump();
  const std::uint64_t changes_before = recovered.change_count();
  const auto retry = std::get<BookResult>(
      storage::apply(recovered, CommandKind::book, book.command, now_ms + 5000));
  EXPECT_EQ(retry.outcome, first.outcome);
  EXPECT_EQ(retry.ref, first.ref);
  EXPECT_EQ(retry.seats, first.seats);
  EXPECT_EQ(recovered.change_count(), changes_before);
  EXPECT_EQ(recovered.dump(), before);
}

TEST_F(Recovery, CorruptRecordStopsRecoveryNamingShardLsnAndFile) {
  StateMachine live(machine_options());
  Workload workload(/*seed=*/5);
  {
    auto wal = open_recovered(options(), live);
    ASSERT_NE(wal, nullptr);
    ASSERT_TRUE(drive(live, wal.get(), workload, 300, /*turn=*/4));
  }
  edit_log([](MDB_txn* txn, MDB_dbi log) {
    const LsnKey key = lsn_key(57);
    MDB_val k = to_val(std::span<const std::uint8_t>(key)), v;
    ASSERT_EQ(mdb_get(txn, log, &k, &v), MDB_SUCCESS);
    std::vector<std::uint8_t> bytes(to_span(v).begin(), to_span(v).end());
    bytes[bytes.size() / 2] ^= 0x20;
    v = to_val(std::span<const std::uint8_t>(bytes));
    ASSERT_EQ(mdb_put(txn, log, &k, &v, 0), MDB_SUCCESS);
  });
  StateMachine recovered(machine_options());
  auto wal = open_wal(options());
  ASSERT_NE(wal, nullptr);
  RecoveryReport report;
  std::string why;
  EXPECT_FALSE(wal->recover(recovered, {}, &report, &why));
  EXPECT_NE(why.find("shard 0"), std::string::npos) << why;
  EXPECT_NE(why.find("LSN 57 "), std::string::npos) << why;
  EXPECT_NE(why.find((dir_ / "shard-0" / "data.mdb").string()), std::string::npos) << why;
  EXPECT_NE(why.find("checksum mismatch"), std::string::npos) << why;
}

TEST_F(Recovery, MissingRecordStopsRecoveryNamingTheGap) {
  StateMachine live(machine_options());
  Workload workload(/*seed=*/6);
  {
    auto wal = open_recovered(options(), live);
    ASSERT_NE(wal, nullptr);
    ASSERT_TRUE(drive(live, wal.get(), workload, 300, /*turn=*/4));
  }
  edit_log([](MDB_txn* txn, MDB_dbi log) {
    const LsnKey key = lsn_key(30);
    MDB_val k = to_val(std::span<const std::uint8_t>(key));
    ASSERT_EQ(mdb_del(txn, log, &k, nullptr), MDB_SUCCESS);
  });
  StateMachine recovered(machine_options());
  auto wal = open_wal(options());
  ASSERT_NE(wal, nullptr);
  RecoveryReport report;
  std::string why;
  EXPECT_FALSE(wal->recover(recovered, {}, &report, &why));
  EXPECT_NE(why.find("LSN 30 "), std::string::npos) << why;
  EXPECT_NE(why.find("missing (the next record has LSN 31)"), std::string::npos) << why;
}

TEST_F(Recovery, ProgressIsReportedForALongReplay) {
  StateMachine live(machine_options());
  Workload workload(/*seed=*/7);
  {
    auto wal = open_recovered(options(), live);
    ASSERT_NE(wal, nullptr);
    ASSERT_TRUE(drive(live, wal.get(), workload, 40000, /*turn=*/50));
  }
  Options o = options();
  o.recovery_progress_ms = 0;  // at every check: once per 4096 records
  StateMachine recovered(machine_options());
  auto wal = open_wal(o);
  ASSERT_NE(wal, nullptr);
  RecoveryReport report;
  std::string why;
  std::uint64_t last_progress = 0, calls = 0;
  const bool ok = wal->recover(
      recovered,
      [&](std::uint64_t replayed) {
        EXPECT_EQ(replayed, last_progress + 4096);
        last_progress = replayed;
        ++calls;
      },
      &report, &why);
  ASSERT_TRUE(ok) << why;
  EXPECT_EQ(calls, report.records_replayed / 4096);
  EXPECT_GE(calls, 2u);
  EXPECT_EQ(recovered.dump(), live.dump());
}

}  // namespace
}  // namespace admit::storage::wal::testing
