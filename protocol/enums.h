// The protocol's enums, which need no FlatBuffers header: Outcome is
// include/admit/status.h's, EventState, BookingState and WaitlistChoice are
// include/admit/types.h's (one definition each, shared with libadmit's API).
// framing.cc asserts the values equal admit.fbs. This adds what the server and
// tools need beyond the public API.
#pragma once

#include <optional>
#include <string_view>

#include "admit/status.h"  // Outcome, outcome_name(), outcome_is_success()
#include "admit/types.h"   // EventState, BookingState, WaitlistChoice and their names

namespace admit {

inline constexpr int outcome_count = 15;

std::optional<Outcome> outcome_from_name(std::string_view name);
// The HTTP status of DESIGN.md's outcome table.
int outcome_http_status(Outcome outcome);

}  // namespace admit
