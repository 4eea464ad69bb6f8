#include "server/server_options.h"

#include <arpa/inet.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <iostream>
#include <limits>
#include <thread>
#include <utility>

#include "admit/limits.h"
#include "server/http/auth.h"
#include "server/http/http_limits.h"
#include "server/server_limits.h"

namespace admit::server {
namespace {

constexpr const char* description = R"(admitd: the Admit admission server.

Runs one reactor thread per shard. Every shard accepts on the base port
(--listen) and forwards a request to the shard that owns its event; shard i
also listens alone on base_port + 1 + i, where shard-aware clients send the
events it owns (owner = xxh3_64(event id) % shards) without any hop.

Durability (--durability): strict (the default) answers a change only once
its write-ahead log record is on disk, so nothing acknowledged is lost to
kill -9 or power loss; batched answers after the in-memory commit and flushes
every --sync-interval-ms (power loss may take that long of acknowledged
changes); off keeps everything in memory and writes no files. Each shard logs
into DIR/shard-<i>/ (LMDB) and replays it at start; a folder written with
another --shards is refused. Inspect one with admit-wal DIR.

HTTP (--http): the REST/JSON API of DESIGN.md on every shard's reactor, by
default at the base port + 80 (127.0.0.1:7480): curl, browsers and load
tools reach it; GET /metrics (Prometheus) and GET /healthz are there too.
--auth-secret FILE turns auth on for both protocols: JWT HS256 tokens with a
role (admin, app, read) and an optional sub, minted by `admit token`. It is
required when listening beyond loopback.

Prints one line starting with "admitd ready" on stdout when it serves
(recovery lines go to stderr before it). SIGINT or SIGTERM stop it cleanly
(exit 0) after the log is flushed.)";

// "HOST:PORT" with an IPv4 host, for `flag`; empty when well formed.
std::string parse_address(std::string_view flag, const std::string& text, std::string* host,
                          std::uint16_t* port) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) {
    return std::string(flag) + ": expected HOST:PORT, e.g. 127.0.0.1:7400";
  }
  const std::string host_text = text.substr(0, colon);
  in_addr addr{};
  if (::inet_pton(AF_INET, host_text.c_str(), &addr) != 1) {
    return std::string(flag) + ": host '" + host_text + "' is not an IPv4 address";
  }
  const std::string port_text = text.substr(colon + 1);
  unsigned number = 0;
  const auto [end, error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), number);
  if (error != std::errc{} || end != port_text.data() + port_text.size() || number == 0 ||
      number > 65535) {
    return std::string(flag) + ": port '" + port_text + "' is not in 1..65535";
  }
  *host = host_text;
  *port = static_cast<std::uint16_t>(number);
  return {};
}

// 127.0.0.0/8: nobody beyond this machine reaches it.
bool is_loopback(const std::string& host) {
  in_addr addr{};
  return ::inet_pton(AF_INET, host.c_str(), &addr) == 1 && (ntohl(addr.s_addr) >> 24) == 127;
}

std::uint32_t default_shards() {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  return std::min<std::uint32_t>(cores, shards_max);
}

bool is_power_of_two(std::uint32_t n) { return n != 0 && (n & (n - 1)) == 0; }

}  // namespace

const char* durability_name(Durability durability) {
  switch (durability) {
    case Durability::strict:
      return "strict";
    case Durability::batched:
      return "batched";
    case Durability::off:
      return "off";
  }
  return "?";
}

std::optional<std::size_t> parse_byte_size(std::string_view text) {
  std::uint64_t number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc{} || end == text.data()) return std::nullopt;
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  constexpr std::pair<std::string_view, unsigned> units[] = {{"", 0},     {"B", 0},    {"KiB", 10},
                                                             {"MiB", 20}, {"GiB", 30}, {"TiB", 40}};
  for (const auto& [name, shift] : units) {
    if (unit != name) continue;
    if (shift != 0 && number > (std::numeric_limits<std::size_t>::max() >> shift)) {
      return std::nullopt;
    }
    return static_cast<std::size_t>(number) << shift;
  }
  return std::nullopt;
}

