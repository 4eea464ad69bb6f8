// Reply encoding (server/request_codec.h) as a reactor turn does it: N
// results of one connection into one builder, closed as one frame, per frame
// size. Sold-out answers (no result table, a shared reason) and bookings
// (a BookReply with a ref), the two answers of a booking burst; and the same
// answers as one BookBatchReply (16-byte items) per frame.
#include <benchmark/benchmark.h>

#include <vector>

#include "protocol/framing.h"
#include "server/request_codec.h"

namespace {

using namespace admit;
using namespace admit::server;

ShardResult sold_out_result() {
  ShardResult result;
  result.outcome = Outcome::sold_out;
  result.message.assign("sold out");
  result.kind = ResultKind::book;
  return result;
}

ShardResult booked_result(std::uint64_t serial) {
  ShardResult result;
  result.outcome = Outcome::booked;
  result.kind = ResultKind::book;
  result.book.ref = BookingRef::make(serial, 1);
  result.book.seats = 1;
  return result;
}

void encode_frames(benchmark::State& state, const ShardResult& result) {
  const auto replies = static_cast<std::uint64_t>(state.range(0));
  ReplyFrameBuilder builder;
  std::vector<ReplyOffset> offsets;
  std::vector<std::uint8_t> held;
  for (auto _ : state) {
    for (std::uint64_t id = 0; id < replies; ++id) {
      offsets.push_back(encode_result(builder, id, result));
    }
    finish_frame(builder, wire::CreateFrame(builder, 0, builder.CreateVector(offsets)));
    const auto bytes = builder.GetBufferSpan();
    held.assign(bytes.begin(), bytes.end());
    benchmark::DoNotOptimize(held.data());
    offsets.clear();
    builder.Clear();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(replies));
  state.counters["frame_bytes"] = static_cast<double>(held.size());
}

void BM_EncodeSoldOutReplies(benchmark::State& state) { encode_frames(state, sold_out_result()); }
BENCHMARK(BM_EncodeSoldOutReplies)->Arg(1)->Arg(64)->Arg(1024);

void BM_EncodeBookedReplies(benchmark::State& state) { encode_frames(state, booked_result(4242)); }
BENCHMARK(BM_EncodeBookedReplies)->Arg(1)->Arg(64)->Arg(1024);

// range(0) items answered in one BookBatchReply: the owner's conversion of
// each item's result (add_item_answer) and the frame's encoding.
void encode_batch_frames(benchmark::State& state, const ShardResult& item) {
  const auto items = static_cast<std::uint32_t>(state.range(0));
  ReplyFrameBuilder builder;
  BookBatchRecord batch;
  const std::vector<wire::BookItem> wire_items(items);
  batch.items = wire_items;
  ShardResult result;
  result.op = Op::book_batch;
  result.outcome = Outcome::ok;
  result.kind = ResultKind::book_batch;
  result.batch = &batch;
  std::vector<std::uint8_t> held;
  for (auto _ : state) {
    batch.results.clear();
    batch.details.clear();
    for (std::uint32_t i = 0; i < items; ++i) add_item_answer(i, item, &batch);
    const ReplyOffset reply = encode_result(builder, 1, result);
    finish_frame(builder, wire::CreateFrame(builder, 0, builder.CreateVector(&reply, 1)));
    const auto bytes = builder.GetBufferSpan();
    held.assign(bytes.begin(), bytes.end());
    benchmark::DoNotOptimize(held.data());
    builder.Clear();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(items));
  state.counters["frame_bytes"] = static_cast<double>(held.size());
}

void BM_EncodeSoldOutBatch(benchmark::State& state) {
  ShardResult sold_out = sold_out_result();
  sold_out.message.size = 0;
  sold_out.reason = Reason::sold_out;
  encode_batch_frames(state, sold_out);
}
BENCHMARK(BM_EncodeSoldOutBatch)->Arg(64)->Arg(1024);

void BM_EncodeBookedBatch(benchmark::State& state) {
  encode_batch_frames(state, booked_result(4242));
}
BENCHMARK(BM_EncodeBookedBatch)->Arg(64)->Arg(1024);

}  // namespace
