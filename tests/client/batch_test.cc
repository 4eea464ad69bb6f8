// AsyncClient's auto-batching without a server: RequestPipeline gathers
// consecutive books of one event into BookBatch requests (codec's
// BookBatchDraft) and hands each booking its own answer out of the
// BookBatchReply (codec's BookItemReader), read exactly as a Book's. Canned
// reply frames stand in for the server. Built with AddressSanitizer and UBSan
// (meson.build): a callback reading a freed answer aborts it.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client-lib/codec.h"
#include "client-lib/request_pipeline.h"
#include "protocol/booking_ref.h"
#include "protocol/framing.h"
#include "protocol/reason.h"

namespace admit {
namespace {

// What one callback saw, copied out of its view.
struct Seen {
  int calls = 0;
  ClientError error = ClientError::none;
  Outcome outcome = Outcome::ok;
  std::string message, ref;
  BookReply book;
};

// A frame's bytes at an 8-byte aligned address, as the verifier wants them.
class AlignedFrame {
 public:
  explicit AlignedFrame(std::span<const std::uint8_t> bytes)
      : storage_(std::make_unique<std::uint64_t[]>(bytes.size() / 8 + 1)), size_(bytes.size()) {
    std::memcpy(storage_.get(), bytes.data(), bytes.size());
  }
  std::span<const std::uint8_t> bytes() const {
    return {reinterpret_cast<const std::uint8_t*>(storage_.get()), size_};
  }
  const wire::Frame* frame() const {
    std::string why;
    const wire::Frame* frame = verify_frame(bytes(), &why);
    EXPECT_NE(frame, nullptr) << why;
    return frame;
  }

 private:
  std::unique_ptr<std::uint64_t[]> storage_;
  std::size_t size_;
};

// The request frames a pipeline wrote, each verified.
std::vector<AlignedFrame> frames_of(const std::vector<std::uint8_t>& out) {
  std::vector<AlignedFrame> frames;
  std::size_t at = 0;
  while (at < out.size()) {
    const FrameScan scan = scan_frame(std::span<const std::uint8_t>(out).subspan(at));
    EXPECT_EQ(scan.status, FrameScanStatus::complete);
    if (scan.status != FrameScanStatus::complete) break;
    const std::size_t size = frame_header_size + scan.payload_size;
    EXPECT_LE(scan.payload_size, frame_size_max);
    frames.emplace_back(std::span<const std::uint8_t>(out).subspan(at, size));
    at += size;
  }
  return frames;
}

// One booking of a BookBatch as the server reads it.
struct WireItem {
  std::string user, request_id;
  std::uint32_t seats = 0;
  bool hold = false;
  wire::WaitlistChoice waitlist = wire::WaitlistChoice::Default;
};

std::vector<WireItem> items_of(const wire::BookBatch& batch) {
  std::vector<WireItem> items;
  const auto* text = reinterpret_cast<const char*>(batch.texts()->data());
  std::size_t at = 0;
  for (const wire::BookItem* item : *batch.items()) {
    WireItem out;
    out.user.assign(text + at, item->user_size());
    at += item->user_size();
    out.request_id.assign(text + at, item->request_id_size());
    at += item->request_id_size();
    out.seats = item->seats();
    out.hold = item->hold();
    out.waitlist = item->waitlist();
    items.push_back(out);
  }
  EXPECT_EQ(at, batch.texts()->size()) << "texts hold exactly the users and request ids";
  return items;
}

// A canned answer for one batch item.
struct ItemReply {
  Outcome outcome;
  Reason reason = Reason::none;
  std::uint64_t ref_serial = 0;  // 0: no ref
  std::uint32_t seats = 0;
  std::optional<wire::BookItemDetail> detail;  // its `item` is filled in
};

class BatchPipeline : public ::testing::Test {
 protected:
  BatchPipeline() : pipeline_(options_) {}

