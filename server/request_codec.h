// The edge: wire requests in, replies out. decode_request() distrusts every
// field once (sizes, ranges, refs) and turns an owner-bound request into a
// ShardCommand; the encoders turn results into FlatBuffers replies. Knows
// nothing of connections or rings.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstdint>
#include <span>
#include <string_view>

#include "protocol/admit_generated.h"
#include "server/event_directory.h"
#include "server/shard_command.h"

namespace admit::server {

enum class RequestKind : std::uint8_t {
  refused,  // answer `outcome` with `message` (INVALID naming the field, NOT_FOUND, ...)
  hello,
  get_event,    // answered from the directory on the receiving shard
  list_events,  // likewise
  stats,        // summed from every shard's counters
  owned,        // `command` goes to shard `owner`
};

struct DecodedRequest {
  RequestKind kind = RequestKind::refused;
  Outcome outcome = Outcome::invalid;  // refused only
  std::string_view message;            // refused only: static text
  std::uint32_t owner = 0;             // owned only
};

// Checks `request` against the protocol limits. For owned requests fills
// `command`; other kinds are answered from the wire request itself.
DecodedRequest decode_request(const wire::Request& request, std::uint32_t shards,
                              ShardCommand* command);

using ReplyOffset = flatbuffers::Offset<wire::Reply>;

ReplyOffset encode_refusal(flatbuffers::FlatBufferBuilder& builder, std::uint64_t id,
                           Outcome outcome, std::string_view message);
ReplyOffset encode_result(flatbuffers::FlatBufferBuilder& builder, std::uint64_t id,
                          const ShardResult& result);
ReplyOffset encode_hello(flatbuffers::FlatBufferBuilder& builder, std::uint64_t id,
                         const wire::Hello& hello, std::uint32_t shards, int shard);
ReplyOffset encode_get_event(flatbuffers::FlatBufferBuilder& builder, std::uint64_t id,
                             const wire::GetEvent& get, const EventDirectory& directory);
ReplyOffset encode_list_events(flatbuffers::FlatBufferBuilder& builder, std::uint64_t id,
                               const wire::ListEvents& list, const EventDirectory& directory);

struct StatsSource {
  std::span<const ShardStatsCounters> shards;
  std::string_view durability;
  std::int64_t uptime_ms = 0;
  std::uint64_t resident_bytes = 0;
};
ReplyOffset encode_stats(flatbuffers::FlatBufferBuilder& builder, std::uint64_t id,
                         const StatsSource& source);

// A whole frame holding one reply: the answer to an unreadable frame or the
// refusal of a connection past --max-connections. Wire bytes, prefix included.
std::vector<std::uint8_t> single_reply_frame(Outcome outcome, std::string_view message);

}  // namespace admit::server
