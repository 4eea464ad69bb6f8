// What a scenario run produced, and how it is shown: a human summary (outcomes,
// seats, throughput, latency percentiles, a PASS/FAIL verdict table) or one
// JSON object (--json).
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "admit/client.h"
#include "bench/admit-bench/histogram.h"
#include "bench/admit-bench/verdict.h"
#include "protocol/enums.h"

namespace admit::bench {

// Client-side failures, counted apart from the server's outcomes.
inline constexpr int client_error_kinds = 8;  // ClientError values

// The server's resident memory (RSS, from Stats) around the measured phase,
// and its growth per unit of the scenario (a connection held, a booking made).
struct ServerMemory {
  std::uint64_t resident_bytes_before = 0;  // 0: not measured or not reported
  std::uint64_t resident_bytes_after = 0;
  std::string unit;  // "connection" or "booking"
  std::uint64_t units = 0;

  bool known() const { return resident_bytes_before > 0 && resident_bytes_after > 0 && units > 0; }
  // (after - before) / units; negative when the server gave memory back.
  double bytes_per_unit() const {
    return (static_cast<double>(resident_bytes_after) -
            static_cast<double>(resident_bytes_before)) /
           static_cast<double>(units);
  }
};

// The server's work over the measured phase: differences of its Stats (CPU of
// the whole process, kernel included; socket traffic of every shard). Stable
// on a noisy machine where requests per second are not.
struct ServerCost {
  bool known = false;
  double cpu_user_s = 0, cpu_system_s = 0;
  std::uint64_t requests = 0;  // as the server counted them (Stats calls included)
  std::uint64_t receives = 0, sends = 0, bytes_received = 0, bytes_sent = 0;
};
// The difference between two Stats of one server; not known when either is
// missing or the server restarted between them.
ServerCost server_cost_between(const std::optional<StatsInfo>& before,
                               const std::optional<StatsInfo>& after);

struct RunSummary {
  std::string scenario;
  std::vector<std::string> events;
  std::uint64_t attempts = 0;  // requests sent whose answer (or failure) came back
  std::array<std::uint64_t, outcome_count> outcomes{};
  std::array<std::uint64_t, client_error_kinds> client_errors{};  // index: ClientError
  std::uint64_t seats_booked = 0;  // live seats at the end, as the server counts them
  double elapsed_s = 0;            // the measured phase only
  // CPU admit-bench itself spent in the measured phase (user + system, all
  // threads); 0 when not measured. Shows whether the client was the limit.
  double client_cpu_s = 0;
  double client_user_cpu_s = 0;  // the part of it in user space (the rest: the kernel's)
  ServerMemory server_memory;    // throughput and connections only
  // Whether AsyncClient packed pipelined bookings into BookBatch requests
  // (ClientOptions::book_batching; --no-book-batching turns it off).
  bool book_batching = true;
  ServerCost server_cost;  // throughput only
  LatencyHistogram latency;
  std::vector<Invariant> invariants;
  std::vector<std::string> notes;  // scenario facts worth a line ("1 waitlisted at 1")
  // Scenario figures by name (watch-storm: pushes_per_s, ...), in the summary
  // and in JSON under "metrics".
  std::vector<std::pair<std::string, double>> metrics;

  double throughput_rps() const { return elapsed_s > 0 ? attempts / elapsed_s : 0; }
  bool passed() const { return all_pass(invariants); }
};

void print_summary(std::FILE* out, const RunSummary& summary);
// One line: scenario, book_batching, attempts, outcomes{NAME:count}, seats_booked,
// throughput_rps, client_cpu_s, client_user_cpu_s, latency_us{p50,p95,p99,p999,max}, when known
// server{resident_bytes_before, resident_bytes_after, bytes_per_<unit>}, per_request{client_cpu_us,
// server_cpu_us, server_user_cpu_us, server_system_cpu_us, bytes_in, bytes_out,
// requests_per_receive, requests_per_send},
// metrics{name:value} when the scenario has some, invariants{name:bool}, verdict.
std::string summary_json(const RunSummary& summary);

// Merges per-event invariant lists: a name passes when it passes for every
// event; the detail names the first event where it failed.
std::vector<Invariant> merge_invariants(const std::vector<std::string>& events,
                                        const std::vector<std::vector<Invariant>>& per_event);

}  // namespace admit::bench
