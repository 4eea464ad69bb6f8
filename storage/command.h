// A change to one shard's state machine as one fixed-size, trivially copyable
// value. It is what the server's edge decodes a request into (the server's
// ShardCommand extends it with what only the server needs), what crosses a
// ring to the owning shard, what apply() runs, what the log records field by
// field (wal/command.h) and what recovery decodes and applies again: a
// `Book` has this one form from the edge into the log.
//
// Its kind travels beside it, not in it: the server derives it from the
// request's operation, and a log record keeps it in its header.
#pragma once

#include <cstdint>
#include <variant>

#include "admit/limits.h"
#include "protocol/booking_ref.h"
#include "protocol/fixed_string.h"
#include "storage/state_machine.h"

namespace admit::storage {

// The machine's state-changing calls. The values are the WAL records' kind
// byte: append-only.
enum class CommandKind : std::uint8_t {
  create_event = 1,
  update_event = 2,
  book = 3,
  confirm = 4,
  cancel = 5,
  leave_waitlist = 6,
  expire = 7,
};
inline constexpr std::uint8_t command_kind_last = 7;

// Each field names the kinds that read it; the others leave it alone.
struct Command {
  FixedString<event_id_size_max> event;         // book, leave_waitlist; the id of create/update
  FixedString<user_size_max> user;              // book, leave_waitlist
  FixedString<request_id_size_max> request_id;  // book, confirm, cancel, leave_waitlist
  FixedString<booking_ref_size> ref;            // confirm, cancel
  std::uint32_t seats = 1;                      // book
  bool hold = false;                            // book
  WaitlistChoice waitlist = WaitlistChoice::by_default;  // book
  EventConfig config;                                    // create_event
  // create_event from PUT: the same event existing is OK. Not logged: a
  // create that finds its event changes nothing, so a replayed one never does.
  bool same_is_ok = false;
  EventPatch patch;                            // update_event
  std::uint32_t steps_max = expire_steps_max;  // expire: StateMachine::expire's bound
};

// "CreateEvent", "Book", "Expire", ... (logs, admit-wal).
const char* command_name(CommandKind kind);

using ExpireResult = ExpireReport;

// One alternative per kind: CreateEvent/UpdateEvent -> EventResult, Book ->
// BookResult, Confirm/Cancel -> BookingResult, LeaveWaitlist ->
// WaitlistResult, Expire -> ExpireResult. Views inside point into the machine
// (see state_machine.h) and stay valid until its next mutating call.
using CommandResult =
    std::variant<EventResult, BookResult, BookingResult, WaitlistResult, ExpireResult>;

// Calls the machine's method for `kind` with `now_ms`. Where ADMIT_VERIFY
// runs (protocol/assertions.h), it also checks the machine's invariants each
// time its change count passes a power of two.
CommandResult apply(StateMachine& machine, CommandKind kind, const Command& command,
                    std::int64_t now_ms);

// The fixed form of the machine's own commands, for tools, tests and seeds.
// Their strings are within the protocol limits (asserted).
Command command_of(const CreateEventCommand& create);
Command command_of(const UpdateEventCommand& update);
Command command_of(const BookCommand& book);
Command command_of(const RefCommand& confirm_or_cancel);
Command command_of(const LeaveWaitlistCommand& leave);
Command expire_command(std::uint32_t steps_max);

}  // namespace admit::storage
