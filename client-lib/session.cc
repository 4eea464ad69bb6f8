#include "session.h"

#include <poll.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <thread>

#include "codec.h"
#include "protocol/assertions.h"
#include "protocol/booking_ref.h"
#include "protocol/shard.h"

namespace admit {
namespace {

// How long a shard port that refused us is left alone (the base port serves meanwhile).
constexpr auto shard_retry_delay = std::chrono::seconds(1);
// Longest wait between two tries to send lost watches again (doubling from
// ClientOptions::retry_backoff).
constexpr auto watch_backoff_max = std::chrono::milliseconds(1000);

std::string hex128(std::uint64_t high, std::uint64_t low) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[15 - i] = digits[(high >> (4 * i)) & 0xF];
    out[31 - i] = digits[(low >> (4 * i)) & 0xF];
  }
  return out;
}

}  // namespace

std::string make_request_id() {
  thread_local std::mt19937_64 random{std::random_device{}() ^
                                      (std::uint64_t{std::random_device{}()} << 32)};
  const std::uint64_t high = random();
  return hex128(high, random());
}

Session::Session(ClientOptions options)
    : options_(std::move(options)),
      random_(std::random_device{}() ^ (std::uint64_t{std::random_device{}()} << 32)) {}

Session::~Session() {
  closing_ = true;
  close_all(ClientError::connection_lost, "client closed");
}

void Session::close_all(ClientError error, std::string_view why) {
  giving_up_ = true;
  // By index: the callbacks may reconnect and grow the vector.
  for (std::size_t i = 0; i < shard_connections_.size(); ++i) {
    if (shard_connections_[i] != nullptr) shard_connections_[i]->close(error, why);
  }
  if (base_ != nullptr) base_->close(error, why);
  std::vector<std::uint32_t> waiting;
  resends_.take_due({}, true, &waiting);
  const Clock::time_point now = Clock::now();
  for (const std::uint32_t index : waiting) {
    resend_failed(index, ReplyView(nullptr, error, why, now));
  }
  giving_up_ = false;
}

std::string Session::make_request_id() {
  const std::uint64_t high = random_();
  return hex128(high, random_());
}

std::string_view Session::request_id_or_new(std::string_view given, std::string& storage) {
  if (!given.empty() || !options_.auto_request_ids) return given;
  storage = make_request_id();
  return storage;
}

Result<HelloInfo> Session::connect_base() {
  if (base_ == nullptr) base_ = std::make_unique<Connection>(options_, options_.port, &watches_);
  if (base_->is_open() && hello_.shards > 0) return Result<HelloInfo>(Status(), hello_);
  Result<HelloInfo> hello = base_->open();
  if (!hello.ok()) return hello;
  if (hello->shards == 0 || hello->shards > shards_max) {
    base_->close(ClientError::protocol_error, "bad shard count in Hello");
    return Status::failure(ClientError::protocol_error,
                           base_->address() + ": Hello says " + std::to_string(hello->shards) +
                               " shards (1.." + std::to_string(shards_max) + " expected)");
  }
  const bool shards_changed = hello->shards != hello_.shards;
  hello_ = hello.value();
  // A different server (restarted with another --shards): start the shard
  // connections over.
  if (shards_changed) restart_shard_connections(hello_.shards);
  return hello;
}

void Session::restart_shard_connections(std::uint32_t shards) {
  if (shard_connections_.size() < shards) shard_connections_.resize(shards);
  shard_retry_at_.assign(shard_connections_.size(), Clock::time_point{});
  for (std::size_t i = 0; i < shard_connections_.size(); ++i) {
    if (shard_connections_[i] != nullptr) {
      shard_connections_[i]->close(ClientError::connection_lost, "the server's shards changed");
    }
  }
}

void Session::connect_shards() {
  if (!options_.shard_aware) return;
  for (std::uint32_t shard = 0; shard < hello_.shards; ++shard) {
    shard_connection(static_cast<int>(shard));
  }
}

