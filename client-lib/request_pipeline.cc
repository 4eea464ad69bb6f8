#include "request_pipeline.h"

#include <optional>

#include "protocol/assertions.h"
#include "protocol/framing.h"

namespace admit {
namespace {

// Room kept for one more operation: the largest (UpdateEvent, Book with every
// string at its limit) encode to well under this.
constexpr std::size_t op_encoded_size_max = 4096;
constexpr std::size_t frame_build_size_max = frame_size_max - op_encoded_size_max;

}  // namespace

RequestPipeline::RequestPipeline(const ClientOptions& options)
    : in_flight_max_(options.in_flight_max) {
  request_offsets_.reserve(frame_requests_max);
}

void RequestPipeline::prepare_room() {
  if (!batch_.empty()) close_batch();
  if (builder_.GetSize() > frame_build_size_max) close_frame();
}

std::uint64_t RequestPipeline::add_book(const BookRequest& request, ReplyCallback&& callback) {
  if (!batch_.accepts(request)) close_batch();
  // The batch is encoded into this frame when it closes: room for it, grown
  // by this booking, is kept below the frame's limit.
  if (builder_.GetSize() + batch_.encoded_size_max() + codec::book_item_encoded_size_max >
      frame_build_size_max) {
    close_frame();
  }
  const std::uint64_t id = take_slot(std::move(callback));
  if (batch_.empty()) {
    batch_id_ = id;
  } else {
    slots_[static_cast<std::uint32_t>(id)].batch_items = batch_follower;
  }
  batch_.add(request);
  return batch_id_;
}

void RequestPipeline::close_batch() {
  if (batch_.empty()) return;
  const EncodedOp op = batch_.encode(builder_);
  Slot& first = slots_[static_cast<std::uint32_t>(batch_id_)];
  ADMIT_ASSERT(first.busy && first.generation == static_cast<std::uint32_t>(batch_id_ >> 32));
  // A batch of one went as a plain Book, answered as one.
  first.batch_items =
      op.type == wire::Op::BookBatch ? static_cast<std::uint32_t>(batch_.size()) : 0;
  batch_.clear();
  request_offsets_.push_back(wire::CreateRequest(builder_, batch_id_, op.type, op.offset));
  if (request_offsets_.size() >= frame_requests_max) close_frame();
}

void RequestPipeline::close_frame() {
  close_batch();
  if (request_offsets_.empty()) return;
  auto requests = builder_.CreateVector(request_offsets_);
  finish_frame(builder_, wire::CreateFrame(builder_, requests));
  const auto bytes = builder_.GetBufferSpan();
  ADMIT_ASSERT(bytes.size() <= frame_size_max + frame_header_size);
  out_.insert(out_.end(), bytes.begin(), bytes.end());
  builder_.restart();
  request_offsets_.clear();
}

std::uint64_t RequestPipeline::take_slot(ReplyCallback&& callback) {
  ADMIT_ASSERT(!full());
  std::uint32_t index;
  if (!free_slots_.empty()) {
    index = free_slots_.back();
    free_slots_.pop_back();
  } else {
    index = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& slot = slots_[index];
  ADMIT_ASSERT(!slot.busy);
  slot.callback = std::move(callback);
  slot.busy = true;
  slot.batch_items = 0;
  slot.epoch = epoch_;
  slot.older = newest_;
  slot.newer = none;
  (newest_ == none ? oldest_ : slots_[newest_].newer) = index;
  newest_ = index;
  if (unstamped_ == none) unstamped_ = index;
  ++slots_used_;
  return std::uint64_t{slot.generation} << 32 | index;
}

void RequestPipeline::release_slot(std::uint32_t index) {
  Slot& slot = slots_[index];
  ADMIT_ASSERT(slot.busy);
  slot.busy = false;
  (slot.older == none ? oldest_ : slots_[slot.older].newer) = slot.newer;
  (slot.newer == none ? newest_ : slots_[slot.newer].older) = slot.older;
  if (unstamped_ == index) unstamped_ = slot.newer;
  if (++slot.generation == 0) slot.generation = 1;
  free_slots_.push_back(index);
  --slots_used_;
}

void RequestPipeline::stamp(Clock::time_point deadline) {
  for (std::uint32_t i = unstamped_; i != none; i = slots_[i].newer) slots_[i].deadline = deadline;
  unstamped_ = none;
}

void RequestPipeline::expire(Clock::time_point now, std::string_view message, std::size_t* ran) {
  // The oldest again after each callback: it may answer, add (unstamped, so
  // the loop ends there) or fail everything.
  Clock::time_point deadline;
  while (next_deadline(&deadline) && deadline <= now) {
    const std::uint32_t index = oldest_;
    ReplyCallback callback = std::move(slots_[index].callback);
    release_slot(index);
    callback(ReplyView(nullptr, ClientError::timed_out, message, now));
    ++*ran;
  }
}

bool RequestPipeline::dispatch_frame(std::span<const std::uint8_t> bytes,
                                     Clock::time_point received_at, std::size_t* ran,
                                     std::string* why, UpdateSink* sink, std::uint64_t link) {
  const wire::Frame* frame = verify_frame(bytes, why);
  if (frame == nullptr) return false;
  if (frame->replies() == nullptr && frame->updates() == nullptr) {
    *why = "frame without replies or updates";
    return false;
  }
  dispatching_ = true;
  const std::uint32_t dispatch_epoch = epoch_;
  if (frame->replies() != nullptr) dispatch_replies(*frame->replies(), received_at, ran);
  // Updates pushed to a connection closed by a callback above are dropped: the
  // watch is sent again on the next one, whose first update is the current state.
  if (frame->updates() != nullptr && sink != nullptr && epoch_ == dispatch_epoch) {
    for (const wire::Update* update : *frame->updates()) {
      sink->deliver(*update, link, received_at);
      ++*ran;
      if (epoch_ != dispatch_epoch) break;
    }
  }
  dispatching_ = false;
  return true;
}

void RequestPipeline::dispatch_replies(
    const flatbuffers::Vector<flatbuffers::Offset<wire::Reply>>& replies,
    Clock::time_point received_at, std::size_t* ran) {
  const std::uint32_t dispatch_epoch = epoch_;
  for (const wire::Reply* reply : replies) {
    const std::uint64_t id = reply->id();
    const auto index = static_cast<std::uint32_t>(id);
    // A reply to an abandoned request (its slot reused since) is dropped, and
    // so is one naming a batch's booking other than its first (the server was
    // never sent that id): the batch's bookings are answered together.
    if (index >= slots_.size() || !slots_[index].busy ||
        slots_[index].generation != static_cast<std::uint32_t>(id >> 32)) {
      continue;
    }
    if (slots_[index].batch_items != 0) {
      if (slots_[index].batch_items == batch_follower) continue;
      dispatch_batch(*reply, index, received_at, ran);
      if (epoch_ != dispatch_epoch) break;
      continue;
    }
    // Moved out first: the callback may submit, which may reuse the slot.
    ReplyCallback callback = std::move(slots_[index].callback);
    release_slot(index);
    callback(ReplyView(reply, ClientError::none, {}, received_at));
    ++*ran;
    if (epoch_ != dispatch_epoch) break;  // a callback's flush failed: all were failed
  }
}

// Each booking of the batch gets its own answer, in order: its item of the
// BookBatchReply, or, when the whole batch was refused (no result), the
// reply itself, whose outcome and message every booking reads.
void RequestPipeline::dispatch_batch(const wire::Reply& reply, std::uint32_t first,
                                     Clock::time_point received_at, std::size_t* ran) {
  const std::uint32_t dispatch_epoch = epoch_;
  const std::uint32_t count = slots_[first].batch_items;
  const bool refused = reply.result_type() == wire::Result::NONE;
  std::optional<codec::BookItemReader> reader;
  if (const wire::BookBatchReply* result = reply.result_as_BookBatchReply())
    reader.emplace(*result);
  BookItemAnswer answer;  // what each callback's view points to
  std::uint32_t index = first;
  for (std::uint32_t item = 0; item < count; ++item) {
    // The bookings of a batch are released only together: by this dispatch,
    // by expire() (oldest first, the first booking before the others: its
    // reply is then stale) or by fail_all().
    ADMIT_ASSERT(index != none && slots_[index].busy);
    const std::uint32_t next = slots_[index].newer;
    ReplyCallback callback = std::move(slots_[index].callback);
    release_slot(index);
    if (refused) {
      callback(ReplyView(&reply, ClientError::none, {}, received_at));
    } else if (reader && reader->read(item, &answer)) {
      callback(ReplyView(answer, received_at));
    } else {
      callback(ReplyView(nullptr, ClientError::protocol_error,
                         "the server's answer to a BookBatch has no BookBatchReply item for "
                         "this booking",
                         received_at));
    }
    ++*ran;
    if (epoch_ != dispatch_epoch) return;  // a callback's flush failed: all were failed
    index = next;
  }
}

void RequestPipeline::fail_all(ClientError error, std::string_view message) {
  builder_.restart();
  batch_.clear();
  request_offsets_.clear();
  out_.clear();
  const Clock::time_point now = Clock::now();
  // By index and only this epoch's slots: a callback may reconnect and submit,
  // which may grow slots_ and take fresh ones.
  const std::uint32_t failing_epoch = epoch_++;
  const std::size_t slot_count = slots_.size();
  for (std::size_t i = 0; i < slot_count; ++i) {
    if (!slots_[i].busy || slots_[i].epoch != failing_epoch) continue;
    ReplyCallback callback = std::move(slots_[i].callback);
    release_slot(static_cast<std::uint32_t>(i));
    callback(ReplyView(nullptr, error, message, now));
  }
}

}  // namespace admit
