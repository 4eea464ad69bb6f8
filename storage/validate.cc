#include "storage/validate.h"

#include <cstring>

#include "protocol/booking_ref.h"
#include "protocol/protocol_limits.h"

namespace admit::storage {
namespace {

// A burst larger than this many tokens buys nothing a client could use.
constexpr std::uint32_t rate_burst_max = rate_per_s_max;

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Length of the UTF-8 sequence starting at text[i], or 0 if malformed
// (overlong forms, surrogates and code points past U+10FFFF are malformed).
std::size_t sequence_size(std::string_view text, std::size_t i) {
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = at(i);
  const std::size_t left = text.size() - i;
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return left >= 2 && is_continuation(at(i + 1)) ? 2 : 0;
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (left < 3 || !is_continuation(at(i + 1)) || !is_continuation(at(i + 2))) return 0;
    if (lead == 0xE0 && at(i + 1) < 0xA0) return 0;  // overlong
    if (lead == 0xED && at(i + 1) > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (left < 4 || !is_continuation(at(i + 1)) || !is_continuation(at(i + 2)) ||
        !is_continuation(at(i + 3))) {
      return 0;
    }
    if (lead == 0xF0 && at(i + 1) < 0x90) return 0;  // overlong
    if (lead == 0xF4 && at(i + 1) > 0x8F) return 0;  // past U+10FFFF
    return 4;
  }
  return 0;
}

bool sized_utf8(std::string_view text, std::size_t size_max) {
  return !text.empty() && text.size() <= size_max && is_valid_utf8(text);
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  // Ids and user names are mostly ASCII: check 8 bytes at a time for a high
  // bit, and decode sequences only from the first word that has one.
  constexpr std::uint64_t high_bits = 0x8080808080808080ull;
  std::size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, text.data() + i, sizeof word);
    if ((word & high_bits) != 0) break;
  }
  while (i < text.size()) {
    const std::size_t size = sequence_size(text, i);
    if (size == 0) return false;
    i += size;
  }
  return true;
}

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
