#include "storage/command.h"

#include <bit>
#include <iterator>

#include "protocol/assertions.h"

namespace admit::storage {

namespace {

// Past this many changes the walks stop: the default server (`./dev serve`)
// is a build with ADMIT_VERIFY on, and walking millions of bookings would
// stall its reactor for seconds. Tests, the simulator and the fuzz targets
// stay far below it.
constexpr std::uint64_t verify_walk_changes_max = std::uint64_t{1} << 16;

// ADMIT_VERIFY's tier: the whole state is walked each time the machine's
// change count passes a power of two, so the walks cost O(1) per change
// amortized (the state grows at most by a bounded amount per change) and a
// broken invariant is caught soon after it breaks in a small test.
void verify_now_and_then(const StateMachine& machine, std::uint64_t changes_before) {
  const std::uint64_t changes = machine.change_count();
  if (changes != changes_before && changes <= verify_walk_changes_max &&
      std::bit_floor(changes) > changes_before) {
    machine.check_invariants();
  }
}

CommandResult dispatch(StateMachine& machine, CommandKind kind, const Command& c,
                       std::int64_t now_ms) {
  switch (kind) {
    case CommandKind::create_event:
      return machine.create_event(
          {.id = c.event.view(), .config = c.config, .same_is_ok = c.same_is_ok}, now_ms);
    case CommandKind::update_event:
      return machine.update_event({.id = c.event.view(), .patch = c.patch}, now_ms);
    case CommandKind::book:
      return machine.book({.event = c.event.view(),
                           .user = c.user.view(),
                           .seats = c.seats,
                           .hold = c.hold,
                           .waitlist = c.waitlist,
                           .request_id = c.request_id.view()},
                          now_ms);
    case CommandKind::confirm:
      return machine.confirm({.ref = c.ref.view(), .request_id = c.request_id.view()}, now_ms);
    case CommandKind::cancel:
      return machine.cancel({.ref = c.ref.view(), .request_id = c.request_id.view()}, now_ms);
    case CommandKind::leave_waitlist:
      return machine.leave_waitlist(
          {.event = c.event.view(), .user = c.user.view(), .request_id = c.request_id.view()},
          now_ms);
    case CommandKind::expire:
      return machine.expire(now_ms, c.steps_max);
  }
  ADMIT_UNREACHABLE("apply: not a command kind");
}

}  // namespace

const char* command_name(CommandKind kind) {
  static constexpr const char* names[] = {"CreateEvent", "UpdateEvent",   "Book",  "Confirm",
                                          "Cancel",      "LeaveWaitlist", "Expire"};
  static_assert(std::size(names) == command_kind_last);
  const auto index = static_cast<std::uint8_t>(kind);
  ADMIT_ASSERT(index >= 1 && index <= command_kind_last);
  return names[index - 1];
}

CommandResult apply(StateMachine& machine, CommandKind kind, const Command& command,
                    std::int64_t now_ms) {
  const std::uint64_t changes_before = machine.change_count();
  CommandResult result = dispatch(machine, kind, command, now_ms);
  if constexpr (verify_enabled) verify_now_and_then(machine, changes_before);
  return result;
}

Command command_of(const CreateEventCommand& create) {
  Command command;
  command.event.assign(create.id);
  command.config = create.config;
  command.same_is_ok = create.same_is_ok;
  return command;
}

Command command_of(const UpdateEventCommand& update) {
  Command command;
  command.event.assign(update.id);
  command.patch = update.patch;
  return command;
}

Command command_of(const BookCommand& book) {
  Command command;
  command.event.assign(book.event);
  command.user.assign(book.user);
  command.seats = book.seats;
  command.hold = book.hold;
  command.waitlist = book.waitlist;
  command.request_id.assign(book.request_id);
  return command;
}

Command command_of(const RefCommand& confirm_or_cancel) {
  Command command;
  command.ref.assign(confirm_or_cancel.ref);
  command.request_id.assign(confirm_or_cancel.request_id);
  return command;
}

Command command_of(const LeaveWaitlistCommand& leave) {
  Command command;
  command.event.assign(leave.event);
  command.user.assign(leave.user);
  command.request_id.assign(leave.request_id);
  return command;
}

Command expire_command(std::uint32_t steps_max) {
  Command command;
  command.steps_max = steps_max;
  return command;
}

}  // namespace admit::storage
