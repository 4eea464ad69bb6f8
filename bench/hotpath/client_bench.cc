// The client's own cost per request, without a server or a socket: what
// libadmit's AsyncClient does in user space for each pipelined Book. One
// iteration = a batch of N Book requests checked and encoded into one frame
// (client-lib's RequestPipeline, as Connection uses it), then one canned reply
// frame of N BookReplies verified and dispatched to the N callbacks, which read
// the outcome and the ref as admit-bench does. items_per_second is requests per
// second from one core; not included: routing (one xxh3 of the event id per
// request) and the send/recv system calls.
// BM_ClientBookBatch: one Book request per booking (book_batching off);
// BM_ClientBookAutoBatch: the same N bookings gathered into one BookBatch
// (add_book, the default) and answered by one BookBatchReply, each callback
// reading its item (the ref spelled from its bits).
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "client-lib/codec.h"
#include "client-lib/request_pipeline.h"
#include "protocol/booking_ref.h"
#include "protocol/framing.h"

namespace {

using namespace admit;

constexpr std::string_view event_id = "bench-throughput-123456-1764146400000-0";

// A reply frame of `count` BOOKED answers, each with a ref, as admitd sends
// them; ids are placeholders (non-zero, so that every id field is stored)
// that the benchmark overwrites with the ids of the requests it just encoded.
class CannedReplies {
 public:
  explicit CannedReplies(int count) {
    flatbuffers::FlatBufferBuilder builder;
    std::vector<flatbuffers::Offset<wire::Reply>> replies;
    for (int i = 0; i < count; ++i) {
      const BookingRef ref = BookingRef::make(static_cast<std::uint64_t>(i) + 1, 0);
      auto ref_offset = builder.CreateString(ref.view().data(), ref.view().size());
      auto book = wire::CreateBookReply(builder, ref_offset, 1);
      replies.push_back(wire::CreateReply(builder, std::uint64_t{1}, wire::Outcome::BOOKED, 0,
                                          wire::Result::BookReply, book.Union()));
    }
    finish_frame(builder, wire::CreateFrame(builder, 0, builder.CreateVector(replies)));
    const auto bytes = builder.GetBufferSpan();
    storage_ = std::make_unique<std::uint64_t[]>(bytes.size() / 8 + 1);  // 8-byte aligned
    std::memcpy(storage_.get(), bytes.data(), bytes.size());
    bytes_ = {reinterpret_cast<std::uint8_t*>(storage_.get()), bytes.size()};
    std::string why;
    const wire::Frame* frame = verify_frame(bytes_, &why);
    for (const wire::Reply* reply : *frame->replies()) {
      // The generated API has no setters: write the stored id field in place.
      auto* table = reinterpret_cast<flatbuffers::Table*>(const_cast<wire::Reply*>(reply));
      id_fields_.push_back(table->GetAddressOf(wire::Reply::VT_ID));
    }
  }

  // The server echoes request ids: the replies answer `ids`, in order.
  std::span<const std::uint8_t> answering(const std::vector<std::uint64_t>& ids) {
    for (std::size_t i = 0; i < ids.size(); ++i) {
      flatbuffers::WriteScalar(id_fields_[i], ids[i]);
    }
    return bytes_;
  }

 private:
  std::unique_ptr<std::uint64_t[]> storage_;
  std::span<std::uint8_t> bytes_;
  std::vector<std::uint8_t*> id_fields_;
};

// A reply frame with one BookBatchReply of `count` BOOKED items, as admitd
// answers a BookBatch; its id is overwritten with the batch's request id.
class CannedBatchReply {
 public:
  explicit CannedBatchReply(int count) {
    flatbuffers::FlatBufferBuilder builder;
    std::vector<wire::BookItemResult> items;
    for (int i = 0; i < count; ++i) {
      const BookingRef ref = BookingRef::make(static_cast<std::uint64_t>(i) + 1, 0);
      items.emplace_back(ref.bits(), 1, wire::Outcome::BOOKED, 0);
    }
    auto result = wire::CreateBookBatchReply(builder, builder.CreateVectorOfStructs(items));
    auto reply = wire::CreateReply(builder, std::uint64_t{1}, wire::Outcome::OK, 0,
                                   wire::Result::BookBatchReply, result.Union());
    finish_frame(builder, wire::CreateFrame(builder, 0, builder.CreateVector(&reply, 1)));
    const auto bytes = builder.GetBufferSpan();
    storage_ = std::make_unique<std::uint64_t[]>(bytes.size() / 8 + 1);  // 8-byte aligned
    std::memcpy(storage_.get(), bytes.data(), bytes.size());
    bytes_ = {reinterpret_cast<std::uint8_t*>(storage_.get()), bytes.size()};
    std::string why;
    const wire::Frame* frame = verify_frame(bytes_, &why);
    auto* table =
        reinterpret_cast<flatbuffers::Table*>(const_cast<wire::Reply*>(frame->replies()->Get(0)));
    id_field_ = table->GetAddressOf(wire::Reply::VT_ID);
  }

