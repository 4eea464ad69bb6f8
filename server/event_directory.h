// The published event directory: every event's config, counters and version,
// readable from every shard without a hop. Each shard owns one fixed-capacity
// open-addressing table and is its only writer; each entry carries a seqlock
// (odd while being written), so a reader on any thread copies the entry and
// retries when the sequence moved. Entries are stored as relaxed atomic words,
// so a torn read is detected, never undefined. Events are never removed.
//
// Also here: per-shard Stats counters, written by their shard, summed by
// whichever shard answers a Stats request.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "server/shard_command.h"

namespace admit::server {

class EventDirectory {
 public:
  explicit EventDirectory(std::uint32_t shards);
  ~EventDirectory();
  EventDirectory(const EventDirectory&) = delete;
  EventDirectory& operator=(const EventDirectory&) = delete;

  // Owner shard only: whether another event fits, and publishing one.
  bool full(std::uint32_t shard) const;
  void publish(std::uint32_t shard, const EventSnapshot& event);

  // Any thread.
  // The snapshot's `watchers` is the live count of every shard's watchers.
  std::optional<EventSnapshot> find(std::string_view id) const;
  // A shard's watchers of `id` come (+1) and go (-1); false when no such event.
  bool add_watchers(std::string_view id, std::int32_t delta);
  // Up to `limit` events with ids after `after`, in id order across all
  // shards; `more` tells whether others follow.
  std::vector<EventSnapshot> list(std::string_view after, std::uint32_t limit, bool* more) const;

 private:
  struct Table;
  std::uint32_t shards_;
  std::vector<std::unique_ptr<Table>> tables_;
};

// One shard's Stats counters. Single writer (the shard), any reader.
struct alignas(64) ShardStatsCounters {
  std::atomic<std::uint32_t> events{0};
  std::atomic<std::uint64_t> live_bookings{0};
  std::atomic<std::uint64_t> held_seats{0};
  std::atomic<std::uint64_t> confirmed_seats{0};
  std::atomic<std::uint64_t> waitlisted{0};
  std::atomic<std::uint32_t> connections{0};  // of both protocols
  std::atomic<std::uint32_t> http_connections{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> forwarded{0};
  std::atomic<std::uint64_t> overloaded{0};
  // Socket traffic of both protocols: with `requests`, how many requests one
  // receive or send carries and how many bytes a request costs on the wire.
  std::atomic<std::uint64_t> receives{0};  // completed receives with data
  std::atomic<std::uint64_t> bytes_received{0};
  std::atomic<std::uint64_t> sends{0};  // completed sends
  std::atomic<std::uint64_t> bytes_sent{0};
};

// What Stats answers (binary and HTTP): the shards' counters and the process's.
struct StatsView {
  std::span<const ShardStatsCounters> shards;
  std::string_view durability;
  std::int64_t uptime_ms = 0;
  std::uint64_t resident_bytes = 0;
  // CPU time of the whole process (every thread), in user space and in the
  // kernel on its behalf: a benchmark's server CPU per request.
  std::uint64_t cpu_user_us = 0;
  std::uint64_t cpu_system_us = 0;
};

}  // namespace admit::server
