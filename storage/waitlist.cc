// Waitlists: joining, positions, leaving and strict FIFO promotion.
#include <algorithm>

#include "storage/internal.h"
#include "storage/validate.h"

namespace admit::storage {

using detail::CommandKind;
using detail::Event;
using detail::RememberedAnswer;
using detail::Serial;
using detail::UserSlot;
using detail::WaitEntry;

namespace {

auto find_ticket(const Event& event, std::uint64_t ticket) {
  const auto it = std::lower_bound(
      event.waitlist.begin(), event.waitlist.end(), ticket,
      [](const WaitEntry& entry, std::uint64_t wanted) { return entry.ticket < wanted; });
  ADMIT_ASSERT(it != event.waitlist.end() && it->ticket == ticket);
  return it;
}

WaitlistResult waitlist_refusal(Outcome outcome, Reason why) {
  WaitlistResult result;
  result.outcome = outcome;
  result.reason = why;
  return result;
}

std::uint32_t waitlist_max(const Event& event) {
  return event.config.waitlist_max == 0 ? waitlist_length_max : event.config.waitlist_max;
}

}  // namespace

std::uint32_t StateMachine::Impl::position(const Event& event, std::uint64_t ticket) const {
  return static_cast<std::uint32_t>(find_ticket(event, ticket) - event.waitlist.begin()) + 1;
}

// Called when the seats do not fit now (or others wait already).
BookResult StateMachine::Impl::join_waitlist(Event& event, const BookCommand& command,
                                             const detail::UserKey& user_key) {
  BookResult result;
  const WaitlistChoice choice = command.waitlist;
  if (choice == WaitlistChoice::never ||
      (choice == WaitlistChoice::by_default && !event.config.waitlist)) {
    result.outcome = Outcome::sold_out;
    result.reason = Reason::sold_out;
    return result;
  }
  if (!event.config.waitlist) {
    result.outcome = Outcome::invalid;
    result.reason = Reason::event_has_no_waitlist;
    return result;
  }
  if (event.waitlist.size() >= waitlist_max(event)) {
    result.outcome = Outcome::sold_out;
    result.reason = Reason::waitlist_full;
    return result;
  }
  const detail::UserId user = users.intern(user_key);
  WaitEntry entry{user, command.seats, per_user_max(event), event.next_ticket++};
  event.waitlist.push_back(entry);
  ++waitlisted;
  const bool added = event.users.add(UserSlot::waiting(user, entry.ticket));
  ADMIT_ASSERT(added);
  ++change_count;
  result.outcome = Outcome::waitlisted;
  result.seats = command.seats;
  result.position = static_cast<std::uint32_t>(event.waitlist.size());
  return result;
}

void StateMachine::Impl::remove_waiter(Event& event, detail::UserId user) {
  const UserSlot* const slot = event.users.find(user);
  ADMIT_ASSERT(slot != nullptr && slot->wait_ticket() != 0);
  event.waitlist.erase(find_ticket(event, slot->wait_ticket()));
  --waitlisted;
  event.users.erase(user);
  ++change_count;
}

// Strict FIFO: heads become bookings while they fit; the first that does not
// fit stops everyone behind it. Runs whatever the event's state.
void StateMachine::Impl::promote(Event& event, std::int64_t now_ms) {
  while (!event.waitlist.empty() && event.waitlist.front().seats <= available(event)) {
    const WaitEntry head = event.waitlist.front();
    event.waitlist.pop_front();
    --waitlisted;
    const Serial serial =
        admit(event, head.user, head.seats, head.seats_limit, event.config.hold_ttl_ms > 0, now_ms);
    UserSlot* const slot = event.users.find(head.user);
    ADMIT_ASSERT(slot != nullptr && slot->wait_ticket() == head.ticket);
    *slot = UserSlot::live(head.user, serial);
  }
}

WaitlistResult StateMachine::waitlist_position(std::string_view event_id,
                                               std::string_view user) const {
  WaitlistResult result;
  if (const Reason why = check_event_id(event_id); why != Reason::none) {
    return waitlist_refusal(Outcome::invalid, why);
  }
  if (const Reason why = check_user(user); why != Reason::none) {
    return waitlist_refusal(Outcome::invalid, why);
  }
  const Event* event = impl_->find_event(event_id);
  if (event == nullptr) return waitlist_refusal(Outcome::not_found, Reason::no_such_event);
  result.length = static_cast<std::uint32_t>(event->waitlist.size());
  const auto user_id = impl_->users.find(user);
  const auto slot = user_id ? event->users.find(*user_id) : nullptr;
  if (slot == nullptr) {
    result.outcome = Outcome::not_found;
    result.reason = Reason::user_not_waiting;
    return result;
  }
  if (slot->live() != 0) {
    result.outcome = Outcome::already_booked;
    result.ref = impl_->ref_of(slot->live());
    result.seats = impl_->bookings[slot->live() - 1].seats;
    return result;
  }
  result.outcome = Outcome::waitlisted;
  result.position = impl_->position(*event, slot->wait_ticket());
  result.seats = event->waitlist[result.position - 1].seats;
  return result;
}

WaitlistResult StateMachine::leave_waitlist(const LeaveWaitlistCommand& command,
                                            std::int64_t now_ms) {
  if (const Reason why = check_leave_waitlist(command); why != Reason::none) {
    return waitlist_refusal(Outcome::invalid, why);
  }
  Impl& impl = *impl_;
  if (!command.request_id.empty()) {
    if (const RememberedAnswer* answer = impl.request_ids.find(command.request_id)) {
      if (!impl.same_parameters(*answer, CommandKind::leave_waitlist, command.event, command.user,
                                0, 0)) {
        return waitlist_refusal(Outcome::invalid, Reason::request_id_reused);
      }
      return impl.replay_leave(*answer);
    }
  }
  Event* event = impl.find_event(command.event);
  if (event == nullptr) return waitlist_refusal(Outcome::not_found, Reason::no_such_event);
  const auto user = impl.users.find(command.user);
  const auto slot = user ? event->users.find(*user) : nullptr;
  if (slot == nullptr || slot->wait_ticket() == 0) {
    return waitlist_refusal(Outcome::not_found, Reason::user_not_waiting);
  }
  WaitlistResult result;
  result.outcome = Outcome::ok;
  result.position = impl.position(*event, slot->wait_ticket());
  result.seats = event->waitlist[result.position - 1].seats;
  impl.remove_waiter(*event, *user);
  if (result.position == 1) impl.promote(*event, now_ms);
  result.length = static_cast<std::uint32_t>(event->waitlist.size());
  Impl::assert_seats(*event);
  if (!command.request_id.empty()) {
    RememberedAnswer answer;
    answer.remembered_at_ms = now_ms;
    answer.kind = CommandKind::leave_waitlist;
    answer.event = event->index;
    answer.user = *user;
    answer.outcome = result.outcome;
    answer.seats = result.seats;
    answer.position = result.position;
    answer.length = result.length;
    impl.remember(command.request_id, answer);
  }
  impl.notify(*event);
  return result;
}

}  // namespace admit::storage