  std::span<const std::uint8_t> answering(std::uint64_t id) {
    flatbuffers::WriteScalar(id_field_, id);
    return bytes_;
  }

 private:
  std::unique_ptr<std::uint64_t[]> storage_;
  std::span<std::uint8_t> bytes_;
  std::uint8_t* id_field_ = nullptr;
};

// What admit-bench's callback reads of an answer.
struct Tally {
  std::uint64_t booked = 0;
  std::uint64_t ref_bytes = 0;
};

void BM_ClientBookBatch(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  const ClientOptions options;
  RequestPipeline pipeline(options);
  CannedReplies canned(batch);
  std::vector<std::string> users;
  for (int i = 0; i < batch; ++i) users.push_back("c17-" + std::to_string(1'000'000 + i));
  std::vector<std::uint64_t> ids(batch);
  Tally tally;
  std::string why;
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i) {
      BookRequest request;
      request.event = event_id;
      request.user = users[i];
      if (!codec::check_book(request).answered()) state.SkipWithError("check_book refused");
      ids[i] = pipeline.add([&](codec::Builder& b) { return codec::encode_book(b, request); },
                            [&tally](const ReplyView& reply) {
                              tally.booked += reply.outcome() == Outcome::booked;
                              tally.ref_bytes += reply.book_view().ref.size();
                            });
    }
    pipeline.close_frame();
    benchmark::DoNotOptimize(pipeline.output().data());
    pipeline.output().clear();  // as a flush that wrote it all
    std::size_t ran = 0;
    if (!pipeline.dispatch_frame(canned.answering(ids), Clock::now(), &ran, &why)) {
      state.SkipWithError(why.c_str());
    }
  }
  if (tally.booked != static_cast<std::uint64_t>(state.iterations()) * batch) {
    state.SkipWithError("a callback did not run or did not see BOOKED");
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_ClientBookBatch)->Arg(64);

void BM_ClientBookAutoBatch(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  const ClientOptions options;
  RequestPipeline pipeline(options);
  CannedBatchReply canned(batch);
  std::vector<std::string> users;
  for (int i = 0; i < batch; ++i) users.push_back("c17-" + std::to_string(1'000'000 + i));
  Tally tally;
  std::string why;
  for (auto _ : state) {
    std::uint64_t id = 0;
    for (int i = 0; i < batch; ++i) {
      BookRequest request;
      request.event = event_id;
      request.user = users[i];
      if (!codec::check_book(request).answered()) state.SkipWithError("check_book refused");
      id = pipeline.add_book(request, [&tally](const ReplyView& reply) {
        tally.booked += reply.outcome() == Outcome::booked;
        tally.ref_bytes += reply.book_view().ref.size();
      });
    }
    pipeline.close_frame();
    benchmark::DoNotOptimize(pipeline.output().data());
    pipeline.output().clear();  // as a flush that wrote it all
    std::size_t ran = 0;
    if (!pipeline.dispatch_frame(canned.answering(id), Clock::now(), &ran, &why)) {
      state.SkipWithError(why.c_str());
    }
  }
  if (tally.booked != static_cast<std::uint64_t>(state.iterations()) * batch ||
      tally.ref_bytes != tally.booked * booking_ref_size) {
    state.SkipWithError("a callback did not run or did not see BOOKED with its ref");
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_ClientBookAutoBatch)->Arg(64);

}  // namespace
