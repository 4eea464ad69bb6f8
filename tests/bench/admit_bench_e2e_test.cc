// Runs the admit-bench binary (env ADMIT_BENCH_BIN) against a real admitd for
// each scenario, small and short, and checks its JSON verdict and counts.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/admitd_process.h"

namespace admit::bench {
namespace {

struct BenchRun {
  int exit_code = -1;
  nlohmann::json json;
  std::string output;
};

BenchRun run_bench(const test::AdmitdProcess& server, const std::string& arguments) {
  const char* binary = std::getenv("ADMIT_BENCH_BIN");
  if (binary == nullptr) throw std::runtime_error("ADMIT_BENCH_BIN is not set");
  const std::string command = std::string(binary) + " --server " + server.address() +
                              " --json --phase-timeout 30 " + arguments + " 2>&1";
  BenchRun run;
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed: " + command);
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) run.output += buffer;
  const int status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  const auto brace = run.output.find('{');
  if (brace != std::string::npos) {
    run.json = nlohmann::json::parse(run.output.substr(brace), nullptr, false);
  }
  return run;
}

std::uint64_t outcome(const BenchRun& run, const char* name) {
  return run.json["outcomes"].value(name, std::uint64_t{0});
}

class AdmitBench : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = std::make_unique<test::AdmitdProcess>(); }
  static void TearDownTestSuite() { server_.reset(); }
  static std::unique_ptr<test::AdmitdProcess> server_;
};
std::unique_ptr<test::AdmitdProcess> AdmitBench::server_;

void expect_passed(const BenchRun& run) {
  ASSERT_FALSE(run.json.is_discarded()) << run.output;
  ASSERT_TRUE(run.json.is_object()) << run.output;
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.json["verdict"], "PASS") << run.output;
  for (const char* name :
       {"no_oversell", "no_user_twice", "waitlist_fifo", "views_agree", "no_unexpected_errors"}) {
    EXPECT_EQ(run.json["invariants"][name], true) << name << ": " << run.output;
  }
}

TEST_F(AdmitBench, FlashSaleSellsExactlyTheSeatsThereAre) {
  const BenchRun run = run_bench(*server_, "flash-sale --users 60 --capacity 10 --seats 3");
  expect_passed(run);
  EXPECT_EQ(outcome(run, "BOOKED"), 3u) << run.output;
  EXPECT_EQ(outcome(run, "SOLD_OUT"), 57u) << run.output;
  EXPECT_EQ(run.json["seats_booked"], 9) << run.output;
  EXPECT_EQ(run.json["attempts"], 60) << run.output;
  EXPECT_GT(run.json["latency_us"]["max"].get<double>(), 0.0) << run.output;
}

TEST_F(AdmitBench, LastSeatLeavesExactlyOneUserWaitlisted) {
  const BenchRun run = run_bench(*server_, "last-seat --users 40");
  expect_passed(run);
  EXPECT_EQ(outcome(run, "BOOKED"), 39u) << run.output;
  EXPECT_EQ(outcome(run, "WAITLISTED"), 1u) << run.output;
}

TEST_F(AdmitBench, RsvpRepeatsGetAlreadyBooked) {
  const BenchRun run = run_bench(*server_, "rsvp --users 50 --capacity 30 --repeats 10");
  expect_passed(run);
  EXPECT_EQ(outcome(run, "BOOKED"), 30u) << run.output;
  EXPECT_EQ(outcome(run, "BOOKED") + outcome(run, "SOLD_OUT") + outcome(run, "ALREADY_BOOKED"), 60u)
      << run.output;
  EXPECT_EQ(run.json["invariants"]["repeats_already_booked"], true) << run.output;
}

TEST_F(AdmitBench, ExpiredHoldsPromoteTheWaitlistInOrder) {
  const BenchRun run =
      run_bench(*server_, "holds --users 30 --capacity 10 --hold-ttl 300 --confirm-percent 50");
  expect_passed(run);
  EXPECT_EQ(outcome(run, "HELD"), 10u) << run.output;
  EXPECT_EQ(outcome(run, "WAITLISTED"), 20u) << run.output;
  EXPECT_EQ(run.json["invariants"]["expired_holds_promote"], true) << run.output;
  EXPECT_EQ(run.json["seats_booked"], 10) << run.output;
}

TEST_F(AdmitBench, ThroughputWithAMixAndASmallCapacityStaysConsistent) {
  const BenchRun run =
      run_bench(*server_,
                "throughput --connections 4 --pipeline 8 --duration 1 --capacity 200 "
                "--users 500 --mix book=80,get=15,cancel=5");
  expect_passed(run);
  EXPECT_GT(run.json["attempts"].get<std::uint64_t>(), 0u) << run.output;
  EXPECT_LE(run.json["seats_booked"].get<std::uint64_t>(), 400u) << run.output;  // 2 events
  EXPECT_GT(run.json["server"]["resident_bytes_before"].get<std::uint64_t>(), 0u) << run.output;
  EXPECT_TRUE(run.json["server"]["bytes_per_booking"].is_number()) << run.output;
}

