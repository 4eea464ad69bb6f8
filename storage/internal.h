// Private state of the StateMachine, shared by its implementation files.
// Nothing outside storage/ includes this.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/assertions.h"
#include "storage/probe_table.h"
#include "storage/state_machine.h"

namespace admit::storage::detail {

using UserId = std::uint32_t;
using EventIndex = std::uint32_t;  // creation order
using Serial = std::uint64_t;      // booking serial, 1-based: bookings[serial - 1]

// Hash for string keys: XXH3 is several times faster than the std::hash that
// absl::Hash<string_view> falls back to in Debian's build, on short ids.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const {
    return XXH3_64bits(text.data(), text.size());
  }
};
template <typename Value>
using StringMap = absl::flat_hash_map<std::string_view, Value, StringHash, std::equal_to<>>;

// 32 bytes, one per booking ever made: the state shares a word with the seats.
struct Booking {
  EventIndex event = 0;
  UserId user = 0;
  std::uint32_t seats : 30 = 0;
  BookingState state : 2 = BookingState::held;
  std::uint32_t seats_limit = 0;  // per_user_max when the seats were asked for (invariant 2)
  std::int64_t created_at_ms = 0;
  std::int64_t expires_at_ms = 0;  // holds only
};
static_assert(sizeof(Booking) == 32);
static_assert(seats_max < (1u << 30) && static_cast<int>(BookingState::expired) < 4,
              "Booking's bit-fields hold every seat count and state");

// Items by index in fixed chunks: growing never moves (or copies) an item, so
// references to one stay valid while others are added, and a table of
// millions grows without the pause of a reallocation.
template <typename T, std::size_t chunk_bits>
class ChunkedTable {
 public:
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](std::size_t i) { return chunks_[i >> chunk_bits][i & chunk_mask]; }
  const T& operator[](std::size_t i) const { return chunks_[i >> chunk_bits][i & chunk_mask]; }
  const T& back() const { return (*this)[size_ - 1]; }
  void push_back(const T& item) {
    if ((size_ >> chunk_bits) == chunks_.size()) {
      chunks_.push_back(std::make_unique_for_overwrite<T[]>(chunk_size));
    }
    chunks_[size_ >> chunk_bits][size_ & chunk_mask] = item;
    ++size_;
  }
  void clear() {
    chunks_.clear();
    size_ = 0;
  }

 private:
  static constexpr std::size_t chunk_size = std::size_t{1} << chunk_bits;
  static constexpr std::size_t chunk_mask = chunk_size - 1;
  std::vector<std::unique_ptr<T[]>> chunks_;
  std::size_t size_ = 0;
};

// Bookings by serial - 1.
using BookingTable = ChunkedTable<Booking, 12>;

// Token bucket in thousandths of a token, so that `rate_per_s` tokens per
// second is exactly `rate_per_s` milli-tokens per millisecond.
struct RateBucket {
  std::int64_t milli_tokens = 0;
  std::int64_t refilled_at_ms = 0;
};
inline constexpr std::int64_t milli_tokens_per_attempt = 1000;

// What one user has on one event: a live (held or confirmed) booking or a
// place in the waitlist, never both (invariant 4), so one word holds either.
// A slot that would hold nothing is erased. 12 bytes, since an on-sale has
// one per buyer (rate buckets live apart, in Event::buckets).
class [[gnu::packed, gnu::aligned(4)]] UserSlot {
 public:
  UserSlot() = default;
  static UserSlot live(UserId user, Serial serial) {
    ADMIT_ASSERT(serial != 0 && serial < waiting_bit);
    return UserSlot(user, serial);
  }
  static UserSlot waiting(UserId user, std::uint64_t ticket) {
    ADMIT_ASSERT(ticket != 0 && ticket < waiting_bit);
    return UserSlot(user, ticket | waiting_bit);
  }
  UserId user() const { return user_; }
  Serial live() const { return (mark_ & waiting_bit) != 0 ? 0 : mark_; }
  std::uint64_t wait_ticket() const {
    return (mark_ & waiting_bit) != 0 ? mark_ & ~waiting_bit : 0;
  }
  // ProbeTable's interface.
  bool empty() const { return mark_ == 0; }
  std::uint32_t hash() const { return hash_of(user_); }
  // Multiplicative (Fibonacci) hashing spreads the dense user ids: the top 6
  // bits pick UserSlots' segment, the 32 below them give the home index.
  static std::uint64_t mixed(UserId user) { return user * 0x9E3779B97F4A7C15ull; }
  static std::uint32_t hash_of(UserId user) {
    return static_cast<std::uint32_t>(mixed(user) >> 26);
  }

