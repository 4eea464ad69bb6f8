// How the shell shows answers: JSON objects (for scripts) and short text (for
// people), and the time formats of its flags and output.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "admit/client.h"
#include "protocol/time_text.h"

namespace admit::shell {

std::int64_t now_ms();
using admit::format_time;  // protocol/time_text.h
// Accepts ISO 8601 ("2026-11-26T10:00:00Z", "2026-11-26T10:00:00.5+02:00",
// "2026-11-26 10:00:00" as UTC), "+SECONDS" (from now) and "none" (0: not set).
// nullopt when the text is none of these.
std::optional<std::int64_t> parse_time(std::string_view text, std::int64_t now_ms);

// A token's lifetime: "30s", "15m", "1h", "7d" (in seconds), or "0" / "none"
// (0: no expiry). nullopt when malformed or past token_ttl_s_max.
inline constexpr std::int64_t token_ttl_s_max = 3650LL * 86400;
std::optional<std::int64_t> parse_ttl_s(std::string_view text);

nlohmann::json event_json(const EventInfo& event);
nlohmann::json booking_json(const BookingInfo& booking);
// The answer to `book`: outcome and, when relevant, ref, seats, position,
// retry_after_ms, opens_in_ms, expires_at.
nlohmann::json book_json(const Result<BookReply>& result, const BookRequest& request);
nlohmann::json stats_json(const StatsInfo& stats);
// One pushed update of `admit watch`, with the time it was received.
nlohmann::json watch_json(const WatchUpdate& update, std::int64_t received_ms);

std::string book_text(const Result<BookReply>& result, const BookRequest& request);
std::string event_text(const EventInfo& event);
std::string event_table(const EventPage& page);
std::string booking_text(const BookingInfo& booking);
std::string booking_table(const BookingPage& page);
std::string stats_text(const StatsInfo& stats);
// The live line of `admit watch`: "tour-vip  available 12  held 0  ...".
std::string watch_text(const WatchUpdate& update);

}  // namespace admit::shell
