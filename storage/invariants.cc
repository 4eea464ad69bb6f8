// check_invariants(): DESIGN.md invariants 1-4 over the whole state.
#include <cstdio>
#include <cstdlib>

#include "storage/internal.h"

namespace admit::storage {

using detail::Event;

namespace {

[[noreturn]] void broken(std::string_view event, const char* what) {
  std::fprintf(stderr, "admit storage invariant broken on event '%.*s': %s\n",
               static_cast<int>(event.size()), event.data(), what);
  std::abort();
}

}  // namespace

void StateMachine::Impl::check_event(const Event& e, detail::EventIndex index) const {
  const auto require = [&e](bool holds, const char* what) {
    if (!holds) broken(e.id, what);
  };
  require(e.index == index, "index does not match its place");
  std::uint64_t held = 0, confirmed = 0, live = 0;
  for (std::size_t i = 0; i < e.bookings.size(); ++i) {
    const detail::Serial serial = e.bookings[i];
    require(i == 0 || e.bookings[i - 1] < serial, "bookings not in creation order");
    const detail::Booking& b = bookings[serial - 1];
    require(b.event == index, "booking listed on another event");
    require(b.seats >= 1 && b.seats <= b.seats_limit, "booking over per_user_max (inv. 2/3)");
    const bool is_live = b.state == BookingState::held || b.state == BookingState::confirmed;
    if (!is_live) continue;
    ++live;
    (b.state == BookingState::held ? held : confirmed) += b.seats;
    require(b.state != BookingState::held || b.expires_at_ms > b.created_at_ms,
            "hold without a future expiry");
    const auto slot = e.users.find(b.user);
    require(slot != nullptr && slot->live() == serial,
            "user has two live bookings or an unlisted one (inv. 2)");
  }
  require(held == e.held && confirmed == e.confirmed, "counters differ from bookings (inv. 1)");
  require(held + confirmed <= std::max(e.config.capacity, e.sold_at_lowering),
          "held + confirmed over capacity (inv. 1)");
  require(e.sold_at_lowering == 0 || held + confirmed > e.config.capacity,
          "sold_at_lowering kept after sales fell under capacity");
  std::uint64_t waiting = 0, previous_ticket = 0;
  for (const detail::WaitEntry& w : e.waitlist) {
    require(w.ticket > previous_ticket && w.ticket < e.next_ticket, "waitlist out of order");
    previous_ticket = w.ticket;
    require(w.seats >= 1 && w.seats <= w.seats_limit, "waitlist entry over per_user_max");
    const auto slot = e.users.find(w.user);
    require(slot != nullptr && slot->wait_ticket() == w.ticket,
            "user twice in the waitlist, unlisted, or holding a live booking (inv. 4)");
    ++waiting;
  }
  require(e.waitlist.empty() || e.waitlist.front().seats > available(e),
          "the waitlist head fits but was not promoted (inv. 4)");
  std::uint64_t slots_live = 0, slots_waiting = 0, slots = 0;
  e.users.for_each([&](const detail::UserSlot& slot) {
    slots_live += slot.live() != 0;
    slots_waiting += slot.wait_ticket() != 0;
    ++slots;
  });
  require(slots_live == live && slots_waiting == waiting, "user slots differ from bookings");
  require(slots == e.users.size(), "user slot count differs from the slots");
}

void StateMachine::check_invariants() const {
  const Impl& impl = *impl_;
  for (detail::EventIndex i = 0; i < impl.events.size(); ++i) impl.check_event(*impl.events[i], i);
  std::uint64_t live_bookings = 0, held_bookings = 0;
  for (std::size_t i = 0; i < impl.bookings.size(); ++i) {
    const detail::Booking& b = impl.bookings[i];
    if (b.state == BookingState::held) ++held_bookings;
    if (b.state == BookingState::held || b.state == BookingState::confirmed) ++live_bookings;
  }
  if (live_bookings != impl.live_bookings) broken("", "live booking count is off");
  std::uint64_t held_seats = 0, confirmed_seats = 0, waitlisted = 0;
  for (const auto& event : impl.events) {
    held_seats += event->held;
    confirmed_seats += event->confirmed;
    waitlisted += event->waitlist.size();
  }
  if (held_seats != impl.held_seats || confirmed_seats != impl.confirmed_seats ||
      waitlisted != impl.waitlisted) {
    broken("", "the shard's seat totals differ from its events'");
  }
  if (held_bookings > impl.expiries.size()) broken("", "a hold has no expiry timer");
  if (!impl.expiries.empty() &&
      impl.bookings[impl.expiries.front().serial - 1].state != BookingState::held) {
    broken("", "the next expiry is not a live hold");
  }
  if (impl.options.request_ids_max > 0 && impl.request_ids.size() > impl.options.request_ids_max) {
    broken("", "more request ids remembered than request_ids_max");
  }
}

}  // namespace admit::storage