  // Waitlist tickets stay below this (restore refuses larger ones).
  static constexpr std::uint64_t waiting_bit = std::uint64_t{1} << 63;

 private:
  UserSlot(UserId user, std::uint64_t mark) : user_(user), mark_(mark) {}
  UserId user_ = 0;
  std::uint64_t mark_ = 0;  // 0 = empty; a live serial, or a ticket | waiting_bit
};
static_assert(sizeof(UserSlot) == 12);
static_assert(booking_serial_max < UserSlot::waiting_bit);

// An event's UserSlots by user. Small events keep one table (segments cost a
// little on a lookup); once it holds `split_size` users they are spread over
// `segment_count` tables picked by a hash of the user, so that a sale of a
// million buyers rehashes a 1/64th at a time (a pause short enough for the
// tail latency) and never the whole table.
class UserSlots {
  static auto is(UserId user) {
    return [user](const UserSlot& slot) { return slot.user() == user; };
  }

 public:
  UserSlot* find(UserId user) { return segment_for(user).find(UserSlot::hash_of(user), is(user)); }
  const UserSlot* find(UserId user) const {
    return segment_for(user).find(UserSlot::hash_of(user), is(user));
  }
  // Adds `slot`; false (and no change) when its user has a slot already.
  bool add(const UserSlot& slot);
  // The user's slot must exist.
  void erase(UserId user);
  void reserve(std::size_t users) { small_.reserve(std::min(users, split_size)); }
  std::size_t size() const { return size_; }
  template <typename F>
  void for_each(F&& visit) const {
    small_.for_each(visit);
    for (const Segment& segment : segments_) segment.for_each(visit);
  }

 private:
  using Segment = ProbeTable<UserSlot>;
  static constexpr std::size_t split_size = std::size_t{1} << 14;
  static constexpr int segment_bits = 6;
  static constexpr std::size_t segment_count = std::size_t{1} << segment_bits;
  static std::size_t segment_of(UserId user) {
    return UserSlot::mixed(user) >> (64 - segment_bits);
  }
  Segment& segment_for(UserId user) {
    return segments_.empty() ? small_ : segments_[segment_of(user)];
  }
  const Segment& segment_for(UserId user) const {
    return segments_.empty() ? small_ : segments_[segment_of(user)];
  }
  void split_if_full();

  Segment small_;                  // every slot until split, then empty
  std::vector<Segment> segments_;  // empty until split, then segment_count tables
  std::size_t size_ = 0;
};

struct WaitEntry {
  UserId user = 0;
  std::uint32_t seats = 0;
  std::uint32_t seats_limit = 0;  // per_user_max when the user joined
  std::uint64_t ticket = 0;       // strictly increasing along the queue
};

struct Event {
  std::string id;
  EventIndex index = 0;
  EventConfig config;  // as given: per_user_max and waitlist_max may be 0
  std::uint64_t version = 1;
  std::uint32_t held = 0;
  std::uint32_t confirmed = 0;
  // Seats sold when capacity was last lowered below them; 0 once sold <= capacity
  // again. held + confirmed never exceeds max(capacity, this).
  std::uint32_t sold_at_lowering = 0;
  UserSlots users;
  absl::flat_hash_map<UserId, RateBucket> buckets;  // users who were rate-limited here
  std::deque<WaitEntry> waitlist;
  std::uint64_t next_ticket = 1;
  ChunkedTable<Serial, 10> bookings;  // creation order, so ascending
};

struct RateLimit {
  std::int64_t per_s = 0;  // 0 = unlimited
  std::int64_t burst = 0;
};

// A user name with its hash, computed once per command: the lookup and, when
// the user is new and gets a seat, the insertion reuse it.
struct UserKey {
  std::string_view name;
  std::size_t hash = 0;
};

