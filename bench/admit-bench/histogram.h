// A log-linear latency histogram in the manner of HdrHistogram: constant
// memory (a fixed array of counters, no sample lists), values recorded in
// nanoseconds with a relative error of at most 1/sub_bucket_count (< 0.8 %).
// Values 0..2*sub_bucket_count-1 are exact; above, each power of two is split
// into sub_bucket_count equal buckets. Not thread-safe: one per thread, then
// merge().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace admit::bench {

class LatencyHistogram {
 public:
  static constexpr int sub_bucket_bits = 7;
  static constexpr std::uint64_t sub_bucket_count = std::uint64_t{1} << sub_bucket_bits;
  // Values at or past this (about 68.7 s in ns) are clamped to value_max_ns
  // and counted in clamped().
  static constexpr int value_bits_max = 36;
  static constexpr std::uint64_t value_max_ns = (std::uint64_t{1} << value_bits_max) - 1;
  static constexpr std::size_t bucket_count =
      2 * sub_bucket_count + (value_bits_max - 1 - sub_bucket_bits) * sub_bucket_count;

  void record(std::uint64_t value_ns) { record_n(value_ns, 1); }
  void record_n(std::uint64_t value_ns, std::uint64_t times);
  void merge(const LatencyHistogram& other);
  void reset();

  std::uint64_t count() const { return count_; }
  std::uint64_t clamped() const { return clamped_; }
  std::uint64_t min_ns() const { return count_ == 0 ? 0 : min_ns_; }
  std::uint64_t max_ns() const { return max_ns_; }
  double mean_ns() const;
  // The value that `percentile` percent (0..100) of the recorded values are at
  // or below, as the highest value of its bucket (never above max_ns()).
  // 0 when empty.
  std::uint64_t value_at_percentile_ns(double percentile) const;

  // The bucket that holds `value_ns`, and the highest value a bucket holds:
  // exposed so tests can check the error bound.
  static std::size_t bucket_of(std::uint64_t value_ns);
  static std::uint64_t highest_in_bucket_ns(std::size_t bucket);
  static std::uint64_t lowest_in_bucket_ns(std::size_t bucket);

 private:
  std::array<std::uint64_t, bucket_count> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t clamped_ = 0;
  std::uint64_t min_ns_ = UINT64_MAX;
  std::uint64_t max_ns_ = 0;
  long double sum_ns_ = 0;
};

}  // namespace admit::bench
