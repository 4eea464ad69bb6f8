// admit-sim: replays one seed of the simulator (tests/sim/simulator.h),
// printing every action, or runs a range of seeds (a longer run than the
// test's). Exit 1 on the first failing seed.
//   admit-sim --seed N [--steps S]          one seed, with its trace
//   admit-sim --seeds FIRST COUNT [--steps S]  many seeds, quiet
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "tests/sim/simulator.h"

int main(int argc, char** argv) {
  CLI::App app{"admit-sim: Admit's deterministic simulator"};
  std::uint64_t seed = 0;
  std::vector<std::uint64_t> seeds;
  std::uint32_t steps = 600;
  app.add_option("--seed", seed, "replay one seed, printing what it did");
  app.add_option("--seeds", seeds, "FIRST COUNT: run COUNT seeds from FIRST")->expected(2);
  app.add_option("--steps", steps, "steps per seed (the test uses 600)");
  CLI11_PARSE(app, argc, argv);
  if (seeds.empty()) {
    if (seed == 0) {
      std::cerr << "admit-sim: --seed N or --seeds FIRST COUNT\n";
      return 2;
    }
    seeds = {seed, 1};
  }
  const bool one = seeds[1] == 1;
  for (std::uint64_t s = seeds[0]; s < seeds[0] + seeds[1]; ++s) {
    const admit::sim::RunReport report =
        admit::sim::run({.seed = s, .steps = steps, .trace = one ? &std::cout : nullptr});
    if (!report.ok) {
      std::printf("seed %llu: FAILED: %s\n", static_cast<unsigned long long>(s),
                  report.failure.c_str());
      return 1;
    }
    if (one) {
      std::printf(
          "seed %llu: ok: %u shards, %llu requests, %llu acknowledged, %llu turns, "
          "%llu crashes\n",
          static_cast<unsigned long long>(s), report.shards,
          static_cast<unsigned long long>(report.requests),
          static_cast<unsigned long long>(report.acknowledged),
          static_cast<unsigned long long>(report.turns),
          static_cast<unsigned long long>(report.crashes));
    }
  }
  if (!one) std::printf("%llu seeds ok\n", static_cast<unsigned long long>(seeds[1]));
  return 0;
}
