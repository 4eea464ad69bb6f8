// Times as text, shared by the shell and the HTTP adapter: RFC 3339 in UTC
// with milliseconds out, RFC 3339 / ISO 8601 in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace admit {

// "2026-11-26T10:00:00.123Z" (UTC, milliseconds).
std::string format_time(std::int64_t epoch_ms);
// "2026-11-26T10:00:00Z", "2026-11-26T10:00:00.5+02:00", "2026-11-26 10:00:00"
// (no zone: UTC) to ms since the epoch; nullopt when malformed or not after
// the epoch.
std::optional<std::int64_t> parse_rfc3339(std::string_view text);

}  // namespace admit
