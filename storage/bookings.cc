// Book, Confirm, Cancel: admitting and releasing seats.
#include <algorithm>

#include "storage/internal.h"
#include "storage/validate.h"

namespace admit::storage {

using detail::Booking;
using detail::CommandKind;
using detail::Event;
using detail::RememberedAnswer;
using detail::Serial;
using detail::UserSlot;

namespace {

// A Book answer with nothing else set yet: a refusal, or a success the
// caller fills in.
BookResult answer(Outcome outcome, Reason reason) {
  BookResult result;
  result.outcome = outcome;
  result.reason = reason;
  return result;
}

// Book answers that are decisions, remembered under their request id.
bool book_answer_is_final(Outcome outcome) {
  switch (outcome) {
    case Outcome::booked:
    case Outcome::held:
    case Outcome::waitlisted:
    case Outcome::already_booked:
    case Outcome::sold_out:
    case Outcome::over_user_limit:
    case Outcome::not_open:
    case Outcome::closed:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::uint32_t StateMachine::Impl::available(const Event& event) {
  const std::uint64_t sold = std::uint64_t{event.held} + event.confirmed;
  return sold >= event.config.capacity ? 0
                                       : static_cast<std::uint32_t>(event.config.capacity - sold);
}

std::uint32_t StateMachine::Impl::per_user_max(const Event& event) {
  if (event.config.per_user_max != 0) return event.config.per_user_max;
  return event.config.capacity != 0 ? event.config.capacity : seats_max;
}

void StateMachine::Impl::assert_seats(const Event& event) {
  ADMIT_ASSERT(std::uint64_t{event.held} + event.confirmed <=
               std::max(event.config.capacity, event.sold_at_lowering));
  ADMIT_ASSERT(event.waitlist.empty() || event.waitlist.front().seats > available(event));
}

Serial StateMachine::Impl::admit(Event& event, detail::UserId user, std::uint32_t seats,
                                 std::uint32_t seats_limit, bool hold, std::int64_t now_ms) {
  ADMIT_ASSERT(seats >= 1 && seats <= available(event));
  ADMIT_ASSERT(!hold || event.config.hold_ttl_ms > 0);
  const Serial serial = bookings.size() + 1;
  ADMIT_ASSERT(serial <= booking_serial_max);
  Booking booking;
  booking.event = event.index;
  booking.user = user;
  booking.seats = seats;
  booking.seats_limit = seats_limit;
  booking.created_at_ms = now_ms;
  if (hold) {
    booking.state = BookingState::held;
    booking.expires_at_ms = now_ms + event.config.hold_ttl_ms;
    event.held += seats;
    held_seats += seats;
    expiries.push_back({booking.expires_at_ms, serial});
    std::push_heap(expiries.begin(), expiries.end(), std::greater<>());
  } else {
    booking.state = BookingState::confirmed;
    event.confirmed += seats;
    confirmed_seats += seats;
  }
  bookings.push_back(booking);
  event.bookings.push_back(serial);
  ++live_bookings;
  ++change_count;
  return serial;
}

void StateMachine::Impl::release(Serial serial, BookingState to, std::int64_t now_ms) {
  Booking& booking = bookings[serial - 1];
  ADMIT_ASSERT(booking.state == BookingState::held || booking.state == BookingState::confirmed);
  ADMIT_ASSERT(to == BookingState::cancelled || to == BookingState::expired);
  Event& event = *events[booking.event];
  if (booking.state == BookingState::held) {
    event.held -= booking.seats;
    held_seats -= booking.seats;
  } else {
    event.confirmed -= booking.seats;
    confirmed_seats -= booking.seats;
  }
  booking.state = to;
  const UserSlot* const slot = event.users.find(booking.user);
  ADMIT_ASSERT(slot != nullptr && slot->live() == serial);
  event.users.erase(booking.user);
  --live_bookings;
  ++change_count;
  if (event.held + event.confirmed <= event.config.capacity) event.sold_at_lowering = 0;
  promote(event, now_ms);
}

// Keeps the heap's top a live hold, so next_expiry_ms() is exact.
void StateMachine::Impl::drop_stale_expiries() {
  while (!expiries.empty() && bookings[expiries.front().serial - 1].state != BookingState::held) {
    std::pop_heap(expiries.begin(), expiries.end(), std::greater<>());
    expiries.pop_back();
  }
}

// The checks after the rate limit, in DESIGN.md's order.
BookResult StateMachine::Impl::decide_book(Event& event, const BookCommand& command,
                                           const detail::UserKey& user_key, std::int64_t now_ms) {
  // A user new to the shard has no slot on any event: one probe decides.
  const auto user = users.find(user_key);
  const UserSlot* const slot = user ? event.users.find(*user) : nullptr;
  if (slot != nullptr && slot->live() != 0) {
    BookResult result = answer(Outcome::already_booked, Reason::none);
    result.ref = ref_of(slot->live());
    result.seats = bookings[slot->live() - 1].seats;
    return result;
  }
  if (slot != nullptr) {
    BookResult result = answer(Outcome::waitlisted, Reason::none);
    result.position = position(event, slot->wait_ticket());
    const auto entry = event.waitlist.begin() + (result.position - 1);
    result.seats = entry->seats;
    return result;
  }
  const EventConfig& config = event.config;
  if (config.state == EventState::paused) return answer(Outcome::not_open, Reason::event_paused);
  if (config.state == EventState::closed) return answer(Outcome::closed, Reason::event_closed);
  if (config.closes_at_ms != 0 && now_ms >= config.closes_at_ms) {
    return answer(Outcome::closed, Reason::sale_closed);
  }
  if (now_ms < config.opens_at_ms) {
    BookResult result = answer(Outcome::not_open, Reason::event_not_open);
    result.opens_in_ms = config.opens_at_ms - now_ms;
    return result;
  }
  const std::uint32_t limit = per_user_max(event);
  if (command.seats > limit) return answer(Outcome::over_user_limit, Reason::over_user_limit);
  if (command.hold && config.hold_ttl_ms == 0) {
    return answer(Outcome::invalid, Reason::event_has_no_holds);
  }
  if (event.waitlist.empty() && command.seats <= available(event)) {
    const detail::UserId id = user ? *user : users.intern(user_key);
    const Serial serial = admit(event, id, command.seats, limit, command.hold, now_ms);
    const bool added = event.users.add(UserSlot::live(id, serial));
    ADMIT_ASSERT(added);
    BookResult result = answer(command.hold ? Outcome::held : Outcome::booked, Reason::none);
    result.ref = ref_of(serial);
    result.seats = command.seats;
    result.expires_at_ms = bookings[serial - 1].expires_at_ms;
    return result;
  }
  return join_waitlist(event, command, user_key);
}

BookResult StateMachine::book(const BookCommand& command, std::int64_t now_ms) {
  // A found event id is valid (create_event checked it), so only an unknown
  // one is checked, before the other fields as check_book() orders them.
  Event* event = impl_->find_event(command.event);
  if (event == nullptr) {
    if (const Reason why = check_event_id(command.event); why != Reason::none) {
      return answer(Outcome::invalid, why);
    }
  }
  if (const Reason why = check_book_fields(command); why != Reason::none) {
    return answer(Outcome::invalid, why);
  }
  if (!command.request_id.empty()) {
    if (const RememberedAnswer* earlier = impl_->request_ids.find(command.request_id)) {
      if (!impl_->same_parameters(*earlier, CommandKind::book, command.event, command.user,
                                  command.seats, 0)) {
        return answer(Outcome::invalid, Reason::request_id_reused);
      }
      return impl_->replay_book(*earlier);
    }
  }
  if (event == nullptr) return answer(Outcome::not_found, Reason::no_such_event);
  const detail::UserKey user = detail::UserTable::key(command.user);
  if (const std::int64_t wait_ms = impl_->take_token(*event, user, now_ms)) {
    BookResult result = answer(Outcome::rate_limited, Reason::rate_limited);
    result.retry_after_ms = wait_ms;
    return result;
  }
  const std::uint32_t waitlisted_before = static_cast<std::uint32_t>(event->waitlist.size());
  BookResult result = impl_->decide_book(*event, command, user, now_ms);
  Impl::assert_seats(*event);
  const bool counters_moved = result.outcome == Outcome::booked ||
                              result.outcome == Outcome::held ||
                              event->waitlist.size() != waitlisted_before;
  if (!command.request_id.empty() && book_answer_is_final(result.outcome)) {
    RememberedAnswer remembered;
    remembered.remembered_at_ms = now_ms;
    remembered.kind = CommandKind::book;
    remembered.event = event->index;
    remembered.user = impl_->users.intern(user);
    remembered.request_seats = command.seats;
    remembered.outcome = result.outcome;
    remembered.reason = result.reason;
    remembered.ref = result.ref.empty() ? 0 : result.ref.serial();
    remembered.seats = result.seats;
    remembered.position = result.position;
    remembered.time_ms =
        result.outcome == Outcome::not_open ? result.opens_in_ms : result.expires_at_ms;
    impl_->remember(command.request_id, remembered);
  }
  if (counters_moved) impl_->notify(*event);
  return result;
}

}  // namespace admit::storage
