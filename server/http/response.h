// Response encoding: outcomes and results to HTTP answers (status per
// DESIGN.md's outcome table, Location on 201, Retry-After on 429, Allow on
// 405, JSON bodies with the shell's `--json` field names), and answers to
// HTTP/1.1 bytes. Every answer that is not a 2xx has {"outcome","message"}.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "server/event_directory.h"
#include "server/http/router.h"
#include "server/shard_command.h"

namespace admit::server::http {

inline constexpr std::string_view json_content_type = "application/json";
inline constexpr std::string_view metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

struct Answer {
  Outcome outcome = Outcome::ok;  // for metrics
  int status = 200;
  std::string body;
  std::string location;             // set on 201: the path of what was created
  std::int64_t retry_after_ms = 0;  // > 0 on 429: Retry-After in whole seconds, at least 1
  std::string_view allow;           // 405
  bool bearer_challenge = false;    // 401: WWW-Authenticate: Bearer
  std::string_view content_type = json_content_type;
};

// The reason phrase of `status` ("Too Many Requests"); "Unknown" for others.
std::string_view status_reason(int status);
// Retry-After's value: `retry_after_ms` rounded up to whole seconds, at least 1.
std::int64_t retry_after_seconds(std::int64_t retry_after_ms);
// "/v1/events/" + id, the id percent-encoded as a path segment.
std::string event_path(std::string_view event_id);

// Appends the whole answer as HTTP/1.1 bytes. `keep_alive` false adds
// `Connection: close` (the caller then closes after sending); true with
// `announce_keep_alive` (an HTTP/1.0 request) adds `Connection: keep-alive`.
void append_answer(std::string* out, const Answer& answer, bool keep_alive,
                   bool announce_keep_alive = false);
// The interim answer to `Expect: 100-continue`.
inline constexpr std::string_view continue_answer = "HTTP/1.1 100 Continue\r\n\r\n";

// A refusal: `status` (0: the outcome's status) with {"outcome","message"}.
// An empty message becomes a generic one naming the outcome.
Answer refusal(Outcome outcome, std::string_view message, int status = 0);
// The answer of an owner shard to a routed command.
Answer shard_answer(Route route, const ShardCommand& command, const ShardResult& result);
// GET /v1/events/{id}: the event with its live counters.
Answer event_answer(const EventSnapshot& event);

// Server-Sent Events (GET /v1/events/{id}/watch): the head of the endless
// answer, one update (`event: availability`, `id:` the sequence number,
// `data:` the event's JSON plus "seq"), and the heartbeat comment.
inline constexpr std::string_view sse_head =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    "X-Accel-Buffering: no\r\n\r\n";
void append_sse_update(std::string* out, const EventSnapshot& event, std::uint64_t seq);
inline constexpr std::string_view sse_heartbeat = ": heartbeat\n\n";
// GET /v1/events: a page; `more` sets next_after to the last id.
Answer event_page_answer(std::span<const EventSnapshot> events, bool more);

Answer stats_answer(const StatsView& stats);
// GET /healthz: 200 {"status":"ok"}, or 503 naming the first failed shard.
struct ShardFailure {
  std::uint32_t shard = 0;
  std::string_view cause;
};
Answer health_answer(std::optional<ShardFailure> failure);

}  // namespace admit::server::http
