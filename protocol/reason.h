// Why an answer is what it is, as a code: storage and the edge return a
// Reason, and the text a client reads is rendered from it once, here, when
// the reply is written (by the client for a BookBatch item, whose answer
// carries the code: BookItemResult.reason). Codes are on the wire and, below
// `remembered_reason_last`, in snapshots (remembered answers): never
// renumber them, only append.
#pragma once

#include <cstdint>
#include <string_view>

namespace admit {

enum class Reason : std::uint8_t {
  none = 0,
  // Decisions a remembered answer may carry (snapshotted: fixed numbers).
  event_paused = 1,
  event_not_open = 2,
  event_closed = 3,
  sale_closed = 4,
  sold_out = 5,
  waitlist_full = 6,
  over_user_limit = 7,
  hold_expired = 8,
  booking_cancelled = 9,
  // Refusals never remembered.
  no_such_event,
  no_such_booking,
  event_exists,
  request_id_reused,
  rate_limited,
  event_has_no_holds,
  event_has_no_waitlist,
  user_not_waiting,
  unknown_cursor,
  // A field out of its protocol limits (validate.h), named in the text.
  event_id_invalid,
  new_event_id_invalid,
  user_invalid,
  request_id_too_long,
  request_id_not_utf8,
  seats_invalid,
  limit_invalid,
  capacity_invalid,
  per_user_max_invalid,
  hold_ttl_ms_invalid,
  waitlist_max_invalid,
  opens_at_ms_negative,
  closes_at_ms_negative,
  closes_before_opens,
  rate_per_s_invalid,
  rate_burst_invalid,
  state_invalid,
  waitlist_choice_invalid,
  ref_invalid,
  // The server's own refusals of a mutation before the machine (a BookBatch
  // item's; a single reply may carry more detail in its message).
  log_behind,
  storage_failed,
};
inline constexpr std::uint8_t remembered_reason_last =
    static_cast<std::uint8_t>(Reason::booking_cancelled);
inline constexpr int reason_count = static_cast<int>(Reason::storage_failed) + 1;

// The text a client reads: empty for none, else static text naming the field
// or the cause ("seats: must be 1..1000000000", "sold out").
std::string_view reason_text(Reason reason);

}  // namespace admit
