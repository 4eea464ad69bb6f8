// Commands for a shard's state machine and their results, as fixed-size,
// trivially copyable values: the same types serve a request applied on the
// receiving shard and one copied into a cross-shard ring slot. Strings are
// bounded by the protocol limits, which the request decoder checks before
// anything is copied here.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "admit/limits.h"
#include "protocol/assertions.h"
#include "protocol/booking_ref.h"
#include "protocol/enums.h"
#include "protocol/fixed_string.h"
#include "protocol/operations.h"
#include "server/server_limits.h"
#include "storage/command.h"
#include "storage/state_machine.h"

namespace admit::server {

// An event as published: config, counters and version, with its id inline.
struct EventSnapshot {
  FixedString<event_id_size_max> id;
  storage::EventConfig config;
  std::uint64_t version = 0;
  std::uint32_t available = 0, held = 0, confirmed = 0, waitlisted = 0;
  std::uint32_t watchers = 0;  // filled by EventDirectory on read (not by the owner)

  static EventSnapshot of(const storage::EventView& view);
};

struct BookingRecord {
  BookingRef ref;
  FixedString<event_id_size_max> event;
  FixedString<user_size_max> user;
  std::uint32_t seats = 0;
  BookingState state = BookingState::held;
  std::int64_t created_at_ms = 0;
  std::int64_t expires_at_ms = 0;

  static BookingRecord of(const storage::BookingView& view);
};

// ListBookings answers travel by pointer: a page is up to list_limit_max
// bookings, too big for a ring slot, and not on the hot path.
struct BookingPageRecord {
  std::vector<BookingRecord> bookings;
  std::optional<BookingRef> next_after;
};

// A BookBatch on its way to its owner and back: the items (views into the
// request frame where it arrived, or into `bytes` once forwarded) and, once
// applied, their answers. Applied where it arrived, it is the reactor's
// reused record; forwarded, a heap record that travels in the ring slots and
// is freed by whoever takes the answer out of its slot (as a page is).
struct BookBatchRecord {
  std::span<const wire::BookItem> items;
  std::span<const std::uint8_t> texts;  // the items' users and request ids, back to back
  std::vector<std::uint8_t> bytes;      // forwarded: owns what items and texts view
  std::vector<wire::BookItemResult> results;
  std::vector<wire::BookItemDetail> details;

  // A heap copy of `items` and `texts`, for a ring slot.
  static BookBatchRecord* copy_of(std::span<const wire::BookItem> items,
                                  std::span<const std::uint8_t> texts);
  // Each item with its user and request id: visit(index, item, user, request_id).
  // The decoder checked that the sizes add up to texts.
  template <class Visit>
  void for_each(Visit&& visit) const {
    std::size_t at = 0;
    for (std::size_t i = 0; i < items.size(); ++i) {
      const wire::BookItem& item = items[i];
      ADMIT_ASSERT(at + item.user_size() + item.request_id_size() <= texts.size());
      const auto* text = reinterpret_cast<const char*>(texts.data()) + at;
      visit(i, item, std::string_view(text, item.user_size()),
            std::string_view(text + item.user_size(), item.request_id_size()));
      at += item.user_size() + item.request_id_size();
    }
  }
};

// An owned operation (is_owned(op)) on its way to the owner's machine: the
// machine's Command (storage/command.h) for a mutation, which apply() runs
// and the log records as it is, plus what only the server reads. An event
// read by its owner (get_event) comes in order after the connection's
// earlier requests (HTTP pipelining: a GET after a write sees it); other
// event reads come from the published directory without a hop. Reads use the
// Command's fields too: event, user, and `ref` (list_bookings: the page's
// `after`).
struct ShardCommand : storage::Command {
  Op op = Op::book;
  std::uint32_t limit = 0;  // list_bookings, resolved (1..list_limit_max)
  // Set when the request came with a token bound to this user (a `sub`):
  // confirm, cancel and get_booking then touch only this user's bookings,
  // checked by the owner, which knows the booking (may_act_on_booking()).
  FixedString<user_size_max> acting_user;
  BookBatchRecord* batch = nullptr;  // book_batch: its items (see BookBatchRecord)
};

enum class ResultKind : std::uint8_t {
  none,
  event,
  book,
  booking,
  waitlist,
  booking_page,
  book_batch
};

struct ShardResult {
  Op op = Op::book;  // the command answered (ShardCore::apply sets it)
  Outcome outcome = Outcome::invalid;
  Reason reason = Reason::none;           // the machine's answers: rendered at the edge
  FixedString<message_size_max> message;  // the server's own refusals (reason none)
  ResultKind kind = ResultKind::none;
  EventSnapshot event;
  storage::BookResult book;
  BookingRecord booking;
  storage::WaitlistResult waitlist;
  BookingPageRecord* page = nullptr;  // owned by whoever holds the result; see take_page()
  // book_batch: the command's record, answers filled (book_batch kind) or
  // not (a refusal of the whole batch); see BookBatchRecord for its owner.
  BookBatchRecord* batch = nullptr;

