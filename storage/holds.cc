// Confirm, Cancel and hold expiry.
#include <algorithm>
#include <limits>

#include "storage/internal.h"
#include "storage/validate.h"

namespace admit::storage {

using detail::Booking;
using detail::CommandKind;
using detail::RememberedAnswer;
using detail::Serial;

namespace {

struct RefDecision {
  Outcome outcome;
  Reason reason;
};

}  // namespace

// Shared by confirm and cancel: validation, replay, lookup, then `decide`
// (which changes the booking) and remembering the answer.
template <typename Decide>
BookingResult StateMachine::Impl::run_ref_command(CommandKind kind, const RefCommand& command,
                                                  std::int64_t now_ms, Decide decide) {
  Impl& impl = *this;
  if (const Reason why = check_ref_command(command); why != Reason::none) {
    return {Outcome::invalid, why, {}};
  }
  const auto serial = impl.find_serial(command.ref);
  if (!command.request_id.empty()) {
    if (const RememberedAnswer* answer = impl.request_ids.find(command.request_id)) {
      if (!serial || !impl.same_parameters(*answer, kind, {}, {}, 0, *serial)) {
        return {Outcome::invalid, Reason::request_id_reused, {}};
      }
      return impl.replay_booking(*answer);
    }
  }
  if (!serial) return {Outcome::not_found, Reason::no_such_booking, {}};
  const std::uint64_t changes_before = impl.change_count;
  const RefDecision decision = decide(*serial);
  impl.drop_stale_expiries();
  const Booking& booking = impl.bookings[*serial - 1];
  const detail::Event& event = *impl.events[booking.event];
  assert_seats(event);
  const bool booking_changed = impl.change_count != changes_before;
  if (!command.request_id.empty()) {
    RememberedAnswer answer;
    answer.remembered_at_ms = now_ms;
    answer.kind = kind;
    answer.ref = *serial;
    answer.outcome = decision.outcome;
    answer.reason = decision.reason;
    answer.booking_state = booking.state;
    impl.remember(command.request_id, answer);
  }
  if (booking_changed) impl.notify(event);
  return {decision.outcome, decision.reason, impl.view(*serial)};
}

BookingResult StateMachine::confirm(const RefCommand& command, std::int64_t now_ms) {
  return impl_->run_ref_command(CommandKind::confirm, command, now_ms, [&](Serial serial) {
    Booking& booking = impl_->bookings[serial - 1];
    switch (booking.state) {
      case BookingState::held:
        if (now_ms >= booking.expires_at_ms) {
          impl_->release(serial, BookingState::expired, now_ms);
          return RefDecision{Outcome::invalid, Reason::hold_expired};
        }
        booking.state = BookingState::confirmed;
        impl_->events[booking.event]->held -= booking.seats;
        impl_->events[booking.event]->confirmed += booking.seats;
        impl_->held_seats -= booking.seats;
        impl_->confirmed_seats += booking.seats;
        ++impl_->change_count;
        return RefDecision{Outcome::booked, Reason::none};
      case BookingState::confirmed:
        return RefDecision{Outcome::booked, Reason::none};
      case BookingState::cancelled:
        return RefDecision{Outcome::invalid, Reason::booking_cancelled};
      case BookingState::expired:
        break;
    }
    return RefDecision{Outcome::invalid, Reason::hold_expired};
  });
}

// A hold past its expiry that expire() has not reached yet counts as expired,
// as it does for confirm: what a booking is must not depend on timer latency.
BookingResult StateMachine::cancel(const RefCommand& command, std::int64_t now_ms) {
  return impl_->run_ref_command(CommandKind::cancel, command, now_ms, [&](Serial serial) {
    const Booking& booking = impl_->bookings[serial - 1];
    switch (booking.state) {
      case BookingState::held:
        if (now_ms >= booking.expires_at_ms) {
          impl_->release(serial, BookingState::expired, now_ms);
          return RefDecision{Outcome::invalid, Reason::hold_expired};
        }
        [[fallthrough]];
      case BookingState::confirmed:
        impl_->release(serial, BookingState::cancelled, now_ms);
        return RefDecision{Outcome::ok, Reason::none};
      case BookingState::cancelled:
        return RefDecision{Outcome::ok, Reason::none};
      case BookingState::expired:
        break;
    }
    return RefDecision{Outcome::invalid, Reason::hold_expired};
  });
}

ExpireReport StateMachine::expire(std::int64_t now_ms, std::uint32_t steps_max) {
  Impl& impl = *impl_;
  ExpireReport report;
  std::vector<detail::EventIndex> touched;
  // Only the holds released count against the bound: entries of holds
  // confirmed or cancelled since are not in a restored machine's queue, and
  // replay must release the same holds (each such entry is popped once).
  while (!impl.expiries.empty() && impl.expiries.front().expires_at_ms <= now_ms) {
    if (report.holds_expired == steps_max) {
      report.more_due = true;
      break;
    }
    const Serial serial = impl.expiries.front().serial;
    std::pop_heap(impl.expiries.begin(), impl.expiries.end(), std::greater<>());
    impl.expiries.pop_back();
    const Booking& booking = impl.bookings[serial - 1];
    if (booking.state != BookingState::held) continue;  // confirmed or cancelled since
    const detail::EventIndex event = booking.event;     // release() may move `booking`
    impl.release(serial, BookingState::expired, now_ms);
    ++report.holds_expired;
    if (std::find(touched.begin(), touched.end(), event) == touched.end()) {
      touched.push_back(event);
    }
  }
  impl.drop_stale_expiries();
  // A logged now_ms may be anything a record can hold: the cutoff saturates
  // (found by the wal_record fuzz target: INT64_MIN - retention overflowed).
  const std::int64_t retention_ms = impl.options.request_id_retention_ms;
  std::int64_t cutoff_ms = std::numeric_limits<std::int64_t>::min();
  if (__builtin_sub_overflow(now_ms, retention_ms, &cutoff_ms)) {
    cutoff_ms = std::numeric_limits<std::int64_t>::min();
  }
  const detail::RequestIds::Forgotten forgotten =
      impl.request_ids.forget_until(cutoff_ms, steps_max);
  if (forgotten.count > 0) ++impl.change_count;
  report.more_due = report.more_due || forgotten.more_due;
  for (const detail::EventIndex index : touched) {
    Impl::assert_seats(*impl.events[index]);
    impl.notify(*impl.events[index]);
  }
  return report;
}

std::optional<std::int64_t> StateMachine::next_expiry_ms() const {
  if (impl_->expiries.empty()) return std::nullopt;
  return impl_->expiries.front().expires_at_ms;
}

}  // namespace admit::storage
