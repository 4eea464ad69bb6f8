// The value types of libadmit's API: what requests carry (views: they need
// to live only during the call), what replies hold (owning copies), pushed
// watch updates, and the client's options. The state enums are the
// protocol's own (protocol/enums.h includes this header).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace admit {

enum class EventState : std::uint8_t { open = 0, paused, closed };
enum class BookingState : std::uint8_t { held = 0, confirmed, cancelled, expired };
// A Book's waitlist choice: the event's default, join when sold out, or never.
enum class WaitlistChoice : std::uint8_t { by_default = 0, join, never };

// Lower case names: "open", "paused", "closed"; "held", "confirmed", ...
std::string_view event_state_name(EventState state);
std::optional<EventState> event_state_from_name(std::string_view name);
std::string_view booking_state_name(BookingState state);

// ---- requests (views: they need to live only during the call) ----

// Times are milliseconds since the Unix epoch; 0 = not set.
struct EventSpec {
  std::string_view id;             // 1..event_id_size_max bytes
  std::uint32_t capacity = 0;      // 0..capacity_max
  std::uint32_t per_user_max = 0;  // 0 = capacity
  std::uint32_t hold_ttl_ms = 0;   // 0 = bookings confirm at once
  bool waitlist = false;
  std::uint32_t waitlist_max = 0;  // 0 = the protocol's waitlist_length_max
  std::int64_t opens_at_ms = 0;
  std::int64_t closes_at_ms = 0;
  std::uint32_t rate_per_s = 0;  // 0 = the server's default
  std::uint32_t rate_burst = 0;
};

// Absent fields stay as they are.
struct EventUpdate {
  std::string_view id;
  std::optional<std::uint32_t> capacity, per_user_max, hold_ttl_ms, waitlist_max;
  std::optional<bool> waitlist;
  std::optional<std::int64_t> opens_at_ms, closes_at_ms;
  std::optional<std::uint32_t> rate_per_s, rate_burst;
  std::optional<EventState> state;
};

struct BookRequest {
  std::string_view event;
  std::string_view user;  // 1..user_size_max bytes
  std::uint32_t seats = 1;
  bool hold = false;  // HELD, to confirm within the event's hold_ttl_ms
  WaitlistChoice waitlist = WaitlistChoice::by_default;
  // Idempotency key (<= request_id_size_max bytes). Empty: Client makes a random
  // one when ClientOptions::auto_request_ids (and reuses it on every retry).
  std::string_view request_id;
};

// ---- replies (owning copies) ----

struct HelloInfo {
  std::uint32_t version = 0;
  std::uint32_t shards = 0;
  std::int32_t shard = -1;  // the shard behind the port that answered; -1 = base port
};

struct EventInfo {
  std::string id;
  std::uint32_t capacity = 0, per_user_max = 0, hold_ttl_ms = 0;
  bool waitlist = false;
  std::uint32_t waitlist_max = 0;
  std::int64_t opens_at_ms = 0, closes_at_ms = 0;
  std::uint32_t rate_per_s = 0, rate_burst = 0;
  EventState state = EventState::open;
  std::uint64_t version = 0;
  std::uint32_t available = 0, held = 0, confirmed = 0, waitlisted = 0, watchers = 0;
};

struct EventPage {
  std::vector<EventInfo> events;
  std::string next_after;  // empty on the last page
};

struct BookReply {
  std::string ref;  // BOOKED, HELD, ALREADY_BOOKED
  std::uint32_t seats = 0;
  std::uint32_t position = 0;       // WAITLISTED, 1-based
  std::int64_t retry_after_ms = 0;  // RATE_LIMITED
  std::int64_t opens_in_ms = 0;     // NOT_OPEN
  std::int64_t expires_at_ms = 0;   // HELD
};

struct BookingInfo {
  std::string ref, event, user;
  std::uint32_t seats = 0;
  BookingState state = BookingState::held;
  std::int64_t created_at_ms = 0;
  std::int64_t expires_at_ms = 0;  // holds only
};

