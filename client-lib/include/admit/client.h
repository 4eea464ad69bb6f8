// libadmit: the C++ client of Admit. This header is all an application sees.
//
// Two facades over the same connections:
//   Client       synchronous calls, one per operation of the protocol, with
//                reconnects and idempotent retries. Not thread-safe: one per thread.
//   AsyncClient  pipelined: submit() many operations, flush() them (batched into
//                frames), poll() for replies, which run callbacks on the polling
//                thread. No I/O thread, no per-request allocation. The same
//                per-request timeout and idempotent retries as Client.
//
// Errors are values. Every call returns a Status (or Result<T>) that is either
//   - an answer from the server: error() == ClientError::none and outcome() is
//     the server's Outcome (BOOKED, SOLD_OUT, ...; refusals carry their data
//     in the value: retry_after_ms, opens_in_ms, position, ref), or
//   - a client-side failure: error() says which (the request was refused before
//     sending, or the server could not be reached, or the connection broke).
//
// Routing: an event operation goes to the port of the shard that owns the
// event (base_port + 1 + xxh3(event) % shards), a booking ref operation to the
// ref's shard, anything else to the base port. A shard port that cannot be
// reached falls back to the base port, which forwards.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "protocol/enums.h"  // Outcome, EventState, BookingState, WaitlistChoice and their names
#include "protocol/protocol_limits.h"  // the limits checked before sending

namespace admit {

// ---- errors ----

enum class ClientError : std::uint8_t {
  none = 0,           // the server answered; see Status::outcome()
  invalid_argument,   // refused before sending; the message names the field
  could_not_connect,  // no connection to the server (message names the address)
  connection_lost,    // the connection broke before the answer came
  timed_out,          // no answer within ClientOptions::request_timeout
  protocol_error,     // the server sent something that is not a valid reply
  in_flight_full,     // AsyncClient: in_flight_max requests are waiting; poll() first
};

// "none", "invalid_argument", "could_not_connect", ...
std::string_view client_error_name(ClientError error);

class Status {
 public:
  Status() = default;  // an OK answer
  static Status answer(Outcome outcome, std::string message = {});
  static Status failure(ClientError error, std::string message);

  // The server answered with a success outcome (OK, BOOKED, HELD, WAITLISTED,
  // ALREADY_BOOKED).
  bool ok() const { return error_ == ClientError::none && outcome_is_success(outcome_); }
  // The server answered (with any outcome); false for client-side failures.
  bool answered() const { return error_ == ClientError::none; }
  ClientError error() const { return error_; }
  // Meaningful only when answered().
  Outcome outcome() const { return outcome_; }
  // Why, naming the field, for refusals and failures; empty on success.
  const std::string& message() const { return message_; }
  // "BOOKED", "SOLD_OUT: seats: ...", "could_not_connect: 127.0.0.1:7400: ...".
  std::string to_string() const;

 private:
  ClientError error_ = ClientError::none;
  Outcome outcome_ = Outcome::ok;
  std::string message_;
};

// A Status and the reply's data. The value is filled whenever the server
// answered, refusals included (a SOLD_OUT BookReply, a RATE_LIMITED one with
// retry_after_ms); it is default-constructed after a client-side failure.
template <typename T>
class Result {
 public:
  Result() = default;
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design
  Result(Status status, T value) : status_(std::move(status)), value_(std::move(value)) {}

  bool ok() const { return status_.ok(); }
  bool answered() const { return status_.answered(); }
  ClientError error() const { return status_.error(); }
  Outcome outcome() const { return status_.outcome(); }
  const std::string& message() const { return status_.message(); }
  const Status& status() const { return status_; }
  const T& value() const { return value_; }
  T& value() { return value_; }
  const T* operator->() const { return &value_; }
  const T& operator*() const { return value_; }

 private:
  Status status_;
  T value_{};
};

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
};

// Parses "HOST:PORT" into options.host/port; false (and `why`) when malformed.
bool parse_address(std::string_view address, ClientOptions* options, std::string* why);

// A new random idempotency key: 32 lower-case hex digits (128 bits).
std::string make_request_id();

// ---- Client: synchronous ----

class Session;  // private: connections and routing
enum class Op : std::uint8_t;

class Client {
 public:
  // Connects lazily, on the first call (or connect()).
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Opens the base connection and says Hello, learning the shard count. Calls
  // do this themselves when needed; use it to fail early.
  Result<HelloInfo> connect();
  // The base port's Hello answer (shards == 0 before connecting).
  const HelloInfo& hello() const;

