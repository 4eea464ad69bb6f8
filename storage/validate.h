// Validation of state-machine commands against include/admit/limits.h.
// The state machine runs these on every command; the server may run the same
// functions at the edge. Each returns Reason::none when the input is fine,
// else the code of the field at fault (its text names the field:
// reason_text(Reason::seats_invalid) is "seats: must be 1..1000000000").
#pragma once

#include <cstdint>
#include <string_view>

#include "protocol/utf8.h"
#include "storage/state_machine.h"

namespace admit::storage {

using admit::is_valid_utf8;  // the wire's rule (protocol/utf8.h)

Reason check_event_id(std::string_view event);   // names `event`
Reason check_new_event_id(std::string_view id);  // names `id`
Reason check_user(std::string_view user);
Reason check_request_id(std::string_view request_id);  // empty is fine
Reason check_seats(std::uint32_t seats);
Reason check_list_limit(std::uint32_t limit);
Reason check_event_config(const EventConfig& config);
// Checks the patch's fields, then the config they would produce from `current`.
Reason check_event_patch(const EventPatch& patch, const EventConfig& current);

Reason check_book(const BookCommand& command);
// check_book() without the event id (for a caller that found the event).
Reason check_book_fields(const BookCommand& command);
// Also checks the ref's format ("ref: not a booking ref").
Reason check_ref_command(const RefCommand& command);
Reason check_leave_waitlist(const LeaveWaitlistCommand& command);

// `config` with `patch` applied (no validation).
EventConfig patched(const EventConfig& config, const EventPatch& patch);

}  // namespace admit::storage
