// Micro-benchmarks of the state machine's hot paths, one core, no I/O.
//   build-release/bench/micro/state_machine_bench --benchmark_repetitions=3
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "storage/state_machine.h"

namespace admit::storage {
namespace {

constexpr std::int64_t now_ms = 1'700'000'000'000;

std::vector<std::string> user_names(std::size_t count) {
  std::vector<std::string> names;
  names.reserve(count);
  for (std::size_t i = 0; i < count; ++i) names.push_back("user-" + std::to_string(i));
  return names;
}

std::unique_ptr<StateMachine> machine_with_event(const EventConfig& config,
                                                std::size_t users_reserved = 0) {
  auto sm = std::make_unique<StateMachine>(Options{.users_reserved = users_reserved});
  sm->create_event({"gig", config}, now_ms);
  return sm;
}

// BOOKED: a new user takes one seat of a large event. The first argument is
// how many bookings one machine takes before it is rebuilt (untimed): the size
// of the sale, which decides whether its tables fit in the CPU caches. The
// second is 1 when the machine's user table is sized for them at start
// (Options::users_reserved), 0 when it grows as they come.
void BM_BookSuccess(benchmark::State& state) {
  const std::vector<std::string> users = user_names(static_cast<std::size_t>(state.range(0)));
  const std::size_t users_reserved = state.range(1) != 0 ? users.size() : 0;
  EventConfig config;
  config.capacity = 1'000'000'000;
  config.per_user_max = 1;
  auto sm = machine_with_event(config, users_reserved);
  std::size_t next = 0;
  for (auto _ : state) {
    if (next == users.size()) {
      state.PauseTiming();
      sm = machine_with_event(config, users_reserved);
      next = 0;
      state.ResumeTiming();
    }
    BookCommand command;
    command.event = "gig";
    command.user = users[next++];
    const BookResult result = sm->book(command, now_ms);
    if (result.outcome != Outcome::booked) state.SkipWithError("not booked");
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_BookSuccess)->ArgsProduct({{1 << 16, 1 << 20}, {0, 1}});

// The longest single Book of a sale of range(0) buyers, timed one by one: a
// table that rehashes or a vector that reallocates all at once shows here as
// a pause (counter max_us: the worst of each sale, then the worst of the run).
void BM_BookLongestPause(benchmark::State& state) {
  const std::vector<std::string> users = user_names(static_cast<std::size_t>(state.range(0)));
  EventConfig config;
  config.capacity = 1'000'000'000;
  config.per_user_max = 1;
  double longest_ns = 0;
  for (auto _ : state) {
    auto sm = machine_with_event(config);
    for (const std::string& user : users) {
      BookCommand command;
      command.event = "gig";
      command.user = user;
      const auto start = std::chrono::steady_clock::now();
      const BookResult result = sm->book(command, now_ms);
      const auto took = std::chrono::steady_clock::now() - start;
      longest_ns = std::max<double>(longest_ns, std::chrono::nanoseconds(took).count());
      if (result.outcome != Outcome::booked) state.SkipWithError("not booked");
    }
    state.PauseTiming();
    sm.reset();
    state.ResumeTiming();
  }
  state.counters["max_us"] = longest_ns / 1000;
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * users.size()));
}
BENCHMARK(BM_BookLongestPause)->Arg(1 << 20)->Iterations(2);

// SOLD_OUT: users without a booking ask for a seat of a sold-out event.
void BM_BookSoldOut(benchmark::State& state) {
  const std::vector<std::string> users = user_names(4096);
  EventConfig config;
  config.capacity = 100;
  auto sm = machine_with_event(config);
  for (int i = 0; i < 100; ++i) {
    BookCommand command;
    command.event = "gig";
    command.user = "early-" + std::to_string(i);
    sm->book(command, now_ms);
  }
  std::size_t next = 0;
  for (auto _ : state) {
    BookCommand command;
    command.event = "gig";
    command.user = users[next++ & (users.size() - 1)];
    const BookResult result = sm->book(command, now_ms);
    if (result.outcome != Outcome::sold_out) state.SkipWithError("not sold out");
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_BookSoldOut);

// CANCEL + PROMOTION: the one seat's holder cancels and the waitlist's head
// gets the seat. The waitlist is refilled (untimed) when it runs dry.
void BM_CancelWithPromotion(benchmark::State& state) {
  constexpr std::size_t waiters = 1 << 16;
  const std::vector<std::string> users = user_names(waiters);
  EventConfig config;
  config.capacity = 1;
  config.waitlist = true;
  std::unique_ptr<StateMachine> sm;
  std::uint64_t holder_serial = 0;  // serial of the booking that holds the seat
  std::size_t waiting = 0;
  const auto refill = [&] {
    sm = machine_with_event(config);
    BookCommand command;
    command.event = "gig";
    command.user = "holder";
    holder_serial = sm->book(command, now_ms).ref.serial();
    for (const std::string& user : users) {
      command.user = user;
      sm->book(command, now_ms);
    }
    waiting = waiters;
  };
  refill();
  for (auto _ : state) {
    if (waiting == 0) {
      state.PauseTiming();
      refill();
      state.ResumeTiming();
    }
    const BookingRef ref = BookingRef::make(holder_serial, 0);
    const BookingResult result = sm->cancel({ref.view(), {}}, now_ms);
    if (result.outcome != Outcome::ok) state.SkipWithError("not cancelled");
    ++holder_serial;  // the promoted head's booking is the next serial
    --waiting;
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_CancelWithPromotion);

}  // namespace
}  // namespace admit::storage

BENCHMARK_MAIN();
