// Routing: a request's method and target to one operation of DESIGN.md's
// route table, with its path parameters percent-decoded and bounded, and the
// query parameters of the routes that take them (`after`, `limit`). Knows
// nothing of bodies, auth or shards.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "admit/limits.h"
#include "protocol/booking_ref.h"
#include "server/http/request_parser.h"
#include "server/shard_command.h"

namespace admit::server::http {

enum class Route : std::uint8_t {
  create_event,       // POST /v1/events
  put_event,          // PUT /v1/events/{id}
  get_event,          // GET /v1/events/{id}
  update_event,       // PATCH /v1/events/{id}
  list_events,        // GET /v1/events?after=&limit=
  book,               // POST /v1/events/{id}/bookings
  list_bookings,      // GET /v1/events/{id}/bookings?after=&limit=
  get_booking,        // GET /v1/bookings/{ref}
  cancel,             // DELETE /v1/bookings/{ref}
  confirm,            // POST /v1/bookings/{ref}/confirm
  waitlist_position,  // GET /v1/events/{id}/waitlist/{user}
  leave_waitlist,     // DELETE /v1/events/{id}/waitlist/{user}
  stats,              // GET /v1/stats
  metrics,            // GET /metrics
  healthz,            // GET /healthz
  watch,              // GET /v1/events/{id}/watch (Server-Sent Events)
  page,               // GET / (the live sale page, live_page.h)
};

// The operation a route does (protocol/operations.h): its auth rule and its
// /metrics label. POST /v1/events and PUT /v1/events/{id} both create.
Op op_of(Route route);

// A routed request's parameters, decoded. Which are set depends on the route.
struct Target {
  Route route = Route::healthz;
  FixedString<event_id_size_max> id;     // {id}
  FixedString<user_size_max> user;       // {user}
  FixedString<booking_ref_size> ref;     // {ref}, checked to be a booking ref
  FixedString<event_id_size_max> after;  // ?after= (list_events: an id; list_bookings: a ref)
  std::uint32_t limit = 0;               // ?limit=, 0 when absent
};

struct RouteError {
  int status = 404;        // 400 (bad parameter), 404 (no such path) or 405
  std::string message;     // "route: ...", "method: ...", or naming the parameter
  std::string_view allow;  // 405: the Allow header's value
};

// Fills `target` and returns true, or fills `error`.
bool route(Method method, std::string_view request_target, Target* target, RouteError* error);

}  // namespace admit::server::http
