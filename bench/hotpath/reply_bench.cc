// Reply encoding (server/request_codec.h) as a reactor turn does it: N
// results of one connection into one builder, closed as one frame, per frame
// size. Sold-out answers (no result table, a shared reason) and bookings
// (a BookReply with a ref), the two answers of a booking burst.
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

}  // namespace
