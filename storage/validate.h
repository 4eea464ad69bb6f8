// Validation of state-machine commands against protocol/protocol_limits.h.
// The state machine runs these on every command; the server may run the same
// functions at the edge. Each returns an empty view when the input is fine,
// else a static message naming the field ("seats: must be 1..1000000000").
#pragma once

#include <cstdint>
#include <string_view>

#include "storage/state_machine.h"

namespace admit::storage {

bool is_valid_utf8(std::string_view text);

std::string_view check_event_id(std::string_view event);   // names `event`
std::string_view check_new_event_id(std::string_view id);  // names `id`
std::string_view check_user(std::string_view user);
std::string_view check_request_id(std::string_view request_id);  // empty is fine
std::string_view check_seats(std::uint32_t seats);
std::string_view check_list_limit(std::uint32_t limit);
std::string_view check_event_config(const EventConfig& config);
// Checks the patch's fields, then the config they would produce from `current`.
std::string_view check_event_patch(const EventPatch& patch, const EventConfig& current);

std::string_view check_book(const BookCommand& command);
// check_book() without the event id (for a caller that found the event).
std::string_view check_book_fields(const BookCommand& command);
// Also checks the ref's format ("ref: not a booking ref").
std::string_view check_ref_command(const RefCommand& command);
std::string_view check_leave_waitlist(const LeaveWaitlistCommand& command);

// `config` with `patch` applied (no validation).
EventConfig patched(const EventConfig& config, const EventPatch& patch);

}  // namespace admit::storage