// User names interned once per machine; the views stay valid forever. Names
// are kept length-prefixed in chunks; the table's 8-byte slots hold the low
// half of the name's hash and the id, so a probe compares names only when
// those 32 bits match. The ids live in `segment_count` tables picked by the
// hash's top bits, so that growing to millions of users rehashes one small
// segment at a time (a short pause that fits in the caches).
class UserTable {
 public:
  static UserKey key(std::string_view name) { return {name, StringHash{}(name)}; }
  std::optional<UserId> find(const UserKey& key) const;
  std::optional<UserId> find(std::string_view name) const { return find(key(name)); }
  UserId intern(const UserKey& key);  // one probe, found or added
  UserId intern(std::string_view name) { return intern(key(name)); }
  void prefetch(const UserKey& key) const {
    segments_[segment_of(key)].prefetch(static_cast<std::uint32_t>(key.hash));
  }
  std::string_view name(UserId id) const {
    const char* stored = names_[id];
    return {stored + 1, static_cast<unsigned char>(stored[0])};
  }
  std::size_t size() const { return names_.size(); }
  void reserve(std::size_t users);
  void clear();

 private:
  struct Slot {
    std::uint32_t hash_low = 0;     // the name's hash, low half
    std::uint32_t id_plus_one = 0;  // 0 = empty
    bool empty() const { return id_plus_one == 0; }
    std::uint32_t hash() const { return hash_low; }
  };
  using Segment = ProbeTable<Slot>;
  static constexpr int segment_bits = 6;
  static constexpr std::size_t segment_count = std::size_t{1} << segment_bits;
  static std::size_t segment_of(const UserKey& key) { return key.hash >> (64 - segment_bits); }
  static constexpr std::size_t chunk_size = 64 * 1024;
  static_assert(user_size_max <= 255, "a name's length fits its one-byte prefix");
  auto matches(const UserKey& key) const {
    return [this, &key](const Slot& slot) {
      return slot.hash_low == static_cast<std::uint32_t>(key.hash) &&
             name(slot.id_plus_one - 1) == key.name;
    };
  }

  std::array<Segment, segment_count> segments_;
  ChunkedTable<const char*, 12> names_;  // by id: the length byte, then the name
  std::vector<std::unique_ptr<char[]>> chunks_;
  std::size_t chunk_used_ = chunk_size;
};

enum class CommandKind : std::uint8_t { book = 0, confirm, cancel, leave_waitlist };
inline constexpr std::uint8_t command_kind_last = 3;

// A remembered answer and the parameters it answered.
struct RememberedAnswer {
  std::int64_t remembered_at_ms = 0;
  std::int64_t time_ms = 0;  // book: opens_in_ms (NOT_OPEN) or expires_at_ms (HELD)
  Serial ref = 0;            // booking answered (and confirm/cancel's parameter)
  EventIndex event = 0;
  UserId user = 0;
  std::uint32_t request_seats = 0;
  std::uint32_t seats = 0, position = 0, length = 0;
  CommandKind kind = CommandKind::book;
  Outcome outcome = Outcome::ok;
  Reason reason = Reason::none;
  BookingState booking_state = BookingState::held;  // confirm/cancel: state then
};

// Request ids with their answers, oldest first.
class RequestIds {
 public:
  const RememberedAnswer* find(std::string_view request_id) const;
  // Forgets the oldest when `size_max` are kept already.
  void remember(std::string_view request_id, const RememberedAnswer& answer, std::size_t size_max);
  struct Forgotten {
    std::uint32_t count = 0;
    bool more_due = false;  // stopped at `count_max` with more at or before the cutoff
  };
  // Forgets answers remembered at or before `cutoff_ms`, oldest first, at
  // most `count_max` of them.
  Forgotten forget_until(std::int64_t cutoff_ms, std::uint32_t count_max);
  std::size_t size() const { return order_.size(); }
  // Oldest first.
  template <typename F>
  void for_each(F&& visit) const {
    for (const std::string& id : order_) visit(id, answers_.at(id));
  }
  void clear();

 private:
  void forget_oldest();
  std::deque<std::string> order_;  // keys of answers_ point into these strings
  StringMap<RememberedAnswer> answers_;
};

class SnapshotReader;

struct HoldExpiry {
  std::int64_t expires_at_ms;
  Serial serial;
  bool operator>(const HoldExpiry& other) const {
    return expires_at_ms != other.expires_at_ms ? expires_at_ms > other.expires_at_ms
                                                : serial > other.serial;
  }
};

}  // namespace admit::storage::detail

namespace admit::storage {

struct StateMachine::Impl {
  explicit Impl(Options options_in) : options(options_in) { users.reserve(options.users_reserved); }

