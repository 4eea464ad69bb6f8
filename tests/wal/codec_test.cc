// The WAL record codec: every command kind round-trips; damaged bytes are
// refused with a reason, never decoded into something else.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <cstring>

#include "storage/wal/command.h"

namespace admit::storage::wal {
namespace {

// A command with its kind (now_ms unused here: encoded() takes it).
using Kinded = Record;

std::vector<std::uint8_t> encoded(const Kinded& command, std::int64_t now_ms) {
  std::vector<std::uint8_t> bytes;
  encode(command.kind, command.command, now_ms, bytes);
  return bytes;
}

Kinded book(const BookCommand& book) {
  return {.kind = CommandKind::book, .command = command_of(book)};
}

Kinded update(const UpdateEventCommand& update) {
  return {.kind = CommandKind::update_event, .command = command_of(update)};
}

std::string long_event_id() { return std::string(event_id_size_max, 'e'); }

Kinded expire(std::uint32_t steps_max) {
  return {.kind = CommandKind::expire, .command = expire_command(steps_max)};
}

// Recomputes the checksum after a deliberate edit, so the check under test
// is the one behind the checksum.
void reseal(std::vector<std::uint8_t>& bytes) {
  const std::uint64_t sum = XXH3_64bits(bytes.data() + 8, bytes.size() - 8);
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<std::uint8_t>(sum >> (8 * i));
}

std::vector<Kinded> every_kind() {
  EventConfig config;
  config.capacity = 500;
  config.per_user_max = 4;
  config.hold_ttl_ms = 120'000;
  config.waitlist = true;
  config.waitlist_max = 77;
  config.opens_at_ms = 1'700'000'000'123;
  config.closes_at_ms = -5;
  config.rate_per_s = 10;
  config.rate_burst = 20;
  config.state = EventState::paused;
  EventPatch patch;
  patch.capacity = 0;
  patch.waitlist = false;
  patch.closes_at_ms = 42;
  patch.state = EventState::closed;
  const std::string long_event(event_id_size_max, 'e'), long_user(user_size_max, 'u'),
      long_request(request_id_size_max, 'r');
  return {
      {.kind = CommandKind::create_event,
       .command = command_of(CreateEventCommand{.id = "tour-vip", .config = config})},
      update({.id = "tour-vip", .patch = patch}),
      update({.id = "empty-patch", .patch = {}}),
      book({.event = "tour-vip",
            .user = "user-42",
            .seats = 2,
            .hold = true,
            .waitlist = WaitlistChoice::never,
            .request_id = "r-1"}),
      book(
          {.event = long_event, .user = long_user, .seats = seats_max, .request_id = long_request}),
      {.kind = CommandKind::confirm,
       .command = command_of(RefCommand{.ref = "BK-7M2Q9XK4", .request_id = ""})},
      {.kind = CommandKind::cancel,
       .command = command_of(RefCommand{.ref = "BK-7M2Q9XK4", .request_id = "again"})},
      {.kind = CommandKind::leave_waitlist,
       .command = command_of(LeaveWaitlistCommand{.event = "tour-vip",
                                                  .user = std::string_view("user-\xff\x00x", 8),
                                                  .request_id = "r-9"})},
      expire(expire_steps_max),
      expire(3),
  };
}

TEST(RecordCodec, EveryKindRoundTrips) {
  std::int64_t now_ms = 1'700'000'000'000;
  for (const Kinded& command : every_kind()) {
    SCOPED_TRACE(command_name(command.kind));
    const auto bytes = encoded(command, ++now_ms);
    Record record;
    std::string why;
    ASSERT_TRUE(decode(bytes, record, &why)) << why;
    EXPECT_EQ(record.now_ms, now_ms);
    EXPECT_EQ(record.kind, command.kind);
    EXPECT_EQ(encoded(record, record.now_ms), bytes);  // every field came back
  }
}

TEST(RecordCodec, FieldsComeBackAsWritten) {
  const auto commands = every_kind();
  Record record;
  std::string why;
  ASSERT_TRUE(decode(encoded(commands[1], -7), record, &why)) << why;
  ASSERT_EQ(record.kind, CommandKind::update_event);
  const Command& update = record.command;
  EXPECT_EQ(record.now_ms, -7);
  EXPECT_EQ(update.event.view(), "tour-vip");
  EXPECT_EQ(update.patch.capacity, 0u);
  EXPECT_EQ(update.patch.waitlist, false);
  EXPECT_EQ(update.patch.closes_at_ms, 42);
  EXPECT_EQ(update.patch.state, EventState::closed);
  EXPECT_FALSE(update.patch.per_user_max.has_value());
  EXPECT_FALSE(update.patch.opens_at_ms.has_value());

  ASSERT_TRUE(decode(encoded(commands[3], 1), record, &why)) << why;
  ASSERT_EQ(record.kind, CommandKind::book);
  const Command& book = record.command;
  EXPECT_EQ(book.event.view(), "tour-vip");
  EXPECT_EQ(book.user.view(), "user-42");
  EXPECT_EQ(book.seats, 2u);
  EXPECT_TRUE(book.hold);
  EXPECT_EQ(book.waitlist, WaitlistChoice::never);
  EXPECT_EQ(book.request_id.view(), "r-1");
}

TEST(RecordCodec, AnyFlippedBitIsRefused) {
  for (const Kinded& command : every_kind()) {
    const auto good = encoded(command, 99);
    for (std::size_t i = 0; i < good.size(); ++i) {
      for (int bit : {0, 7}) {
        auto bad = good;
        bad[i] ^= static_cast<std::uint8_t>(1u << bit);
        Record record;
        std::string why;
        EXPECT_FALSE(decode(bad, record, &why)) << command_name(command.kind) << " byte " << i;
        EXPECT_FALSE(why.empty());
      }
    }
  }
}

TEST(RecordCodec, TruncatedAndPaddedRecordsAreRefused) {
  const auto good = encoded(every_kind()[3], 5);
  Record record;
  std::string why;
  for (std::size_t size = 0; size < good.size(); ++size) {
    std::vector<std::uint8_t> cut(good.begin(), good.begin() + static_cast<long>(size));
    EXPECT_FALSE(decode(cut, record, &why)) << size;
  }
  auto padded = good;
  padded.push_back(0);
  padded[12] = static_cast<std::uint8_t>(padded[12] + 1);  // body_size agrees with the padding
  reseal(padded);
  EXPECT_FALSE(decode(padded, record, &why));
  EXPECT_EQ(why, "trailing bytes after the command");
}

TEST(RecordCodec, HeaderChecksBehindTheChecksum) {
  const auto good = encoded(every_kind()[3], 5);
  Record record;
  std::string why;
  auto bad_version = good;
  bad_version[8] = 7;
  reseal(bad_version);
  EXPECT_FALSE(decode(bad_version, record, &why));
  EXPECT_EQ(why, "unknown record version 7");

  auto bad_kind = good;
  bad_kind[9] = 0;
  reseal(bad_kind);
  EXPECT_FALSE(decode(bad_kind, record, &why));
  EXPECT_EQ(why, "unknown command kind 0");
  bad_kind[9] = 8;
  reseal(bad_kind);
  EXPECT_FALSE(decode(bad_kind, record, &why));

  auto reserved = good;
  reserved[10] = 1;
  reseal(reserved);
  EXPECT_FALSE(decode(reserved, record, &why));
}

TEST(RecordCodec, FieldLimitsAndEnumsBehindTheChecksum) {
  Record record;
  std::string why;
  // Book body: now_ms (8), then event: u16 length at offset 24.
  auto long_string = encoded(book({.event = "e", .user = "u", .request_id = ""}), 5);
  long_string[24] = 0xff;
  long_string[25] = 0xff;
  reseal(long_string);
  EXPECT_FALSE(decode(long_string, record, &why));
  EXPECT_NE(why.find("event: 65535 bytes, most is 128"), std::string::npos) << why;
  // One byte past the field's capacity is refused as well.
  auto one_past = encoded(book({.event = long_event_id(), .user = "u", .request_id = ""}), 5);
  one_past[24] = static_cast<std::uint8_t>(event_id_size_max + 1);
  one_past.insert(one_past.begin() + 26, 'e');
  one_past[12] = static_cast<std::uint8_t>(one_past[12] + 1);  // body_size
  reseal(one_past);
  EXPECT_FALSE(decode(one_past, record, &why));
  EXPECT_NE(why.find("event: 129 bytes, most is 128"), std::string::npos) << why;

  // Book: event "e" (2+1), user "u" (2+1), seats (4), hold (1), waitlist (1).
  auto bad_bool = encoded(book({.event = "e", .user = "u", .request_id = ""}), 5);
  bad_bool[24 + 3 + 3 + 4] = 2;
  reseal(bad_bool);
  EXPECT_FALSE(decode(bad_bool, record, &why));
  EXPECT_NE(why.find("hold"), std::string::npos) << why;

  auto bad_enum = encoded(book({.event = "e", .user = "u", .request_id = ""}), 5);
  bad_enum[24 + 3 + 3 + 4 + 1] = 3;
  reseal(bad_enum);
  EXPECT_FALSE(decode(bad_enum, record, &why));
  EXPECT_NE(why.find("waitlist"), std::string::npos) << why;

  auto bad_mask = encoded(update({.id = "e", .patch = {}}), 5);
  bad_mask[24 + 3 + 1] = 0x80;  // bit 15 of the presence mask
  reseal(bad_mask);
  EXPECT_FALSE(decode(bad_mask, record, &why));
}

// Format version 1 wrote Expire with an empty body and expired everything
// due: such records still replay, unbounded.
TEST(RecordCodec, VersionOneExpireDecodesUnbounded) {
  auto bytes = encoded(expire(9), 5);
  bytes[8] = 1;
  bytes.resize(bytes.size() - 4);  // no steps_max
  bytes[12] = 8;                   // body_size: now_ms only
  reseal(bytes);
  Record record;
  std::string why;
  ASSERT_TRUE(decode(bytes, record, &why)) << why;
  ASSERT_EQ(record.kind, CommandKind::expire);
  EXPECT_EQ(record.command.steps_max, expire_steps_unbounded);

  auto zero_steps = encoded(expire(0), 5);
  EXPECT_FALSE(decode(zero_steps, record, &why));
  EXPECT_EQ(why, "steps_max is 0");
}

TEST(RecordCodec, RecordsAppendBackToBack) {
  std::vector<std::uint8_t> bytes;
  encode(CommandKind::expire, expire_command(expire_steps_max), 1, bytes);
  const std::size_t first = bytes.size();
  encode(CommandKind::confirm, command_of(RefCommand{.ref = "BK-1", .request_id = ""}), 2, bytes);
  Record record;
  std::string why;
  ASSERT_TRUE(decode(std::span(bytes).first(first), record, &why)) << why;
  EXPECT_EQ(record.kind, CommandKind::expire);
  ASSERT_TRUE(decode(std::span(bytes).subspan(first), record, &why)) << why;
  ASSERT_EQ(record.kind, CommandKind::confirm);
  EXPECT_EQ(record.command.ref.view(), "BK-1");
}

}  // namespace
}  // namespace admit::storage::wal
