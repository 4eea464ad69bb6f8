// Operations to FlatBuffers and back, and the checks of admit/limits.h done
// before anything is sent. Private to client-lib.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "admit/async_client.h"
#include "admit/client.h"
#include "frame_builder.h"
#include "protocol/booking_ref.h"

namespace admit::codec {

// Each returns OK, or invalid_argument naming the field ("user: must be 1..64 bytes").
Status check_event_spec(const EventSpec& spec);
Status check_event_update(const EventUpdate& update);
Status check_event_id(std::string_view id, std::string_view field = "event");
Status check_book(const BookRequest& request);
Status check_ref(std::string_view ref);
Status check_user(std::string_view user);
Status check_request_id(std::string_view request_id);
Status check_limit(std::uint32_t limit);

using Builder = FrameBuilder;

EncodedOp encode_create_event(Builder& b, const EventSpec& spec);
EncodedOp encode_update_event(Builder& b, const EventUpdate& update);
EncodedOp encode_get_event(Builder& b, std::string_view id);
EncodedOp encode_list_events(Builder& b, std::string_view after, std::uint32_t limit);
EncodedOp encode_book(Builder& b, const BookRequest& request);
EncodedOp encode_confirm(Builder& b, std::string_view ref, std::string_view request_id);
EncodedOp encode_cancel(Builder& b, std::string_view ref, std::string_view request_id);
EncodedOp encode_get_booking(Builder& b, std::string_view ref);
EncodedOp encode_list_bookings(Builder& b, std::string_view event, std::string_view after,
                               std::uint32_t limit);
EncodedOp encode_waitlist_position(Builder& b, std::string_view event, std::string_view user);
EncodedOp encode_leave_waitlist(Builder& b, std::string_view event, std::string_view user,
                                std::string_view request_id);
EncodedOp encode_stats(Builder& b);
EncodedOp encode_watch(Builder& b, std::string_view event);
EncodedOp encode_unwatch(Builder& b, std::string_view event);
EncodedOp encode_hello(Builder& b, std::string_view token);

// ---- batched bookings (ClientOptions::book_batching) ----

// Bookings of one event gathered for one BookBatch request: the items, and
// their users and request ids back to back, as the wire carries them, kept
// until the batch closes. The buffers grow to the largest batch seen and keep
// their capacity: nothing is allocated once warm.
class BookBatchDraft {
 public:
  BookBatchDraft();
  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }
  // Whether a booking may join: same event, and fewer than book_batch_items_max.
  bool accepts(const BookRequest& request) const {
    return !items_.empty() && items_.size() < book_batch_items_max && request.event == event_;
  }
  // Adds a booking that passed check_book (the first one names the event).
  void add(const BookRequest& request);
  // At most the bytes encode() adds to a frame, the Request around it included.
  std::size_t encoded_size_max() const;
  // The batch as a BookBatch; as a plain Book when it holds one booking (the
  // same bytes, and the server's single path).
  EncodedOp encode(Builder& b) const;
  void clear();

 private:
  std::string event_;  // reserved for event_id_size_max bytes
  std::vector<wire::BookItem> items_;
  std::vector<std::uint8_t> texts_;
};

// The most bytes one booking adds to a BookBatch.
inline constexpr std::size_t book_item_encoded_size_max =
    sizeof(wire::BookItem) + user_size_max + request_id_size_max;

}  // namespace admit::codec

namespace admit {

// One booking's answer out of a BookBatchReply, read as a Book's answer reads
// (ReplyView's item constructor): the message is its reason's text, the ref is
// spelled from its bits into ref_text, which book.ref points to.
struct BookItemAnswer {
  Outcome outcome = Outcome::ok;
  std::string_view message;
  BookReplyView book;
  std::array<char, booking_ref_size> ref_text{};
};

}  // namespace admit

namespace admit::codec {

// Reads the answers of a BookBatchReply's items, by increasing item.
class BookItemReader {
 public:
  explicit BookItemReader(const wire::BookBatchReply& reply);
  // Item `item` (greater than the last one read) into *out; false when the
  // reply has no such item.
  bool read(std::uint32_t item, BookItemAnswer* out);

 private:
  const flatbuffers::Vector<const wire::BookItemResult*>* items_;
  const flatbuffers::Vector<const wire::BookItemDetail*>* details_;
  std::uint32_t next_detail_ = 0;  // details come by increasing item
};

// The typed value of a reply, for the synchronous Client.
void decode(const ReplyView& reply, HelloInfo* out);
void decode(const ReplyView& reply, EventInfo* out);
void decode(const ReplyView& reply, EventPage* out);
void decode(const ReplyView& reply, BookReply* out);
void decode(const ReplyView& reply, BookingInfo* out);
void decode(const ReplyView& reply, BookingPage* out);
void decode(const ReplyView& reply, WaitlistInfo* out);
void decode(const ReplyView& reply, StatsInfo* out);

}  // namespace admit::codec
