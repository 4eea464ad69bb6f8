// Reactor: watches (server/watches.h). Binary Watch/Unwatch requests and SSE
// answers register watchers; a round at the end of a turn, at most once per
// --watch-interval-ms (or at once after a new watch), pushes what changed.
#include <algorithm>

#include "server/completion_tag.h"
#include "server/reactor.h"

namespace admit::server {
namespace {

constexpr std::string_view watch_limit_message =
    "event: a connection watches at most 64 events (watches_per_connection_max)";
constexpr std::string_view no_event_message = "event: no such event";

}  // namespace

void Reactor::watch(Connection& connection, std::uint64_t id, std::string_view event, MetricOp op) {
  Outcome outcome = Outcome::ok;
  std::string_view message;
  switch (watches_.watch(watcher_of(connection), event, shared_.directory)) {
    case Watches::Added::added:
      watch_round_due_ = true;
      break;
    case Watches::Added::already:
      break;
    case Watches::Added::limit:
      outcome = Outcome::invalid;
      message = watch_limit_message;
      break;
    case Watches::Added::no_event:
      outcome = Outcome::not_found;
      message = no_event_message;
      break;
  }
  count_request(Protocol::binary, op, outcome);
  add_reply(connection, encode_refusal(builder_of(connection), id, outcome, message));
}

void Reactor::unwatch(Connection& connection, std::uint64_t id, std::string_view event) {
  watches_.unwatch(watcher_of(connection), event, shared_.directory);
  count_request(Protocol::binary, MetricOp::unwatch, Outcome::ok);
  add_reply(connection, encode_refusal(builder_of(connection), id, Outcome::ok, {}));
}

// At the end of a turn, after the durable publications of the turn.
void Reactor::push_watches() {
  if (watches_.empty()) return;
  const bool interval_over =
      now_ms_ - last_watch_round_ms_ >= std::int64_t{options_.watch_interval_ms};
  if (!interval_over && !watch_round_due_) return;
  watch_round_due_ = false;
  last_watch_round_ms_ = now_ms_;
  watches_.push_round(shared_.directory,
                      [this](const Watches::Watcher& watcher, std::span<const std::uint8_t> bytes) {
                        return push_update(watcher, bytes);
                      });
}

// An update goes after everything already queued for the connection. It
// reflects durable state, so it waits for no batch; but an SSE stream's
// bytes must follow its head, and nothing goes to a reader that is behind.
bool Reactor::push_update(const Watches::Watcher& watcher, std::span<const std::uint8_t> bytes) {
  Connection& connection = *connections_[watcher.slot];
  if (!connection.live() || connection.generation != watcher.generation) return true;
  if (connection.http && (!connection.http->streaming || connection.http->order.waiting() != 0 ||
                          !connection.awaiting_durable.empty())) {
    return false;
  }
  const std::size_t backlog_max =
      std::min(watch_backlog_bytes_max, options_.max_send_queue_bytes / 2);
  if (connection.queued_bytes() + bytes.size() > backlog_max) return false;
  take_spare_buffer(connection.send_queued);
  connection.send_queued.insert(connection.send_queued.end(), bytes.begin(), bytes.end());
  if (connection.http) connection.http->last_activity_ms = now_ms_;
  submit_send(connection);
  return true;
}

// Rounds need a turn: this timer makes one while nothing else happens.
void Reactor::arm_watch_timer() {
  if (watch_timer_armed_ || watches_.empty() || stopping_) return;
  const std::int64_t interval_ms =
      std::max<std::int64_t>(options_.watch_interval_ms, watch_round_min_ms);
  watch_interval_.tv_sec = interval_ms / 1000;
  watch_interval_.tv_nsec = (interval_ms % 1000) * 1'000'000;
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_timeout(sqe, &watch_interval_, 0, 0);
  io_uring_sqe_set_data64(sqe, CompletionTag{CompletionKind::watch_tick, 0, 0}.encode());
  watch_timer_armed_ = true;
}

// A comment line on SSE streams quiet for sse_heartbeat_ms, so proxies and
// browsers keep them open.
void Reactor::send_sse_heartbeats() {
  if (watches_.empty()) return;
  const auto heartbeat = std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(http::sse_heartbeat.data()),
      http::sse_heartbeat.size());
  for (auto& slot : connections_) {
    Connection& connection = *slot;
    if (!connection.http || !connection.http->streaming || !connection.live()) continue;
    if (now_ms_ - connection.http->last_activity_ms < sse_heartbeat_ms) continue;
    push_update(watcher_of(connection), heartbeat);
  }
}

}  // namespace admit::server