  std::uint64_t book(std::string_view event, std::string user, std::uint32_t seats = 1,
                     std::string request_id = {}, bool hold = false,
                     WaitlistChoice waitlist = WaitlistChoice::by_default) {
    users_.push_back(std::move(user));
    request_ids_.push_back(std::move(request_id));
    const BookRequest request{.event = event,
                              .user = users_.back(),
                              .seats = seats,
                              .hold = hold,
                              .waitlist = waitlist,
                              .request_id = request_ids_.back()};
    EXPECT_TRUE(codec::check_book(request).answered());
    const std::size_t index = seen_.size();
    seen_.emplace_back();
    return pipeline_.add_book(request,
                              [this, index](const ReplyView& reply) { see(index, reply); });
  }

  std::uint64_t get_event(std::string_view event) {
    const std::size_t index = seen_.size();
    seen_.emplace_back();
    return pipeline_.add([&](codec::Builder& b) { return codec::encode_get_event(b, event); },
                         [this, index](const ReplyView& reply) { see(index, reply); });
  }

  void see(std::size_t index, const ReplyView& reply) {
    Seen& seen = seen_[index];
    ++seen.calls;
    seen.error = reply.error();
    seen.outcome = reply.outcome();
    seen.message = std::string(reply.message());
    seen.ref = std::string(reply.book_view().ref);
    seen.book = reply.book();
    EXPECT_EQ(reply.status().message(), seen.message);
  }

  std::vector<AlignedFrame> written() {
    pipeline_.close_frame();
    std::vector<AlignedFrame> frames = frames_of(pipeline_.output());
    pipeline_.output().clear();
    return frames;
  }

  // Runs one reply frame through the pipeline; returns the callbacks run.
  std::size_t dispatch(flatbuffers::FlatBufferBuilder& builder,
                       std::vector<flatbuffers::Offset<wire::Reply>> replies) {
    finish_frame(builder, wire::CreateFrame(builder, 0, builder.CreateVector(replies)));
    const AlignedFrame frame(builder.GetBufferSpan());
    std::size_t ran = 0;
    std::string why;
    EXPECT_TRUE(pipeline_.dispatch_frame(frame.bytes(), Clock::now(), &ran, &why)) << why;
    return ran;
  }

  static flatbuffers::Offset<wire::Reply> batch_reply(flatbuffers::FlatBufferBuilder& builder,
                                                      std::uint64_t id,
                                                      const std::vector<ItemReply>& items) {
    std::vector<wire::BookItemResult> results;
    std::vector<wire::BookItemDetail> details;
    for (std::uint32_t i = 0; i < items.size(); ++i) {
      const ItemReply& item = items[i];
      const std::uint64_t ref = item.ref_serial ? BookingRef::make(item.ref_serial, 1).bits() : 0;
      results.emplace_back(ref, item.seats, to_wire(item.outcome),
                           static_cast<std::uint8_t>(item.reason));
      if (item.detail) {
        const wire::BookItemDetail& d = *item.detail;
        details.emplace_back(i, d.position(), d.retry_after_ms(), d.opens_in_ms(),
                             d.expires_at_ms());
      }
    }
    auto answer = wire::CreateBookBatchReply(builder, builder.CreateVectorOfStructs(results),
                                             builder.CreateVectorOfStructs(details));
    return wire::CreateReply(builder, id, wire::Outcome::OK, 0, wire::Result::BookBatchReply,
                             answer.Union());
  }

