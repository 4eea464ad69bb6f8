// The booking state machine of one shard: events, bookings, holds, waitlists,
// rate limits and idempotent request ids. Deterministic: it reads no clock,
// does no I/O; time is the `now_ms` argument (ms since the Unix epoch). Given
// the same calls with the same arguments, it yields the same answers and
// state, which is what tests, fuzzing and WAL replay rely on.
//
// Views returned point into the state machine and stay valid until the next
// mutating call. Answers carry a Reason code, never text: the edge renders
// it (protocol/reason.h).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "admit/limits.h"
#include "protocol/booking_ref.h"
#include "protocol/enums.h"
#include "protocol/reason.h"

namespace admit::storage {

struct EventConfig {
  std::uint32_t capacity = 0;
  std::uint32_t per_user_max = 0;  // 0 = capacity
  std::uint32_t hold_ttl_ms = 0;   // 0 = no holds: every booking confirms at once
  bool waitlist = false;
  std::uint32_t waitlist_max = 0;  // 0 = waitlist_length_max
  std::int64_t opens_at_ms = 0;    // 0 = open now
  std::int64_t closes_at_ms = 0;   // 0 = never closes
  std::uint32_t rate_per_s = 0;    // 0 = the shard's default (Options)
  std::uint32_t rate_burst = 0;    // 0 = rate_per_s
  EventState state = EventState::open;
};

// UpdateEvent: absent fields stay as they are.
struct EventPatch {
  std::optional<std::uint32_t> capacity, per_user_max, hold_ttl_ms, waitlist_max;
  std::optional<bool> waitlist;
  std::optional<std::int64_t> opens_at_ms, closes_at_ms;
  std::optional<std::uint32_t> rate_per_s, rate_burst;
  std::optional<EventState> state;
};

struct EventView {
  std::string_view id;
  EventConfig config;         // per_user_max, waitlist_max resolved (never 0 here)
  std::uint64_t version = 0;  // 1 at creation, +1 per config change
  std::uint32_t available = 0, held = 0, confirmed = 0, waitlisted = 0;
};

struct BookingView {
  BookingRef ref;
  std::string_view event;
  std::string_view user;
  std::uint32_t seats = 0;
  BookingState state = BookingState::held;
  std::int64_t created_at_ms = 0;
  std::int64_t expires_at_ms = 0;  // holds only, else 0
};

// ---- commands ----

struct CreateEventCommand {
  std::string_view id;
  EventConfig config;
  // Create-or-same (HTTP PUT): an event that exists with exactly these
  // settings answers OK with Reason::event_exists and itself (nothing
  // changes); with other settings INVALID, Reason::event_exists.
  bool same_is_ok = false;
};

struct UpdateEventCommand {
  std::string_view id;
  EventPatch patch;
};

struct BookCommand {
  std::string_view event;
  std::string_view user;
  std::uint32_t seats = 1;
  bool hold = false;
  WaitlistChoice waitlist = WaitlistChoice::by_default;
  std::string_view request_id;  // empty = not idempotent beyond ALREADY_BOOKED
};

// Confirm and Cancel.
struct RefCommand {
  std::string_view ref;
  std::string_view request_id;
};

struct LeaveWaitlistCommand {
  std::string_view event;
  std::string_view user;
  std::string_view request_id;
};

// ---- results ----
// `reason` is none on success; on refusals and errors it says why
// (Reason::seats_invalid, Reason::sold_out, ...).

struct BookResult {
  Outcome outcome = Outcome::invalid;
  Reason reason = Reason::none;
  BookingRef ref;                   // BOOKED, HELD, ALREADY_BOOKED
  std::uint32_t seats = 0;          // BOOKED, HELD, ALREADY_BOOKED, WAITLISTED
  std::uint32_t position = 0;       // WAITLISTED, 1-based
  std::int64_t retry_after_ms = 0;  // RATE_LIMITED
  std::int64_t opens_in_ms = 0;     // NOT_OPEN (0 when paused)
  std::int64_t expires_at_ms = 0;   // HELD
};

struct EventResult {
  Outcome outcome = Outcome::invalid;
  Reason reason = Reason::none;
  EventView event;  // on OK
};

// Confirm (BOOKED), Cancel (OK), GetBooking (OK).
struct BookingResult {
  Outcome outcome = Outcome::invalid;
  Reason reason = Reason::none;
  BookingView booking;
};

// WaitlistPosition and LeaveWaitlist. WAITLISTED with `position` while waiting;
// ALREADY_BOOKED with `ref` when the user holds a live booking (promoted);
// NOT_FOUND when the user is in neither; OK after leaving.
struct WaitlistResult {
  Outcome outcome = Outcome::invalid;
  Reason reason = Reason::none;
  std::uint32_t position = 0;
  std::uint32_t seats = 0;
  std::uint32_t length = 0;
  BookingRef ref;
};

// Bookings of one event in creation order (all states), `limit` at most.
struct BookingPage {
  Outcome outcome = Outcome::invalid;
  Reason reason = Reason::none;
  std::vector<BookingView> bookings;
  std::optional<BookingRef> next_after;  // set when more follow
};

// Events of this shard in id order.
struct EventPage {
  std::vector<EventView> events;
  bool more = false;
};

// expire()'s bound per call (see there). A batch of a million holds expiring
// at the same millisecond is released over ~a thousand turns, each a few ms
// at most.
inline constexpr std::uint32_t expire_steps_max = 1024;

struct ExpireReport {
  std::uint32_t holds_expired = 0;
  bool more_due = false;  // a bound was reached with work left: call again
};

struct ShardCounters {
  std::uint32_t events = 0;
  std::uint64_t live_bookings = 0;
  std::uint64_t held_seats = 0;
  std::uint64_t confirmed_seats = 0;
  std::uint64_t waitlisted = 0;
};

// Told of every change of an event's config or counters, after the change,
// in the order they happen (the server publishes counters from it).
class EventObserver {
 public:
  virtual ~EventObserver() = default;
  virtual void on_event_changed(const EventView& event) = 0;
};

struct Options {
  std::uint32_t shard = 0;               // goes into every booking ref; < shards_max
  std::uint32_t default_rate_per_s = 0;  // 0 = no rate limit unless the event sets one
  std::uint32_t default_rate_burst = 0;
  std::size_t request_ids_max = 10'000'000;  // retained idempotency answers
  std::int64_t request_id_retention_ms = 24ll * 3600 * 1000;
  // Distinct users the shard's user table is sized for at start, so that a
  // sale of that many buyers never rehashes it (no pause while it grows).
  // Costs about one byte per user at start (the rest as users arrive).
  std::size_t users_reserved = 0;
};

class StateMachine {
 public:
  explicit StateMachine(Options options);
  ~StateMachine();
  StateMachine(const StateMachine&) = delete;
  StateMachine& operator=(const StateMachine&) = delete;

