// The connections of one client (the base port and, when shard-aware, one
// per shard) and the routing of operations to them. Private to client-lib.
#pragma once

#include <poll.h>

#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "admit/async_client.h"
#include "async_op.h"
#include "connection.h"
#include "watch_table.h"

namespace admit {

// Connections awaiting replies, gathered for one poll(2) (AsyncClient::poll_many).
class PollSet {
 public:
  void clear();
  void add(Connection* connection);
  bool empty() const { return fds_.empty(); }
  // One poll(2) of up to `timeout` over every added connection (0: no wait),
  // then reads and dispatches those that are readable. Returns callbacks run.
  std::size_t wait_and_dispatch(std::chrono::milliseconds timeout);

 private:
  std::vector<Connection*> connections_;
  std::vector<pollfd> fds_;
};

class Session {
 public:
  explicit Session(ClientOptions options);
  // Closes every connection first: the callbacks still waiting run with
  // connection_lost while the session is whole, and what they submit is refused.
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const ClientOptions& options() const { return options_; }
  // Opens the base connection if needed (Hello learns the shard count).
  Result<HelloInfo> connect_base();
  const HelloInfo& hello() const { return hello_; }
  // Opens every shard connection that can be opened (for AsyncClient).
  void connect_shards();

  // The open connection for an operation: its shard's port when shard-aware
  // and reachable, else the base port. Connects (Hello) first when needed.
  // nullptr (and why in *failure) when even the base port cannot be reached,
  // or the session is closing.
  Connection* connection_for(Routing kind, std::string_view key, Status* failure);

  Status flush_all();
  // Closes every connection: the callbacks waiting run with `error` and `why`,
  // those of requests waiting to be sent again too (nothing is retried).
  void close_all(ClientError error, std::string_view why);
  // Adds the open connections that await replies or pushed updates.
  void add_awaiting(PollSet& set) const;
  // Requests whose callbacks have not run: in flight, or waiting to be sent again.
  std::size_t in_flight() const;

  // ---- AsyncClient's requests: timeouts and retries ----
  // Routes `op` and adds it to its connection's frame. A retry-safe operation
  // (AsyncOp::retry_safe) is kept, when attempts_max > 1, so that a transport
  // failure (connection lost, no answer within request_timeout, no
  // connection) sends it again after a backoff instead of calling back; the
  // callback runs once, with the answer or the last failure.
  Status submit(const AsyncOp& op, ReplyCallback&& callback);
  // Fails with timed_out the requests past their deadline at `now`; returns
  // the callbacks run.
  std::size_t expire(Clock::time_point now);
  // Sends again the requests whose backoff ended at `now`; returns the
  // callbacks run (those that could not be sent and have no try left).
  std::size_t resend_due(Clock::time_point now);
  bool resends_waiting() const { return resends_.waiting() != 0; }
  // The earliest moment something is due without input: a request's
  // deadline, or a retry's end of backoff. False when nothing is.
  bool next_wake(Clock::time_point* at) const;

  // ---- watches ----
  WatchTable& watches() { return watches_; }
  const WatchTable& watches() const { return watches_; }
  // Remembers the watch and sends Watch on the event's route (or the socket
  // the watch lives on); `callback` (may be empty) runs with the answer.
  // Returns the connection, or nullptr (and *failure) when it was not sent;
  // the watch stays remembered, to be sent by restore_watches().
  Connection* submit_watch(std::string_view event, ReplyCallback callback, Status* failure);
  // Forgets the watch (nothing of it is delivered after this) and sends
  // Unwatch on the socket it lives on, else on its route.
  Connection* submit_unwatch(std::string_view event, ReplyCallback callback, Status* failure);
  // Sends again the watches whose connection was lost or reopened, when due
  // (after a failure, not before watch_retry_at()). The first failure, or OK.
  Status restore_watches();
  // When restore_watches() is next due, if a watch waits to be sent.
  std::optional<Clock::time_point> watch_retry_at() const;
  // Waits until `deadline` for input on the connections that await it (sleeps
  // when there are none) and dispatches it. Returns callbacks run.
  std::size_t wait_for_input(Clock::time_point deadline);

  std::string make_request_id();
  // `given` when set; else, with auto_request_ids, a fresh id kept in `storage`
  // (so every retry of the call reuses it); else empty.
  std::string_view request_id_or_new(std::string_view given, std::string& storage);

 private:
  // A shard index, or -1 for the base port.
  int shard_of(Routing kind, std::string_view key) const;
  // The answer (or failure) of an attempt of the kept request `index`.
  void resend_answered(std::uint32_t index, const ReplyView& reply);
  // One more attempt failed without an answer: another is scheduled if the
  // request has tries left (false), else its callback runs with `failure` (true).
  bool resend_failed(std::uint32_t index, const ReplyView& failure);
  // Adds the kept request to its route's connection; false (and *failure)
  // when it could not.
  bool send_kept(std::uint32_t index, Status* failure);
  // Adds `op` to the connection's frame: a Book into its BookBatch when
  // options_.book_batching, anything else as a request of its own.
  void add(Connection& connection, const AsyncOp& op, ReplyCallback&& callback);
  Connection* shard_connection(int shard);
  // After a Hello naming another shard count: closes the shard connections and
  // makes room for `shards`. Connections are closed, never destroyed, while the
  // session lives: a callback running inside one of them, or a PollSet, may
  // still hold it.
  void restart_shard_connections(std::uint32_t shards);

  ClientOptions options_;
  HelloInfo hello_;
  // Declared before the connections, which deliver to them: destroyed after them.
  WatchTable watches_;
  Resends resends_;
  std::vector<std::uint32_t> due_scratch_;  // resend_due's, reused
  bool giving_up_ = false;                  // close_all: failures are final
  std::unique_ptr<Connection> base_;
  std::vector<std::unique_ptr<Connection>> shard_connections_;
  // A shard port that failed is not tried again before this time.
  std::vector<Clock::time_point> shard_retry_at_;
  std::mt19937_64 random_;
  bool closing_ = false;
  Clock::time_point watch_retry_at_{};
  std::chrono::milliseconds watch_backoff_{0};
};

}  // namespace admit