struct BookingPage {
  std::vector<BookingInfo> bookings;
  std::string next_after;  // empty on the last page
};

struct WaitlistInfo {
  std::uint32_t position = 0;  // 1-based; 0 when not waiting
  std::uint32_t seats = 0;
  std::uint32_t length = 0;  // entries in the waitlist
  std::string ref;           // set when the user already holds a live booking
};

struct ShardStatsInfo {
  std::uint32_t shard = 0, events = 0, connections = 0;
  std::uint64_t live_bookings = 0, held_seats = 0, confirmed_seats = 0, waitlisted = 0;
  std::uint64_t requests = 0, forwarded = 0, overloaded = 0;
  // Socket traffic, both protocols: completed receives (with data) and sends.
  std::uint64_t receives = 0, bytes_received = 0, sends = 0, bytes_sent = 0;
};

struct StatsInfo {
  std::vector<ShardStatsInfo> shards;
  std::string durability;
  std::int64_t uptime_ms = 0;
  std::uint64_t resident_bytes = 0;  // the server process's RSS
  // The server process's CPU time (all threads): user space, and kernel.
  std::uint64_t cpu_user_us = 0, cpu_system_us = 0;
};

// ---- watches ----

// One pushed update of a watched event: its counters at the moment the server
// published them. `seq` grows with every update of the event on one
// connection; it starts again after the client re-watched (a reconnect, a
// server restart), and then `first` is true and the update is the current state.
struct WatchUpdate {
  std::string event;
  std::uint64_t seq = 0;
  std::uint64_t version = 0;
  EventState state = EventState::open;
  std::uint32_t capacity = 0, available = 0, held = 0, confirmed = 0, waitlisted = 0;
  std::uint32_t watchers = 0;  // live watchers of the event, all connections of the server
  bool first = false;          // the first update since the Watch was (re)sent
};

// The same, valid only during the callback that receives it: `event` points
// into the received frame (AsyncClient delivers updates without allocating).
struct WatchUpdateView {
  std::string_view event;
  std::uint64_t seq = 0;
  std::uint64_t version = 0;
  EventState state = EventState::open;
  std::uint32_t capacity = 0, available = 0, held = 0, confirmed = 0, waitlisted = 0;
  std::uint32_t watchers = 0;
  bool first = false;
  std::chrono::steady_clock::time_point received_at;  // when its bytes were read
  WatchUpdate copy() const;
};

// ---- options ----

struct ClientOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7400;  // the base port; shard i listens on port + 1 + i
  bool shard_aware = true;    // false: everything goes to the base port
  std::string token;          // sent in every connection's Hello (base, shards, reconnects)
                              // when not empty; at most token_size_max bytes
  std::chrono::milliseconds connect_timeout{2000};
  // Per attempt: Client's call, or an AsyncClient request from the flush()
  // (or poll()) that hands it to the socket; past it the attempt fails timed_out.
  std::chrono::milliseconds request_timeout{5000};
  // Tries per call (Client) or request (AsyncClient) when the transport fails
  // (could not connect, connection lost, timed out). Only what is safe to send
  // twice is retried: reads, CreateEvent (INVALID once it exists), UpdateEvent,
  // Confirm and Cancel (the same end state), and Book / LeaveWaitlist carrying
  // a request id, which every retry reuses. 1: no retries.
  int attempts_max = 4;
  std::chrono::milliseconds retry_backoff{50};  // doubled after each failed try
  bool auto_request_ids = true;       // Client: mutations without a request id get a random one
  std::size_t in_flight_max = 65536;  // AsyncClient: requests waiting per connection
  // AsyncClient: consecutive submit_book() calls for one event on one
  // connection travel as one BookBatch request (up to book_batch_items_max),
  // each booking still answered through its own callback exactly as a Book;
  // false: one Book request per booking.
  bool book_batching = true;
};

// Parses "HOST:PORT" into options.host/port; false (and `why`) when malformed.
bool parse_address(std::string_view address, ClientOptions* options, std::string* why);

// A new random idempotency key: 32 lower-case hex digits (128 bits).
std::string make_request_id();

}  // namespace admit
