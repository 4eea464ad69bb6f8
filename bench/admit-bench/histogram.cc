#include "bench/admit-bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cassert>

namespace admit::bench {

namespace {

// Bucket layout: the first 2*S buckets hold 0..2S-1 one value each; then
// group g >= 1 holds [S << g, S << (g + 1)) in S buckets of width 2^g.
constexpr std::uint64_t sub = LatencyHistogram::sub_bucket_count;
constexpr std::size_t linear_buckets = 2 * sub;

}  // namespace

std::size_t LatencyHistogram::bucket_of(std::uint64_t value_ns) {
  assert(value_ns <= value_max_ns);
  if (value_ns < linear_buckets) return static_cast<std::size_t>(value_ns);
  const int msb = std::bit_width(value_ns) - 1;
  const int group = msb - sub_bucket_bits;
  assert(group >= 1);
  const std::uint64_t within = (value_ns >> group) - sub;
  const std::size_t bucket = linear_buckets + (group - 1) * sub + within;
  assert(bucket < bucket_count);
  return bucket;
}

std::uint64_t LatencyHistogram::lowest_in_bucket_ns(std::size_t bucket) {
  assert(bucket < bucket_count);
  if (bucket < linear_buckets) return bucket;
  const std::size_t past_linear = bucket - linear_buckets;
  const int group = static_cast<int>(past_linear / sub) + 1;
  const std::uint64_t within = past_linear % sub;
  return (sub + within) << group;
}

std::uint64_t LatencyHistogram::highest_in_bucket_ns(std::size_t bucket) {
  assert(bucket < bucket_count);
  if (bucket < linear_buckets) return bucket;
  const int group = static_cast<int>((bucket - linear_buckets) / sub) + 1;
  return lowest_in_bucket_ns(bucket) + (std::uint64_t{1} << group) - 1;
}

void LatencyHistogram::record_n(std::uint64_t value_ns, std::uint64_t times) {
  if (times == 0) return;
  if (value_ns > value_max_ns) {
    value_ns = value_max_ns;
    clamped_ += times;
  }
  counts_[bucket_of(value_ns)] += times;
  count_ += times;
  min_ns_ = std::min(min_ns_, value_ns);
  max_ns_ = std::max(max_ns_, value_ns);
  sum_ns_ += static_cast<long double>(value_ns) * static_cast<long double>(times);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  clamped_ += other.clamped_;
  min_ns_ = std::min(min_ns_, other.min_ns_);
  max_ns_ = std::max(max_ns_, other.max_ns_);
  sum_ns_ += other.sum_ns_;
}

void LatencyHistogram::reset() { *this = LatencyHistogram{}; }

double LatencyHistogram::mean_ns() const {
  if (count_ == 0) return 0;
  return static_cast<double>(sum_ns_ / static_cast<long double>(count_));
}

std::uint64_t LatencyHistogram::value_at_percentile_ns(double percentile) const {
  if (count_ == 0) return 0;
  const double clamped_percentile = std::clamp(percentile, 0.0, 100.0);
  // The rank of the value asked for, 1-based, rounded to the nearest (as
  // HdrHistogram does, so 99.9 % of 10 000 is rank 9990 despite binary fractions).
  const auto rank = std::max<std::uint64_t>(
      1,
      static_cast<std::uint64_t>(clamped_percentile / 100.0 * static_cast<double>(count_) + 0.5));
  std::uint64_t seen = 0;
  for (std::size_t bucket = 0; bucket < bucket_count; ++bucket) {
    seen += counts_[bucket];
    if (seen >= rank) return std::min(highest_in_bucket_ns(bucket), max_ns_);
  }
  assert(false && "histogram counts do not add up to count_");
  return max_ns_;
}

}  // namespace admit::bench
