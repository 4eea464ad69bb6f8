// WAL micro-benchmarks: recovery rate (records replayed per second from a
// large generated log) and commit throughput (records per second and per
// fsync) in strict and batched mode, on the disk that holds ADMIT_BENCH_DIR
// (default: the system temp folder).
#include <benchmark/benchmark.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "storage/wal/inspect.h"
#include "tests/wal/workload.h"

namespace admit::storage::wal {

std::filesystem::path make_temp_dir(const char* name) {
  const char* base = std::getenv("ADMIT_BENCH_DIR");
  std::string pattern =
      (std::filesystem::path(base != nullptr ? base : "/tmp") / (std::string(name) + "-XXXXXX"))
          .string();
  if (mkdtemp(pattern.data()) == nullptr) std::abort();
  return pattern;
}

Options bench_options(const std::filesystem::path& dir, Mode mode) {
  Options o;
  o.dir = dir;
  o.mode = mode;
  o.map_size_bytes = std::size_t{1} << 30;
  o.checkpoint_every_records = UINT64_MAX;  // measure the log alone
  return o;
}

std::unique_ptr<ShardWal> open_or_die(const Options& o, StateMachine& machine) {
  std::string why;
  auto wal = ShardWal::open(o, &why);
  RecoveryReport report;
  if (wal == nullptr || !wal->recover(machine, {}, &report, &why)) {
    std::fprintf(stderr, "wal bench: %s\n", why.c_str());
    std::abort();
  }
  return wal;
}

// A log of about `records` records from the test workload (many events and
// users, so most commands change state), written once per process.
struct GeneratedLog {
  std::filesystem::path dir;
  std::uint64_t records = 0;
  std::string live_dump;
};

GeneratedLog generated;  // built by the first benchmark that needs it

const GeneratedLog& generated_log(std::uint64_t records) {
  GeneratedLog& log = generated;
  if (log.records != 0) return log;
  log.dir = make_temp_dir("admit-wal-recovery");
  StateMachine live(storage::Options{.shard = 0});
  auto wal = open_or_die(bench_options(log.dir, Mode::batched), live);
  testing::Workload workload(/*seed=*/42, /*events=*/512, /*users=*/20000);
  while (wal->last_lsn() < records) {
    testing::drive(live, wal.get(), workload, 100'000, /*turn=*/256);
  }
  wal->close();
  log.records = wal->last_lsn();
  log.live_dump = live.dump();
  return log;
}

void BM_Recovery(benchmark::State& state) {
  const GeneratedLog& log = generated_log(static_cast<std::uint64_t>(state.range(0)));
  std::uint64_t replayed = 0;
  for (auto _ : state) {
    StateMachine machine(storage::Options{.shard = 0});
    std::string why;
    auto wal = ShardWal::open(bench_options(log.dir, Mode::batched), &why);
    RecoveryReport report;
    if (wal == nullptr || !wal->recover(machine, {}, &report, &why)) {
      state.SkipWithError(why.c_str());
      return;
    }
    replayed += report.records_replayed;
    state.PauseTiming();
    if (machine.dump() != log.live_dump) state.SkipWithError("recovered state differs");
    wal.reset();
    state.ResumeTiming();
  }
  state.counters["records/s"] =
      benchmark::Counter(static_cast<double>(replayed), benchmark::Counter::kIsRate);
  state.counters["records"] = static_cast<double>(log.records);
}
BENCHMARK(BM_Recovery)->Arg(1'000'000)->Unit(benchmark::kMillisecond)->Iterations(3);

// Scan + checksum + decode only, no state machine: the WAL's share of recovery.
void BM_ScanAndDecode(benchmark::State& state) {
  const GeneratedLog& log = generated_log(static_cast<std::uint64_t>(state.range(0)));
  std::uint64_t decoded = 0;
  for (auto _ : state) {
    std::string why;
    auto reader = ReadOnlyShard::open(shard_path(log.dir, 0), &why);
    Record record;
    reader->for_each_record(
        1, UINT64_MAX,
        [&](std::uint64_t, std::span<const std::uint8_t> bytes) {
          decoded += decode(bytes, record, nullptr) ? 1 : 0;
          return true;
        },
        &why);
  }
  state.counters["records/s"] =
      benchmark::Counter(static_cast<double>(decoded), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ScanAndDecode)->Arg(1'000'000)->Unit(benchmark::kMillisecond)->Iterations(3);

// The logged commands of a workload, to append without a state machine.
const std::vector<testing::Logged>& logged_commands() {
  static std::vector<testing::Logged> logged;
  if (logged.empty()) {
    StateMachine machine(storage::Options{.shard = 0});
    testing::Workload workload(/*seed=*/43, /*events=*/512, /*users=*/20000);
    testing::drive(machine, nullptr, workload, 200'000, /*turn=*/1, &logged);
  }
  return logged;
}

void await_durable(ShardWal& wal, std::uint64_t batch) {
  while (wal.durable_batch() < batch) {
    pollfd done{.fd = wal.completion_fd(), .events = POLLIN, .revents = 0};
    ::poll(&done, 1, 100);
    std::uint64_t count;
    if ((done.revents & POLLIN) != 0 && ::read(done.fd, &count, 8) != 8) std::abort();
  }
}

// One iteration = one reactor turn of range(1) records, sealed. The reactor
// waits only when the WAL says OVERLOADED (sealed_batches_max in flight).
void BM_CommitThroughput(benchmark::State& state) {
  const auto mode = static_cast<Mode>(state.range(0));
  const auto turn = static_cast<std::size_t>(state.range(1));
  const auto& logged = logged_commands();
  const auto dir = make_temp_dir("admit-wal-commit");
  std::uint64_t last_batch = 0;
  {
    StateMachine machine(storage::Options{.shard = 0});
    auto wal = open_or_die(bench_options(dir, mode), machine);
    std::size_t next = 0;
    for (auto _ : state) {
      while (wal->admission() != Admission::accept) {
        // The open batch is empty here (sealed below), so seal() names the last batch.
        await_durable(*wal, std::min(wal->seal(), wal->durable_batch() + 1));
      }
      for (std::size_t i = 0; i < turn; ++i, next = (next + 1) % logged.size()) {
        const Record& record = logged[next].record;
        wal->append(record.kind, record.command, record.now_ms);
      }
      last_batch = wal->seal();
    }
    await_durable(*wal, last_batch);
    const WalStats stats = wal->stats();
    state.counters["records/s"] = benchmark::Counter(static_cast<double>(stats.records_committed),
                                                     benchmark::Counter::kIsRate);
    state.counters["records/fsync"] =
        stats.syncs == 0
            ? 0.0
            : static_cast<double>(stats.records_committed) / static_cast<double>(stats.syncs);
    state.counters["batches/txn"] =
        static_cast<double>(stats.batches_committed) /
        static_cast<double>(std::max<std::uint64_t>(1, stats.transactions));
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_CommitThroughput)
    ->ArgNames({"batched", "turn"})
    ->ArgsProduct({{0, 1}, {1, 16, 256}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace admit::storage::wal

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (!admit::storage::wal::generated.dir.empty()) {
    std::filesystem::remove_all(admit::storage::wal::generated.dir);
  }
  return 0;
}
