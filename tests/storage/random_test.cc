// Drives the state machine with random commands (few events and users, so
// conflicts are frequent; time jumps so holds expire) and compares every
// answer with the naive model in reference_model.h. Replays from the seed:
//   ADMIT_SEED=<seed> ADMIT_RANDOM_COMMANDS=<count> storage_random_test
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>

#include "model_run.h"
#include "storage/state_machine.h"

namespace admit::storage {
namespace {

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  return text != nullptr && *text != '\0' ? std::strtoull(text, nullptr, 10) : fallback;
}

constexpr std::uint64_t default_seed = 20261126;

// How often each outcome came up (printed at the end).
OutcomeCounts histogram;

// An assert() or check_invariants() failure aborts: say what to replay first.
char replay_note[128];
volatile std::sig_atomic_t current_command_known = 0;
std::uint64_t current_command = 0;

void print_replay_note(int) {
  if (current_command_known != 0) {
    char line[160];
    const int size =
        std::snprintf(line, sizeof line, "\n%s, aborted in the run starting at command %llu\n",
                      replay_note, static_cast<unsigned long long>(current_command));
    if (size > 0) (void)!write(STDERR_FILENO, line, static_cast<std::size_t>(size));
  }
  std::signal(SIGABRT, SIG_DFL);
  std::raise(SIGABRT);
}
// About 15 s of CPU (20-40 s wall on the shared 2-core box), debugoptimized.
constexpr std::uint64_t default_commands = 1'500'000;

class SeededChoices : public Choices {
 public:
  explicit SeededChoices(std::uint64_t seed) : rng_(seed) {}
  std::uint32_t pick(std::uint32_t n) override { return static_cast<std::uint32_t>(rng_() % n); }
  std::uint64_t next() { return rng_(); }

 private:
  std::mt19937_64 rng_;
};

TEST(StateMachineRandom, AgreesWithTheReferenceModel) {
  const std::uint64_t seed = env_or("ADMIT_SEED", default_seed);
  const std::uint64_t commands = env_or("ADMIT_RANDOM_COMMANDS", default_commands);
  std::printf("ADMIT_SEED=%llu ADMIT_RANDOM_COMMANDS=%llu\n", static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(commands));
  SCOPED_TRACE("replay with ADMIT_SEED=" + std::to_string(seed) +
               " ADMIT_RANDOM_COMMANDS=" + std::to_string(commands));
  std::snprintf(replay_note, sizeof replay_note, "replay with ADMIT_SEED=%llu",
                static_cast<unsigned long long>(seed));
  current_command_known = 1;
  std::signal(SIGABRT, print_replay_note);
  SeededChoices choices(seed);
  std::uint64_t done = 0;
  while (done < commands) {
    // Runs of 500..20 500 commands keep the model's linear scans short.
    const auto length = std::min<std::uint64_t>(500 + choices.next() % 20000, commands - done);
    ModelRun run(choices, RunCadence{}, &histogram);
    current_command = done;
    const bool agreed = run.run(length);
    if (!agreed) {
      ADD_FAILURE() << run.failure() << " of the run starting at command " << done;
      std::printf("failed: ADMIT_SEED=%llu, see the command index above\n",
                  static_cast<unsigned long long>(seed));
      return;
    }
    done += length;
  }
  const auto print = [](const char* family, const std::uint64_t* counts) {
    std::printf("%s:", family);
    for (int i = 0; i < outcome_count; ++i) {
      if (counts[i] != 0) {
        const std::string_view name = outcome_name(static_cast<Outcome>(i));
        std::printf(" %.*s=%llu", static_cast<int>(name.size()), name.data(),
                    static_cast<unsigned long long>(counts[i]));
      }
    }
    std::printf("\n");
  };
  print("book", histogram.book);
  print("confirm/cancel", histogram.confirm_cancel);
  print("leave", histogram.leave);
  std::printf("holds expired by expire(): %llu\n",
              static_cast<unsigned long long>(histogram.expired_holds));
  // Every book outcome the state machine can give must have come up.
  for (const Outcome outcome :
       {Outcome::booked, Outcome::held, Outcome::waitlisted, Outcome::already_booked,
        Outcome::sold_out, Outcome::over_user_limit, Outcome::not_open, Outcome::closed,
        Outcome::rate_limited, Outcome::not_found, Outcome::invalid}) {
    EXPECT_GT(histogram.book[static_cast<int>(outcome)], 0u) << outcome_name(outcome);
  }
}

}  // namespace
}  // namespace admit::storage
