// The watches of one shard (DESIGN.md "Watches"): which of its connections
// watch which events, and which update each was sent last. A push round
// reads every watched event's published snapshot (durable state only, from
// any shard, without a hop); when it moved, the update is encoded once per
// protocol (a binary Update frame, an SSE message) and the same bytes go to
// every watcher still behind. A watcher whose send queue is full is skipped
// and gets the latest state in a later round: coalescing, never an older
// state after a newer one, no memory growing with a slow reader. Socket-free:
// the reactor supplies the sink.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <flatbuffers/flatbuffers.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/event_directory.h"
#include "server/metrics.h"

namespace admit::server {

class Watches {
 public:
  struct Watcher {
    std::uint32_t slot = 0;        // the connection's slot in the reactor
    std::uint32_t generation = 0;  // and its reuse count: a stale watcher never matches
    Protocol protocol = Protocol::binary;
  };
  enum class Added : std::uint8_t { added, already, limit, no_event };

  Watches();
  ~Watches();

  // Idempotent per connection; past watches_per_connection_max: limit. The
  // event's `watchers` count moves at once.
  Added watch(const Watcher& watcher, std::string_view event, EventDirectory& directory);
  // False when the connection was not watching it (still fine: idempotent).
  bool unwatch(const Watcher& watcher, std::string_view event, EventDirectory& directory);
  // A closed connection: every watch of it goes, each count exactly once.
  void forget(const Watcher& watcher, EventDirectory& directory);
  bool empty() const { return events_.empty(); }
  std::size_t events() const { return events_.size(); }

  // sink(watcher, bytes) -> true when queued, false when skipped for now
  // (its queue is full, or its earlier answers are not out yet).
  template <class Sink>
  void push_round(const EventDirectory& directory, Sink&& sink);

 private:
  struct Delivery {
    std::uint32_t generation = 0;
    Protocol protocol = Protocol::binary;
    std::uint64_t sent_seq = 0;  // the update this watcher has; 0: none yet
  };
  struct WatchedEvent {
    std::uint64_t seq = 0;  // updates made; the one to send is `seq`
    EventSnapshot last;     // valid when seq > 0
    absl::flat_hash_map<std::uint32_t, Delivery> watchers;  // by connection slot
    std::uint32_t behind = 0;                               // watchers with sent_seq < seq
    // This seq's bytes, encoded at most once each.
    std::vector<std::uint8_t> binary;
    std::string sse;
  };

  bool refresh(std::string_view id, WatchedEvent& event, const EventDirectory& directory);
  std::span<const std::uint8_t> bytes_for(Protocol protocol, WatchedEvent& event);
  void remove(std::string_view id, std::uint32_t slot, EventDirectory& directory);

  absl::flat_hash_map<std::string, WatchedEvent> events_;
  // Each connection's watched events (at most watches_per_connection_max).
  absl::flat_hash_map<std::uint32_t, std::vector<std::string>> by_connection_;
  // Made and used only in watches.cc: includers that see FlatBuffers' builder
  // with another layout (the fuzz build's harness did) never touch it.
  std::unique_ptr<flatbuffers::FlatBufferBuilder> builder_;
};

template <class Sink>
void Watches::push_round(const EventDirectory& directory, Sink&& sink) {
  for (auto& [id, event] : events_) {
    refresh(id, event, directory);
    if (event.behind == 0) continue;
    for (auto& [slot, delivery] : event.watchers) {
      if (delivery.sent_seq == event.seq) continue;
      const Watcher watcher{slot, delivery.generation, delivery.protocol};
      if (!sink(watcher, bytes_for(delivery.protocol, event))) continue;
      delivery.sent_seq = event.seq;
      --event.behind;
    }
  }
}

}  // namespace admit::server