  // What a client reads: the server's own message when there is one (it may
  // say more than its reason, e.g. which storage failure), else the reason's.
  std::string_view text() const { return message.size != 0 ? message.view() : reason_text(reason); }

  // Ownership of a ListBookings page passes to the caller.
  BookingPageRecord* take_page() { return std::exchange(page, nullptr); }
  // Frees what a result taken out of a ring slot owns: its page, its batch.
  void free_attached() {
    delete take_page();
    delete std::exchange(batch, nullptr);
  }
};

static_assert(std::is_trivially_copyable_v<ShardCommand>);
static_assert(std::is_trivially_copyable_v<ShardResult>);

// The shard that executes `command`, read from its operation's routing
// column (protocol/operations.h): the event's owner, or the shard inside the
// ref (which the decoder checked is well formed); nullopt when that shard is
// not one of `shards` (no such booking on this server).
std::optional<std::uint32_t> owner_of(const ShardCommand& command, std::uint32_t shards);

// A read (get_booking, list_bookings, waitlist_position) on the owner's machine.
void execute_read(const storage::StateMachine& machine, const ShardCommand& command,
                  ShardResult* result);

// The machine's command kind of a mutation (is_mutation(op)) but book_batch,
// whose items are each a book.
storage::CommandKind command_kind_of(Op op);

// storage::apply()'s result, copied (views included) into `result`.
void take_result(const storage::CommandResult& from, ShardResult* result);

// False, with `result` an UNAUTHORIZED refusal, when `command` has an
// acting_user and names (by ref) a booking of another user. Nothing changes.
bool may_act_on_booking(const storage::StateMachine& machine, const ShardCommand& command,
                        ShardResult* result);

// A BookBatch item's fields the command form cannot hold (a user or request
// id past its limit, an unknown waitlist choice); none when they fit. The
// machine checks the rest as for any Book.
Reason check_book_item(const wire::BookItem& item, std::string_view user,
                       std::string_view request_id);
// `book`'s fields from a BookBatch item (the event is the caller's).
void assign_book_item(const wire::BookItem& item, std::string_view user,
                      std::string_view request_id, ShardCommand* book);
// Item `index`'s answer, a single Book's `answer`, appended to `batch`.
void add_item_answer(std::uint32_t index, const ShardResult& answer, BookBatchRecord* batch);
// Item `index` refused before the machine, for `reason`.
void add_item_refusal(std::uint32_t index, Outcome outcome, Reason reason, BookBatchRecord* batch);

// A result slot made ready for a new answer. Only what every reader looks
// at: `kind` says which of the other members hold anything (assigning a whole
// ShardResult{} would zero and copy its ~800 bytes per request).
void clear_result(ShardResult* result);

// A mutation refused before it touched the machine.
void refuse(Outcome outcome, std::string_view message, ShardResult* result);

}  // namespace admit::server