  ClientOptions options_;
  RequestPipeline pipeline_;
  std::vector<std::string> users_, request_ids_;
  std::vector<Seen> seen_;
};

TEST_F(BatchPipeline, ConsecutiveBooksOfOneEventGoAsOneBatchClosedByAnythingElse) {
  const std::uint64_t first = book("gig", "ann", 2, "id-ann", true, WaitlistChoice::join);
  EXPECT_EQ(book("gig", "bob"), first) << "one request carries the batch";
  EXPECT_EQ(book("gig", "cy", 3, "id-cy", false, WaitlistChoice::never), first);
  const std::uint64_t other = book("fair", "dee");  // another event: a batch of one
  EXPECT_NE(other, first);
  get_event("gig");  // closes nothing open: fair's went
  const std::uint64_t again = book("gig", "eve");
  book("gig", "fay");
  EXPECT_EQ(pipeline_.in_flight(), 7u) << "each booking holds its own slot";

  const std::vector<AlignedFrame> frames = written();
  ASSERT_EQ(frames.size(), 1u);
  const auto& requests = *frames[0].frame()->requests();
  ASSERT_EQ(requests.size(), 4u);

  ASSERT_EQ(requests.Get(0)->op_type(), wire::Op::BookBatch);
  EXPECT_EQ(requests.Get(0)->id(), first);
  const wire::BookBatch& batch = *requests.Get(0)->op_as_BookBatch();
  EXPECT_EQ(batch.event()->str(), "gig");
  const std::vector<WireItem> items = items_of(batch);
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].user, "ann");
  EXPECT_EQ(items[0].request_id, "id-ann");
  EXPECT_EQ(items[0].seats, 2u);
  EXPECT_TRUE(items[0].hold);
  EXPECT_EQ(items[0].waitlist, wire::WaitlistChoice::Join);
  EXPECT_EQ(items[1].user, "bob");
  EXPECT_EQ(items[1].request_id, "");
  EXPECT_EQ(items[1].seats, 1u);
  EXPECT_FALSE(items[1].hold);
  EXPECT_EQ(items[2].user, "cy");
  EXPECT_EQ(items[2].request_id, "id-cy");
  EXPECT_EQ(items[2].waitlist, wire::WaitlistChoice::Never);

  // A batch of one is a plain Book: the server's single path, the same bytes.
  ASSERT_EQ(requests.Get(1)->op_type(), wire::Op::Book);
  EXPECT_EQ(requests.Get(1)->id(), other);
  EXPECT_EQ(requests.Get(1)->op_as_Book()->event()->str(), "fair");
  EXPECT_EQ(requests.Get(1)->op_as_Book()->user()->str(), "dee");
  EXPECT_EQ(requests.Get(2)->op_type(), wire::Op::GetEvent);
  ASSERT_EQ(requests.Get(3)->op_type(), wire::Op::BookBatch);
  EXPECT_EQ(requests.Get(3)->id(), again);
  EXPECT_EQ(items_of(*requests.Get(3)->op_as_BookBatch()).size(), 2u);
}

TEST_F(BatchPipeline, ABatchClosesAtTheItemLimitAndAtEveryFrameClose) {
  for (std::size_t i = 0; i <= book_batch_items_max; ++i) book("gig", "u" + std::to_string(i));
  std::vector<AlignedFrame> frames = written();
  ASSERT_EQ(frames.size(), 1u);
  const auto& requests = *frames[0].frame()->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests.Get(0)->op_as_BookBatch()->items()->size(), book_batch_items_max);
  EXPECT_EQ(requests.Get(1)->op_type(), wire::Op::Book);  // the one past the limit

  book("gig", "late-1");
  book("gig", "late-2");
  frames = written();  // a flush closes the batch
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].frame()->requests()->Get(0)->op_as_BookBatch()->items()->size(), 2u);
}

// Users and request ids at their limits fill frames fast: every frame stays
// within frame_size_max and every booking is sent exactly once.
TEST_F(BatchPipeline, FramesStayWithinTheirLimitWithLargeItems) {
  const std::string long_id(request_id_size_max, 'r');
  constexpr int count = 12'000;  // ~1.6 MB of users and ids: two frames at least
  for (int i = 0; i < count; ++i) {
    std::string user = std::to_string(i);
    user.resize(user_size_max, 'u');
    book("gig", std::move(user), 1, long_id);
  }
  const std::vector<AlignedFrame> frames = written();
  EXPECT_GE(frames.size(), 2u);
  std::size_t items = 0;
  for (const AlignedFrame& frame : frames) {
    EXPECT_LE(frame.bytes().size(), frame_header_size + frame_size_max);
    for (const wire::Request* request : *frame.frame()->requests()) {
      ASSERT_EQ(request->op_type(), wire::Op::BookBatch);
      for (const WireItem& item : items_of(*request->op_as_BookBatch())) {
        EXPECT_EQ(item.user.substr(0, std::to_string(items).size()), std::to_string(items));
        ++items;
      }
    }
  }
  EXPECT_EQ(items, static_cast<std::size_t>(count));
}

