// Request ids: remembered answers, replays and their retention.
#include "storage/internal.h"

namespace admit::storage {

using detail::CommandKind;
using detail::RememberedAnswer;

namespace detail {

const RememberedAnswer* RequestIds::find(std::string_view request_id) const {
  const auto it = answers_.find(request_id);
  return it == answers_.end() ? nullptr : &it->second;
}

void RequestIds::remember(std::string_view request_id, const RememberedAnswer& answer,
                          std::size_t size_max) {
  ADMIT_VERIFY(find(request_id) == nullptr);  // the caller looked it up already
  if (size_max == 0) return;
  while (order_.size() >= size_max) forget_oldest();
  order_.emplace_back(request_id);
  answers_.emplace(order_.back(), answer);
}

void RequestIds::forget_oldest() {
  answers_.erase(order_.front());
  order_.pop_front();
}

RequestIds::Forgotten RequestIds::forget_until(std::int64_t cutoff_ms, std::uint32_t count_max) {
  Forgotten forgotten;
  while (!order_.empty() && answers_.at(order_.front()).remembered_at_ms <= cutoff_ms) {
    if (forgotten.count == count_max) {
      forgotten.more_due = true;
      break;
    }
    forget_oldest();
    ++forgotten.count;
  }
  return forgotten;
}

void RequestIds::clear() {
  answers_.clear();
  order_.clear();
}

}  // namespace detail

void StateMachine::Impl::remember(std::string_view request_id, const RememberedAnswer& answer) {
  if (options.request_ids_max == 0) return;
  request_ids.remember(request_id, answer, options.request_ids_max);
  ++change_count;
}

// Book and leave compare (event, user[, seats]); confirm and cancel the ref.
bool StateMachine::Impl::same_parameters(const RememberedAnswer& answer, CommandKind kind,
                                         std::string_view event, std::string_view user,
                                         std::uint32_t seats, detail::Serial ref) const {
  if (answer.kind != kind) return false;
  switch (kind) {
    case CommandKind::book:
    case CommandKind::leave_waitlist:
      return events[answer.event]->id == event && users.name(answer.user) == user &&
             answer.request_seats == seats;
    case CommandKind::confirm:
    case CommandKind::cancel:
      return answer.ref == ref;
  }
  return false;
}

BookResult StateMachine::Impl::replay_book(const RememberedAnswer& answer) const {
  BookResult result;
  result.outcome = answer.outcome;
  result.reason = answer.reason;
  if (answer.ref != 0) result.ref = ref_of(answer.ref);
  result.seats = answer.seats;
  result.position = answer.position;
  if (answer.outcome == Outcome::not_open) result.opens_in_ms = answer.time_ms;
  if (answer.outcome == Outcome::held) result.expires_at_ms = answer.time_ms;
  return result;
}

// The booking as it was when first answered: only its state can have moved.
BookingResult StateMachine::Impl::replay_booking(const RememberedAnswer& answer) const {
  BookingResult result;
  result.outcome = answer.outcome;
  result.reason = answer.reason;
  result.booking = view(answer.ref);
  result.booking.state = answer.booking_state;
  return result;
}

WaitlistResult StateMachine::Impl::replay_leave(const RememberedAnswer& answer) const {
  WaitlistResult result;
  result.outcome = answer.outcome;
  result.reason = answer.reason;
  result.position = answer.position;
  result.seats = answer.seats;
  result.length = answer.length;
  return result;
}

}  // namespace admit::storage
