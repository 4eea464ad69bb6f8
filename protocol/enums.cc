#include "protocol/enums.h"

#include <array>

namespace admit {
namespace {

constexpr std::array<std::string_view, outcome_count> outcome_names = {
    "OK",        "BOOKED",          "HELD",         "WAITLISTED", "ALREADY_BOOKED",
    "SOLD_OUT",  "OVER_USER_LIMIT", "NOT_OPEN",     "CLOSED",     "RATE_LIMITED",
    "NOT_FOUND", "INVALID",         "UNAUTHORIZED", "OVERLOADED", "UNAVAILABLE",
};

constexpr std::array<int, outcome_count> outcome_http_statuses = {
    200, 201, 201, 202, 200, 409, 409, 409, 409, 429, 404, 400, 401, 503, 503,
};

constexpr std::array<std::string_view, 3> event_state_names = {"open", "paused", "closed"};
constexpr std::array<std::string_view, 4> booking_state_names = {"held", "confirmed", "cancelled",
                                                                 "expired"};

}  // namespace

std::string_view outcome_name(Outcome outcome) {
  const auto index = static_cast<std::size_t>(outcome);
  return index < outcome_names.size() ? outcome_names[index] : std::string_view("UNKNOWN");
}

std::optional<Outcome> outcome_from_name(std::string_view name) {
  for (std::size_t i = 0; i < outcome_names.size(); ++i) {
    if (outcome_names[i] == name) return static_cast<Outcome>(i);
  }
  return std::nullopt;
}

bool outcome_is_success(Outcome outcome) {
  switch (outcome) {
    case Outcome::ok:
    case Outcome::booked:
    case Outcome::held:
    case Outcome::waitlisted:
    case Outcome::already_booked:
      return true;
    default:
      return false;
  }
}

int outcome_http_status(Outcome outcome) {
  const auto index = static_cast<std::size_t>(outcome);
  return index < outcome_http_statuses.size() ? outcome_http_statuses[index] : 500;
}

std::string_view event_state_name(EventState state) {
  const auto index = static_cast<std::size_t>(state);
  return index < event_state_names.size() ? event_state_names[index] : std::string_view("unknown");
}

std::optional<EventState> event_state_from_name(std::string_view name) {
  for (std::size_t i = 0; i < event_state_names.size(); ++i) {
    if (event_state_names[i] == name) return static_cast<EventState>(i);
  }
  return std::nullopt;
}

std::string_view booking_state_name(BookingState state) {
  const auto index = static_cast<std::size_t>(state);
  return index < booking_state_names.size() ? booking_state_names[index]
                                            : std::string_view("unknown");
}

}  // namespace admit