  // OK with the new event; INVALID (naming the field) when the id exists or a
  // value is out of range.
  Result<EventInfo> create_event(const EventSpec& spec);
  // OK with the event after the change (version bumped); NOT_FOUND.
  Result<EventInfo> update_event(const EventUpdate& update);
  // OK with the config and live counters; NOT_FOUND.
  Result<EventInfo> get_event(std::string_view id);
  // Events in id order after `after`, at most `limit` (0 = server default).
  Result<EventPage> list_events(std::string_view after = {}, std::uint32_t limit = 0);

  // BOOKED / HELD / WAITLISTED / ALREADY_BOOKED, or a refusal with its data.
  Result<BookReply> book(const BookRequest& request);
  // A held booking becomes confirmed (BOOKED, with the booking); NOT_FOUND; INVALID if
  // expired or cancelled.
  Result<BookingInfo> confirm(std::string_view ref, std::string_view request_id = {});
  // Releases the seats and promotes the waitlist: OK (also when cancelled already).
  Result<BookingInfo> cancel(std::string_view ref, std::string_view request_id = {});
  Result<BookingInfo> get_booking(std::string_view ref);
  // Bookings of `event` in creation order (all states), after the ref `after`.
  Result<BookingPage> list_bookings(std::string_view event, std::string_view after = {},
                                    std::uint32_t limit = 0);
  // WAITLISTED with the position; ALREADY_BOOKED with the ref once promoted;
  // NOT_FOUND when the user is in neither.
  Result<WaitlistInfo> waitlist_position(std::string_view event, std::string_view user);
  // OK after leaving; NOT_FOUND when the user was not waiting.
  Result<WaitlistInfo> leave_waitlist(std::string_view event, std::string_view user,
                                      std::string_view request_id = {});
  Result<StatsInfo> stats();

  // Watches `event`: OK once the server accepted (NOT_FOUND for an unknown
  // event; INVALID past watches_per_connection_max on one connection). Its
  // updates then come from next_update(), the first being the current state.
  // Idempotent. The watch is remembered until unwatch() or a refusal: after a
  // lost connection or a server restart the client watches again by itself
  // (inside next_update()), so a transport failure here leaves it remembered.
  Status watch(std::string_view event);
  // Stops watching (OK also when it was not watched); queued updates of the
  // event are dropped.
  Status unwatch(std::string_view event);
  // Waits up to `timeout` for the next update of a watched event and returns
  // it. Updates that arrive during other calls are kept, one per event
  // (latest state wins), in arrival order. Otherwise: timed_out when none
  // came; could_not_connect while a lost watch cannot be sent again (it is
  // retried on the next call, with backoff); the server's refusal (e.g.
  // NOT_FOUND after a restart lost the event), once, when a re-watch was
  // refused and the watch dropped; invalid_argument when nothing is watched.
  Result<WatchUpdate> next_update(std::chrono::milliseconds timeout);
  // Events watched (remembered), in no particular order.
  std::vector<std::string> watched() const;

  // The port the last call was answered on, and the shard the server said is
  // behind it (-1: base port). For tests and diagnostics.
  std::uint16_t last_port() const;
  std::int32_t last_shard() const;

 private:
  // Before session_: its connections deliver into them until it is destroyed.
  std::vector<WatchUpdate> updates_;    // received, not yet returned: one per event
  std::vector<Status> watch_failures_;  // re-watches refused, not yet returned
  std::unique_ptr<Session> session_;
  std::uint16_t last_port_ = 0;
  std::int32_t last_shard_ = -1;

  template <typename T, typename Encode>
  Result<T> call(Op op, std::string_view key, bool has_request_id, Encode&& encode);
  // Keeps an update received during any call for next_update().
  void keep(const WatchUpdateView& update);
};

// ---- AsyncClient: pipelined ----

// Zero-copy book answer: `ref` points into the received frame.
struct BookReplyView {
  std::string_view ref;
  std::uint32_t seats = 0, position = 0;
  std::int64_t retry_after_ms = 0, opens_in_ms = 0, expires_at_ms = 0;
};

// One answer, valid only during the callback that receives it.
class ReplyView {
 public:
  ReplyView(const void* reply, ClientError error, std::string_view why,
            std::chrono::steady_clock::time_point received_at = {})
      : reply_(reply), error_(error), why_(why), received_at_(received_at) {}
  ClientError error() const { return error_; }  // none when the server answered
  // When the bytes carrying the answer were read (one clock read per read, not
  // per reply: a load generator's latency needs no clock of its own), or when
  // the failure was noticed.
  std::chrono::steady_clock::time_point received_at() const { return received_at_; }
  Outcome outcome() const;           // meaningful when error() == none
  std::string_view message() const;  // the server's or the failure's
  Status status() const;             // an owning copy of the three above

