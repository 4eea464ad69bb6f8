// The binary port's input path, as a shard runs it on the bytes of one
// connection: the length prefix (scan_frame), the verifier (verify_frame),
// then each request of a frame through decode_request() and, for requests a
// shard owns, the WAL command apply() of the owner's state machine, the
// replies encoded into one frame per request frame.
//
// Checks: no crash or UB (ASan+UBSan); every refusal names a reason; every
// mutation's WAL record decodes back to the same bytes; every reply frame
// verifies and holds one reply per request; the machines keep their
// invariants.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "protocol/framing.h"
#include "server/event_directory.h"
#include "server/request_codec.h"
#include "server/shard_command.h"
#include "storage/state_machine.h"
#include "storage/wal/command.h"

namespace admit::server {
namespace {

constexpr std::uint32_t shards_fuzzed_max = 4;
constexpr std::int64_t t0_ms = 1'700'000'000'000;

// Publishes a shard's changed events, as the reactor does once they are durable.
class Publisher : public storage::EventObserver {
 public:
  Publisher(EventDirectory& directory, std::uint32_t shard)
      : directory_(directory), shard_(shard) {}
  void on_event_changed(const storage::EventView& event) override {
    if (!directory_.full(shard_)) directory_.publish(shard_, EventSnapshot::of(event));
  }

 private:
  EventDirectory& directory_;
  std::uint32_t shard_;
};

struct Shard {
  explicit Shard(EventDirectory& directory, std::uint32_t index)
      : machine(storage::Options{.shard = index}), publisher(directory, index) {
    machine.set_observer(&publisher);
  }
  storage::StateMachine machine;
  Publisher publisher;
};

// The directory is 2 * events_per_shard_max slots per shard: too big to make
// per input, so one serves every input. It only answers GetEvent and
// ListEvents: an earlier input's events may show there, nothing else.
EventDirectory& shared_directory() {
  static EventDirectory directory(shards_fuzzed_max);
  return directory;
}

class Server {
 public:
  explicit Server(std::uint32_t shards) : shards_(shards), directory_(shared_directory()) {
    for (std::uint32_t i = 0; i < shards; ++i) {
      shard_list_.push_back(std::make_unique<Shard>(directory_, i));
    }
  }

  // False when the connection would be closed.
  bool handle_frame(std::span<const std::uint8_t> frame_bytes) {
    // An exact-size heap copy: 8-byte aligned, as the reactor ensures, and
    // ASan sees any read past the frame.
    const auto copy = std::make_unique<std::uint8_t[]>(frame_bytes.size());
    std::memcpy(copy.get(), frame_bytes.data(), frame_bytes.size());
    std::string why;
    const wire::Frame* frame = verify_frame({copy.get(), frame_bytes.size()}, &why);
    if (frame == nullptr) {
      fuzz_require(!why.empty(), "a refused frame names its reason");
      return false;
    }
    if (frame->replies() != nullptr) return false;
    if (frame->requests() == nullptr) return true;
    storage::BookCommand hint;
    for (const wire::Request* request : *frame->requests()) {
      const wire::Book* book = request->op_as_Book();
      if (book == nullptr || book->user() == nullptr) continue;
      hint.user = {book->user()->data(), book->user()->size()};
      shard_list_[0]->machine.prefetch_book(hint);
    }
    ReplyFrameBuilder builder;
    std::vector<ReplyOffset> replies;
    for (const wire::Request* request : *frame->requests()) {
      replies.push_back(handle_request(builder, *request));
    }
    check_reply_frame(builder, replies);
    now_ms_ += 7;
    return true;
  }

  void check_invariants() const {
    for (const auto& shard : shard_list_) shard->machine.check_invariants();
  }

