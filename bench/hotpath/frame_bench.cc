// Frame decode + verify (protocol/framing.h): what every received frame costs
// before a single request runs, per frame size (requests per frame).
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "protocol/framing.h"

namespace {

using namespace admit;

// A frame of `requests` Book requests as a client would send it.
std::vector<std::uint8_t> book_frame(int requests) {
  flatbuffers::FlatBufferBuilder builder;
  std::vector<flatbuffers::Offset<wire::Request>> offsets;
  for (int i = 0; i < requests; ++i) {
    const std::string user = "user-" + std::to_string(i);
    auto book = wire::CreateBookDirect(builder, "bench-event-0001", user.c_str(), 1, false,
                                       wire::WaitlistChoice::Default, nullptr);
    offsets.push_back(
        wire::CreateRequest(builder, static_cast<std::uint64_t>(i), wire::Op::Book, book.Union()));
  }
  auto frame = wire::CreateFrame(builder, builder.CreateVector(offsets));
  finish_frame(builder, frame);
  const auto bytes = builder.GetBufferSpan();
  return {bytes.begin(), bytes.end()};
}

// The same bookings as one BookBatch request: `items` items, users and no
// request ids in its texts.
std::vector<std::uint8_t> book_batch_frame(int items) {
  flatbuffers::FlatBufferBuilder builder;
  std::vector<wire::BookItem> structs;
  std::string texts;
  for (int i = 0; i < items; ++i) {
    const std::string user = "user-" + std::to_string(i);
    structs.emplace_back(1, static_cast<std::uint8_t>(user.size()), 0, false,
                         wire::WaitlistChoice::Default);
    texts += user;
  }
  const auto batch = wire::CreateBookBatch(
      builder, builder.CreateString("bench-event-0001"), builder.CreateVectorOfStructs(structs),
      builder.CreateVector(reinterpret_cast<const std::uint8_t*>(texts.data()), texts.size()));
  const auto request = wire::CreateRequest(builder, 1, wire::Op::BookBatch, batch.Union());
  finish_frame(builder, wire::CreateFrame(builder, builder.CreateVector(&request, 1)));
  const auto bytes = builder.GetBufferSpan();
  return {bytes.begin(), bytes.end()};
}

// The bytes at an 8-byte aligned address, as verify_frame wants them.
struct AlignedFrame {
  explicit AlignedFrame(const std::vector<std::uint8_t>& bytes)
      : storage(new std::uint64_t[bytes.size() / 8 + 1]), size(bytes.size()) {
    std::memcpy(storage.get(), bytes.data(), bytes.size());
  }
  std::span<const std::uint8_t> span() const {
    return {reinterpret_cast<const std::uint8_t*>(storage.get()), size};
  }
  std::unique_ptr<std::uint64_t[]> storage;
  std::size_t size;
};

void BM_ScanAndVerifyFrame(benchmark::State& state) {
  const int requests = static_cast<int>(state.range(0));
  const AlignedFrame frame(book_frame(requests));
  std::string why;
  for (auto _ : state) {
    const FrameScan scan = scan_frame(frame.span());
    const wire::Frame* verified =
        verify_frame(frame.span().first(frame_header_size + scan.payload_size), &why);
    benchmark::DoNotOptimize(verified);
  }
  state.SetItemsProcessed(state.iterations() * requests);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(frame.size));
}
BENCHMARK(BM_ScanAndVerifyFrame)->Arg(1)->Arg(16)->Arg(64)->Arg(1024);

// Verify, then read every field of every Book as the server's decoder does.
void BM_VerifyAndReadBooks(benchmark::State& state) {
  const int requests = static_cast<int>(state.range(0));
  const AlignedFrame frame(book_frame(requests));
  std::string why;
  for (auto _ : state) {
    const wire::Frame* verified = verify_frame(frame.span(), &why);
    std::uint64_t sum = 0;
    for (const wire::Request* request : *verified->requests()) {
      const wire::Book* book = request->op_as_Book();
      sum += request->id() + book->event()->size() + book->user()->size() + book->seats();
    }
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * requests);
  state.counters["frame_bytes"] = static_cast<double>(frame.size);
}
BENCHMARK(BM_VerifyAndReadBooks)->Arg(1)->Arg(64)->Arg(1024);

// The same as one BookBatch: verify, then read every item and its user.
void BM_VerifyAndReadBookBatch(benchmark::State& state) {
  const int items = static_cast<int>(state.range(0));
  const AlignedFrame frame(book_batch_frame(items));
  std::string why;
  for (auto _ : state) {
    const wire::Frame* verified = verify_frame(frame.span(), &why);
    const wire::BookBatch* batch = verified->requests()->Get(0)->op_as_BookBatch();
    const std::uint8_t* text = batch->texts()->data();
    std::uint64_t sum = batch->event()->size();
    for (const wire::BookItem* item : *batch->items()) {
      sum += item->seats() + item->user_size() + text[0];
      text += item->user_size() + item->request_id_size();
    }
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * items);
  state.counters["frame_bytes"] = static_cast<double>(frame.size);
}
BENCHMARK(BM_VerifyAndReadBookBatch)->Arg(64)->Arg(1024);

// Encoding the same frame: the client's side of the cost.
void BM_EncodeBookFrame(benchmark::State& state) {
  const int requests = static_cast<int>(state.range(0));
  flatbuffers::FlatBufferBuilder builder(64 * 1024);
  std::vector<flatbuffers::Offset<wire::Request>> offsets;
  offsets.reserve(requests);
  for (auto _ : state) {
    builder.Clear();
    offsets.clear();
    for (int i = 0; i < requests; ++i) {
      auto book = wire::CreateBookDirect(builder, "bench-event-0001", "user-12345", 1, false,
                                         wire::WaitlistChoice::Default, nullptr);
      offsets.push_back(wire::CreateRequest(builder, static_cast<std::uint64_t>(i), wire::Op::Book,
                                            book.Union()));
    }
    finish_frame(builder, wire::CreateFrame(builder, builder.CreateVector(offsets)));
    benchmark::DoNotOptimize(builder.GetBufferPointer());
  }
  state.SetItemsProcessed(state.iterations() * requests);
}
BENCHMARK(BM_EncodeBookFrame)->Arg(1)->Arg(64)->Arg(1024);

}  // namespace