  // Decoders by operation; each returns defaults when the reply has no such data.
  BookReplyView book_view() const;  // no copy
  BookReply book() const;
  HelloInfo hello() const;
  EventInfo event() const;
  EventPage event_page() const;
  BookingInfo booking() const;
  BookingPage booking_page() const;
  WaitlistInfo waitlist() const;
  StatsInfo stats() const;

 private:
  const void* reply_;  // a verified wire::Reply, or nullptr after a failure
  ClientError error_;
  std::string_view why_;
  std::chrono::steady_clock::time_point received_at_;
};

// A move-only callable `void(const ReplyView&)` stored inline (no allocation);
// captures must fit in inline_size bytes.
class ReplyCallback {
 public:
  static constexpr std::size_t inline_size = 48;

  ReplyCallback() = default;
  template <typename F, typename D = std::decay_t<F>,
            typename = std::enable_if_t<!std::is_same_v<D, ReplyCallback> &&
                                        std::is_invocable_v<D&, const ReplyView&>>>
  ReplyCallback(F&& f) {  // NOLINT: implicit by design
    static_assert(sizeof(D) <= inline_size, "callback captures too much: capture a pointer");
    static_assert(alignof(D) <= alignof(std::max_align_t));
    static_assert(std::is_nothrow_move_constructible_v<D>);
    new (storage_) D(std::forward<F>(f));
    invoke_ = [](void* self, const ReplyView& reply) { (*static_cast<D*>(self))(reply); };
    manage_ = [](void* self, void* from) {
      if (from != nullptr) new (self) D(std::move(*static_cast<D*>(from)));
      static_cast<D*>(from != nullptr ? from : self)->~D();
    };
  }
  ReplyCallback(ReplyCallback&& other) noexcept { take(other); }
  ReplyCallback& operator=(ReplyCallback&& other) noexcept {
    if (this != &other) {
      reset();
      take(other);
    }
    return *this;
  }
  ~ReplyCallback() { reset(); }

  explicit operator bool() const { return invoke_ != nullptr; }
  void operator()(const ReplyView& reply) { invoke_(storage_, reply); }
  void reset() {
    if (manage_ != nullptr) manage_(storage_, nullptr);
    invoke_ = nullptr;
    manage_ = nullptr;
  }

 private:
  void take(ReplyCallback& other) {
    if (other.manage_ != nullptr) other.manage_(storage_, other.storage_);
    invoke_ = other.invoke_;
    manage_ = other.manage_;
    other.invoke_ = nullptr;
    other.manage_ = nullptr;
  }

  alignas(std::max_align_t) unsigned char storage_[inline_size];
  void (*invoke_)(void*, const ReplyView&) = nullptr;
  void (*manage_)(void* self, void* from) = nullptr;  // from: move into self; null: destroy
};

// Usage (one thread drives it; callbacks run inside poll() and flush(); they may
// submit, but not poll()):
//   AsyncClient client(options);
//   if (auto hello = client.connect(); !hello.ok()) ...;
//   for (...) client.submit_book(request, [&](const ReplyView& r) { count(r.outcome()); });
//   client.flush();
//   while (client.in_flight() > 0) client.poll(std::chrono::milliseconds(100));
//
// submit_*() encodes the operation at once into the frame being built for its
// route (so the request's views may die after the call); frames close at
// frame_requests_max operations or near frame_size_max, which is how operations
// batch. flush() writes every built frame. poll() reads replies and runs
// callbacks. A submit that fails (invalid_argument naming the field,
// could_not_connect, in_flight_full) does not call the callback; otherwise the
// callback runs exactly once: with the answer, or with the failure of its
// last try.
//
// Timeouts: a request not answered within request_timeout of the flush that
// wrote it fails timed_out; the connection stays, and an answer arriving
// later is dropped (its slot is released first: never a second callback).
// Only the oldest request of each connection is checked (requests are queued
// in order), on every poll(), whose wait never passes the next deadline.
//
// Retries, as Client (ClientOptions::attempts_max, retry_backoff): after a
// transport failure (connection lost, timed out, could not connect) a request
// that is safe to send twice is sent again by a later poll() once its backoff
// ends (reconnecting if needed), with the same request id; its callback runs
// once, with the answer or the last failure. Mutations get no automatic
// request id here: a Book or LeaveWaitlist without one is never retried (its
// callback gets the failure; give an id, e.g. make_request_id(), to have it
// retried). close() and the destructor retry nothing.
class AsyncClient {
 public:
  explicit AsyncClient(ClientOptions options);
  // Runs the callbacks still waiting, with connection_lost.
  ~AsyncClient();
  AsyncClient(const AsyncClient&) = delete;
  AsyncClient& operator=(const AsyncClient&) = delete;

