#include "server/shard_command.h"

#include <string>

#include "protocol/framing.h"
#include "protocol/shard.h"

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
    case Op::create_event:  // mutations: storage::apply() of their command_kind_of()
    case Op::update_event:
    case Op::book:
    case Op::confirm:
    case Op::cancel:
    case Op::leave_waitlist:
    case Op::book_batch:  // one book per item: ShardCore::apply_batch()
    case Op::hello:       // not owned: answered on the receiving shard
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

storage::CommandKind command_kind_of(Op op) {
  using storage::CommandKind;
  switch (op) {
    case Op::create_event:
      return CommandKind::create_event;
    case Op::update_event:
      return CommandKind::update_event;
    case Op::book:
      return CommandKind::book;
    case Op::confirm:
      return CommandKind::confirm;
    case Op::cancel:
      return CommandKind::cancel;
    case Op::leave_waitlist:
      return CommandKind::leave_waitlist;
    case Op::get_event:  // reads: execute_read()
    case Op::get_booking:
    case Op::list_bookings:
    case Op::waitlist_position:
    case Op::book_batch:  // one book per item: ShardCore::apply_batch()
    case Op::hello:       // not owned: answered on the receiving shard
    case Op::list_events:
    case Op::stats:
    case Op::metrics:
    case Op::healthz:
    case Op::watch:
    case Op::unwatch:
    case Op::page:
      break;
  }
  ADMIT_UNREACHABLE("command_kind_of: not a machine command");
}

void take_result(const storage::CommandResult& from, ShardResult* result) {
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

void clear_result(ShardResult* result) {
  result->outcome = Outcome::invalid;
  result->reason = Reason::none;
  result->message.size = 0;
  result->kind = ResultKind::none;
  result->page = nullptr;
  result->batch = nullptr;
}

std::optional<std::uint32_t> owner_of(const ShardCommand& command, std::uint32_t shards) {
  switch (op_info(command.op).routing) {
    case Routing::event:
      return owner_shard(command.event.view(), shards);
    case Routing::ref: {
      const auto ref = BookingRef::parse(command.ref.view());
      ADMIT_ASSERT(ref.has_value());
      if (ref->shard() >= shards) return std::nullopt;
      return ref->shard();
    }
    case Routing::any:
    case Routing::connection:
      break;
  }
  ADMIT_UNREACHABLE("owner_of: not an owned operation");
}

BookBatchRecord* BookBatchRecord::copy_of(std::span<const wire::BookItem> items,
                                          std::span<const std::uint8_t> texts) {
  auto* record = new BookBatchRecord;
  const std::size_t item_bytes = items.size_bytes();
  // One buffer, items first: FlatBuffers structs need 8-byte alignment, which
  // the vector's allocation has, and item sizes are a multiple of it.
  static_assert(sizeof(wire::BookItem) % alignof(wire::BookItem) == 0);
  record->bytes.resize(item_bytes + texts.size());
  std::memcpy(record->bytes.data(), items.data(), item_bytes);
  if (!texts.empty()) std::memcpy(record->bytes.data() + item_bytes, texts.data(), texts.size());
  record->items = {reinterpret_cast<const wire::BookItem*>(record->bytes.data()), items.size()};
  record->texts = {record->bytes.data() + item_bytes, texts.size()};
  return record;
}

Reason check_book_item(const wire::BookItem& item, std::string_view user,
                       std::string_view request_id) {
  if (user.empty() || user.size() > user_size_max) return Reason::user_invalid;
  if (request_id.size() > request_id_size_max) return Reason::request_id_too_long;
  if (item.waitlist() > wire::WaitlistChoice::MAX) return Reason::waitlist_choice_invalid;
  return Reason::none;
}

void assign_book_item(const wire::BookItem& item, std::string_view user,
                      std::string_view request_id, ShardCommand* book) {
  book->op = Op::book;
  book->user.assign(user);
  book->request_id.assign(request_id);
  book->seats = item.seats();
  book->hold = item.hold();
  book->waitlist = from_wire(item.waitlist());
}

void add_item_answer(std::uint32_t index, const ShardResult& answer, BookBatchRecord* batch) {
  ADMIT_ASSERT(batch->results.size() == index);
  if (answer.kind != ResultKind::book) {
    // Refused before the machine: the reason says why (admission's too).
    ADMIT_ASSERT(answer.reason != Reason::none);
    return add_item_refusal(index, answer.outcome, answer.reason, batch);
  }
  const storage::BookResult& book = answer.book;
  batch->results.emplace_back(book.ref.bits(), book.seats, to_wire(answer.outcome),
                              static_cast<std::uint8_t>(answer.reason));
  if (book.position != 0 || book.retry_after_ms != 0 || book.opens_in_ms != 0 ||
      book.expires_at_ms != 0) {
    batch->details.emplace_back(index, book.position, book.retry_after_ms, book.opens_in_ms,
                                book.expires_at_ms);
  }
}

void add_item_refusal(std::uint32_t index, Outcome outcome, Reason reason, BookBatchRecord* batch) {
  ADMIT_ASSERT(batch->results.size() == index);
  batch->results.emplace_back(0, 0, to_wire(outcome), static_cast<std::uint8_t>(reason));
}

void refuse(Outcome outcome, std::string_view message, ShardResult* result) {
  clear_result(result);
  result->outcome = outcome;
  result->message.assign_cut(message);
}

}  // namespace admit::server
