#include "storage/validate.h"

#include <cstring>

#include "protocol/booking_ref.h"
#include "protocol/protocol_limits.h"

namespace admit::storage {
namespace {

// The messages spell the limits out; keep them in step.
static_assert(event_id_size_max == 128 && user_size_max == 64 && request_id_size_max == 64);
static_assert(seats_max == 1'000'000'000 && capacity_max == 1'000'000'000);
static_assert(waitlist_length_max == 1'000'000 && hold_ttl_ms_max == 86'400'000);
static_assert(rate_per_s_max == 1'000'000 && list_limit_max == 1000);

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

std::string_view check_event_id(std::string_view event) {
  return sized_utf8(event, event_id_size_max) ? "" : "event: must be 1..128 bytes of UTF-8";
}

std::string_view check_new_event_id(std::string_view id) {
  return sized_utf8(id, event_id_size_max) ? "" : "id: must be 1..128 bytes of UTF-8";
}

std::string_view check_user(std::string_view user) {
  return sized_utf8(user, user_size_max) ? "" : "user: must be 1..64 bytes of UTF-8";
}

std::string_view check_request_id(std::string_view request_id) {
  if (request_id.size() > request_id_size_max) return "request_id: longer than 64 bytes";
  if (!is_valid_utf8(request_id)) return "request_id: must be UTF-8";
  return "";
}

std::string_view check_seats(std::uint32_t seats) {
  return seats >= 1 && seats <= seats_max ? "" : "seats: must be 1..1000000000";
}

std::string_view check_list_limit(std::uint32_t limit) {
  return limit <= list_limit_max ? "" : "limit: must be at most 1000";
}

std::string_view check_event_config(const EventConfig& config) {
  if (config.capacity > capacity_max) return "capacity: must be 0..1000000000";
  if (config.per_user_max > capacity_max) return "per_user_max: must be 0..1000000000";
  if (config.hold_ttl_ms > hold_ttl_ms_max) return "hold_ttl_ms: must be 0..86400000";
  if (config.waitlist_max > waitlist_length_max) return "waitlist_max: must be 0..1000000";
  if (config.opens_at_ms < 0) return "opens_at_ms: must not be negative";
  if (config.closes_at_ms < 0) return "closes_at_ms: must not be negative";
  if (config.closes_at_ms != 0 && config.closes_at_ms <= config.opens_at_ms) {
    return "closes_at_ms: must be after opens_at_ms";
  }
  if (config.rate_per_s > rate_per_s_max) return "rate_per_s: must be 0..1000000";
  if (config.rate_burst > rate_burst_max) return "rate_burst: must be 0..1000000";
  if (config.state > EventState::closed) return "state: must be open, paused or closed";
  return "";
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

std::string_view check_event_patch(const EventPatch& patch, const EventConfig& current) {
  return check_event_config(patched(current, patch));
}

std::string_view check_book(const BookCommand& command) {
  if (auto why = check_event_id(command.event); !why.empty()) return why;
  return check_book_fields(command);
}

std::string_view check_book_fields(const BookCommand& command) {
  if (auto why = check_user(command.user); !why.empty()) return why;
  if (auto why = check_seats(command.seats); !why.empty()) return why;
  if (command.waitlist > WaitlistChoice::never) return "waitlist: must be default, join or never";
  return check_request_id(command.request_id);
}

std::string_view check_ref_command(const RefCommand& command) {
  if (!BookingRef::parse(command.ref)) return "ref: not a booking ref";
  return check_request_id(command.request_id);
}

std::string_view check_leave_waitlist(const LeaveWaitlistCommand& command) {
  if (auto why = check_event_id(command.event); !why.empty()) return why;
  if (auto why = check_user(command.user); !why.empty()) return why;
  return check_request_id(command.request_id);
}

}  // namespace admit::storage
