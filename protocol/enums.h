// Plain C++ mirrors of the protocol's enums, so that storage/ and callers need
// no FlatBuffers header. framing.cc asserts the values equal admit.fbs.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace admit {

enum class Outcome : std::uint8_t {
  ok = 0,
  booked,
  held,
  waitlisted,
  already_booked,
  sold_out,
  over_user_limit,
  not_open,
  closed,
  rate_limited,
  not_found,
  invalid,
  unauthorized,
  overloaded,
  unavailable,
};
inline constexpr int outcome_count = 15;

enum class EventState : std::uint8_t { open = 0, paused, closed };
enum class BookingState : std::uint8_t { held = 0, confirmed, cancelled, expired };
enum class WaitlistChoice : std::uint8_t { by_default = 0, join, never };

// The DESIGN.md name, upper case: "BOOKED", "SOLD_OUT", ...
std::string_view outcome_name(Outcome outcome);
std::optional<Outcome> outcome_from_name(std::string_view name);
// OK, BOOKED, HELD, WAITLISTED and ALREADY_BOOKED are successes; the rest are not.
bool outcome_is_success(Outcome outcome);
// The HTTP status of DESIGN.md's outcome table.
int outcome_http_status(Outcome outcome);

// Lower case names: "open", "paused", "closed"; "held", "confirmed", ...
std::string_view event_state_name(EventState state);
std::optional<EventState> event_state_from_name(std::string_view name);
std::string_view booking_state_name(BookingState state);

}  // namespace admit
