#include "server/request_codec.h"

#include <cstring>

#include "protocol/assertions.h"
#include "protocol/framing.h"

namespace admit::server {
namespace {

using flatbuffers::FlatBufferBuilder;

// Refusal reasons: static text naming the field and its limit.
constexpr std::string_view id_size_message = "id: must be 1..128 bytes";
constexpr std::string_view event_size_message = "event: must be 1..128 bytes";
constexpr std::string_view user_size_message = "user: must be 1..64 bytes";
constexpr std::string_view request_id_size_message = "request_id: at most 64 bytes";
constexpr std::string_view seats_message = "seats: must be 1..1000000000";
constexpr std::string_view ref_message = "ref: not a booking ref like BK-7M2Q9XK4";
constexpr std::string_view ref_shard_message = "ref: no such booking on this server";
constexpr std::string_view after_ref_message = "after: not a booking ref like BK-7M2Q9XK4";
constexpr std::string_view after_size_message = "after: at most 128 bytes";
constexpr std::string_view limit_message = "limit: at most 1000";
constexpr std::string_view capacity_message = "capacity: at most 1000000000";
constexpr std::string_view per_user_max_message = "per_user_max: at most 1000000000";
constexpr std::string_view hold_ttl_message = "hold_ttl_ms: at most 86400000 (24 h)";
constexpr std::string_view waitlist_max_message = "waitlist_max: at most 1000000";
constexpr std::string_view rate_message = "rate_per_s: at most 1000000";
constexpr std::string_view burst_message = "rate_burst: at most 1000000";
constexpr std::string_view state_message = "state: not an event state";
constexpr std::string_view waitlist_choice_message = "waitlist: not a waitlist choice";
constexpr std::string_view items_message = "items: must be 1..1024 bookings";
constexpr std::string_view texts_message =
    "texts: must be every item's user then request id, back to back (the sum of their sizes)";
constexpr std::string_view token_message = "token: at most 256 bytes";
constexpr std::string_view op_message = "op: missing or unknown operation";
constexpr std::string_view version_message = "version: this server speaks protocol version 1";

std::string_view view_of(const flatbuffers::String* text) {
  return text == nullptr ? std::string_view{} : std::string_view(text->c_str(), text->size());
}

// Checks run in field order; the first failing one is the answer.
class Checker {
 public:
  bool failed() const { return !message_.empty(); }
  std::string_view message() const { return message_; }

  void require(bool ok, std::string_view message) {
    if (!failed() && !ok) message_ = message;
  }
  std::string_view sized(const flatbuffers::String* text, std::size_t min, std::size_t max,
                         std::string_view message) {
    const std::string_view value = view_of(text);
    const bool fits = value.size() >= min && value.size() <= max;
    require(fits, message);
    return fits ? value : std::string_view{};
  }

