#include "render.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>

namespace admit::shell {
namespace {

nlohmann::json time_or_null(std::int64_t epoch_ms) {
  return epoch_ms == 0 ? nlohmann::json(nullptr) : nlohmann::json(format_time(epoch_ms));
}

// "1 seat", "2 seats".
std::string seats_text(std::uint32_t seats) {
  return fmt::format("{} seat{}", seats, seats == 1 ? "" : "s");
}

}  // namespace

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<std::int64_t> parse_time(std::string_view text, std::int64_t now) {
  if (text == "none") return 0;
  if (!text.empty() && text[0] == '+') {
    std::int64_t seconds = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data() + 1, end, seconds);
    if (ec != std::errc() || ptr != end || seconds < 0 || seconds > 100LL * 365 * 86400) {
      return std::nullopt;
    }
    return now + seconds * 1000;
  }
  return parse_rfc3339(text);
}

std::optional<std::int64_t> parse_ttl_s(std::string_view text) {
  if (text == "0" || text == "none") return 0;
  constexpr std::pair<char, std::int64_t> units[] = {
      {'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
  const auto unit = std::find_if(std::begin(units), std::end(units), [&](const auto& u) {
    return !text.empty() && text.back() == u.first;
  });
  if (unit == std::end(units)) return std::nullopt;
  std::int64_t count = 0;
  const char* end = text.data() + text.size() - 1;
  const auto [ptr, ec] = std::from_chars(text.data(), end, count);
  if (ec != std::errc() || ptr != end || count <= 0 || count > token_ttl_s_max / unit->second) {
    return std::nullopt;
  }
  return count * unit->second;
}

nlohmann::json event_json(const EventInfo& e) {
  return {
      {"id", e.id},
      {"capacity", e.capacity},
      {"per_user_max", e.per_user_max},
      {"hold_ttl_ms", e.hold_ttl_ms},
      {"waitlist", e.waitlist},
      {"waitlist_max", e.waitlist_max},
      {"opens_at", time_or_null(e.opens_at_ms)},
      {"closes_at", time_or_null(e.closes_at_ms)},
      {"rate_per_s", e.rate_per_s},
      {"rate_burst", e.rate_burst},
      {"state", event_state_name(e.state)},
      {"version", e.version},
      {"available", e.available},
      {"held", e.held},
      {"confirmed", e.confirmed},
      {"waitlisted", e.waitlisted},
      {"watchers", e.watchers},
  };
}

nlohmann::json booking_json(const BookingInfo& b) {
  nlohmann::json j = {
      {"ref", b.ref},
      {"event", b.event},
      {"user", b.user},
      {"seats", b.seats},
      {"state", booking_state_name(b.state)},
      {"created_at", time_or_null(b.created_at_ms)},
  };
  if (b.expires_at_ms != 0) j["expires_at"] = format_time(b.expires_at_ms);
  return j;
}

nlohmann::json book_json(const Result<BookReply>& result, const BookRequest& request) {
  const BookReply& r = result.value();
  nlohmann::json j = {{"outcome", outcome_name(result.outcome())},
                      {"event", request.event},
                      {"user", request.user}};
  if (!r.ref.empty()) j["ref"] = r.ref;
  if (r.seats != 0) j["seats"] = r.seats;
  if (result.outcome() == Outcome::waitlisted) j["position"] = r.position;
  if (result.outcome() == Outcome::rate_limited) j["retry_after_ms"] = r.retry_after_ms;
  if (result.outcome() == Outcome::not_open) j["opens_in_ms"] = r.opens_in_ms;
  if (r.expires_at_ms != 0) j["expires_at"] = format_time(r.expires_at_ms);
  if (!result.message().empty()) j["message"] = result.message();
  if (!request.request_id.empty()) j["request_id"] = request.request_id;
  return j;
}

nlohmann::json watch_json(const WatchUpdate& u, std::int64_t received_ms) {
  return {
      {"event", u.event},
      {"seq", u.seq},
      {"version", u.version},
      {"state", event_state_name(u.state)},
      {"capacity", u.capacity},
      {"available", u.available},
      {"held", u.held},
      {"confirmed", u.confirmed},
      {"waitlisted", u.waitlisted},
      {"watchers", u.watchers},
      {"first", u.first},
      {"received_at", format_time(received_ms)},
  };
}

std::string watch_text(const WatchUpdate& u) {
  return u.event + "  available " + std::to_string(u.available) + "  held " +
         std::to_string(u.held) + "  confirmed " + std::to_string(u.confirmed) + "  waitlisted " +
         std::to_string(u.waitlisted) + "  watchers " + std::to_string(u.watchers) + "  (" +
         std::string(event_state_name(u.state)) + ", of " + std::to_string(u.capacity) + ")";
}

nlohmann::json stats_json(const StatsInfo& stats) {
  nlohmann::json shards = nlohmann::json::array();
  for (const ShardStatsInfo& s : stats.shards) {
    shards.push_back({{"shard", s.shard},
                      {"events", s.events},
                      {"live_bookings", s.live_bookings},
                      {"held_seats", s.held_seats},
                      {"confirmed_seats", s.confirmed_seats},
                      {"waitlisted", s.waitlisted},
                      {"connections", s.connections},
                      {"requests", s.requests},
                      {"forwarded", s.forwarded},
                      {"overloaded", s.overloaded},
                      {"receives", s.receives},
                      {"bytes_received", s.bytes_received},
                      {"sends", s.sends},
                      {"bytes_sent", s.bytes_sent}});
  }
  return {{"outcome", "OK"},
          {"shards", shards},
          {"durability", stats.durability},
          {"uptime_ms", stats.uptime_ms},
          {"resident_bytes", stats.resident_bytes},
          {"cpu_user_us", stats.cpu_user_us},
          {"cpu_system_us", stats.cpu_system_us}};
}

std::string book_text(const Result<BookReply>& result, const BookRequest& request) {
  const BookReply& r = result.value();
  const std::string_view name = outcome_name(result.outcome());
  switch (result.outcome()) {
    case Outcome::booked:
      return fmt::format("{} {}: {} on {} for {}", name, r.ref, seats_text(r.seats), request.event,
                         request.user);
    case Outcome::held:
      return fmt::format("{} {}: {} on {} for {}, confirm before {}", name, r.ref,
                         seats_text(r.seats), request.event, request.user,
                         format_time(r.expires_at_ms));
    case Outcome::already_booked:
      return fmt::format("{} {}: {} already has {} on {}", name, r.ref, request.user,
                         seats_text(r.seats), request.event);
    case Outcome::waitlisted:
      return fmt::format("{}: {} is number {} in the waitlist of {}", name, request.user,
                         r.position, request.event);
    case Outcome::rate_limited:
      return fmt::format("{}: retry after {} ms", name, r.retry_after_ms);
    case Outcome::not_open:
      return fmt::format("{}: {} opens in {} ms", name, request.event, r.opens_in_ms);
    default:
      return result.message().empty() ? std::string(name)
                                      : fmt::format("{}: {}", name, result.message());
  }
}

std::string event_text(const EventInfo& e) {
  std::string out = fmt::format(
      "{} ({}, version {})\n"
      "  capacity {}  available {}  held {}  confirmed {}  waitlisted {}\n"
      "  per user {}  hold ttl {} ms  waitlist {}",
      e.id, event_state_name(e.state), e.version, e.capacity, e.available, e.held, e.confirmed,
      e.waitlisted, e.per_user_max, e.hold_ttl_ms,
      e.waitlist ? fmt::format("on (max {})", e.waitlist_max) : std::string("off"));
  if (e.opens_at_ms != 0) out += "\n  opens at " + format_time(e.opens_at_ms);
  if (e.closes_at_ms != 0) out += "\n  closes at " + format_time(e.closes_at_ms);
  if (e.rate_per_s != 0) out += fmt::format("\n  rate {}/s burst {}", e.rate_per_s, e.rate_burst);
  return out;
}

std::string event_table(const EventPage& page) {
  std::string out = fmt::format("{:<32} {:>10} {:>10} {:>8} {:>10} {:>10} {}", "ID", "CAPACITY",
                                "AVAILABLE", "HELD", "CONFIRMED", "WAITLISTED", "STATE");
  for (const EventInfo& e : page.events) {
    out += fmt::format("\n{:<32} {:>10} {:>10} {:>8} {:>10} {:>10} {}", e.id, e.capacity,
                       e.available, e.held, e.confirmed, e.waitlisted, event_state_name(e.state));
  }
  if (!page.next_after.empty()) out += "\n(more: --after " + page.next_after + ")";
  return out;
}

std::string booking_text(const BookingInfo& b) {
  std::string out = fmt::format("{} {}: {} on {} for {}", b.ref, booking_state_name(b.state),
                                seats_text(b.seats), b.event, b.user);
  if (b.expires_at_ms != 0) out += ", expires " + format_time(b.expires_at_ms);
  return out;
}

std::string booking_table(const BookingPage& page) {
  std::string out = fmt::format("{:<12} {:<24} {:>6} {}", "REF", "USER", "SEATS", "STATE");
  for (const BookingInfo& b : page.bookings) {
    out += fmt::format("\n{:<12} {:<24} {:>6} {}", b.ref, b.user, b.seats,
                       booking_state_name(b.state));
  }
  if (!page.next_after.empty()) out += "\n(more: --after " + page.next_after + ")";
  return out;
}

std::string stats_text(const StatsInfo& stats) {
  std::string out = fmt::format(
      "durability {}, up {} s, resident {:.1f} MiB, CPU {:.1f} s user + {:.1f} s kernel\n{:>5} "
      "{:>7} {:>9} {:>9} {:>10} {:>10} "
      "{:>6} {:>10} {:>10}",
      stats.durability, stats.uptime_ms / 1000,
      static_cast<double>(stats.resident_bytes) / (1 << 20),
      static_cast<double>(stats.cpu_user_us) / 1e6, static_cast<double>(stats.cpu_system_us) / 1e6,
      "SHARD", "EVENTS", "BOOKINGS", "HELD", "CONFIRMED", "WAITLISTED", "CONNS", "REQUESTS",
      "FORWARDED");
  for (const ShardStatsInfo& s : stats.shards) {
    out += fmt::format("\n{:>5} {:>7} {:>9} {:>9} {:>10} {:>10} {:>6} {:>10} {:>10}", s.shard,
                       s.events, s.live_bookings, s.held_seats, s.confirmed_seats, s.waitlisted,
                       s.connections, s.requests, s.forwarded);
  }
  return out;
}

}  // namespace admit::shell
