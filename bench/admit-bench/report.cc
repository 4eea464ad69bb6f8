#include "bench/admit-bench/report.h"

#include <fmt/format.h>

#include <cassert>
#include <nlohmann/json.hpp>

#include "admit/client.h"

namespace admit::bench {

namespace {

static_assert(static_cast<int>(ClientError::in_flight_full) < client_error_kinds);

struct Percentile {
  const char* key;
  const char* label;
  double percent;
};
constexpr std::array<Percentile, 4> percentiles = {{
    {"p50", "p50", 50.0},
    {"p95", "p95", 95.0},
    {"p99", "p99", 99.0},
    {"p999", "p99.9", 99.9},
}};

double ns_to_us(std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

std::string client_error_label(int index) {
  return std::string(client_error_name(static_cast<ClientError>(index)));
}

void print_outcomes(std::FILE* out, const RunSummary& summary) {
  fmt::print(out, "  outcomes:\n");
  for (int i = 0; i < outcome_count; ++i) {
    if (summary.outcomes[i] == 0) continue;
    fmt::print(out, "    {:<18} {:>12}\n", outcome_name(static_cast<Outcome>(i)),
               summary.outcomes[i]);
  }
  for (int i = 1; i < client_error_kinds; ++i) {
    if (summary.client_errors[i] == 0) continue;
    fmt::print(out, "    {:<18} {:>12}  (client-side)\n", client_error_label(i),
               summary.client_errors[i]);
  }
}

// The server's cost divided by the requests admit-bench completed.
struct ServerPerRequest {
  double cpu_us = 0, user_cpu_us = 0, system_cpu_us = 0;
  double bytes_in = 0, bytes_out = 0;  // as the server received and sent them
  double requests_per_receive = 0, requests_per_send = 0;
};

ServerPerRequest server_per_request(const RunSummary& summary) {
  const ServerCost& cost = summary.server_cost;
  const double attempts = static_cast<double>(summary.attempts);
  const auto ratio = [](double a, std::uint64_t b) {
    return b > 0 ? a / static_cast<double>(b) : 0;
  };
  ServerPerRequest per;
  per.user_cpu_us = 1e6 * cost.cpu_user_s / attempts;
  per.system_cpu_us = 1e6 * cost.cpu_system_s / attempts;
  per.cpu_us = per.user_cpu_us + per.system_cpu_us;
  per.bytes_in = static_cast<double>(cost.bytes_received) / attempts;
  per.bytes_out = static_cast<double>(cost.bytes_sent) / attempts;
  per.requests_per_receive = ratio(static_cast<double>(cost.requests), cost.receives);
  per.requests_per_send = ratio(static_cast<double>(cost.requests), cost.sends);
  return per;
}

void print_server_cost(std::FILE* out, const RunSummary& summary) {
  if (!summary.server_cost.known || summary.attempts == 0) return;
  const ServerCost& cost = summary.server_cost;
  const ServerPerRequest per = server_per_request(summary);
  fmt::print(out,
             "  server CPU: {:.2f} s ({:.0f} % of one core), {:.2f} us per request ({:.2f} us "
             "of it in user space)\n",
             cost.cpu_user_s + cost.cpu_system_s,
             100 * (cost.cpu_user_s + cost.cpu_system_s) / summary.elapsed_s, per.cpu_us,
             per.user_cpu_us);
  fmt::print(out,
             "  wire: {:.1f} bytes in and {:.1f} out per request; {:.1f} requests per receive, "
             "{:.1f} per send\n",
             per.bytes_in, per.bytes_out, per.requests_per_receive, per.requests_per_send);
}

void print_latency(std::FILE* out, const LatencyHistogram& latency) {
  if (latency.count() == 0) return;
  fmt::print(out, "  latency (us):");
  for (const auto& p : percentiles) {
    fmt::print(out, " {} {:.1f}", p.label, ns_to_us(latency.value_at_percentile_ns(p.percent)));
  }
  fmt::print(out, " max {:.1f}  ({} samples)\n", ns_to_us(latency.max_ns()), latency.count());
}

}  // namespace

void print_summary(std::FILE* out, const RunSummary& summary) {
  fmt::print(out, "admit-bench {}\n", summary.scenario);
  if (!summary.events.empty()) {
    fmt::print(
        out, "  event{}: {}{}\n", summary.events.size() > 1 ? "s" : "", summary.events[0],
        summary.events.size() > 1 ? fmt::format(" (+{} more)", summary.events.size() - 1) : "");
  }
  fmt::print(out,
             "  attempts: {}   seats booked: {}   elapsed: {:.3f} s   throughput: {:.0f} "
             "req/s\n",
             summary.attempts, summary.seats_booked, summary.elapsed_s, summary.throughput_rps());
  fmt::print(out, "  book batching: {}\n",
             summary.book_batching ? "on (pipelined bookings of one event go as one BookBatch)"
                                   : "off (one Book request per booking)");
  print_outcomes(out, summary);
  print_latency(out, summary.latency);
  if (summary.client_cpu_s > 0 && summary.attempts > 0) {
    const double attempts = static_cast<double>(summary.attempts);
    fmt::print(out,
               "  client CPU: {:.2f} s ({:.0f} % of one core), {:.2f} us per request "
               "({:.2f} us of it in user space)\n",
               summary.client_cpu_s, 100 * summary.client_cpu_s / summary.elapsed_s,
               1e6 * summary.client_cpu_s / attempts, 1e6 * summary.client_user_cpu_s / attempts);
  }
  print_server_cost(out, summary);
  if (const ServerMemory& memory = summary.server_memory; memory.known()) {
    fmt::print(out, "  server RSS: {:.1f} MiB before, {:.1f} MiB after: {:.0f} bytes per {}\n",
               static_cast<double>(memory.resident_bytes_before) / (1 << 20),
               static_cast<double>(memory.resident_bytes_after) / (1 << 20),
               memory.bytes_per_unit(), memory.unit);
  }
  for (const auto& [name, value] : summary.metrics) fmt::print(out, "  {}: {:g}\n", name, value);
  for (const auto& note : summary.notes) fmt::print(out, "  {}\n", note);
  fmt::print(out, "  verdict:\n");
  for (const auto& invariant : summary.invariants) {
    fmt::print(out, "    {:<26} {}{}\n", invariant.name, invariant.pass ? "PASS" : "FAIL",
               invariant.detail.empty() ? "" : "  " + invariant.detail);
  }
  fmt::print(out, "  result: {}\n", summary.passed() ? "PASS" : "FAIL");
}

std::string summary_json(const RunSummary& summary) {
  nlohmann::ordered_json json;
  json["scenario"] = summary.scenario;
  json["book_batching"] = summary.book_batching;
  json["events"] = summary.events;
  json["attempts"] = summary.attempts;
  nlohmann::ordered_json outcomes = nlohmann::ordered_json::object();
  for (int i = 0; i < outcome_count; ++i) {
    if (summary.outcomes[i] > 0) {
      outcomes[std::string(outcome_name(static_cast<Outcome>(i)))] = summary.outcomes[i];
    }
  }
  for (int i = 1; i < client_error_kinds; ++i) {
    if (summary.client_errors[i] > 0) outcomes[client_error_label(i)] = summary.client_errors[i];
  }
  json["outcomes"] = outcomes;
  json["seats_booked"] = summary.seats_booked;
  json["elapsed_s"] = summary.elapsed_s;
  json["throughput_rps"] = summary.throughput_rps();
  json["client_cpu_s"] = summary.client_cpu_s;
  json["client_user_cpu_s"] = summary.client_user_cpu_s;
  nlohmann::ordered_json latency;
  for (const auto& p : percentiles) {
    latency[p.key] = ns_to_us(summary.latency.value_at_percentile_ns(p.percent));
  }
  latency["max"] = ns_to_us(summary.latency.max_ns());
  json["latency_us"] = latency;
  if (const ServerMemory& memory = summary.server_memory; memory.known()) {
    json["server"] = {{"resident_bytes_before", memory.resident_bytes_before},
                      {"resident_bytes_after", memory.resident_bytes_after},
                      {"bytes_per_" + memory.unit, memory.bytes_per_unit()}};
  }
  if (summary.attempts > 0) {
    const double attempts = static_cast<double>(summary.attempts);
    nlohmann::ordered_json per_request;
    per_request["client_cpu_us"] = 1e6 * summary.client_cpu_s / attempts;
    if (summary.server_cost.known) {
      const ServerPerRequest per = server_per_request(summary);
      per_request["server_cpu_us"] = per.cpu_us;
      per_request["server_user_cpu_us"] = per.user_cpu_us;
      per_request["server_system_cpu_us"] = per.system_cpu_us;
      per_request["bytes_in"] = per.bytes_in;
      per_request["bytes_out"] = per.bytes_out;
      per_request["requests_per_receive"] = per.requests_per_receive;
      per_request["requests_per_send"] = per.requests_per_send;
    }
    json["per_request"] = per_request;
  }
  if (!summary.metrics.empty()) {
    nlohmann::ordered_json metrics = nlohmann::ordered_json::object();
    for (const auto& [name, value] : summary.metrics) metrics[name] = value;
    json["metrics"] = metrics;
  }
  nlohmann::ordered_json invariants = nlohmann::ordered_json::object();
  for (const auto& invariant : summary.invariants) invariants[invariant.name] = invariant.pass;
  json["invariants"] = invariants;
  json["verdict"] = summary.passed() ? "PASS" : "FAIL";
  return json.dump();
}

ServerCost server_cost_between(const std::optional<StatsInfo>& before,
                               const std::optional<StatsInfo>& after) {
  ServerCost cost;
  if (!before || !after || after->uptime_ms < before->uptime_ms ||
      after->shards.size() != before->shards.size()) {
    return cost;
  }
  cost.known = true;
  cost.cpu_user_s = static_cast<double>(after->cpu_user_us - before->cpu_user_us) / 1e6;
  cost.cpu_system_s = static_cast<double>(after->cpu_system_us - before->cpu_system_us) / 1e6;
  for (std::size_t i = 0; i < after->shards.size(); ++i) {
    const ShardStatsInfo& a = after->shards[i];
    const ShardStatsInfo& b = before->shards[i];
    cost.requests += a.requests - b.requests;
    cost.receives += a.receives - b.receives;
    cost.sends += a.sends - b.sends;
    cost.bytes_received += a.bytes_received - b.bytes_received;
    cost.bytes_sent += a.bytes_sent - b.bytes_sent;
  }
  return cost;
}

std::vector<Invariant> merge_invariants(const std::vector<std::string>& events,
                                        const std::vector<std::vector<Invariant>>& per_event) {
  assert(events.size() == per_event.size());
  std::vector<Invariant> merged;
  for (std::size_t e = 0; e < per_event.size(); ++e) {
    for (std::size_t i = 0; i < per_event[e].size(); ++i) {
      const Invariant& invariant = per_event[e][i];
      if (merged.size() <= i) merged.push_back({invariant.name, true, {}});
      assert(merged[i].name == invariant.name);
      if (!invariant.pass && merged[i].pass) {
        merged[i].pass = false;
        merged[i].detail = events[e] + ": " + invariant.detail;
      }
    }
  }
  return merged;
}

}  // namespace admit::bench