 private:
  std::string_view message_;
};

DecodedRequest refused(std::string_view message, Outcome outcome = Outcome::invalid) {
  DecodedRequest decoded;  // members' defaults for the rest
  decoded.outcome = outcome;
  decoded.message = message;
  return decoded;
}

// A command whose fields passed `check`, routed by its operation's row.
DecodedRequest owned(const Checker& check, std::uint32_t shards, const ShardCommand& command) {
  if (check.failed()) return refused(check.message());
  const std::optional<std::uint32_t> owner = owner_of(command, shards);
  if (!owner) return refused(ref_shard_message, Outcome::not_found);
  DecodedRequest decoded;
  decoded.kind = RequestKind::owned;
  decoded.op = command.op;
  decoded.outcome = Outcome::ok;
  decoded.owner = *owner;
  return decoded;
}

template <typename T>
std::optional<T> optional_of(flatbuffers::Optional<T> value) {
  if (!value.has_value()) return std::nullopt;
  return value.value();
}

DecodedRequest decode_create(const wire::CreateEvent& create, std::uint32_t shards,
                             ShardCommand* command) {
  Checker check;
  command->op = Op::create_event;
  command->event.assign(check.sized(create.id(), 1, event_id_size_max, id_size_message));
  check.require(create.capacity() <= capacity_max, capacity_message);
  check.require(create.per_user_max() <= capacity_max, per_user_max_message);
  check.require(create.hold_ttl_ms() <= hold_ttl_ms_max, hold_ttl_message);
  check.require(create.waitlist_max() <= waitlist_length_max, waitlist_max_message);
  check.require(create.rate_per_s() <= rate_per_s_max, rate_message);
  check.require(create.rate_burst() <= rate_per_s_max, burst_message);
  command->config = {.capacity = create.capacity(),
                     .per_user_max = create.per_user_max(),
                     .hold_ttl_ms = create.hold_ttl_ms(),
                     .waitlist = create.waitlist(),
                     .waitlist_max = create.waitlist_max(),
                     .opens_at_ms = create.opens_at_ms(),
                     .closes_at_ms = create.closes_at_ms(),
                     .rate_per_s = create.rate_per_s(),
                     .rate_burst = create.rate_burst(),
                     .state = EventState::open};
  return owned(check, shards, *command);
}

DecodedRequest decode_update(const wire::UpdateEvent& update, std::uint32_t shards,
                             ShardCommand* command) {
  Checker check;
  command->op = Op::update_event;
  command->event.assign(check.sized(update.id(), 1, event_id_size_max, id_size_message));
  storage::EventPatch& patch = command->patch;
  patch = {};
  patch.capacity = optional_of(update.capacity());
  patch.per_user_max = optional_of(update.per_user_max());
  patch.hold_ttl_ms = optional_of(update.hold_ttl_ms());
  patch.waitlist = optional_of(update.waitlist());
  patch.waitlist_max = optional_of(update.waitlist_max());
  patch.opens_at_ms = optional_of(update.opens_at_ms());
  patch.closes_at_ms = optional_of(update.closes_at_ms());
  patch.rate_per_s = optional_of(update.rate_per_s());
  patch.rate_burst = optional_of(update.rate_burst());
  check.require(patch.capacity.value_or(0) <= capacity_max, capacity_message);
  check.require(patch.per_user_max.value_or(0) <= capacity_max, per_user_max_message);
  check.require(patch.hold_ttl_ms.value_or(0) <= hold_ttl_ms_max, hold_ttl_message);
  check.require(patch.waitlist_max.value_or(0) <= waitlist_length_max, waitlist_max_message);
  check.require(patch.rate_per_s.value_or(0) <= rate_per_s_max, rate_message);
  check.require(patch.rate_burst.value_or(0) <= rate_per_s_max, burst_message);
  if (const auto state = optional_of(update.state())) {
    check.require(*state <= wire::EventState::MAX, state_message);
    patch.state = from_wire(*state);
  }
  return owned(check, shards, *command);
}

DecodedRequest decode_book(const wire::Book& book, std::uint32_t shards, ShardCommand* command) {
  Checker check;
  command->op = Op::book;
  command->event.assign(check.sized(book.event(), 1, event_id_size_max, event_size_message));
  command->user.assign(check.sized(book.user(), 1, user_size_max, user_size_message));
  check.require(book.seats() >= 1 && book.seats() <= seats_max, seats_message);
  command->seats = book.seats();
  command->hold = book.hold();
  check.require(book.waitlist() <= wire::WaitlistChoice::MAX, waitlist_choice_message);
  command->waitlist = from_wire(book.waitlist());
  command->request_id.assign(
      check.sized(book.request_id(), 0, request_id_size_max, request_id_size_message));
  return owned(check, shards, *command);
}

// The layout only: an item's own fields are checked with it, on the owner
// (one bad item does not refuse the others). The command's user is the
// items' one user, if they have one, for a token bound to a user (its sub).
DecodedRequest decode_book_batch(const wire::BookBatch& batch, std::uint32_t shards,
                                 ShardCommand* command) {
  Checker check;
  command->op = Op::book_batch;
  command->event.assign(check.sized(batch.event(), 1, event_id_size_max, event_size_message));
  const auto* items = batch.items();
  check.require(items != nullptr && items->size() >= 1 && items->size() <= book_batch_items_max,
                items_message);
  if (check.failed()) return refused(check.message());
  const std::span<const std::uint8_t> texts =
      batch.texts() == nullptr ? std::span<const std::uint8_t>{}
                               : std::span(batch.texts()->data(), batch.texts()->size());
  std::size_t text_size = 0;
  std::string_view one_user;
  bool one = true;
  for (const wire::BookItem* item : *items) {
    if (text_size + item->user_size() <= texts.size()) {
      const std::string_view user(reinterpret_cast<const char*>(texts.data()) + text_size,
                                  item->user_size());
      one = one && (one_user.empty() || user == one_user);
      one_user = user;
    }
    text_size += item->user_size() + item->request_id_size();
  }
  check.require(text_size == texts.size(), texts_message);
  command->user.size = 0;
  if (one && one_user.size() <= user_size_max) command->user.assign(one_user);
  DecodedRequest decoded = owned(check, shards, *command);
  decoded.batch_items = {items->Get(0), items->size()};  // structs: contiguous
  decoded.batch_texts = texts;
  return decoded;
}

// Confirm, Cancel and GetBooking: the ref routes them.
DecodedRequest decode_ref(Op op, const flatbuffers::String* ref,
                          const flatbuffers::String* request_id, std::uint32_t shards,
                          ShardCommand* command) {
  Checker check;
  command->op = op;
  command->request_id.assign(
      check.sized(request_id, 0, request_id_size_max, request_id_size_message));
  if (check.failed()) return refused(check.message());
  const auto parsed = BookingRef::parse(view_of(ref));
  if (!parsed) return refused(ref_message);
  command->ref.assign(parsed->view());
  return owned(check, shards, *command);
}

DecodedRequest decode_list_bookings(const wire::ListBookings& list, std::uint32_t shards,
                                    ShardCommand* command) {
  Checker check;
  command->op = Op::list_bookings;
  command->event.assign(check.sized(list.event(), 1, event_id_size_max, event_size_message));
  check.require(list.limit() <= list_limit_max, limit_message);
  command->limit = list.limit() == 0 ? list_limit_default : list.limit();
  const std::string_view after = view_of(list.after());
  command->ref.size = 0;
  if (!after.empty()) {
    const auto parsed = BookingRef::parse(after);
    check.require(parsed.has_value(), after_ref_message);
    if (parsed) command->ref.assign(parsed->view());
  }
  return owned(check, shards, *command);
}

DecodedRequest decode_waitlist(Op op, const flatbuffers::String* event,
                               const flatbuffers::String* user,
                               const flatbuffers::String* request_id, std::uint32_t shards,
                               ShardCommand* command) {
  Checker check;
  command->op = op;
  command->event.assign(check.sized(event, 1, event_id_size_max, event_size_message));
  command->user.assign(check.sized(user, 1, user_size_max, user_size_message));
  command->request_id.assign(
      check.sized(request_id, 0, request_id_size_max, request_id_size_message));
  return owned(check, shards, *command);
}

// The checks of an operation answered on the receiving shard, as `op`.
DecodedRequest local_or_refused(const Checker& check, Op op) {
  if (check.failed()) return refused(check.message());
  DecodedRequest decoded;
  decoded.kind = RequestKind::local;
  decoded.op = op;
  decoded.outcome = Outcome::ok;
  return decoded;
}

DecodedRequest decode_list_events(const wire::ListEvents& list) {
  Checker check;
  check.sized(list.after(), 0, event_id_size_max, after_size_message);
  check.require(list.limit() <= list_limit_max, limit_message);
  return local_or_refused(check, Op::list_events);
}

DecodedRequest decode_watch(Op op, const flatbuffers::String* event) {
  Checker check;
  check.sized(event, 1, event_id_size_max, event_size_message);
  return local_or_refused(check, op);
}

}  // namespace

DecodedRequest decode_request(const wire::Request& request, std::uint32_t shards,
                              ShardCommand* command) {
  // The verifier accepts a union type without its table; nothing here does.
  const std::optional<Op> op = op_of(request.op_type());
  if (request.op() == nullptr || !op) return refused(op_message);
  Checker check;
  switch (*op) {
    case Op::hello:
      check.sized(request.op_as_Hello()->token(), 0, token_size_max, token_message);
      return local_or_refused(check, Op::hello);
    case Op::create_event:
      return decode_create(*request.op_as_CreateEvent(), shards, command);
    case Op::update_event:
      return decode_update(*request.op_as_UpdateEvent(), shards, command);
    case Op::get_event:  // answered from the published directory, without a hop
      check.sized(request.op_as_GetEvent()->id(), 1, event_id_size_max, id_size_message);
      return local_or_refused(check, Op::get_event);
    case Op::list_events:
      return decode_list_events(*request.op_as_ListEvents());
    case Op::book:
      return decode_book(*request.op_as_Book(), shards, command);
    case Op::book_batch:
      return decode_book_batch(*request.op_as_BookBatch(), shards, command);
    case Op::confirm: {
      const auto* confirm = request.op_as_Confirm();
      return decode_ref(Op::confirm, confirm->ref(), confirm->request_id(), shards, command);
    }
    case Op::cancel: {
      const auto* cancel = request.op_as_Cancel();
      return decode_ref(Op::cancel, cancel->ref(), cancel->request_id(), shards, command);
    }
    case Op::get_booking:
      return decode_ref(Op::get_booking, request.op_as_GetBooking()->ref(), nullptr, shards,
                        command);
    case Op::list_bookings:
      return decode_list_bookings(*request.op_as_ListBookings(), shards, command);
    case Op::waitlist_position: {
      const auto* position = request.op_as_WaitlistPosition();
      return decode_waitlist(Op::waitlist_position, position->event(), position->user(), nullptr,
                             shards, command);
    }
    case Op::leave_waitlist: {
      const auto* leave = request.op_as_LeaveWaitlist();
      return decode_waitlist(Op::leave_waitlist, leave->event(), leave->user(), leave->request_id(),
                             shards, command);
    }
    case Op::stats:
      return local_or_refused(check, Op::stats);
    case Op::watch:
      return decode_watch(Op::watch, request.op_as_Watch()->event());
    case Op::unwatch:
      return decode_watch(Op::unwatch, request.op_as_Unwatch()->event());
    case Op::metrics:  // HTTP only: op_of() maps no wire table to them
    case Op::healthz:
    case Op::page:
      break;
  }
  return refused(op_message);
}

namespace {

// Tables written by hand: up to 8 scalar or offset fields, each present or
// not. The layout depends only on which are present (a mask), computed at
// compile time for every mask: the soffset, the 8-byte fields (the table
// starts 4 bytes before an 8-byte boundary), the 4-byte ones, the 1-byte
// ones; no padding inside.
constexpr std::size_t hand_fields_max = 8;

struct HandLayout {
  std::array<flatbuffers::voffset_t, hand_fields_max> at{};  // 0: absent
  flatbuffers::voffset_t size = 0;
  bool has_eight = false;  // 8-byte fields from offset 4 on
};

template <std::size_t count>
constexpr HandLayout hand_layout(const std::array<std::uint8_t, count>& sizes, std::size_t mask) {
  HandLayout layout;
  std::size_t next = sizeof(flatbuffers::soffset_t);
  for (const std::uint8_t size : {8, 4, 1}) {
    for (std::size_t i = 0; i < count; ++i) {
      if ((mask >> i & 1) == 0 || sizes[i] != size) continue;
      layout.at[i] = static_cast<flatbuffers::voffset_t>(next);
      next += size;
      layout.has_eight = layout.has_eight || size == 8;
    }
  }
  layout.size = static_cast<flatbuffers::voffset_t>(next);
  return layout;
}

template <std::size_t count>
constexpr std::array<HandLayout, std::size_t{1} << count> hand_layouts(
    const std::array<std::uint8_t, count>& sizes) {
  std::array<HandLayout, std::size_t{1} << count> layouts{};
  for (std::size_t mask = 0; mask < layouts.size(); ++mask) {
    layouts[mask] = hand_layout(sizes, mask);
  }
  return layouts;
}

// Reply: id, outcome, message, result_type, result (schema order).
constexpr std::array<std::uint8_t, 5> reply_field_sizes{8, 1, 4, 1, 4};
constexpr auto reply_layouts = hand_layouts(reply_field_sizes);
// BookReply: ref, seats, position, retry_after_ms, opens_in_ms, expires_at_ms.
constexpr std::array<std::uint8_t, 6> book_reply_field_sizes{4, 4, 4, 8, 8, 8};
constexpr auto book_reply_layouts = hand_layouts(book_reply_field_sizes);
// The slot order above is the schema's (the generated vtable offsets).
static_assert(wire::Reply::VT_ID == 4 && wire::Reply::VT_RESULT == 4 + 2 * 4);
static_assert(wire::BookReply::VT_REF == 4 && wire::BookReply::VT_EXPIRES_AT_MS == 4 + 2 * 5);
static_assert(book_reply_layouts.size() == ReplyFrameBuilder::book_reply_vtable_count);

// One table being written: `values` in schema order; offsets hold their
// target's offset from the buffer's end, made relative here.
template <std::size_t count>
flatbuffers::uoffset_t write_hand_table(FlatBufferBuilder& builder, const HandLayout& layout,
                                        const std::array<std::uint64_t, count>& values,
                                        const std::array<std::uint8_t, count>& sizes,
                                        std::uint32_t offset_fields,
                                        flatbuffers::uoffset_t* vtable) {
  if (*vtable == 0) {  // once per frame and layout
    for (std::size_t i = count; i-- > 0;) builder.PushElement(layout.at[i]);
    builder.PushElement(layout.size);
    builder.PushElement(static_cast<flatbuffers::voffset_t>(2 * (count + 2)));
    *vtable = builder.GetSize();
  }
  if (layout.has_eight) {
    builder.PreAlign(layout.size - sizeof(flatbuffers::soffset_t), sizeof(std::uint64_t));
  } else {
    builder.PreAlign(layout.size, sizeof(flatbuffers::uoffset_t));
  }
  const flatbuffers::uoffset_t table = builder.GetSize() + layout.size;
  std::array<std::uint8_t, sizeof(flatbuffers::soffset_t) + 8 * hand_fields_max> bytes{};
  flatbuffers::WriteScalar(bytes.data(), static_cast<flatbuffers::soffset_t>(*vtable) -
                                             static_cast<flatbuffers::soffset_t>(table));
  for (std::size_t i = 0; i < count; ++i) {
    const flatbuffers::voffset_t at = layout.at[i];
    if (at == 0) continue;
    std::uint8_t* p = bytes.data() + at;
    if (sizes[i] == 1) {
      *p = static_cast<std::uint8_t>(values[i]);
    } else if (sizes[i] == 8) {
      flatbuffers::WriteScalar(p, values[i]);
    } else if ((offset_fields >> i & 1) != 0) {
      flatbuffers::WriteScalar(p, table - at - static_cast<flatbuffers::uoffset_t>(values[i]));
    } else {
      flatbuffers::WriteScalar(p, static_cast<std::uint32_t>(values[i]));
    }
  }
  builder.PushBytes(bytes.data(), layout.size);
  return table;
}

// Reasons repeat within a frame (a sold-out burst says the same thing up to
// frame_requests_max times): written once while they repeat.
flatbuffers::uoffset_t message_or_null(ReplyFrameBuilder& builder, std::string_view text) {
  if (text.empty()) return 0;
  if (builder.last_message_at != 0 && builder.last_message == text) return builder.last_message_at;
  builder.last_message.assign(text);
  builder.last_message_at = builder.CreateString(text.data(), text.size()).o;
  return builder.last_message_at;
}

ReplyOffset reply(ReplyFrameBuilder& builder, std::uint64_t id, Outcome outcome,
                  std::string_view message, wire::Result type, flatbuffers::Offset<void> result) {
  const flatbuffers::uoffset_t message_at = message_or_null(builder, message);
  const std::size_t layout =
      0b00011 | (message_at != 0 ? 0b00100 : 0) | (result.IsNull() ? 0 : 0b11000);
  const std::array<std::uint64_t, 5> values{id, static_cast<std::uint8_t>(to_wire(outcome)),
                                            message_at, static_cast<std::uint8_t>(type), result.o};
  const std::size_t vtable = (message_at != 0 ? 1 : 0) | (result.IsNull() ? 0 : 2);
  return write_hand_table(builder, reply_layouts[layout], values, reply_field_sizes, 0b10100,
                          &builder.reply_vtables[vtable]);
}

flatbuffers::Offset<wire::EventInfo> event_info(FlatBufferBuilder& builder,
                                                const EventSnapshot& event) {
  const auto id = builder.CreateString(event.id.bytes, event.id.size);
  const storage::EventConfig& config = event.config;
  return wire::CreateEventInfo(
      builder, id, config.capacity, config.per_user_max, config.hold_ttl_ms, config.waitlist,
      config.waitlist_max, config.opens_at_ms, config.closes_at_ms, config.rate_per_s,
      config.rate_burst, to_wire(config.state), event.version, event.available, event.held,
      event.confirmed, event.waitlisted, event.watchers);
}

flatbuffers::Offset<wire::BookingInfo> booking_info(FlatBufferBuilder& builder,
                                                    const BookingRecord& booking) {
  const auto ref = builder.CreateString(booking.ref.view());
  const auto event = builder.CreateString(booking.event.bytes, booking.event.size);
  const auto user = builder.CreateString(booking.user.bytes, booking.user.size);
  return wire::CreateBookingInfo(builder, ref, event, user, booking.seats, to_wire(booking.state),
                                 booking.created_at_ms, booking.expires_at_ms);
}

flatbuffers::Offset<wire::BookingList> booking_list(FlatBufferBuilder& builder,
                                                    const BookingPageRecord& page) {
  std::vector<flatbuffers::Offset<wire::BookingInfo>> infos;
  infos.reserve(page.bookings.size());
  for (const auto& booking : page.bookings) infos.push_back(booking_info(builder, booking));
  const auto bookings = builder.CreateVector(infos);
  const auto next_after = page.next_after ? builder.CreateString(page.next_after->view()) : 0;
  return wire::CreateBookingList(builder, bookings, next_after);
}

// Null when every field would be its default (SOLD_OUT, CLOSED, ...): the
// reply then carries no result table, which readers take as all defaults.
flatbuffers::Offset<void> book_reply(ReplyFrameBuilder& builder, const storage::BookResult& book) {
  if (book.ref.empty() && book.seats == 0 && book.position == 0 && book.retry_after_ms == 0 &&
      book.opens_in_ms == 0 && book.expires_at_ms == 0) {
    return 0;
  }
  const flatbuffers::uoffset_t ref = book.ref.empty() ? 0 : builder.CreateString(book.ref.view()).o;
  const std::array<std::uint64_t, 6> values{ref,
                                            book.seats,
                                            book.position,
                                            static_cast<std::uint64_t>(book.retry_after_ms),
                                            static_cast<std::uint64_t>(book.opens_in_ms),
                                            static_cast<std::uint64_t>(book.expires_at_ms)};
  std::size_t layout = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    layout |= std::size_t{values[i] != 0} << i;
  }
  return write_hand_table(builder, book_reply_layouts[layout], values, book_reply_field_sizes,
                          0b000001, &builder.book_reply_vtables[layout]);
}

flatbuffers::Offset<wire::WaitlistInfo> waitlist_info(FlatBufferBuilder& builder,
                                                      const storage::WaitlistResult& waitlist) {
  const auto ref = waitlist.ref.empty() ? 0 : builder.CreateString(waitlist.ref.view());
  return wire::CreateWaitlistInfo(builder, waitlist.position, waitlist.seats, waitlist.length, ref);
}

flatbuffers::Offset<wire::BookBatchReply> book_batch_reply(FlatBufferBuilder& builder,
                                                           const BookBatchRecord& batch) {
  ADMIT_ASSERT(batch.results.size() == batch.items.size());
  const auto items = builder.CreateVectorOfStructs(batch.results.data(), batch.results.size());
  const auto details = batch.details.empty() ? 0
                                             : builder.CreateVectorOfStructs(batch.details.data(),
                                                                             batch.details.size());
  return wire::CreateBookBatchReply(builder, items, details);
}

}  // namespace

