#include "protocol/reason.h"

#include <array>

#include "admit/limits.h"

namespace admit {
namespace {

// The texts spell the limits out; keep them in step.
static_assert(event_id_size_max == 128 && user_size_max == 64 && request_id_size_max == 64);
static_assert(seats_max == 1'000'000'000 && capacity_max == 1'000'000'000);
static_assert(waitlist_length_max == 1'000'000 && hold_ttl_ms_max == 86'400'000);
static_assert(rate_per_s_max == 1'000'000 && list_limit_max == 1000);

// By code, in the enum's order.
constexpr std::array<std::string_view, reason_count> reason_texts = {
    "",
    "event is paused",
    "event: sale not open yet",
    "event is closed",
    "event: sale has closed",
    "sold out",
    "sold out: waitlist full",
    "seats: more than per_user_max",
    "ref: hold expired",
    "ref: booking cancelled",
    "event: no such event",
    "ref: no such booking",
    "id: event exists",
    "request_id: reused with different parameters",
    "rate limited: retry later",
    "hold: the event has no holds (hold_ttl_ms is 0)",
    "waitlist: the event has no waitlist",
    "user: not waiting on this event",
    "after: unknown cursor",
    "event: must be 1..128 bytes of UTF-8",
    "id: must be 1..128 bytes of UTF-8",
    "user: must be 1..64 bytes of UTF-8",
    "request_id: longer than 64 bytes",
    "request_id: must be UTF-8",
    "seats: must be 1..1000000000",
    "limit: must be at most 1000",
    "capacity: must be 0..1000000000",
    "per_user_max: must be 0..1000000000",
    "hold_ttl_ms: must be 0..86400000",
    "waitlist_max: must be 0..1000000",
    "opens_at_ms: must not be negative",
    "closes_at_ms: must not be negative",
    "closes_at_ms: must be after opens_at_ms",
    "rate_per_s: must be 0..1000000",
    "rate_burst: must be 0..1000000",
    "state: must be open, paused or closed",
    "waitlist: must be default, join or never",
    "ref: not a booking ref",
    "storage: the shard's write-ahead log is behind the disk (too many batches waiting); retry",
    "storage: failing, writes refused; this change is not known to be durable: retry with the "
    "same request id once storage works again",
};
static_assert(reason_texts.back().starts_with("storage: failing"), "one text per Reason, in order");

}  // namespace

std::string_view reason_text(Reason reason) {
  const auto index = static_cast<std::size_t>(reason);
  return index < reason_texts.size() ? reason_texts[index] : std::string_view("unknown reason");
}

}  // namespace admit