int Session::shard_of(Routing kind, std::string_view key) const {
  if (!options_.shard_aware || hello_.shards == 0) return -1;
  if (kind == Routing::event) return static_cast<int>(owner_shard(key, hello_.shards));
  if (kind == Routing::ref) {
    const std::optional<BookingRef> parsed = BookingRef::parse(key);
    if (parsed && parsed->shard() < hello_.shards) return static_cast<int>(parsed->shard());
  }
  return -1;
}

// The shard's connection, opened if needed; nullptr when its port cannot be
// reached (then it is left alone for shard_retry_delay).
Connection* Session::shard_connection(int shard) {
  ADMIT_ASSERT(shard >= 0 && static_cast<std::size_t>(shard) < shard_connections_.size());
  if (shard_connections_[shard] == nullptr) {
    const auto port = static_cast<std::uint16_t>(options_.port + 1 + shard);
    shard_connections_[shard] = std::make_unique<Connection>(options_, port, &watches_);
  }
  Connection* const connection = shard_connections_[shard].get();
  if (connection->is_open()) return connection;
  // Closed inside the callbacks of its own replies: reopened after them.
  if (connection->dispatching()) return nullptr;
  const Clock::time_point now = Clock::now();
  if (now < shard_retry_at_[shard]) return nullptr;
  if (connection->open().ok()) return connection;
  shard_retry_at_[shard] = now + shard_retry_delay;
  return nullptr;
}

Connection* Session::connection_for(Routing kind, std::string_view key, Status* failure) {
  if (closing_) {
    *failure = Status::failure(ClientError::could_not_connect, "the client is being destroyed");
    return nullptr;
  }
  if (hello_.shards == 0 || (base_ != nullptr && !base_->is_open() && kind == Routing::any)) {
    Result<HelloInfo> hello = connect_base();
    if (!hello.ok()) {
      *failure = hello.status();
      return nullptr;
    }
  }
  if (const int shard = shard_of(kind, key); shard >= 0) {
    if (Connection* connection = shard_connection(shard)) return connection;
  }
  if (!base_->is_open()) {
    Result<HelloInfo> hello = connect_base();
    if (!hello.ok()) {
      *failure = hello.status();
      return nullptr;
    }
  }
  return base_.get();
}

Status Session::flush_all() {
  Status first_failure;
  auto flush_one = [&](Connection* c) {
    if (c == nullptr || !c->is_open() || !c->has_output()) return;
    Status s = c->flush(options_.request_timeout);
    if (!s.answered() && first_failure.answered()) first_failure = std::move(s);
  };
  flush_one(base_.get());
  // By index: flushing runs callbacks, which may reconnect and grow the vector.
  for (std::size_t i = 0; i < shard_connections_.size(); ++i) {
    flush_one(shard_connections_[i].get());
  }
  return first_failure;
}

void PollSet::clear() {
  connections_.clear();
  fds_.clear();
}

void PollSet::add(Connection* connection) {
  ADMIT_ASSERT(connection->awaits_input());
  connections_.push_back(connection);
  fds_.push_back(pollfd{connection->fd(), POLLIN, 0});
}

std::size_t PollSet::wait_and_dispatch(std::chrono::milliseconds timeout) {
  if (fds_.empty()) return 0;
  const int wait_ms = static_cast<int>(std::max<std::chrono::milliseconds::rep>(
      0, std::min<std::chrono::milliseconds::rep>(timeout.count(), INT_MAX)));
  int ready = ::poll(fds_.data(), fds_.size(), wait_ms);
  while (ready < 0 && errno == EINTR) ready = ::poll(fds_.data(), fds_.size(), 0);
  std::size_t ran = 0;
  for (std::size_t i = 0; i < fds_.size() && ready > 0; ++i) {
    if (fds_[i].revents == 0) continue;
    --ready;
    // A callback may have closed it (a failed submit on the same connection).
    if (connections_[i]->is_open()) ran += connections_[i]->read_and_dispatch();
  }
  return ran;
}