namespace {

struct FlagText {
  std::string listen = "127.0.0.1:" + std::to_string(listen_port_default);
  std::string durability = "strict";
  std::string map_size = "1GiB";
  std::string map_size_max = "64GiB";
  std::string http;  // empty: the default, base port + http_port_offset
  std::string auth_secret_file;
};

// Where it listens and how many shards.
void add_listen_flags(CLI::App& app, ServerOptions& options, FlagText& text) {
  app.add_option("--listen", text.listen,
                 "HOST:PORT of the base port (IPv4); shard i also listens on PORT+1+i")
      ->capture_default_str();
  app.add_option("--shards", options.shards, "reactor threads, one per core (1..64)")
      ->check(CLI::Range(1u, shards_max))
      ->capture_default_str();
  app.add_option("--data", options.data_dir, "data folder, created if missing")
      ->capture_default_str();
}

// The write-ahead log and its checkpoints.
void add_storage_flags(CLI::App& app, ServerOptions& options, FlagText& text) {
  app.add_option("--durability", text.durability,
                 "strict (answer once the change is on disk), batched (answer at once, "
                 "flush every --sync-interval-ms) or off (memory only, no files)")
      ->check(CLI::IsMember({"strict", "batched", "off"}))
      ->capture_default_str();
  app.add_option("--sync-interval-ms", options.sync_interval_ms,
                 "batched: how often the log is flushed to disk (what power loss may take)")
      ->check(CLI::Range(1u, sync_interval_ms_max))
      ->capture_default_str();
  app.add_option("--map-size", text.map_size,
                 "initial size of each shard's log map (bytes, or with KiB/MiB/GiB/TiB); "
                 "it doubles as needed")
      ->capture_default_str();
  app.add_option("--map-size-max", text.map_size_max,
                 "largest size of each shard's log map; when full, writes answer "
                 "UNAVAILABLE and reads go on")
      ->capture_default_str();
  app.add_option("--checkpoint-records", options.checkpoint_records,
                 "write a checkpoint (and trim the log) after this many records per shard")
      ->check(CLI::Range(std::uint64_t{1}, checkpoint_records_max))
      ->capture_default_str();
  app.add_option("--checkpoint-seconds", options.checkpoint_seconds,
                 "... or after this many seconds with changes, whichever comes first")
      ->check(CLI::Range(1u, checkpoint_seconds_max))
      ->capture_default_str();
}

// What one connection (or peer shard) may hold before the server pushes back.
void add_connection_flags(CLI::App& app, ServerOptions& options) {
  app.add_option("--max-connections", options.max_connections,
                 "connections across all shards; past it: one OVERLOADED reply, then close")
      ->check(CLI::Range(1u, connections_max))
      ->capture_default_str();
  app.add_option("--max-inflight", options.max_inflight,
                 "unanswered requests per connection before the server stops reading it")
      ->check(CLI::Range(1u, inflight_max))
      ->capture_default_str();
  app.add_option("--max-send-queue-bytes", options.max_send_queue_bytes,
                 "queued reply bytes per connection: the server stops reading it, and drops "
                 "it if the queue stays full (a client that does not read)")
      ->check(CLI::Range(send_queue_bytes_min, send_queue_bytes_max))
      ->capture_default_str();
  app.add_option("--frame-timeout-ms", options.frame_timeout_ms,
                 "a binary frame not received whole within this of its first byte closes the "
                 "connection (half-open or stalled peers)")
      ->check(CLI::Range(frame_timeout_ms_min, frame_timeout_ms_max))
      ->capture_default_str();
  app.add_option("--ring-size", options.ring_slots,
                 "slots of each cross-shard ring (power of two); a full ring answers OVERLOADED")
      ->check(CLI::Range(ring_slots_min, ring_slots_max))
      ->capture_default_str();
}

// Booking defaults every event starts from.
void add_booking_flags(CLI::App& app, ServerOptions& options) {
  app.add_option("--rate", options.rate_per_s,
                 "default per-user booking attempts per second (0 = no limit); events may "
                 "override")
      ->check(CLI::Range(0u, rate_per_s_max))
      ->capture_default_str();
  app.add_option("--burst", options.rate_burst, "default per-user burst (0 = --rate)")
      ->check(CLI::Range(0u, rate_per_s_max))
      ->capture_default_str();
  app.add_option("--users-reserved", options.users_reserved,
                 "users each shard's table is sized for at start (about 1 byte each up front): "
                 "a sale of that many buyers never pauses to grow it")
      ->check(CLI::Range(std::uint64_t{0}, users_reserved_max))
      ->capture_default_str();
}

// The HTTP API, auth, watches and /metrics.
void add_http_flags(CLI::App& app, ServerOptions& options, FlagText& text) {
  app.add_option("--http", text.http,
                 "HOST:PORT of the HTTP API (every shard accepts on it), or off "
                 "[default: the --listen host at its port + 80, e.g. 127.0.0.1:7480]");
  app.add_option("--auth-secret", text.auth_secret_file,
                 "file holding the HS256 key of auth tokens (JWT; see `admit token`): every "
                 "request then needs one. Required beyond loopback")
      ->check(CLI::ExistingFile);
  app.add_option("--http-header-timeout-ms", options.http_header_timeout_ms,
                 "an HTTP request not received whole within this is closed (slowloris)")
      ->check(CLI::Range(std::int64_t{100}, std::int64_t{3'600'000}))
      ->capture_default_str();
  app.add_option("--http-idle-timeout-ms", options.http_idle_timeout_ms,
                 "an HTTP keep-alive connection idle this long is closed")
      ->check(CLI::Range(std::int64_t{100}, std::int64_t{24 * 3'600'000}))
      ->capture_default_str();
  app.add_option("--watch-interval-ms", options.watch_interval_ms,
                 "watchers get at most one update per event per interval, the latest state "
                 "(0: at every change)")
      ->check(CLI::Range(0u, watch_interval_ms_max))
      ->capture_default_str();
  app.add_option("--metrics-events", options.metrics_events,
                 "events with per-event gauges on /metrics (the first in id order)")
      ->check(CLI::Range(0u, metrics_events_max))
      ->capture_default_str();
}

// The flags `add` declares, shown under `heading` in --help. (A help group,
// not a CLI11 option group: those are subcommands, and parsing a stray
// positional against them looped; tests/fuzz/corpus/flags/timeout-option-groups.)
template <class Add>
void add_under(CLI::App& app, const std::string& heading, Add&& add) {
  const std::size_t before = app.get_options().size();
  add();
  const std::vector<CLI::Option*> options = app.get_options();
  for (std::size_t i = before; i < options.size(); ++i) options[i]->group(heading);
}

void add_flags(CLI::App& app, ServerOptions& options, FlagText& text) {
  add_under(app, "Listening", [&] { add_listen_flags(app, options, text); });
  add_under(app, "Durability", [&] { add_storage_flags(app, options, text); });
  add_under(app, "Limits", [&] { add_connection_flags(app, options); });
  add_under(app, "Bookings", [&] { add_booking_flags(app, options); });
  add_under(app, "HTTP, auth, watches and metrics", [&] { add_http_flags(app, options, text); });
}

// --http and --auth-secret; empty when all is well.
std::string check_http(const FlagText& text, ServerOptions& options) {
  if (text.http == "off") {
    options.http_port = 0;
  } else if (text.http.empty()) {
    // Above the shard ports (base + 1 + i, at most shards_max of them).
    static_assert(http_port_offset > shards_max);
    const unsigned port = options.listen_port + http_port_offset;
    if (port > 65535) {
      return "--http: the default port (--listen's + " + std::to_string(http_port_offset) + " = " +
             std::to_string(port) + ") is past 65535; give --http HOST:PORT or off";
    }
    options.http_host = options.listen_host;
    options.http_port = static_cast<std::uint16_t>(options.listen_port + http_port_offset);
  } else if (std::string problem =
                 parse_address("--http", text.http, &options.http_host, &options.http_port);
             !problem.empty()) {
    return problem + " (or off)";
  }
  if (!text.auth_secret_file.empty()) {
    std::string why;
    options.auth_secret = http::read_secret_file(text.auth_secret_file, &why);
    if (!options.auth_secret) return why;
  }
  const bool beyond_loopback = !is_loopback(options.listen_host) ||
                               (options.http_port != 0 && !is_loopback(options.http_host));
  if (beyond_loopback && !options.auth_secret) {
    return "--auth-secret is required when listening beyond loopback (--listen " +
           options.listen_host + (options.http_port != 0 ? ", --http " + options.http_host : "") +
           "): anyone who reaches the port could change events. Mint tokens with `admit token`";
  }
  return {};
}

std::string check_map_sizes(const FlagText& text, ServerOptions& options) {
  const auto range = " must be " + std::to_string(map_size_min >> 10) + "KiB.." +
                     std::to_string(map_size_limit >> 40) + "TiB";
  const std::optional<std::size_t> initial = parse_byte_size(text.map_size);
  if (!initial || *initial < map_size_min || *initial > map_size_limit) {
    return "--map-size: '" + text.map_size + "'" + range + " (e.g. 64MiB, 1GiB or bytes)";
  }
  const std::optional<std::size_t> max = parse_byte_size(text.map_size_max);
  if (!max || *max < map_size_min || *max > map_size_limit) {
    return "--map-size-max: '" + text.map_size_max + "'" + range + " (e.g. 64GiB or bytes)";
  }
  if (*max < *initial) {
    return "--map-size-max (" + text.map_size_max + ") is below --map-size (" + text.map_size + ")";
  }
  options.map_size_bytes = *initial;
  options.map_size_max_bytes = *max;
  return {};
}

// What CLI11's checks cannot say; empty when all is well.
std::string check_flags(const FlagText& text, ServerOptions& options) {
  if (std::string problem =
          parse_address("--listen", text.listen, &options.listen_host, &options.listen_port);
      !problem.empty()) {
    return problem;
  }
  if (options.listen_port + options.shards > 65535) {
    return "--listen: port " + std::to_string(options.listen_port) + " leaves no room for " +
           std::to_string(options.shards) + " shard ports above it";
  }
  if (!is_power_of_two(options.ring_slots)) {
    return "--ring-size: " + std::to_string(options.ring_slots) + " is not a power of two";
  }
  options.durability = text.durability == "strict"    ? Durability::strict
                       : text.durability == "batched" ? Durability::batched
                                                      : Durability::off;
  if (std::string problem = check_map_sizes(text, options); !problem.empty()) return problem;
  return check_http(text, options);
}

}  // namespace