  // Opens the base connection (Hello) and, when shard-aware, one per shard.
  Result<HelloInfo> connect();

  Status submit_hello(ReplyCallback callback);
  Status submit_create_event(const EventSpec& spec, ReplyCallback callback);
  Status submit_update_event(const EventUpdate& update, ReplyCallback callback);
  Status submit_get_event(std::string_view id, ReplyCallback callback);
  Status submit_list_events(std::string_view after, std::uint32_t limit, ReplyCallback callback);
  Status submit_book(const BookRequest& request, ReplyCallback callback);
  Status submit_confirm(std::string_view ref, std::string_view request_id, ReplyCallback callback);
  Status submit_cancel(std::string_view ref, std::string_view request_id, ReplyCallback callback);
  Status submit_get_booking(std::string_view ref, ReplyCallback callback);
  Status submit_list_bookings(std::string_view event, std::string_view after, std::uint32_t limit,
                              ReplyCallback callback);
  Status submit_waitlist_position(std::string_view event, std::string_view user,
                                  ReplyCallback callback);
  Status submit_leave_waitlist(std::string_view event, std::string_view user,
                               std::string_view request_id, ReplyCallback callback);
  Status submit_stats(ReplyCallback callback);
  // Watches `event` (callback: OK, NOT_FOUND, INVALID past
  // watches_per_connection_max on one connection); its updates go to the
  // on_update() handler, the first being the current state. The watch is
  // remembered until unwatched or refused: when its connection is lost (or
  // the server restarts), poll() watches again by itself (with backoff while
  // the server cannot be reached) and the next update is the current state.
  Status submit_watch(std::string_view event, ReplyCallback callback);
  // Stops watching; no update of the event is delivered after this call.
  Status submit_unwatch(std::string_view event, ReplyCallback callback);
  // Where updates go: called inside poll() (and flush()) for every update of
  // a watched event, never for an event not watched, never with an older
  // state after a newer one on the same connection. Set it before watching.
  // It may submit and flush but not poll.
  void on_update(std::function<void(const WatchUpdateView&)> handler);
  // Called when a watch could not be sent again after a reconnect: with the
  // server's refusal (the watch is dropped) or the transport failure (it is
  // tried again later).
  void on_watch_error(std::function<void(std::string_view event, const Status&)> handler);
  // Events watched (remembered).
  std::size_t watches() const;

  // Writes every built frame, waiting (up to request_timeout) while the socket
  // is full; on a broken connection its callbacks run with connection_lost
  // (or it waits to be retried). The request_timeout of the requests written
  // starts here.
  Status flush();
  // Waits up to `timeout` for replies and updates (0: only what has arrived),
  // runs their callbacks, and returns how many ran (timed_out ones included).
  // First sends again the watches whose connection was lost and the requests
  // whose retry backoff ended, then flushes. The wait ends early at the next
  // request deadline or retry.
  std::size_t poll(std::chrono::milliseconds timeout);
  // poll() for many clients at once, e.g. a load generator's connections on one
  // thread: flushes every client (and sends again its lost watches and due
  // retries), then waits up to `timeout` (0: only what has arrived; never past
  // a request deadline or retry) in ONE poll(2) over all their connections
  // that await replies or carry watches, reads only the connections that are
  // readable, runs their callbacks (updates included), fails the requests
  // past their deadline, and returns how many ran. Returns 0 at once when no
  // client awaits a reply or watches an event (while lost watches or retries
  // wait to be sent again: after that wait, at most `timeout`). Sleeps in the
  // kernel while all are idle, so waiting costs no CPU. The clients must be
  // distinct, not null, and outlive the call; callbacks may submit on any of
  // them but not poll. Allocates only when more connections await replies than
  // any earlier call on this thread saw.
  static std::size_t poll_many(std::span<AsyncClient* const> clients,
                               std::chrono::milliseconds timeout);
  // Requests submitted whose callbacks have not run yet (those waiting to be
  // retried included).
  std::size_t in_flight() const;
  // Closes every connection now: the callbacks still waiting run at once with
  // connection_lost, those waiting to be retried too (give up on a server
  // that stopped answering while the state they touch is alive). A later
  // submit connects again.
  void close();

 private:
  std::unique_ptr<Session> session_;
};

}  // namespace admit
