// libadmit's pipelined client: AsyncClient (the synchronous one is
// admit/client.h). Routing, errors and retries are Client's.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

#include "admit/limits.h"  // the limits checked before sending
#include "admit/reply_callback.h"
#include "admit/status.h"
#include "admit/types.h"

namespace admit {

class Session;  // private: connections and routing

// Zero-copy book answer: `ref` points into the received frame.
struct BookReplyView {
  std::string_view ref;
  std::uint32_t seats = 0, position = 0;
  std::int64_t retry_after_ms = 0, opens_in_ms = 0, expires_at_ms = 0;
};

// One booking's answer out of a batched one (ClientOptions::book_batching);
// private to client-lib.
struct BookItemAnswer;

// One answer, valid only during the callback that receives it.
class ReplyView {
 public:
  ReplyView(const void* reply, ClientError error, std::string_view why,
            std::chrono::steady_clock::time_point received_at = {})
      : reply_(reply), error_(error), why_(why), received_at_(received_at) {}
  // A booking answered inside a BookBatch: reads exactly as a Book's answer.
  ReplyView(const BookItemAnswer& item, std::chrono::steady_clock::time_point received_at)
      : reply_(nullptr), item_(&item), error_(ClientError::none), received_at_(received_at) {}
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
  const void* reply_;  // a verified wire::Reply, or nullptr after a failure or for an item
  const BookItemAnswer* item_ = nullptr;  // set for a booking answered inside a BookBatch
  ClientError error_;
  std::string_view why_;
  std::chrono::steady_clock::time_point received_at_;
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
// batch. With ClientOptions::book_batching (the default), consecutive
// submit_book() calls for one event on one connection go as one BookBatch
// request (a few bytes per booking instead of a table each), closed by any
// other submit on that connection, a book of another event,
// book_batch_items_max bookings, or flush(); each booking still has its own
// callback, run once with an answer that reads as a Book's (outcome, message,
// book_view()), its own timeout, and its own retry when it carries a request id. flush() writes
// every built frame. poll() reads replies and runs callbacks. A submit that fails (invalid_argument
// naming the field, could_not_connect, in_flight_full) does not call the callback; otherwise the
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
