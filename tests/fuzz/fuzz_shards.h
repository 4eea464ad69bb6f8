// The shards of a server without sockets, for the protocol targets: one
// ShardCore per shard (durability off) over a SharedState, a turn ended
// after each input frame or request, as the reactor does.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "server/server.h"
#include "server/server_limits.h"
#include "server/shard_command.h"
#include "server/shard_core.h"

namespace admit::server {

inline constexpr std::uint32_t shards_fuzzed_max = 4;
inline constexpr std::int64_t fuzz_t0_ms = 1'700'000'000'000;

class FuzzShards {
 public:
  using Core = ShardCore<storage::wal::ShardWal>;

  // shards: 1..shards_fuzzed_max.
  explicit FuzzShards(std::uint32_t shards) : shards_(shards), shared_(shared_state(shards)) {
    for (std::uint32_t i = 0; i < shards; ++i) {
      cores_.push_back(std::make_unique<Core>(shared_, i));
      cores_.back()->replayed();
    }
  }

  std::uint32_t shards() const { return shards_; }
  SharedState& shared() { return shared_; }
  Core& core(std::uint32_t shard) { return *cores_[shard]; }
  std::int64_t now_ms() const { return now_ms_; }

  // Durability off: every turn's batch is durable at once, and its events
  // are published in the directory.
  void end_turn() {
    NoClients clients;
    for (const auto& core : cores_) {
      core->end_turn(now_ms_);
      core->release(clients);
    }
    now_ms_ += 7;
  }

  void check_invariants() const {
    for (const auto& core : cores_) core->machine().check_invariants();
  }

 private:
  // Answers are encoded as soon as they are made: nothing waits for a flush.
  struct NoClients {
    bool release_client(std::uint32_t, std::uint32_t, std::size_t) { return true; }
    bool fail_client(std::uint32_t, std::uint32_t, std::size_t, std::string_view) { return true; }
  };

  // Its event directory is 2 * events_per_shard_max slots per shard: too big
  // to make per input, so one per shard count serves every input. It only
  // answers event reads and Stats: an earlier input's events may show there,
  // nothing else carries over.
  static SharedState& shared_state(std::uint32_t shards) {
    static std::unique_ptr<SharedState> states[shards_fuzzed_max];
    std::unique_ptr<SharedState>& state = states[shards - 1];
    if (!state) {
      ServerOptions options;
      options.shards = shards;
      options.ring_slots = ring_slots_min;
      state = std::make_unique<SharedState>(options);
    }
    return *state;
  }

  std::uint32_t shards_;
  SharedState& shared_;
  std::vector<std::unique_ptr<Core>> cores_;
  std::int64_t now_ms_ = fuzz_t0_ms;
};

}  // namespace admit::server