TEST_F(BatchPipeline, EachBookingReadsItsItemAsABooksAnswer) {
  const std::uint64_t id = book("gig", "booked", 2);
  for (const char* user : {"again", "sold-out", "waiting", "held", "invalid", "limited", "early"}) {
    book("gig", user);
  }
  written();
  flatbuffers::FlatBufferBuilder builder;
  std::vector<ItemReply> items = {
      {.outcome = Outcome::booked, .ref_serial = 7, .seats = 2},
      {.outcome = Outcome::already_booked, .ref_serial = 7, .seats = 2},
      {.outcome = Outcome::sold_out, .reason = Reason::sold_out},
      {.outcome = Outcome::waitlisted, .seats = 1, .detail = wire::BookItemDetail(0, 3, 0, 0, 0)},
      {.outcome = Outcome::held,
       .ref_serial = 8,
       .seats = 1,
       .detail = wire::BookItemDetail(0, 0, 0, 0, 1'700'000'000'000)},
      {.outcome = Outcome::invalid, .reason = Reason::seats_invalid},
      {.outcome = Outcome::rate_limited,
       .reason = Reason::rate_limited,
       .detail = wire::BookItemDetail(0, 0, 250, 0, 0)},
      {.outcome = Outcome::not_open,
       .reason = Reason::event_not_open,
       .detail = wire::BookItemDetail(0, 0, 0, 9000, 0)},
  };
  EXPECT_EQ(dispatch(builder, {batch_reply(builder, id, items)}), items.size());
  EXPECT_EQ(pipeline_.in_flight(), 0u);

  const std::string ref7(BookingRef::make(7, 1).view()), ref8(BookingRef::make(8, 1).view());
  for (const Seen& seen : seen_) {
    EXPECT_EQ(seen.calls, 1);
    EXPECT_EQ(seen.error, ClientError::none);
  }
  EXPECT_EQ(seen_[0].outcome, Outcome::booked);
  EXPECT_EQ(seen_[0].ref, ref7);
  EXPECT_EQ(seen_[0].book.ref, ref7);
  EXPECT_EQ(seen_[0].book.seats, 2u);
  EXPECT_EQ(seen_[0].message, "");
  EXPECT_EQ(seen_[1].outcome, Outcome::already_booked);
  EXPECT_EQ(seen_[1].ref, ref7);
  EXPECT_EQ(seen_[2].outcome, Outcome::sold_out);
  EXPECT_EQ(seen_[2].message, "sold out");
  EXPECT_EQ(seen_[2].ref, "");
  EXPECT_EQ(seen_[3].outcome, Outcome::waitlisted);
  EXPECT_EQ(seen_[3].book.position, 3u);
  EXPECT_EQ(seen_[4].outcome, Outcome::held);
  EXPECT_EQ(seen_[4].ref, ref8);
  EXPECT_EQ(seen_[4].book.expires_at_ms, 1'700'000'000'000);
  EXPECT_EQ(seen_[4].book.position, 0u);
  EXPECT_EQ(seen_[5].outcome, Outcome::invalid);
  EXPECT_EQ(seen_[5].message, "seats: must be 1..1000000000");
  EXPECT_EQ(seen_[6].outcome, Outcome::rate_limited);
  EXPECT_EQ(seen_[6].book.retry_after_ms, 250);
  EXPECT_EQ(seen_[6].message, reason_text(Reason::rate_limited));
  EXPECT_EQ(seen_[7].outcome, Outcome::not_open);
  EXPECT_EQ(seen_[7].book.opens_in_ms, 9000);
}

