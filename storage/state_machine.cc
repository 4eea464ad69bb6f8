// Construction, lookups, views and the read-only commands.
#include "storage/state_machine.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "storage/internal.h"
#include "storage/validate.h"

namespace admit::storage {

using detail::Event;
using detail::EventIndex;
using detail::Serial;

namespace {
constexpr std::size_t reserve_per_event_max = 1 << 12;  // 96 KiB of user slots
}  // namespace

namespace detail {

static_assert(sizeof(std::size_t) == 8, "UserTable::segment_of takes the top bits of 64");

std::optional<UserId> UserTable::find(const UserKey& key) const {
  ADMIT_VERIFY(key.hash == StringHash{}(key.name));  // hashes the name again
  const Slot* slot =
      segments_[segment_of(key)].find(static_cast<std::uint32_t>(key.hash), matches(key));
  if (slot == nullptr) return std::nullopt;
  return slot->id_plus_one - 1;
}

UserId UserTable::intern(const UserKey& key) {
  const std::string_view name = key.name;
  ADMIT_ASSERT(!name.empty() && name.size() <= user_size_max);
  ADMIT_VERIFY(key.hash == StringHash{}(name));
  const auto hash_low = static_cast<std::uint32_t>(key.hash);
  const auto [slot, added] = segments_[segment_of(key)].find_or_add(hash_low, matches(key), [&] {
    if (chunk_used_ + 1 + name.size() > chunk_size) {
      chunks_.push_back(std::make_unique_for_overwrite<char[]>(chunk_size));
      chunk_used_ = 0;
    }
    char* stored = chunks_.back().get() + chunk_used_;
    stored[0] = static_cast<char>(name.size());
    std::memcpy(stored + 1, name.data(), name.size());
    chunk_used_ += 1 + name.size();
    names_.push_back(stored);
    ADMIT_ASSERT(names_.size() < std::numeric_limits<std::uint32_t>::max());
    return Slot{hash_low, static_cast<std::uint32_t>(names_.size())};
  });
  return slot->id_plus_one - 1;
}

void UserTable::reserve(std::size_t users) {
  for (Segment& segment : segments_) segment.reserve(users / segment_count);
}

void UserTable::clear() {
  for (Segment& segment : segments_) segment.clear();
  names_.clear();
  chunks_.clear();
  chunk_used_ = chunk_size;
}

bool UserSlots::add(const UserSlot& slot) {
  split_if_full();
  const bool added = segment_for(slot.user())
                         .find_or_add(slot.hash(), is(slot.user()), [&slot] { return slot; })
                         .second;
  size_ += added ? 1 : 0;
  return added;
}

void UserSlots::erase(UserId user) {
  Segment& segment = segment_for(user);
  UserSlot* const slot = segment.find(UserSlot::hash_of(user), is(user));
  ADMIT_ASSERT(slot != nullptr);
  segment.erase(*slot);
  --size_;
}

// Once, when the event reaches split_size users (before adding one more).
void UserSlots::split_if_full() {
  if (!segments_.empty() || small_.size() < split_size) return;
  segments_.resize(segment_count);
  for (Segment& segment : segments_) segment.reserve(2 * split_size / segment_count);
  small_.for_each([this](const UserSlot& slot) {
    segments_[segment_of(slot.user())].find_or_add(slot.hash(), is(slot.user()),
                                                   [&slot] { return slot; });
  });
  small_.clear();
  ADMIT_ASSERT(size_ == split_size);
}

}  // namespace detail

StateMachine::StateMachine(Options options) : impl_(std::make_unique<Impl>(options)) {
  ADMIT_ASSERT(options.shard < shards_max);
}

StateMachine::~StateMachine() = default;

const Options& StateMachine::options() const { return impl_->options; }

void StateMachine::set_observer(EventObserver* observer) { impl_->observer = observer; }

std::uint64_t StateMachine::change_count() const { return impl_->change_count; }

Event* StateMachine::Impl::find_event(std::string_view id) {
  return const_cast<Event*>(std::as_const(*this).find_event(id));
}

const Event* StateMachine::Impl::find_event(std::string_view id) const {
  if (last_found != nullptr && last_found->id == id) return last_found;
  const auto it = event_index.find(id);
  if (it == event_index.end()) return nullptr;
  last_found = events[it->second].get();
  return last_found;
}

// The serial of a well-formed ref of this shard naming a booking made here.
std::optional<Serial> StateMachine::Impl::find_serial(std::string_view ref) const {
  const auto parsed = BookingRef::parse(ref);
  if (!parsed || parsed->shard() != options.shard) return std::nullopt;
  const Serial serial = parsed->serial();
  if (serial == 0 || serial > bookings.size()) return std::nullopt;
  return serial;
}

BookingRef StateMachine::Impl::ref_of(Serial serial) const {
  return BookingRef::make(serial, options.shard);
}

EventView StateMachine::Impl::view(const Event& event) const {
  EventView out;
  out.id = event.id;
  out.config = event.config;
  out.config.per_user_max = per_user_max(event);
  if (out.config.waitlist_max == 0) out.config.waitlist_max = waitlist_length_max;
  out.version = event.version;
  out.available = available(event);
  out.held = event.held;
  out.confirmed = event.confirmed;
  out.waitlisted = static_cast<std::uint32_t>(event.waitlist.size());
  return out;
}

BookingView StateMachine::Impl::view(Serial serial) const {
  const detail::Booking& booking = bookings[serial - 1];
  BookingView out;
  out.ref = ref_of(serial);
  out.event = events[booking.event]->id;
  out.user = users.name(booking.user);
  out.seats = booking.seats;
  out.state = booking.state;
  out.created_at_ms = booking.created_at_ms;
  out.expires_at_ms = booking.expires_at_ms;
  return out;
}

void StateMachine::Impl::notify(const Event& event) const {
  if (observer != nullptr) observer->on_event_changed(view(event));
}

void StateMachine::Impl::clear() {
  last_found = nullptr;
  events.clear();
  event_index.clear();
  events_in_id_order.clear();
  users.clear();
  users.reserve(options.users_reserved);
  bookings.clear();
  expiries.clear();
  request_ids.clear();
  live_bookings = 0;
  held_seats = confirmed_seats = waitlisted = 0;
  change_count = 0;
}

void StateMachine::Impl::add_event(std::string_view id, const EventConfig& config,
                                   std::uint64_t version) {
  auto event = std::make_unique<Event>();
  event->id = std::string(id);
  event->config = config;
  event->version = version;
  // Most sales fill up: room for one buyer per seat, up to a bound so that
  // a huge capacity does not reserve memory nobody may use.
  const std::size_t expected_buyers = std::min<std::size_t>(config.capacity, reserve_per_event_max);
  event->users.reserve(expected_buyers);
  const auto index = static_cast<EventIndex>(events.size());
  event->index = index;
  event_index.emplace(event->id, index);
  events_in_id_order.emplace(event->id, index);
  events.push_back(std::move(event));
}

EventResult StateMachine::get_event(std::string_view id) const {
  if (const Reason why = check_event_id(id); why != Reason::none) {
    return {Outcome::invalid, why, {}};
  }
  const Event* event = impl_->find_event(id);
  if (event == nullptr) return {Outcome::not_found, Reason::no_such_event, {}};
  return {Outcome::ok, Reason::none, impl_->view(*event)};
}

EventPage StateMachine::list_events(std::string_view after, std::uint32_t limit) const {
  if (limit == 0) limit = list_limit_default;
  limit = std::min(limit, list_limit_max);
  EventPage page;
  auto it = impl_->events_in_id_order.upper_bound(after);
  for (; it != impl_->events_in_id_order.end(); ++it) {
    if (page.events.size() == limit) {
      page.more = true;
      break;
    }
    page.events.push_back(impl_->view(*impl_->events[it->second]));
  }
  return page;
}

BookingResult StateMachine::get_booking(std::string_view ref) const {
  if (!BookingRef::parse(ref)) return {Outcome::invalid, Reason::ref_invalid, {}};
  const auto serial = impl_->find_serial(ref);
  if (!serial) return {Outcome::not_found, Reason::no_such_booking, {}};
  return {Outcome::ok, Reason::none, impl_->view(*serial)};
}

BookingPage StateMachine::list_bookings(std::string_view event_id, std::string_view after,
                                        std::uint32_t limit) const {
  BookingPage page;
  auto refuse = [&page](Outcome outcome, Reason why) {
    page.outcome = outcome;
    page.reason = why;
    return page;
  };
  if (const Reason why = check_event_id(event_id); why != Reason::none) {
    return refuse(Outcome::invalid, why);
  }
  if (const Reason why = check_list_limit(limit); why != Reason::none) {
    return refuse(Outcome::invalid, why);
  }
  const Event* event = impl_->find_event(event_id);
  if (event == nullptr) return refuse(Outcome::not_found, Reason::no_such_event);
  if (limit == 0) limit = list_limit_default;
  const detail::ChunkedTable<Serial, 10>& serials = event->bookings;
  std::size_t begin = 0;
  if (!after.empty()) {
    // Serials ascend along the table: binary search for the cursor.
    const auto serial = impl_->find_serial(after);
    std::size_t low = 0, high = serial ? serials.size() : 0;
    while (low < high) {
      const std::size_t mid = low + (high - low) / 2;
      if (serials[mid] < *serial)
        low = mid + 1;
      else
        high = mid;
    }
    if (low == serials.size() || serials[low] != *serial) {
      return refuse(Outcome::invalid, Reason::unknown_cursor);
    }
    begin = low + 1;
  }
  const std::size_t left = serials.size() - begin;
  const std::size_t count = std::min<std::size_t>(left, limit);
  page.bookings.reserve(count);
  for (std::size_t i = 0; i < count; ++i) page.bookings.push_back(impl_->view(serials[begin + i]));
  if (count < left) page.next_after = page.bookings.back().ref;
  page.outcome = Outcome::ok;
  return page;
}

void StateMachine::prefetch_book(const BookCommand& command) const {
  impl_->users.prefetch(detail::UserTable::key(command.user));
}

ShardCounters StateMachine::counters() const {
  ShardCounters out;
  out.events = static_cast<std::uint32_t>(impl_->events.size());
  out.live_bookings = impl_->live_bookings;
  out.held_seats = impl_->held_seats;
  out.confirmed_seats = impl_->confirmed_seats;
  out.waitlisted = impl_->waitlisted;
  return out;
}

}  // namespace admit::storage