void Session::add_awaiting(PollSet& set) const {
  auto add = [&set](Connection* c) {
    if (c != nullptr && c->awaits_input()) set.add(c);
  };
  add(base_.get());
  for (const auto& c : shard_connections_) add(c.get());
}

std::size_t Session::in_flight() const {
  std::size_t total = resends_.waiting() + (base_ ? base_->in_flight() : 0);
  for (const auto& c : shard_connections_) total += c ? c->in_flight() : 0;
  return total;
}

}  // namespace admit

namespace admit {

Connection* Session::submit_watch(std::string_view event, ReplyCallback callback, Status* failure) {
  watches_.add(event);
  Connection* connection = connection_for(Routing::event, event, failure);
  if (connection == nullptr) return nullptr;
  if (connection->full()) {
    *failure = Status::failure(ClientError::in_flight_full,
                               connection->address() + ": in_flight_max requests are waiting");
    return nullptr;
  }
  ReplyCallback answer = watches_.sent(event, *connection, std::move(callback));
  connection->add([&](codec::Builder& b) { return codec::encode_watch(b, event); },
                  std::move(answer));
  connection->expect_pushes();
  return connection;
}

Connection* Session::submit_unwatch(std::string_view event, ReplyCallback callback,
                                    Status* failure) {
  Connection* connection = nullptr;
  if (const WatchTable::Watch* watch = watches_.find(event);
      watch != nullptr && !WatchTable::needs_send(*watch)) {
    connection = watch->connection;
  }
  watches_.remove(event);
  if (connection == nullptr) connection = connection_for(Routing::event, event, failure);
  if (connection == nullptr) return nullptr;
  if (connection->full()) {
    *failure = Status::failure(ClientError::in_flight_full,
                               connection->address() + ": in_flight_max requests are waiting");
    return nullptr;
  }
  connection->add([&](codec::Builder& b) { return codec::encode_unwatch(b, event); },
                  std::move(callback));
  return connection;
}

Status Session::restore_watches() {
  if (closing_ || !watches_.any_needs_send()) {
    watch_backoff_ = std::chrono::milliseconds(0);
    return Status();
  }
  const Clock::time_point now = Clock::now();
  if (now < watch_retry_at_) return Status();
  // Copied first: sending connects, whose callbacks may add or drop watches.
  std::vector<std::string> lost;
  watches_.for_each([&lost](std::string_view event, const WatchTable::Watch& watch) {
    if (WatchTable::needs_send(watch)) lost.emplace_back(event);
  });
  Status first_failure;
  for (const std::string& event : lost) {
    const WatchTable::Watch* watch = watches_.find(event);
    if (watch == nullptr || !WatchTable::needs_send(*watch)) continue;
    Status failure;
    if (submit_watch(event, {}, &failure) != nullptr) continue;
    watches_.report(event, failure);
    if (first_failure.answered()) first_failure = std::move(failure);
  }
  const bool all_sent = first_failure.answered();
  if (all_sent) {
    watch_backoff_ = std::chrono::milliseconds(0);
    return first_failure;
  }
  watch_backoff_ = std::min<std::chrono::milliseconds>(
      watch_backoff_max, std::max(options_.retry_backoff, watch_backoff_ * 2));
  watch_retry_at_ = Clock::now() + watch_backoff_;
  return first_failure;
}

std::optional<Clock::time_point> Session::watch_retry_at() const {
  if (closing_ || !watches_.any_needs_send()) return std::nullopt;
  return watch_retry_at_;
}

std::size_t Session::wait_for_input(Clock::time_point deadline) {
  PollSet set;
  add_awaiting(set);
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  if (set.empty()) {
    if (wait.count() > 0) std::this_thread::sleep_for(wait);
    return 0;
  }
  return set.wait_and_dispatch(std::max(wait, std::chrono::milliseconds(0)));
}

}  // namespace admit

