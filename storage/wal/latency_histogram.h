// A latency histogram one thread writes and any thread reads (relaxed
// atomics): fixed bucket bounds from 50 µs to 10 s, for /metrics. Counts
// are per bucket, not cumulative; the exposition sums them.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>

namespace admit::storage::wal {

class LatencyHistogram {
 public:
  // Upper bounds in seconds; one more bucket counts what lies above the last.
  static constexpr std::array<double, 16> bounds_s = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
      0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,   10};
  static constexpr std::size_t bucket_count = bounds_s.size() + 1;

  // Single writer: `count` observations of `nanoseconds` each.
  void observe(std::int64_t nanoseconds, std::uint64_t count = 1) {
    const double seconds = static_cast<double>(std::max<std::int64_t>(nanoseconds, 0)) * 1e-9;
    const auto bucket = static_cast<std::size_t>(
        std::lower_bound(bounds_s.begin(), bounds_s.end(), seconds) - bounds_s.begin());
    add(buckets_[bucket], count);
    add(sum_ns_, static_cast<std::uint64_t>(std::max<std::int64_t>(nanoseconds, 0)) * count);
  }

  // Any thread: a copy of the counts and the sum in seconds.
  std::array<std::uint64_t, bucket_count> counts() const {
    std::array<std::uint64_t, bucket_count> out{};
    for (std::size_t i = 0; i < bucket_count; ++i) {
      out[i] = buckets_[i].load(std::memory_order_relaxed);
    }
    return out;
  }
  double sum_s() const {
    return static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) * 1e-9;
  }

 private:
  // One writer: a load and a store, no locked read-modify-write.
  static void add(std::atomic<std::uint64_t>& counter, std::uint64_t value) {
    counter.store(counter.load(std::memory_order_relaxed) + value, std::memory_order_relaxed);
  }

  std::array<std::atomic<std::uint64_t>, bucket_count> buckets_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

}  // namespace admit::storage::wal
