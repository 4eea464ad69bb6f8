// The scenarios of admit-bench. Each creates its own uniquely named event(s),
// runs, asks the server for its view afterwards and returns a RunSummary with
// the verdict. Setup failures (server unreachable, event refused) throw
// std::runtime_error with a message for the user.
#pragma once

#include <cstdint>
#include <string>

#include "bench/admit-bench/fleet.h"
#include "bench/admit-bench/report.h"

namespace admit::bench {

struct FlashSaleOptions {
  std::uint32_t users = 300;
  std::uint32_t capacity = 10;
  std::uint32_t seats = 1;  // per user
  bool waitlist = false;
};

struct LastSeatOptions {
  std::uint32_t users = 300;
  std::uint32_t capacity = 0;  // 0: users - 1
};

struct RsvpOptions {
  std::uint32_t users = 300;
  std::uint32_t capacity = 200;
  std::uint32_t repeats = 50;  // users who send their RSVP a second time
};

struct HoldsOptions {
  std::uint32_t users = 300;
  std::uint32_t capacity = 100;
  std::uint32_t hold_ttl_ms = 1000;
  std::uint32_t confirm_percent = 50;  // of the holders; the rest let their hold expire
};

struct ThroughputOptions {
  std::uint32_t connections = 50;
  std::uint32_t pipeline = 1;  // requests in flight per connection
  double duration_s = 10;
  std::uint32_t events = 0;  // 0: one per server shard
  std::uint32_t capacity = 1'000'000'000;
  std::uint32_t users = 0;  // 0: a fresh user for every booking; else a pool per event
  std::uint32_t threads = 1;
  double rate_per_s = 0;  // 0: closed loop; else open loop at this total rate
  std::uint32_t mix_book = 100, mix_get = 0, mix_cancel = 0;  // percent
  std::size_t verify_bookings_max = 2'000'000;  // per event; past it, views compare counters
};

struct ConnectionsOptions {
  std::uint32_t connections = 2000;
  double hold_s = 10;
  double ramp_per_s = 2000;          // new connections a second
  std::uint32_t interval_ms = 1000;  // each connection sends a GetEvent this often
  // The server's RSS growth per held connection must stay at or under this
  // (a verdict); 0: reported, not judged.
  std::uint64_t memory_per_connection_max = 0;
};

struct WatchStormOptions {
  std::uint32_t watchers = 100;  // one connection each, on the base port
  std::uint32_t buyers = 10;     // shard-aware pipelined connections
  std::uint32_t pipeline = 16;   // bookings in flight per buyer
  std::uint32_t capacity = 2000;
  double ramp_per_s = 0;        // watchers connecting a second (0: as fast as it goes)
  bool http = false;            // Server-Sent Events watchers instead of binary Watch
  std::uint16_t http_port = 0;  // 0: admitd's default, the base port + 80
};

RunSummary run_flash_sale(const CommonOptions& common, const FlashSaleOptions& options);
RunSummary run_last_seat(const CommonOptions& common, const LastSeatOptions& options);
RunSummary run_rsvp(const CommonOptions& common, const RsvpOptions& options);
RunSummary run_holds(const CommonOptions& common, const HoldsOptions& options);
RunSummary run_throughput(const CommonOptions& common, const ThroughputOptions& options);
RunSummary run_connections(const CommonOptions& common, const ConnectionsOptions& options);
RunSummary run_watch_storm(const CommonOptions& common, const WatchStormOptions& options);

}  // namespace admit::bench