TEST_F(BatchPipeline, ARefusedBatchGivesEveryBookingItsOutcomeAndMessage) {
  const std::uint64_t id = book("gig", "ann");
  book("gig", "bob");
  book("gig", "cy");
  written();
  flatbuffers::FlatBufferBuilder builder;
  auto refused = wire::CreateReply(builder, id, wire::Outcome::OVERLOADED,
                                   builder.CreateString("storage: too many batches waiting"));
  EXPECT_EQ(dispatch(builder, {refused}), 3u);
  for (const Seen& seen : seen_) {
    EXPECT_EQ(seen.calls, 1);
    EXPECT_EQ(seen.error, ClientError::none);
    EXPECT_EQ(seen.outcome, Outcome::overloaded);
    EXPECT_EQ(seen.message, "storage: too many batches waiting");
    EXPECT_EQ(seen.ref, "");
  }
}

TEST_F(BatchPipeline, BookingsAReplyLacksFailAsAProtocolErrorOnce) {
  const std::uint64_t id = book("gig", "ann");
  book("gig", "bob");
  book("gig", "cy");
  written();
  flatbuffers::FlatBufferBuilder builder;
  EXPECT_EQ(dispatch(builder,
                     {batch_reply(builder, id, {{.outcome = Outcome::booked, .ref_serial = 1}})}),
            3u);
  EXPECT_EQ(seen_[0].outcome, Outcome::booked);
  EXPECT_EQ(seen_[1].error, ClientError::protocol_error);
  EXPECT_EQ(seen_[2].error, ClientError::protocol_error);
  for (const Seen& seen : seen_) EXPECT_EQ(seen.calls, 1);
  EXPECT_EQ(pipeline_.in_flight(), 0u);
}

// Only the batch's id was sent: a reply naming another of its bookings' slots
// (a confused server) is dropped, and an answer of the wrong kind fails every
// booking as a protocol error, once.
TEST_F(BatchPipeline, RepliesTheBatchWasNotSentAreNotItsAnswer) {
  const std::uint64_t id = book("gig", "ann");
  book("gig", "bob");
  const std::uint64_t bob_slot = id + 1;  // a fresh pipeline's next slot, same generation
  written();
  flatbuffers::FlatBufferBuilder builder;
  auto to_bob = wire::CreateReply(builder, bob_slot, wire::Outcome::BOOKED);
  auto book = wire::CreateBookReply(builder, builder.CreateString("BK-0000000000"), 1);
  auto wrong_kind = wire::CreateReply(builder, id, wire::Outcome::BOOKED, 0,
                                      wire::Result::BookReply, book.Union());
  EXPECT_EQ(dispatch(builder, {to_bob, wrong_kind}), 2u);
  for (const Seen& seen : seen_) {
    EXPECT_EQ(seen.calls, 1);
    EXPECT_EQ(seen.error, ClientError::protocol_error);
  }
  EXPECT_EQ(pipeline_.in_flight(), 0u);
}

TEST_F(BatchPipeline, ATimeoutFailsEachBookingOnceAndTheLateReplyIsDropped) {
  const std::uint64_t id = book("gig", "ann");
  book("gig", "bob");
  book("gig", "cy");
  const std::uint64_t after = get_event("gig");
  written();
  const Clock::time_point deadline = Clock::now();
  pipeline_.stamp(deadline);
  std::size_t ran = 0;
  pipeline_.expire(deadline, "no answer within the request timeout", &ran);
  EXPECT_EQ(ran, 4u);
  for (const Seen& seen : seen_) {
    EXPECT_EQ(seen.calls, 1);
    EXPECT_EQ(seen.error, ClientError::timed_out);
  }
  // The slots are free: new requests take them, and the late answers find
  // stale ids.
  book("gig", "dee");
  book("gig", "eve");
  written();
  flatbuffers::FlatBufferBuilder builder;
  auto late_get = wire::CreateReply(builder, after, wire::Outcome::OK);
  EXPECT_EQ(dispatch(builder, {batch_reply(builder, id,
                                           {{.outcome = Outcome::booked, .ref_serial = 1},
                                            {.outcome = Outcome::booked, .ref_serial = 2},
                                            {.outcome = Outcome::booked, .ref_serial = 3}}),
                               late_get}),
            0u);
  for (const Seen& seen : seen_) EXPECT_LE(seen.calls, 1);
  EXPECT_EQ(pipeline_.in_flight(), 2u);
}

