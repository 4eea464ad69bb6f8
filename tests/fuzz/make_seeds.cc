// Writes the seed corpus of every fuzz target (tests/fuzz/corpus/<target>/):
// well-formed inputs that reach deep, which the fuzzer then mutates.
//   build-fuzz/tests/fuzz/make_seeds tests/fuzz/corpus
// The files are committed; rerun after a format change. Regression inputs
// (crash-*) in the same folders are kept by hand.
#include <flatbuffers/flatbuffers.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/booking_ref.h"
#include "protocol/framing.h"
#include "server/http/auth.h"
#include "storage/state_machine.h"
#include "storage/wal/command.h"

namespace {

using namespace admit;
using Bytes = std::vector<std::uint8_t>;
namespace fs = std::filesystem;

constexpr std::int64_t t0_ms = 1'700'000'000'000;

void write(const fs::path& dir, const std::string& name, const Bytes& bytes) {
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

Bytes text_bytes(std::uint8_t first, std::string_view text) {
  Bytes bytes{first};
  bytes.insert(bytes.end(), text.begin(), text.end());
  return bytes;
}

// ---- frames: one byte for the shard count, then frames as a client sends them ----

using flatbuffers::FlatBufferBuilder;
using RequestOffset = flatbuffers::Offset<wire::Request>;
using MakeOp = flatbuffers::Offset<void> (*)(FlatBufferBuilder&, int);

Bytes frame_of(const std::vector<std::pair<wire::Op, MakeOp>>& ops) {
  FlatBufferBuilder b;
  std::vector<RequestOffset> requests;
  int index = 0;
  for (const auto& [type, make] : ops) {
    const auto op = make(b, index);
    requests.push_back(wire::CreateRequest(b, static_cast<std::uint64_t>(++index), type, op));
  }
  finish_frame(b, wire::CreateFrame(b, b.CreateVector(requests)));
  const auto span = b.GetBufferSpan();
  return {span.begin(), span.end()};
}

std::string first_ref() { return std::string(BookingRef::make(1, 0).view()); }

const std::vector<std::pair<wire::Op, MakeOp>> every_op = {
    {wire::Op::Hello,
     [](FlatBufferBuilder& b, int) { return wire::CreateHelloDirect(b, 1, "token").Union(); }},
    {wire::Op::CreateEvent,
     [](FlatBufferBuilder& b, int) {
       return wire::CreateCreateEventDirect(b, "tour", 3, 2, 60000, true, 10).Union();
     }},
    {wire::Op::UpdateEvent,
     [](FlatBufferBuilder& b, int) {
       return wire::CreateUpdateEventDirect(b, "tour", 4, {}, {}, {}, {}, {}, {}, {}, {},
                                            wire::EventState::Open)
           .Union();
     }},
    {wire::Op::Book,
     [](FlatBufferBuilder& b, int) {
       return wire::CreateBookDirect(b, "tour", "ana", 2, false, wire::WaitlistChoice::Default,
                                     "req-1")
           .Union();
     }},
    {wire::Op::Book,
     [](FlatBufferBuilder& b, int) {
       return wire::CreateBookDirect(b, "tour", "ben", 2, true, wire::WaitlistChoice::Join).Union();
     }},
    {wire::Op::Confirm,
     [](FlatBufferBuilder& b, int) {
       return wire::CreateConfirmDirect(b, first_ref().c_str(), "req-2").Union();
     }},
    {wire::Op::GetBooking,
     [](FlatBufferBuilder& b, int) {
       return wire::CreateGetBookingDirect(b, first_ref().c_str()).Union();
     }},
    {wire::Op::ListBookings,
     [](FlatBufferBuilder& b, int) {
       return wire::CreateListBookingsDirect(b, "tour", nullptr, 10).Union();
     }},
    {wire::Op::WaitlistPosition,
     [](FlatBufferBuilder& b, int) {
       return wire::CreateWaitlistPositionDirect(b, "tour", "ben").Union();
     }},
    {wire::Op::LeaveWaitlist,
     [](FlatBufferBuilder& b, int) {
       return wire::CreateLeaveWaitlistDirect(b, "tour", "ben", "req-3").Union();
     }},
    {wire::Op::Cancel,
     [](FlatBufferBuilder& b, int) {
       return wire::CreateCancelDirect(b, first_ref().c_str(), "req-4").Union();
     }},
    {wire::Op::GetEvent,
     [](FlatBufferBuilder& b, int) { return wire::CreateGetEventDirect(b, "tour").Union(); }},
    {wire::Op::ListEvents,
     [](FlatBufferBuilder& b, int) { return wire::CreateListEventsDirect(b, "", 5).Union(); }},
    {wire::Op::Stats, [](FlatBufferBuilder& b, int) { return wire::CreateStats(b).Union(); }},
    {wire::Op::BookBatch,
     [](FlatBufferBuilder& b, int) {
       // ana again (ALREADY_BOOKED), cy with a request id, a bad seat count, a hold.
       const std::vector<wire::BookItem> items = {{1, 3, 0, false, wire::WaitlistChoice::Default},
                                                  {2, 2, 5, false, wire::WaitlistChoice::Never},
                                                  {0, 2, 0, false, wire::WaitlistChoice::Default},
                                                  {1, 3, 0, true, wire::WaitlistChoice::Join}};
       const std::string texts = "anacyreq-5dodeb";
       return wire::CreateBookBatch(
                  b, b.CreateString("tour"), b.CreateVectorOfStructs(items),
                  b.CreateVector(reinterpret_cast<const std::uint8_t*>(texts.data()), texts.size()))
           .Union();
     }},
};

void write_frames(const fs::path& dir) {
  // Each op alone after the event exists, one frame per request.
  Bytes stream{0};
  for (const auto& op : every_op) {
    const Bytes frame = frame_of({op});
    stream.insert(stream.end(), frame.begin(), frame.end());
  }
  write(dir, "every-op-one-frame-each", stream);
  // All in one batch, on 3 shards.
  Bytes batch{2};
  const Bytes frame = frame_of(every_op);
  batch.insert(batch.end(), frame.begin(), frame.end());
  write(dir, "every-op-one-batch", batch);
  // A burst of bookings in one frame.
  std::vector<std::pair<wire::Op, MakeOp>> burst{every_op[1]};
  for (int i = 0; i < 40; ++i) {
    burst.emplace_back(wire::Op::Book, [](FlatBufferBuilder& b, int index) {
      const std::string user = "user-" + std::to_string(index);
      return wire::CreateBookDirect(b, "tour", user.c_str(), 1).Union();
    });
  }
  Bytes burst_bytes{0};
  const Bytes burst_frame = frame_of(burst);
  burst_bytes.insert(burst_bytes.end(), burst_frame.begin(), burst_frame.end());
  write(dir, "booking-burst", burst_bytes);
}

// ---- HTTP: flags (bit 0: auth; bits 1-2: shards - 1), a split byte, then bytes ----

std::string http_request(std::string_view head, std::string_view body,
                         std::string_view token = {}) {
  std::string request(head);
  request += "\r\nHost: localhost\r\n";
  if (!token.empty()) request += "Authorization: Bearer " + std::string(token) + "\r\n";
  if (!body.empty()) {
    request +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return request + "\r\n" + std::string(body);
}

std::string http_session(std::string_view token) {
  const std::string ref = first_ref();
  return http_request("POST /v1/events HTTP/1.1",
                      R"({"id":"tour","capacity":3,"per_user_max":2,"hold_ttl_ms":60000,)"
                      R"("waitlist":true,"opens_at":"2023-11-14T22:13:20Z"})",
                      token) +
         http_request("PATCH /v1/events/tour HTTP/1.1", R"({"capacity":4,"state":"open"})", token) +
         http_request("POST /v1/events/tour/bookings HTTP/1.1",
                      R"({"user":"ana","seats":2,"hold":false})", token) +
         http_request("POST /v1/events/tour/bookings HTTP/1.1",
                      R"({"user":"ben","seats":2,"hold":true,"waitlist":"join"})", token) +
         http_request("POST /v1/bookings/" + ref + "/confirm HTTP/1.1", "", token) +
         http_request("GET /v1/bookings/" + ref + " HTTP/1.1", "", token) +
         http_request("GET /v1/events/tour/bookings?limit=10 HTTP/1.1", "", token) +
         http_request("GET /v1/events/tour/waitlist/ben HTTP/1.1", "", token) +
         http_request("DELETE /v1/events/tour/waitlist/ben HTTP/1.1", "", token) +
         http_request("DELETE /v1/bookings/" + ref + " HTTP/1.1", "", token) +
         http_request("GET /v1/events/tour HTTP/1.1", "", token) +
         http_request("GET /v1/events?after=a&limit=5 HTTP/1.1", "", token) +
         http_request("GET /v1/stats HTTP/1.1", "", token) +
         http_request("GET /healthz HTTP/1.1", "", token);
}

void write_http(const fs::path& dir) {
  const auto bytes = [](std::uint8_t flags, std::uint8_t split, std::string_view text) {
    Bytes out{flags, split};
    out.insert(out.end(), text.begin(), text.end());
    return out;
  };
  write(dir, "session", bytes(0, 0, http_session({})));
  write(dir, "session-3-shards-split", bytes(4, 77, http_session({})));
  // The secret is http_fuzz.cc's; tokens without exp never expire.
  const std::string admin =
      server::http::mint_token("admit-fuzz-secret", {.role = server::http::Role::admin});
  write(dir, "session-auth-admin", bytes(1, 0, http_session(admin)));
  const std::string app = server::http::mint_token("admit-fuzz-secret",
                                                   {.role = server::http::Role::app, .sub = "ana"});
  write(dir, "session-auth-app", bytes(1, 0, http_session(app)));
  write(dir, "expect-continue",
        bytes(0, 40,
              "POST /v1/events HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 27\r\n"
              "Idempotency-Key: k1\r\n\r\n{\"id\":\"gig\",\"capacity\":1}"));
}

// ---- WAL records: each a u16 length then the record ----

namespace wal = storage::wal;

// Commands with their kinds (their now_ms is given when they are encoded).
std::vector<wal::Record> history() {
  using storage::command_of;
  using storage::CommandKind;
  const std::string ref = first_ref();
  return {
      {.kind = CommandKind::create_event,
       .command = command_of(storage::CreateEventCommand{
           "tour", {.capacity = 3, .hold_ttl_ms = 500, .waitlist = true}})},
      {.kind = CommandKind::update_event,
       .command = command_of(storage::UpdateEventCommand{
           "tour", {.capacity = 4, .waitlist = true, .state = EventState::open}})},
      {.kind = CommandKind::book,
       .command = command_of(
           storage::BookCommand{"tour", "ana", 2, false, WaitlistChoice::by_default, "req-1"})},
      {.kind = CommandKind::book,
       .command =
           command_of(storage::BookCommand{"tour", "ben", 2, true, WaitlistChoice::join, ""})},
      {.kind = CommandKind::confirm, .command = command_of(storage::RefCommand{ref, "req-2"})},
      {.kind = CommandKind::cancel, .command = command_of(storage::RefCommand{ref, ""})},
      {.kind = CommandKind::leave_waitlist,
       .command = command_of(storage::LeaveWaitlistCommand{"tour", "ben", "req-3"})},
      {.kind = CommandKind::expire, .command = storage::expire_command(storage::expire_steps_max)},
  };
}

void write_wal(const fs::path& dir) {
  const std::vector<wal::Record> commands = history();
  Bytes all;
  std::int64_t now_ms = t0_ms;
  for (const wal::Record& command : commands) {
    Bytes record;
    wal::encode(command.kind, command.command, now_ms += 100, record);
    Bytes one{static_cast<std::uint8_t>(record.size()),
              static_cast<std::uint8_t>(record.size() >> 8)};
    one.insert(one.end(), record.begin(), record.end());
    write(dir, std::string("record-") + storage::command_name(command.kind), one);
    all.insert(all.end(), one.begin(), one.end());
  }
  write(dir, "history", all);
}

// ---- recovery: flags, checkpoint (8 LSN bytes, u16 size, state), then the log ----

void append_u16(Bytes& out, std::size_t value) {
  out.push_back(static_cast<std::uint8_t>(value));
  out.push_back(static_cast<std::uint8_t>(value >> 8));
}

void append_log(Bytes& out, const std::vector<wal::Record>& commands, std::int64_t now_ms) {
  for (const wal::Record& command : commands) {
    Bytes record;
    wal::encode(command.kind, command.command, now_ms += 100, record);
    append_u16(out, record.size());
    out.insert(out.end(), record.begin(), record.end());
  }
}

void write_recovery(const fs::path& dir) {
  const std::vector<wal::Record> commands = history();
  Bytes log_only{0};
  append_log(log_only, commands, t0_ms);
  write(dir, "log-only", log_only);

  // A checkpoint at LSN 3 holding the first three commands, then the rest.
  storage::StateMachine machine(storage::Options{});
  std::int64_t now_ms = t0_ms;
  for (std::size_t i = 0; i < 3; ++i) {
    storage::apply(machine, commands[i].kind, commands[i].command, now_ms += 100);
  }
  const Bytes state = machine.snapshot();
  Bytes with_checkpoint{1, 0, 0, 0, 0, 0, 0, 0, 3};
  append_u16(with_checkpoint, state.size());
  with_checkpoint.insert(with_checkpoint.end(), state.begin(), state.end());
  append_log(with_checkpoint, {commands.begin() + 3, commands.end()}, now_ms);
  write(dir, "checkpoint-and-log", with_checkpoint);

  // The same in format 2: the checkpoint in chunks of 64 bytes (flag bit 3,
  // chunk size byte 0), with right checksums (bit 1: the state's own is
  // appended by the target, so it is left out here).
  Bytes chunked{1 | 2 | 8, 0, 0, 0, 0, 0, 0, 0, 3};
  const std::size_t unchecked = state.size() - 8;
  append_u16(chunked, unchecked);
  chunked.insert(chunked.end(), state.begin(),
                 state.begin() + static_cast<std::ptrdiff_t>(unchecked));
  chunked.push_back(0);
  append_log(chunked, {commands.begin() + 3, commands.end()}, now_ms);
  write(dir, "checkpoint-chunked-and-log", chunked);
}

// ---- snapshots: a flag byte (0: checksum included) then the bytes ----

void write_snapshots(const fs::path& dir) {
  storage::StateMachine machine(storage::Options{});
  Bytes empty{0};
  const Bytes empty_snapshot = machine.snapshot();
  empty.insert(empty.end(), empty_snapshot.begin(), empty_snapshot.end());
  write(dir, "empty", empty);
  machine.create_event(
      {"tour", {.capacity = 3, .hold_ttl_ms = 500, .waitlist = true, .rate_per_s = 5}}, t0_ms);
  machine.create_event({"gig", {.capacity = 1}}, t0_ms);
  machine.book({.event = "tour", .user = "ana", .seats = 2, .request_id = "req-1"}, t0_ms);
  machine.book({.event = "tour", .user = "ben", .seats = 1, .hold = true}, t0_ms + 1);
  machine.book({.event = "tour", .user = "cy", .seats = 2}, t0_ms + 2);
  machine.book({.event = "gig", .user = "ana", .seats = 1}, t0_ms + 3);
  machine.cancel({.ref = BookingRef::make(4, 0).view()}, t0_ms + 4);
  Bytes busy{0};
  const Bytes busy_snapshot = machine.snapshot();
  busy.insert(busy.end(), busy_snapshot.begin(), busy_snapshot.end());
  write(dir, "events-bookings-waitlist-holds", busy);
}

// ---- texts: a byte choosing the parser, then the text ----

void write_texts(const fs::path& dir) {
  write(dir, "ref", text_bytes(0, first_ref()));
  write(dir, "ref-lower", text_bytes(0, "bk-7m2q9xk4"));
  write(dir, "outcome", text_bytes(1, "SOLD_OUT"));
  write(dir, "state", text_bytes(1, "paused"));
  write(dir, "byte-size", text_bytes(2, "64MiB"));
}

// ---- admitd's command line: arguments separated by NUL bytes ----

void write_flags(const fs::path& dir) {
  using namespace std::string_view_literals;
  const auto bytes = [](std::string_view text) { return Bytes(text.begin(), text.end()); };
  write(dir, "flags",
        bytes("--shards\0"
              "4\0--listen\0"
              "127.0.0.1:7400\0--map-size\0"
              "64MiB\0"
              "--map-size-max\0"
              "1GiB\0--durability\0batched\0--ring-size\0"
              "1024"sv));
  write(dir, "equals",
        bytes("--listen=127.0.0.1:9000\0--rate=10\0--burst=20\0"
              "--users-reserved=1000\0--checkpoint-seconds=30"sv));
  write(dir, "help", bytes("--help"sv));
}

// ---- state machine: any bytes are a run; a few random ones to start ----

void write_state_machine(const fs::path& dir) {
  std::mt19937_64 rng(20261202);
  for (const std::size_t size : {64, 256, 1024}) {
    Bytes bytes(size);
    for (std::uint8_t& byte : bytes) byte = static_cast<std::uint8_t>(rng());
    write(dir, "random-" + std::to_string(size), bytes);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds CORPUS_DIR (e.g. tests/fuzz/corpus)\n");
    return 2;
  }
  const fs::path root = argv[1];
  write_frames(root / "frame");
  write_http(root / "http");
  write_wal(root / "wal_record");
  write_recovery(root / "wal_recovery");
  write_snapshots(root / "snapshot");
  write_texts(root / "text");
  write_flags(root / "flags");
  write_state_machine(root / "state_machine");
  return 0;
}
