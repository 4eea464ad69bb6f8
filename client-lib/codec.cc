#include "codec.h"

#include <algorithm>
#include <optional>
#include <string>

#include "admit/limits.h"
#include "protocol/booking_ref.h"
#include "protocol/framing.h"
#include "protocol/reason.h"

namespace admit::codec {
namespace {

Status invalid(std::string message) {
  return Status::failure(ClientError::invalid_argument, std::move(message));
}

Status check_size(std::string_view value, std::string_view field, std::size_t min,
                  std::size_t max) {
  if (value.size() >= min && value.size() <= max) return Status();
  return invalid(std::string(field) + ": must be " + std::to_string(min) + ".." +
                 std::to_string(max) + " bytes (got " + std::to_string(value.size()) + ")");
}

Status check_at_most(std::uint32_t value, std::string_view field, std::uint32_t max) {
  if (value <= max) return Status();
  return invalid(std::string(field) + ": must be at most " + std::to_string(max) + " (got " +
                 std::to_string(value) + ")");
}

// The first failure of several checks, or OK.
Status first_failure(std::initializer_list<Status> checks) {
  for (const Status& s : checks) {
    if (!s.answered()) return s;
  }
  return Status();
}

template <typename T>
flatbuffers::Optional<T> to_fb(const std::optional<T>& value) {
  if (value) return *value;
  return flatbuffers::nullopt;
}

flatbuffers::Offset<flatbuffers::String> string_or_absent(Builder& b, std::string_view text) {
  return text.empty() ? 0 : b.CreateString(text.data(), text.size());
}

std::string to_string(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

const wire::Reply* as_reply(const void* reply) { return static_cast<const wire::Reply*>(reply); }

EventInfo event_from(const wire::EventInfo* e) {
  EventInfo out;
  if (e == nullptr) return out;
  out.id = to_string(e->id());
  out.capacity = e->capacity();
  out.per_user_max = e->per_user_max();
  out.hold_ttl_ms = e->hold_ttl_ms();
  out.waitlist = e->waitlist();
  out.waitlist_max = e->waitlist_max();
  out.opens_at_ms = e->opens_at_ms();
  out.closes_at_ms = e->closes_at_ms();
  out.rate_per_s = e->rate_per_s();
  out.rate_burst = e->rate_burst();
  out.state = from_wire(e->state());
  out.version = e->version();
  out.available = e->available();
  out.held = e->held();
  out.confirmed = e->confirmed();
  out.waitlisted = e->waitlisted();
  out.watchers = e->watchers();
  return out;
}

BookingInfo booking_from(const wire::BookingInfo* b) {
  BookingInfo out;
  if (b == nullptr) return out;
  out.ref = to_string(b->ref());
  out.event = to_string(b->event());
  out.user = to_string(b->user());
  out.seats = b->seats();
  out.state = from_wire(b->state());
  out.created_at_ms = b->created_at_ms();
  out.expires_at_ms = b->expires_at_ms();
  return out;
}

}  // namespace

// ---- checks ----

Status check_event_id(std::string_view id, std::string_view field) {
  return check_size(id, field, 1, event_id_size_max);
}
Status check_user(std::string_view user) { return check_size(user, "user", 1, user_size_max); }
Status check_request_id(std::string_view request_id) {
  return check_size(request_id, "request_id", 0, request_id_size_max);
}
Status check_limit(std::uint32_t limit) { return check_at_most(limit, "limit", list_limit_max); }

Status check_ref(std::string_view ref) {
  if (BookingRef::parse(ref)) return Status();
  return invalid("ref: '" + std::string(ref.substr(0, 32)) +
                 "' is not a booking ref (like BK-7M2Q9XK4)");
}

Status check_event_spec(const EventSpec& spec) {
  return first_failure({
      check_event_id(spec.id, "id"),
      check_at_most(spec.capacity, "capacity", capacity_max),
      check_at_most(spec.per_user_max, "per_user_max", capacity_max),
      check_at_most(spec.hold_ttl_ms, "hold_ttl_ms", hold_ttl_ms_max),
      check_at_most(spec.waitlist_max, "waitlist_max", waitlist_length_max),
      check_at_most(spec.rate_per_s, "rate_per_s", rate_per_s_max),
      spec.opens_at_ms >= 0 ? Status() : invalid("opens_at_ms: must not be negative"),
      spec.closes_at_ms >= 0 ? Status() : invalid("closes_at_ms: must not be negative"),
  });
}

Status check_event_update(const EventUpdate& u) {
  return first_failure({
      check_event_id(u.id, "id"),
      check_at_most(u.capacity.value_or(0), "capacity", capacity_max),
      check_at_most(u.per_user_max.value_or(0), "per_user_max", capacity_max),
      check_at_most(u.hold_ttl_ms.value_or(0), "hold_ttl_ms", hold_ttl_ms_max),
      check_at_most(u.waitlist_max.value_or(0), "waitlist_max", waitlist_length_max),
      check_at_most(u.rate_per_s.value_or(0), "rate_per_s", rate_per_s_max),
      u.opens_at_ms.value_or(0) >= 0 ? Status() : invalid("opens_at_ms: must not be negative"),
      u.closes_at_ms.value_or(0) >= 0 ? Status() : invalid("closes_at_ms: must not be negative"),
  });
}

// This runs for every pipelined Book: a valid one (the common case) costs four
// comparisons; only a refusal builds Statuses to say which field is wrong.
Status check_book(const BookRequest& r) {
  const auto within = [](std::size_t size, std::size_t min, std::size_t max) {
    return size >= min && size <= max;
  };
  if (within(r.event.size(), 1, event_id_size_max) && within(r.user.size(), 1, user_size_max) &&
      r.seats >= 1 && r.seats <= seats_max && r.request_id.size() <= request_id_size_max) {
    return Status();
  }
  if (Status s = check_event_id(r.event); !s.answered()) return s;
  if (Status s = check_user(r.user); !s.answered()) return s;
  if (r.seats < 1) return invalid("seats: must be at least 1");
  if (Status s = check_at_most(r.seats, "seats", seats_max); !s.answered()) return s;
  return check_request_id(r.request_id);
}

// ---- encoders ----

EncodedOp encode_hello(Builder& b, std::string_view token) {
  auto token_offset = string_or_absent(b, token);
  return {wire::Op::Hello, wire::CreateHello(b, protocol_version, token_offset).Union()};
}

EncodedOp encode_create_event(Builder& b, const EventSpec& s) {
  auto id = b.CreateString(s.id.data(), s.id.size());
  return {wire::Op::CreateEvent,
          wire::CreateCreateEvent(b, id, s.capacity, s.per_user_max, s.hold_ttl_ms, s.waitlist,
                                  s.waitlist_max, s.opens_at_ms, s.closes_at_ms, s.rate_per_s,
                                  s.rate_burst)
              .Union()};
}

EncodedOp encode_update_event(Builder& b, const EventUpdate& u) {
  auto id = b.CreateString(u.id.data(), u.id.size());
  flatbuffers::Optional<wire::EventState> state = flatbuffers::nullopt;
  if (u.state) state = to_wire(*u.state);
  return {wire::Op::UpdateEvent,
          wire::CreateUpdateEvent(b, id, to_fb(u.capacity), to_fb(u.per_user_max),
                                  to_fb(u.hold_ttl_ms), to_fb(u.waitlist), to_fb(u.waitlist_max),
                                  to_fb(u.opens_at_ms), to_fb(u.closes_at_ms), to_fb(u.rate_per_s),
                                  to_fb(u.rate_burst), state)
              .Union()};
}

EncodedOp encode_get_event(Builder& b, std::string_view id) {
  auto id_offset = b.repeated_string(id);
  return {wire::Op::GetEvent, wire::CreateGetEvent(b, id_offset).Union()};
}

EncodedOp encode_list_events(Builder& b, std::string_view after, std::uint32_t limit) {
  auto after_offset = string_or_absent(b, after);
  return {wire::Op::ListEvents, wire::CreateListEvents(b, after_offset, limit).Union()};
}

EncodedOp encode_book(Builder& b, const BookRequest& r) {
  auto event = b.repeated_string(r.event);
  auto user = b.CreateString(r.user.data(), r.user.size());
  auto request_id = string_or_absent(b, r.request_id);
  return {
      wire::Op::Book,
      wire::CreateBook(b, event, user, r.seats, r.hold, to_wire(r.waitlist), request_id).Union()};
}

EncodedOp encode_confirm(Builder& b, std::string_view ref, std::string_view request_id) {
  auto ref_offset = b.CreateString(ref.data(), ref.size());
  auto id_offset = string_or_absent(b, request_id);
  return {wire::Op::Confirm, wire::CreateConfirm(b, ref_offset, id_offset).Union()};
}

EncodedOp encode_cancel(Builder& b, std::string_view ref, std::string_view request_id) {
  auto ref_offset = b.CreateString(ref.data(), ref.size());
  auto id_offset = string_or_absent(b, request_id);
  return {wire::Op::Cancel, wire::CreateCancel(b, ref_offset, id_offset).Union()};
}

EncodedOp encode_get_booking(Builder& b, std::string_view ref) {
  auto ref_offset = b.CreateString(ref.data(), ref.size());
  return {wire::Op::GetBooking, wire::CreateGetBooking(b, ref_offset).Union()};
}

EncodedOp encode_list_bookings(Builder& b, std::string_view event, std::string_view after,
                               std::uint32_t limit) {
  auto event_offset = b.CreateString(event.data(), event.size());
  auto after_offset = string_or_absent(b, after);
  return {wire::Op::ListBookings,
          wire::CreateListBookings(b, event_offset, after_offset, limit).Union()};
}

EncodedOp encode_waitlist_position(Builder& b, std::string_view event, std::string_view user) {
  auto event_offset = b.CreateString(event.data(), event.size());
  auto user_offset = b.CreateString(user.data(), user.size());
  return {wire::Op::WaitlistPosition,
          wire::CreateWaitlistPosition(b, event_offset, user_offset).Union()};
}

EncodedOp encode_leave_waitlist(Builder& b, std::string_view event, std::string_view user,
                                std::string_view request_id) {
  auto event_offset = b.CreateString(event.data(), event.size());
  auto user_offset = b.CreateString(user.data(), user.size());
  auto id_offset = string_or_absent(b, request_id);
  return {wire::Op::LeaveWaitlist,
          wire::CreateLeaveWaitlist(b, event_offset, user_offset, id_offset).Union()};
}

EncodedOp encode_stats(Builder& b) { return {wire::Op::Stats, wire::CreateStats(b).Union()}; }

EncodedOp encode_watch(Builder& b, std::string_view event) {
  auto event_offset = b.repeated_string(event);
  return {wire::Op::Watch, wire::CreateWatch(b, event_offset).Union()};
}

EncodedOp encode_unwatch(Builder& b, std::string_view event) {
  auto event_offset = b.repeated_string(event);
  return {wire::Op::Unwatch, wire::CreateUnwatch(b, event_offset).Union()};
}

// ---- batched bookings ----

namespace {

// What a BookBatch adds to a frame besides its items and texts: the tables of
// the Request and the BookBatch, the two vectors' lengths and alignment, the
// event string's length and terminator.
constexpr std::size_t book_batch_overhead_max = 128;

}  // namespace

BookBatchDraft::BookBatchDraft() { event_.reserve(event_id_size_max); }

void BookBatchDraft::add(const BookRequest& r) {
  if (items_.empty()) event_.assign(r.event);
  items_.emplace_back(r.seats, static_cast<std::uint8_t>(r.user.size()),
                      static_cast<std::uint8_t>(r.request_id.size()), r.hold, to_wire(r.waitlist));
  texts_.insert(texts_.end(), r.user.begin(), r.user.end());
  texts_.insert(texts_.end(), r.request_id.begin(), r.request_id.end());
}

std::size_t BookBatchDraft::encoded_size_max() const {
  return book_batch_overhead_max + event_.size() + items_.size() * sizeof(wire::BookItem) +
         texts_.size();
}

EncodedOp BookBatchDraft::encode(Builder& b) const {
  if (items_.size() == 1) {
    // Through encode_book: one caller of wire::CreateBook keeps it inlined there.
    const wire::BookItem& item = items_.front();
    const std::string_view text(reinterpret_cast<const char*>(texts_.data()), texts_.size());
    return encode_book(b, BookRequest{.event = event_,
                                      .user = text.substr(0, item.user_size()),
                                      .seats = item.seats(),
                                      .hold = item.hold(),
                                      .waitlist = from_wire(item.waitlist()),
                                      .request_id = text.substr(item.user_size())});
  }
  auto event = b.repeated_string(event_);
  auto items = b.CreateVectorOfStructs(items_.data(), items_.size());
  auto texts = b.CreateVector(texts_.data(), texts_.size());
  return {wire::Op::BookBatch, wire::CreateBookBatch(b, event, items, texts).Union()};
}

void BookBatchDraft::clear() {
  items_.clear();
  texts_.clear();
}

BookItemReader::BookItemReader(const wire::BookBatchReply& reply)
    : items_(reply.items()), details_(reply.details()) {}

bool BookItemReader::read(std::uint32_t item, BookItemAnswer* out) {
  if (items_ == nullptr || item >= items_->size()) return false;
  const wire::BookItemResult& result = *items_->Get(item);
  out->outcome = from_wire(result.outcome());
  out->message = reason_text(static_cast<Reason>(result.reason()));
  out->book = BookReplyView{};
  out->book.seats = result.seats();
  if (result.ref() != 0) {
    if (const std::optional<BookingRef> ref = BookingRef::of_bits(result.ref())) {
      std::copy(ref->view().begin(), ref->view().end(), out->ref_text.begin());
      out->book.ref = std::string_view(out->ref_text.data(), out->ref_text.size());
    }
  }
  if (details_ == nullptr) return true;
  while (next_detail_ < details_->size() && details_->Get(next_detail_)->item() < item) {
    ++next_detail_;
  }
  if (next_detail_ < details_->size() && details_->Get(next_detail_)->item() == item) {
    const wire::BookItemDetail& detail = *details_->Get(next_detail_);
    out->book.position = detail.position();
    out->book.retry_after_ms = detail.retry_after_ms();
    out->book.opens_in_ms = detail.opens_in_ms();
    out->book.expires_at_ms = detail.expires_at_ms();
  }
  return true;
}

// ---- typed decoding ----

void decode(const ReplyView& reply, HelloInfo* out) { *out = reply.hello(); }
void decode(const ReplyView& reply, EventInfo* out) { *out = reply.event(); }
void decode(const ReplyView& reply, EventPage* out) { *out = reply.event_page(); }
void decode(const ReplyView& reply, BookReply* out) { *out = reply.book(); }
void decode(const ReplyView& reply, BookingInfo* out) { *out = reply.booking(); }
void decode(const ReplyView& reply, BookingPage* out) { *out = reply.booking_page(); }
void decode(const ReplyView& reply, WaitlistInfo* out) { *out = reply.waitlist(); }
void decode(const ReplyView& reply, StatsInfo* out) { *out = reply.stats(); }

}  // namespace admit::codec

// ---- ReplyView (public) ----

namespace admit {

using codec::as_reply;

Outcome ReplyView::outcome() const {
  if (item_ != nullptr) return item_->outcome;
  return reply_ ? from_wire(as_reply(reply_)->outcome()) : Outcome::unavailable;
}

std::string_view ReplyView::message() const {
  if (item_ != nullptr) return item_->message;
  if (reply_ == nullptr) return why_;
  const flatbuffers::String* m = as_reply(reply_)->message();
  return m ? std::string_view(m->c_str(), m->size()) : std::string_view();
}

Status ReplyView::status() const {
  if (error_ != ClientError::none) return Status::failure(error_, std::string(why_));
  return Status::answer(outcome(), std::string(message()));
}

BookReplyView ReplyView::book_view() const {
  BookReplyView out;  // the one object returned: NRVO, no copy on the single Book's path
  if (item_ != nullptr) {
    out = item_->book;
    return out;
  }
  const wire::BookReply* b = reply_ ? as_reply(reply_)->result_as_BookReply() : nullptr;
  if (b == nullptr) return out;
  if (b->ref()) out.ref = std::string_view(b->ref()->c_str(), b->ref()->size());
  out.seats = b->seats();
  out.position = b->position();
  out.retry_after_ms = b->retry_after_ms();
  out.opens_in_ms = b->opens_in_ms();
  out.expires_at_ms = b->expires_at_ms();
  return out;
}

BookReply ReplyView::book() const {
  const BookReplyView v = book_view();
  return BookReply{std::string(v.ref), v.seats,       v.position,
                   v.retry_after_ms,   v.opens_in_ms, v.expires_at_ms};
}

HelloInfo ReplyView::hello() const {
  const wire::HelloReply* h = reply_ ? as_reply(reply_)->result_as_HelloReply() : nullptr;
  if (h == nullptr) return {};
  return HelloInfo{h->version(), h->shards(), h->shard()};
}

EventInfo ReplyView::event() const {
  return codec::event_from(reply_ ? as_reply(reply_)->result_as_EventInfo() : nullptr);
}

EventPage ReplyView::event_page() const {
  EventPage out;
  const wire::EventList* list = reply_ ? as_reply(reply_)->result_as_EventList() : nullptr;
  if (list == nullptr) return out;
  if (list->events()) {
    out.events.reserve(list->events()->size());
    for (const wire::EventInfo* e : *list->events()) out.events.push_back(codec::event_from(e));
  }
  out.next_after = codec::to_string(list->next_after());
  return out;
}

BookingInfo ReplyView::booking() const {
  if (reply_ == nullptr && item_ == nullptr) return {};
  if (const auto* b = reply_ ? as_reply(reply_)->result_as_BookingInfo() : nullptr) {
    return codec::booking_from(b);
  }
  // A server may answer Confirm with a BookReply: keep what it says.
  BookingInfo out;
  const BookReplyView v = book_view();
  out.ref = std::string(v.ref);
  out.seats = v.seats;
  out.expires_at_ms = v.expires_at_ms;
  return out;
}

BookingPage ReplyView::booking_page() const {
  BookingPage out;
  const wire::BookingList* list = reply_ ? as_reply(reply_)->result_as_BookingList() : nullptr;
  if (list == nullptr) return out;
  if (list->bookings()) {
    out.bookings.reserve(list->bookings()->size());
    for (const wire::BookingInfo* b : *list->bookings()) {
      out.bookings.push_back(codec::booking_from(b));
    }
  }
  out.next_after = codec::to_string(list->next_after());
  return out;
}

WaitlistInfo ReplyView::waitlist() const {
  const wire::WaitlistInfo* w = reply_ ? as_reply(reply_)->result_as_WaitlistInfo() : nullptr;
  if (w == nullptr) return {};
  return WaitlistInfo{w->position(), w->seats(), w->length(), codec::to_string(w->ref())};
}

StatsInfo ReplyView::stats() const {
  StatsInfo out;
  const wire::StatsReply* s = reply_ ? as_reply(reply_)->result_as_StatsReply() : nullptr;
  if (s == nullptr) return out;
  out.durability = codec::to_string(s->durability());
  out.uptime_ms = s->uptime_ms();
  out.resident_bytes = s->resident_bytes();
  out.cpu_user_us = s->cpu_user_us();
  out.cpu_system_us = s->cpu_system_us();
  if (s->shards() == nullptr) return out;
  for (const wire::ShardStats* shard : *s->shards()) {
    out.shards.push_back(ShardStatsInfo{
        shard->shard(), shard->events(), shard->connections(), shard->live_bookings(),
        shard->held_seats(), shard->confirmed_seats(), shard->waitlisted(), shard->requests(),
        shard->forwarded(), shard->overloaded(), shard->receives(), shard->bytes_received(),
        shard->sends(), shard->bytes_sent()});
  }
  return out;
}

}  // namespace admit
