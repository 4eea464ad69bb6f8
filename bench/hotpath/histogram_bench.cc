// The latency histogram's record(): admit-bench calls it once per answer, so
// it must cost a few nanoseconds.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "bench/admit-bench/histogram.h"

namespace {

using admit::bench::LatencyHistogram;

void BM_HistogramRecord(benchmark::State& state) {
  std::mt19937_64 random(1);
  std::lognormal_distribution<double> latency_ns(11.0, 1.0);  // around 60 us, long tail
  std::vector<std::uint64_t> values(4096);
  for (auto& value : values) value = static_cast<std::uint64_t>(latency_ns(random));
  LatencyHistogram histogram;
  std::size_t i = 0;
  for (auto _ : state) {
    histogram.record(values[i++ & 4095]);
  }
  benchmark::DoNotOptimize(histogram.count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HistogramRecord);

void BM_HistogramPercentile(benchmark::State& state) {
  LatencyHistogram histogram;
  for (std::uint64_t v = 1; v < 10'000'000; v += 997) histogram.record(v);
  for (auto _ : state) benchmark::DoNotOptimize(histogram.value_at_percentile_ns(99.9));
}
BENCHMARK(BM_HistogramPercentile);

}  // namespace
