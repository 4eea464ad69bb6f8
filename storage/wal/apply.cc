#include <type_traits>

#include "storage/wal/command.h"

namespace admit::storage::wal {

CommandResult apply(StateMachine& machine, const Command& command, std::int64_t now_ms) {
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

}  // namespace admit::storage::wal
