#include "server/http/response.h"

#include <charconv>

#include "protocol/time_text.h"
#include "server/http/http_limits.h"
#include "server/http/json_writer.h"

namespace admit::server::http {
namespace {

void time_or_null(JsonWriter& json, std::string_view name, std::int64_t epoch_ms) {
  if (epoch_ms == 0) {
    json.null_field(name);
  } else {
    json.string_field(name, format_time(epoch_ms));
  }
}

// The event's fields, inside an object the caller opened.
void write_event_fields(JsonWriter& json, const EventSnapshot& e) {
  json.string_field("id", e.id.view());
  json.number_field("capacity", e.config.capacity);
  json.number_field("per_user_max", e.config.per_user_max);
  json.number_field("hold_ttl_ms", e.config.hold_ttl_ms);
  json.bool_field("waitlist", e.config.waitlist);
  json.number_field("waitlist_max", e.config.waitlist_max);
  time_or_null(json, "opens_at", e.config.opens_at_ms);
  time_or_null(json, "closes_at", e.config.closes_at_ms);
  json.number_field("rate_per_s", e.config.rate_per_s);
  json.number_field("rate_burst", e.config.rate_burst);
  json.string_field("state", event_state_name(e.config.state));
  json.number_field("version", e.version);
  json.number_field("available", e.available);
  json.number_field("held", e.held);
  json.number_field("confirmed", e.confirmed);
  json.number_field("waitlisted", e.waitlisted);
  json.number_field("watchers", e.watchers);
}

void write_event(JsonWriter& json, const EventSnapshot& e) {
  json.begin_object();
  write_event_fields(json, e);
  json.end_object();
}

void write_booking(JsonWriter& json, const BookingRecord& b) {
  json.begin_object();
  json.string_field("ref", b.ref.view());
  json.string_field("event", b.event.view());
  json.string_field("user", b.user.view());
  json.number_field("seats", b.seats);
  json.string_field("state", booking_state_name(b.state));
  time_or_null(json, "created_at", b.created_at_ms);
  if (b.expires_at_ms != 0) json.string_field("expires_at", format_time(b.expires_at_ms));
  json.end_object();
}

// A result's text: the machine's reason, or the server's own message. Over
// HTTP the request id is the Idempotency-Key header, so that is the name.
std::string_view text_of(const ShardResult& result) {
  if (result.reason == Reason::request_id_reused) {
    return "Idempotency-Key: reused with different parameters";
  }
  return result.text();
}

// The message of a refusal: never empty.
std::string_view message_or_default(Outcome outcome, std::string_view message) {
  if (!message.empty()) return message;
  switch (outcome) {
    case Outcome::sold_out:
      return "event: sold out";
    case Outcome::over_user_limit:
      return "seats: over the event's per-user limit";
    case Outcome::not_open:
      return "event: not open yet";
    case Outcome::closed:
      return "event: closed";
    case Outcome::rate_limited:
      return "user: rate limited";
    case Outcome::not_found:
      return "not found";
    case Outcome::unauthorized:
      return "token: not allowed";
    case Outcome::overloaded:
      return "server: overloaded, retry later";
    case Outcome::unavailable:
      return "server: storage unavailable";
    default:
      return "request: refused";
  }
}

// An answer whose JSON body is written next, with room for it: the hot
// answers (booking, refusal, event) then allocate their body once.
Answer json_answer() {
  Answer answer;
  answer.body.reserve(answer_body_bytes_reserved);
  return answer;
}

// The answer to a booking attempt: the shell's `book --json` object.
Answer book_answer(const ShardCommand& command, const ShardResult& result) {
  const storage::BookResult& r = result.book;
  Answer answer = json_answer();
  answer.outcome = result.outcome;
  answer.status = outcome_http_status(result.outcome);
  JsonWriter json(&answer.body);
  json.begin_object();
  json.string_field("outcome", outcome_name(result.outcome));
  json.string_field("event", command.event.view());
  json.string_field("user", command.user.view());
  if (!r.ref.empty()) json.string_field("ref", r.ref.view());
  if (r.seats != 0) json.number_field("seats", r.seats);
  if (result.outcome == Outcome::waitlisted) json.number_field("position", r.position);
  if (result.outcome == Outcome::rate_limited) {
    json.signed_field("retry_after_ms", r.retry_after_ms);
    answer.retry_after_ms = std::max<std::int64_t>(r.retry_after_ms, 1);
  }
  if (result.outcome == Outcome::not_open) json.signed_field("opens_in_ms", r.opens_in_ms);
  if (r.expires_at_ms != 0) json.string_field("expires_at", format_time(r.expires_at_ms));
  if (!outcome_is_success(result.outcome)) {
    json.string_field("message", message_or_default(result.outcome, text_of(result)));
  }
  if (command.request_id.size != 0) json.string_field("request_id", command.request_id.view());
  json.end_object();
  if (result.outcome == Outcome::booked || result.outcome == Outcome::held) {
    answer.location = "/v1/bookings/" + std::string(r.ref.view());
  }
  return answer;
}

// GET .../waitlist/{user}: position 0 when not waiting, `ref` once promoted.
Answer waitlist_answer(const ShardCommand& command, const ShardResult& result) {
  const storage::WaitlistResult& w = result.waitlist;
  // NOT_FOUND because the user is not waiting (not for want of the event): position 0.
  const bool not_waiting =
      result.outcome == Outcome::not_found && result.reason == Reason::user_not_waiting;
  if (result.outcome != Outcome::waitlisted && result.outcome != Outcome::already_booked &&
      !not_waiting) {
    return refusal(result.outcome, text_of(result));
  }
  Answer answer;
  answer.outcome = not_waiting ? Outcome::ok : result.outcome;
  JsonWriter json(&answer.body);
  json.begin_object();
  json.string_field("outcome", outcome_name(answer.outcome));
  json.string_field("event", command.event.view());
  json.string_field("user", command.user.view());
  json.number_field("position", result.outcome == Outcome::waitlisted ? w.position : 0);
  json.number_field("seats", w.seats);
  json.number_field("length", w.length);
  if (!w.ref.empty()) json.string_field("ref", w.ref.view());
  json.end_object();
  return answer;
}

Answer booking_page_answer(const BookingPageRecord& page) {
  Answer answer;
  JsonWriter json(&answer.body);
  json.begin_object();
  json.key("bookings");
  json.begin_array();
  for (const BookingRecord& booking : page.bookings) write_booking(json, booking);
  json.end_array();
  if (page.next_after) {
    json.string_field("next_after", page.next_after->view());
  } else {
    json.null_field("next_after");
  }
  json.end_object();
  return answer;
}

Answer booking_answer(const BookingRecord& booking) {
  Answer answer;
  JsonWriter json(&answer.body);
  write_booking(json, booking);
  return answer;
}

Answer left_answer(const ShardCommand& command) {
  Answer answer;
  JsonWriter json(&answer.body);
  json.begin_object();
  json.string_field("outcome", outcome_name(Outcome::ok));
  json.string_field("event", command.event.view());
  json.string_field("user", command.user.view());
  json.end_object();
  return answer;
}

}  // namespace

std::string_view status_reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 417:
      return "Expectation Failed";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

std::int64_t retry_after_seconds(std::int64_t retry_after_ms) {
  return std::max<std::int64_t>(1, (retry_after_ms + 999) / 1000);
}

std::string event_path(std::string_view event_id) {
  constexpr char hex[] = "0123456789ABCDEF";
  std::string path = "/v1/events/";
  for (const char c : event_id) {
    const auto u = static_cast<unsigned char>(c);
    const bool unreserved = (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') ||
                            (u >= '0' && u <= '9') || u == '-' || u == '.' || u == '_' || u == '~';
    if (unreserved) {
      path.push_back(c);
    } else {
      path.push_back('%');
      path.push_back(hex[u >> 4]);
      path.push_back(hex[u & 15]);
    }
  }
  return path;
}

void append_answer(std::string* out, const Answer& answer, bool keep_alive,
                   bool announce_keep_alive) {
  char number[24];
  const auto append_number = [&](std::int64_t value) {
    out->append(number, std::to_chars(number, number + sizeof number, value).ptr);
  };
  out->reserve(out->size() + answer_head_bytes_max + answer.body.size() + answer.location.size() +
               answer.allow.size());
  out->append("HTTP/1.1 ");
  append_number(answer.status);
  out->push_back(' ');
  out->append(status_reason(answer.status));
  out->append("\r\nContent-Type: ");
  out->append(answer.content_type);
  out->append("\r\nContent-Length: ");
  append_number(static_cast<std::int64_t>(answer.body.size()));
  if (!answer.location.empty()) {
    out->append("\r\nLocation: ");
    out->append(answer.location);
  }
  if (answer.retry_after_ms > 0) {
    out->append("\r\nRetry-After: ");
    append_number(retry_after_seconds(answer.retry_after_ms));
  }
  if (!answer.allow.empty()) {
    out->append("\r\nAllow: ");
    out->append(answer.allow);
  }
  if (answer.bearer_challenge) out->append("\r\nWWW-Authenticate: Bearer");
  if (!keep_alive) out->append("\r\nConnection: close");
  if (keep_alive && announce_keep_alive) out->append("\r\nConnection: keep-alive");
  out->append("\r\n\r\n");
  out->append(answer.body);
}

Answer refusal(Outcome outcome, std::string_view message, int status) {
  Answer answer = json_answer();
  answer.outcome = outcome;
  answer.status = status != 0 ? status : outcome_http_status(outcome);
  JsonWriter json(&answer.body);
  json.begin_object();
  json.string_field("outcome", outcome_name(outcome));
  json.string_field("message", message_or_default(outcome, message));
  json.end_object();
  return answer;
}

Answer shard_answer(Route route, const ShardCommand& command, const ShardResult& result) {
  const Outcome outcome = result.outcome;
  if (route == Route::book && result.kind == ResultKind::book) return book_answer(command, result);
  if (route == Route::waitlist_position && result.kind == ResultKind::waitlist) {
    return waitlist_answer(command, result);
  }
  // An owner refuses UNAUTHORIZED only for a valid token acting beyond its
  // sub (ShardCommand::acting_user): 403; a bad token (401) never gets there.
  if (outcome == Outcome::unauthorized) return refusal(outcome, text_of(result), 403);
  if (route == Route::put_event && result.reason == Reason::event_exists &&
      outcome == Outcome::invalid) {
    return refusal(outcome, "id: the event exists with other settings", 409);
  }
  if (!outcome_is_success(outcome)) return refusal(outcome, text_of(result));
  switch (route) {
    case Route::create_event:
    case Route::put_event: {
      Answer answer = event_answer(result.event);
      if (result.reason == Reason::event_exists) return answer;  // PUT: it was there, the same
      answer.status = 201;
      answer.location = event_path(result.event.id.view());
      return answer;
    }
    case Route::update_event:
    case Route::get_event:  // read by the owner (Op::get_event)
      return event_answer(result.event);
    case Route::list_bookings:
      if (result.page != nullptr) return booking_page_answer(*result.page);
      break;
    case Route::get_booking:
    case Route::confirm:
    case Route::cancel:
      if (result.kind == ResultKind::booking) return booking_answer(result.booking);
      break;
    case Route::leave_waitlist:
      return left_answer(command);
    default:
      break;
  }
  return refusal(Outcome::unavailable, "server: no answer of the expected kind", 500);
}

Answer event_answer(const EventSnapshot& event) {
  Answer answer = json_answer();
  JsonWriter json(&answer.body);
  write_event(json, event);
  return answer;
}

void append_sse_update(std::string* out, const EventSnapshot& event, std::uint64_t seq) {
  out->append("event: availability\nid: ");
  out->append(std::to_string(seq));
  out->append("\ndata: ");
  JsonWriter json(out);  // one line: the writer emits no newline
  json.begin_object();
  write_event_fields(json, event);
  json.number_field("seq", seq);
  json.end_object();
  out->append("\n\n");
}

Answer event_page_answer(std::span<const EventSnapshot> events, bool more) {
  Answer answer;
  JsonWriter json(&answer.body);
  json.begin_object();
  json.key("events");
  json.begin_array();
  for (const EventSnapshot& event : events) write_event(json, event);
  json.end_array();
  if (more && !events.empty()) {
    json.string_field("next_after", events.back().id.view());
  } else {
    json.null_field("next_after");
  }
  json.end_object();
  return answer;
}

Answer stats_answer(const StatsView& stats) {
  constexpr auto relaxed = std::memory_order_relaxed;
  Answer answer;
  JsonWriter json(&answer.body);
  json.begin_object();
  json.string_field("outcome", "OK");
  json.key("shards");
  json.begin_array();
  for (std::size_t i = 0; i < stats.shards.size(); ++i) {
    const ShardStatsCounters& c = stats.shards[i];
    json.begin_object();
    json.number_field("shard", i);
    json.number_field("events", c.events.load(relaxed));
    json.number_field("live_bookings", c.live_bookings.load(relaxed));
    json.number_field("held_seats", c.held_seats.load(relaxed));
    json.number_field("confirmed_seats", c.confirmed_seats.load(relaxed));
    json.number_field("waitlisted", c.waitlisted.load(relaxed));
    json.number_field("connections", c.connections.load(relaxed));
    json.number_field("requests", c.requests.load(relaxed));
    json.number_field("forwarded", c.forwarded.load(relaxed));
    json.number_field("overloaded", c.overloaded.load(relaxed));
    json.number_field("receives", c.receives.load(relaxed));
    json.number_field("bytes_received", c.bytes_received.load(relaxed));
    json.number_field("sends", c.sends.load(relaxed));
    json.number_field("bytes_sent", c.bytes_sent.load(relaxed));
    json.end_object();
  }
  json.end_array();
  json.string_field("durability", stats.durability);
  json.signed_field("uptime_ms", stats.uptime_ms);
  json.number_field("resident_bytes", stats.resident_bytes);
  json.number_field("cpu_user_us", stats.cpu_user_us);
  json.number_field("cpu_system_us", stats.cpu_system_us);
  json.end_object();
  return answer;
}

Answer health_answer(std::optional<ShardFailure> failure) {
  if (!failure) {
    Answer answer;
    answer.body = R"({"status":"ok"})";
    return answer;
  }
  const std::string message = "shard " + std::to_string(failure->shard) +
                              ": storage failed: " + std::string(failure->cause);
  return refusal(Outcome::unavailable, message, 503);
}

}  // namespace admit::server::http