  // What it was built with: a machine built with the same options and fed
  // the same commands decides the same (checkpoints replay into one).
  const Options& options() const;
  void set_observer(EventObserver* observer);

  // OK with the new event; INVALID naming the field (id, capacity, ...) or
  // when the id exists already.
  EventResult create_event(const CreateEventCommand& command, std::int64_t now_ms);
  // OK with the event after the change. Raising capacity promotes the
  // waitlist; lowering it below what is sold revokes nothing (available 0).
  EventResult update_event(const UpdateEventCommand& command, std::int64_t now_ms);
  EventResult get_event(std::string_view id) const;
  EventPage list_events(std::string_view after, std::uint32_t limit) const;

  // Books all `seats` or none. See DESIGN.md "Outcomes" for the answers.
  BookResult book(const BookCommand& command, std::int64_t now_ms);
  // A hint, no change: starts loading what book(command) reads first, so that
  // a caller with a batch of bookings can prefetch for all before booking.
  void prefetch_book(const BookCommand& command) const;
  // A held booking becomes confirmed: BOOKED. Confirmed already: BOOKED again.
  // Expired or cancelled: INVALID naming `ref`. Unknown: NOT_FOUND.
  BookingResult confirm(const RefCommand& command, std::int64_t now_ms);
  // Releases the seats (promoting the waitlist): OK. Cancelled already: OK.
  BookingResult cancel(const RefCommand& command, std::int64_t now_ms);
  BookingResult get_booking(std::string_view ref) const;
  BookingPage list_bookings(std::string_view event, std::string_view after,
                            std::uint32_t limit) const;

  WaitlistResult waitlist_position(std::string_view event, std::string_view user) const;
  WaitlistResult leave_waitlist(const LeaveWaitlistCommand& command, std::int64_t now_ms);

  // Expires holds with expires_at_ms <= now_ms (promoting waitlists) and
  // forgets request ids past their retention: at most `steps_max` holds and
  // `steps_max` request ids per call, so one call's work
  // is bounded however much fell due at once. The WAL logs the limit with the
  // command: replay takes the same steps.
  ExpireReport expire(std::int64_t now_ms, std::uint32_t steps_max = expire_steps_max);
  // When expire() next has work: the earliest hold expiry, if any.
  std::optional<std::int64_t> next_expiry_ms() const;

  // Kept as they change: O(1).
  ShardCounters counters() const;

  // Bumped by every change of state (bookings, waitlists, events, rate-limit
  // buckets, remembered request ids). The WAL logs a command iff it moved this.
  std::uint64_t change_count() const;

  // Checkpoints: the whole state as bytes (versioned, self-checking), and back
  // into a freshly constructed machine. restore() refuses bad bytes with a
  // reason and leaves the machine empty.
  std::vector<std::uint8_t> snapshot() const;
  bool restore(std::span<const std::uint8_t> bytes, std::string* why);

  // The whole state as deterministic text (sorted, one item a line), so two
  // machines can be compared: after replay, after restore, in tests.
  std::string dump() const;

  // Checks every invariant of DESIGN.md over the whole state; aborts with a
  // message on the first broken one. Tests call it; where ADMIT_VERIFY runs
  // (protocol/assertions.h) restore() and wal::apply() call it too.
  void check_invariants() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace admit::storage
