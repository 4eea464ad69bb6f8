// What an io_uring completion is about, packed into its 64-bit user_data:
// kind (8 bits), index (24 bits: connection slot or listener), generation (32
// bits: the connection slot's reuse count, or the expiry timer's).
#pragma once

#include <cstdint>

namespace admit::server {

inline constexpr int receive_buffer_group = 0;

enum class CompletionKind : std::uint8_t {
  accept,        // index: 0 base port, 1 the shard's own port
  recv,          // index, generation: the connection
  send,          // likewise
  housekeeping,  // the periodic tick
  expiry,        // generation: which arming of the hold-expiry timer
  stop,          // the stop eventfd was written
  wake_in,       // another shard's msg_ring: its rings have news
  wake_out,      // our own msg_ring finished
  wal_durable,   // the WAL's completion eventfd: durable_batch() moved or the WAL failed
  watch_tick,    // time for a round of watch pushes
  ignore,        // cancels, closes, timer removals
};

struct CompletionTag {
  CompletionKind kind;
  std::uint32_t index;
  std::uint32_t generation;

  static constexpr std::uint32_t index_max = (1u << 24) - 1;

  std::uint64_t encode() const {
    return std::uint64_t{static_cast<std::uint8_t>(kind)} << 56 |
           std::uint64_t{index & index_max} << 32 | generation;
  }
  static CompletionTag decode(std::uint64_t data) {
    return {static_cast<CompletionKind>(data >> 56),
            static_cast<std::uint32_t>(data >> 32) & index_max, static_cast<std::uint32_t>(data)};
  }
};

}  // namespace admit::server
