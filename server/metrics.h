// What /metrics shows beyond the Stats counters: requests by protocol,
// operation and outcome, request latency (arrival to answer released,
// waiting for the WAL included) and the WAL's commits and sync latency.
// One ShardMetrics per shard: its reactor (and its WAL's syncer thread, for
// wal_sync) write, any shard reads for GET /metrics.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>

#include "protocol/enums.h"
#include "protocol/operations.h"
#include "storage/wal/latency_histogram.h"

namespace admit::server {

enum class Protocol : std::uint8_t { binary, http };
inline constexpr std::size_t protocol_count = 2;
std::string_view protocol_name(Protocol protocol);

// Operations as /metrics labels them, for both protocols: every Op
// (protocol/operations.h), in its order, then `other` for requests that are
// unreadable, unrouted or of an unknown operation.
enum class MetricOp : std::uint8_t {
#define ADMIT_METRIC_OP(name, wire_table, effect, routing, retry, least, sub) name,
  ADMIT_OPERATIONS(ADMIT_METRIC_OP)
#undef ADMIT_METRIC_OP
      other,
};
inline constexpr std::size_t metric_op_count = op_count + 1;
static_assert(static_cast<std::size_t>(MetricOp::other) == op_count);

constexpr MetricOp metric_op_of(Op op) { return static_cast<MetricOp>(op); }
constexpr MetricOp metric_op_of(std::optional<Op> op) {
  return op ? metric_op_of(*op) : MetricOp::other;
}
std::string_view metric_op_name(MetricOp op);

struct alignas(64) ShardMetrics {
  // Single writer (the shard's reactor): a load and a store.
  void count(Protocol protocol, MetricOp op, Outcome outcome) {
    auto& counter = requests[static_cast<std::size_t>(protocol)][static_cast<std::size_t>(op)]
                            [static_cast<std::size_t>(outcome)];
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  std::array<std::array<std::array<std::atomic<std::uint64_t>, outcome_count>, metric_op_count>,
             protocol_count>
      requests{};
  std::array<storage::wal::LatencyHistogram, protocol_count> latency;
  storage::wal::LatencyHistogram wal_sync;  // written by the WAL's syncer thread
  // Each reactor turn, wall time from reaping its completions to the end of
  // its phases: a long one delays every connection of the shard.
  storage::wal::LatencyHistogram turn;
  std::atomic<std::int64_t> turn_max_ns{0};
  // Copied from the WAL's own counters on the housekeeping tick.
  std::atomic<std::uint64_t> wal_records{0}, wal_commits{0}, wal_syncs{0};
};

}  // namespace admit::server