  Options options;
  EventObserver* observer = nullptr;
  std::vector<std::unique_ptr<detail::Event>> events;
  detail::StringMap<detail::EventIndex> event_index;
  // The event found last: a burst (a BookBatch, a sale's pipelined Books)
  // names one event again and again, and comparing its id costs less than
  // hashing it and probing. Events are never freed but by clear().
  mutable const detail::Event* last_found = nullptr;
  std::map<std::string_view, detail::EventIndex> events_in_id_order;
  detail::UserTable users;
  detail::BookingTable bookings;
  // Min-heap of hold expiries. Entries of holds confirmed or cancelled since
  // stay until popped; the top is always a live hold (drop_stale_expiries).
  std::vector<detail::HoldExpiry> expiries;
  detail::RequestIds request_ids;
  std::uint64_t live_bookings = 0;
  // The shard's totals over its events, kept as they change so that
  // counters() (every turn that changed something) costs no walk.
  std::uint64_t held_seats = 0, confirmed_seats = 0, waitlisted = 0;
  std::uint64_t change_count = 0;

  // ---- lookups and views (state_machine.cc) ----
  detail::Event* find_event(std::string_view id);
  const detail::Event* find_event(std::string_view id) const;
  std::optional<detail::Serial> find_serial(std::string_view ref) const;
  BookingRef ref_of(detail::Serial serial) const;
  EventView view(const detail::Event& event) const;
  BookingView view(detail::Serial serial) const;
  void notify(const detail::Event& event) const;
  void clear();
  void add_event(std::string_view id, const EventConfig& config, std::uint64_t version);

  // ---- seats (bookings.cc) ----
  static std::uint32_t available(const detail::Event& event);
  // The most seats one user may hold: per_user_max, or when that is 0 the
  // capacity (following it as it changes), or no limit while the capacity is 0.
  static std::uint32_t per_user_max(const detail::Event& event);
  // Admits a booking of `seats` that fit: a hold if hold_ttl_ms > 0, else
  // confirmed. The caller points the user's slot on the event at the serial.
  detail::Serial admit(detail::Event& event, detail::UserId user, std::uint32_t seats,
                       std::uint32_t seats_limit, bool hold, std::int64_t now_ms);
  // Takes a live booking out (cancelled or expired) and promotes the waitlist.
  void release(detail::Serial serial, BookingState to, std::int64_t now_ms);
  void drop_stale_expiries();
  BookResult decide_book(detail::Event& event, const BookCommand& command,
                         const detail::UserKey& user, std::int64_t now_ms);
  static void assert_seats(const detail::Event& event);

  // ---- waitlist (waitlist.cc) ----
  std::uint32_t position(const detail::Event& event, std::uint64_t ticket) const;
  BookResult join_waitlist(detail::Event& event, const BookCommand& command,
                           const detail::UserKey& user);
  void remove_waiter(detail::Event& event, detail::UserId user);
  void promote(detail::Event& event, std::int64_t now_ms);

  // ---- rate limits (rate_limit.cc) ----
  detail::RateLimit rate_limit(const detail::Event& event) const;
  // Takes a token for (event, user): 0, or the ms until one is back.
  std::int64_t take_token(detail::Event& event, const detail::UserKey& user, std::int64_t now_ms);

  // ---- idempotency (idempotency.cc) ----
  void remember(std::string_view request_id, const detail::RememberedAnswer& answer);
  bool same_parameters(const detail::RememberedAnswer& answer, detail::CommandKind kind,
                       std::string_view event, std::string_view user, std::uint32_t seats,
                       detail::Serial ref) const;
  BookResult replay_book(const detail::RememberedAnswer& answer) const;
  BookingResult replay_booking(const detail::RememberedAnswer& answer) const;
  WaitlistResult replay_leave(const detail::RememberedAnswer& answer) const;

  // ---- confirm and cancel (holds.cc) ----
  template <typename Decide>
  BookingResult run_ref_command(detail::CommandKind kind, const RefCommand& command,
                                std::int64_t now_ms, Decide decide);

  // ---- restore (restore_state.cc) ----
  // Reads everything after the header into this (empty) machine and rebuilds
  // derived state. Returns a reason when the bytes do not describe a
  // consistent state.
  std::string_view read_state(detail::SnapshotReader& in);
  std::string_view read_event(detail::SnapshotReader& in);
  std::string_view read_booking(detail::SnapshotReader& in, std::vector<std::uint64_t>& held,
                                std::vector<std::uint64_t>& confirmed);
  std::string_view read_answer(detail::SnapshotReader& in);

  // ---- invariants (invariants.cc) ----
  void check_event(const detail::Event& event, detail::EventIndex index) const;
};

}  // namespace admit::storage
