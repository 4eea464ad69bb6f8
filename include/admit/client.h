// libadmit: the C++ client of Admit. Applications include this header (the
// synchronous Client) or admit/async_client.h (the pipelined AsyncClient), or
// both; each includes what it needs of include/admit/ and nothing else.
//
// Two facades over the same connections:
//   Client       synchronous calls, one per operation of the protocol, with
//                reconnects and idempotent retries. Not thread-safe: one per thread.
//   AsyncClient  (admit/async_client.h) pipelined: submit() many operations,
//                flush() them (batched into frames), poll() for replies, which
//                run callbacks on the polling thread. No I/O thread, no
//                per-request allocation. The same per-request timeout and
//                idempotent retries as Client.
//
// Errors are values (admit/status.h): a Status or Result<T> per call.
//
// Routing: an event operation goes to the port of the shard that owns the
// event (base_port + 1 + xxh3(event) % shards), a booking ref operation to the
// ref's shard, anything else to the base port. A shard port that cannot be
// reached falls back to the base port, which forwards.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "admit/limits.h"  // the limits checked before sending
#include "admit/status.h"
#include "admit/types.h"

namespace admit {

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

}  // namespace admit
