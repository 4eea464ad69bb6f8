// The edge: wire requests in, replies out. decode_request() distrusts every
// field once (sizes, ranges, refs) and turns an owner-bound request into a
// ShardCommand; the encoders turn results into FlatBuffers replies. Knows
// nothing of connections or rings.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "protocol/admit_generated.h"
#include "server/event_directory.h"
#include "server/shard_command.h"

namespace admit::server {

enum class RequestKind : std::uint8_t {
  refused,  // answer `outcome` with `message` (INVALID naming the field, NOT_FOUND, ...)
  local,    // `op` is answered on the receiving shard, from the wire request itself:
            // hello, get_event (from the directory), list_events, stats (every shard's
            // counters), watch and unwatch (the receiving shard keeps the watch)
  owned,    // `command` goes to shard `owner`
};

struct DecodedRequest {
  RequestKind kind = RequestKind::refused;
  Op op = Op::hello;                   // local and owned
  Outcome outcome = Outcome::invalid;  // refused only
  std::string_view message;            // refused only: static text
  std::uint32_t owner = 0;             // owned only
  // book_batch: its items and their texts, views into the request.
  std::span<const wire::BookItem> batch_items;
  std::span<const std::uint8_t> batch_texts;
};

// Checks `request` against the protocol limits. For owned requests fills
// `command`; other kinds are answered from the wire request itself.
DecodedRequest decode_request(const wire::Request& request, std::uint32_t shards,
                              ShardCommand* command);

using ReplyOffset = flatbuffers::Offset<wire::Reply>;

// The builder of one frame of replies. Reply and BookReply tables (every
// answer, and the bulk of a booking burst) are written by hand with a fixed
// layout per set of present fields: their vtables are written once per frame
// and remembered here, as is the last reason (a sold-out burst repeats it).
// Clear() between frames forgets them with the bytes.
class ReplyFrameBuilder : public flatbuffers::FlatBufferBuilder {
 public:
  static constexpr std::size_t reply_vtable_count = 4;        // message?, result?
  static constexpr std::size_t book_reply_vtable_count = 64;  // each of 6 fields set or not

  explicit ReplyFrameBuilder(std::size_t initial_size = 1024)
      : flatbuffers::FlatBufferBuilder(initial_size) {}
  void Clear();

  // Offsets (from the buffer's end) of this frame's vtables by layout; 0: not written yet.
  std::array<flatbuffers::uoffset_t, reply_vtable_count> reply_vtables{};
  std::array<flatbuffers::uoffset_t, book_reply_vtable_count> book_reply_vtables{};
  std::string last_message;                    // the reason written last...
  flatbuffers::uoffset_t last_message_at = 0;  // ...and where; 0: none yet
};

ReplyOffset encode_refusal(ReplyFrameBuilder& builder, std::uint64_t id, Outcome outcome,
                           std::string_view message);
ReplyOffset encode_result(ReplyFrameBuilder& builder, std::uint64_t id, const ShardResult& result);
ReplyOffset encode_hello(ReplyFrameBuilder& builder, std::uint64_t id, const wire::Hello& hello,
                         std::uint32_t shards, int shard);
// `outcome`: OK, or NOT_FOUND (for metrics).
ReplyOffset encode_get_event(ReplyFrameBuilder& builder, std::uint64_t id,
                             const wire::GetEvent& get, const EventDirectory& directory,
                             Outcome* outcome);
ReplyOffset encode_list_events(ReplyFrameBuilder& builder, std::uint64_t id,
                               const wire::ListEvents& list, const EventDirectory& directory);

ReplyOffset encode_stats(ReplyFrameBuilder& builder, std::uint64_t id, const StatsView& source);

// A whole frame holding one reply: the answer to an unreadable frame or the
// refusal of a connection past --max-connections. Wire bytes, prefix included.
std::vector<std::uint8_t> single_reply_frame(Outcome outcome, std::string_view message);

// Reply frames (wire bytes, back to back) rewritten, one frame for each: every
// reply keeps its id and becomes `outcome` with `message`, except a Hello's,
// which reflects no state. For answers that waited for a log batch that failed.
std::vector<std::uint8_t> refused_reply_frames(std::span<const std::uint8_t> frames,
                                               Outcome outcome, std::string_view message);

}  // namespace admit::server
