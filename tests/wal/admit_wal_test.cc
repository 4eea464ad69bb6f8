// admit-wal against a real data folder: the summary, text and JSON dumps,
// and a corrupt record reported (exit status 1) rather than skipped.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/wal/wal_fixture.h"
#include "tests/wal/workload.h"

namespace admit::storage::wal::testing {
namespace {

struct ToolRun {
  std::string out;
  int status = -1;
};

ToolRun admit_wal(const std::string& args) {
  const char* tool = std::getenv("ADMIT_WAL");
  EXPECT_NE(tool, nullptr) << "meson passes ADMIT_WAL, the tool's path";
  ToolRun run;
  if (tool == nullptr) return run;
  FILE* pipe = ::popen((std::string(tool) + " " + args + " 2>&1").c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  if (pipe == nullptr) return run;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;)
    run.out.append(buffer, n);
  const int status = ::pclose(pipe);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class AdmitWal : public WalTest {
 protected:
  // Two shards; shard 0 checkpointed part-way, shard 1 with its whole log.
  void SetUp() override {
    WalTest::SetUp();
    for (std::uint32_t shard = 0; shard < 2; ++shard) {
      Options o = options(shard, 2);
      o.checkpoint_every_records = shard == 0 ? 100 : 1'000'000;
      StateMachine machine(storage::Options{.shard = shard});
      auto wal = open_recovered(o, machine);
      ASSERT_NE(wal, nullptr);
      Workload workload(/*seed=*/31 + shard);
      ASSERT_TRUE(drive(machine, wal.get(), workload, 600, /*turn=*/5, nullptr, true));
      if (shard == 0) ASSERT_TRUE(await_checkpoints(*wal, workload.now_ms(), 1));
    }
  }
};

TEST_F(AdmitWal, SummaryShowsMetaCheckpointAndLogRange) {
  const ToolRun run = admit_wal(dir_.string());
  ASSERT_EQ(run.status, 0) << run.out;
  EXPECT_NE(run.out.find("shard 0  ("), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("shard 1  ("), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("format 2, shard 1 of 2"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("checkpoint  LSN "), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("checkpoint  none"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("log         LSN 1.."), std::string::npos) << run.out;
}

TEST_F(AdmitWal, JsonDumpGivesOneRecordPerLineInLsnOrder) {
  const ToolRun run = admit_wal(dir_.string() + " dump --shard 1 --from 2 --limit 3 --json");
  ASSERT_EQ(run.status, 0) << run.out;
  const auto lines = lines_of(run.out);
  ASSERT_EQ(lines.size(), 3u) << run.out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto record = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(record["shard"], 1);
    EXPECT_EQ(record["lsn"], 2 + i);
    EXPECT_EQ(record["command"], "CreateEvent");  // the workload creates its events first
    EXPECT_EQ(record["fields"]["id"], "event-" + std::to_string(1 + i));
    EXPECT_TRUE(record["time"].get<std::string>().ends_with("Z"));
  }
}

TEST_F(AdmitWal, TextDumpNamesCommandAndFields) {
  const ToolRun run = admit_wal(dir_.string() + " dump --shard 1 --limit 1");
  ASSERT_EQ(run.status, 0) << run.out;
  EXPECT_EQ(run.out.rfind("shard 1 lsn 1 ", 0), 0u) << run.out;
  EXPECT_NE(run.out.find("CreateEvent id=\"event-0\" capacity="), std::string::npos) << run.out;
}

TEST_F(AdmitWal, CorruptRecordIsReportedAndFailsTheRun) {
  edit_log(
      [](MDB_txn* txn, MDB_dbi log) {
        const LsnKey key = lsn_key(4);
        MDB_val k = to_val(std::span<const std::uint8_t>(key)), v;
        ASSERT_EQ(mdb_get(txn, log, &k, &v), MDB_SUCCESS);
        std::vector<std::uint8_t> bytes(to_span(v).begin(), to_span(v).end());
        bytes.back() ^= 1;
        v = to_val(std::span<const std::uint8_t>(bytes));
        ASSERT_EQ(mdb_put(txn, log, &k, &v, 0), MDB_SUCCESS);
      },
      /*shard=*/1);
  const ToolRun run = admit_wal(dir_.string() + " dump --shard 1 --limit 5");
  EXPECT_EQ(run.status, 1) << run.out;
  EXPECT_NE(run.out.find("shard 1 lsn 4 CORRUPT"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("checksum mismatch"), std::string::npos) << run.out;
  EXPECT_EQ(lines_of(run.out).size(), 5u) << "the records around it still print";
}

TEST_F(AdmitWal, HelpTeachesTheLayout) {
  const ToolRun run = admit_wal("--help");
  EXPECT_EQ(run.status, 0);
  EXPECT_NE(run.out.find("read-only"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("Examples:"), std::string::npos) << run.out;
}

}  // namespace
}  // namespace admit::storage::wal::testing