namespace admit {

Status Session::submit(const AsyncOp& op, ReplyCallback&& callback) {
  Status failure;
  Connection* connection = connection_for(op.route(), op.route_key(), &failure);
  if (connection == nullptr) return failure;
  if (connection->full()) {
    return Status::failure(ClientError::in_flight_full,
                           connection->address() + ": in_flight_max requests are waiting");
  }
  if (options_.attempts_max <= 1 || !op.retry_safe()) {
    add(*connection, op, std::move(callback));
    return Status();
  }
  const std::uint32_t index = resends_.take(op, std::move(callback), options_.retry_backoff);
  add(*connection, op, [this, index](const ReplyView& reply) { resend_answered(index, reply); });
  return Status();
}

void Session::add(Connection& connection, const AsyncOp& op, ReplyCallback&& callback) {
  if (op.kind == Op::book && options_.book_batching) {
    connection.add_book(std::get<BookRequest>(op.fields), std::move(callback));
    return;
  }
  const std::string_view token = options_.token;
  connection.add([&](codec::Builder& b) { return op.encode(b, token); }, std::move(callback));
}

void Session::resend_answered(std::uint32_t index, const ReplyView& reply) {
  if (is_transport_failure(reply.error())) {
    resend_failed(index, reply);
    return;
  }
  ReplyCallback callback = std::move(resends_[index].callback);
  resends_.release(index);
  callback(reply);
}

bool Session::resend_failed(std::uint32_t index, const ReplyView& failure) {
  Resends::Record& record = resends_[index];
  if (!giving_up_ && !closing_ && is_transport_failure(failure.error()) &&
      record.attempt < options_.attempts_max) {
    resends_.schedule(index, failure.received_at());
    return false;
  }
  ReplyCallback callback = std::move(record.callback);
  resends_.release(index);
  callback(failure);
  return true;
}

bool Session::send_kept(std::uint32_t index, Status* failure) {
  const AsyncOp& op = resends_[index].op;
  Connection* connection = connection_for(op.route(), op.route_key(), failure);
  if (connection == nullptr) return false;
  if (connection->full()) {
    *failure = Status::failure(ClientError::in_flight_full,
                               connection->address() + ": in_flight_max requests are waiting");
    return false;
  }
  // Kept books are batched again: those due together go out together.
  add(*connection, op, [this, index](const ReplyView& reply) { resend_answered(index, reply); });
  return true;
}

std::size_t Session::resend_due(Clock::time_point now) {
  resends_.take_due(now, false, &due_scratch_);
  std::size_t ran = 0;
  // Once the server could not be reached (every route falls back to the base
  // port), the rest of this pass fails the same way without trying: each try
  // may wait up to connect_timeout.
  Status unreachable;
  // By index: a failure's callback may submit, and a later resend_due (at
  // the next poll) reuses the scratch.
  for (std::size_t i = 0; i < due_scratch_.size(); ++i) {
    const std::uint32_t index = due_scratch_[i];
    Status failure = unreachable;
    if (failure.answered()) {
      if (send_kept(index, &failure)) continue;
      if (failure.error() == ClientError::could_not_connect) unreachable = failure;
    }
    ran += resend_failed(index, ReplyView(nullptr, failure.error(), failure.message(), now));
  }
  return ran;
}

std::size_t Session::expire(Clock::time_point now) {
  std::size_t ran = base_ != nullptr && base_->is_open() ? base_->expire(now) : 0;
  // By index: the callbacks may reconnect and grow the vector.
  for (std::size_t i = 0; i < shard_connections_.size(); ++i) {
    Connection* connection = shard_connections_[i].get();
    if (connection != nullptr && connection->is_open()) ran += connection->expire(now);
  }
  return ran;
}

bool Session::next_wake(Clock::time_point* at) const {
  bool any = resends_.next_due(at);
  auto consider = [&](const Connection* connection) {
    Clock::time_point deadline;
    if (connection == nullptr || !connection->next_deadline(&deadline)) return;
    if (!any || deadline < *at) *at = deadline;
    any = true;
  };
  consider(base_.get());
  for (const auto& connection : shard_connections_) consider(connection.get());
  return any;
}

}  // namespace admit
