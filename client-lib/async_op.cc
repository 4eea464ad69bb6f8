#include "async_op.h"

#include <algorithm>
#include <array>

#include "codec.h"
#include "protocol/assertions.h"

namespace admit {
namespace {

template <typename... F>
struct Overloaded : F... {
  using F::operator()...;
};

// Room every record's string storage starts with: a Book's strings at their
// limits, so that records reused by other operations never grow (the rare
// longer ones grow once, and keep it).
constexpr std::size_t kept_strings_reserve =
    event_id_size_max + user_size_max + request_id_size_max;

}  // namespace

std::string_view AsyncOp::route_key() const {
  return std::visit(
      Overloaded{[](const OpArgs& a) { return a.key; }, [](const EventSpec& s) { return s.id; },
                 [](const EventUpdate& u) { return u.id; },
                 [](const BookRequest& b) { return b.event; }},
      fields);
}

bool AsyncOp::retry_safe() const {
  const std::string_view request_id =
      std::visit(Overloaded{[](const OpArgs& a) { return a.request_id; },
                            [](const BookRequest& b) { return b.request_id; },
                            [](const auto&) { return std::string_view{}; }},
                 fields);
  return admit::retry_safe(kind, !request_id.empty());
}

EncodedOp AsyncOp::encode(FrameBuilder& b, std::string_view token) const {
  switch (kind) {
    case Op::hello:
      return codec::encode_hello(b, token);
    case Op::create_event:
      return codec::encode_create_event(b, std::get<EventSpec>(fields));
    case Op::update_event:
      return codec::encode_update_event(b, std::get<EventUpdate>(fields));
    case Op::get_event:
      return codec::encode_get_event(b, args().key);
    case Op::list_events:
      return codec::encode_list_events(b, args().after, args().limit);
    case Op::book:
      return codec::encode_book(b, std::get<BookRequest>(fields));
    case Op::confirm:
      return codec::encode_confirm(b, args().key, args().request_id);
    case Op::cancel:
      return codec::encode_cancel(b, args().key, args().request_id);
    case Op::get_booking:
      return codec::encode_get_booking(b, args().key);
    case Op::list_bookings:
      return codec::encode_list_bookings(b, args().key, args().after, args().limit);
    case Op::waitlist_position:
      return codec::encode_waitlist_position(b, args().key, args().user);
    case Op::leave_waitlist:
      return codec::encode_leave_waitlist(b, args().key, args().user, args().request_id);
    case Op::stats:
      return codec::encode_stats(b);
    case Op::book_batch:  // books are batched by the connection's pipeline (Session::add)
    case Op::watch:       // Session sends watches itself
    case Op::unwatch:
    case Op::metrics:  // HTTP only
    case Op::healthz:
    case Op::page:
      break;
  }
  ADMIT_UNREACHABLE("not an operation of AsyncClient");
}

void AsyncOp::keep_strings(std::string& storage) {
  std::array<std::string_view*, 4> views{};
  std::size_t count = 0;
  std::visit(
      Overloaded{[&](OpArgs& a) {
                   views = {&a.key, &a.user, &a.after, &a.request_id};
                 },
                 [&](EventSpec& s) { views[0] = &s.id; }, [&](EventUpdate& u) { views[0] = &u.id; },
                 [&](BookRequest& r) {
                   views = {&r.event, &r.user, &r.request_id};
                 }},
      fields);
  std::size_t total = 0;
  for (std::string_view* view : views) {
    if (view == nullptr) break;
    total += view->size();
    ++count;
  }
  storage.clear();
  storage.reserve(total);  // all appends below fit: the views are pointed there after
  for (std::size_t i = 0; i < count; ++i) storage.append(*views[i]);
  std::size_t at = 0;
  for (std::size_t i = 0; i < count; ++i) {
    *views[i] = std::string_view(storage.data() + at, views[i]->size());
    at += views[i]->size();
  }
}

std::uint32_t Resends::take(const AsyncOp& op, ReplyCallback&& callback,
                            std::chrono::milliseconds backoff) {
  std::uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    index = static_cast<std::uint32_t>(records_.size());
    records_.push_back(std::make_unique<Record>());
    records_.back()->strings.reserve(kept_strings_reserve);
  }
  Record& record = *records_[index];
  record.op = op;
  record.op.keep_strings(record.strings);
  record.callback = std::move(callback);
  record.attempt = 1;
  record.backoff = backoff;
  return index;
}

void Resends::release(std::uint32_t index) {
  records_[index]->callback.reset();
  free_.push_back(index);
}

void Resends::schedule(std::uint32_t index, Clock::time_point now) {
  Record& record = *records_[index];
  record.due = now + record.backoff;
  record.backoff *= 2;
  ++record.attempt;
  waiting_.push_back(index);
}

bool Resends::next_due(Clock::time_point* due) const {
  if (waiting_.empty()) return false;
  *due = records_[waiting_.front()]->due;
  for (const std::uint32_t index : waiting_) *due = std::min(*due, records_[index]->due);
  return true;
}

void Resends::take_due(Clock::time_point now, bool everything, std::vector<std::uint32_t>* out) {
  out->clear();
  std::size_t kept = 0;
  for (const std::uint32_t index : waiting_) {
    if (everything || records_[index]->due <= now) {
      out->push_back(index);
    } else {
      waiting_[kept++] = index;
    }
  }
  waiting_.resize(kept);
}

}  // namespace admit
