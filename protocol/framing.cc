#include "protocol/framing.h"

#include <cstring>

namespace admit {

static_assert(static_cast<int>(wire::Outcome::UNAVAILABLE) ==
              static_cast<int>(Outcome::unavailable));
static_assert(static_cast<int>(wire::Outcome::MAX) + 1 == outcome_count);
static_assert(static_cast<int>(wire::EventState::Closed) == static_cast<int>(EventState::closed));
static_assert(static_cast<int>(wire::BookingState::Expired) ==
              static_cast<int>(BookingState::expired));
static_assert(static_cast<int>(wire::WaitlistChoice::Never) ==
              static_cast<int>(WaitlistChoice::never));

namespace {

// Verifier bounds: a frame is at most frame_requests_max requests, each a
// shallow table, so these are generous but finite.
constexpr flatbuffers::uoffset_t verifier_depth_max = 16;
constexpr flatbuffers::uoffset_t verifier_tables_max = 16 * frame_requests_max + 64;

std::uint32_t read_le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
         std::uint32_t{p[3]} << 24;
}

}  // namespace

FrameScan scan_frame(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < frame_header_size) return {FrameScanStatus::incomplete, 0};
  const std::size_t payload_size = read_le32(bytes.data());
  if (payload_size == 0) return {FrameScanStatus::empty, 0};
  if (payload_size > frame_size_max) return {FrameScanStatus::too_large, payload_size};
  if (bytes.size() - frame_header_size < payload_size) {
    return {FrameScanStatus::incomplete, payload_size};
  }
  return {FrameScanStatus::complete, payload_size};
}

const wire::Frame* verify_frame(std::span<const std::uint8_t> frame_bytes, std::string* why) {
  if (frame_bytes.size() < frame_header_size + 8 ||
      read_le32(frame_bytes.data()) != frame_bytes.size() - frame_header_size) {
    *why = "frame: length prefix does not match the bytes given";
    return nullptr;
  }
  if (!flatbuffers::BufferHasIdentifier(frame_bytes.data(), wire::FrameIdentifier(), true)) {
    *why = "frame: file identifier is not ADMT";
    return nullptr;
  }
  flatbuffers::Verifier verifier(frame_bytes.data(), frame_bytes.size(), verifier_depth_max,
                                 verifier_tables_max);
  if (!verifier.VerifySizePrefixedBuffer<wire::Frame>(wire::FrameIdentifier())) {
    *why = "frame: FlatBuffer failed verification";
    return nullptr;
  }
  const wire::Frame* frame = flatbuffers::GetSizePrefixedRoot<wire::Frame>(frame_bytes.data());
  const auto* requests = frame->requests();
  const auto* replies = frame->replies();
  if ((requests != nullptr && requests->size() > frame_requests_max) ||
      (replies != nullptr && replies->size() > frame_requests_max)) {
    *why = "frame: more than frame_requests_max (1024) entries";
    return nullptr;
  }
  return frame;
}

void finish_frame(flatbuffers::FlatBufferBuilder& builder, flatbuffers::Offset<wire::Frame> frame) {
  builder.FinishSizePrefixed(frame, wire::FrameIdentifier());
}

}  // namespace admit
