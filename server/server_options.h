// admitd's command line: parsed and checked once, here, at the edge.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace admit::server {

enum class Durability : std::uint8_t { strict, batched, off };

struct ServerOptions {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 7400;
  std::uint32_t shards = 1;
  std::string data_dir = "./admit-data";
  Durability durability = Durability::strict;
  // The write-ahead log (strict and batched; see storage/wal/README.md).
  std::uint32_t sync_interval_ms = 0;
  std::size_t map_size_bytes = 0;
  std::size_t map_size_max_bytes = 0;
  std::uint64_t checkpoint_records = 0;
  std::uint32_t checkpoint_seconds = 0;
  std::uint32_t max_connections = 0;
  std::uint32_t max_inflight = 0;
  std::size_t max_send_queue_bytes = 0;
  std::int64_t frame_timeout_ms = 0;  // a binary frame not received whole within this closes
  std::uint32_t ring_slots = 0;
  std::uint32_t rate_per_s = 0;
  std::uint32_t rate_burst = 0;
  std::uint64_t users_reserved = 0;  // per shard: the user table is sized for them at start
  // The HTTP adapter (server/http/): off when http_port is 0.
  std::string http_host;
  std::uint16_t http_port = 0;
  std::int64_t http_header_timeout_ms = 0;
  std::int64_t http_idle_timeout_ms = 0;
  std::uint32_t metrics_events = 0;     // per-event gauges on /metrics, at most
  std::uint32_t watch_interval_ms = 0;  // a watcher gets at most one update per interval
  // --auth-secret: the HS256 key (the file's bytes without a trailing
  // newline). Unset: no auth (every request acts as admin).
  std::optional<std::string> auth_secret;
};

// Either the options or the exit code to leave with (0 after --help, 2 after
// a bad flag, with the message already printed).
using ParsedOptions = std::variant<ServerOptions, int>;
ParsedOptions parse_options(int argc, char** argv);

const char* durability_name(Durability durability);

// "64KiB", "1GiB", "512MiB", "4096" (bytes) -> bytes; nullopt when malformed
// or past size_t.
std::optional<std::size_t> parse_byte_size(std::string_view text);

}  // namespace admit::server
