#include "server/shard_command.h"

#include <string>

namespace admit::server {

EventSnapshot EventSnapshot::of(const storage::EventView& view) {
  EventSnapshot snapshot;
  snapshot.id.assign(view.id);
  snapshot.config = view.config;
  snapshot.version = view.version;
  snapshot.available = view.available;
  snapshot.held = view.held;
  snapshot.confirmed = view.confirmed;
  snapshot.waitlisted = view.waitlisted;
  return snapshot;
}

BookingRecord BookingRecord::of(const storage::BookingView& view) {
  BookingRecord record;
  record.ref = view.ref;
  record.event.assign(view.event);
  record.user.assign(view.user);
  record.seats = view.seats;
  record.state = view.state;
  record.created_at_ms = view.created_at_ms;
  record.expires_at_ms = view.expires_at_ms;
  return record;
}

namespace {

void take_event(const storage::EventResult& from, ShardResult* result) {
  result->outcome = from.outcome;
  result->reason = from.reason;
  if (from.outcome == Outcome::ok) {
    result->kind = ResultKind::event;
    result->event = EventSnapshot::of(from.event);
  }
}

void take_booking(const storage::BookingResult& from, ShardResult* result) {
  result->outcome = from.outcome;
  result->reason = from.reason;
  if (outcome_is_success(from.outcome)) {
    result->kind = ResultKind::booking;
    result->booking = BookingRecord::of(from.booking);
  }
}

void take_waitlist(const storage::WaitlistResult& from, ShardResult* result) {
  result->outcome = from.outcome;
  result->reason = from.reason;
  result->kind = ResultKind::waitlist;
  result->waitlist = from;
}

void take_page(const storage::BookingPage& from, ShardResult* result) {
  result->outcome = from.outcome;
  result->reason = from.reason;
  if (from.outcome != Outcome::ok) return;
  auto* page = new BookingPageRecord;
  page->bookings.reserve(from.bookings.size());
  for (const auto& booking : from.bookings) page->bookings.push_back(BookingRecord::of(booking));
  page->next_after = from.next_after;
  result->kind = ResultKind::booking_page;
  result->page = page;
}

// A result slot made ready for a new answer. Only what every reader looks
// at: `kind` says which of the other members hold anything (assigning a whole
// ShardResult{} would zero and copy its ~800 bytes per request).
void clear_result(ShardResult* result) {
  result->outcome = Outcome::invalid;
  result->reason = Reason::none;
  result->message.size = 0;
  result->kind = ResultKind::none;
  result->page = nullptr;
}

// The alternative `T` of `out`, emplaced only when another kind is there.
template <typename T>
T& reuse(storage::wal::Command* out) {
  if (T* same = std::get_if<T>(out)) return *same;
  return out->emplace<T>();
}

}  // namespace

void execute_read(const storage::StateMachine& machine, const ShardCommand& command,
                  ShardResult* result) {
  clear_result(result);
  switch (command.op) {
    case Op::get_booking:
      return take_booking(machine.get_booking(command.ref.view()), result);
    case Op::get_event:
      return take_event(machine.get_event(command.event.view()), result);
    case Op::list_bookings:
      return take_page(
          machine.list_bookings(command.event.view(), command.ref.view(), command.limit), result);
    case Op::waitlist_position:
      return take_waitlist(machine.waitlist_position(command.event.view(), command.user.view()),
                           result);
    case Op::create_event:  // mutations: to_wal_command(), then the machine's apply()
    case Op::update_event:
    case Op::book:
    case Op::confirm:
    case Op::cancel:
    case Op::leave_waitlist:
    case Op::hello:  // not owned: answered on the receiving shard
    case Op::list_events:
    case Op::stats:
    case Op::metrics:
    case Op::healthz:
    case Op::watch:
    case Op::unwatch:
    case Op::page:
      break;
  }
  ADMIT_UNREACHABLE("execute_read: not an owned read");
}

void to_wal_command(const ShardCommand& command, storage::wal::Command* out) {
  namespace wal = storage::wal;
  switch (command.op) {
    case Op::create_event: {
      auto& create = reuse<wal::CreateEvent>(out);
      create.id.assign(command.event.view());
      create.config = command.config;
      create.same_is_ok = command.same_is_ok;
      return;
    }
    case Op::update_event: {
      auto& update = reuse<wal::UpdateEvent>(out);
      update.id.assign(command.event.view());
      update.patch = command.patch;
      return;
    }
    case Op::book: {
      auto& book = reuse<wal::Book>(out);
      book.event.assign(command.event.view());
      book.user.assign(command.user.view());
      book.seats = command.seats;
      book.hold = command.hold;
      book.waitlist = command.waitlist;
      book.request_id.assign(command.request_id.view());
      return;
    }
    case Op::confirm: {
      auto& confirm = reuse<wal::Confirm>(out);
      confirm.ref.assign(command.ref.view());
      confirm.request_id.assign(command.request_id.view());
      return;
    }
    case Op::cancel: {
      auto& cancel = reuse<wal::Cancel>(out);
      cancel.ref.assign(command.ref.view());
      cancel.request_id.assign(command.request_id.view());
      return;
    }
    case Op::leave_waitlist: {
      auto& leave = reuse<wal::LeaveWaitlist>(out);
      leave.event.assign(command.event.view());
      leave.user.assign(command.user.view());
      leave.request_id.assign(command.request_id.view());
      return;
    }
    case Op::get_event:  // reads: execute_read()
    case Op::get_booking:
    case Op::list_bookings:
    case Op::waitlist_position:
    case Op::hello:  // not owned: answered on the receiving shard
    case Op::list_events:
    case Op::stats:
    case Op::metrics:
    case Op::healthz:
    case Op::watch:
    case Op::unwatch:
    case Op::page:
      break;
  }
  ADMIT_UNREACHABLE("to_wal_command: not a mutation");
}

void take_result(const storage::wal::CommandResult& from, ShardResult* result) {
  clear_result(result);
  if (const auto* event = std::get_if<storage::EventResult>(&from)) {
    return take_event(*event, result);
  }
  if (const auto* booking = std::get_if<storage::BookingResult>(&from)) {
    return take_booking(*booking, result);
  }
  if (const auto* waitlist = std::get_if<storage::WaitlistResult>(&from)) {
    return take_waitlist(*waitlist, result);
  }
  const auto* book = std::get_if<storage::BookResult>(&from);
  ADMIT_ASSERT(book != nullptr && "Expire has no reply");
  result->outcome = book->outcome;
  result->reason = book->reason;
  result->kind = ResultKind::book;
  result->book = *book;
}

bool may_act_on_booking(const storage::StateMachine& machine, const ShardCommand& command,
                        ShardResult* result) {
  if (command.acting_user.size == 0) return true;
  if (op_info(command.op).sub != SubRule::booking_of_sub) return true;
  const storage::BookingResult found = machine.get_booking(command.ref.view());
  if (found.outcome != Outcome::ok || found.booking.user == command.acting_user.view()) return true;
  refuse(Outcome::unauthorized,
         "ref: the booking is another user's; this token acts only as its sub", result);
  return false;
}

void refuse(Outcome outcome, std::string_view message, ShardResult* result) {
  clear_result(result);
  result->outcome = outcome;
  result->message.assign_cut(message);
}

}  // namespace admit::server