ReplyOffset encode_refusal(ReplyFrameBuilder& builder, std::uint64_t id, Outcome outcome,
                           std::string_view message) {
  return reply(builder, id, outcome, message, wire::Result::NONE, 0);
}

ReplyOffset encode_result(ReplyFrameBuilder& builder, std::uint64_t id, const ShardResult& result) {
  const std::string_view message = result.text();
  switch (result.kind) {
    case ResultKind::none:
      return encode_refusal(builder, id, result.outcome, message);
    case ResultKind::event:
      return reply(builder, id, result.outcome, message, wire::Result::EventInfo,
                   event_info(builder, result.event).Union());
    case ResultKind::book:
      return reply(builder, id, result.outcome, message, wire::Result::BookReply,
                   book_reply(builder, result.book));
    case ResultKind::booking:
      return reply(builder, id, result.outcome, message, wire::Result::BookingInfo,
                   booking_info(builder, result.booking).Union());
    case ResultKind::waitlist:
      return reply(builder, id, result.outcome, message, wire::Result::WaitlistInfo,
                   waitlist_info(builder, result.waitlist).Union());
    case ResultKind::book_batch:
      return reply(builder, id, result.outcome, message, wire::Result::BookBatchReply,
                   book_batch_reply(builder, *result.batch).Union());
    case ResultKind::booking_page:
      ADMIT_ASSERT(result.page != nullptr);
      return reply(builder, id, result.outcome, message, wire::Result::BookingList,
                   booking_list(builder, *result.page).Union());
  }
  ADMIT_UNREACHABLE("every ResultKind is handled above");
}

