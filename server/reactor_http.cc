// Reactor: the HTTP connections of --http. server/http/ parses, routes,
// decodes, authorizes and writes the answers; here a request meets the same
// path as its binary twin: a ShardCommand applied on this shard or forwarded
// over the rings, answers held until durable, in request order.
#include <algorithm>

#include "protocol/assertions.h"
#include "server/http/live_page.h"
#include "server/metrics_page.h"
#include "server/reactor.h"

namespace admit::server {
namespace {

std::string_view as_text(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

std::span<const std::uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// Requests refused before routing (unknown routes, wrong methods) count as `other`.
MetricOp metric_op_of(const http::Prepared& prepared) {
  return prepared.routed ? server::metric_op_of(http::op_of(prepared.target.route))
                         : MetricOp::other;
}

}  // namespace

// Parses whole requests at the start of `bytes`; returns the bytes used.
// Stops when the connection must pause (answers owed past
// pipelined_requests_max, or a limit), after a request that closes it, or
// when the bytes end (the parser keeps a partial request itself).
std::size_t Reactor::process_http(Connection& connection, std::span<const std::uint8_t> bytes) {
  HttpSession& session = *connection.http;
  if (session.streaming) return bytes.size();  // nothing after a watch is answered
  const std::string_view input = as_text(bytes);
  session.last_activity_ms = now_ms_;
  std::size_t used = 0;
  while (connection.takes_requests() && !session.streaming && used < input.size()) {
    if (should_pause(connection)) {
      connection.paused = true;
      stop_reading(connection);
      break;
    }
    if (session.parser.idle()) session.request_started_ms = now_ms_;
    const http::RequestParser::Step step = session.parser.parse(input.substr(used));
    used += step.consumed;
    if (step.send_continue && session.order.waiting() == 0) {
      append_out(connection, as_bytes(http::continue_answer));
      mark_dirty(connection);
    }
    if (step.state == http::RequestParser::State::need_more) {
      if (step.consumed == 0) break;
      continue;
    }
    const std::uint64_t ticket = session.order.take_ticket();
    if (step.state == http::RequestParser::State::failed) {
      const http::ParseError error = session.parser.error();
      fill_http(connection, ticket, http::refusal(Outcome::invalid, error.message, error.status),
                false, MetricOp::other);
      connection.enter(ConnectionState::last_answer);
      stop_reading(connection);
      mark_dirty(connection);
      break;
    }
    http::ParsedRequest request = session.parser.take();
    if (request.http_1_0) session.order.announce_keep_alive(ticket);
    handle_http_request(connection, request, ticket);
  }
  return session.streaming ? bytes.size() : used;
}

void Reactor::handle_http_request(Connection& connection, http::ParsedRequest& request,
                                  std::uint64_t ticket) {
  ++requests_;
  note_arrival(connection);
  http::Prepared& prepared = scratch_prepared_;
  preparer_.prepare(request, now_ms_, &prepared);
  const bool keep_alive = prepared.keep_alive;
  const MetricOp op = metric_op_of(prepared);
  switch (prepared.next) {
    case http::Next::answer:
      fill_http(connection, ticket, prepared.answer, keep_alive, op);
      break;
    case http::Next::local:
      if (prepared.target.route == http::Route::watch) {
        start_sse(connection, ticket, prepared);
        return;
      }
      if (prepared.target.route == http::Route::get_event && owes_earlier_answers(connection)) {
        // Its earlier requests may have changed the event and are not
        // published yet: read it at the owner, after them.
        prepared.command.op = Op::get_event;
        prepared.command.event.assign(prepared.target.id.view());
        prepared.owner = *owner_of(prepared.command, options_.shards);
        apply_or_forward(connection, ticket, prepared, op);
        break;
      }
      fill_http(connection, ticket, local_http_answer(prepared.target), keep_alive, op);
      break;
    case http::Next::owned:
      apply_or_forward(connection, ticket, prepared, op);
      break;
  }
  mark_dirty(connection);
  if (!keep_alive) {  // Connection: close, or HTTP/1.0 without keep-alive
    connection.enter(ConnectionState::last_answer);
    stop_reading(connection);
  }
}

// A command for its owner: applied here, or forwarded over the rings.
void Reactor::apply_or_forward(Connection& connection, std::uint64_t ticket,
                               const http::Prepared& prepared, MetricOp op) {
  if (prepared.owner == shard_) {
    core_.apply(prepared.command, now_ms_, &scratch_result_);
    connection.reflects_turn = true;
    fill_http(connection, ticket, preparer_.finish(prepared, scratch_result_), prepared.keep_alive,
              op);
    delete scratch_result_.take_page();
  } else if (core_.forward(prepared.owner, handle_of(connection), ticket, prepared.command)) {
    ++connection.inflight;
    connection.http->forwarded.emplace_back(ticket, std::make_unique<http::Prepared>(prepared));
  } else {
    fill_http(connection, ticket, http::refusal(Outcome::overloaded, ring_full_message),
              prepared.keep_alive, op);
  }
}

// Whether an answer to an earlier request of the connection has not left
// yet (the request being handled holds the last ticket).
bool Reactor::owes_earlier_answers(const Connection& connection) const {
  return connection.http->order.waiting() > 1 || connection.inflight != 0 ||
         !connection.awaiting_durable.empty();
}

// Answers of the receiving shard: published state only (never a hop).
http::Answer Reactor::local_http_answer(const http::Target& target) {
  switch (target.route) {
    case http::Route::get_event: {
      const std::optional<EventSnapshot> event = shared_.directory.find(target.id.view());
      if (!event) return http::refusal(Outcome::not_found, "id: no such event");
      return http::event_answer(*event);
    }
    case http::Route::list_events: {
      const std::uint32_t limit = target.limit == 0 ? list_limit_default : target.limit;
      bool more = false;
      const std::vector<EventSnapshot> events =
          shared_.directory.list(target.after.view(), limit, &more);
      return http::event_page_answer(events, more);
    }
    case http::Route::stats:
      return http::stats_answer(stats_view());
    case http::Route::metrics:
      return metrics_answer();
    case http::Route::page:
      return http::live_page_answer();
    case http::Route::healthz: {
      const auto failure = shared_.first_storage_failure();
      if (!failure) return http::health_answer(std::nullopt);
      return http::health_answer(http::ShardFailure{failure->first, failure->second});
    }
    default:
      break;
  }
  ADMIT_UNREACHABLE("local_http_answer: not a local route");
}

// GET /v1/events/{id}/watch: the SSE head in its turn, then the event's
// updates (the current state first) from the watch rounds, until the peer
// closes. Nothing more is read as requests.
void Reactor::start_sse(Connection& connection, std::uint64_t ticket,
                        const http::Prepared& prepared) {
  HttpSession& session = *connection.http;
  const std::string_view event = prepared.target.id.view();
  if (watches_.watch(watcher_of(connection), event, shared_.directory) ==
      Watches::Added::no_event) {
    fill_http(connection, ticket, http::refusal(Outcome::not_found, "id: no such event"),
              prepared.keep_alive, MetricOp::watch);
    mark_dirty(connection);
    return;
  }
  count_request(Protocol::http, MetricOp::watch, Outcome::ok);
  session.order.fill_raw(ticket, http::sse_head);
  session.streaming = true;
  watch_round_due_ = true;
  mark_dirty(connection);
}

// An owner's answer to a forwarded request, durable there already.
void Reactor::deliver_http(Connection& connection, std::uint64_t ticket,
                           const ShardResult& result) {
  HttpSession& session = *connection.http;
  const auto found =
      std::find_if(session.forwarded.begin(), session.forwarded.end(),
                   [ticket](const auto& waiting) { return waiting.first == ticket; });
  ADMIT_ASSERT(found != session.forwarded.end());
  const http::Prepared& prepared = *found->second;
  fill_http(connection, ticket, preparer_.finish(prepared, result), prepared.keep_alive,
            metric_op_of(prepared));
  session.forwarded.erase(found);
  mark_dirty(connection);
}

void Reactor::fill_http(Connection& connection, std::uint64_t ticket, const http::Answer& answer,
                        bool keep_alive, MetricOp op) {
  count_request(Protocol::http, op, answer.outcome);
  connection.http->order.fill(ticket, answer, keep_alive);
}

// The answers whose turn has come go out after what is queued already.
void Reactor::flush_http(Connection& connection) {
  scratch_http_out_.clear();
  connection.answers_unflushed +=
      static_cast<std::uint32_t>(connection.http->order.drain(&scratch_http_out_));
  if (!scratch_http_out_.empty()) append_out(connection, as_bytes(scratch_http_out_));
}

// On the housekeeping tick: a request not received whole within
// --http-header-timeout-ms of its first byte (slowloris), or a keep-alive
// connection idle for --http-idle-timeout-ms, is closed.
void Reactor::close_stalled_http() {
  if (http_connections_ == 0) return;
  for (auto& slot : connections_) {
    Connection& connection = *slot;
    if (!connection.http || connection.state != ConnectionState::open) continue;
    if (connection.http->streaming) continue;  // quiet by design; heartbeats keep it
    const HttpSession& session = *connection.http;
    if (!session.parser.idle()) {
      if (now_ms_ - session.request_started_ms > options_.http_header_timeout_ms) {
        close_connection(connection);
      }
      continue;
    }
    const bool owes_nothing = session.order.waiting() == 0 && connection.inflight == 0 &&
                              !connection.send_in_flight && connection.queued_bytes() == 0;
    if (owes_nothing && now_ms_ - session.last_activity_ms > options_.http_idle_timeout_ms) {
      close_connection(connection);
    }
  }
}

http::Answer Reactor::metrics_answer() {
  http::Answer answer;
  answer.content_type = http::metrics_content_type;
  render_metrics(shared_, &answer.body);
  return answer;
}

}  // namespace admit::server