// A callback may fail the whole connection (its flush broke it): the
// bookings after it get that failure, once, and nothing of the reply.
TEST_F(BatchPipeline, ACallbackThatFailsAllEndsTheBatchsDispatch) {
  std::vector<int> calls(3);
  std::vector<ClientError> errors(3);
  std::uint64_t id = 0;
  for (int i = 0; i < 3; ++i) {
    const BookRequest request{.event = "gig", .user = "u"};
    const std::uint64_t request_id = pipeline_.add_book(request, [&, i](const ReplyView& reply) {
      ++calls[i];
      errors[i] = reply.error();
      if (i == 0) pipeline_.fail_all(ClientError::connection_lost, "send: broken pipe");
    });
    if (i == 0) id = request_id;
  }
  written();
  flatbuffers::FlatBufferBuilder builder;
  const std::vector<ItemReply> items(3, ItemReply{.outcome = Outcome::booked, .ref_serial = 1});
  EXPECT_EQ(dispatch(builder, {batch_reply(builder, id, items)}), 1u);
  EXPECT_EQ(calls, (std::vector<int>{1, 1, 1}));
  EXPECT_EQ(errors[0], ClientError::none);
  EXPECT_EQ(errors[1], ClientError::connection_lost);
  EXPECT_EQ(errors[2], ClientError::connection_lost);
  EXPECT_EQ(pipeline_.in_flight(), 0u);
}

// Callbacks may submit: a booking added during the dispatch takes a slot the
// batch just freed, and is not mistaken for one of the batch's.
TEST_F(BatchPipeline, CallbacksThatBookAgainDoNotDisturbTheRestOfTheBatch) {
  std::vector<int> calls(3);
  std::vector<std::string> refs(3);
  std::uint64_t id = 0;
  for (int i = 0; i < 3; ++i) {
    const BookRequest request{.event = "gig", .user = "u"};
    const std::uint64_t request_id =
        pipeline_.add_book(request, [this, &calls, &refs, i](const ReplyView& reply) {
          ++calls[i];
          refs[i] = std::string(reply.book_view().ref);
          pipeline_.add_book(BookRequest{.event = "gig", .user = "again"}, [](const ReplyView&) {});
        });
    if (i == 0) id = request_id;
  }
  written();
  flatbuffers::FlatBufferBuilder builder;
  EXPECT_EQ(dispatch(builder, {batch_reply(builder, id,
                                           {{.outcome = Outcome::booked, .ref_serial = 1},
                                            {.outcome = Outcome::booked, .ref_serial = 2},
                                            {.outcome = Outcome::booked, .ref_serial = 3}})}),
            3u);
  EXPECT_EQ(calls, (std::vector<int>{1, 1, 1}));
  EXPECT_EQ(refs[0], BookingRef::make(1, 1).view());
  EXPECT_EQ(refs[1], BookingRef::make(2, 1).view());
  EXPECT_EQ(refs[2], BookingRef::make(3, 1).view());
  EXPECT_EQ(pipeline_.in_flight(), 3u) << "the three bookings added by the callbacks";
  const std::vector<AlignedFrame> frames = written();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].frame()->requests()->Get(0)->op_as_BookBatch()->items()->size(), 3u);
}

TEST(BookBatchDraft, BoundsWhatItEncodes) {
  codec::BookBatchDraft draft;
  const std::string user(user_size_max, 'u'), id(request_id_size_max, 'r');
  for (std::size_t i = 0; i < book_batch_items_max; ++i) {
    draft.add(BookRequest{.event = "gig", .user = user, .request_id = id});
  }
  EXPECT_FALSE(draft.accepts(BookRequest{.event = "gig", .user = user}));
  FrameBuilder builder;
  const std::size_t before = builder.GetSize();
  const EncodedOp op = draft.encode(builder);
  builder.Finish(wire::CreateRequest(builder, 1, op.type, op.offset));
  EXPECT_LE(builder.GetSize() - before, draft.encoded_size_max());
  EXPECT_LE(draft.encoded_size_max(), frame_size_max / 4) << "a full batch fits a frame";
}

}  // namespace
}  // namespace admit
