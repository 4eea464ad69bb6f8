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
};

}  // namespace admit::server
