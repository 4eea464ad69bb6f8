// The WAL record codec of the machine's commands (storage/command.h).
//
// The server runs every mutating request's command through storage::apply()
// and logs that same value (with the `now_ms` it used) iff
// StateMachine::change_count() moved. Recovery decodes the records into
// commands and calls the same apply() with the same timestamps, so replay
// re-applies exactly what happened.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "admit/limits.h"
#include "storage/command.h"

namespace admit::storage::wal {

// The limit version 1 Expire records decode to (their expire() had none).
inline constexpr std::uint32_t expire_steps_unbounded = UINT32_MAX;

// ---- record codec ----
//
// A record is a 16-byte header then the body, all little-endian:
//   u64 checksum   xxh3_64 of every byte after this field
//   u8  version    record_format_version
//   u8  kind       CommandKind
//   u16 reserved   0
//   u32 body_size  bytes after the header
//   body: i64 now_ms, then the fields of for_each_field(kind); strings are
//   u16 length + bytes, enums and bools u8, EventConfig its fields in order,
//   EventPatch a u16 presence mask (bit i = i-th field) then the present
//   values.

// 2: Expire carries its steps_max. Version 1 records still decode.
inline constexpr std::uint8_t record_format_version = 2;
inline constexpr std::size_t record_header_size = 16;
// A record's strings are at most their Command field's capacity (the
// protocol limits): every command encodes, and a longer string in a record
// is refused by decode(), naming the field.
// The largest record, with room to spare: a Book with every string full.
inline constexpr std::size_t record_size_max = record_header_size + 8 + 2 + event_id_size_max + 2 +
                                               user_size_max + 2 + request_id_size_max + 128;

// The fields a record of `kind` carries, in record order: the one list that
// encode(), decode() and admit-wal walk. Calls visit(field, name) for each;
// a field is a FixedString, std::uint32_t, bool, WaitlistChoice, EventConfig
// or EventPatch of `command` (const or not).
template <class SomeCommand, class Visit>
void for_each_field(CommandKind kind, SomeCommand& command, Visit&& visit) {
  switch (kind) {
    case CommandKind::create_event:
      visit(command.event, "id");
      return visit(command.config, "config");
    case CommandKind::update_event:
      visit(command.event, "id");
      return visit(command.patch, "patch");
    case CommandKind::book:
      visit(command.event, "event");
      visit(command.user, "user");
      visit(command.seats, "seats");
      visit(command.hold, "hold");
      visit(command.waitlist, "waitlist");
      return visit(command.request_id, "request_id");
    case CommandKind::confirm:
    case CommandKind::cancel:
      visit(command.ref, "ref");
      return visit(command.request_id, "request_id");
    case CommandKind::leave_waitlist:
      visit(command.event, "event");
      visit(command.user, "user");
      return visit(command.request_id, "request_id");
    case CommandKind::expire:
      return visit(command.steps_max, "steps_max");  // format 1: absent (decode())
  }
}

// Appends the record of `command` of `kind` at `now_ms` to `out` (no other
// change to it).
void encode(CommandKind kind, const Command& command, std::int64_t now_ms,
            std::vector<std::uint8_t>& out);

// A record: the command, its kind and the time apply() ran it at.
struct Record {
  CommandKind kind = CommandKind::expire;
  Command command;
  std::int64_t now_ms = 0;
};

// Checks the checksum, version, kind, sizes, string limits and enum values.
// On any failure returns false with a reason in `why` ("checksum mismatch",
// "unknown record version 7", ...) and leaves `out` unspecified.
bool decode(std::span<const std::uint8_t> bytes, Record& out, std::string* why);

}  // namespace admit::storage::wal
