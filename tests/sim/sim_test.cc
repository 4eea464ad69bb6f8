// The simulator over many seeds: each one a fresh world of 1-4 shards. A
// failure names its seed; `./dev sim --seed N` replays it with a trace.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/sim/simulator.h"

namespace admit::sim {
namespace {

constexpr std::uint64_t seeds_default = 2000;
constexpr std::uint32_t steps_per_seed = 600;

// check_invariants() and assert() abort: say which seed to replay first.
volatile std::uint64_t current_seed = 0;

void print_seed_and_abort(int) {
  char line[96];
  const int size =
      std::snprintf(line, sizeof line, "\nsim: aborted; replay with ./dev sim --seed %llu\n",
                    static_cast<unsigned long long>(current_seed));
  if (size > 0) [[maybe_unused]]
    auto written = ::write(2, line, static_cast<std::size_t>(size));
  std::signal(SIGABRT, SIG_DFL);
  std::abort();
}

// ADMIT_SIM_SEEDS=N runs more (or fewer) seeds.
std::uint64_t seed_count() {
  const char* text = std::getenv("ADMIT_SIM_SEEDS");
  return text != nullptr ? std::strtoull(text, nullptr, 10) : seeds_default;
}

TEST(Simulator, EverySeedKeepsAcknowledgedAnswersDurableAndRecoversToItsHistory) {
  std::signal(SIGABRT, print_seed_and_abort);
  std::uint64_t requests = 0, acknowledged = 0, crashes = 0;
  for (std::uint64_t seed = 1; seed <= seed_count(); ++seed) {
    current_seed = seed;
    const RunReport report = run({.seed = seed, .steps = steps_per_seed, .trace = nullptr});
    ASSERT_TRUE(report.ok) << "seed " << seed << ": " << report.failure
                           << "\nreplay with ./dev sim --seed " << seed;
    requests += report.requests;
    acknowledged += report.acknowledged;
    crashes += report.crashes;
  }
  // The runs did something: answers were released and crashes recovered.
  EXPECT_GT(acknowledged, requests / 2);
  EXPECT_GT(crashes, seed_count());
  std::signal(SIGABRT, SIG_DFL);
}

}  // namespace
}  // namespace admit::sim
