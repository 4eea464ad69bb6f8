// kill -9 under load: a child process plays the reactor in strict mode and
// reports every LSN it may acknowledge (its batch is durable); the parent
// kills it at a random moment, recovers, and checks that the state is
// exactly a prefix of the history that contains everything acknowledged.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <deque>
#include <random>
#include <thread>

#include "tests/wal/wal_fixture.h"
#include "tests/wal/workload.h"

namespace admit::storage::wal::testing {
namespace {

constexpr std::uint64_t workload_seed = 51;
constexpr int turn_commands = 8;

// The child: never returns. Writes the last acknowledged LSN (8 bytes) to
// `report_fd` each time it moves.
[[noreturn]] void run_child(const Options& o, int report_fd) {
  StateMachine machine(storage::Options{.shard = 0});
  std::string why;
  auto wal = ShardWal::open(o, &why);
  RecoveryReport report;
  if (wal == nullptr || !wal->recover(machine, {}, &report, &why)) _exit(2);
  Workload workload(workload_seed);
  std::deque<std::pair<std::uint64_t, std::uint64_t>> sealed;  // (batch, its last LSN)
  for (int turn = 0; turn < 1'000'000; ++turn) {
    if (!wait_for_admission(*wal)) _exit(3);
    for (int i = 0; i < turn_commands; ++i) {
      const Record record = workload.next();
      const std::uint64_t before = machine.change_count();
      workload.observe(apply(machine, record));
      if (machine.change_count() != before) wal->append(record.kind, record.command, record.now_ms);
    }
    wal->checkpoint(workload.now_ms());
    sealed.emplace_back(wal->seal(), wal->last_lsn());
    std::uint64_t acknowledged = 0;
    while (!sealed.empty() && sealed.front().first <= wal->durable_batch()) {
      acknowledged = sealed.front().second;
      sealed.pop_front();
    }
    if (acknowledged > 0 && ::write(report_fd, &acknowledged, 8) != 8) _exit(4);
  }
  _exit(0);
}

class Crash : public WalTest {};

TEST_F(Crash, KillNineLosesNothingAcknowledged) {
  std::mt19937 rng(7);
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const auto round_dir = dir_ / ("round-" + std::to_string(round));
    Options o = options();
    o.dir = round_dir;
    o.checkpoint_every_records = 300;
    const ReportingChild child =
        fork_reporting_child([&](int report_fd) { run_child(o, report_fd); });
    ASSERT_GE(child.pid, 0);
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(50, 400)(rng)));
    ASSERT_EQ(::kill(child.pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child.pid, &status, 0), child.pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child ended by itself, status " << status;
    const std::uint64_t acknowledged = last_reported_lsn(child.reports);

    StateMachine recovered(storage::Options{.shard = 0});
    RecoveryReport recovery;
    ASSERT_NE(open_recovered(o, recovered, &recovery), nullptr);
    EXPECT_GE(recovery.last_lsn, acknowledged);

    // The same history, computed here: its first last_lsn records.
    StateMachine expected(storage::Options{.shard = 0});
    Workload workload(workload_seed);
    std::vector<Logged> logged;
    while (logged.size() < recovery.last_lsn) {
      drive(expected, nullptr, workload, turn_commands, turn_commands, &logged);
    }
    StateMachine prefix(storage::Options{.shard = 0});
    logged.resize(recovery.last_lsn);
    replay_acknowledged(prefix, logged, UINT64_MAX);
    EXPECT_EQ(recovered.dump(), prefix.dump());
    std::printf("round %d: acknowledged LSN %llu, recovered LSN %llu (checkpoint %llu)\n", round,
                static_cast<unsigned long long>(acknowledged),
                static_cast<unsigned long long>(recovery.last_lsn),
                static_cast<unsigned long long>(recovery.checkpoint_lsn));
  }
}

}  // namespace
}  // namespace admit::storage::wal::testing