ParsedOptions parse_options(int argc, char** argv) {
  ServerOptions options;
  options.shards = default_shards();
  options.max_connections = connections_default;
  options.max_inflight = inflight_default;
  options.max_send_queue_bytes = send_queue_bytes_default;
  options.frame_timeout_ms = frame_timeout_ms_default;
  options.ring_slots = ring_slots_default;
  options.sync_interval_ms = sync_interval_ms_default;
  options.checkpoint_records = checkpoint_records_default;
  options.checkpoint_seconds = checkpoint_seconds_default;
  options.http_header_timeout_ms = http::header_timeout_ms_default;
  options.http_idle_timeout_ms = http::idle_timeout_ms_default;
  options.metrics_events = metrics_events_default;
  options.watch_interval_ms = watch_interval_ms_default;
  FlagText text;
  CLI::App app(description, "admitd");
  add_flags(app, options, text);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& help) {  // --help
    return app.exit(help);
  } catch (const CLI::ParseError& error) {
    std::cerr << "admitd: " << error.what() << "\n(admitd --help lists the flags)\n";
    return 2;
  }
  if (const std::string problem = check_flags(text, options); !problem.empty()) {
    std::cerr << "admitd: " << problem << "\n";
    return 2;
  }
  return options;
}

}  // namespace admit::server