// Pipelined bookings go as BookBatches by default and as single Books with
// --no-book-batching: the same verdicts, and the JSON says which it was.
TEST_F(AdmitBench, ThroughputPassesWithAndWithoutBookBatching) {
  for (const bool batching : {true, false}) {
    const BenchRun run = run_bench(
        *server_, std::string(batching ? "" : "--no-book-batching ") +
                      "throughput --connections 4 --pipeline 32 --duration 1 --capacity 3000 "
                      "--users 2000");
    expect_passed(run);
    EXPECT_EQ(run.json["book_batching"], batching) << run.output;
    EXPECT_GT(outcome(run, "BOOKED"), 0u) << run.output;
    EXPECT_GT(outcome(run, "ALREADY_BOOKED") + outcome(run, "SOLD_OUT"), 0u) << run.output;
  }
}

TEST_F(AdmitBench, OpenLoopThroughputRuns) {
  const BenchRun run =
      run_bench(*server_, "throughput --connections 2 --rate 2000 --duration 1 --pipeline 16");
  expect_passed(run);
  EXPECT_GT(run.json["attempts"].get<std::uint64_t>(), 1000u) << run.output;
}

TEST_F(AdmitBench, ConnectionsAreHeldWithoutDrops) {
  const BenchRun run = run_bench(*server_,
                                 "connections --connections 50 --hold 1 --ramp 0 --interval 200 "
                                 "--memory-per-connection-max 1048576");
  expect_passed(run);
  EXPECT_EQ(run.json["invariants"]["no_drops"], true) << run.output;
  EXPECT_EQ(run.json["invariants"]["memory_per_connection"], true) << run.output;
  EXPECT_GT(run.json["server"]["resident_bytes_after"].get<std::uint64_t>(), 0u) << run.output;
  EXPECT_TRUE(run.json["server"]["bytes_per_connection"].is_number()) << run.output;
  EXPECT_GE(outcome(run, "OK"), 50u) << run.output;
}

TEST_F(AdmitBench, WatchStormWatchersFollowTheSellOutExactly) {
  const BenchRun run =
      run_bench(*server_, "watch-storm --watchers 30 --buyers 3 --pipeline 8 --capacity 300");
  expect_passed(run);
  for (const char* name :
       {"all_watching", "watchers_counted", "sold_out", "all_saw_final", "never_backwards",
        "watchers_exact_during_sale", "no_rewatch", "watchers_gone", "watchers_exact_at_end"}) {
    EXPECT_EQ(run.json["invariants"][name], true) << name << ": " << run.output;
  }
  EXPECT_EQ(outcome(run, "BOOKED"), 300u) << run.output;
  EXPECT_EQ(run.json["seats_booked"], 300) << run.output;
  const nlohmann::json& metrics = run.json["metrics"];
  EXPECT_EQ(metrics["watchers"], 30) << run.output;
  EXPECT_GE(metrics["pushes"].get<double>(), 30.0) << "each watcher saw the sale" << run.output;
  EXPECT_GE(metrics["updates_per_watcher_min"].get<double>(), 2.0) << run.output;
  EXPECT_GT(run.json["latency_us"]["max"].get<double>(), 0.0) << run.output;
  EXPECT_TRUE(run.json["server"]["bytes_per_watcher"].is_number()) << run.output;
}

TEST_F(AdmitBench, WatchStormOverServerSentEvents) {
  const BenchRun run = run_bench(
      *server_, "watch-storm --http --watchers 20 --buyers 2 --pipeline 8 --capacity 200");
  expect_passed(run);
  for (const char* name : {"all_watching", "all_saw_final", "never_backwards",
                           "watchers_exact_during_sale", "no_rewatch", "watchers_gone"}) {
    EXPECT_EQ(run.json["invariants"][name], true) << name << ": " << run.output;
  }
  EXPECT_EQ(outcome(run, "BOOKED"), 200u) << run.output;
  EXPECT_GE(run.json["metrics"]["pushes"].get<double>(), 20.0) << run.output;
}

TEST_F(AdmitBench, BadFlagsAreRefusedNamingTheFlag) {
  const BenchRun run = run_bench(*server_, "throughput --mix book=50");
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("--mix"), std::string::npos) << run.output;
  const BenchRun seats = run_bench(*server_, "flash-sale --capacity 2 --seats 3");
  EXPECT_EQ(seats.exit_code, 2) << seats.output;
  EXPECT_NE(seats.output.find("--seats"), std::string::npos) << seats.output;
}

}  // namespace
}  // namespace admit::bench
