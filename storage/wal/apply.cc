#include <bit>
#include <type_traits>

#include "protocol/assertions.h"
#include "storage/wal/command.h"

namespace admit::storage::wal {

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

CommandResult dispatch(StateMachine& machine, const Command& command, std::int64_t now_ms) {
  return std::visit(
      [&](const auto& c) -> CommandResult {
        using C = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<C, CreateEvent>) {
          return machine.create_event({.id = c.id, .config = c.config, .same_is_ok = c.same_is_ok},
                                      now_ms);
        } else if constexpr (std::is_same_v<C, UpdateEvent>) {
          return machine.update_event({.id = c.id, .patch = c.patch}, now_ms);
        } else if constexpr (std::is_same_v<C, Book>) {
          return machine.book({.event = c.event,
                               .user = c.user,
                               .seats = c.seats,
                               .hold = c.hold,
                               .waitlist = c.waitlist,
                               .request_id = c.request_id},
                              now_ms);
        } else if constexpr (std::is_same_v<C, Confirm>) {
          return machine.confirm({.ref = c.ref, .request_id = c.request_id}, now_ms);
        } else if constexpr (std::is_same_v<C, Cancel>) {
          return machine.cancel({.ref = c.ref, .request_id = c.request_id}, now_ms);
        } else if constexpr (std::is_same_v<C, LeaveWaitlist>) {
          return machine.leave_waitlist(
              {.event = c.event, .user = c.user, .request_id = c.request_id}, now_ms);
        } else {
          static_assert(std::is_same_v<C, Expire>);
          return machine.expire(now_ms, c.steps_max);
        }
      },
      command);
}

}  // namespace

CommandResult apply(StateMachine& machine, const Command& command, std::int64_t now_ms) {
  const std::uint64_t changes_before = machine.change_count();
  CommandResult result = dispatch(machine, command, now_ms);
  if constexpr (verify_enabled) verify_now_and_then(machine, changes_before);
  return result;
}

}  // namespace admit::storage::wal
