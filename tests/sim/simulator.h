// A deterministic simulator of admitd's shards (TigerBeetle's VOPR, in
// small): N ShardCores on one thread, from a seed, with simulated time, a
// simulated log per shard (sim_log.h) that completes batches late and out of
// order, fails, and loses what is not durable when the process crashes, and
// random clients that pipeline requests to their shard, retry with request
// ids after a crash and check every answer they are given.
//
// Checked on every released answer: it reflects nothing its owner's log has
// not made durable (the known limit of a failed log aside, server/README.md).
// Checked after every crash and recovery: each shard's recovered state
// equals its durable history replayed from scratch, every invariant of
// DESIGN.md holds (StateMachine::check_invariants), and every booking a
// client was told about exists.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace admit::sim {

struct RunOptions {
  std::uint64_t seed = 1;
  std::uint32_t steps = 2000;
  std::ostream* trace = nullptr;  // one line per action when set
};

struct RunReport {
  bool ok = true;
  std::string failure;  // what broke, at which step
  std::uint32_t shards = 0;
  std::uint64_t requests = 0, acknowledged = 0, turns = 0, crashes = 0;
};

RunReport run(const RunOptions& options);

}  // namespace admit::sim
