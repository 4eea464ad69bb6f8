// restore(): reading a snapshot's body back and rebuilding derived state.
// Every index read is checked before use: a snapshot that passed its checksum
// may still come from a buggy writer.
#include <algorithm>

#include "storage/internal.h"
#include "storage/snapshot_io.h"
#include "storage/validate.h"

namespace admit::storage {

using detail::Booking;
using detail::command_kind_last;
using detail::CommandKind;
using detail::Event;
using detail::RateBucket;
using detail::RememberedAnswer;
using detail::Serial;
using detail::SnapshotReader;
using detail::UserId;
using detail::UserSlot;
using detail::WaitEntry;

namespace {

// The fewest bytes each item takes (snapshot.cc writes them), so that a count
// larger than the bytes left is refused before anything is reserved for it.
constexpr std::size_t user_bytes_min = 4 + 1;
constexpr std::size_t config_bytes = 4 + 4 + 4 + 1 + 4 + 8 + 8 + 4 + 4 + 1;
constexpr std::size_t event_bytes_min = 4 + 1 + config_bytes + 8 + 3 * 4 + 8 + 8 + 8;
constexpr std::size_t wait_entry_bytes = 3 * 4 + 8;
constexpr std::size_t bucket_bytes = 4 + 8 + 8;
constexpr std::size_t booking_bytes = 4 * 4 + 1 + 8 + 8;
constexpr std::size_t answer_bytes = 4 + 1 + 3 * 8 + 6 * 4 + 4;

EventConfig read_config(SnapshotReader& in) {
  EventConfig c;
  c.capacity = in.u32();
  c.per_user_max = in.u32();
  c.hold_ttl_ms = in.u32();
  c.waitlist = in.u8() != 0;
  c.waitlist_max = in.u32();
  c.opens_at_ms = in.i64();
  c.closes_at_ms = in.i64();
  c.rate_per_s = in.u32();
  c.rate_burst = in.u32();
  c.state = static_cast<EventState>(in.u8());
  return c;
}

}  // namespace

std::string_view StateMachine::Impl::read_event(SnapshotReader& in) {
  Impl& impl = *this;
  const std::string_view id = in.str(event_id_size_max);
  const EventConfig config = read_config(in);
  const std::uint64_t version = in.u64();
  if (in.failed() || check_new_event_id(id) != Reason::none ||
      check_event_config(config) != Reason::none || impl.find_event(id) != nullptr) {
    return "snapshot: bad event";
  }
  impl.add_event(id, config, version);
  Event& event = *impl.events.back();
  event.held = in.u32();
  event.confirmed = in.u32();
  event.sold_at_lowering = in.u32();
  event.next_ticket = in.u64();
  for (std::uint64_t n = in.count(wait_entry_bytes); n > 0; --n) {
    WaitEntry entry{in.u32(), in.u32(), in.u32(), in.u64()};
    const bool ordered = event.waitlist.empty() || event.waitlist.back().ticket < entry.ticket;
    if (entry.user >= impl.users.size() || !ordered || entry.ticket >= event.next_ticket ||
        entry.ticket == 0 || entry.ticket >= UserSlot::waiting_bit ||
        !event.users.add(UserSlot::waiting(entry.user, entry.ticket))) {
      return "snapshot: bad waitlist entry";
    }
    event.waitlist.push_back(entry);
  }
  for (std::uint64_t n = in.count(bucket_bytes); n > 0; --n) {
    const UserId user = in.u32();
    RateBucket bucket;
    bucket.milli_tokens = in.i64();
    bucket.refilled_at_ms = in.i64();
    if (user >= impl.users.size() || !event.buckets.emplace(user, bucket).second) {
      return "snapshot: bad rate bucket";
    }
  }
  return in.failed() ? "snapshot: truncated event" : "";
}

std::string_view StateMachine::Impl::read_booking(SnapshotReader& in,
                                                  std::vector<std::uint64_t>& seats_held,
                                                  std::vector<std::uint64_t>& seats_confirmed) {
  Impl& impl = *this;
  Booking b;
  b.event = in.u32();
  b.user = in.u32();
  const std::uint32_t seats = in.u32();
  b.seats_limit = in.u32();
  const std::uint8_t state = in.u8();
  b.created_at_ms = in.i64();
  b.expires_at_ms = in.i64();
  // Checked before they go into Booking's bit-fields, which would cut them.
  if (in.failed() || b.event >= impl.events.size() || b.user >= impl.users.size() ||
      state > static_cast<std::uint8_t>(BookingState::expired) || seats == 0 || seats > seats_max) {
    return "snapshot: bad booking";
  }
  b.seats = seats;
  b.state = static_cast<BookingState>(state);
  const Serial serial = impl.bookings.size() + 1;
  impl.bookings.push_back(b);
  Event& event = *impl.events[b.event];
  event.bookings.push_back(serial);
  if (b.state == BookingState::held || b.state == BookingState::confirmed) {
    if (!event.users.add(UserSlot::live(b.user, serial))) return "snapshot: two live bookings";
    ++impl.live_bookings;
    (b.state == BookingState::held ? seats_held : seats_confirmed)[b.event] += b.seats;
  }
  if (b.state == BookingState::held) impl.expiries.push_back({b.expires_at_ms, serial});
  return "";
}

std::string_view StateMachine::Impl::read_answer(SnapshotReader& in) {
  Impl& impl = *this;
  const std::string_view id = in.str(request_id_size_max);
  RememberedAnswer a;
  a.remembered_at_ms = in.i64();
  a.time_ms = in.i64();
  a.ref = in.u64();
  a.event = in.u32();
  a.user = in.u32();
  a.request_seats = in.u32();
  a.seats = in.u32();
  a.position = in.u32();
  a.length = in.u32();
  a.kind = static_cast<CommandKind>(in.u8());
  a.outcome = static_cast<Outcome>(in.u8());
  a.reason = static_cast<Reason>(in.u8());
  a.booking_state = static_cast<BookingState>(in.u8());
  const std::uint8_t kind = static_cast<std::uint8_t>(a.kind);
  if (in.failed() || id.empty() || a.ref > impl.bookings.size() ||
      a.event >= std::max<std::size_t>(impl.events.size(), 1) ||
      a.user >= std::max<std::size_t>(impl.users.size(), 1) || kind > command_kind_last ||
      static_cast<int>(a.outcome) >= outcome_count ||
      static_cast<std::uint8_t>(a.reason) > remembered_reason_last ||
      a.booking_state > BookingState::expired || impl.request_ids.find(id) != nullptr) {
    return "snapshot: bad request id";
  }
  const bool names_booking = a.kind == CommandKind::confirm || a.kind == CommandKind::cancel;
  if (names_booking ? a.ref == 0 : impl.events.empty() || impl.users.size() == 0) {
    return "snapshot: bad request id";
  }
  if (impl.options.request_ids_max > 0) {
    impl.request_ids.remember(id, a, impl.options.request_ids_max);
  }
  return "";
}

std::string_view StateMachine::Impl::read_state(SnapshotReader& in) {
  Impl& impl = *this;
  impl.change_count = in.u64();
  for (std::uint64_t n = in.count(user_bytes_min); n > 0; --n) {
    const std::string_view user = in.str(user_size_max);
    if (in.failed() || check_user(user) != Reason::none || impl.users.find(user)) {
      return "snapshot: bad user";
    }
    impl.users.intern(user);
  }
  for (std::uint64_t n = in.count(event_bytes_min); n > 0; --n) {
    if (auto why = read_event(in); !why.empty()) return why;
  }
  std::vector<std::uint64_t> held(impl.events.size()), confirmed(impl.events.size());
  for (std::uint64_t n = in.count(booking_bytes); n > 0; --n) {
    if (auto why = read_booking(in, held, confirmed); !why.empty()) return why;
  }
  for (std::size_t i = 0; i < impl.events.size(); ++i) {
    const detail::Event& event = *impl.events[i];
    if (held[i] != event.held || confirmed[i] != event.confirmed) {
      return "snapshot: counters do not match bookings";
    }
    // Invariant 1 and strict FIFO, as assert_seats() expects of every event.
    if (std::uint64_t{event.held} + event.confirmed >
        std::max(event.config.capacity, event.sold_at_lowering)) {
      return "snapshot: more seats sold than the capacity";
    }
    // A capacity lowered under the sales is remembered only while sales
    // exceed it: kept longer, it would let sales grow past the capacity.
    if (event.sold_at_lowering != 0 &&
        std::uint64_t{event.held} + event.confirmed <= event.config.capacity) {
      return "snapshot: sales at a capacity lowering kept while sales fit the capacity";
    }
    if (!event.waitlist.empty() && event.waitlist.front().seats <= available(event)) {
      return "snapshot: the waitlist's head fits in the seats available";
    }
    impl.held_seats += event.held;
    impl.confirmed_seats += event.confirmed;
    impl.waitlisted += event.waitlist.size();
  }
  for (std::uint64_t n = in.count(answer_bytes); n > 0; --n) {
    if (auto why = read_answer(in); !why.empty()) return why;
  }
  if (in.failed()) return "snapshot: truncated";
  std::make_heap(impl.expiries.begin(), impl.expiries.end(), std::greater<>());
  return "";
}

}  // namespace admit::storage
