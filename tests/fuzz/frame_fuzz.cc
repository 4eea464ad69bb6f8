// The binary port's input path, as a shard runs it on the bytes of one
// connection: the length prefix (scan_frame), the verifier (verify_frame),
// then each request of a frame through decode_request() and, for requests a
// shard owns, the owner's ShardCore::apply() (durability off; a turn ends
// after each frame), the replies encoded into one frame per request frame.
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
#include "fuzz_shards.h"
#include "protocol/framing.h"
#include "server/request_codec.h"
#include "server/shard_command.h"
#include "server/watches.h"
#include "storage/state_machine.h"
#include "storage/wal/command.h"

namespace admit::server {
namespace {

class FuzzedServer {
 public:
  explicit FuzzedServer(std::uint32_t shards) : shards_(shards) {}

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
      shards_.core(0).machine().prefetch_book(hint);
    }
    ReplyFrameBuilder builder;
    std::vector<ReplyOffset> replies;
    for (const wire::Request* request : *frame->requests()) {
      replies.push_back(handle_request(builder, *request));
    }
    check_reply_frame(builder, replies);
    shards_.end_turn();
    push_watches();
    return true;
  }

  void check_invariants() const { shards_.check_invariants(); }

 private:
  ReplyOffset handle_request(ReplyFrameBuilder& builder, const wire::Request& request) {
    ShardCommand command;
    const DecodedRequest decoded = decode_request(request, shards_.shards(), &command);
    const std::uint64_t id = request.id();
    if (decoded.kind == RequestKind::refused) {
      fuzz_require(!decoded.message.empty(), "a refusal names its reason");
      fuzz_require(!outcome_is_success(decoded.outcome), "a refusal is not a success");
      return encode_refusal(builder, id, decoded.outcome, decoded.message);
    }
    if (decoded.kind == RequestKind::local) return answer_local(builder, request, decoded.op);
    fuzz_require(decoded.owner < shards_.shards(), "an owned request names an existing shard");
    // The owner applies it (the reactor forwards it there first).
    FuzzShards::Core& owner = shards_.core(decoded.owner);
    server::BookBatchRecord batch;  // a BookBatch's items, as the reactor passes them
    batch.items = decoded.batch_items;
    batch.texts = decoded.batch_texts;
    if (command.op == Op::book_batch) command.batch = &batch;
    const std::uint64_t before = owner.machine().change_count();
    ShardResult result;
    owner.apply(command, shards_.now_ms(), &result);
    // A batch logs its items as the Books they are (tests/sim/book_batch_test).
    if (is_mutation(command.op) && command.op != Op::book_batch &&
        owner.machine().change_count() != before) {
      check_record_round_trip(command);
    }
    if (result.kind == server::ResultKind::book_batch) {
      fuzz_require(batch.results.size() == batch.items.size(), "one answer per batch item");
    }
    const ReplyOffset reply = encode_result(builder, id, result);
    delete result.take_page();
    return reply;
  }

  // What the reactor answers on the receiving shard, from the wire request.
  ReplyOffset answer_local(ReplyFrameBuilder& builder, const wire::Request& request, Op op) {
    const std::uint64_t id = request.id();
    switch (op) {
      case Op::hello:
        return encode_hello(builder, id, *request.op_as_Hello(), shards_.shards(), 0);
      case Op::get_event: {
        Outcome outcome = Outcome::ok;
        return encode_get_event(builder, id, *request.op_as_GetEvent(), shards_.shared().directory,
                                &outcome);
      }
      case Op::watch: {
        const auto added = watches_.watch(watcher_, request.op_as_Watch()->event()->string_view(),
                                          shards_.shared().directory);
        const Outcome outcome = added == Watches::Added::no_event ? Outcome::not_found
                                : added == Watches::Added::limit  ? Outcome::invalid
                                                                  : Outcome::ok;
        return encode_refusal(builder, id, outcome, outcome == Outcome::ok ? "" : "watch");
      }
      case Op::unwatch:
        watches_.unwatch(watcher_, request.op_as_Unwatch()->event()->string_view(),
                         shards_.shared().directory);
        return encode_refusal(builder, id, Outcome::ok, "");
      case Op::list_events:
        return encode_list_events(builder, id, *request.op_as_ListEvents(),
                                  shards_.shared().directory);
      case Op::stats: {
        const StatsView source{
            {shards_.shared().stats.get(), shards_.shards()}, "off", shards_.now_ms() - fuzz_t0_ms};
        return encode_stats(builder, id, source);
      }
      case Op::create_event:  // owned
      case Op::update_event:
      case Op::book:
      case Op::book_batch:
      case Op::confirm:
      case Op::cancel:
      case Op::get_booking:
      case Op::list_bookings:
      case Op::waitlist_position:
      case Op::leave_waitlist:
      case Op::metrics:  // HTTP only
      case Op::healthz:
      case Op::page:
        break;
    }
    fuzz_require(false, "decode_request answers only hello, reads and watches as local");
    return {};
  }

  // What the log would append for a change decodes back to the same bytes.
  void check_record_round_trip(const ShardCommand& command) {
    const storage::CommandKind kind = command_kind_of(command.op);
    std::vector<std::uint8_t> record;
    storage::wal::encode(kind, command, shards_.now_ms(), record);
    storage::wal::Record decoded;
    std::string why;
    fuzz_require(storage::wal::decode(record, decoded, &why), "a logged command decodes");
    fuzz_require(decoded.kind == kind && decoded.now_ms == shards_.now_ms(),
                 "a record keeps its kind and time");
    std::vector<std::uint8_t> again;
    storage::wal::encode(decoded.kind, decoded.command, decoded.now_ms, again);
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

  // Every pushed update must be a frame a client can verify, with updates only.
  void push_watches() {
    watches_.push_round(shards_.shared().directory, [](const Watches::Watcher&,
                                                       std::span<const std::uint8_t> bytes) {
      std::vector<std::uint64_t> aligned(bytes.size() / 8 + 1);
      std::memcpy(aligned.data(), bytes.data(), bytes.size());
      std::string why;
      const wire::Frame* frame =
          verify_frame({reinterpret_cast<const std::uint8_t*>(aligned.data()), bytes.size()}, &why);
      fuzz_require(frame != nullptr && frame->updates() != nullptr && frame->replies() == nullptr,
                   "a pushed update is a verifiable frame of updates");
      return true;
    });
  }

  FuzzShards shards_;
  Watches watches_;
  const Watches::Watcher watcher_{1, 1, Protocol::binary};
};

}  // namespace
}  // namespace admit::server

// Input: one byte choosing the shard count (1..4), then the bytes a client
// sent on one connection.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace admit;
  if (size < 1) return 0;
  server::FuzzedServer server(1 + data[0] % server::shards_fuzzed_max);
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
