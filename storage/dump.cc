// dump(): the whole state as sorted text, one item a line. Strings are
// written as <size>:<bytes> so that any bytes stay unambiguous.
#include <algorithm>
#include <string>

#include "storage/internal.h"

namespace admit::storage {

using detail::Event;

namespace {

class Line {
 public:
  explicit Line(std::string& out, std::string_view kind) : out_(out) { out_.append(kind); }
  ~Line() { out_.push_back('\n'); }
  Line& field(std::string_view name, std::int64_t value) {
    return field(name, std::to_string(value));
  }
  Line& field(std::string_view name, std::uint64_t value) {
    return field(name, std::to_string(value));
  }
  Line& field(std::string_view name, std::string_view text) {
    out_.append(" ").append(name).append("=").append(text);
    return *this;
  }
  Line& text(std::string_view name, std::string_view bytes) {
    return field(name, std::to_string(bytes.size()) + ":" + std::string(bytes));
  }

 private:
  std::string& out_;
};

void dump_event(std::string& out, const detail::UserTable& users, const Event& e) {
  const EventConfig& c = e.config;
  Line(out, "event")
      .text("id", e.id)
      .field("capacity", std::uint64_t{c.capacity})
      .field("per_user_max", std::uint64_t{c.per_user_max})
      .field("hold_ttl_ms", std::uint64_t{c.hold_ttl_ms})
      .field("waitlist", std::uint64_t{c.waitlist})
      .field("waitlist_max", std::uint64_t{c.waitlist_max})
      .field("opens_at_ms", c.opens_at_ms)
      .field("closes_at_ms", c.closes_at_ms)
      .field("rate_per_s", std::uint64_t{c.rate_per_s})
      .field("rate_burst", std::uint64_t{c.rate_burst})
      .field("state", event_state_name(c.state))
      .field("version", e.version)
      .field("held", std::uint64_t{e.held})
      .field("confirmed", std::uint64_t{e.confirmed})
      .field("sold_at_lowering", std::uint64_t{e.sold_at_lowering})
      .field("next_ticket", e.next_ticket);
  std::uint64_t position = 0;
  for (const detail::WaitEntry& w : e.waitlist) {
    Line(out, "waiting")
        .text("event", e.id)
        .field("position", ++position)
        .text("user", users.name(w.user))
        .field("seats", std::uint64_t{w.seats})
        .field("seats_limit", std::uint64_t{w.seats_limit})
        .field("ticket", w.ticket);
  }
  std::vector<std::pair<std::string_view, detail::RateBucket>> buckets;
  for (const auto& [user, bucket] : e.buckets) buckets.emplace_back(users.name(user), bucket);
  std::sort(buckets.begin(), buckets.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [user, bucket] : buckets) {
    Line(out, "bucket")
        .text("event", e.id)
        .text("user", user)
        .field("milli_tokens", bucket.milli_tokens)
        .field("refilled_at_ms", bucket.refilled_at_ms);
  }
}

}  // namespace

std::string StateMachine::dump() const {
  const Impl& impl = *impl_;
  std::string out;
  Line(out, "machine")
      .field("shard", std::uint64_t{impl.options.shard})
      .field("bookings", std::uint64_t{impl.bookings.size()})
      .field("change_count", impl.change_count);
  for (const auto& [id, index] : impl.events_in_id_order)
    dump_event(out, impl.users, *impl.events[index]);
  for (detail::Serial serial = 1; serial <= impl.bookings.size(); ++serial) {
    const detail::Booking& b = impl.bookings[serial - 1];
    Line(out, "booking")
        .field("ref", impl.ref_of(serial).view())
        .text("event", impl.events[b.event]->id)
        .text("user", impl.users.name(b.user))
        .field("seats", std::uint64_t{b.seats})
        .field("seats_limit", std::uint64_t{b.seats_limit})
        .field("state", booking_state_name(b.state))
        .field("created_at_ms", b.created_at_ms)
        .field("expires_at_ms", b.expires_at_ms);
  }
  // Oldest first: the order decides which answer is forgotten next.
  impl.request_ids.for_each([&](std::string_view id, const detail::RememberedAnswer& a) {
    Line(out, "request")
        .text("id", id)
        .field("kind", std::uint64_t{static_cast<std::uint8_t>(a.kind)})
        .field("outcome", outcome_name(a.outcome))
        .field("reason", reason_text(a.reason))
        .field("remembered_at_ms", a.remembered_at_ms)
        .field("time_ms", a.time_ms)
        .field("ref", a.ref)
        .text("event", impl.events.empty() ? "" : impl.events[a.event]->id)
        .text("user", impl.users.size() == 0 ? "" : impl.users.name(a.user))
        .field("request_seats", std::uint64_t{a.request_seats})
        .field("seats", std::uint64_t{a.seats})
        .field("position", std::uint64_t{a.position})
        .field("length", std::uint64_t{a.length})
        .field("booking_state", booking_state_name(a.booking_state));
  });
  return out;
}

}  // namespace admit::storage
