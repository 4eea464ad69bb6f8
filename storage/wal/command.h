// State-changing commands as values, and their WAL record codec.
//
// The server routes every mutating request through apply() and logs the
// command (with the `now_ms` it used) iff StateMachine::change_count() moved.
// Recovery decodes the records and calls the same apply() with the same
// timestamps, so replay re-applies exactly what happened.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "admit/limits.h"
#include "storage/state_machine.h"

namespace admit::storage::wal {

// Owning mirrors of the state machine's commands (which hold string_views).
struct CreateEvent {
  std::string id;
  EventConfig config;
  // Not logged: a create that finds its event changes nothing, so a replayed
  // create never meets one (CreateEventCommand::same_is_ok).
  bool same_is_ok = false;
};

struct UpdateEvent {
  std::string id;
  EventPatch patch;
};

struct Book {
  std::string event;
  std::string user;
  std::uint32_t seats = 1;
  bool hold = false;
  WaitlistChoice waitlist = WaitlistChoice::by_default;
  std::string request_id;
};

struct Confirm {
  std::string ref;
  std::string request_id;
};

struct Cancel {
  std::string ref;
  std::string request_id;
};

struct LeaveWaitlist {
  std::string event;
  std::string user;
  std::string request_id;
};

// StateMachine::expire(now_ms, steps_max): hold expiry and request-id
// retention. Records of format version 1 carried no limit: unbounded.
struct Expire {
  std::uint32_t steps_max = expire_steps_max;
};
// The limit version 1 records decode to (their expire() had none).
inline constexpr std::uint32_t expire_steps_unbounded = UINT32_MAX;

using Command =
    std::variant<CreateEvent, UpdateEvent, Book, Confirm, Cancel, LeaveWaitlist, Expire>;

using ExpireResult = ExpireReport;

// One alternative per command kind, in Command's order where they differ:
// CreateEvent/UpdateEvent -> EventResult, Book -> BookResult,
// Confirm/Cancel -> BookingResult, LeaveWaitlist -> WaitlistResult,
// Expire -> ExpireResult. Views inside point into the machine (see
// state_machine.h) and stay valid until its next mutating call.
using CommandResult =
    std::variant<EventResult, BookResult, BookingResult, WaitlistResult, ExpireResult>;

// Calls the matching StateMachine method with `now_ms`. Where ADMIT_VERIFY
// runs (protocol/assertions.h), it also checks the machine's invariants each
// time its change count passes a power of two.
CommandResult apply(StateMachine& machine, const Command& command, std::int64_t now_ms);

// ---- record codec ----
//
// A record is a 16-byte header then the body, all little-endian:
//   u64 checksum   xxh3_64 of every byte after this field
//   u8  version    record_format_version
//   u8  kind       1 + Command::index()
//   u16 reserved   0
//   u32 body_size  bytes after the header
//   body: i64 now_ms, then the command's fields in declaration order;
//   strings are u16 length + bytes; UpdateEvent's optionals are a u16
//   presence mask (bit i = i-th field of EventPatch) then the present values.

// 2: Expire carries its steps_max. Version 1 records still decode.
inline constexpr std::uint8_t record_format_version = 2;
inline constexpr std::size_t record_header_size = 16;
// Every string field of a record; above every protocol limit, so anything the
// server's edge accepted encodes. Longer input is a bug at the edge (asserted).
inline constexpr std::size_t record_string_size_max = 4096;
static_assert(record_string_size_max >= event_id_size_max);
static_assert(record_string_size_max >= user_size_max);
static_assert(record_string_size_max >= request_id_size_max);
// The largest body: UpdateEvent/CreateEvent/Book stay far below this.
inline constexpr std::size_t record_size_max =
    record_header_size + 8 + 3 * (2 + record_string_size_max) + 128;

// Appends the record of `command` at `now_ms` to `out` (no other change to it).
void encode(const Command& command, std::int64_t now_ms, std::vector<std::uint8_t>& out);

struct DecodedRecord {
  Command command;
  std::int64_t now_ms = 0;
};

// Checks the checksum, version, kind, sizes, string limits and enum values.
// On any failure returns false with a reason in `why` ("checksum mismatch",
// "unknown record version 7", ...) and leaves `out` unspecified.
bool decode(std::span<const std::uint8_t> bytes, DecodedRecord& out, std::string* why);

// The command's name, "Book", "Expire", ... (for logs and admit-wal).
const char* command_name(const Command& command);

}  // namespace admit::storage::wal
