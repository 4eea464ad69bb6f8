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

constexpr std::string_view directory_full_message =
    "id: this shard owns events_per_shard_max (65536) events already";

void take_event(const storage::EventResult& from, ShardResult* result) {
  result->outcome = from.outcome;
  result->message.assign_cut(from.message);
  if (from.outcome == Outcome::ok) {
    result->kind = ResultKind::event;
    result->event = EventSnapshot::of(from.event);
  }
}

void take_booking(const storage::BookingResult& from, ShardResult* result) {
  result->outcome = from.outcome;
  result->message.assign_cut(from.message);
  if (outcome_is_success(from.outcome)) {
    result->kind = ResultKind::booking;
    result->booking = BookingRecord::of(from.booking);
  }
}

void take_waitlist(const storage::WaitlistResult& from, ShardResult* result) {
  result->outcome = from.outcome;
  result->message.assign_cut(from.message);
  result->kind = ResultKind::waitlist;
  result->waitlist = from;
  result->waitlist.message = {};
}

void take_page(const storage::BookingPage& from, ShardResult* result) {
  result->outcome = from.outcome;
  result->message.assign_cut(from.message);
  if (from.outcome != Outcome::ok) return;
  auto* page = new BookingPageRecord;
  page->bookings.reserve(from.bookings.size());
  for (const auto& booking : from.bookings) page->bookings.push_back(BookingRecord::of(booking));
  page->next_after = from.next_after;
  result->kind = ResultKind::booking_page;
  result->page = page;
}

storage::BookCommand book_command(const ShardCommand& command) {
  return {.event = command.event.view(),
          .user = command.user.view(),
          .seats = command.seats,
          .hold = command.hold,
          .waitlist = command.waitlist,
          .request_id = command.request_id.view()};
}

}  // namespace

void execute(storage::StateMachine& machine, const ShardCommand& command, std::int64_t now_ms,
             bool directory_full, ShardResult* result) {
  *result = ShardResult{};
  const storage::RefCommand ref_command{command.ref.view(), command.request_id.view()};
  switch (command.op) {
    case ShardOp::create_event:
      if (directory_full) {
        result->outcome = Outcome::overloaded;
        result->message.assign_cut(directory_full_message);
        return;
      }
      return take_event(machine.create_event({command.event.view(), command.config}, now_ms),
                        result);
    case ShardOp::update_event:
      return take_event(machine.update_event({command.event.view(), command.patch}, now_ms),
                        result);
    case ShardOp::book: {
      const storage::BookResult book = machine.book(book_command(command), now_ms);
      result->outcome = book.outcome;
      result->message.assign_cut(book.message);
      result->kind = ResultKind::book;
      result->book = book;
      result->book.message = {};
      return;
    }
    case ShardOp::confirm:
      return take_booking(machine.confirm(ref_command, now_ms), result);
    case ShardOp::cancel:
      return take_booking(machine.cancel(ref_command, now_ms), result);
    case ShardOp::get_booking:
      return take_booking(machine.get_booking(command.ref.view()), result);
    case ShardOp::list_bookings:
      return take_page(
          machine.list_bookings(command.event.view(), command.ref.view(), command.limit), result);
    case ShardOp::waitlist_position:
      return take_waitlist(machine.waitlist_position(command.event.view(), command.user.view()),
                           result);
    case ShardOp::leave_waitlist:
      return take_waitlist(
          machine.leave_waitlist(
              {command.event.view(), command.user.view(), command.request_id.view()}, now_ms),
          result);
  }
  assert(false && "every ShardOp is handled above");
}

}  // namespace admit::server
