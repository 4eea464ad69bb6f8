// The builder of one request frame and what an encoder hands back. Apart from
// request_pipeline.h so that codec.h (the encoders) and the pipeline (which
// holds a batch being built, codec's BookBatchDraft) can both include it.
// Private to client-lib.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <string>
#include <string_view>

#include "protocol/admit_generated.h"

namespace admit {

// The builder of one request frame. Consecutive requests naming the same event
// (a pipelined batch on one shard's connection) share one copy of its id:
// less to encode, to send and for the server to verify.
class FrameBuilder : public flatbuffers::FlatBufferBuilder {
 public:
  FrameBuilder();
  // `text` as a string of this frame: the previous call's string when equal.
  flatbuffers::Offset<flatbuffers::String> repeated_string(std::string_view text);
  // Clears the builder for the next frame, forgetting the repeated string (its
  // offset belonged to the old frame). Clear() alone would keep it: hidden.
  void restart();
  void Clear() = delete;

 private:
  std::string repeated_;  // reserved for event_id_size_max bytes: assigning an id never allocates
  flatbuffers::Offset<flatbuffers::String> repeated_offset_;
};

// An encoded operation, ready to be wrapped in a Request.
struct EncodedOp {
  wire::Op type = wire::Op::NONE;
  flatbuffers::Offset<void> offset;
};

}  // namespace admit
