// Event ownership: an event lives on shard xxh3_64(id) % shards. Server and
// client-lib must agree, so this is the one definition.
#pragma once

#include <xxhash.h>

#include <cstdint>
#include <string_view>

namespace admit {

inline std::uint32_t owner_shard(std::string_view event_id, std::uint32_t shards) {
  return static_cast<std::uint32_t>(XXH3_64bits(event_id.data(), event_id.size()) % shards);
}

}  // namespace admit