ReplyOffset encode_hello(ReplyFrameBuilder& builder, std::uint64_t id, const wire::Hello& hello,
                         std::uint32_t shards, int shard) {
  const auto hello_reply = wire::CreateHelloReply(builder, protocol_version, shards, shard);
  const bool speaks_ours = hello.version() == protocol_version;
  return reply(builder, id, speaks_ours ? Outcome::ok : Outcome::invalid,
               speaks_ours ? std::string_view{} : version_message, wire::Result::HelloReply,
               hello_reply.Union());
}

ReplyOffset encode_get_event(ReplyFrameBuilder& builder, std::uint64_t id,
                             const wire::GetEvent& get, const EventDirectory& directory,
                             Outcome* outcome) {
  const auto event = directory.find(view_of(get.id()));
  *outcome = event ? Outcome::ok : Outcome::not_found;
  if (!event) return encode_refusal(builder, id, Outcome::not_found, "id: no such event");
  return reply(builder, id, Outcome::ok, {}, wire::Result::EventInfo,
               event_info(builder, *event).Union());
}

ReplyOffset encode_list_events(ReplyFrameBuilder& builder, std::uint64_t id,
                               const wire::ListEvents& list, const EventDirectory& directory) {
  const std::uint32_t limit = list.limit() == 0 ? list_limit_default : list.limit();
  bool more = false;
  const auto events = directory.list(view_of(list.after()), limit, &more);
  std::vector<flatbuffers::Offset<wire::EventInfo>> infos;
  infos.reserve(events.size());
  for (const auto& event : events) infos.push_back(event_info(builder, event));
  const auto vector = builder.CreateVector(infos);
  const auto next_after =
      more ? builder.CreateString(events.back().id.bytes, events.back().id.size) : 0;
  return reply(builder, id, Outcome::ok, {}, wire::Result::EventList,
               wire::CreateEventList(builder, vector, next_after).Union());
}

