#include "frame_builder.h"

#include "admit/limits.h"

namespace admit {
namespace {

constexpr std::size_t builder_initial_size = 16 * 1024;

}  // namespace

FrameBuilder::FrameBuilder() : flatbuffers::FlatBufferBuilder(builder_initial_size) {
  repeated_.reserve(event_id_size_max);
}

flatbuffers::Offset<flatbuffers::String> FrameBuilder::repeated_string(std::string_view text) {
  if (repeated_offset_.IsNull() || text != repeated_) {
    repeated_offset_ = CreateString(text.data(), text.size());
    repeated_.assign(text);
  }
  return repeated_offset_;
}

void FrameBuilder::restart() {
  flatbuffers::FlatBufferBuilder::Clear();
  repeated_offset_ = 0;
}

}  // namespace admit