 private:
  ReplyOffset handle_request(ReplyFrameBuilder& builder, const wire::Request& request) {
    ShardCommand command;
    const DecodedRequest decoded = decode_request(request, shards_, &command);
    const std::uint64_t id = request.id();
    switch (decoded.kind) {
      case RequestKind::refused:
        fuzz_require(!decoded.message.empty(), "a refusal names its reason");
        fuzz_require(!outcome_is_success(decoded.outcome), "a refusal is not a success");
        return encode_refusal(builder, id, decoded.outcome, decoded.message);
      case RequestKind::hello:
        return encode_hello(builder, id, *request.op_as_Hello(), shards_, 0);
      case RequestKind::get_event:
        return encode_get_event(builder, id, *request.op_as_GetEvent(), directory_);
      case RequestKind::list_events:
        return encode_list_events(builder, id, *request.op_as_ListEvents(), directory_);
      case RequestKind::stats: {
        const StatsSource source{{stats_, shards_}, "off", now_ms_ - t0_ms, 0};
        return encode_stats(builder, id, source);
      }
      case RequestKind::owned:
        break;
    }
    fuzz_require(decoded.owner < shards_, "an owned request names an existing shard");
    ShardResult result;
    apply_owned(shard_list_[decoded.owner]->machine, command, &result);
    const ReplyOffset reply = encode_result(builder, id, result);
    delete result.take_page();
    return reply;
  }

  // As the reactor's apply_owned with durability off, plus the WAL record
  // round trip of each change.
  void apply_owned(storage::StateMachine& machine, const ShardCommand& command,
                   ShardResult* result) {
    if (!is_mutation(command.op)) return execute_read(machine, command, result);
    to_wal_command(command, &wal_command_);
    const std::uint64_t before = machine.change_count();
    take_result(storage::wal::apply(machine, wal_command_, now_ms_), result);
    if (machine.change_count() == before) return;
    check_record_round_trip();
  }

  void check_record_round_trip() {
    std::vector<std::uint8_t> record;
    storage::wal::encode(wal_command_, now_ms_, record);
    storage::wal::DecodedRecord decoded;
    std::string why;
    fuzz_require(storage::wal::decode(record, decoded, &why), "a logged command decodes");
    fuzz_require(decoded.now_ms == now_ms_, "a record keeps its time");
    std::vector<std::uint8_t> again;
    storage::wal::encode(decoded.command, decoded.now_ms, again);
    fuzz_require(again == record, "a decoded record encodes to the same bytes");
  }

  static void check_reply_frame(ReplyFrameBuilder& builder,
                                const std::vector<ReplyOffset>& replies) {
    if (replies.empty()) return;
    const auto vector = builder.CreateVector(replies);
    finish_frame(builder, wire::CreateFrame(builder, 0, vector));
    const auto bytes = builder.GetBufferSpan();
    fuzz_require(bytes.size() <= frame_header_size + frame_size_max, "a reply frame fits");
    const auto copy = std::make_unique<std::uint8_t[]>(bytes.size());
    std::memcpy(copy.get(), bytes.data(), bytes.size());
    std::string why;
    const wire::Frame* frame = verify_frame({copy.get(), bytes.size()}, &why);
    fuzz_require(frame != nullptr, "the reply frame verifies");
    fuzz_require(frame->replies() != nullptr && frame->replies()->size() == replies.size(),
                 "one reply per request");
  }

  std::uint32_t shards_;
  EventDirectory& directory_;
  std::vector<std::unique_ptr<Shard>> shard_list_;
  ShardStatsCounters stats_[shards_fuzzed_max];
  storage::wal::Command wal_command_;
  std::int64_t now_ms_ = t0_ms;
};

}  // namespace
}  // namespace admit::server

// Input: one byte choosing the shard count (1..4), then the bytes a client
// sent on one connection.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace admit;
  if (size < 1) return 0;
  server::Server server(1 + data[0] % server::shards_fuzzed_max);
  const std::span<const std::uint8_t> bytes(data + 1, size - 1);
  std::size_t used = 0;
  while (true) {
    const FrameScan scan = scan_frame(bytes.subspan(used));
    if (scan.status != FrameScanStatus::complete) break;  // incomplete: wait; else: close
    fuzz_require(scan.payload_size <= frame_size_max, "a scanned frame is within the limit");
    if (!server.handle_frame(bytes.subspan(used, frame_header_size + scan.payload_size))) break;
    used += frame_header_size + scan.payload_size;
  }
  server.check_invariants();
  return 0;
}