ReplyOffset encode_stats(ReplyFrameBuilder& builder, std::uint64_t id, const StatsView& source) {
  constexpr auto relaxed = std::memory_order_relaxed;
  std::vector<flatbuffers::Offset<wire::ShardStats>> shards;
  shards.reserve(source.shards.size());
  for (std::size_t i = 0; i < source.shards.size(); ++i) {
    const ShardStatsCounters& c = source.shards[i];
    shards.push_back(wire::CreateShardStats(
        builder, static_cast<std::uint32_t>(i), c.events.load(relaxed),
        c.live_bookings.load(relaxed), c.held_seats.load(relaxed), c.confirmed_seats.load(relaxed),
        c.waitlisted.load(relaxed), c.connections.load(relaxed), c.requests.load(relaxed),
        c.forwarded.load(relaxed), c.overloaded.load(relaxed), c.receives.load(relaxed),
        c.bytes_received.load(relaxed), c.sends.load(relaxed), c.bytes_sent.load(relaxed)));
  }
  const auto vector = builder.CreateVector(shards);
  const auto durability = builder.CreateString(source.durability.data(), source.durability.size());
  return reply(
      builder, id, Outcome::ok, {}, wire::Result::StatsReply,
      wire::CreateStatsReply(builder, vector, durability, source.uptime_ms, source.resident_bytes,
                             source.cpu_user_us, source.cpu_system_us)
          .Union());
}

