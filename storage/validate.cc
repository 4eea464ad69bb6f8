#include "storage/validate.h"

#include "admit/limits.h"
#include "protocol/booking_ref.h"

namespace admit::storage {
namespace {

// A burst larger than this many tokens buys nothing a client could use.
constexpr std::uint32_t rate_burst_max = rate_per_s_max;

bool sized_utf8(std::string_view text, std::size_t size_max) {
  return !text.empty() && text.size() <= size_max && is_valid_utf8(text);
}

}  // namespace

Reason check_event_id(std::string_view event) {
  return sized_utf8(event, event_id_size_max) ? Reason::none : Reason::event_id_invalid;
}

Reason check_new_event_id(std::string_view id) {
  return sized_utf8(id, event_id_size_max) ? Reason::none : Reason::new_event_id_invalid;
}

Reason check_user(std::string_view user) {
  return sized_utf8(user, user_size_max) ? Reason::none : Reason::user_invalid;
}

Reason check_request_id(std::string_view request_id) {
  if (request_id.size() > request_id_size_max) return Reason::request_id_too_long;
  if (!is_valid_utf8(request_id)) return Reason::request_id_not_utf8;
  return Reason::none;
}

Reason check_seats(std::uint32_t seats) {
  return seats >= 1 && seats <= seats_max ? Reason::none : Reason::seats_invalid;
}

Reason check_list_limit(std::uint32_t limit) {
  return limit <= list_limit_max ? Reason::none : Reason::limit_invalid;
}

Reason check_event_config(const EventConfig& config) {
  if (config.capacity > capacity_max) return Reason::capacity_invalid;
  if (config.per_user_max > capacity_max) return Reason::per_user_max_invalid;
  if (config.hold_ttl_ms > hold_ttl_ms_max) return Reason::hold_ttl_ms_invalid;
  if (config.waitlist_max > waitlist_length_max) return Reason::waitlist_max_invalid;
  if (config.opens_at_ms < 0) return Reason::opens_at_ms_negative;
  if (config.closes_at_ms < 0) return Reason::closes_at_ms_negative;
  if (config.closes_at_ms != 0 && config.closes_at_ms <= config.opens_at_ms) {
    return Reason::closes_before_opens;
  }
  if (config.rate_per_s > rate_per_s_max) return Reason::rate_per_s_invalid;
  if (config.rate_burst > rate_burst_max) return Reason::rate_burst_invalid;
  if (config.state > EventState::closed) return Reason::state_invalid;
  return Reason::none;
}

EventConfig patched(const EventConfig& config, const EventPatch& patch) {
  EventConfig out = config;
  if (patch.capacity) out.capacity = *patch.capacity;
  if (patch.per_user_max) out.per_user_max = *patch.per_user_max;
  if (patch.hold_ttl_ms) out.hold_ttl_ms = *patch.hold_ttl_ms;
  if (patch.waitlist_max) out.waitlist_max = *patch.waitlist_max;
  if (patch.waitlist) out.waitlist = *patch.waitlist;
  if (patch.opens_at_ms) out.opens_at_ms = *patch.opens_at_ms;
  if (patch.closes_at_ms) out.closes_at_ms = *patch.closes_at_ms;
  if (patch.rate_per_s) out.rate_per_s = *patch.rate_per_s;
  if (patch.rate_burst) out.rate_burst = *patch.rate_burst;
  if (patch.state) out.state = *patch.state;
  return out;
}

Reason check_event_patch(const EventPatch& patch, const EventConfig& current) {
  return check_event_config(patched(current, patch));
}

Reason check_book(const BookCommand& command) {
  if (const Reason why = check_event_id(command.event); why != Reason::none) return why;
  return check_book_fields(command);
}

Reason check_book_fields(const BookCommand& command) {
  if (const Reason why = check_user(command.user); why != Reason::none) return why;
  if (const Reason why = check_seats(command.seats); why != Reason::none) return why;
  if (command.waitlist > WaitlistChoice::never) return Reason::waitlist_choice_invalid;
  return check_request_id(command.request_id);
}

Reason check_ref_command(const RefCommand& command) {
  if (!BookingRef::parse(command.ref)) return Reason::ref_invalid;
  return check_request_id(command.request_id);
}

Reason check_leave_waitlist(const LeaveWaitlistCommand& command) {
  if (const Reason why = check_event_id(command.event); why != Reason::none) return why;
  if (const Reason why = check_user(command.user); why != Reason::none) return why;
  return check_request_id(command.request_id);
}

}  // namespace admit::storage
