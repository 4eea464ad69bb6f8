// Every operation of both protocols, declared once (TigerBeetle's
// `Operation`, Dragonfly's command registry): its name (as /metrics labels
// it, and the `Op` enumerator), its wire table, whether it changes state,
// where it is routed, whether a client may send it again without a request
// id, and who may call it. The server's and the client's enums, is_mutation,
// metric names, routing, retry and auth decisions are derived from this
// table; the switches that remain (decoders, dispatch, encoders) are
// exhaustive over `Op`, so -Wswitch names every place a new operation needs.
// protocol/README.md lists them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "protocol/admit_generated.h"
#include "protocol/token.h"

namespace admit {

// What an operation does to the owner's state machine.
enum class Effect : std::uint8_t {
  read,      // changes no state (a connection's watches are not state)
  mutation,  // changes state: applied and logged (the WAL), answered once durable
};

// Which shard answers.
enum class Routing : std::uint8_t {
  event,       // the shard that owns the event id (protocol/shard.h)
  ref,         // the shard named in the booking ref
  any,         // any shard: from the published directory or every shard's counters
  connection,  // the connection's own shard: state of the connection (hello, watches)
};

// Whether a client may send the operation again after a transport failure.
enum class Retry : std::uint8_t {
  safe,     // a read, or idempotent by nature: create (INVALID once it exists),
            // update (the same config), confirm and cancel (the same end state)
  with_id,  // only when it carries a request id, which the owner remembers
};

// The least token role an operation needs (DESIGN.md "Auth"); `none`: no
// token at all (Hello carries the token; /healthz and the page are public).
enum class Least : std::uint8_t { none, read, app, admin };

// What a token's `sub` restricts.
enum class SubRule : std::uint8_t {
  none,            // the operation names no user
  user_is_sub,     // the request's user must be the sub
  booking_of_sub,  // the booking's user must be the sub (known on its owner)
  refused,         // lists every user's bookings: not for a token bound to one user
};

// The table. Columns: name, wire table (NONE: HTTP only), effect, routing,
// retry, least role, sub rule. The order is /metrics's.
// clang-format off
#define ADMIT_OPERATIONS(X)                                                                    \
  X(hello,             Hello,            read,     connection, safe,    none,  none)           \
  X(create_event,      CreateEvent,      mutation, event,      safe,    admin, none)           \
  X(update_event,      UpdateEvent,      mutation, event,      safe,    admin, none)           \
  X(get_event,         GetEvent,         read,     event,      safe,    read,  none)           \
  X(list_events,       ListEvents,       read,     any,        safe,    read,  none)           \
  X(book,              Book,             mutation, event,      with_id, app,   user_is_sub)    \
  X(book_batch,        BookBatch,        mutation, event,      with_id, app,   user_is_sub)    \
  X(confirm,           Confirm,          mutation, ref,        safe,    app,   booking_of_sub) \
  X(cancel,            Cancel,           mutation, ref,        safe,    app,   booking_of_sub) \
  X(get_booking,       GetBooking,       read,     ref,        safe,    read,  booking_of_sub) \
  X(list_bookings,     ListBookings,     read,     event,      safe,    read,  refused)        \
  X(waitlist_position, WaitlistPosition, read,     event,      safe,    read,  user_is_sub)    \
  X(leave_waitlist,    LeaveWaitlist,    mutation, event,      with_id, app,   user_is_sub)    \
  X(stats,             Stats,            read,     any,        safe,    read,  none)           \
  X(metrics,           NONE,             read,     any,        safe,    read,  none)           \
  X(healthz,           NONE,             read,     any,        safe,    none,  none)           \
  X(watch,             Watch,            read,     connection, safe,    read,  none)           \
  X(unwatch,           Unwatch,          read,     connection, safe,    read,  none)           \
  X(page,              NONE,             read,     any,        safe,    none,  none)
// clang-format on

enum class Op : std::uint8_t {
#define ADMIT_OP_ENUMERATOR(name, wire_table, effect, routing, retry, least, sub) name,
  ADMIT_OPERATIONS(ADMIT_OP_ENUMERATOR)
#undef ADMIT_OP_ENUMERATOR
};

struct OperationInfo {
  std::string_view name;
  wire::Op wire;
  Effect effect;
  Routing routing;
  Retry retry;
  Least least;
  SubRule sub;
};

inline constexpr std::array operations = std::to_array<OperationInfo>({
#define ADMIT_OP_INFO(name, wire_table, effect, routing, retry, least, sub) \
  {#name,        wire::Op::wire_table, Effect::effect, Routing::routing,    \
   Retry::retry, Least::least,         SubRule::sub},
    ADMIT_OPERATIONS(ADMIT_OP_INFO)
#undef ADMIT_OP_INFO
});
inline constexpr std::size_t op_count = operations.size();

constexpr const OperationInfo& op_info(Op op) { return operations[static_cast<std::size_t>(op)]; }
constexpr std::string_view op_name(Op op) { return op_info(op).name; }
constexpr bool is_mutation(Op op) { return op_info(op).effect == Effect::mutation; }
// Executed by the owner's state machine: a ShardCommand carries it there.
constexpr bool is_owned(Op op) {
  return op_info(op).routing == Routing::event || op_info(op).routing == Routing::ref;
}
// Safe to send again after a transport failure, given whether it carries a request id.
constexpr bool retry_safe(Op op, bool has_request_id) {
  return op_info(op).retry == Retry::safe || has_request_id;
}
// The least role, or nullopt when the operation needs no token.
constexpr std::optional<jwt::Role> least_role(Op op) {
  switch (op_info(op).least) {
    case Least::none:
      return std::nullopt;
    case Least::read:
      return jwt::Role::read;
    case Least::app:
      return jwt::Role::app;
    case Least::admin:
      return jwt::Role::admin;
  }
  return jwt::Role::admin;
}

// The operation a wire request carries; nullopt for NONE or a table this
// build does not know.
constexpr std::optional<Op> op_of(wire::Op wire) {
  for (std::size_t i = 0; i < op_count; ++i) {
    if (operations[i].wire == wire && wire != wire::Op::NONE) return static_cast<Op>(i);
  }
  return std::nullopt;
}

// Checks on the table itself: every wire table has one operation, and what
// changes state is owned by a shard that logs it.
constexpr bool every_wire_table_has_one_op() {
  for (auto wire = static_cast<std::uint8_t>(wire::Op::MIN) + 1;
       wire <= static_cast<std::uint8_t>(wire::Op::MAX); ++wire) {
    std::size_t found = 0;
    for (const OperationInfo& op : operations) found += op.wire == static_cast<wire::Op>(wire);
    if (found != 1) return false;
  }
  return true;
}
static_assert(every_wire_table_has_one_op());
constexpr bool mutations_are_owned() {
  for (std::size_t i = 0; i < op_count; ++i) {
    if (is_mutation(static_cast<Op>(i)) && !is_owned(static_cast<Op>(i))) return false;
  }
  return true;
}
static_assert(mutations_are_owned());

}  // namespace admit