void ReplyFrameBuilder::Clear() {
  FlatBufferBuilder::Clear();
  reply_vtables = {};
  book_reply_vtables = {};
  last_message_at = 0;
}

std::vector<std::uint8_t> single_reply_frame(Outcome outcome, std::string_view message) {
  ReplyFrameBuilder builder(256);
  const ReplyOffset only = encode_refusal(builder, 0, outcome, message);
  const auto replies = builder.CreateVector(&only, 1);
  finish_frame(builder, wire::CreateFrame(builder, 0, replies));
  const auto bytes = builder.GetBufferSpan();
  return {bytes.begin(), bytes.end()};
}

std::vector<std::uint8_t> refused_reply_frames(std::span<const std::uint8_t> frames,
                                               Outcome outcome, std::string_view message) {
  std::vector<std::uint8_t> out;
  std::vector<std::uint64_t> aligned;  // the verifier wants the frame on an 8-byte boundary
  ReplyFrameBuilder builder;
  std::vector<ReplyOffset> replies;
  while (frames.size() >= frame_header_size) {
    const std::size_t size =
        frame_header_size + (std::size_t{frames[0]} | std::size_t{frames[1]} << 8 |
                             std::size_t{frames[2]} << 16 | std::size_t{frames[3]} << 24);
    ADMIT_ASSERT(size <= frames.size());  // whole frames this server wrote
    aligned.resize(size / 8 + 1);
    std::memcpy(aligned.data(), frames.data(), size);
    std::string why;
    const wire::Frame* frame =
        verify_frame({reinterpret_cast<const std::uint8_t*>(aligned.data()), size}, &why);
    frames = frames.subspan(size);
    if (frame == nullptr || frame->replies() == nullptr) continue;
    builder.Clear();
    replies.clear();
    for (const wire::Reply* original : *frame->replies()) {
      const wire::HelloReply* hello = original->result_as_HelloReply();
      replies.push_back(hello == nullptr
                            ? encode_refusal(builder, original->id(), outcome, message)
                            : reply(builder, original->id(), from_wire(original->outcome()),
                                    original->message() == nullptr
                                        ? std::string_view{}
                                        : original->message()->string_view(),
                                    wire::Result::HelloReply,
                                    wire::CreateHelloReply(builder, hello->version(),
                                                           hello->shards(), hello->shard())
                                        .Union()));
    }
    finish_frame(builder, wire::CreateFrame(builder, 0, builder.CreateVector(replies)));
    const auto bytes = builder.GetBufferSpan();
    out.insert(out.end(), bytes.begin(), bytes.end());
  }
  return out;
}

}  // namespace admit::server
