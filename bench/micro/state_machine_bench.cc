// Micro-benchmarks of the state machine's hot paths, one core, no I/O.
//   build-release/bench/micro/state_machine_bench --benchmark_repetitions=3
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
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

// An event with room for every buyer, one seat each.
EventConfig large_sale() {
  EventConfig config;
  config.capacity = 1'000'000'000;
  config.per_user_max = 1;
  return config;
}

BookCommand book_gig(std::string_view user) {
  BookCommand command;
  command.event = "gig";
  command.user = user;
  return command;
}

// BOOKED: a new user takes one seat of a large event. The first argument is
// how many bookings one machine takes before it is rebuilt (untimed): the size
// of the sale, which decides whether its tables fit in the CPU caches. The
// second is 1 when the machine's user table is sized for them at start
// (Options::users_reserved), 0 when it grows as they come.
void BM_BookSuccess(benchmark::State& state) {
  const std::vector<std::string> users = user_names(static_cast<std::size_t>(state.range(0)));
  const std::size_t users_reserved = state.range(1) != 0 ? users.size() : 0;
  const EventConfig config = large_sale();
  auto sm = machine_with_event(config, users_reserved);
  std::size_t next = 0;
  for (auto _ : state) {
    if (next == users.size()) {
      state.PauseTiming();
      sm = machine_with_event(config, users_reserved);
      next = 0;
      state.ResumeTiming();
    }
    const BookResult result = sm->book(book_gig(users[next++]), now_ms);
    if (result.outcome != Outcome::booked) state.SkipWithError("not booked");
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_BookSuccess)->ArgsProduct({{1 << 16, 1 << 20}, {0, 1}});

std::int64_t thread_cpu_ns() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

// BOOKED in batches of 64, as the server gets them in a frame: range(0) = 1
// calls prefetch_book() for the whole batch before booking it.
void BM_BookBatch(benchmark::State& state) {
  constexpr std::size_t batch = 64;
  const std::vector<std::string> users = user_names(std::size_t{1} << 20);
  const bool prefetch = state.range(0) != 0;
  const EventConfig config = large_sale();
  auto sm = machine_with_event(config);
  std::size_t next = 0;
  std::vector<BookCommand> commands(batch);
  for (auto _ : state) {
    if (next == users.size()) {
      state.PauseTiming();
      sm = machine_with_event(config);
      next = 0;
      state.ResumeTiming();
    }
    for (std::size_t i = 0; i < batch; ++i) {
      commands[i] = book_gig(users[next + i]);
      if (prefetch) sm->prefetch_book(commands[i]);
    }
    next += batch;
    for (const BookCommand& command : commands) {
      const BookResult result = sm->book(command, now_ms);
      if (result.outcome != Outcome::booked) state.SkipWithError("not booked");
      benchmark::DoNotOptimize(result);
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
}
BENCHMARK(BM_BookBatch)->Arg(0)->Arg(1);

// The longest single Book of a sale of range(0) buyers, timed one by one: a
// table that rehashes or a vector that reallocates all at once shows here as
// a pause (the worst of each sale, then the worst of the run). max_us is wall
// time; max_cpu_us is this thread's CPU time (page faults included), which
// leaves out the time the thread waited for a core on a busy machine.
void BM_BookLongestPause(benchmark::State& state) {
  const std::vector<std::string> users = user_names(static_cast<std::size_t>(state.range(0)));
  const EventConfig config = large_sale();
  double longest_ns = 0, longest_cpu_ns = 0;
  for (auto _ : state) {
    auto sm = machine_with_event(config);
    for (const std::string& user : users) {
      const BookCommand command = book_gig(user);
      const auto start = std::chrono::steady_clock::now();
      const std::int64_t start_cpu_ns = thread_cpu_ns();
      const BookResult result = sm->book(command, now_ms);
      const std::int64_t took_cpu_ns = thread_cpu_ns() - start_cpu_ns;
      const auto took = std::chrono::steady_clock::now() - start;
      longest_ns = std::max<double>(longest_ns, std::chrono::nanoseconds(took).count());
      longest_cpu_ns = std::max<double>(longest_cpu_ns, took_cpu_ns);
      if (result.outcome != Outcome::booked) state.SkipWithError("not booked");
    }
    state.PauseTiming();
    sm.reset();
    state.ResumeTiming();
  }
  state.counters["max_us"] = longest_ns / 1000;
  state.counters["max_cpu_us"] = longest_cpu_ns / 1000;
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * users.size()));
}
BENCHMARK(BM_BookLongestPause)->Arg(1 << 20)->Iterations(2);

// Resident set size of this process, from /proc/self/statm.
double rss_bytes() {
  long pages_total = 0, pages_resident = 0;
  std::FILE* statm = std::fopen("/proc/self/statm", "r");
  if (statm == nullptr) return 0;
  const int read = std::fscanf(statm, "%ld %ld", &pages_total, &pages_resident);
  std::fclose(statm);
  return read == 2 ? static_cast<double>(pages_resident) * sysconf(_SC_PAGESIZE) : 0;
}

// Bytes malloc has handed out and not taken back (heap and mmap'd blocks).
double malloc_bytes() {
  const struct mallinfo2 info = mallinfo2();
  return static_cast<double>(info.uordblks + info.hblkhd);
}

// Memory per confirmed booking of a sale of range(0) fresh users (one seat
// each, no request ids): the growth of RSS and of malloc'd bytes from the
// empty machine to the sold one, divided by the bookings. Counts the user
// name, the booking, the event's user slot and booking list, and the tables'
// slack at the load they reach. RSS is exact only in the first repetition
// (malloc keeps freed pages for later ones); malloc'd bytes hold in each.
void BM_BookMemory(benchmark::State& state) {
  const std::vector<std::string> users = user_names(static_cast<std::size_t>(state.range(0)));
  const EventConfig config = large_sale();
  double rss_per_booking = 0, malloc_per_booking = 0;
  for (auto _ : state) {
    state.PauseTiming();
    malloc_trim(0);
    auto sm = machine_with_event(config);
    const double rss_before = rss_bytes(), malloc_before = malloc_bytes();
    state.ResumeTiming();
    for (const std::string& user : users) {
      if (sm->book(book_gig(user), now_ms).outcome != Outcome::booked) {
        state.SkipWithError("not booked");
      }
    }
    state.PauseTiming();
    const auto bookings = static_cast<double>(users.size());
    rss_per_booking = (rss_bytes() - rss_before) / bookings;
    malloc_per_booking = (malloc_bytes() - malloc_before) / bookings;
    sm.reset();
    state.ResumeTiming();
  }
  state.counters["rss_B"] = rss_per_booking;
  state.counters["malloc_B"] = malloc_per_booking;
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * users.size()));
}
BENCHMARK(BM_BookMemory)->Arg(10'000'000)->Iterations(1)->Unit(benchmark::kMillisecond);

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
