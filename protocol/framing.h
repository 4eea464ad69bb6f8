// Framing: a 4-byte little-endian length, then one verified FlatBuffer.
// Knows nothing of events or bookings; server/ and client-lib/ both use it.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "admit/limits.h"
#include "protocol/admit_generated.h"
#include "protocol/enums.h"

namespace admit {

enum class FrameScanStatus : std::uint8_t {
  complete,    // a whole frame is in the buffer
  incomplete,  // need more bytes; `payload_size` is known once 4 bytes are in
  too_large,   // the prefix exceeds frame_size_max: close the connection
  empty,       // a zero length prefix: close the connection
};

struct FrameScan {
  FrameScanStatus status;
  std::size_t payload_size;  // FlatBuffer bytes after the prefix (when known)
};

// Looks at the start of `bytes` without copying; checks the length against
// frame_size_max before anyone allocates for it.
FrameScan scan_frame(std::span<const std::uint8_t> bytes);

// Runs the FlatBuffers verifier (with the "ADMT" identifier, depth and table
// limits) over one whole frame: the 4-byte prefix AND the payload, exactly
// frame_header_size + scan.payload_size bytes (FlatBuffers aligns fields
// relative to the prefix, so the prefix must come along). The bytes should sit
// at an 8-byte aligned address (copy them into an aligned buffer otherwise).
// Returns the frame, or nullptr and a reason in `why` naming what was wrong.
const wire::Frame* verify_frame(std::span<const std::uint8_t> frame_bytes, std::string* why);

// Finishes `builder` with the "ADMT" identifier and the 4-byte length prefix;
// the wire bytes are then builder.GetBufferSpan().
void finish_frame(flatbuffers::FlatBufferBuilder& builder, flatbuffers::Offset<wire::Frame> frame);

// The enums of enums.h and of admit.fbs are the same numbers; these convert.
inline wire::Outcome to_wire(Outcome o) { return static_cast<wire::Outcome>(o); }
inline Outcome from_wire(wire::Outcome o) { return static_cast<Outcome>(o); }
inline wire::EventState to_wire(EventState s) { return static_cast<wire::EventState>(s); }
inline EventState from_wire(wire::EventState s) { return static_cast<EventState>(s); }
inline wire::BookingState to_wire(BookingState s) { return static_cast<wire::BookingState>(s); }
inline BookingState from_wire(wire::BookingState s) { return static_cast<BookingState>(s); }
inline wire::WaitlistChoice to_wire(WaitlistChoice c) {
  return static_cast<wire::WaitlistChoice>(c);
}
inline WaitlistChoice from_wire(wire::WaitlistChoice c) { return static_cast<WaitlistChoice>(c); }

}  // namespace admit
