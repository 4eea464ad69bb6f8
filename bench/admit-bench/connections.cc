// connections: opens N connections at a steady ramp, keeps them all for S
// seconds with a light request (GetEvent) on each every interval, and counts
// the ones the server dropped or failed to answer.
#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <stdexcept>
#include <thread>

#include "bench/admit-bench/scenarios.h"
#include "bench/admit-bench/wave.h"

namespace admit::bench {

namespace {

constexpr auto idle_sleep = std::chrono::milliseconds(2);

struct Holder {
  LatencyHistogram* latency;
  RunSummary* summary;
  std::vector<bool>* dropped;
  std::size_t index;
  std::uint64_t sent_ns;
};

void on_light_reply(const Holder& holder, const ReplyView& reply) {
  holder.latency->record(now_ns() - holder.sent_ns);
  ++holder.summary->attempts;
  if (reply.error() != ClientError::none) {
    ++holder.summary->client_errors[static_cast<int>(reply.error())];
    (*holder.dropped)[holder.index] = true;
    return;
  }
  ++holder.summary->outcomes[static_cast<int>(reply.outcome())];
}

// Every connection asks once per interval, staggered over the interval.
void hold_connections(Fleet& fleet, const std::string& event, const ConnectionsOptions& options,
                      RunSummary* summary, std::vector<bool>* dropped) {
  const std::uint64_t interval_ns = std::uint64_t{options.interval_ms} * 1'000'000;
  const std::uint64_t start_ns = now_ns();
  const std::uint64_t stop_ns = start_ns + static_cast<std::uint64_t>(options.hold_s * 1e9);
  std::vector<std::uint64_t> next_ns(fleet.size());
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    next_ns[i] = start_ns + interval_ns * i / fleet.size();
  }
  Progress progress("connections");
  while (now_ns() < stop_ns) {
    const std::uint64_t now = now_ns();
    for (std::size_t i = 0; i < fleet.size(); ++i) {
      if ((*dropped)[i] || next_ns[i] > now || fleet[i].in_flight() > 0) continue;
      next_ns[i] += interval_ns;
      Holder holder{&summary->latency, summary, dropped, i, now};
      Status submitted = fleet[i].submit_get_event(
          event, [holder](const ReplyView& reply) { on_light_reply(holder, reply); });
      if (submitted.error() != ClientError::none) (*dropped)[i] = true;
    }
    // Waits on the sockets; with nothing in flight there is nothing to wait on.
    if (fleet.poll_all(idle_sleep) == 0 && fleet.in_flight() == 0) {
      std::this_thread::sleep_for(idle_sleep);
    }
    progress.update(summary->attempts, std::count(dropped->begin(), dropped->end(), true));
  }
  fleet.drain(Clock::now() + std::chrono::seconds(10), [] {});
}

}  // namespace

RunSummary run_connections(const CommonOptions& common, const ConnectionsOptions& options) {
  assert(options.connections > 0 && options.interval_ms > 0);
  RunSummary summary;
  summary.scenario = "connections";
  const std::string event = unique_event_id(common.event_prefix, "connections", 0);
  summary.events.push_back(event);
  Client client(verify_options(common));
  create_event_or_throw(client, event, 1, 0, false);

  // One socket per connection: the base port, which serves every event.
  ClientOptions single = common.client;
  single.shard_aware = false;
  ServerMemory& memory = summary.server_memory;
  memory.unit = "connection";
  memory.resident_bytes_before = server_resident_bytes(client);
  Fleet fleet;
  Progress progress("connecting");
  const auto ramp_started = Clock::now();
  Status opened = fleet.open(single, options.connections, options.ramp_per_s, &progress);
  progress.finish();
  const double ramp_s = std::chrono::duration<double>(Clock::now() - ramp_started).count();
  const std::size_t connected = fleet.size();
  if (!opened.answered()) summary.notes.push_back("connect: " + opened.to_string());

  std::vector<bool> dropped(connected, false);
  const auto started = Clock::now();
  hold_connections(fleet, event, options, &summary, &dropped);
  summary.elapsed_s = std::chrono::duration<double>(Clock::now() - started).count();
  memory.resident_bytes_after = server_resident_bytes(client);  // all still open
  const auto drops = static_cast<std::size_t>(std::count(dropped.begin(), dropped.end(), true));
  memory.units = connected - drops;

  ClientView view;
  view.expected[static_cast<int>(Outcome::ok)] = true;
  view.outcomes = summary.outcomes;
  view.still_waiting = 0;
  for (int i = 1; i < client_error_kinds; ++i) view.transport_errors += summary.client_errors[i];
  judge(client, event, view, &summary);
  expect(&summary, "all_connected", connected == options.connections,
         fmt::format("{} of {} connections opened", connected, options.connections));
  expect(&summary, "no_drops", drops == 0, fmt::format("{} connections dropped", drops));
  if (options.memory_per_connection_max > 0) {
    // Unknown memory fails: a limit that was asked for is never passed unchecked.
    expect(&summary, "memory_per_connection",
           memory.known() && memory.bytes_per_unit() <= options.memory_per_connection_max,
           memory.known() ? fmt::format("{:.0f} bytes per connection (max {})",
                                        memory.bytes_per_unit(), options.memory_per_connection_max)
                          : std::string("the server did not report its resident memory"));
  }
  summary.notes.push_back(
      fmt::format("{} connections opened in {:.1f} s, held {:.1f} s, {} "
                  "dropped",
                  connected, ramp_s, options.hold_s, drops));
  return summary;
}

}  // namespace admit::bench
